"""What a hardware base reports, read for the task: battery, operations, rack presence, protective stop.

ROS-free: the robot node's hardware backends feed it the base's inputs
(:mod:`warehouse_nodes.base_io`) and ask it what they mean.

* Battery: :func:`battery_fraction` reads a ``sensor_msgs/BatteryState``-like record (``percentage``,
  else ``charge / capacity``; NaN or absent values are unknown, not empty).
* Operations: a task step's operation becomes base operations (:func:`base_operations`: lift, drop,
  dock before a charge and undock after it; a pick needs none). :class:`OperationHold` holds the robot
  at the step's waypoint until the base answers, and :func:`outcome` says what an answer means: a lift
  that leaves no rack on the base is the floor simulator's lift failure (the robot reports carrying
  nothing and the robot node fails the task with ``FAILURE_LIFT``), any other failure fails the task.
* Protective stop: :class:`StopWatch` tracks it; the robot holds with mode ``MODE_STOPPED`` and keeps
  its task unless the stop lasts longer than the failure timeout. An operation's time stands still
  meanwhile (:meth:`OperationHold.postpone`), and one the base refused for the stop is asked again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from warehouse_core.tasks import OP_CHARGE, OP_DROP, OP_LIFT

# warehouse_interfaces/action/BaseOperation (a test checks they agree)
LIFT, DROP, DOCK, UNDOCK = 1, 2, 3, 4
SUCCEEDED, FAILED, FAILED_TIMEOUT, REJECTED_STOPPED, REJECTED_BUSY = range(5)
OPERATION_NAMES = {LIFT: "lift", DROP: "drop", DOCK: "dock", UNDOCK: "undock"}
CODE_NAMES = {SUCCEEDED: "succeeded", FAILED: "failed", FAILED_TIMEOUT: "timed out",
              REJECTED_STOPPED: "rejected (protective stop)", REJECTED_BUSY: "rejected (busy)"}

# a base that refuses an operation for a protective stop this often in one hold fails it
STOP_RETRIES = 3

# What a base may provide; a backend uses only those configured (``base_inputs``).
INPUTS = ("battery", "rack", "stop", "operations")


def battery_fraction(percentage: float | None, charge: float | None = None,
                     capacity: float | None = None) -> float | None:
    """State of charge 0..1 from ``percentage`` (0..1, as BatteryState), else ``charge / capacity``;
    None when neither is known (NaN, absent, zero capacity)."""
    if percentage is not None and math.isfinite(percentage):
        return min(1.0, max(0.0, float(percentage)))
    if charge is not None and capacity is not None and math.isfinite(charge) and math.isfinite(capacity) \
            and capacity > 0.0:
        return min(1.0, max(0.0, float(charge) / float(capacity)))
    return None


def base_operations(op: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Base operations of a task operation: (on arrival, before leaving)."""
    if op == OP_LIFT:
        return (LIFT,), ()
    if op == OP_DROP:
        return (DROP,), ()
    if op == OP_CHARGE:
        return (DOCK,), (UNDOCK,)
    return (), ()


@dataclass(frozen=True)
class Outcome:
    """What a base operation's answer means for the task.

    ``rack``: whether the base carries a rack now (None: unchanged); ``fail_task``: a failure the
    task cannot go on from other than a failed lift (which shows as ``rack`` False, as in the
    simulator); ``message``: for operators and the task's failure message."""

    ok: bool
    rack: bool | None
    fail_task: bool
    message: str


def outcome(operation: int, code: int, rack_present: bool, message: str = "") -> Outcome:
    """The meaning of a ``BaseOperation`` result (``code``, ``rack_present``) for ``operation``."""
    what = f"{OPERATION_NAMES.get(operation, operation)} {CODE_NAMES.get(code, f'code {code}')}"
    text = f"{what}: {message}" if message else what
    if operation == LIFT:
        # a lift is judged by the rack on the base, as the simulator's: no rack is the lift failure
        present = rack_present and code == SUCCEEDED
        return Outcome(present, present, False, text)
    if operation == DROP:
        return Outcome(code == SUCCEEDED, False if code == SUCCEEDED else rack_present, code != SUCCEEDED, text)
    return Outcome(code == SUCCEEDED, None, code != SUCCEEDED, text)


@dataclass
class OperationHold:
    """The base operations of one waypoint, asked one at a time; the robot stays until all are answered.

    ``key``: (plan id, waypoint index) of the operation; :meth:`next_now` says which base operation to
    ask now (arrival ones at once, leaving ones after ``dwell_end``), :meth:`answered` takes the answer.
    """

    key: tuple[int, int]
    arrival: list[int]
    leaving: list[int]
    dwell_end: float
    pending: int | None = None
    retries: int = 0  # operations the base refused for a protective stop, asked again
    outcomes: list[Outcome] = field(default_factory=list)

    @classmethod
    def of(cls, key: tuple[int, int], op: int, dwell_end: float) -> OperationHold | None:
        before, after = base_operations(op)
        return cls(key, list(before), list(after), dwell_end) if before or after else None

    def next_now(self, now: float) -> int | None:
        """The base operation to ask now, if any (none while one is pending)."""
        if self.pending is not None or self.failed:
            return None
        if self.arrival:
            self.pending = self.arrival.pop(0)
        elif self.leaving and now >= self.dwell_end:
            self.pending = self.leaving.pop(0)
        return self.pending

    def answered(self, code: int, rack_present: bool, message: str = "") -> Outcome:
        """Take the base's answer to the pending operation. A refusal for a protective stop is no
        failure: the base did nothing, the operation is asked again (the backend asks nothing while the
        stop lasts), at most ``STOP_RETRIES`` times so that a base that keeps refusing ends the hold."""
        operation, self.pending = self.pending or 0, None
        if code == REJECTED_STOPPED and self.retries < STOP_RETRIES:
            self.retries += 1
            self.arrival.insert(0, operation)
            return Outcome(True, None, False, f"{OPERATION_NAMES.get(operation, operation)} "
                                              f"{CODE_NAMES[code]}: asked again when the stop clears")
        out = outcome(operation, code, rack_present, message)
        self.outcomes.append(out)
        return out

    def postpone(self, seconds: float) -> None:
        """The operation's time stands still (a protective stop): the leaving operations come later."""
        self.dwell_end += seconds

    @property
    def failed(self) -> bool:
        return any(not o.ok for o in self.outcomes)

    def holding(self, now: float) -> bool:
        """The robot must stay: an answer outstanding, or operations still to ask (a failure ends it)."""
        if self.failed:
            return False
        return self.pending is not None or bool(self.arrival) or bool(self.leaving) or now < self.dwell_end


@dataclass
class StopWatch:
    """Protective stop of the base: since when, and whether it outlasted ``timeout`` (0: never)."""

    timeout: float
    since: float | None = None

    def update(self, stopped: bool, now: float) -> None:
        if not stopped:
            self.since = None
        elif self.since is None:
            self.since = now

    @property
    def stopped(self) -> bool:
        return self.since is not None

    def expired(self, now: float) -> bool:
        """Stopped longer than the timeout: its task goes back to the allocator."""
        return self.since is not None and self.timeout > 0.0 and now - self.since > self.timeout

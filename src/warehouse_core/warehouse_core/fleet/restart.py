"""A planner restarted mid-run: when it may plan again, with which plan id, which requests count.

The robots keep driving what the dead planner released to them: those releases were made
together, their dependencies held when they were made, so they are safe with each other. The new
planner knows neither those releases nor the paths, so it does what a freeze does
(:mod:`warehouse_core.fleet.freeze_reroot`) without knowing them: it plans nothing until every
robot reports it stands still at the end of what was released to it (a robot node reports
``MODE_MOVING`` while it has released waypoints left, even when its base waits), then starts every
robot's path at the cell it stands on, with a plan id above every id the robots hold, so that they
take the new paths as replacements. No robot then has a released waypoint of an old plan left, and
every cell a robot enters afterwards was released to it by the new plan.

Tasks in flight: a robot that takes a path of a higher plan id sends its request again with the
steps it has not done, marked with that plan id (:func:`resume_marker`). The restarted planner
counts a request only if it is such a re-sent request for one of its plans, or a request for
another task than the robot had when the planner started, made no earlier than that robot's
state (a task begun since). Older requests, delivered again from the robots' latched history,
name steps already done and are dropped. Which request counts never depends on arrival order.

A robot that never settles (its base is stuck, an obstacle holds it, its link is down) must not
hold the fleet for ever: the wait is bounded (``settle_timeout``). The robots still unsettled then
are *held* (:meth:`~warehouse_core.fleet.held.HeldRobots.hold`): they may still
drive waypoints the dead planner released, which the new one does not know, so every cell they
may reach (:func:`reach`, within :func:`reach_moves` cell moves of the cell they reported) is
blocked and the others are planned around it; they keep their tasks. A held robot that reports
it stands still again (:func:`settled_again`) rejoins: it is planned from where it stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from warehouse_core.maps.grid import Coord, Grid

_MARK = "resume plan "


def resume_marker(plan_id: int) -> str:
    """The ``header.frame_id`` of a request re-sent with the steps left for plan ``plan_id``."""
    return f"{_MARK}{plan_id}"


def marked_plan(frame_id: str) -> int:
    """The plan id of a re-sent request's marker; -1 for any other frame id."""
    if not frame_id.startswith(_MARK):
        return -1
    try:
        return int(frame_id[len(_MARK):])
    except ValueError:
        return -1


@dataclass(frozen=True)
class Reported:
    """What a robot reported last: its plan id, whether it stands still at the end of what was
    released to it (or failed), its task and the sim time of the report."""

    plan_id: int
    settled: bool
    task_id: str
    stamp: float


@dataclass
class PlannerRestart:
    """The resume rules of a planner that may have been restarted (see module docstring).

    ``active`` is None until the planner starts, then whether it resumed a fleet already under way.
    ``settle_timeout``: [s] the longest wait for the robots to settle (0 or less: no bound).
    """

    settle_timeout: float = 0.0
    active: bool | None = None
    plan_id: int = 0  # the first plan id of the restarted planner
    at_start: dict[str, Reported] = field(default_factory=dict)
    waiting_from: float | None = None  # [s] when the planner began to wait for robots to settle

    @staticmethod
    def under_way(reports: dict[str, Reported]) -> bool:
        """Some robot holds a plan: an earlier planner ran this fleet."""
        return any(r.plan_id > 0 for r in reports.values())

    @staticmethod
    def waiting_for(reports: dict[str, Reported]) -> list[str]:
        """Robots still driving (or operating on) what an earlier planner released."""
        return sorted(n for n, r in reports.items() if not r.settled)

    def ready(self, reports: dict[str, Reported], now: float) -> list[str] | None:
        """Whether the planner may start at ``now`` [s]: None while it still waits for robots to settle,
        else the robots to hold out of its first plan (empty unless the wait timed out).

        The wait is timed from the newest report if that is later than ``now``: a planner just started
        may not have heard the clock yet (its time is zero), and a wait timed from zero would be over
        as soon as the clock comes."""
        if not self.under_way(reports):
            return []
        waiting = self.waiting_for(reports)
        if not waiting:
            return []
        now = max(now, *(r.stamp for r in reports.values()))
        if self.waiting_from is None:
            self.waiting_from = now
        if self.settle_timeout <= 0 or now - self.waiting_from < self.settle_timeout:
            return None
        return waiting

    def start(self, reports: dict[str, Reported], first_plan_id: int) -> int:
        """The planner starts now; returns the first plan id to use."""
        self.active = self.under_way(reports)
        if not self.active:
            return first_plan_id
        self.at_start = dict(reports)
        self.plan_id = max(first_plan_id, 1 + max(r.plan_id for r in reports.values()))
        return self.plan_id

    def counts(self, robot: str, task_id: str, frame_id: str, stamp: float) -> bool:
        """Whether a request of ``robot`` is to be planned (always, unless the planner resumed)."""
        if not self.active:
            return True
        if marked_plan(frame_id) >= self.plan_id:
            return True
        before = self.at_start.get(robot)
        return before is None or (task_id != before.task_id and stamp >= before.stamp)


def settled_again(held: Iterable[str], reports: dict[str, Reported]) -> list[str]:
    """Held robots whose latest report says they stand still: they may rejoin the plan."""
    return sorted(n for n in held if n in reports and reports[n].settled)


def reach_moves(window: int, max_lead: int) -> int:
    """Cell moves a robot may have released beyond the waypoint it reported.

    A planner releases only planned waypoints, and plans at most ``window + max_lead`` moves beyond
    the waypoint it knows a robot reached (:meth:`FleetPlanner._hold_lagging`); the robot's own report
    is that far or further on. Without a lead bound (``max_lead`` < 0) a late robot may have more
    released: the window is what a robot on schedule can have, no more is known.
    """
    return window + max(max_lead, 0)


def reach(grid: Grid, cell: Coord, moves: int) -> list[Coord]:
    """Free cells within ``moves`` 4-neighbour moves of ``cell`` (``cell`` included, sorted)."""
    dist = grid.distance_table(cell)
    ys, xs = np.nonzero((dist >= 0) & (dist <= moves))
    return sorted(zip(xs.tolist(), ys.tolist()))

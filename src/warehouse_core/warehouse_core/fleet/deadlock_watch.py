"""Deadlock and livelock watchdog: robots with a task that stop making progress, and why.

The planner's gating makes wait-for cycles impossible by construction (plans contain no
rotation), but a fleet can still get stuck: a wait-for *cycle* after a bug or a repair, a
*blocked chain* (robots waiting for a robot that itself does not move: a stalled base, an
obstacle, a suspended robot), or a *livelock* (a robot whose plan keeps it standing or going
round without reaching its goal). The watchdog does not need to know which: a robot with a task
that makes no progress (changes neither cell nor plan, does no operation; an operation longer
than ``limit_s`` but charging counts as stuck; waypoints reached on the same cell are planned
waits, not progress) for ``limit_s`` simulated seconds is *stalled*. A stalled robot is a
deadlock unless the head of its wait-for chain is making progress (a queue behind a robot at
work is waiting, not deadlocked). The chain follows release waits (the robot it waits for to
leave a cell) and station lines (the robot ahead of it in its line, ``ahead``). Each deadlock is
recorded with its wait-for chain (the robot, the robot it waits for, ...), whether the chain
closes into a cycle, and a reason; the caller resolves it (the planner re-plans the whole fleet
from where it stands with the chain's robots first in priority) and the watchdog asks again
every ``limit_s`` while it lasts. It is *resolved* once the stalled robot progresses; the ones
still open are ``unresolved``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from warehouse_core.fleet.execution import WaitStatus

RECENT_DEADLOCKS = 1000  # detections kept in memory (a long run has thousands; all are published)


@dataclass(frozen=True)
class RobotProgress:
    """What the watchdog needs of a robot's state: its task and where it is along its plan."""

    task_id: str
    plan_id: int
    progress: int
    cell: tuple[int, int]
    operating: bool  # lifting, dropping, picking: progress, for at most ``limit_s`` (then the base is stuck)
    charging: bool = False  # charging: progress however long it takes


@dataclass
class Deadlock:
    """A detected deadlock (or livelock): the robot that stalled and its wait-for chain."""

    id: int
    detected_at: float
    chain: tuple[str, ...]  # the stalled robot, the robot it waits for, ...
    cycle: bool
    reason: str
    attempts: int = 1  # resolutions asked for
    last_attempt: float = 0.0
    resolved_at: float | None = None

    def describe(self) -> dict:
        """The detection as a JSON-able record (``/planner/deadlocks``)."""
        return {"event": "detected", "id": self.id, "time": round(self.detected_at, 3), "robot": self.chain[0],
                "chain": list(self.chain), "cycle": self.cycle, "reason": self.reason}


@dataclass
class _Seen:
    key: tuple
    since: float


@dataclass
class DeadlockWatch:
    """Feed it every round with :meth:`observe`; it returns what to resolve (see module docstring)."""

    limit_s: float = 60.0
    seen: dict[str, _Seen] = field(default_factory=dict)
    open: dict[str, Deadlock] = field(default_factory=dict)  # stalled robot -> its open deadlock
    history: deque[Deadlock] = field(default_factory=lambda: deque(maxlen=RECENT_DEADLOCKS))  # the latest
    _next_id: int = 1
    _detected: int = 0
    _boosted: dict[str, float] = field(default_factory=dict)  # robot -> start of the stall it was reported for

    def stalled_for(self, robot: str, t: float) -> float:
        s = self.seen.get(robot)
        return t - s.since if s is not None else 0.0

    def observe(self, t: float, robots: dict[str, RobotProgress], waits: dict[str, WaitStatus],
                ahead: dict[str, str] | None = None) -> tuple[list[Deadlock], list[Deadlock]]:
        """Update with the robots' states at sim time ``t`` (``ahead``: robot -> the robot ahead
        of it in its station line).

        Returns ``(to_resolve, resolved)``: deadlocks detected now or still open after another
        ``limit_s`` (the caller should act on them), and deadlocks resolved since the last call.
        """
        for name, r in robots.items():
            key = (r.task_id, r.plan_id, r.cell, r.operating)  # not r.progress: planned waits advance it
            s = self.seen.get(name)
            if s is None or s.key != key or r.charging or not r.task_id:
                self.seen[name] = _Seen(key, t)
        for name in [n for n in self.seen if n not in robots]:
            del self.seen[name]
        resolved = []
        for name, d in list(self.open.items()):
            if self.stalled_for(name, t) < t - d.detected_at or name not in robots or not robots[name].task_id:
                d.resolved_at = t
                resolved.append(d)
                del self.open[name]
        act = []
        for name in sorted(robots):
            if not robots[name].task_id or self.stalled_for(name, t) <= self.limit_s:
                continue
            d = self.open.get(name)
            if d is not None:
                if t - d.last_attempt > self.limit_s:
                    d.attempts += 1
                    d.last_attempt = t
                    act.append(d)
                continue
            w = waits.get(name)
            if w is not None and w.kind == "planning":
                continue  # a repair (freeze) is under way: it has its own time limit in the planner
            if w is not None and w.kind == "none" and t - w.since < self.limit_s / 2:
                continue  # released only now after a long wait: it is about to drive
            chain, cycle = wait_chain(name, waits, ahead)
            head = chain[-1]
            head_state = robots.get(head)
            if not cycle and head != name and head_state is not None and (
                    head_state.charging or self.stalled_for(head, t) <= self.limit_s):
                continue  # a queue behind a robot that is at work: waiting, not deadlocked
            d = Deadlock(self._next_id, t, chain, cycle, _reason(name, chain, cycle, waits, robots, t, self, ahead),
                         last_attempt=t)
            self._next_id += 1
            self.open[name] = d
            self.history.append(d)
            self._detected += 1
            act.append(d)
        return act, resolved

    def starving(self, t: float, after_s: float, ahead: dict[str, str] | None = None) -> list[str]:
        """Robots with a task, not in an operation, without progress for more than ``after_s``
        (less than :attr:`limit_s`): each once per stall, for the planner to put first in priority
        before the stall becomes a deadlock. Robots behind another in a station line (``ahead``)
        are waiting their turn, not starving. Call after :meth:`observe` with the same ``t``."""
        out = []
        ahead = ahead or {}
        for name, s in self.seen.items():
            task_id, _plan, _cell, operating = s.key
            if task_id and not operating and name not in ahead and t - s.since > after_s \
                    and self._boosted.get(name) != s.since:
                self._boosted[name] = s.since
                out.append(name)
        for name in [n for n in self._boosted if n not in self.seen]:
            del self._boosted[name]
        return sorted(out)

    def needs_replan(self, d: Deadlock, waits: dict[str, WaitStatus], t: float) -> bool:
        """Whether ``d`` needs the heavy resolution, a re-plan of the whole fleet (a freeze of
        everybody until each robot has reached its released waypoint, which waits for operations
        of up to a minute), rather than putting its chain first in priority: a wait-for cycle of
        release waits alone (one through a station line is a jam next to the line, which robots
        put first can push their way out of), a chain whose head has been free to drive for
        ``limit_s / 2`` without moving (a stuck base: the re-plan suspends it and plans the others
        around it), or a deadlock still open after a first resolution."""
        if d.attempts > 1:
            return True
        if d.cycle:  # through station lines it is a jam a boost can clear; of release waits alone, not
            return all((w := waits.get(n)) is not None and w.kind == "robot" for n in d.chain)
        w = waits.get(d.chain[-1])
        return w is not None and w.kind == "none" and t - w.since >= self.limit_s / 2

    @property
    def detected(self) -> int:
        """Deadlocks detected so far (all of them; :attr:`history` keeps the latest only)."""
        return self._detected

    @property
    def unresolved(self) -> int:
        return len(self.open)


def resolutions(watch: DeadlockWatch, act: list[Deadlock], waits: dict[str, WaitStatus], t: float,
                boost_after_s: float, ahead: dict[str, str] | None = None) -> tuple[list[str], list[Deadlock]]:
    """How to resolve what :meth:`DeadlockWatch.observe` returned at ``t``: the robots to put
    first in priority, each chain from its end (the wait-for chains of deadlocks a boost can clear,
    then those of robots starving for more than ``boost_after_s``, 0 = none; ``ahead`` as for
    :meth:`DeadlockWatch.observe`) and the deadlocks that need a re-plan of the fleet
    (:meth:`DeadlockWatch.needs_replan`)."""
    heavy = [d for d in act if watch.needs_replan(d, waits, t)]
    chains = [d.chain for d in act if d not in heavy]
    if boost_after_s > 0:
        chains += [wait_chain(n, waits, ahead)[0] for n in watch.starving(t, boost_after_s, ahead)]
    # the robot a chain waits for last goes first: it has to move before the others can
    return list(dict.fromkeys(n for chain in chains for n in reversed(chain))), heavy


def wait_chain(robot: str, waits: dict[str, WaitStatus], ahead: dict[str, str] | None = None
               ) -> tuple[tuple[str, ...], bool]:
    """``robot``, the robot it waits for (to leave a cell, or ahead of it in its station line),
    and so on; True if the chain closes into a cycle."""
    chain = [robot]
    cur = robot
    while True:
        nxt = _waits_for(cur, waits, ahead)
        if nxt is None:
            return tuple(chain), False
        if nxt in chain:
            return tuple(chain), True
        chain.append(nxt)
        cur = nxt


def _waits_for(robot: str, waits: dict[str, WaitStatus], ahead: dict[str, str] | None) -> str | None:
    w = waits.get(robot)
    if w is not None and w.kind == "robot" and w.blocker:
        return w.blocker
    return (ahead or {}).get(robot)


def _reason(robot: str, chain: tuple[str, ...], cycle: bool, waits: dict[str, WaitStatus],
            robots: dict[str, RobotProgress], t: float, watch: DeadlockWatch,
            ahead: dict[str, str] | None = None) -> str:
    stalled = f"{robot} made no progress for {watch.stalled_for(robot, t):.0f} s"
    if cycle:
        return f"{stalled}: wait-for cycle {' -> '.join(chain)} -> {_waits_for(chain[-1], waits, ahead)}"
    head = chain[-1]
    if head != robot:
        what = "has no task" if head not in robots or not robots[head].task_id else \
            f"made no progress for {watch.stalled_for(head, t):.0f} s"
        return f"{stalled}: waits for {' -> '.join(chain[1:])}; {head} {what}"
    w = waits.get(robot)
    kind = w.kind if w is not None else "none"
    why = {"schedule": "its plan keeps it waiting (livelock or a goal cell that is blocked)",
           "none": "it waits for no robot (its base is stalled or blocked, or its plan holds it)"}
    return f"{stalled}: {why.get(kind, kind)}"

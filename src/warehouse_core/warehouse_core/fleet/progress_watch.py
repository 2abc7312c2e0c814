"""Which robots with a task stop making progress, and for how long (deadlock/livelock KPI).

A robot makes progress when it changes cell, gets a new plan or task, or performs an
operation (lifting, picking, ...). Reaching another waypoint on the same cell is not progress:
a plan that keeps a robot waiting advances its waypoint index in place (a soak run had 48
robots held like that in deadlocked station lines for two hours, counted as progressing). A
robot with a task that does none of these for ``limit_s`` simulated seconds counts as stuck
once per episode; the longest such
stretch of each robot is kept so a report can say how close to the limit the fleet came.

Two measures. *Strict* (:attr:`ProgressWatch.strict_episodes`, :meth:`ProgressWatch.longest_strict`):
exactly the rule above. *Station lines* (:attr:`ProgressWatch.stuck_episodes`,
:meth:`ProgressWatch.longest`): a robot waiting on a station's queue cell is also making
progress whenever a robot on a cell ahead of it in that line (the pick cell or a nearer
queue cell) makes progress; a station picks one rack at a time (up to 43 s a visit), so the
robots behind it wait in first-come-first-served order without anything being wrong. A
line whose head stops making progress (a wait-for cycle, a head that cannot get in) still
counts for every robot in it. Without stations both measures are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from warehouse_core.maps.grid import Coord


@dataclass
class _Robot:
    since: float  # last own progress (or task start)
    key: tuple = ()
    stuck: bool = False
    since_line: float = 0.0  # last own progress or progress of the line ahead of it
    stuck_line: bool = False


@dataclass
class ProgressWatch:
    """Feed robot states with :meth:`update`; read :attr:`stuck_episodes` and :meth:`longest`
    (station lines measure) or :attr:`strict_episodes` and :meth:`longest_strict`.

    ``stations``: (pick cell, queue cells nearest first) of every station.
    """

    limit_s: float = 60.0
    stations: Sequence[tuple[Coord, Sequence[Coord]]] = ()
    robots: dict[str, _Robot] = field(default_factory=dict)
    stuck_episodes: list[tuple[str, float]] = field(default_factory=list)  # (robot, time it was seen stuck)
    longest_s: dict[str, float] = field(default_factory=dict)
    strict_episodes: list[tuple[str, float]] = field(default_factory=list)
    longest_strict_s: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ahead: dict[Coord, tuple[Coord, ...]] = {}  # queue cell -> cells ahead of it in its line
        for pick, queue in self.stations:
            line = (tuple(pick), *(tuple(c) for c in queue))
            for k in range(1, len(line)):
                self._ahead[line[k]] = line[:k]
        self._progress_at: dict[Coord, float] = {}  # cell -> last time a robot there made progress

    def update(self, robot: str, t: float, task_id: str, cell: Coord, plan_id: int, progress: int,
               operating: bool) -> None:
        cell = tuple(cell)
        key = (task_id, cell, plan_id)  # not ``progress``: waiting waypoints advance it in place
        r = self.robots.get(robot)
        if r is None or not task_id or operating or key != r.key:
            if r is not None and (operating or key != r.key):
                self._progress_at[cell] = t
            self.robots[robot] = _Robot(t, key, since_line=t)
            return
        idle = t - r.since
        self.longest_strict_s[robot] = max(self.longest_strict_s.get(robot, 0.0), idle)
        if idle > self.limit_s and not r.stuck:
            r.stuck = True
            self.strict_episodes.append((robot, t))
        ahead = self._ahead.get(cell)
        if ahead:
            r.since_line = max(r.since_line, *(self._progress_at.get(c, r.since_line) for c in ahead))
        idle = t - r.since_line
        self.longest_s[robot] = max(self.longest_s.get(robot, 0.0), idle)
        if idle > self.limit_s and not r.stuck_line:
            r.stuck_line = True
            self.stuck_episodes.append((robot, t))

    def longest(self) -> float:
        """Longest stretch any robot with a task went without progress [s] (station lines measure)."""
        return max(self.longest_s.values(), default=0.0)

    def longest_strict(self) -> float:
        """Longest stretch any robot with a task went without progress of its own [s]."""
        return max(self.longest_strict_s.values(), default=0.0)

"""Which robots with a task stop making progress, and for how long (deadlock/livelock KPI).

A robot makes progress when it reaches another waypoint of its path, changes cell, or
performs an operation (lifting, picking, ...). A robot with a task that does none of these
for ``limit_s`` simulated seconds counts as stuck once per episode; the longest such
stretch of each robot is kept so a report can say how close to the limit the fleet came.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_core.grid import Coord


@dataclass
class _Robot:
    since: float  # last progress (or task start)
    key: tuple = ()
    stuck: bool = False


@dataclass
class ProgressWatch:
    """Feed robot states with :meth:`update`; read :attr:`stuck_episodes` and :meth:`longest`."""

    limit_s: float = 60.0
    robots: dict[str, _Robot] = field(default_factory=dict)
    stuck_episodes: list[tuple[str, float]] = field(default_factory=list)  # (robot, time it was seen stuck)
    longest_s: dict[str, float] = field(default_factory=dict)

    def update(self, robot: str, t: float, task_id: str, cell: Coord, plan_id: int, progress: int,
               operating: bool) -> None:
        key = (task_id, cell, plan_id, progress)
        r = self.robots.get(robot)
        if r is None or not task_id or operating or key != r.key:
            self.robots[robot] = _Robot(t, key)
            return
        idle = t - r.since
        self.longest_s[robot] = max(self.longest_s.get(robot, 0.0), idle)
        if idle > self.limit_s and not r.stuck:
            r.stuck = True
            self.stuck_episodes.append((robot, t))

    def longest(self) -> float:
        """Longest stretch any robot with a task went without progress [s]."""
        return max(self.longest_s.values(), default=0.0)

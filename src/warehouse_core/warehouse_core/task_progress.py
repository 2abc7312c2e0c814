"""Robot-side bookkeeping of a task: which steps are done, given path progress.

A robot executes a task as one timed path whose waypoints carry the operations of the task
steps. :class:`TaskProgress` maps the robot's reported progress (last waypoint reached, and
whether an operation is still running there) to completed task steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_core.grid import Coord


@dataclass
class TaskProgress:
    """Steps of one task and the waypoint index at which each is performed."""

    step_cells: list[tuple[Coord, int]]  # (cell, op) per task step
    arrivals: list[int] = field(default_factory=list)
    completed: int = 0  # number of steps completed

    def bind_path(self, waypoints: list[tuple[Coord, int]]) -> bool:
        """Find each step's waypoint in the path ``[(cell, op), ...]``; False if one is missing."""
        self.arrivals = []
        start = 0
        for cell, op in self.step_cells:
            for i in range(start, len(waypoints)):
                if waypoints[i][0] == cell and waypoints[i][1] == op:
                    self.arrivals.append(i)
                    start = i + 1
                    break
            else:
                return False
        return True

    def update(self, reached: int, op_running: bool) -> int:
        """Record progress; returns how many steps are complete now."""
        while self.completed < len(self.arrivals):
            a = self.arrivals[self.completed]
            if reached > a or (reached == a and not op_running):
                self.completed += 1
            else:
                break
        return self.completed

    @property
    def done(self) -> bool:
        return bool(self.arrivals) and self.completed == len(self.arrivals)

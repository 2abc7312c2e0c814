"""Robot-side bookkeeping of a task: which steps are done, given path progress.

A robot executes a task as one timed path whose waypoints carry the operations of the task
steps. :class:`TaskProgress` maps the robot's reported progress (last waypoint reached, and
whether an operation is still running there) to completed task steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_core.maps.grid import Coord


@dataclass
class TaskProgress:
    """Steps of one task and the waypoint index at which each is performed."""

    step_cells: list[tuple[Coord, int]]  # (cell, op) per task step
    arrivals: list[int] = field(default_factory=list)
    completed: int = 0  # number of steps completed
    _scanned: int = 0  # path indices already searched

    def bind_path(self, waypoints: list[tuple[Coord, int]]) -> bool:
        """Find each step's waypoint in the path ``[(cell, op), ...]``; False if one is missing."""
        self.arrivals = []
        self._scanned = 0
        return self.extend_path(waypoints, 0)

    def extend_path(self, waypoints: list[tuple[Coord, int]], first_index: int) -> bool:
        """Bind steps to waypoints that arrive in segments (``first_index`` of the first one).

        Returns True once every step has its waypoint.
        """
        start = max(self._scanned - first_index, 0)
        for i in range(start, len(waypoints)):
            if len(self.arrivals) == len(self.step_cells):
                break
            cell, op = self.step_cells[len(self.arrivals)]
            if waypoints[i][0] == cell and waypoints[i][1] == op:
                self.arrivals.append(first_index + i)
        self._scanned = max(self._scanned, first_index + len(waypoints))
        return len(self.arrivals) == len(self.step_cells)

    def rebind(self, first_index: int = 0) -> None:
        """The path was replaced (a repair): steps not completed yet are bound again.

        Keeps ``completed``; the steps after it are searched for in the new path's waypoints
        from ``first_index`` on (pass them with :meth:`extend_path`). The new path's first
        waypoint carries an operation still in progress, so that step binds there.
        """
        del self.arrivals[self.completed:]
        self._scanned = first_index

    def resume(self, completed: int, first_index: int) -> None:
        """Take the task over mid-way (the robot's node was started again): the first
        ``completed`` steps are done; the others bind to waypoints from ``first_index`` on (pass
        them with :meth:`extend_path`), and complete as the base's progress shows."""
        self.completed = min(max(completed, 0), len(self.step_cells))
        self.arrivals = [-1] * self.completed  # done: their waypoints are not needed
        self._scanned = first_index

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
        return len(self.arrivals) == len(self.step_cells) and self.completed == len(self.arrivals)

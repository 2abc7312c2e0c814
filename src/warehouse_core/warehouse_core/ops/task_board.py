"""The task board: the robots the allocator knows, and the tasks it gave them.

:class:`TaskBoard` owns each robot's slot (cell, battery, its task, in or out of service) and
every task until it is retired: a finished task leaves memory once nothing needs it any more (a
failed visit whose rack is still out, on a failed robot, waits for the rack's recovery, which
looks for that visit). Retirement happens at the start of the next ``tick`` or ``assign``, so
the events of the call that finished a task still see it. Task ids are never reused.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from warehouse_core.maps.grid import Coord
from warehouse_core.ops.model import TASK_ASSIGNED, TASK_DONE, TASK_FAILED, RobotSlot, Task, TaskEvent

NOWHERE: Coord = (-1, -1)  # the cell of a robot known from a reloaded task only, no state heard yet


class TaskBoard:
    """Robots and their tasks (see module docstring); events go to ``emit``."""

    def __init__(self, emit: Callable[[TaskEvent], None]) -> None:
        self.emit = emit
        self.robots: dict[str, RobotSlot] = {}
        self.failed_robots: set[str] = set()  # out of service for the rest of the run
        self.tasks: dict[str, Task] = {}
        self.tasks_retired = 0
        self._ids: Iterator[int] = itertools.count(1)
        self._retiring: list[str] = []  # finished: retired at the next retire()
        self._holding: set[str] = set()  # failed visits whose rack is out until it is recovered

    # -- robots --------------------------------------------------------------------------
    def update_robot(self, name: str, cell: Coord, available: bool = True, battery: float = 1.0) -> None:
        available = available and name not in self.failed_robots
        slot = self.robots.get(name)
        if slot is None:
            self.robots[name] = RobotSlot(cell, "", available, battery)
        else:
            slot.cell = cell
            slot.available = available
            slot.battery = battery

    def idle_robots(self) -> list[str]:
        return [n for n, s in self.robots.items() if not s.task and s.available and s.cell[0] >= 0]

    def robot_failed(self, robot: str) -> tuple[bool, str]:
        """``robot`` is out of service: (first time heard, the task it was on or "")."""
        slot = self.robots.get(robot)
        if slot is None:
            slot = self.robots[robot] = RobotSlot(NOWHERE, "", False)
        first = robot not in self.failed_robots
        self.failed_robots.add(robot)
        slot.available = False
        return first, slot.task

    # -- tasks ---------------------------------------------------------------------------
    def new_task_id(self) -> str:
        return f"T{next(self._ids):06d}"

    def continue_ids_after(self, last: int) -> None:
        """New task ids continue after ``T{last}`` (a robot recognises a repeated task by its id)."""
        self._ids = itertools.count(last + 1)

    def give(self, task: Task, now: float) -> None:
        """``task`` is its robot's now."""
        self.robots[task.robot].task = task.task_id
        self.tasks[task.task_id] = task
        self.emit(TaskEvent(task, TASK_ASSIGNED, -1, now))

    def adopt(self, task: Task) -> None:
        """Take ``task`` as given (reloaded from the durable store), silently."""
        slot = self.robots.setdefault(task.robot, RobotSlot(NOWHERE))
        slot.task = task.task_id
        self.tasks[task.task_id] = task

    def finished(self, task: Task, holds_rack: bool) -> None:
        """``task`` is done or failed: its robot is free; ``holds_rack``: a failed visit whose rack
        is out, kept until :meth:`rack_recovered`."""
        if holds_rack:
            self._holding.add(task.task_id)
        slot = self.robots.get(task.robot)
        if slot is not None and slot.task == task.task_id:
            slot.task = ""
        self._retiring.append(task.task_id)

    def rack_recovered(self, rack: str) -> list[Task]:
        """The failed visits of ``rack``, oldest first, released for retirement."""
        failed = [t for t in self.tasks.values() if t.rack == rack and t.state == TASK_FAILED]
        for t in failed:
            self._holding.discard(t.task_id)
            self._retiring.append(t.task_id)
        return failed

    def retire(self) -> None:
        """Drop finished tasks from memory (done, or failed without holding a rack)."""
        for tid in self._retiring:
            task = self.tasks.get(tid)
            if task is not None and (task.state == TASK_DONE or
                                     (task.state == TASK_FAILED and tid not in self._holding)):
                del self.tasks[tid]
                self.tasks_retired += 1
        self._retiring.clear()

    def retire_all_finished(self) -> None:
        """Retire every finished task that may go (after a replay)."""
        self._retiring = [tid for tid, t in self.tasks.items() if t.finished]
        self.retire()

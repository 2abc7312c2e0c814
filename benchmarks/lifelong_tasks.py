"""Task sources of the lifelong MAPF benchmark (and its tests): random goals, goods-to-person tasks.

Both implement :class:`warehouse_core.mapf.lifelong.TaskSource`. The running stack does not use
them: its robots get their goals from the allocator's task steps (see
:mod:`warehouse_core.fleet.fleet_planner`); these are the workloads the planners are measured on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from warehouse_core.mapf.lifelong import Goal
from warehouse_core.maps.grid import Grid

__all__ = ["RandomGoals", "WarehouseTasks"]


class RandomGoals:
    """Lifelong MAPF benchmark tasks: each new goal is a uniformly random free cell."""

    def __init__(self, grid: Grid, seed: int = 0, dwell: int = 0) -> None:
        self.cells = np.flatnonzero(grid.free.ravel())
        self.rng = np.random.default_rng(seed)
        self.dwell = dwell

    def assign(self, agent: int, cell: int, step: int) -> Goal | None:
        c = int(self.cells[self.rng.integers(self.cells.size)])
        while c == cell:
            c = int(self.cells[self.rng.integers(self.cells.size)])
        return Goal(c, self.dwell, False, "goal")

    def reached(self, agent: int, goal: Goal, step: int) -> None:
        pass


@dataclass
class _Job:
    stage: str      # "lift", "pick", "drop"
    rack_cell: int  # where the rack was lifted
    station: int = -1
    drop: int = -1


class WarehouseTasks:
    """Goods-to-person tasks on a :class:`~warehouse_core.maps.layout.Layout`.

    A task: go to a rack's storage cell (unloaded; lift, ``lift`` steps), carry it to a
    station's pick cell (loaded; pick, ``pick`` steps), return it to a free storage cell
    (loaded; drop, ``drop`` steps). Each of the three is one goal. A rack is claimed by one
    robot at a time; a drop cell is claimed when the drop goal is handed out.

    Admission control, as a real goods-to-person system does it: a station takes at most
    ``per_station`` tasks between lift and pick (default: twice its queue length + 1); a new task
    goes to the least busy station (nearest on ties) and only while one has room, otherwise
    the robot stays idle. Without this, racks in flight pile up in front of the stations and
    loaded robots (which cannot step aside under racks) gridlock the aisles.
    """

    def __init__(self, layout, seed: int = 0, lift: int = 2, pick: int = 5, drop: int = 2,
                 per_station: int | None = None) -> None:
        w = layout.grid.width
        self.rng = np.random.default_rng(seed)
        self.lift, self.pick, self.drop = lift, pick, drop
        self.available: list[int] = [s.cell[1] * w + s.cell[0] for s in layout.storage if s.rack]
        self.free_storage: list[int] = [s.cell[1] * w + s.cell[0] for s in layout.storage if not s.rack]
        self.stations = [s.pick_cell[1] * w + s.pick_cell[0] for s in layout.stations]
        self.capacity = [2 * len(s.queue) + 1 if per_station is None else per_station
                         for s in layout.stations]
        self.station_load = [0] * len(self.stations)
        self.jobs: dict[int, _Job] = {}
        self.width = w
        self.done: Counter = Counter()

    @staticmethod
    def _pop_random(lst: list[int], rng: np.random.Generator) -> int:
        k = int(rng.integers(len(lst)))
        lst[k], lst[-1] = lst[-1], lst[k]
        return lst.pop()

    def _manhattan(self, a: int, b: int) -> int:
        w = self.width
        return abs(a % w - b % w) + abs(a // w - b // w)

    def assign(self, agent: int, cell: int, step: int) -> Goal | None:
        job = self.jobs.get(agent)
        if job is None:
            room = [k for k, ld in enumerate(self.station_load) if ld < self.capacity[k]]
            if not self.available or not room:
                return None
            rack = self._pop_random(self.available, self.rng)
            k = min(room, key=lambda s: (self.station_load[s], self._manhattan(self.stations[s], rack)))
            self.station_load[k] += 1
            self.jobs[agent] = _Job("lift", rack, station=k)
            return Goal(rack, self.lift, False, "lift")
        if job.stage == "pick":
            return Goal(self.stations[job.station], self.pick, True, "pick")
        if job.stage == "drop":
            if job.drop < 0:
                if not self.free_storage:
                    return None
                job.drop = self._pop_random(self.free_storage, self.rng)
            return Goal(job.drop, self.drop, True, "drop")
        raise AssertionError(job.stage)

    def reached(self, agent: int, goal: Goal, step: int) -> None:
        job = self.jobs[agent]
        self.done[goal.kind] += 1
        if job.stage == "lift":
            self.free_storage.append(job.rack_cell)
            job.stage = "pick"
        elif job.stage == "pick":
            self.station_load[job.station] -= 1
            job.stage = "drop"
        else:
            self.available.append(job.drop)
            del self.jobs[agent]

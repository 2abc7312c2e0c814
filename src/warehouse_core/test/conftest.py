"""Shared helpers of the core's unit tests.

* :class:`PlanFollower` / :class:`FloorDrive` / :class:`GridDrive`: a
  :class:`~warehouse_core.fleet.fleet_planner.FleetPlanner`'s segments executed as the planner and
  robot nodes execute them, on the kinematic floor simulator (:class:`FloorDrive`) or on a
  discrete grid, one waypoint per step at most (:class:`GridDrive`). Fixtures ``plan_follower``,
  ``floor_drive`` and ``grid_drive`` hand out the classes.
* ``spacetime``: the prioritized space-time A* (``spacetime_planner.py`` beside this file),
  a test-only planner the execution tests commit paths with.
* ``lifelong_bench``: the lifelong MAPF benchmark's task sources and windowed baseline
  (``benchmarks/lifelong_tasks.py``, ``benchmarks/lifelong_baseline.py``).

Helper modules are loaded by path: the tests run with ``--import-mode=importlib``, which puts
no test directory on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from collections.abc import Collection
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from warehouse_core.fleet.execution import WaitReason
from warehouse_core.fleet.fleet_planner import FleetPlanner, Segment
from warehouse_core.maps.grid import Coord
from warehouse_core.robot.task_progress import TaskProgress
from warehouse_core.sim.floor_sim import FloorSim, Waypoint
from warehouse_core.tasks import TaskStep

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def _load(name: str, path: Path) -> ModuleType:
    """The module at ``path``, imported once under ``name``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


class PlanFollower:
    """The segments of a fleet planner, appended to each robot's path as a robot node does: a new
    plan id (a re-root) starts a new path from index 0, and the robot's task re-binds to it."""

    def __init__(self, fleet: FleetPlanner, names: list[str]) -> None:
        self.fleet = fleet
        self.plan_of = dict.fromkeys(names, 0)
        self.paths: dict[str, list[tuple[Coord, tuple[int, float]]]] = {n: [] for n in names}
        self.tasks: dict[str, TaskProgress] = {}
        self.task_ids: dict[str, str] = {}
        self.new_plans: list[tuple[str, Coord]] = []  # (robot, first cell) of every new plan

    def request(self, robot: str, task_id: str, steps: list[TaskStep]) -> None:
        """Give ``robot`` a task; only the waypoints planned from now on count for it."""
        self.fleet.request(robot, task_id, steps)
        prog = TaskProgress([(s.cell, s.op) for s in steps])
        prog.extend_path([], len(self.paths[robot]))
        self.tasks[robot] = prog
        self.task_ids[robot] = task_id

    def progress(self, robot: str, reached: int, operating: bool) -> bool:
        """Report ``robot``'s last waypoint reached (of its current plan) to the planner and its
        task; True when that finished the task (it is forgotten then)."""
        self.fleet.report_progress(robot, self.plan_of[robot], reached)
        prog = self.tasks.get(robot)
        if prog is None:
            return False
        prog.update(reached, operating)
        if not prog.done:
            return False
        del self.tasks[robot], self.task_ids[robot]
        return True

    def plan(self, step: int) -> list[Segment]:
        """Plan up to ``step`` + window and append the segments to the robots' paths."""
        segments = self.fleet.plan(step)
        for seg in segments:
            n = seg.robot
            if seg.plan_id > self.plan_of[n]:
                assert seg.first_index == 0
                self.new_plans.append((n, seg.cells[0]))
                self.new_plan(n, seg.plan_id, seg.cells[0])
            assert seg.first_index == len(self.paths[n])
            wps = seg.waypoints()
            self.paths[n].extend(wps)
            if n in self.tasks:
                self.tasks[n].extend_path([(c, op[0]) for c, op in wps], seg.first_index)
        return segments

    def new_plan(self, robot: str, plan_id: int, first: Coord) -> None:
        """``robot`` got plan ``plan_id``, starting at ``first``: a new path."""
        self.plan_of[robot], self.paths[robot] = plan_id, []
        if robot in self.tasks:
            self.tasks[robot].rebind(0)


class FloorDrive(PlanFollower):
    """A fleet planner driving the robots of a :class:`FloorSim`: releases become drive commands
    (a share ``late`` of them held back a tick, drawn from ``rng``)."""

    def __init__(self, fleet: FleetPlanner, sim: FloorSim, cell_to_world, rng: random.Random | None = None,
                 late: float = 0.0) -> None:
        super().__init__(fleet, list(sim.robots))
        self.sim = sim
        self.cell_to_world = cell_to_world
        self.rng = rng
        self.late = late
        self.sent = dict.fromkeys(sim.robots, 0)

    def reached(self, robot: str) -> int:
        r = self.sim.robots[robot]
        return r.reached if r.plan_id == self.plan_of[robot] else 0

    def report(self, skip: str | None = None) -> list[str]:
        """Every robot's progress (but ``skip``'s); the robots whose task it finished."""
        done = []
        for n, r in self.sim.robots.items():
            if n != skip and self.progress(n, self.reached(n), r.op_left > 0):
                done.append(n)
        return done

    def new_plan(self, robot: str, plan_id: int, first: Coord) -> None:
        r = self.sim.robots[robot]
        assert first == r.cell and r.v == 0.0, f"{robot} re-rooted away from where it stands"
        super().new_plan(robot, plan_id, first)
        self.sent[robot] = 0

    def release(self, step: int) -> dict[str, tuple[int, WaitReason]]:
        """Release what the planner allows and command it (unless held back as late)."""
        results = self.fleet.release_all(step)
        for n, (idx, _why) in results.items():
            if idx > self.sent[n] and (self.rng is None or self.rng.random() > self.late):
                path = self.paths[n]
                wps = [Waypoint(i, path[i][0], *self.cell_to_world(path[i][0]), *path[i][1])
                       for i in range(self.sent[n] + 1, idx + 1)]
                assert self.sim.command(n, self.plan_of[n], self.sent[n] + 1, wps)
                self.sent[n] = idx
        return results

    def distances(self) -> tuple[list[str], np.ndarray]:
        """Robot names and their pairwise centre distances (infinite on the diagonal)."""
        names = list(self.sim.robots)
        pos = np.array([(self.sim.robots[n].x, self.sim.robots[n].y) for n in names])
        d = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        return names, d

    def min_distance(self) -> float:
        d = self.distances()[1]
        return float(d.min()) if d.size else math.inf


class GridDrive(PlanFollower):
    """A fleet planner driving robots on the grid: each step a robot drives at most one released
    waypoint; ``pos`` is every robot's flat cell."""

    def __init__(self, fleet: FleetPlanner, starts: dict[str, Coord]) -> None:
        super().__init__(fleet, list(starts))
        self.grid = fleet.grid
        self.pos = {n: self.grid.index(c) for n, c in starts.items()}
        self.progress_of = dict.fromkeys(starts, 0)

    def new_plan(self, robot: str, plan_id: int, first: Coord) -> None:
        assert self.grid.index(first) == self.pos[robot], f"{robot} re-rooted away from where it stands"
        super().new_plan(robot, plan_id, first)
        self.progress_of[robot] = 0

    def cell(self, robot: str, index: int) -> int:
        return self.grid.index(self.paths[robot][index][0])

    def drive(self, step: int, move, skip: Collection[str] = ()) -> tuple[dict[str, tuple[int, WaitReason]], list[str]]:
        """Release, then move every robot with a path (but those in ``skip``) one waypoint on where
        ``move(robot, released index, progress)`` says so, and report the progress. Checks that no
        two robots share a cell or swap. Returns the releases and the robots that finished their
        task."""
        results = self.fleet.release_all(step)
        old = dict(self.pos)
        done = []
        for n, (idx, _why) in results.items():
            if n in skip or not self.paths[n]:
                continue
            if move(n, idx, self.progress_of[n]):
                self.progress_of[n] += 1
                self.pos[n] = self.cell(n, self.progress_of[n])
            if self.progress(n, self.progress_of[n], False):
                done.append(n)
        assert len(set(self.pos.values())) == len(self.pos), f"step {step}: two robots on one cell"
        moved = {(old[n], self.pos[n]) for n in self.pos if n in old and old[n] != self.pos[n]}
        assert not any((b, a) in moved for a, b in moved), f"step {step}: swap"
        return results, done


@pytest.fixture
def plan_follower() -> type[PlanFollower]:
    return PlanFollower


@pytest.fixture
def floor_drive() -> type[FloorDrive]:
    return FloorDrive


@pytest.fixture
def grid_drive() -> type[GridDrive]:
    return GridDrive


@pytest.fixture(scope="session")
def spacetime() -> ModuleType:
    return _load("spacetime_planner", HERE / "spacetime_planner.py")


@pytest.fixture(scope="session")
def lifelong_bench() -> ModuleType:
    """A namespace with ``RandomGoals``, ``WarehouseTasks`` and ``WindowedPP``."""
    tasks = _load("lifelong_tasks", REPO / "benchmarks" / "lifelong_tasks.py")
    baseline = _load("lifelong_baseline", REPO / "benchmarks" / "lifelong_baseline.py")
    ns = ModuleType("lifelong_bench")
    ns.RandomGoals, ns.WarehouseTasks, ns.WindowedPP = tasks.RandomGoals, tasks.WarehouseTasks, baseline.WindowedPP
    return ns

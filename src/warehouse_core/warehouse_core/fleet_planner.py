"""The running fleet's planner: lifelong guided PIBT windows, executed with dependency gating.

Every robot has one continuous path for the whole run. Each planning round rolls the
lifelong planner (:class:`~warehouse_core.mapf.lifelong.LifelongPibt`) forward until the
plan frontier is ``window`` steps ahead of the current time step, appends the new cells to
every robot's committed path (:meth:`TrafficController.extend`) and returns them as
segments to publish. Task steps become goals: a robot drives to each step's cell in turn
(carrying a rack between lift and drop, so it may not pass under stored racks), and the
waypoint where it arrives carries the step's operation; the robot then dwells there for
the operation's duration. Execution is gated by :class:`TrafficController`: following is
allowed, rotations never planned, so delays cause waits, never collisions or deadlocks.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from warehouse_core.execution import TrafficController, WaitReason
from warehouse_core.floor_sim import OP_DROP, OP_LIFT
from warehouse_core.grid import Coord, Grid
from warehouse_core.mapf.guidance import GuidanceConfig
from warehouse_core.mapf.lifelong import Goal, LifelongPibt

PLAN_ID = 1  # one continuous path per robot


@dataclass(frozen=True)
class StepGoal:
    """One task step as the planner sees it."""

    cell: Coord
    op: int
    duration: float  # s


@dataclass
class Segment:
    """New waypoints of one robot's path: path indices from ``first_index``."""

    robot: str
    task_id: str
    first_index: int
    cells: list[Coord]
    ops: dict[int, tuple[int, float]]  # absolute path index -> (op, duration)
    carrying: list[bool]


@dataclass
class _Robot:
    index: int
    carrying: bool  # at the plan frontier
    task_id: str = ""
    queue: deque = field(default_factory=deque)  # (StepGoal, loaded_while_driving)
    current: StepGoal | None = None
    ops: dict[int, tuple[int, float]] = field(default_factory=dict)


class FleetPlanner:
    """Plans all robots' paths in windows and decides how far each may drive."""

    def __init__(self, grid: Grid, storage_mask: np.ndarray, starts: dict[str, Coord],
                 start_step: int, step_duration: float, window: int = 5, lookahead: int = 1,
                 seed: int = 0, guidance: GuidanceConfig = GuidanceConfig(),
                 carrying: dict[str, bool] | None = None) -> None:
        self.grid = grid
        self.step_duration = step_duration
        self.window = window
        self.names = sorted(starts)
        self.robots = {n: _Robot(i, bool((carrying or {}).get(n, False)))
                       for i, n in enumerate(self.names)}
        self.pibt = LifelongPibt(grid, [grid.index(starts[n]) for n in self.names],
                                 storage_mask=storage_mask, guidance=guidance, seed=seed)
        self.traffic = TrafficController(lookahead=lookahead)
        self.start_step = start_step
        for n in self.names:
            self.traffic.commit(n, PLAN_ID, [grid.index(starts[n])], start_step)
        self.frontier = start_step
        self.published = {n: 0 for n in self.names}  # path indices handed out so far

    # -- requests ------------------------------------------------------------------------
    def request(self, robot: str, task_id: str, steps: list[StepGoal]) -> None:
        """Queue a task's steps for ``robot`` (replacing any steps not started)."""
        r = self.robots[robot]
        r.task_id = task_id
        loaded = r.carrying
        r.queue.clear()
        for s in steps:
            r.queue.append((s, loaded))
            if s.op == OP_LIFT:
                loaded = True
            elif s.op == OP_DROP:
                loaded = False
        if r.current is None:
            self._next_goal(robot)

    def busy(self, robot: str) -> bool:
        r = self.robots[robot]
        return r.current is not None or bool(r.queue)

    def _next_goal(self, robot: str) -> None:
        r = self.robots[robot]
        if not r.queue:
            r.current = None
            return
        step, loaded = r.queue.popleft()
        r.current = step
        dwell = math.ceil(step.duration / self.step_duration - 1e-9)
        self.pibt.set_goal(r.index, Goal(self.grid.index(step.cell), dwell, loaded))

    # -- planning ------------------------------------------------------------------------
    def plan(self, now_step: int) -> list[Segment]:
        """Extend every path until the frontier is ``window`` steps ahead of ``now_step``."""
        target = now_step + self.window
        if self.frontier >= target:
            return []
        new: dict[str, list[int]] = {n: [] for n in self.names}
        carry: dict[str, list[bool]] = {n: [] for n in self.names}
        ops: dict[str, dict[int, tuple[int, float]]] = {n: {} for n in self.names}
        while self.frontier < target:
            res = self.pibt.step()
            self.frontier += 1
            index = self.frontier - self.start_step
            cells = res.cells.tolist()
            for n in self.names:
                r = self.robots[n]
                new[n].append(cells[r.index])
                carry[n].append(r.carrying)
            for arrival in res.arrivals:
                n = self.names[arrival.agent]
                r = self.robots[n]
                step = r.current
                if step is None:
                    continue
                ops[n][index] = (step.op, step.duration)
                if step.op == OP_LIFT:
                    r.carrying = True
                elif step.op == OP_DROP:
                    r.carrying = False
                self._next_goal(n)
        out = []
        for n in self.names:
            path = self.traffic.paths[n]
            self.traffic.extend(n, new[n])
            first = self.published[n]
            if first == 0:  # the very first segment also carries the start cell
                new[n].insert(0, path.cell(0))
                carry[n].insert(0, carry[n][0] if carry[n] else self.robots[n].carrying)
            self.published[n] = path.length
            out.append(Segment(n, self.robots[n].task_id, first,
                               [self.grid.coord(c) for c in new[n]], ops[n], carry[n]))
        return out

    # -- execution -----------------------------------------------------------------------
    def report_progress(self, robot: str, plan_id: int, index: int) -> None:
        if robot in self.traffic.paths:
            self.traffic.report_progress(robot, plan_id, index)

    def release_all(self, now_step: int) -> dict[str, tuple[int, WaitReason]]:
        return self.traffic.release_all(now_step)

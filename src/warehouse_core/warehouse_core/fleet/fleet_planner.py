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

Repair (a robot fails, is towed away, or is late; an obstacle; a deadlock watchdog's re-plan)
is :class:`~warehouse_core.fleet.freeze_reroot.FreezeAndReroot`: freeze, then re-root every plan.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from warehouse_core.fleet.control import ReleaseGate
from warehouse_core.fleet.execution import TrafficController, WaitReason
from warehouse_core.fleet.freeze_reroot import REPAIR_LAG_STEPS, REPAIR_TIMEOUT_STEPS, FreezeAndReroot
from warehouse_core.fleet.station_queues import StationQueues
from warehouse_core.mapf.guidance import GuidanceConfig
from warehouse_core.mapf.lifelong import Arrival, Goal, LifelongPibt
from warehouse_core.maps.grid import Coord, Grid
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_NONE, OP_PICK, TaskStep

__all__ = ["MAX_LEAD_STEPS", "PLAN_ID", "REPAIR_LAG_STEPS", "REPAIR_TIMEOUT_STEPS", "FleetPlanner", "Segment"]

PLAN_ID = 1  # the first plan id; every re-root (repair) uses the next one
MAX_LEAD_STEPS = 3  # default: a robot's plan runs at most window + this many steps ahead of it
_HOLD = 1 << 40  # dwell steps of a robot that waits for its goal cell to be unblocked


@dataclass
class Segment:
    """New waypoints of one robot's path: path indices from ``first_index``."""

    robot: str
    task_id: str
    first_index: int
    cells: list[Coord]
    ops: dict[int, TaskStep]  # absolute path index -> the task step done there on arrival
    carrying: list[bool]
    plan_id: int = PLAN_ID

    def op_at(self, index: int) -> tuple[int, float]:
        """(operation, duration [s]) done at absolute path ``index`` ((``OP_NONE``, 0.0): none)."""
        step = self.ops.get(index)
        return (step.op, step.duration) if step is not None else (OP_NONE, 0.0)

    def waypoints(self) -> list[tuple[Coord, tuple[int, float]]]:
        """(cell, (operation, duration)) of every new waypoint, from ``first_index`` on."""
        return [(c, self.op_at(self.first_index + k)) for k, c in enumerate(self.cells)]


@dataclass(frozen=True)
class _Planned:
    """A task step whose arrival is planned at path ``index``; the robot dwells ``dwell`` steps."""

    index: int
    step: TaskStep
    loaded: bool
    dwell: int


@dataclass
class _Robot:
    index: int  # agent index in the current LifelongPibt (-1: failed)
    carrying: bool  # at the plan frontier
    task_id: str = ""
    queue: deque = field(default_factory=deque)  # (TaskStep, loaded_while_driving)
    current: TaskStep | None = None
    current_loaded: bool = False
    planned: list[_Planned] = field(default_factory=list)  # arrivals not yet left behind
    held: bool = False  # its goal cell is blocked by a failed robot: it waits where it is
    root_op: TaskStep | None = None  # the rest of an operation in progress at path index 0


class FleetPlanner(FreezeAndReroot):
    """Plans all robots' paths in windows and decides how far each may drive."""

    def __init__(self, grid: Grid, storage_mask: np.ndarray, starts: dict[str, Coord],
                 start_step: int, step_duration: float, window: int = 5, lookahead: int = 1,
                 seed: int = 0, guidance: GuidanceConfig = GuidanceConfig(),
                 carrying: dict[str, bool] | None = None, repair_lag_steps: int = REPAIR_LAG_STEPS,
                 repair_timeout_steps: int = REPAIR_TIMEOUT_STEPS, max_lead_steps: int = MAX_LEAD_STEPS,
                 stations: Sequence[tuple[Coord, Sequence[Coord]]] = (), avoid_stations: bool = True,
                 plan_id: int = PLAN_ID) -> None:
        """``plan_id``: the first plan's id (a planner restarted mid-run starts above the ids the robots
        still hold, so that they take its paths as replacements); ``repair_lag_steps`` /
        ``repair_timeout_steps``: see :mod:`warehouse_core.fleet.freeze_reroot` (0: off);
        ``max_lead_steps``: see :meth:`_hold_lagging` (negative: no lead bound). ``stations``: (pick cell,
        queue cells nearest first) of every station, for first-come-first-served lines
        (:mod:`warehouse_core.fleet.station_queues`); with ``avoid_stations`` their pick and queue cells are
        costly for through traffic (robots heading elsewhere drove along the column of pick and
        queue cells and held up the lines)."""
        self.grid = grid  # the full map (cells blocked by failed robots are tracked apart)
        self.storage_mask = storage_mask
        self.guidance = guidance
        self.seed = seed
        self.lookahead = lookahead
        self.step_duration = step_duration
        self.window = window
        self.names = sorted(starts)
        self.live = list(self.names)  # robots in the planner, by agent index
        self.robots = {n: _Robot(i, bool((carrying or {}).get(n, False)))
                       for i, n in enumerate(self.names)}
        self.avoid_mask: np.ndarray | None = None
        if stations and avoid_stations:
            self.avoid_mask = np.zeros(grid.free.shape, dtype=bool)
            for pick, queue in stations:
                for x, y in (pick, *queue):
                    self.avoid_mask[y, x] = True
        self.pibt = LifelongPibt(grid, [grid.index(starts[n]) for n in self.names],
                                 storage_mask=storage_mask, guidance=guidance, seed=seed,
                                 avoid_mask=self.avoid_mask)
        self.traffic = TrafficController(lookahead=lookahead)
        self.plan_id = plan_id
        self.start_step = start_step
        for n in self.names:
            self.traffic.commit(n, plan_id, [grid.index(starts[n])], start_step)
        self.frontier = start_step
        self.published = {n: 0 for n in self.names}  # path indices handed out so far
        self._init_repair(repair_lag_steps, repair_timeout_steps)
        self.max_lead_steps = max_lead_steps
        self.lead_holds = 0  # planned steps in which a robot was held because it lagged its plan
        self.queues = StationQueues(grid, stations) if stations else None
        self._queue_held: set[str] = set()  # robots waiting on their queue slot (not pushable)
        self.boosts = 0  # robots put first in priority by :meth:`prioritize`
        self._boosts = 0  # robots put first so far (earlier ones rank higher)

    # -- requests ------------------------------------------------------------------------
    def request(self, robot: str, task_id: str, steps: list[TaskStep]) -> None:
        """Queue a task's steps for ``robot`` (replacing any steps not started).

        A request repeated for the task the robot already has (a re-sent or latched one) and a
        request without steps (the robot is idle) change nothing, except one without steps for
        the robot's current task: the robot gave it up (:meth:`abandon`).
        """
        if robot in self.failed or not task_id:
            return
        if not steps:
            self.abandon(robot, task_id)
            return
        r = self.robots[robot]
        if task_id == r.task_id:
            return
        r.task_id = task_id
        loaded = r.carrying
        r.queue.clear()
        for s in steps:
            r.queue.append((s, loaded))
            if s.op == OP_LIFT:
                loaded = True
            elif s.op == OP_DROP:
                loaded = False
        if r.current is None and robot not in self.suspended and robot not in self.held:
            self._next_goal(robot)

    def abandon(self, robot: str, task_id: str) -> None:
        """``robot`` gave up ``task_id`` (its rack would not come up): the steps not reached yet
        are dropped, it carries nothing, and it is idle from the plan frontier on (waypoints
        already published stay; the robot stops at their end)."""
        r = self.robots.get(robot)
        if r is None or robot in self.failed or not task_id or task_id != r.task_id:
            return
        r.queue.clear()
        r.current, r.planned, r.held, r.carrying, r.root_op = None, [], False, False, None
        if r.index >= 0:
            self.pibt.set_goal(r.index, None)
            if robot in self._queue_held:  # waiting on a station line slot: it leaves the line
                self._queue_held.discard(robot)
                self.pibt.set_dwell(r.index, 0)

    def busy(self, robot: str) -> bool:
        r = self.robots[robot]
        return r.current is not None or bool(r.queue)

    def _next_goal(self, robot: str, keep_age: bool = False) -> None:
        r = self.robots[robot]
        if not r.queue:
            r.current = None
            return
        step, loaded = r.queue.popleft()
        r.current, r.current_loaded = step, loaded
        cell = self.grid.index(step.cell)
        if cell in self.blocked:
            # unreachable until the failed robot is removed: wait in place (a held robot is
            # never pushed, so a loaded one never ends up under a stored rack)
            r.held = True
            self.pibt.set_goal(r.index, None)
            self.pibt.set_dwell(r.index, _HOLD)
            return
        r.held = False
        self.pibt.set_goal(r.index, Goal(cell, self._dwell_steps(step), loaded), keep_age=keep_age)

    def _dwell_steps(self, step: TaskStep) -> int:
        return math.ceil(step.duration / self.step_duration - 1e-9)

    def plan(self, now_step: int) -> list[Segment]:
        """Extend every path until the frontier is ``window`` steps ahead of ``now_step``.

        In freeze mode (a repair pending) nothing is planned until every live robot has
        reached its released index; then all paths are re-rooted (new plan id, index 0).
        """
        if not self._freeze_gate(now_step):
            return []
        target = now_step + self.window
        if self.frontier >= target:
            return []
        new: dict[str, list[int]] = {n: [] for n in self.live}
        carry: dict[str, list[bool]] = {n: [] for n in self.live}
        ops: dict[str, dict[int, TaskStep]] = {n: {} for n in self.live}
        bound = self.max_lead_steps >= 0
        ahead = self._moves_ahead() if bound else {}
        while self.frontier < target:
            if self.queues is not None:
                self._queue_step()
            if bound:
                self._hold_lagging(ahead)
            res = self.pibt.step()
            self.frontier += 1
            index = self.frontier - self.start_step
            cells = res.cells.tolist()
            prev = res.prev.tolist()
            for n in self.live:
                r = self.robots[n]
                new[n].append(cells[r.index])
                carry[n].append(r.carrying)
                if bound and cells[r.index] != prev[r.index]:
                    ahead[n] += 1
            self._record_arrivals(res.arrivals, index, ops)
        return self._segments(new, carry, ops)

    def _record_arrivals(self, arrivals: list[Arrival], index: int,
                         ops: dict[str, dict[int, TaskStep]]) -> None:
        """Robots that reached a goal at path ``index``: the step's operation goes on that
        waypoint, the robot's load changes, and its next step becomes its goal."""
        for arrival in arrivals:
            n = self.live[arrival.agent]
            r = self.robots[n]
            step = r.current
            if arrival.goal.kind == "queue":  # on its slot: wait there until the line moves
                self.pibt.set_dwell(r.index, _HOLD)
                self._queue_held.add(n)
                continue
            if step is None:
                continue
            ops[n][index] = step
            r.planned.append(_Planned(index, step, r.current_loaded, arrival.goal.dwell))
            if step.op == OP_LIFT:
                r.carrying = True
            elif step.op == OP_DROP:
                r.carrying = False
            # a picker keeps its priority age on the way out: with a fresh (lowest) priority
            # it yielded to everybody passing and held its station's line up for a minute
            self._next_goal(n, keep_age=step.op == OP_PICK)

    def _segments(self, new: dict[str, list[int]], carry: dict[str, list[bool]],
                  ops: dict[str, dict[int, TaskStep]]) -> list[Segment]:
        """Append the newly planned cells to the committed paths; one segment per live robot."""
        out = []
        for n in self.live:
            path = self.traffic.paths[n]
            self.traffic.extend(n, new[n])
            first = self.published[n]
            r = self.robots[n]
            if first == 0:  # the very first segment also carries the start cell
                new[n].insert(0, path.cell(0))
                carry[n].insert(0, carry[n][0] if carry[n] else r.carrying)
                if r.root_op is not None:
                    ops[n][0] = r.root_op
            self.published[n] = path.length
            out.append(Segment(n, r.task_id, first, [self.grid.coord(c) for c in new[n]],
                               ops[n], carry[n], self.plan_id))
        return out

    def _queue_step(self) -> None:
        """Join robots heading for a station to its line and send each to its slot.

        The head stays in the line until it has left the pick cell, so the next robot waits on
        the first queue cell (not in the aisle, where it would block the picker's way out).
        """
        queues = self.queues
        cells = self.pibt.cells.tolist()
        wants = {}
        for n in self.live:
            r = self.robots[n]
            cell = cells[r.index]
            if r.current is not None and r.current.op == OP_PICK and not r.held:
                pick = self.grid.index(r.current.cell)
                if queues.is_station(pick):
                    wants[n] = (pick, cell)
            elif queues.joined.get(n) == cell and (r.current is not None or self.pibt.dwell_left(r.index) > 0):
                wants[n] = (cell, cell)  # picking, or on its way out (an idle robot is pushed away)
        for n in self._queue_held - wants.keys():  # a new goal (a repair, another task)
            self._queue_held.discard(n)
            self.pibt.set_dwell(self.robots[n].index, 0)
        for n, slot in queues.update(wants).items():
            r = self.robots[n]
            i = r.index
            pick = wants[n][0]
            goal = self.pibt.goal_of(i)
            if n in self._queue_held:
                self._queue_held.discard(n)
                self.pibt.set_dwell(i, 0)
            elif slot == 0 and goal is not None and goal.cell == pick:
                continue  # joined at the head: it is heading for the pick cell already
            # the same errand: moving up the line keeps the priority age (a reset put robots
            # moving up behind everybody passing by)
            if slot == 0:
                self.pibt.set_goal(i, Goal(pick, self._dwell_steps(r.current), r.current_loaded), keep_age=True)
            else:
                self.pibt.set_goal(i, Goal(queues.slot_cell(pick, slot), 0, r.current_loaded, "queue"),
                                   keep_age=True)

    def _moves_ahead(self) -> dict[str, int]:
        """Cell changes in every live robot's committed path beyond the waypoint it reached."""
        out = {}
        for n in self.live:
            p = self.traffic.paths[n]
            cells = p.cells[p.progress - p.base:]
            out[n] = sum(1 for a, b in zip(cells, cells[1:]) if a != b)
        return out

    def _hold_lagging(self, ahead: dict[str, int]) -> None:
        """Plan a wait for every robot whose plan already runs too far ahead of it.

        Plans assume a cell per step; real robots turn, accelerate and wait for released cells,
        so they fall behind. Unbounded, the plan (and the order of visits it commits) drifts
        away from where the robots are: a robot that physically comes first waits for one
        planned earlier that is still far away. A robot with ``window + max_lead_steps``
        planned moves it has not driven yet (``ahead``, waits do not count: a late robot drives
        through them at once) stays put in the next planned step; it
        cannot be pushed there, as it really is further back.
        """
        limit = self.window + self.max_lead_steps
        for n in self.live:
            i = self.robots[n].index
            if self.pibt.dwell_left(i) == 0 and ahead[n] >= limit:
                self.pibt.set_dwell(i, 1)
                self.lead_holds += 1

    # -- priorities ------------------------------------------------------------------------
    def prioritize(self, robots: Sequence[str]) -> list[str]:
        """Put ``robots`` ahead of everybody in priority from the next planned step on, without a
        re-plan: the light resolution of a robot that waits too long (a starving robot pushes the
        others aside instead of yielding to each). Robots prioritized earlier stay ahead of later
        ones; the boost lasts until the robot's next goal. Returns the robots boosted (live ones)."""
        done = self._put_first(robots)
        self.boosts += len(done)
        return done

    def _put_first(self, robots: Sequence[str]) -> list[str]:
        """Live ``robots`` first in PIBT priority, in list order, behind robots put first before."""
        done = []
        for n in robots:
            r = self.robots.get(n)
            if r is None or r.index < 0 or n in self.failed or n in self.suspended or n in self.held or n in done:
                continue
            self._boosts += 1
            self.pibt.put_first(r.index, self._boosts)
            done.append(n)
        return done

    # -- execution -----------------------------------------------------------------------
    def report_progress(self, robot: str, plan_id: int, index: int) -> None:
        if robot in self.traffic.paths and self.traffic.report_progress(robot, plan_id, index):
            r = self.robots[robot]
            if r.planned and r.planned[0].index + r.planned[0].dwell < index:
                r.planned = [e for e in r.planned if e.index + e.dwell >= index]

    def release_all(self, now_step: int, gate: ReleaseGate | None = None) -> dict[str, tuple[int, WaitReason]]:
        """How far every live robot may drive; in freeze mode nothing beyond what it has; ``gate``:
        what operators hold back (:mod:`warehouse_core.fleet.control`)."""
        if self.frozen:
            return {n: (p.released, WaitReason(n, -1, "planning"))
                    for n, p in self.traffic.paths.items() if n not in self.failed and n not in self.held}
        results = self.traffic.release_all(now_step, gate)
        paths = self.traffic.paths
        blocking = {why.blocker for n, (idx, why) in results.items()
                    if why.kind == "robot" and idx <= paths[n].progress}
        self._blocking_since = {n: self._blocking_since.get(n, now_step) for n in blocking}
        return results

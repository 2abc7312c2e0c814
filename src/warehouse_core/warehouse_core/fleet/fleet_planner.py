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

Repair when a robot fails (or is towed away): FREEZE AND RE-ROOT. The committed plans of the
others order them behind the failed robot's planned visits, so they would wait forever; and
replanning robots one by one against visit orders and releases already handed out can close
a wait-for cycle. Instead :meth:`FleetPlanner.fail` (and :meth:`FleetPlanner.remove`) puts
the planner in *freeze* mode: nothing new is planned and nothing beyond what is already
released is released. Everything released is executable (its dependencies held when it was
released), so every live robot reaches its released index (robots in an operation finish
it). Once they all stand still there, the planner *re-roots*: a new plan id for everybody,
every new path starts at the robot's current cell at step ``now + margin``, a new lifelong
PIBT over the grid with the failed robots' cells blocked, every live robot's goal and queue
restored (goals planned but not yet reached are planned again) and an operation in progress
kept as the remaining dwell. The new paths are published from index 0 (the first waypoint
carries the operation in progress, so a robot can re-bind its task steps). All robots stand
still when the new plans start, so their dependencies involve only the new plans: acyclic,
like any plan of the lifelong planner.

Repair around a robot that is merely LATE (stalled, slow, an operation overrunning): the
others' plans still order them behind its planned visits, so everybody behind it would wait
as long as it is late. When a live robot lags its plan by more than ``repair_lag_steps``
steps while it could drive (it is not itself waiting for anybody) and some robot waits for
it, the planner *suspends* it: it keeps its task steps and goes on driving the waypoints
already released to it, whose cells stay blocked for the others; the planner freezes and
re-roots the others around those cells (``lag_repairs`` counts these). Once the suspended
robot has reached the end of what was released to it, another freeze and re-root plans it
again from where it stands (``resumes``). Watchdog: a freeze waits at most
``repair_timeout_steps`` steps for the live robots to reach their released index; a robot
that has not by then is suspended the same way (``freeze_timeouts`` counts them, and every
suspension is logged and kept in ``events``), so one stuck robot never freezes the fleet.
The lag repair is off by default (``repair_lag_steps=0``): in the live stack on a heavily
loaded machine it also fired for robots that were late only because their nodes were starved
of CPU, and the extra freezes cost work (an integration test failed 2 of 3 runs); the
watchdog is on (60 steps).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from warehouse_core.fleet.execution import CommittedPath, TrafficController, WaitReason
from warehouse_core.fleet.station_queues import StationQueues
from warehouse_core.mapf.guidance import GuidanceConfig
from warehouse_core.mapf.lifelong import Goal, LifelongPibt
from warehouse_core.maps.grid import Coord, Grid
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_PICK, TaskStep

PLAN_ID = 1  # the first plan id; every re-root (repair) uses the next one
REPAIR_LAG_STEPS = 0  # default: off (opt in, e.g. 20: see the module docstring)
REPAIR_TIMEOUT_STEPS = 60  # default: longest wait of a freeze for robots to reach their release
MAX_LEAD_STEPS = 3  # default: a robot's plan runs at most window + this many steps ahead of it
_HOLD = 1 << 40  # dwell steps of a robot that waits for its goal cell to be unblocked
_FIRST = 1 << 30  # goal age of robots put first in priority (a boost or a watchdog re-plan)


@dataclass
class Segment:
    """New waypoints of one robot's path: path indices from ``first_index``."""

    robot: str
    task_id: str
    first_index: int
    cells: list[Coord]
    ops: dict[int, tuple[int, float]]  # absolute path index -> (op, duration)
    carrying: list[bool]
    plan_id: int = PLAN_ID


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
    root_op: tuple[int, float] | None = None  # operation in progress at path index 0


class FleetPlanner:
    """Plans all robots' paths in windows and decides how far each may drive."""

    def __init__(self, grid: Grid, storage_mask: np.ndarray, starts: dict[str, Coord],
                 start_step: int, step_duration: float, window: int = 5, lookahead: int = 1,
                 seed: int = 0, guidance: GuidanceConfig = GuidanceConfig(),
                 carrying: dict[str, bool] | None = None, repair_lag_steps: int = REPAIR_LAG_STEPS,
                 repair_timeout_steps: int = REPAIR_TIMEOUT_STEPS, max_lead_steps: int = MAX_LEAD_STEPS,
                 stations: Sequence[tuple[Coord, Sequence[Coord]]] = (), avoid_stations: bool = True) -> None:
        """``repair_lag_steps`` / ``repair_timeout_steps`` / ``max_lead_steps``: see the module
        docstring (0: off for the first two; negative: no lead bound). ``stations``: (pick cell,
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
        self.plan_id = PLAN_ID
        self.start_step = start_step
        for n in self.names:
            self.traffic.commit(n, PLAN_ID, [grid.index(starts[n])], start_step)
        self.frontier = start_step
        self.published = {n: 0 for n in self.names}  # path indices handed out so far
        self.failed: dict[str, set[int]] = {}  # failed robot -> flat cells it blocks
        self.blocked: set[int] = set()  # cells blocked in the current plan
        self.frozen = False  # a repair is pending: plan nothing, release nothing new
        self.repairs = 0  # re-roots done for failures and removals
        self.repair_lag_steps = repair_lag_steps
        self.repair_timeout_steps = repair_timeout_steps
        self.max_lead_steps = max_lead_steps
        self.lead_holds = 0  # planned steps in which a robot was held because it lagged its plan
        self.queues = StationQueues(grid, stations) if stations else None
        self._queue_held: set[str] = set()  # robots waiting on their queue slot (not pushable)
        self.suspended: dict[str, set[int]] = {}  # late robot -> cells it may still drive through
        self.lag_repairs = 0  # late robots suspended because others waited for them
        self.freeze_timeouts = 0  # robots suspended because a freeze waited too long for them
        self.resumes = 0  # suspended robots planned again
        self.reroots = 0  # re-roots of any cause
        self.events: deque[str] = deque(maxlen=1000)  # one line per suspension or re-plan, the latest (all logged)
        self._failure_pending = False  # the pending re-root is for a failure or removal
        self._frozen_since: int | None = None
        self._blocking_since: dict[str, int] = {}  # robot -> step since when others stand waiting for it
        self._log = logging.getLogger(__name__)
        self.obstacles: dict[str, set[int]] = {}  # obstacle name -> flat cells it blocks (run time)
        self.watchdog_replans = 0  # re-roots asked for by a deadlock watchdog (:meth:`replan`)
        self._priority_first: list[str] = []
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
        if r.current is None and robot not in self.suspended:
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
                self.pibt.dwell[r.index] = 0

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
            self.pibt.dwell[r.index] = _HOLD
            return
        r.held = False
        self.pibt.set_goal(r.index, Goal(cell, self._dwell_steps(step), loaded), keep_age=keep_age)

    def _dwell_steps(self, step: TaskStep) -> int:
        return math.ceil(step.duration / self.step_duration - 1e-9)

    # -- planning ------------------------------------------------------------------------
    def plan(self, now_step: int) -> list[Segment]:
        """Extend every path until the frontier is ``window`` steps ahead of ``now_step``.

        In freeze mode (a repair pending) nothing is planned until every live robot has
        reached its released index; then all paths are re-rooted (new plan id, index 0).
        """
        if not self.frozen:
            self._check_late(now_step)
        self._check_resume()
        if self.frozen:
            if self._frozen_since is None:
                self._frozen_since = now_step
            if not self.settled():
                if self.repair_timeout_steps <= 0 or now_step - self._frozen_since < self.repair_timeout_steps:
                    return []
                for n in self.unsettled():
                    self.freeze_timeouts += 1
                    self._suspend(n, f"has not reached its released waypoint after a freeze of "
                                     f"{now_step - self._frozen_since} steps")
            self._reroot(now_step)
        target = now_step + self.window
        if self.frontier >= target:
            return []
        new: dict[str, list[int]] = {n: [] for n in self.live}
        carry: dict[str, list[bool]] = {n: [] for n in self.live}
        ops: dict[str, dict[int, tuple[int, float]]] = {n: {} for n in self.live}
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
            for arrival in res.arrivals:
                n = self.live[arrival.agent]
                r = self.robots[n]
                step = r.current
                if arrival.goal.kind == "queue":  # on its slot: wait there until the line moves
                    self.pibt.dwell[r.index] = _HOLD
                    self._queue_held.add(n)
                    continue
                if step is None:
                    continue
                ops[n][index] = (step.op, step.duration)
                r.planned.append(_Planned(index, step, r.current_loaded, arrival.goal.dwell))
                if step.op == OP_LIFT:
                    r.carrying = True
                elif step.op == OP_DROP:
                    r.carrying = False
                # a picker keeps its priority age on the way out: with a fresh (lowest) priority
                # it yielded to everybody passing and held its station's line up for a minute
                self._next_goal(n, keep_age=step.op == OP_PICK)
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
            elif queues.joined.get(n) == cell and (r.current is not None or self.pibt.dwell[r.index] > 0):
                wants[n] = (cell, cell)  # picking, or on its way out (an idle robot is pushed away)
        for n in self._queue_held - wants.keys():  # a new goal (a repair, another task)
            self._queue_held.discard(n)
            self.pibt.dwell[self.robots[n].index] = 0
        for n, slot in queues.update(wants).items():
            r = self.robots[n]
            i = r.index
            pick = wants[n][0]
            if n in self._queue_held:
                self._queue_held.discard(n)
                self.pibt.dwell[i] = 0
            elif slot == 0 and self.pibt.goal_v[i] != -1 and self.pibt.goal[i].cell == pick:
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
        dwell = self.pibt.dwell
        for n in self.live:
            i = self.robots[n].index
            if dwell[i] == 0 and ahead[n] >= limit:
                dwell[i] = 1
                self.lead_holds += 1

    # -- repair: freeze and re-root ------------------------------------------------------
    def fail(self, robot: str, cells: list[Coord] = ()) -> bool:
        """Take ``robot`` out of the plan; it blocks its cells until :meth:`remove`.

        Blocked: the cell of its last waypoint reached, the next cell of its path if it was
        released into it (it may stand between the two), and ``cells`` (what the caller
        knows, e.g. from its pose). Starts a repair (freeze, then re-root). Returns False
        if the robot was already failed or is unknown.
        """
        if robot not in self.robots or robot in self.failed:
            return False
        occupied = {self.grid.index(c) for c in cells}
        path = self.traffic.paths.get(robot)
        if path is not None:
            here = path.cell(path.progress)
            occupied.add(here)
            for i in range(path.progress + 1, path.released + 1):
                if path.cell(i) != here:
                    occupied.add(path.cell(i))
                    break
        self.failed[robot] = occupied
        self.suspended.pop(robot, None)
        if self.queues is not None:
            self.queues.leave(robot)
        self._queue_held.discard(robot)
        self._failure_pending = True
        r = self.robots[robot]
        r.queue.clear()
        r.current, r.planned, r.held = None, [], False
        self.frozen = True
        return True

    def remove(self, robot: str) -> bool:
        """A failed robot left the floor: unblock its cells (another repair)."""
        if not self.failed.get(robot):
            return False
        self.failed[robot] = set()
        self.frozen = True
        self._failure_pending = True
        return True

    def settled(self) -> bool:
        """True when every live robot has reached the last waypoint released to it."""
        return not self.unsettled()

    def unsettled(self) -> list[str]:
        """Live robots that have not reached the last waypoint released to them."""
        return [n for n, p in self.traffic.paths.items()
                if n not in self.failed and n not in self.suspended and p.progress < p.released]

    # -- run-time obstacles and watchdog re-plans ----------------------------------------
    def block(self, name: str, cells: list[Coord]) -> None:
        """An obstacle ``name`` on ``cells``: re-root everybody around it (freeze first).

        A robot released into one of the cells stops before it (the floor refuses to drive into
        an obstacle), so its release is cut back to the waypoint before; the freeze then waits
        for it there.
        """
        flat = {self.grid.index(c) for c in cells}
        self.obstacles[name] = flat
        for p in self.traffic.paths.values():
            for i in range(p.progress + 1, p.released + 1):
                if p.cell(i) in flat:
                    p.released = i - 1
                    break
        self.frozen = True

    def unblock(self, name: str) -> bool:
        """Obstacle ``name`` is gone: re-root with its cells free again."""
        if self.obstacles.pop(name, None) is None:
            return False
        self.frozen = True
        return True

    def replan(self, first: list[str], why: str) -> bool:
        """Freeze and re-root the whole fleet from where it stands, the robots in ``first`` ahead of
        everybody in priority (a deadlock watchdog's resolution). A robot among them that has
        waypoints released and does not drive them (its base is stuck) is suspended at once, so
        that the freeze does not wait for it and the others are planned around it (it is planned
        again once it has driven them). False if a repair is pending."""
        if self.frozen:
            return False
        self._priority_first = [n for n in first if n in self.robots and n not in self.failed]
        for n in self._priority_first:
            p = self.traffic.paths.get(n)
            if p is not None and n not in self.suspended and p.released > p.progress \
                    and not self._in_operation(n, p.progress):
                self._suspend(n, f"stuck ({why})")
        self.frozen = True
        self.watchdog_replans += 1
        event = f"watchdog: {why}; re-planning the fleet with {', '.join(self._priority_first)} first"
        self.events.append(event)
        self._log.warning("fleet planner: %s", event)
        return True

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
            if r is None or r.index < 0 or n in self.failed or n in self.suspended or n in done:
                continue
            self._boosts += 1
            self.pibt.assigned_at[r.index] = -_FIRST + self._boosts
            done.append(n)
        return done

    # -- repair around late robots: suspend, re-root, resume ------------------------------
    def _in_operation(self, robot: str, index: int) -> bool:
        return any(e.index <= index <= e.index + e.dwell for e in self.robots[robot].planned)

    def _check_late(self, now_step: int) -> None:
        """Suspend late robots that others wait for (then freeze for a re-root).

        Late: behind its plan by more than ``repair_lag_steps`` steps, with released waypoints
        it has not driven (so it waits for nobody), and some robot has stood waiting for it
        for more than ``repair_lag_steps`` steps (a robot that is only a little slow holds
        nobody up that long).
        """
        limit = self.repair_lag_steps
        if limit <= 0:
            return
        for n, since in sorted(self._blocking_since.items()):
            p = self.traffic.paths.get(n)
            if p is None or n in self.failed or n in self.suspended or p.released <= p.progress:
                continue
            lag = now_step - (p.start_step + p.progress)
            if lag > limit and now_step - since > limit and not self._in_operation(n, p.progress):
                self.lag_repairs += 1
                self._suspend(n, f"lags its plan by {lag} steps and others wait for it")

    def _check_resume(self) -> None:
        """A suspended robot that has driven all that was released to it is planned again."""
        for n in sorted(self.suspended):
            p = self.traffic.paths[n]
            if p.progress >= p.released:
                del self.suspended[n]
                self.resumes += 1
                self.frozen = True

    def _suspend(self, robot: str, why: str) -> None:
        p = self.traffic.paths[robot]
        self.suspended[robot] = {p.cell(i) for i in range(p.progress, p.released + 1)}
        self.frozen = True
        event = f"{robot} {why}: suspended at waypoint {p.progress} of {p.released} released; re-planning the others"
        self.events.append(event)
        self._log.warning("fleet planner: %s", event)

    def _reroot(self, now_step: int) -> None:
        """New plans for every live robot from where it stands (see module docstring)."""
        start = now_step + self.traffic.margin
        old = self.traffic.paths
        self.live = [n for n in self.names if n not in self.failed and n not in self.suspended]
        standing = {old[n].cell(old[n].progress) for n in self.live}
        # a live robot never stands on a failed robot's cell (it could only have been
        # released into it after the failed robot left) nor on a cell still released to a
        # suspended robot; the guard keeps the grid valid
        self.blocked = set().union(*self.failed.values(), *self.suspended.values(), *self.obstacles.values()) - standing
        free = self.grid.free.copy().ravel()
        free[list(self.blocked)] = False
        grid = Grid(free.reshape(self.grid.free.shape))
        starts, dwell = [], []
        for i, n in enumerate(self.live):
            r = self.robots[n]
            path = old[n]
            p = path.progress
            starts.append(path.cell(p))
            undone = [e for e in r.planned if e.index > p]
            doing = [e for e in r.planned if e.index <= p < e.index + e.dwell]
            remaining = doing[-1].index + doing[-1].dwell - p if doing else 0
            r.root_op = (doing[-1].step.op, remaining * self.step_duration) if doing else None
            queue = [(e.step, e.loaded) for e in undone]
            if r.current is not None:
                queue.append((r.current, r.current_loaded))
            queue.extend(r.queue)
            if queue:
                r.carrying = queue[0][1]
            r.queue = deque(queue)
            r.current, r.planned, r.held = None, [], False
            r.index = i
            dwell.append(remaining)
        for n in (*self.failed, *self.suspended):
            self.robots[n].index = -1
        if self.queues is not None:
            self.queues.clear()
        self._queue_held.clear()
        if self._failure_pending:
            self.repairs += 1
        self._failure_pending = False
        self.reroots += 1
        self.plan_id += 1
        # the old planner's distance store (96 MB on the large layout) is freed before the new
        # one is allocated: both at once put the planner ~35 MB up at a re-root in the soak
        del self.pibt
        self.pibt = LifelongPibt(grid, starts, storage_mask=self.storage_mask,
                                 guidance=self.guidance, seed=self.seed + self.reroots, avoid_mask=self.avoid_mask)
        self.pibt.dwell = dwell
        for n in self.live:
            self._next_goal(n)
        self._put_first(self._priority_first)
        self._priority_first = []
        self.traffic = TrafficController(lookahead=self.lookahead)
        for n, cell in zip(self.live, starts):
            self.traffic.commit(n, self.plan_id, [cell], start)
        for n in self.suspended:  # keeps driving its old plan up to what was released
            p = old[n]
            self.traffic.paths[n] = CommittedPath(n, p.plan_id, p.cells[:p.released - p.base + 1], p.start_step,
                                                  p.progress, p.released, p.base)
        self.start_step = self.frontier = start
        self.published = {n: 0 for n in self.live}
        self.frozen = False
        self._frozen_since = None
        self._blocking_since = {}

    # -- execution -----------------------------------------------------------------------
    def report_progress(self, robot: str, plan_id: int, index: int) -> None:
        if robot in self.traffic.paths and self.traffic.report_progress(robot, plan_id, index):
            r = self.robots[robot]
            if r.planned and r.planned[0].index + r.planned[0].dwell < index:
                r.planned = [e for e in r.planned if e.index + e.dwell >= index]

    def release_all(self, now_step: int) -> dict[str, tuple[int, WaitReason]]:
        """How far every live robot may drive; in freeze mode nothing beyond what it has."""
        if self.frozen:
            return {n: (p.released, WaitReason(n, -1, "planning"))
                    for n, p in self.traffic.paths.items() if n not in self.failed}
        results = self.traffic.release_all(now_step)
        paths = self.traffic.paths
        blocking = {why.blocker for n, (idx, why) in results.items()
                    if why.kind == "robot" and idx <= paths[n].progress}
        self._blocking_since = {n: self._blocking_since.get(n, now_step) for n in blocking}
        return results

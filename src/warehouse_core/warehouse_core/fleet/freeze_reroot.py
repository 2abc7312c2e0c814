"""Repair of the running fleet's plans: freeze, then re-root.

:class:`FreezeAndReroot` is the repair half of :class:`~warehouse_core.fleet.fleet_planner.FleetPlanner`
(a mixin: the planner owns the state, see the attributes :meth:`FreezeAndReroot._init_repair` sets
and the ones it reads from the planner, listed in the class docstring).

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
The lag repair is off by default (``repair_lag_steps=0``): on a heavily loaded machine it also
fires for robots that are late only because their nodes are starved of CPU, and each needless
freeze costs work; the watchdog is on (60 steps).

Robots whose released waypoints the planner does not know (a restarted planner's robots that did
not settle in time, :mod:`warehouse_core.fleet.restart`) are *held*: :meth:`~warehouse_core.fleet.held.HeldRobots.hold`
takes one out of the plan like a failure, every cell it may still reach blocked for the others,
but it keeps its task steps (requests for it are queued) and is counted in ``freeze_timeouts``;
once it stands still again, :meth:`~warehouse_core.fleet.held.HeldRobots.rejoin` plans it from where it stands.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace

from warehouse_core.fleet.execution import CommittedPath, TrafficController
from warehouse_core.fleet.held import HeldRobots
from warehouse_core.mapf.lifelong import LifelongPibt
from warehouse_core.maps.grid import Coord, Grid

REPAIR_LAG_STEPS = 0  # default: off (opt in, e.g. 20: see the module docstring)
REPAIR_TIMEOUT_STEPS = 60  # default: longest wait of a freeze for robots to reach their release


class FreezeAndReroot(HeldRobots):
    """Failures, removals, obstacles, late robots and watchdog re-plans: freeze, then re-root.

    Reads from the planner: ``grid``, ``names``, ``robots``, ``traffic``, ``pibt``, ``queues``,
    ``storage_mask``, ``guidance``, ``seed``, ``avoid_mask``, ``lookahead``, ``step_duration``,
    and calls its ``_next_goal`` and ``_put_first``; re-rooting replaces ``pibt``, ``traffic``,
    ``live``, ``plan_id``, ``start_step``, ``frontier`` and ``published``.
    """

    def _init_repair(self, repair_lag_steps: int, repair_timeout_steps: int) -> None:
        self.failed: dict[str, set[int]] = {}  # failed robot -> flat cells it blocks
        self.blocked: set[int] = set()  # cells blocked in the current plan
        self.frozen = False  # a repair is pending: plan nothing, release nothing new
        self.repairs = 0  # re-roots done for failures and removals
        self.repair_lag_steps = repair_lag_steps
        self.repair_timeout_steps = repair_timeout_steps
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
        self.held: dict[str, set[int]] = {}  # robot out of the plan, releases unknown -> cells it may reach
        self._rejoining: dict[str, int] = {}  # held robot standing still again -> the flat cell it stands on
        self.stopped: set[str] = set()  # robots in a protective stop: suspended until it clears

    # -- failures --------------------------------------------------------------------------
    def fail(self, robot: str, cells: list[Coord] = ()) -> bool:
        """Take ``robot`` out of the plan; it blocks its cells until :meth:`remove`.

        Blocked: the cell of its last waypoint reached, the next cell of its path if it was
        released into it (it may stand between the two), and ``cells`` (what the caller
        knows, e.g. from its pose); a held robot's cells stay blocked. Starts a repair (freeze,
        then re-root). Returns False if the robot was already failed or is unknown.
        """
        if robot not in self.robots or robot in self.failed:
            return False
        occupied = {self.grid.index(c) for c in cells}
        # a held robot's path here, if any, is not its own (it drives what an earlier planner released)
        path = None if robot in self.held or robot in self._rejoining else self.traffic.paths.get(robot)
        occupied |= self.held.pop(robot, set())
        if robot in self._rejoining:
            occupied.add(self._rejoining.pop(robot))
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
                if n not in self.failed and n not in self.suspended and n not in self.held and p.progress < p.released]

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
        self._priority_first = [n for n in first if n in self.robots and n not in self.failed and n not in self.held]
        for n in self._priority_first:
            p = self.traffic.paths.get(n)
            if p is not None and n not in self.suspended and p.released > p.progress \
                    and not self._in_operation(n, p.progress):
                self._suspend(n, f"stuck ({why})")
        self.frozen = True
        self.watchdog_replans += 1
        event = f"watchdog: {why}; re-planning the fleet with {', '.join(self._priority_first)} first"
        self._note(event)
        return True

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
            if p.progress >= p.released and n not in self.stopped:
                del self.suspended[n]
                self.resumes += 1
                self.frozen = True

    def _suspend(self, robot: str, why: str) -> None:
        p = self.traffic.paths[robot]
        self.suspended[robot] = {p.cell(i) for i in range(p.progress, p.released + 1)}
        self.frozen = True
        event = f"{robot} {why}: suspended at waypoint {p.progress} of {p.released} released; re-planning the others"
        self._note(event)

    def _freeze_gate(self, now_step: int) -> bool:
        """Late robots, resumes and the pending freeze: True when planning may go on (after a
        re-root if one was pending), False while the freeze waits for robots to settle."""
        if not self.frozen:
            self._check_late(now_step)
        self._check_resume()
        if not self.frozen:
            return True
        if self._frozen_since is None:
            self._frozen_since = now_step
        if not self.settled():
            if self.repair_timeout_steps <= 0 or now_step - self._frozen_since < self.repair_timeout_steps:
                return False
            for n in self.unsettled():
                self.freeze_timeouts += 1
                self._suspend(n, f"has not reached its released waypoint after a freeze of "
                                 f"{now_step - self._frozen_since} steps")
        self._reroot(now_step)
        return True

    def _reroot(self, now_step: int) -> None:
        """New plans for every live robot from where it stands (see module docstring)."""
        start = now_step + self.traffic.margin
        old = self.traffic.paths
        self.live = [n for n in self.names if n not in self.failed and n not in self.suspended and n not in self.held]
        at = {n: self._rejoining[n] if n in self._rejoining else old[n].cell(old[n].progress) for n in self.live}
        self._rejoining = {}
        standing = set(at.values())
        # a live robot never stands on a failed robot's cell (it could only have been
        # released into it after the failed robot left) nor on a cell still released to a
        # suspended robot; the guard keeps the grid valid
        self.blocked = set().union(*self.failed.values(), *self.suspended.values(), *self.held.values(),
                                   *self.obstacles.values()) - standing
        free = self.grid.free.copy().ravel()
        free[list(self.blocked)] = False
        grid = Grid(free.reshape(self.grid.free.shape))
        starts = [at[n] for n in self.live]
        dwell = [self._restore_robot(n, i, old[n].progress if n in old else 0) for i, n in enumerate(self.live)]
        for n in (*self.failed, *self.suspended, *self.held):
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
        self.pibt = LifelongPibt(grid, starts, storage_mask=self.storage_mask, guidance=self.guidance,
                                 seed=self.seed + self.reroots, avoid_mask=self.avoid_mask, dwell=dwell)
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

    def _restore_robot(self, robot: str, index: int, progress: int) -> int:
        """Put ``robot``'s planned but unreached steps back in its queue for a re-root (as agent
        ``index``, standing at path index ``progress``); returns the steps left of an operation
        in progress there (kept as its dwell and as the first waypoint's operation)."""
        r = self.robots[robot]
        undone = [e for e in r.planned if e.index > progress]
        doing = [e for e in r.planned if e.index <= progress < e.index + e.dwell]
        remaining = doing[-1].index + doing[-1].dwell - progress if doing else 0
        r.root_op = replace(doing[-1].step, duration=remaining * self.step_duration) if doing else None
        queue = [(e.step, e.loaded) for e in undone]
        if r.current is not None:
            queue.append((r.current, r.current_loaded))
        queue.extend(r.queue)
        if queue:
            r.carrying = queue[0][1]
        r.queue = deque(queue)
        r.current, r.planned, r.held = None, [], False
        r.index = index
        return remaining

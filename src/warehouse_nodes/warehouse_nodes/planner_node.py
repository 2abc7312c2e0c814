"""MAPF planner node: lifelong collision-free paths for the whole fleet, released step by step.

Every robot has one continuous timed path. Every ``planning_period`` the planner extends all
paths until they reach ``window_steps`` ahead of now (guided lifelong PIBT,
:mod:`warehouse_core.fleet.fleet_planner`), publishes each robot's new waypoints on
``/<robot>/path`` (``TimedPath`` segments, ``first_index`` > 0 after the first) and all of
them batched on ``/fleet/plan``, then publishes how far every robot may drive on
``/fleet/release``: a robot enters a cell only after the robots planned through it before
have left, so delays cause waits, never collisions. Task steps arrive on
``/planner/requests``. ``/fleet/waits`` and the ``/planner/explain_wait`` service say why any
robot is waiting; ``/planner/markers`` shows robots, racks, stations and paths.

Repairs: a robot reporting MODE_FAILED, or sending no state for ``stale_after`` seconds, is
failed in the fleet planner (freeze and re-root, :meth:`FleetPlanner.fail`): the others get
new paths (a higher plan id, from index 0) around its cells. When the simulator announces on
``/sim/events`` that the robot was towed away, its cells are unblocked (another re-root).
Operators (``/fleet/control``, latched by the allocator; :mod:`warehouse_core.fleet.control`): while
the fleet is paused or e-stopped no robot gets a further release, a paused zone releases no robot
inside it and none into it; robots held so (and those waiting for them) are not deadlocks.
``/planner/status`` (``PlannerStatus``, latched) counts plan repairs, robot failures, lag repairs,
freeze timeouts, deadlocks (and those unresolved), priority boosts and watchdog re-plans.

Watchdog (:mod:`warehouse_nodes.planner_watchdog`): a robot with a task and no progress for
``deadlock_after`` simulated seconds, whose wait-for chain does not end at a robot at work, is
a deadlock: recorded on ``/planner/deadlocks`` (``DeadlockReport``, latched: the chain, cycle or
not, the reason; later ``EVENT_RESOLVED`` with the same id) and resolved by putting the chain's
robots first in priority, or where that cannot help (a cycle, a stuck base, a second attempt:
:meth:`DeadlockWatch.needs_replan`) by re-planning the fleet from where it stands with them
first (at most one such re-plan per ``deadlock_after``, all open chains first). A robot without
progress for ``boost_after`` seconds goes first in priority before it gets that far. Scenario faults
(``scenario_faults``): ``link_fault`` delays and drops robot states and releases
(:mod:`warehouse_core.sim.link_faults`); obstacles announced on ``/sim/faults`` are planned around.

Restart (``./warehouse run`` starts a planner again when its process dies): robots that report a plan
id show that an earlier planner ran the fleet. The new one then waits, releasing nothing, until every
robot stands at the end of what was released to it, and plans from there with plan ids above theirs;
requests count by :mod:`warehouse_core.fleet.restart`'s rules (tasks in flight come again with the
steps not done). The wait is bounded (``restart_settle_timeout``): robots still driving then (a stuck
base, an obstacle, a link down) are held out of the plan, every cell they may reach blocked and their
tasks kept (counted in ``freeze_timeouts``, logged by name), and rejoin once they report they stand still.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection

from rclpy.clock import Clock, ClockType

from warehouse_core import topics
from warehouse_core.fleet.control import ReleaseGate, release_gate
from warehouse_core.fleet.execution import WaitTracker
from warehouse_core.fleet.fleet_planner import PLAN_ID, FleetPlanner
from warehouse_core.fleet.restart import PlannerRestart, Reported, reach, reach_moves, settled_again
from warehouse_core.fleet.silence import SilenceWatch
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.link_faults import LinkFaults
from warehouse_core.sim.scenario import faults_from_json
from warehouse_interfaces.msg import (
    FaultEvent,
    FleetControl,
    FleetPlan,
    FleetState,
    FleetWaits,
    PlanRequest,
    RobotState,
    SimEvent,
)
from warehouse_interfaces.srv import ExplainWait
from warehouse_nodes import channels, diagnostics
from warehouse_nodes import conversions as conv
from warehouse_nodes.configs import PlannerConfig
from warehouse_nodes.managed import ManagedNode
from warehouse_nodes.planner_watchdog import PlannerWatchdog
from warehouse_nodes.runtime import run_node

# a robot in these modes stands still with nothing released left to drive (see fleet.restart)
SETTLED_MODES = (RobotState.MODE_IDLE, RobotState.MODE_WAITING, RobotState.MODE_FAILED)


READY_REPEAT_S = 1.0  # [s, wall] between repeats of the ready message while sim time stands at zero


class PlannerNode(ManagedNode):
    """Plans and releases the fleet's paths (see module docstring); a managed lifecycle node: inactive,
    it releases nothing (robots hold at their released cells) and resumes from where they stand."""

    def __init__(self) -> None:
        super().__init__("mapf_planner", PlannerConfig)

    def configure_node(self) -> None:
        self.layout = load_layout(self.cfg.layout)
        self.grid = self.layout.grid
        self.fleet: FleetPlanner | None = None  # created once every robot has reported
        self.waits = WaitTracker()
        self.states: dict[str, RobotState] = {}
        self.requests: dict[str, PlanRequest] = {}
        self.silence = SilenceWatch(self.cfg.stale_after)  # robots gone quiet (wall and sim time)
        self.wall_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self.failed: dict[str, list[tuple[int, int]]] = {}  # robot -> cells it was seen on
        self.removed: set[str] = set()
        self.status: dict[str, int] = {}  # the counters last published on /planner/status
        self.rack_cells = {s.rack: s.cell for s in self.layout.storage if s.rack}
        self.last_markers = -1e9
        self.floor_points: dict = {}  # marker cube centres by cell
        self.path_pubs = {}
        self.unknown_robots = 0  # messages naming a robot this planner does not run
        batched = self.batched = conv.check_fleet_transport(self.cfg.fleet_transport,
                                                            self.get_fully_qualified_name())
        for i in range(self.cfg.robots):
            name = conv.robot_name(i)
            self.path_pubs[name] = channels.publisher(self, topics.ROBOT_PATH, topics.ROBOT_PATH.of(name),
                                                      event_callbacks=conv.no_pub_events())
            if not batched:
                channels.subscription(self, topics.ROBOT_STATE, self.on_state, topics.ROBOT_STATE.of(name),
                                      event_callbacks=conv.no_sub_events())
        if batched:
            channels.subscription(self, topics.FLEET_STATES, self.on_fleet_states)
        channels.subscription(self, topics.PLANNER_REQUESTS, self.on_request)
        self.release_pub = channels.publisher(self, topics.FLEET_RELEASE)
        self.plan_pub = channels.publisher(self, topics.FLEET_PLAN)
        self.marker_pub = channels.publisher(self, topics.PLANNER_MARKERS)
        self.wait_pub = channels.publisher(self, topics.FLEET_WAITS)
        channels.service(self, topics.PLANNER_EXPLAIN_WAIT, self.on_explain)
        channels.subscription(self, topics.SIM_EVENTS, self.on_sim_event)
        self.status_pub = channels.publisher(self, topics.PLANNER_STATUS)
        self.watchdog = PlannerWatchdog(self, self.cfg.deadlock_after, self.cfg.boost_after)
        self.link = LinkFaults(faults_from_json(self.cfg.scenario_faults, "parameter mapf_planner.scenario_faults"),
                               self.cfg.seed + 11)
        self.fault_pub = channels.publisher(self, topics.SIM_FAULTS)
        self.obstacle_events: list[FaultEvent] = []  # obstacles announced, applied on the next round
        channels.subscription(self, topics.SIM_FAULTS, self.on_fault)
        self.control_seq = -1  # of the operators' control state obeyed (the allocator's desk)
        self.gate: ReleaseGate | None = None  # what it holds back, worked out once per change
        channels.subscription(self, topics.FLEET_CONTROL, self.on_control)
        self.restart = PlannerRestart(self.cfg.restart_settle_timeout)
        self.waiting_since: float | None = None  # [s, sim] a restarted planner waits for robots to settle
        self.diagnostics = diagnostics.planner(self)  # /diagnostics: round time and lag of on_timer
        self.timer = self.create_timer(self.cfg.planning_period, self.diagnostics.timed(self.on_timer))
        # The simulator holds time at zero until it hears that the planner is ready (an empty
        # release). That one message is lost when it goes out before discovery has matched the
        # simulator's subscription (slow right after a killed run, whose participants linger until
        # their lease ends), and no sim-time timer fires while time stands: repeat it on the wall
        # clock until time moves.
        self.ready_timer = self.create_timer(READY_REPEAT_S, self._repeat_ready, clock=self.wall_clock)
        # deactivated: sim time waits for the planner's releases (the simulator's max_planner_lag), so
        # empty ones (nothing more released) let it go on: the fleet holds at its released cells while
        # the floor runs, instead of the whole floor pausing
        self.while_inactive(self.create_timer(self.cfg.planning_period, self._release_nothing))

    def on_state(self, msg: RobotState) -> None:
        if not self._known(msg.robot_id, "a state") or not self._on_floor(msg):
            return
        old = self.states.get(msg.robot_id)
        if old is not None and old.carrying_rack and not msg.carrying_rack:
            self.rack_cells[old.carrying_rack] = (msg.cell_x, msg.cell_y)
        self.states[msg.robot_id] = msg
        self.silence.heard(msg.robot_id, self.wall_now(), conv.from_time(msg.header.stamp))
        if msg.mode == RobotState.MODE_FAILED:
            self.failed.setdefault(msg.robot_id, [(msg.cell_x, msg.cell_y)])
        if not self.batched:
            self._start_when_complete()

    def on_fleet_states(self, msg: FleetState, delayed: bool = False) -> None:
        if not delayed and self.fleet is not None and not self.link.admit(self.now(), msg):
            return
        for state in conv.fleet_state_entries(msg):
            self.on_state(state)
        self._start_when_complete()

    def _start_when_complete(self) -> None:
        """Build the fleet planner as soon as every robot has reported (not on the timer: the
        simulator holds time at zero until the planner is ready, so no timer would fire) and
        say so with a first, empty release."""
        if self.fleet is None and self.is_active and self._all_reported():
            now = self.now()
            if self._start(math.floor(now / self.cfg.step_duration + 1e-9)) or self.waiting_since is None \
                    or now > self.waiting_since:
                # also while a restarted planner waits: time must go on for the robots to settle
                self.waiting_since = now if self.fleet is None else None
                self.release_pub.publish(conv.release_msg({}, now))

    def _release_nothing(self) -> None:
        if self.fleet is not None or self.waiting_since is not None:
            self.release_pub.publish(conv.release_msg({}, self.now()))

    def _repeat_ready(self) -> None:
        if self.now() > 0.0:
            self.ready_timer.cancel()
        elif self.fleet is not None:
            self.release_pub.publish(conv.release_msg({}, 0.0))

    def on_sim_event(self, msg: SimEvent) -> None:
        if msg.event == SimEvent.EVENT_ROBOT_REMOVED:
            self.removed.add(msg.robot_id)
            self.failed.setdefault(msg.robot_id, [])

    def on_control(self, msg: FleetControl) -> None:
        """The operators' latest control state: no release from or into what it pauses."""
        state = conv.control_from_msg(msg)
        if state.seq >= self.control_seq:
            self.control_seq, self.gate = state.seq, release_gate(state, self.grid.width)

    def on_fault(self, msg: FaultEvent) -> None:
        if msg.kind == "blocked_cell" and msg.has_cell and msg.event in (FaultEvent.EVENT_INJECTED,
                                                                         FaultEvent.EVENT_CLEARED):
            self.obstacle_events.append(msg)

    def _faults(self, now: float) -> None:
        """Scenario faults on the planner's side: link faults, obstacles to plan around."""
        for note in self.link.announcements(now):
            self.fault_pub.publish(conv.fault_event_msg(note, now))
        for held in self.link.due(now):
            self.on_fleet_states(held, delayed=True)
        for event in self.obstacle_events:
            cell = (int(event.cell_x), int(event.cell_y))
            name = f"obstacle {list(cell)}"
            if event.event == FaultEvent.EVENT_INJECTED:
                self.fleet.block(name, [cell])
            else:
                self.fleet.unblock(name)
        self.obstacle_events.clear()

    def _known(self, robot_id: str, what: str) -> bool:
        """A message names a robot of this fleet; others (a robot of another fleet on the same DDS
        domain, a mistyped id) are ignored with a warning, never a crash."""
        if robot_id in self.path_pubs:
            return True
        self.unknown_robots += 1
        self.get_logger().warning(f"ignored {what} from unknown robot {robot_id!r}: this planner runs "
                                  f"{self.cfg.robots} robots (robot_0..robot_{self.cfg.robots - 1}); check "
                                  "ROS_DOMAIN_ID and the robots parameter", throttle_duration_sec=10.0)
        return False

    def _on_floor(self, msg: RobotState) -> bool:
        """A state names a free cell of the planner's grid; others (a base not localised yet, a map
        that is not the planner's) are ignored with a warning: the planner cannot start a robot there."""
        problem = off_floor(self.grid, msg)
        if problem:
            self.get_logger().warning(f"ignored a state of {msg.robot_id}: {problem} the grid of {self.cfg.layout}; "
                                      "check the robot's localisation and that it runs on the planner's layout",
                                      throttle_duration_sec=10.0)
        return not problem

    def on_request(self, msg: PlanRequest) -> None:
        if not self._known(msg.robot_id, "a plan request"):
            return
        if self.restart.counts(msg.robot_id, msg.task_id, msg.header.frame_id, conv.from_time(msg.header.stamp)):
            self.requests[msg.robot_id] = msg
        else:  # older than what the robot does now (latched history): a later one comes
            self.requests.pop(msg.robot_id, None)

    def on_explain(self, request: ExplainWait.Request, response: ExplainWait.Response):
        status = self.waits.current.get(request.robot_id)
        response.known = status is not None
        if status is not None:
            response.status = conv.wait_to_msg(status, self.grid)
        return response

    def wall_now(self) -> float:
        """Steady wall-clock seconds: a robot is stale when its node is silent in real time,
        whatever the simulation speed."""
        return self.wall_clock.now().nanoseconds * 1e-9

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_timer(self) -> None:
        now = self.now()
        step = math.floor(now / self.cfg.step_duration + 1e-9)
        if self.fleet is None and not self._start(step):
            if self.waiting_since is not None:  # a restarted planner waits: time goes on
                self.release_pub.publish(conv.release_msg({}, now))
            return
        fleet = self.fleet
        self._faults(now)
        self._repairs(now)
        for name, st in self.states.items():
            fleet.report_progress(name, st.plan_id, st.progress_index)
        for name, req in self.requests.items():
            fleet.request(name, req.task_id, conv.steps_from_msg(req.steps))
        self.requests.clear()
        t0, c0 = time.perf_counter(), time.thread_time()
        segments = fleet.plan(step)
        elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
        if segments:
            msgs = [conv.segment_to_msg(self.layout, seg, fleet.start_step, self.cfg.step_duration, now)
                    for seg in segments]
            for m in msgs:
                self.path_pubs[m.robot_id].publish(m)
            self.plan_pub.publish(FleetPlan(header=conv.header(now), paths=msgs, planning_time_s=elapsed,
                                           planning_cpu_s=cpu))
        results = fleet.release_all(step, self.gate)
        releases = {n: (fleet.traffic.paths[n].plan_id, idx) for n, (idx, _why) in results.items()}
        if not self.link.drop_outbound(now):
            self.release_pub.publish(conv.release_msg(releases, now))
        operating = {n for n, s in self.states.items() if s.mode in conv.OPERATION_MODES}
        changed = self.waits.update(now, fleet.traffic, {n: why for n, (_i, why) in results.items()},
                                    set(), operating)
        if changed:
            self.wait_pub.publish(FleetWaits(header=conv.header(now),
                                             waits=[conv.wait_to_msg(w, self.grid) for w in changed]))
        self.watchdog.round(now, fleet, self.states, self.failed, self.waits.current)
        if now - self.last_markers >= self.cfg.marker_period:
            self.last_markers = now
            self._publish_markers(now)

    def _repairs(self, now: float) -> None:
        """Fail robots that failed or went stale; unblock the cells of those towed away."""
        fleet = self.fleet
        wall = self.wall_now()
        for name, quiet in self.silence.silent(wall, now):
            if name not in self.failed and name not in fleet.held:  # a held robot is planned around already
                self.get_logger().warning(f"{name}: no state for {quiet:.0f} s (wall clock and sim time), "
                                          "treated as failed")
                st = self.states[name]
                self.failed[name] = [(st.cell_x, st.cell_y)]
        for name, cells in self.failed.items():
            if name not in fleet.failed:
                fleet.fail(name, cells)
            if name in self.removed and fleet.failed.get(name):
                fleet.remove(name)
        for name, st in self.states.items():  # a protective stop: planned around, task kept, until it clears
            fleet.protective_stop(name, st.mode == RobotState.MODE_STOPPED)
        for name in settled_again(fleet.held, self._reports(fleet.held)):
            st = self.states[name]
            if fleet.rejoin(name, (st.cell_x, st.cell_y)):
                self.get_logger().warning(f"{name} stands still at ({st.cell_x}, {st.cell_y}): planned again")
        status = {"plan_repairs": fleet.repairs, "robot_failures": len(fleet.failed),
                  "lag_repairs": fleet.lag_repairs, "freeze_timeouts": fleet.freeze_timeouts,
                  "deadlocks": self.watchdog.deadlocks.detected,
                  "unresolved_deadlocks": self.watchdog.deadlocks.unresolved,
                  "priority_boosts": fleet.boosts, "watchdog_replans": fleet.watchdog_replans}
        if status != self.status:
            self.status = status
            self.status_pub.publish(conv.planner_status_msg(status, now))

    def _all_reported(self) -> bool:
        """Every robot has reported, or was towed off the floor before this planner started."""
        return len(self.states.keys() | self.removed) >= self.cfg.robots

    def _reports(self, robots: Collection[str] | None = None) -> dict[str, Reported]:
        """What the robots (all, or ``robots``) reported last, as the restart rules read it."""
        return {n: Reported(s.plan_id, s.mode in SETTLED_MODES, s.task_id, conv.from_time(s.header.stamp))
                for n, s in self.states.items() if robots is None or n in robots}

    def _start(self, step: int) -> bool:
        """Create the fleet planner once every robot has reported where it stands."""
        if not self._all_reported():
            return False
        reports = self._reports()
        held = self.restart.ready(reports, self.now())
        if held is None:
            if self.waiting_since is None:
                self.get_logger().warning(f"an earlier planner ran this fleet: waiting for "
                                          f"{', '.join(self.restart.waiting_for(reports))} to stand still")
            return False
        plan_id = self.restart.start(reports, PLAN_ID)
        if self.restart.active:
            self.requests = {n: r for n, r in self.requests.items() if self.restart.counts(
                n, r.task_id, r.header.frame_id, conv.from_time(r.header.stamp))}
            self.get_logger().warning(f"resumed the fleet from where it stands, plan ids from {plan_id}")
        starts = {n: (s.cell_x, s.cell_y) for n, s in self.states.items()}
        carrying = {n: bool(s.carrying_rack) for n, s in self.states.items()}
        self.fleet = FleetPlanner(self.grid, self.layout.storage_mask, starts, step + 1,
                                  self.cfg.step_duration, window=self.cfg.window_steps,
                                  lookahead=self.cfg.lookahead_steps, seed=self.cfg.seed, carrying=carrying,
                                  repair_lag_steps=self.cfg.repair_lag_steps,
                                  repair_timeout_steps=self.cfg.repair_timeout_steps,
                                  max_lead_steps=self.cfg.max_lead_steps,
                                  stations=[(st.pick_cell, st.queue) for st in self.layout.stations]
                                  if self.cfg.station_lines else (),
                                  avoid_stations=self.cfg.avoid_station_cells, plan_id=plan_id)
        self._hold(held)
        return True

    def _hold(self, robots: list[str]) -> None:
        """Robots that did not stand still in time: planned around every cell they may reach."""
        if not robots:
            return
        moves = reach_moves(self.cfg.window_steps, self.cfg.max_lead_steps)
        why = f"did not stand still within {self.cfg.restart_settle_timeout:g} s"
        for name in robots:
            st = self.states[name]
            self.fleet.hold(name, reach(self.grid, (st.cell_x, st.cell_y), moves), why)
        self.get_logger().warning(f"{len(robots)} robot(s) {why} of the restart: {', '.join(robots)}; planned around "
                                  f"every cell within {moves} moves of where each reported, tasks kept, until it "
                                  "stands still")

    def _publish_markers(self, now: float) -> None:
        self.marker_pub.publish(markers(self.layout, self.states, self.rack_cells, self.fleet, now, self.floor_points))

def markers(layout, states: dict[str, RobotState], rack_cells: dict, fleet: FleetPlanner, now: float,
            floor_points: dict):
    """``/planner/markers``: robots, racks standing (not carried), the paths ahead, stations."""
    robots = {n: (s.x, s.y) for n, s in states.items()}
    carried = {s.carrying_rack for s in states.values()}
    racks = [c for r, c in rack_cells.items() if r not in carried]
    paths = {}
    for n, p in fleet.traffic.paths.items():
        cells = p.cells[p.progress - p.base:]
        if len(set(cells)) > 1:
            paths[n] = [layout.grid.coord(c) for c in cells]
    return conv.fleet_markers(layout, robots, racks, paths, now, floor_points)


def off_floor(grid, msg: RobotState) -> str:
    """Why a state's cell cannot be a robot's on the planner's ``grid`` (off it, or not free); "" if it can."""
    cell = (msg.cell_x, msg.cell_y)
    if grid.is_free(cell):
        return ""
    where = "not free on" if grid.in_bounds(cell) else "off"
    return f"cell {list(cell)} (pose {msg.x:.2f}, {msg.y:.2f} m in map) is {where}"


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()

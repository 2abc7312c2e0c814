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
``/planner/status`` (std_msgs/String, latched) says ``plan_repairs=N robot_failures=M
lag_repairs=L freeze_timeouts=T deadlocks=D unresolved_deadlocks=U``.

Watchdog (:mod:`warehouse_core.fleet.deadlock_watch`): a robot with a task and no progress for
``deadlock_after`` simulated seconds, whose wait-for chain does not end at a robot at work, is
a deadlock: recorded on ``/planner/deadlocks`` (std_msgs/String, JSON, latched: the chain,
cycle or not, the reason; later ``{"event": "resolved"}``) and resolved by putting the chain's
robots first in priority, or where that cannot help (a cycle, a stuck base, a second attempt:
:meth:`DeadlockWatch.needs_replan`) by re-planning the fleet from where it stands with them
first (at most one such re-plan per ``deadlock_after``, all open chains first). A robot without
progress for ``boost_after`` seconds goes first in priority before it gets that far. Scenario faults
(``scenario_faults``): ``link_fault`` delays and drops robot states and releases
(:mod:`warehouse_core.sim.link_faults`); obstacles announced on ``/sim/faults`` are planned around.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from warehouse_core.fleet.deadlock_watch import DeadlockWatch, RobotProgress, resolutions
from warehouse_core.fleet.execution import WaitTracker
from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.fleet.silence import SilenceWatch
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.link_faults import LinkFaults
from warehouse_core.sim.scenario import faults_from_json
from warehouse_interfaces.msg import (
    FleetPlan,
    FleetRelease,
    FleetState,
    FleetWaits,
    PlanRequest,
    RobotState,
    TimedPath,
)
from warehouse_interfaces.srv import ExplainWait
from warehouse_nodes import conversions as conv
from warehouse_nodes.params import declare_config
from warehouse_nodes.runtime import run_node


@dataclass(frozen=True)
class PlannerConfig:
    layout: str = "maps/warehouse_layout.yaml"
    robots: int = 20
    step_duration: float = 1.0
    planning_period: float = 0.2
    lookahead_steps: int = 1
    marker_period: float = 1.0
    window_steps: int = 5
    seed: int = 42
    stale_after: float = 30.0
    fleet_transport: str = "batched"  # robot states from /fleet/states, or /<robot>/state
    repair_lag_steps: int = 0  # re-plan the others around a robot this many steps late (0: off)
    repair_timeout_steps: int = 60  # a repair freeze waits at most this many steps for a robot
    max_lead_steps: int = 3  # a robot's plan runs at most window + this many moves ahead of it (-1: unbounded)
    station_lines: bool = True  # first-come-first-served lines on the stations' queue cells
    avoid_station_cells: bool = True  # through traffic keeps off the stations' pick and queue cells
    deadlock_after: float = 60.0  # [s, sim] watchdog: a robot with a task this long without progress (0: off)
    boost_after: float = 30.0  # [s, sim] a robot with a task this long without progress goes first in priority (0: off)
    scenario_faults: str = ""  # JSON list of scenario faults (./warehouse run --scenario): link_fault


class PlannerNode(Node):
    """Plans and releases the fleet's paths (see module docstring)."""

    def __init__(self) -> None:
        super().__init__("mapf_planner")
        self.cfg = declare_config(self, PlannerConfig)
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
        self.status = ""
        self.rack_cells = {s.rack: s.cell for s in self.layout.storage if s.rack}
        self.last_markers = -1e9
        self.floor_points: dict = {}  # marker cube centres by cell
        self.path_pubs = {}
        self.unknown_robots = 0  # messages naming a robot this planner does not run
        batched = self.batched = conv.check_fleet_transport(self.cfg.fleet_transport,
                                                            self.get_fully_qualified_name())
        for i in range(self.cfg.robots):
            name = conv.robot_name(i)
            self.path_pubs[name] = self.create_publisher(TimedPath, f"/{name}/path",
                                                         conv.latched_qos(conv.PATH_HISTORY),
                                                         event_callbacks=conv.no_pub_events())
            if not batched:
                self.create_subscription(RobotState, f"/{name}/state", self.on_state, 10,
                                         event_callbacks=conv.no_sub_events())
        if batched:
            self.create_subscription(FleetState, conv.FLEET_STATES_TOPIC, self.on_fleet_states, 100)
        self.create_subscription(PlanRequest, "/planner/requests", self.on_request, conv.latched_qos(1000))
        self.release_pub = self.create_publisher(FleetRelease, "/fleet/release", 10)
        self.plan_pub = self.create_publisher(FleetPlan, "/fleet/plan", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "/planner/markers", 1)
        self.wait_pub = self.create_publisher(FleetWaits, "/fleet/waits", 10)
        self.create_service(ExplainWait, "/planner/explain_wait", self.on_explain)
        self.create_subscription(String, "/sim/events", self.on_sim_event, conv.latched_qos(1000))
        self.status_pub = self.create_publisher(String, "/planner/status", conv.latched_qos(1000))
        self.deadlocks = DeadlockWatch(self.cfg.deadlock_after)
        self.last_replan = -math.inf  # [s, sim] of the last watchdog re-plan
        self.deadlock_pub = self.create_publisher(String, "/planner/deadlocks", conv.latched_qos(1000))
        self.link = LinkFaults(faults_from_json(self.cfg.scenario_faults, "parameter mapf_planner.scenario_faults"),
                               self.cfg.seed + 11)
        self.fault_pub = self.create_publisher(String, "/sim/faults", conv.latched_qos(1000))
        self.obstacle_events: list[dict] = []  # obstacles announced, applied on the next round
        self.create_subscription(String, "/sim/faults", self.on_fault, conv.latched_qos(1000))
        self.timer = self.create_timer(self.cfg.planning_period, self.on_timer)

    def on_state(self, msg: RobotState) -> None:
        if not self._known(msg.robot_id, "a state"):
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
        if self.fleet is None and len(self.states) >= self.cfg.robots:
            now = self.now()
            self._start(math.floor(now / self.cfg.step_duration + 1e-9))
            self.release_pub.publish(conv.release_msg({}, now))

    def on_sim_event(self, msg: String) -> None:
        event = json.loads(msg.data)
        if event.get("event") == "robot_removed":
            self.removed.add(event["robot"])
            self.failed.setdefault(event["robot"], [])

    def on_fault(self, msg: String) -> None:
        event = json.loads(msg.data)
        if event.get("kind") == "blocked_cell" and event.get("event") in ("fault_injected", "fault_cleared"):
            self.obstacle_events.append(event)

    def _faults(self, now: float) -> None:
        """Scenario faults on the planner's side: link faults, obstacles to plan around."""
        for note in self.link.announcements(now):
            self.fault_pub.publish(String(data=json.dumps(note)))
        for held in self.link.due(now):
            self.on_fleet_states(held, delayed=True)
        for event in self.obstacle_events:
            name, cell = f"obstacle {event['cell']}", tuple(event["cell"])
            if event["event"] == "fault_injected":
                self.fleet.block(name, [cell])
            else:
                self.fleet.unblock(name)
        self.obstacle_events.clear()

    def _watchdog(self, now: float) -> None:
        """Detect, record and resolve deadlocks (see module docstring)."""
        if self.cfg.deadlock_after <= 0:
            return
        robots = {n: RobotProgress(s.task_id, s.plan_id, s.progress_index, (s.cell_x, s.cell_y),
                                   s.mode in conv.OPERATION_MODES, s.mode == RobotState.MODE_CHARGING)
                  for n, s in self.states.items() if n not in self.failed}
        queues = self.fleet.queues if self.fleet is not None else None
        ahead = queues.ahead() if queues is not None else {}
        act, resolved = self.deadlocks.observe(now, robots, self.waits.current, ahead)
        for d in act:
            if d.attempts == 1:
                self.deadlock_pub.publish(String(data=json.dumps(d.describe())))
                self.get_logger().warning(f"deadlock {d.id}: {d.reason}")
        # light first: starving robots and deadlocks a priority boost can clear go first in
        # priority; a re-plan (it freezes everybody) at most once per deadlock_after, all chains first
        light, heavy = resolutions(self.deadlocks, act, self.waits.current, now, self.cfg.boost_after, ahead)
        if light:
            self.fleet.prioritize(light)
        if heavy and now - self.last_replan >= self.cfg.deadlock_after:
            first = list(dict.fromkeys(n for d in heavy for n in d.chain))
            if self.fleet.replan(first, f"{len(heavy)} deadlock(s), first: {heavy[0].reason}"):
                self.last_replan = now
        for d in resolved:
            self.deadlock_pub.publish(String(data=json.dumps(
                {"event": "resolved", "id": d.id, "time": round(now, 3), "after_s": round(now - d.detected_at, 3)})))

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

    def on_request(self, msg: PlanRequest) -> None:
        if self._known(msg.robot_id, "a plan request"):
            self.requests[msg.robot_id] = msg

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
        results = fleet.release_all(step)
        releases = {n: (fleet.traffic.paths[n].plan_id, idx) for n, (idx, _why) in results.items()}
        if not self.link.drop_outbound(now):
            self.release_pub.publish(conv.release_msg(releases, now))
        operating = {n for n, s in self.states.items() if s.mode in conv.OPERATION_MODES}
        changed = self.waits.update(now, fleet.traffic, {n: why for n, (_i, why) in results.items()},
                                    set(), operating)
        if changed:
            self.wait_pub.publish(FleetWaits(header=conv.header(now),
                                             waits=[conv.wait_to_msg(w, self.grid) for w in changed]))
        self._watchdog(now)
        if now - self.last_markers >= self.cfg.marker_period:
            self.last_markers = now
            self._publish_markers(now)

    def _repairs(self, now: float) -> None:
        """Fail robots that failed or went stale; unblock the cells of those towed away."""
        fleet = self.fleet
        wall = self.wall_now()
        for name, quiet in self.silence.silent(wall, now):
            if name not in self.failed:
                self.get_logger().warning(f"{name}: no state for {quiet:.0f} s (wall clock and sim time), "
                                          "treated as failed")
                st = self.states[name]
                self.failed[name] = [(st.cell_x, st.cell_y)]
        for name, cells in self.failed.items():
            if name not in fleet.failed:
                fleet.fail(name, cells)
            if name in self.removed and fleet.failed.get(name):
                fleet.remove(name)
        status = (f"plan_repairs={fleet.repairs} robot_failures={len(fleet.failed)} "
                  f"lag_repairs={fleet.lag_repairs} freeze_timeouts={fleet.freeze_timeouts} "
                  f"deadlocks={self.deadlocks.detected} unresolved_deadlocks={self.deadlocks.unresolved} "
                  f"priority_boosts={fleet.boosts} watchdog_replans={fleet.watchdog_replans}")
        if status != self.status:
            self.status = status
            self.status_pub.publish(String(data=status))

    def _start(self, step: int) -> bool:
        """Create the fleet planner once every robot has reported where it stands."""
        if len(self.states) < self.cfg.robots:
            return False
        starts = {n: (s.cell_x, s.cell_y) for n, s in self.states.items()}
        carrying = {n: bool(s.carrying_rack) for n, s in self.states.items()}
        self.fleet = FleetPlanner(self.grid, self.layout.storage_mask, starts, step + 1,
                                  self.cfg.step_duration, self.cfg.window_steps,
                                  self.cfg.lookahead_steps, self.cfg.seed, carrying=carrying,
                                  repair_lag_steps=self.cfg.repair_lag_steps,
                                  repair_timeout_steps=self.cfg.repair_timeout_steps,
                                  max_lead_steps=self.cfg.max_lead_steps,
                                  stations=[(st.pick_cell, st.queue) for st in self.layout.stations]
                                  if self.cfg.station_lines else (),
                                  avoid_stations=self.cfg.avoid_station_cells)
        return True

    def _publish_markers(self, now: float) -> None:
        robots = {n: (s.x, s.y) for n, s in self.states.items()}
        carried = {s.carrying_rack for s in self.states.values()}
        racks = [c for r, c in self.rack_cells.items() if r not in carried]
        paths = {}
        for n, p in self.fleet.traffic.paths.items():
            cells = p.cells[p.progress - p.base:]
            if len(set(cells)) > 1:
                paths[n] = [self.grid.coord(c) for c in cells]
        self.marker_pub.publish(conv.fleet_markers(self.layout, robots, racks, paths, now, self.floor_points))


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()

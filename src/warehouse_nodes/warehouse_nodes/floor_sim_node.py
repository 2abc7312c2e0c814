"""Floor simulator node: kinematic robots and racks, and the ``/clock`` of the whole graph.

It steps :class:`warehouse_core.sim.floor_sim.FloorSim` on a wall-clock timer, ``tick`` simulated
seconds per step, as fast as ``real_time_factor`` allows, and publishes ``/clock`` and the
batched ``/sim/fleet_state``. Robot nodes drive their simulated base through
``/sim/drive`` (DriveCommand), as they would drive Gazebo or a real base through cmd_vel.

Sim time never runs ahead of the planner by more than ``max_planner_lag`` seconds, nor ahead
of a robot container by more than ``max_node_lag`` seconds (containers report the last fleet
state they handed to their robots on ``/sim/progress``), nor ahead of the task allocator's last
allocation round by more than ``max_allocator_lag`` seconds (``/allocator/progress``; 0: do not
wait): if one falls behind, time waits (counted in ``stalls``, ``node_stalls`` and
``allocator_stalls``) rather than robots moving on stale plans, robot nodes missing their
base's state, or a starved allocator handing out less work per simulated hour (which would make
throughput depend on the machine's load). A robot container that holds time for ``node_hold_limit``
wall-clock seconds (down, hung, its restart failed) is given up (:mod:`warehouse_core.sim.node_gate`):
time goes on without it, its robots silent, until it catches up again; so is an allocator that holds
time that long (its restart failed, or it came back unable to report), until it reports again.
The simulator waits for ``expected_nodes`` subscribers of ``/clock`` and ``expected_state_readers``
subscribers of ``/sim/fleet_state`` (robot containers or robot nodes, and recorders) before it
starts, so that no node misses the start of a run; with ``wait_for_planner`` also for the planner's first release (it
builds its fleet plan from the robots' states, published while time stands at zero), and
with ``wait_for_forecast`` for the forecaster's demand forecast (latched on
``/forecast/demand``), so that rack returns follow the forecast from the first second and a
seeded run does not depend on how fast the forecast was computed.

Robot faults: ``fault_robots`` / ``fault_times`` schedule faults (robot ``fault_robots[k]``
fails at sim time ``fault_times[k]``), and the ``/sim/fail_robot`` service (FailRobot) fails
one now. A failed robot stops where it is and reports MODE_FAILED; ``recovery_time`` seconds
later it is towed off the floor (it disappears from ``/sim/fleet_state``) and a rack it
carried is put down on the nearest free storage location (not one a robot is about to drop
a rack on, known from ``/tasks``). Both are announced on ``/sim/events`` (``SimEvent``:
``EVENT_ROBOT_FAILED`` with the reason, ``EVENT_ROBOT_REMOVED`` with the rack and the storage
location it was put on, or none). A lift that fails (a jammed rack, or none on the cell) or a
drop that fails (the cell is taken) is announced there too (``EVENT_LIFT_FAILED`` /
``EVENT_DROP_FAILED`` with the rack and the waypoint).

Scenario faults (``scenario_faults``, JSON from :func:`warehouse_core.sim.scenario.faults_to_json`):
robot failures, stuck robots, obstacles on cells, jammed racks and the towing of robots whose
node went silent, applied by :class:`warehouse_core.sim.fault_injection.FloorFaults` and announced on
``/sim/faults`` (``FaultEvent``, latched). The counters go to ``/sim/status`` (``SimStatus``, latched).

Restarts: with ``state_store`` (``./warehouse run`` sets the run's ``state.db``) the floor is durable
(:mod:`warehouse_core.sim.floor_journal`): before each step the inputs received since the last one
are journaled, and every ``SNAPSHOT_TICKS`` entries the whole state is snapshotted. A simulator started
again in the same run restores the last snapshot, replays the journaled steps (publishing nothing:
it was all published before) and goes on from the last journaled time, so ``/clock`` never goes
back and every robot, rack, fault and queued waypoint is where it was. It does not wait for the
start again (the other nodes are up); its time gating goes on from the last journaled state.
Drive commands that reached the dead process after its last step are lost with it: the robot
nodes send them again (their heartbeat re-sends what their base has not driven).
"""

from __future__ import annotations

import random
import time

from rosgraph_msgs.msg import Clock
from std_msgs.msg import Header

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.sim.fault_injection import FloorFaults
from warehouse_core.sim.floor_journal import SNAPSHOT_TICKS, FloorJournal, Resume
from warehouse_core.sim.floor_sim import Battery, DelayInjector, FloorSim, Kinematics
from warehouse_core.sim.floor_sim import waypoint_from_json as wp_from_json
from warehouse_core.sim.floor_sim import waypoint_to_json as wp_to_json
from warehouse_core.sim.node_gate import NodeGate, container_robots
from warehouse_core.sim.scenario import faults_from_json
from warehouse_interfaces.msg import DemandForecast, DriveCommand, FleetControl, FleetRelease, Task, TaskStep
from warehouse_interfaces.srv import FailRobot
from warehouse_nodes import channels, diagnostics
from warehouse_nodes import conversions as conv
from warehouse_nodes.configs import FloorSimConfig
from warehouse_nodes.managed import ManagedNode
from warehouse_nodes.runtime import run_node

HELD_STATE_PERIOD_S = 1.0  # [s, wall] between fleet states while time is held
ALLOCATOR = "the allocator"  # its name in the time gate's warnings


def start_cells(rack_cells: list, robots: int, seed: int, source: str) -> list:
    """Distinct start cells under racks, spread by a seeded shuffle."""
    cells = list(rack_cells)
    if robots > len(cells):
        raise InputError(source, f"{robots} robots but only {len(cells)} racks to start under",
                         fix="use fewer robots or a larger layout")
    rng = random.Random(seed)
    rng.shuffle(cells)
    return cells[:robots]


class FloorSimNode(ManagedNode):
    """Steps the kinematic floor and publishes clock and fleet state; a managed lifecycle node:
    inactive, its clock stands (every node waits)."""

    def __init__(self) -> None:
        super().__init__("floor_simulator", FloorSimConfig)

    def configure_node(self) -> None:
        self.layout = load_layout(self.cfg.layout)
        kin = Kinematics(max_speed=self.cfg.max_speed, max_accel=self.cfg.max_accel, turn_rate=self.cfg.turn_rate)
        _, placement = load_catalogue(self.layout, self.cfg.inventory_dir, self.cfg.skus, self.cfg.seed)
        racks = {self.layout.storage_by_id[loc].cell: rack for loc, rack in placement.items()}
        b, k = Battery(), self.cfg.battery_drain_scale
        battery = Battery(idle_per_s=b.idle_per_s * k, moving_per_s=b.moving_per_s * k,
                          lifting_per_s=b.lifting_per_s * k, charge_per_s=self.cfg.charge_rate)
        self.sim = FloorSim(kin, battery, racks=racks)
        self.robot_names = [conv.robot_name(i) for i in range(self.cfg.robots)]
        for i, cell in enumerate(start_cells(sorted(racks), self.cfg.robots, self.cfg.seed, self.layout.source)):
            self.sim.add_robot(conv.robot_name(i), cell, *self.layout.cell_to_world(cell))
        self.delays = DelayInjector(self.cfg.stalls_per_robot_hour,
                                    (self.cfg.stall_min_s, self.cfg.stall_max_s), self.cfg.seed + 7)
        self.started = False
        self.held_wall: float | None = None  # [s, wall] since when time is held (or the last state sent then)
        self.created_wall = time.monotonic()
        self.planner_time = -1.0
        self.forecast_seen = False
        self.stalls = 0
        self.node_stalls = 0
        self.allocator_stalls = 0
        self.allocator_time = -1.0  # sim time of the allocator's last round (-1: none yet)
        # robot container -> last fleet state it handled; one down for long is given up (node_hold_limit)
        self.node_gate = NodeGate(self.cfg.max_node_lag, self.cfg.node_hold_limit)
        self.allocator_gate = NodeGate(self.cfg.max_allocator_lag, self.cfg.node_hold_limit)  # one node: ALLOCATOR
        self.clock_pub = channels.publisher(self, topics.CLOCK)
        self.state_pub = channels.publisher(self, topics.SIM_FLEET_STATE)
        self.status_pub = channels.publisher(self, topics.SIM_STATUS)
        channels.subscription(self, topics.SIM_DRIVE, self.on_drive)
        channels.subscription(self, topics.FLEET_RELEASE, self.on_release)
        channels.subscription(self, topics.FLEET_CONTROL, self.on_control)  # an operator's emergency stop
        if self.cfg.wait_for_forecast:
            channels.subscription(self, topics.FORECAST_DEMAND, self.on_forecast)
        channels.subscription(self, topics.TASKS, self.on_task)
        channels.subscription(self, topics.SIM_PROGRESS, self.on_progress)
        if self.cfg.max_allocator_lag > 0:
            channels.subscription(self, topics.ALLOCATOR_PROGRESS, self.on_allocator_progress)
        self.event_pub = channels.publisher(self, topics.SIM_EVENTS)
        channels.service(self, topics.SIM_FAIL_ROBOT, self.on_fail_robot)
        if len(self.cfg.fault_robots) != len(self.cfg.fault_times):
            raise InputError("parameters floor_simulator.fault_robots/fault_times",
                             "need one time per robot", fix="give parallel lists")
        unknown = [n for n in self.cfg.fault_robots if n not in self.sim.robots]
        if unknown:
            raise InputError("parameter floor_simulator.fault_robots", f"unknown robot {unknown[0]}")
        self.faults = sorted(zip(self.cfg.fault_times, self.cfg.fault_robots))
        self.recoveries: list[tuple[float, str]] = []  # (sim time, robot) to tow away
        self.drop_targets: dict[str, tuple[int, int]] = {}  # robot -> cell it will drop on
        self.storage = [loc.cell for loc in self.layout.storage]
        self.floor_faults = FloorFaults(faults_from_json(self.cfg.scenario_faults,
                                                         "parameter floor_simulator.scenario_faults"))
        self.fault_pub = channels.publisher(self, topics.SIM_FAULTS)
        period = self.cfg.tick / self.cfg.real_time_factor if self.cfg.real_time_factor > 0 else 0.0
        self.replaying = False  # replaying journaled steps after a restart: publish nothing
        self.tick_no = 0  # journal entries written (steps, and inputs while time waited)
        self.snapshot_tick = 0  # entry of the last snapshot
        self.inputs: list[list] = []  # inputs since the last step, journaled with the next one
        self.journal = FloorJournal(self.cfg.state_store) if self.cfg.state_store else None
        resume = self.journal.resume() if self.journal is not None else None
        if resume is not None:
            self._resume(resume)
        elif self.journal is not None:
            self.journal.snapshot(0, self._state())
        self.timer = self.create_timer(max(period, 1e-4), self.on_tick)
        self.diagnostics = diagnostics.floor_sim(self)  # /diagnostics: time standing still, RTF, stalls

    def on_drive(self, msg: DriveCommand) -> None:
        waypoints = conv.drive_from_msg(msg)
        self.sim.command(msg.robot_id, msg.plan_id, msg.first_index, waypoints)
        if self.journal is not None:
            self.inputs.append(["drive", msg.robot_id, msg.plan_id, msg.first_index,
                                [wp_to_json(wp) for wp in waypoints]])

    def on_progress(self, msg: Header) -> None:
        if self.node_gate.heard(msg.frame_id, conv.from_time(msg.stamp), self.sim.time):
            self.get_logger().warning(f"{msg.frame_id} reports again at t={self.sim.time:.1f} s: time waits for "
                                      f"its robots again ({self._robots_of(msg.frame_id)})")

    def on_allocator_progress(self, msg: Header) -> None:
        self.allocator_time = conv.from_time(msg.stamp)
        if self.allocator_gate.heard(ALLOCATOR, self.allocator_time, self.sim.time):
            self.get_logger().warning(f"the allocator reports again at t={self.sim.time:.1f} s: time waits for it "
                                      "again")

    def on_task(self, msg: Task) -> None:
        drops = [(st.cell_x, st.cell_y) for st in msg.steps if st.op == TaskStep.OP_DROP]
        if drops:
            self.drop_targets[msg.robot_id] = drops[-1]
            if self.journal is not None:
                self.inputs.append(["drop", msg.robot_id, list(drops[-1])])

    def on_fail_robot(self, request: FailRobot.Request, response: FailRobot.Response):
        response.success = self.fail_robot(request.robot_id, request.reason or "fault (service)")
        if response.success and self.journal is not None:  # durable before it is answered
            self.inputs.append(["fail", request.robot_id, request.reason or "fault (service)"])
            self._journal(held=True)
        response.message = "" if response.success else f"{request.robot_id} is unknown or already failed"
        return response

    def fail_robot(self, name: str, reason: str) -> bool:
        if name not in self.sim.robots or not self.sim.fail(name):
            return False
        self.recoveries.append((self.sim.time + self.cfg.recovery_time, name))
        if not self.replaying:
            self.event_pub.publish(conv.sim_event_msg("robot_failed", name, self.sim.time, reason=reason))
            self.get_logger().warning(f"{name} failed at t={self.sim.time:.1f}: {reason}")
        return True

    def _faults_and_recoveries(self) -> None:
        while self.faults and self.faults[0][0] <= self.sim.time:
            _, name = self.faults.pop(0)
            self.fail_robot(name, f"scheduled fault at t={self.sim.time:.0f} s")
        due = [n for t, n in self.recoveries if t <= self.sim.time]
        self.recoveries = [(t, n) for t, n in self.recoveries if t > self.sim.time]
        for name in due:
            self.drop_targets.pop(name, None)
            rack, cell = self.sim.remove(name, self.storage, set(self.drop_targets.values()))
            loc = self.layout.storage_by_cell[cell].id if cell is not None else ""
            self._emit(self.event_pub, conv.sim_event_msg("robot_removed", name, self.sim.time, rack=rack,
                                                          location=loc))

    def on_control(self, msg: FleetControl) -> None:
        if self.sim.estop != msg.estop:
            self.get_logger().warning(f"emergency stop {'on: every robot stands still' if msg.estop else 'reset'}")
        self.sim.estop = bool(msg.estop)

    def on_release(self, msg: FleetRelease) -> None:
        # a repeated ready message (stamped zero) may arrive after the planner's first real release
        self.planner_time = max(self.planner_time, conv.from_time(msg.header.stamp))

    def on_forecast(self, msg: DemandForecast) -> None:
        self.forecast_seen = True

    def on_tick(self) -> None:
        if not self.started:
            self.started = self._ready()
            self._publish()
            if not self.started:
                return
            self.report_stalls("started")
        if self._held_back():
            # the clock again, unchanged: a node that (re)started meanwhile learns the time (its
            # sim-time timers cannot fire before it has one) and can catch up
            self.clock_pub.publish(Clock(clock=conv.to_time(self.sim.time)))
            self._fleet_state_while_held()
            if self.inputs:  # commands applied while time waits are durable too
                self._journal(held=True)
            return
        self.held_wall = None
        self._journal(held=False)
        self._step_floor()
        if self.journal is not None and self.tick_no - self.snapshot_tick >= SNAPSHOT_TICKS:
            self.snapshot_tick = self.tick_no
            self.journal.snapshot(self.tick_no, self._state())
        self._publish()
        if round(self.sim.time / self.cfg.tick) % 50 == 0:
            self.report_stalls("running")

    def _step_floor(self) -> None:
        """One step of the floor with its faults (deterministic: a restart replays it)."""
        self._faults_and_recoveries()
        notes, fails = self.floor_faults.step(self.sim)
        for note in notes:
            self._emit(self.fault_pub, conv.fault_event_msg(note, self.sim.time))
        for name, why in fails:
            self.fail_robot(name, why)
        self.delays.apply(self.sim, self.cfg.tick)
        for ev in self.sim.step(self.cfg.tick):
            if ev.kind == "dropped":
                self.drop_targets.pop(ev.robot, None)
            elif ev.kind in ("lift_failed", "drop_failed"):  # the robot's own node sees it in its state
                self._emit(self.event_pub, conv.sim_event_msg(ev.kind, ev.robot, self.sim.time, rack=ev.rack,
                                                              waypoint=ev.index))

    def _emit(self, pub, msg) -> None:
        if not self.replaying:
            pub.publish(msg)

    # -- durable floor (see the module docstring) -----------------------------------------
    def _journal(self, held: bool) -> None:
        """Write-ahead: the inputs since the last entry, and whether a step follows them (a restart
        replays it if this process dies in it)."""
        if self.journal is None:
            return
        self.tick_no += 1
        self.journal.step(self.tick_no, {"inputs": self.inputs, "gating": self._gating(), "held": held})
        self.inputs = []

    def _gating(self) -> dict:
        return {"planner": self.planner_time, "allocator": self.allocator_time, "nodes": self.node_gate.progress,
                "counts": [self.stalls, self.node_stalls, self.allocator_stalls]}

    def _state(self) -> dict:
        """Everything a step depends on, JSON-able."""
        return {"floor": self.sim.snapshot(), "floor_faults": self.floor_faults.snapshot(),
                "delays": self.delays.state(), "scheduled": [list(f) for f in self.faults],
                "recoveries": [list(r) for r in self.recoveries], "gating": self._gating(),
                "drop_targets": {robot: list(cell) for robot, cell in self.drop_targets.items()}}

    def _resume(self, resume: Resume) -> None:
        """Stand where the dead simulator stood: its last snapshot, then the steps it journaled after."""
        state = resume.snapshot
        self.sim.restore(state["floor"])
        self.floor_faults.restore(state["floor_faults"])
        self.delays.set_state(state["delays"])
        self.faults = [(t, name) for t, name in state["scheduled"]]
        self.recoveries = [(t, name) for t, name in state["recoveries"]]
        self.drop_targets = {robot: (x, y) for robot, (x, y) in state["drop_targets"].items()}
        gating = state["gating"]
        self.replaying = True
        for _, step in resume.steps:
            for kind, robot, *args in step["inputs"]:
                if kind == "drive":
                    self.sim.command(robot, args[0], args[1], [wp_from_json(wp) for wp in args[2]])
                elif kind == "drop":
                    self.drop_targets[robot] = tuple(args[0])
                else:
                    self.fail_robot(robot, args[0])
            if not step["held"]:
                self._step_floor()
            gating = step["gating"]
        self.replaying = False
        self.tick_no = self.snapshot_tick = resume.steps[-1][0] if resume.steps else resume.tick
        if resume.steps:  # a second restart replays from here
            self.journal.snapshot(self.tick_no, self._state())
        self.planner_time, self.allocator_time = gating["planner"], gating["allocator"]
        self.allocator_gate.progress = {ALLOCATOR: self.allocator_time} if self.allocator_time >= 0 else {}
        self.node_gate.progress = dict(gating["nodes"])
        self.stalls, self.node_stalls, self.allocator_stalls = gating["counts"]
        # once time has moved, the nodes it waited for at the start are up, their first words long said;
        # one killed before its first step waits for them as at any start
        self.started = resume.tick > 0 or any(not step["held"] for _, step in resume.steps)
        self.get_logger().warning(
            f"resumed the floor from {self.cfg.state_store} at t={self.sim.time:.1f} s: snapshot of journal entry "
            f"{resume.tick}, {len(resume.steps)} entries replayed, {len(self.sim.robots)} robots on the floor")

    def _fleet_state_while_held(self) -> None:
        """Time held for long (a planner restarting): the fleet state again, unchanged, now and then,
        so that a restarted planner hears from every robot (robot containers pass their robots'
        states on with each fleet state) and can let time go on."""
        wall = time.monotonic()
        if self.held_wall is None:
            self.held_wall = wall
        elif wall - self.held_wall >= HELD_STATE_PERIOD_S:
            self.held_wall = wall
            self.state_pub.publish(conv.sim_fleet_state(list(self.sim.robots.values()), self.sim.time))

    def _held_back(self) -> bool:
        """Whether time must wait for the planner, a robot container or the allocator (counted)."""
        wall = time.monotonic()  # its wall clock runs on
        nodes_hold, given_up = self.node_gate.holds(self.sim.time, wall)
        allocator_holds, allocator_given_up = self.allocator_gate.holds(self.sim.time, wall)
        for node in given_up + allocator_given_up:
            silent = f", its robots are silent ({self._robots_of(node)})" if node != ALLOCATOR else ""
            self.get_logger().warning(
                f"{node} has held time at t={self.sim.time:.1f} s for {self.cfg.node_hold_limit:.0f} s of wall "
                f"time (down, hung, or its restart failed): time goes on without it{silent} until it reports again")
        if self.planner_time >= 0 and self.sim.time - self.planner_time > self.cfg.max_planner_lag:
            self.stalls += 1
            return True
        if nodes_hold:
            self.node_stalls += 1
            return True
        if allocator_holds:
            self.allocator_stalls += 1
            return True
        return False

    def _robots_of(self, node: str) -> str:
        return ", ".join(container_robots(node, self.node_gate.progress, self.robot_names)) or "robots unknown"

    def _ready(self) -> bool:
        clocks, readers = self.count_subscribers(topics.CLOCK.name), self.count_subscribers(topics.SIM_FLEET_STATE.name)
        planner = self.planner_time >= 0 or not self.cfg.wait_for_planner
        forecast = self.forecast_seen or not self.cfg.wait_for_forecast
        if clocks >= self.cfg.expected_nodes and readers >= self.cfg.expected_state_readers and planner and forecast:
            return True
        if time.monotonic() - self.created_wall > self.cfg.start_timeout:
            self.get_logger().warning(
                f"starting after {self.cfg.start_timeout:.0f} s with {clocks} of {self.cfg.expected_nodes} "
                f"nodes and {readers} of {self.cfg.expected_state_readers} robot state readers up"
                f"{'' if planner else ', no planner yet'}{'' if forecast else ', no forecast yet'}")
            return True
        return False

    def _publish(self) -> None:
        now = self.sim.time
        self.clock_pub.publish(Clock(clock=conv.to_time(now)))
        self.state_pub.publish(conv.sim_fleet_state(list(self.sim.robots.values()), now))

    def report_stalls(self, phase: str = "stopped") -> None:
        robots = [*self.sim.robots.values(), *self.sim.removed.values()]
        injected = sum(r.stalls for r in robots)
        failures = sum(1 for r in robots if r.failed)
        self.status_pub.publish(conv.sim_status_msg(phase, {
            "stalls": self.stalls, "node_stalls": self.node_stalls, "allocator_stalls": self.allocator_stalls,
            "injected_delays": injected, "robot_failures": failures}, self.sim.time))


def main(args: list[str] | None = None) -> None:
    run_node(FloorSimNode, args, on_shutdown=lambda n: n.report_stalls() if n.configured else None)


if __name__ == "__main__":
    main()

"""``./warehouse run``: start the whole graph as separate processes, record it, report.

The same ``config/`` file the launch files use is the source of every parameter; the run's
own overrides (:data:`warehouse_nodes.run_params.RUN_OVERRIDES`) are written with it into
``DIR/params.yaml``. Every
node runs in its own process (the robots share container processes) and they talk over DDS
on loopback only. This process hosts one more node, the run monitor, which follows
``/clock`` for the progress bar, records the bag (MCAP) from raw subscriptions and gathers
the events for ``report.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock

from warehouse_core import topics
from warehouse_core.analysis import bagio, side_channels
from warehouse_core.analysis.bagio import interfaces_msg_dir
from warehouse_core.analysis.metrics import PackagingTally, RunRecord
from warehouse_core.errors import InputError
from warehouse_core.fleet.progress_watch import ProgressWatch
from warehouse_core.maps.layout import load_layout
from warehouse_interfaces.msg import (
    FleetPlan,
    FleetState,
    Order,
    OrderStatus,
    Parcel,
    ParcelManifest,
    RobotState,
    Task,
    TaskStatus,
    TaskStep,
)
from warehouse_interfaces.srv import EndRun
from warehouse_nodes import channels, runtime
from warehouse_nodes import conversions as conv
from warehouse_nodes.graph import Graph
from warehouse_nodes.run_faults import FaultLog, silence_args
from warehouse_nodes.run_measure import cpu_seconds, memory_mb, timeline_sample
from warehouse_nodes.run_params import RunOptions, configured, run_graph, write_params
from warehouse_nodes.run_report import STUCK_AFTER_S, RunTimes, build_report, log_tail
from warehouse_nodes.supervisor import Supervisor

ROBOT_NICENESS = 5  # scheduling priority of robot containers below the central nodes
MEMORY_SAMPLE_S = 5.0  # [s, wall] between memory samples (reading PSS of every process is not free)
CENTRAL_NODES = frozenset({"floor_simulator", "base_simulator", "mapf_planner", "task_allocator", "forecaster",
                           "order_source"})
DISCOVERY_S = 1.5  # [s, wall] to hear of the nodes already on the domain before starting ours
DOMAIN_WAIT_S = 25.0  # [s, wall] longest wait for another run's nodes to leave the domain (DDS lease: 20 s)
ALLOCATOR_GRACE_S = 30.0  # [s, wall] longest wait at the end for the allocator to catch up with sim time


def node_commands(opts: RunOptions, graph: Graph, params: Path) -> dict[str, list[str]]:
    """The command line of every process of ``graph``, in start order: its module, its arguments
    (a robot container's faults to inject: ``--silence``), the run's params file (the config with
    the graph's overrides: :func:`write_params`)."""
    ros = ["--ros-args", "--params-file", str(params), "--log-level", "warn"]
    cmds = {}
    for p in graph.processes:
        faults = []
        if p.arguments[:1] == ("--first",):  # a robot container: --first F --count N
            faults = silence_args(opts.scenario, int(p.arguments[1]), int(p.arguments[3]))
        cmds[p.key] = [sys.executable, "-m", p.module, *p.arguments, *faults, *ros]
    return cmds


class RunMonitor(Node):
    """Follows the run: sim time, events for the report, and the bag."""

    def __init__(self, opts: RunOptions, bag_dir: Path, batched: bool) -> None:
        super().__init__("run_monitor", parameter_overrides=[
            rclpy.parameter.Parameter("use_sim_time", value=True)])
        self.record = RunRecord()
        stations = [(st.pick_cell, st.queue) for st in load_layout(opts.layout).stations]
        self.bag_messages = 0
        self.watch = ProgressWatch(STUCK_AFTER_S, stations)  # station-line waits: see progress_watch
        self.first_plan_wall: float | None = None
        self.sim_time = 0.0
        self.sim_status: dict = {}  # the simulator's last status record (side_channels.record)
        self.planner_status: dict = {}
        store = bagio.typestore_with([interfaces_msg_dir(opts.root)])
        self.bag = bagio.BagWriter(bag_dir, store)
        self.packaging = PackagingTally()  # manifests go to parcels.jsonl as they come, not into memory
        self.parcels_file = open(opts.out / "parcels.jsonl", "w")  # closed in execute()
        self.forecast: dict = {}
        self.forecast_at_s: float | None = None  # sim time the forecast arrived (rack returns random before)
        self.faults = FaultLog()
        for topic, name, handler in self._recorded(opts, batched):
            self.bag.add_topic(name, topic.msgtype)
            self._subscribe_raw(topic, name, handler)
        channels.subscription(self, topics.CLOCK, self._on_clock)
        self.ended_by = ""  # who asked to end the run early (/run/end: the API's shutdown)
        channels.service(self, topics.RUN_END, self._on_end)

    def _on_end(self, request: EndRun.Request, response: EndRun.Response):
        response.accepted = not self.ended_by
        if response.accepted:
            self.ended_by = request.requester or "an unnamed client"
            self.get_logger().warning(f"run ended at sim time {self.sim_time:.0f} s, asked by {self.ended_by}")
        response.message = f"the run ends: asked by {self.ended_by}"
        return response

    def _recorded(self, opts: RunOptions, batched: bool) -> list[tuple[topics.Topic, str, object]]:
        """(topic, name, handler or None) of every topic the bag records."""
        out = [(t, t.name, h) for t, h in (
            (topics.FLEET_PLAN, self._plan), (topics.TASK_STATUS, self._task_status),
            (topics.ORDER_STATUS, self._order_status), (topics.TASKS, self._task), (topics.ORDERS, self._order),
            (topics.PARCELS, self._parcel), (topics.PARCEL_MANIFESTS, self._manifest),
            (topics.PARCEL_TRACKING, None), (topics.FORECAST_DEMAND, None), (topics.PLANNER_REQUESTS, None),
            (topics.FLEET_WAITS, None), (topics.SIM_FLEET_STATE, None), (topics.DIAGNOSTICS, None))]
        if opts.bag_odom and channels.message_class(topics.TF.msgtype) is not None:
            out.append((topics.TF, topics.TF.name, None))  # where tf2_msgs is installed
        if batched:
            out += [(topics.FLEET_STATES, topics.FLEET_STATES.name, self._fleet_states),
                    (topics.TASK_FEEDBACK, topics.TASK_FEEDBACK.name, None)]
        for i in range(opts.robots):
            name = conv.robot_name(i)
            if opts.bag_odom:  # the pose in map; with frames also odometry in <robot>/odom and map -> odom
                out.append((topics.ROBOT_MAP_POSE, topics.ROBOT_MAP_POSE.of(name), None))
            if opts.bag_odom and opts.bag_frames:  # REP-105 in full, three topics per robot
                # simulated vendor bases: their driver's odometry, localisation and battery (the
                # robot node does not duplicate a driver's odometry)
                robot_topics = (topics.ROBOT_ODOM,) if opts.bases == "floor" else \
                    (topics.BASE_ODOM, topics.ROBOT_LOCALISATION, topics.BASE_BATTERY)
                out += [(t, t.of(name), None) for t in (*robot_topics, topics.ROBOT_MAP_TO_ODOM)]
            if not batched:
                out.append((topics.ROBOT_STATE, topics.ROBOT_STATE.of(name), self._state))
        # side channels: their records (side_channels.record) go to the report
        side = {topics.SIM_FAULTS: self.faults.on_fault, topics.SIM_EVENTS: self.faults.on_event,
                topics.PLANNER_DEADLOCKS: self.faults.on_deadlock,
                topics.ALLOCATOR_OPEN_ORDERS: self.faults.on_open_orders, topics.SIM_STATUS: self._on_status,
                topics.PLANNER_STATUS: self._on_planner_status, topics.FORECAST_SUMMARY: self._on_forecast}
        out += [(t, t.name, lambda m, n=t.name, h=h: h(side_channels.record(n, m))) for t, h in side.items()]
        return out

    def _subscribe_raw(self, topic: topics.Topic, name: str, handler) -> None:
        cls = channels.message_class(topic.msgtype)

        def on_raw(data: bytes) -> None:
            self.bag.write(name, self.get_clock().now().nanoseconds, data)
            self.bag_messages += 1
            if handler is not None:
                handler(deserialize_message(data, cls))

        # the recorder's queue is deeper than a node's, the durability the writer's (latched
        # streams: no event is missed at start-up)
        self.create_subscription(cls, name, on_raw, channels.recording_profile(topic), raw=True,
                                 event_callbacks=conv.no_sub_events())

    def _on_clock(self, msg: Clock) -> None:
        self.sim_time = conv.from_time(msg.clock)

    def _on_status(self, status: dict) -> None:
        self.sim_status = status

    def _on_planner_status(self, status: dict) -> None:
        self.planner_status = status

    def _plan(self, msg: FleetPlan) -> None:
        if self.first_plan_wall is None:
            self.first_plan_wall = time.monotonic()
        self.record.planner_times_s.append(msg.planning_time_s)
        self.record.planner_cpu_s.append(msg.planning_cpu_s)

    def _task(self, msg: Task) -> None:
        pick = next((i for i, s in enumerate(msg.steps) if s.op == TaskStep.OP_PICK), -1)
        self.record.on_task(msg.task_id, len(msg.lines), pick, msg.type == Task.TYPE_CHARGE)

    def _task_status(self, msg: TaskStatus) -> None:
        self.record.on_task_status(msg.task_id, msg.state, msg.step_index,
                                   conv.from_time(msg.header.stamp))

    def _state(self, msg: RobotState) -> None:
        self.record.on_battery(msg.battery)
        self.watch.update(msg.robot_id, conv.from_time(msg.header.stamp), msg.task_id, (msg.cell_x, msg.cell_y),
                          msg.plan_id, msg.progress_index, msg.mode in conv.OPERATION_MODES)

    def _fleet_states(self, msg: FleetState) -> None:
        if len(msg.battery):
            self.record.on_battery(float(min(msg.battery)))
        t = conv.from_time(msg.header.stamp)
        for i, robot in enumerate(msg.robot_ids):
            self.watch.update(robot, t, msg.task_ids[i], (int(msg.cell_x[i]), int(msg.cell_y[i])),
                              int(msg.plan_ids[i]), int(msg.progress_index[i]), msg.modes[i] in conv.OPERATION_MODES)

    def _order(self, msg: Order) -> None:
        self.record.on_order(msg.order_id, conv.from_time(msg.deadline))

    def _parcel(self, msg: Parcel) -> None:
        self.record.on_parcel(list(msg.order_ids), msg.late)

    def _manifest(self, msg: ParcelManifest) -> None:
        manifest = conv.manifest_json(msg)
        self.parcels_file.write(json.dumps(manifest) + "\n")
        self.packaging.add(manifest)

    def _on_forecast(self, summary: dict) -> None:
        self.forecast = summary
        if self.forecast_at_s is None:  # a restarted forecaster publishes the same forecast again
            self.forecast_at_s = self.sim_time

    def _order_status(self, msg: OrderStatus) -> None:
        self.record.on_order_status(msg.order_id, msg.state, msg.lines_total,
                                    conv.from_time(msg.header.stamp))


class Progress:
    """A one-line progress bar on a terminal; a line per 10 % otherwise (CI logs)."""

    def __init__(self, total: float, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def show(self, sim_t: float, rtf: float, done: int, received: int) -> None:
        if self.quiet:
            return
        frac = min(1.0, sim_t / self.total) if self.total > 0 else 1.0
        text = (f"sim {sim_t:6.0f}/{self.total:.0f} s  x{rtf:4.1f}  "
                f"orders done {done}/{received}")
        if self.tty:
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\r[{bar:<30}] {frac * 100:3.0f}%  {text}")
            sys.stderr.flush()
        elif int(frac * 10) > self.last_decile:
            self.last_decile = int(frac * 10)
            print(f"progress {frac * 100:3.0f}%  {text}", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def _stop(procs: dict[str, subprocess.Popen], timeout: float = 10.0) -> None:
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for p in procs.values():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _spawn(opts: RunOptions, name: str, cmd: list[str]) -> subprocess.Popen:
    """Start one node process, its output appended to ``logs/<name>.log`` (a restart adds to it)."""
    log = open(opts.out / "logs" / f"{name}.log", "a")
    log.write(f"--- {name} process started {time.strftime('%H:%M:%S')}\n")
    log.flush()
    # on a fleet every robot has its own computer; here they share the server's cores,
    # so robot containers yield to the central nodes when both want a core
    if name.startswith("robots_"):
        cmd = ["nice", "-n", str(ROBOT_NICENESS), *cmd]
    # the node stops when this process dies, even by SIGKILL (runtime.stop_with_parent)
    env = os.environ | {runtime.PARENT_PID_ENV: str(os.getpid())}
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=opts.root, start_new_session=True,
                            env=env)


def execute(opts: RunOptions) -> dict:
    """Run the stack for ``opts.duration`` simulated seconds; returns the report.

    SIGINT (Ctrl-C) or SIGTERM ends the run early but in order: the nodes are stopped, the bag
    is closed and the report of what was recorded until then is written, marked
    ``interrupted`` (a second signal aborts at once, without a report)."""
    with runtime.StopSignals() as stop:
        return _execute(opts, stop)


def _execute(opts: RunOptions, stop: runtime.StopSignals) -> dict:
    times = RunTimes(start=time.monotonic())
    params, param_doc, bag_dir = _prepare(opts)
    policy = configured(param_doc, "task_allocator", "policy", opts.config)
    # the runner handles SIGINT/SIGTERM itself (stop): rclpy's handlers would shut the context
    # down under the recorder and raise KeyboardInterrupt wherever the main thread happens to be
    rclpy.init(args=["--ros-args", "--log-level", "warn"],
               signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    transport = configured(param_doc, "task_allocator", "fleet_transport", opts.config)
    monitor = RunMonitor(opts, bag_dir, conv.check_fleet_transport(transport, "/**"))
    # one executor for the whole run: rclpy.spin_once(node) would add and remove the node on
    # every call, rebuilding its wait set of hundreds of subscriptions for each message
    executor = SingleThreadedExecutor()
    executor.add_node(monitor)
    progress = Progress(opts.duration, opts.quiet)
    graph = run_graph(opts)
    commands = node_commands(opts, graph, params)
    try:
        _wait_for_a_free_domain(monitor, executor, stop)
    except InputError:
        monitor.bag.close()
        monitor.parcels_file.close()
        executor.shutdown()
        monitor.destroy_node()
        rclpy.try_shutdown()
        raise
    supervisor = Supervisor(lambda name: _spawn(opts, name, commands[name]),
                            frozenset(p.key for p in graph.processes if p.respawn))
    try:
        supervisor.launch(list(commands))
        failure = _follow(opts, monitor, executor, supervisor, progress, times, stop)
        times.interrupted_by = stop.name
        if not failure:
            _finish(opts, monitor, executor, supervisor.procs, times)
    finally:
        _stop(supervisor.procs)
        progress.end()
        monitor.bag.close()
        monitor.parcels_file.close()
        executor.shutdown()
        monitor.destroy_node()
        rclpy.try_shutdown()
    if failure:
        raise RuntimeError(f"{failure}\n{log_tail(opts.out / 'logs')}")
    times.node_restarts = supervisor.total_restarts
    times.restarts_by_node = dict(sorted(supervisor.restarts.items()))
    report = build_report(opts, monitor, times, param_doc, policy, bag_dir)
    (opts.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _wait_for_a_free_domain(monitor: RunMonitor, executor: SingleThreadedExecutor, stop: runtime.StopSignals) -> None:
    """Wait until no node of another run is on this DDS domain, or refuse to start.

    Two runs on one domain talk into each other: one run's simulator hears the other's planner
    and clock (a start-up of 34 s instead of 5 to 18 s was measured), and each records the
    other's messages. The nodes of a run that was just killed leave within seconds (a SIGKILLed
    process's participant at the latest when its DDS lease runs out); those of a running one do not."""
    start = time.monotonic()
    while stop.received is None:
        executor.spin_once(timeout_sec=0.05)
        # a killed runner's own participant lingers until its lease ends: only live nodes count
        others = sorted({n for n, _ns in monitor.get_node_names_and_namespaces() if n in CENTRAL_NODES})
        waited = time.monotonic() - start
        if not others and waited >= DISCOVERY_S:
            return
        if waited > DOMAIN_WAIT_S:
            domain = os.environ.get("ROS_DOMAIN_ID", "0")
            raise InputError(f"ROS_DOMAIN_ID {domain}", f"the nodes of another run are on this DDS domain "
                             f"({', '.join(others)}) and did not leave within {DOMAIN_WAIT_S:.0f} s",
                             fix="stop that run, or start this one with another ROS_DOMAIN_ID")


def _prepare(opts: RunOptions) -> tuple[Path, dict, Path]:
    """Refuse bad input before anything starts; write the parameters. (params file, its doc, bag dir)"""
    layout = load_layout(opts.layout)
    racks = len(layout.rack_ids)
    if opts.scenario is not None:
        opts.scenario.check_run(opts.robots, layout.grid, layout.rack_ids,
                                opts.duration if opts.duration > 0 else None)  # 0: no end
    if opts.robots > racks:
        raise InputError(str(opts.layout), f"{opts.robots} robots but only {racks} racks to "
                         "start under", fix=f"use --robots {racks} or fewer, or a larger layout")
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "logs").mkdir(exist_ok=True)
    params, param_doc = write_params(opts)
    bag_dir = opts.out / "bag"
    if bag_dir.exists():
        raise InputError(str(bag_dir), "a bag from an earlier run is in the way",
                         fix="choose a new --out directory")
    return params, param_doc, bag_dir


def _follow(opts: RunOptions, monitor: RunMonitor, executor: SingleThreadedExecutor, supervisor: Supervisor,
            progress: Progress, times: RunTimes, stop: runtime.StopSignals) -> str:
    """Record the run until its simulated end or a stop signal; the failure that ended it early, or ""."""
    procs = supervisor.procs
    last_sample = 0.0
    next_timeline = 0.0
    heap = runtime.HeapTrim()  # the recorder runs as long as the nodes: see HeapTrim
    failure = ""
    # duration 0: until a stop signal or /run/end
    while (opts.duration <= 0 or monitor.sim_time < opts.duration) and stop.received is None \
            and not monitor.ended_by:
        executor.spin_once(timeout_sec=0.05)
        heap.maybe()
        if opts.sample_every > 0 and monitor.sim_time >= next_timeline:
            next_timeline += opts.sample_every
            timeline_sample(opts.out / "timeline.jsonl", monitor, procs, times.start)
        failure = supervisor.check()
        if failure:
            break
        if times.sim_started is None and monitor.sim_time > 0:
            times.sim_started = time.monotonic()
        now = time.monotonic()
        if now - last_sample >= MEMORY_SAMPLE_S:
            last_sample = now
            times.peak_pss_mb = max(times.peak_pss_mb, memory_mb(procs))
            if times.sim_started is None and now - times.start > 120:
                failure = "the simulation did not start within 120 s"
                break
            wall = now - (times.sim_started or now)
            progress.show(monitor.sim_time, monitor.sim_time / wall if wall > 0 else 0.0,
                          len(monitor.record.order_completed), len(monitor.record.order_created))
    times.sim_ended = time.monotonic()
    # the end of the run is a sample too (unless the last one was taken at it)
    if opts.sample_every > 0 and not failure and monitor.sim_time >= next_timeline - opts.sample_every + 1.0:
        timeline_sample(opts.out / "timeline.jsonl", monitor, procs, times.start)
    return failure


def _finish(opts: RunOptions, monitor: RunMonitor, executor: SingleThreadedExecutor,
            procs: dict[str, subprocess.Popen], times: RunTimes) -> None:
    """Collect the allocator's last word, CPU times, and the messages of stopping nodes."""
    # the allocator may lag sim time (a long packing round): wait for its word on the open orders
    # at the end, so that its last events are in the bag and orders_lost is judged on them (not
    # after an interruption: whoever stopped the run wants it to end now)
    wait_until = time.monotonic() + (0.0 if times.interrupted_by else ALLOCATOR_GRACE_S)
    end = monitor.sim_time if monitor.ended_by or opts.duration <= 0 else opts.duration
    while monitor.faults.open_orders_time < end - 1.0 and time.monotonic() < wait_until:
        executor.spin_once(timeout_sec=0.05)
    times.cpu_s = cpu_seconds(procs)
    _stop(procs)
    end_deadline = time.monotonic() + 1.0
    while time.monotonic() < end_deadline:
        executor.spin_once(timeout_sec=0.05)

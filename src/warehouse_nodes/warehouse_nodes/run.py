"""``./warehouse run``: start the whole graph as separate processes, record it, report.

The same ``config/`` file the launch files use is the source of every parameter; the run's
own overrides (robots, seed, layout) are written with it into ``DIR/params.yaml``. Every
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
from dataclasses import dataclass
from pathlib import Path

import psutil
import rclpy
import yaml
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from warehouse_core.analysis import bagio, trajectory
from warehouse_core.analysis.bagio import interfaces_msg_dir
from warehouse_core.analysis.metrics import PackagingTally, RunRecord, operations_kpis, order_kpis
from warehouse_core.errors import InputError
from warehouse_core.fleet.progress_watch import ProgressWatch
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.scenario import Scenario
from warehouse_interfaces.msg import (
    DemandForecast,
    FleetPlan,
    FleetState,
    FleetWaits,
    Order,
    OrderStatus,
    Parcel,
    ParcelManifest,
    PlanRequest,
    RobotState,
    Task,
    TaskFeedback,
    TaskStatus,
    TaskStep,
    TrackingEvent,
)
from warehouse_nodes import conversions as conv
from warehouse_nodes import run_faults, runtime
from warehouse_nodes.run_faults import FaultLog, apply_scenario, silence_args
from warehouse_nodes.supervisor import RESPAWN, Supervisor

ROBOTS_PER_CONTAINER = 100
ROBOT_NICENESS = 5  # scheduling priority of robot containers below the central nodes
ODOM_PER_SIM_S = 250.0  # fleet odometry messages per simulated second the recorder is sized for
STUCK_AFTER_S = 60.0  # [s, sim] a robot with a task and no progress this long counts as stuck
MEMORY_SAMPLE_S = 5.0  # [s, wall] between memory samples (reading PSS of every process is not free)
MAX_ODOM_GAP_S = 2.0  # longer stretches without odometry are not judged for collisions
RTF_ROBOT_BUDGET = 750.0  # default --max-rtf: this / robots (500 robots: x1.5), at most the config's
ALLOCATOR_GRACE_S = 30.0  # [s, wall] longest wait at the end for the allocator to catch up with sim time
STATE_FILE = "state.db"  # the run's durable state (orders, tasks), in the run directory


@dataclass(frozen=True)
class RunOptions:
    robots: int
    duration: float
    seed: int
    layout: Path
    config: Path
    out: Path
    root: Path
    quiet: bool = False
    min_distance: float = 0.5
    policy: str = ""  # empty: the config's task_allocator.policy
    orders_per_hour: float | None = None  # None: the config's order_source.orders_per_hour
    max_rtf: float | None = None  # None: default_max_rtf(); 0: as fast as the machine allows
    scenario: Scenario | None = None  # faults to inject and parameter overrides (--scenario)
    sample_every: float = 0.0  # [s, sim] memory and throughput samples into DIR/timeline.jsonl (0: none)
    bag_odom: bool = True  # record every robot's /<robot>/odom (off: the ground truth alone, see README)


def write_params(opts: RunOptions) -> tuple[Path, dict]:
    """The config file with this run's overrides, as a params file for every node."""
    try:
        doc = yaml.safe_load(opts.config.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(str(opts.config), f"cannot read config: {exc}",
                         fix="pass a ROS 2 params YAML with --config") from None
    if not isinstance(doc, dict) or "/**" not in doc:
        raise InputError(str(opts.config), "no '/**: ros__parameters:' section",
                         fix="start from config/warehouse.yaml")
    for key, section in doc.items():
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters"), dict):
            raise InputError(str(opts.config), f"section {key!r} is not a 'ros__parameters:' mapping",
                             fix="give every node section a ros__parameters mapping (see config/warehouse.yaml)")
    common = doc["/**"].setdefault("ros__parameters", {})
    common.update(robots=opts.robots, seed=opts.seed, layout=str(opts.layout))
    allocator = doc.setdefault("task_allocator", {}).setdefault("ros__parameters", {})
    move_forecast_keys(doc)
    if opts.policy:
        allocator["policy"] = opts.policy
    if opts.orders_per_hour is not None:
        if not opts.orders_per_hour > 0:
            raise InputError("--orders-per-hour", f"{opts.orders_per_hour} is not a positive rate",
                             fix="give orders per hour > 0")
        doc.setdefault("order_source", {}).setdefault("ros__parameters", {})["orders_per_hour"] = \
            float(opts.orders_per_hour)
    # the recorder (Python) keeps up with a few hundred odometry messages per simulated second:
    # large fleets publish odometry less often (collisions are judged on the simulator's ground
    # truth, recorded every tick, so they are not affected)
    robot = doc.setdefault("/**/robot", {}).setdefault("ros__parameters", {})
    robot["odom_period"] = max(float(_param(robot, "odom_period", 0.5, (int, float), opts.config)),
                               opts.robots / ODOM_PER_SIM_S)
    boxes = Path(_param(allocator, "boxes", "config/boxes.yaml", str, opts.config))
    allocator["boxes"] = str(boxes if boxes.is_absolute() else opts.root / boxes)
    sim = doc.setdefault("floor_simulator", {}).setdefault("ros__parameters", {})
    sim["real_time_factor"] = max_rtf(opts, float(sim.get("real_time_factor", 0.0)))
    sim["expected_nodes"] = 4  # /clock: planner, allocator, order source, monitor
    if opts.scenario is not None:
        apply_scenario(doc, opts.scenario)
    for node in RESPAWN:  # durable state: a restarted allocator or order source resumes from it
        doc.setdefault(node, {}).setdefault("ros__parameters", {})["state_store"] = str(opts.out / STATE_FILE)
    # /sim/fleet_state: every robot container (it subscribes once all its robots exist), monitor
    sim["expected_state_readers"] = len(range(0, opts.robots, ROBOTS_PER_CONTAINER)) + 1
    path = opts.out / "params.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, doc


def max_rtf(opts: RunOptions, configured: float) -> float:
    """The simulator's real-time-factor cap (sim s per wall s; 0: none) for ``--max-rtf``.

    Default: ``RTF_ROBOT_BUDGET / robots``, at most the config's ``real_time_factor``. A run as
    fast as two cores allow keeps every process runnable, so the planner waits for a core
    (its wall-time p99 was 5x its CPU time at 500 robots); the cap leaves headroom and the
    simulator waits instead (500 robots: x1.5, 100: x7.5).
    """
    if opts.max_rtf is None:
        auto = RTF_ROBOT_BUDGET / opts.robots
        return min(auto, configured) if configured > 0 else auto
    if not opts.max_rtf >= 0:
        raise InputError("--max-rtf", f"{opts.max_rtf} is not a real-time factor",
                         fix="give a factor > 0, or 0 for as fast as possible")
    return float(opts.max_rtf)


FORECASTER_KEYS = ("forecast_model", "forecast_ets_model", "forecast_smooth", "forecast_horizon", "forecast_folds",
                   "history_days", "history_orders_per_day", "demand_history_csv")


def move_forecast_keys(doc: dict) -> None:
    """Forecast settings of a config written before the forecaster node (under ``task_allocator``)
    go to the ``forecaster`` section, unless that section sets them itself."""
    allocator = doc.get("task_allocator", {}).get("ros__parameters", {})
    forecaster = doc.setdefault("forecaster", {}).setdefault("ros__parameters", {})
    for key in FORECASTER_KEYS:
        if key in allocator:
            forecaster.setdefault(key, allocator.pop(key))


def _param(section: dict, key: str, default, kinds, config: Path):
    """``section[key]`` (or ``default``) if it has one of the types ``kinds``; else an InputError."""
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise InputError(str(config), f"{key}: {value!r} has the wrong type", fix=f"give it like {default!r}")
    return value


def node_commands(opts: RunOptions, params: Path) -> dict[str, list[str]]:
    ros = ["--ros-args", "--params-file", str(params), "--log-level", "warn"]
    py = [sys.executable, "-m"]
    cmds = {
        "floor_simulator": py + ["warehouse_nodes.floor_sim_node"] + ros,
        "mapf_planner": py + ["warehouse_nodes.planner_node"] + ros,
        "task_allocator": py + ["warehouse_nodes.allocator_node"] + ros,
        "forecaster": py + ["warehouse_nodes.forecaster_node"] + ros,
        "order_source": py + ["warehouse_nodes.order_source_node"] + ros,
    }
    for first in range(0, opts.robots, ROBOTS_PER_CONTAINER):
        count = min(ROBOTS_PER_CONTAINER, opts.robots - first)
        cmds[f"robots_{first}"] = py + ["warehouse_nodes.robot_container", "--first", str(first),
                                        "--count", str(count)] + silence_args(opts.scenario, first, count) + ros
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
        self.sim_status = ""
        self.planner_status = ""
        store = bagio.typestore_with([interfaces_msg_dir(opts.root)])
        self.bag = bagio.BagWriter(bag_dir, store)
        qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        topics = [("/fleet/plan", "warehouse_interfaces/msg/FleetPlan", FleetPlan, self._plan),
                  ("/task_status", "warehouse_interfaces/msg/TaskStatus", TaskStatus, self._task_status),
                  ("/order_status", "warehouse_interfaces/msg/OrderStatus", OrderStatus, self._order_status),
                  ("/tasks", "warehouse_interfaces/msg/Task", Task, self._task),
                  ("/orders", "warehouse_interfaces/msg/Order", Order, self._order),
                  ("/parcels", "warehouse_interfaces/msg/Parcel", Parcel, self._parcel),
                  ("/parcels/manifests", "warehouse_interfaces/msg/ParcelManifest", ParcelManifest,
                   self._manifest),
                  ("/parcels/tracking", "warehouse_interfaces/msg/TrackingEvent", TrackingEvent, None),
                  (conv.FORECAST_DEMAND_TOPIC, "warehouse_interfaces/msg/DemandForecast", DemandForecast, None),
                  ("/planner/requests", "warehouse_interfaces/msg/PlanRequest", PlanRequest, None),
                  ("/fleet/waits", "warehouse_interfaces/msg/FleetWaits", FleetWaits, None),
                  ("/sim/fleet_state", bagio.FLEET_STATE, FleetState, None)]
        if batched:
            topics.append((conv.FLEET_STATES_TOPIC, bagio.FLEET_STATE, FleetState, self._fleet_states))
            topics.append((conv.TASK_FEEDBACK_TOPIC, "warehouse_interfaces/msg/TaskFeedback", TaskFeedback, None))
        for i in range(opts.robots):
            name = conv.robot_name(i)
            if opts.bag_odom:
                topics.append((f"/{name}/odom", "nav_msgs/msg/Odometry", Odometry, None))
            if not batched:
                topics.append((f"/{name}/state", "warehouse_interfaces/msg/RobotState", RobotState, self._state))
        events = conv.latched_qos(conv.EVENT_HISTORY)  # no event is missed at start-up
        for topic, msgtype, cls, handler in topics:
            self.bag.add_topic(topic, msgtype)
            self._subscribe_raw(topic, msgtype, cls, handler, events if topic in conv.EVENT_TOPICS else qos)
        self.create_subscription(Clock, "/clock", self._on_clock, 10)
        self.create_subscription(String, "/sim/status", self._on_status, qos)
        latched = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(String, "/planner/status", self._on_planner_status, latched)
        self.packaging = PackagingTally()  # manifests go to parcels.jsonl as they come, not into memory
        self.parcels_file = open(opts.out / "parcels.jsonl", "w")  # closed in execute()
        self.forecast: dict = {}
        self.forecast_at_s: float | None = None  # sim time the forecast arrived (rack returns random before)
        self.create_subscription(String, "/forecast/summary", self._on_forecast, conv.latched_qos(1))
        self.faults = FaultLog()
        for topic, handler, depth in ((run_faults.FAULTS_TOPIC, self.faults.on_fault, 1000),
                                      (run_faults.EVENTS_TOPIC, self.faults.on_event, 1000),
                                      (run_faults.DEADLOCKS_TOPIC, self.faults.on_deadlock, 1000),
                                      (run_faults.OPEN_ORDERS_TOPIC, self.faults.on_open_orders, 1)):
            self.bag.add_topic(topic, "std_msgs/msg/String")
            self._subscribe_raw(topic, "std_msgs/msg/String", String, lambda m, h=handler: h(m.data),
                                conv.latched_qos(depth))

    def _subscribe_raw(self, topic, msgtype, cls, handler, qos) -> None:
        def on_raw(data: bytes) -> None:
            self.bag.write(topic, self.get_clock().now().nanoseconds, data)
            self.bag_messages += 1
            if handler is not None:
                handler(deserialize_message(data, cls))

        self.create_subscription(cls, topic, on_raw, qos, raw=True, event_callbacks=conv.no_sub_events())

    def _on_clock(self, msg: Clock) -> None:
        self.sim_time = conv.from_time(msg.clock)

    def _on_status(self, msg: String) -> None:
        self.sim_status = msg.data

    def _on_planner_status(self, msg: String) -> None:
        self.planner_status = msg.data

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

    def _on_forecast(self, msg: String) -> None:
        self.forecast = json.loads(msg.data)
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


def _memory_mb(procs: dict[str, subprocess.Popen]) -> float:
    """Memory of this process and every node process (PSS: shared pages split, not doubled)."""
    return sum(pss for pss, _ in _process_memory_mb(procs).values())


def _process_pss_mb(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    """PSS of each node process (with its children) and of this one [MB], each process counted once."""
    return {name: round(pss, 1) for name, (pss, _) in _process_memory_mb(procs).items()}


def _process_memory_mb(procs: dict[str, subprocess.Popen]) -> dict[str, tuple[float, float]]:
    """(PSS, USS) of each node process (with its children) and of this one [MB], each process once.

    The node processes are children of this one: ``run_monitor`` is this process and any child
    of it that is not a node process or theirs (until 25 Nov it counted every node process a
    second time). USS (pages no other process maps) is what a process's own growth shows on a
    shared machine: PSS also moves when other processes start or stop using the same libraries.
    """
    out: dict[str, tuple[float, float]] = {}
    seen: set[int] = set()
    me = psutil.Process(os.getpid())
    families: list[tuple[str, list[psutil.Process]]] = []
    for name, p in procs.items():
        try:
            proc = psutil.Process(p.pid)
            families.append((name, [proc] + proc.children(recursive=True)))
        except psutil.Error:
            pass
    families.append(("run_monitor", [me] + me.children(recursive=True)))
    for name, family in families:
        for q in family:
            if q.pid in seen:
                continue
            seen.add(q.pid)
            try:
                info = q.memory_full_info()
            except psutil.Error:
                continue
            pss, uss = out.get(name, (0.0, 0.0))
            out[name] = (pss + getattr(info, "pss", info.rss) / 2**20, uss + getattr(info, "uss", info.rss) / 2**20)
    return {"run_monitor": out.pop("run_monitor", (0.0, 0.0)), **out}


def _timeline_sample(path: Path, monitor: RunMonitor, procs: dict[str, subprocess.Popen], t_start: float) -> None:
    """One line of DIR/timeline.jsonl: memory by process, orders and lines so far, at this sim time."""
    rec = monitor.record
    mem = _process_memory_mb(procs)
    pss = {name: round(v[0], 1) for name, v in mem.items()}
    uss = {name: round(v[1], 1) for name, v in mem.items()}
    line = {"sim_s": round(monitor.sim_time, 1), "wall_s": round(time.monotonic() - t_start, 1),
            "pss_mb": round(sum(v[0] for v in mem.values()), 1), "pss_by_process_mb": pss,
            "uss_mb": round(sum(v[1] for v in mem.values()), 1), "uss_by_process_mb": uss,
            "orders_accepted": len(rec.order_created), "orders_completed": len(rec.order_completed),
            "lines_picked": sum(rec.visits.values()), "bag_messages": monitor.bag_messages}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def _cpu_seconds(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each node process; robot containers summed."""
    out: dict[str, float] = {}
    for name, p in [("run_monitor", None), *procs.items()]:
        key = "robot_containers" if name.startswith("robots_") else name
        try:
            t = psutil.Process(p.pid if p is not None else os.getpid()).cpu_times()
        except psutil.Error:
            continue
        out[key] = round(out.get(key, 0.0) + t.user + t.system, 1)
    return out


def execute(opts: RunOptions) -> dict:
    """Run the stack for ``opts.duration`` simulated seconds; returns the report."""
    t_start = time.monotonic()
    layout = load_layout(opts.layout)  # refuse a bad layout before starting anything
    racks = len(layout.rack_ids)
    if opts.scenario is not None:
        opts.scenario.check_run(opts.robots, layout.grid, layout.rack_ids)
    if opts.robots > racks:
        raise InputError(str(opts.layout), f"{opts.robots} robots but only {racks} racks to "
                         "start under", fix=f"use --robots {racks} or fewer, or a larger layout")
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "logs").mkdir(exist_ok=True)
    params, param_doc = write_params(opts)
    policy = param_doc["task_allocator"]["ros__parameters"].get("policy", "default")
    bag_dir = opts.out / "bag"
    if bag_dir.exists():
        raise InputError(str(bag_dir), "a bag from an earlier run is in the way",
                         fix="choose a new --out directory")
    rclpy.init(args=["--ros-args", "--log-level", "warn"])
    transport = param_doc["/**"]["ros__parameters"].get("fleet_transport", "batched")
    monitor = RunMonitor(opts, bag_dir, conv.check_fleet_transport(transport, "/**"))
    # one executor for the whole run: rclpy.spin_once(node) would add and remove the node on
    # every call, rebuilding its wait set of hundreds of subscriptions for each message
    executor = SingleThreadedExecutor()
    executor.add_node(monitor)
    progress = Progress(opts.duration, opts.quiet)
    peak_rss = 0.0
    failure = ""
    sim_started_wall = None
    cpu: dict[str, float] = {}
    commands = node_commands(opts, params)
    supervisor = Supervisor(lambda name: _spawn(opts, name, commands[name]))
    procs = supervisor.procs
    try:
        supervisor.launch(list(commands))
        last_sample = 0.0
        next_timeline = 0.0
        heap = runtime.HeapTrim()  # the recorder runs as long as the nodes: see HeapTrim
        while monitor.sim_time < opts.duration:
            executor.spin_once(timeout_sec=0.05)
            heap.maybe()
            if opts.sample_every > 0 and monitor.sim_time >= next_timeline:
                next_timeline += opts.sample_every
                _timeline_sample(opts.out / "timeline.jsonl", monitor, procs, t_start)
            failure = supervisor.check()
            if failure:
                break
            if sim_started_wall is None and monitor.sim_time > 0:
                sim_started_wall = time.monotonic()
            now = time.monotonic()
            if now - last_sample >= MEMORY_SAMPLE_S:
                last_sample = now
                peak_rss = max(peak_rss, _memory_mb(procs))
                if sim_started_wall is None and now - t_start > 120:
                    failure = "the simulation did not start within 120 s"
                    break
                wall = now - (sim_started_wall or now)
                progress.show(monitor.sim_time, monitor.sim_time / wall if wall > 0 else 0.0,
                              len(monitor.record.order_completed),
                              len(monitor.record.order_created))
        sim_end_wall = time.monotonic()
        # the end of the run is a sample too (unless the last one was taken at it)
        if opts.sample_every > 0 and not failure and monitor.sim_time >= next_timeline - opts.sample_every + 1.0:
            _timeline_sample(opts.out / "timeline.jsonl", monitor, procs, t_start)
        # the allocator may lag sim time (a long packing round): wait for its word on the open orders
        # at the end, so that its last events are in the bag and orders_lost is judged on them
        wait_until = time.monotonic() + ALLOCATOR_GRACE_S
        while monitor.faults.open_orders_time < opts.duration - 1.0 and time.monotonic() < wait_until \
                and not failure:
            executor.spin_once(timeout_sec=0.05)
        cpu = _cpu_seconds(procs)
        _stop(procs)
        end_deadline = time.monotonic() + 1.0
        while time.monotonic() < end_deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        _stop(procs)
        progress.end()
        monitor.bag.close()
        monitor.parcels_file.close()
        sim_time = monitor.sim_time
        record = monitor.record
        watch = monitor.watch
        first_plan_wall = monitor.first_plan_wall
        status = monitor.sim_status
        planner_status = monitor.planner_status
        packaging, forecast_summary = monitor.packaging, monitor.forecast
        fault_log = monitor.faults
        forecast_at_s = monitor.forecast_at_s
        executor.shutdown()
        monitor.destroy_node()
        rclpy.try_shutdown()
    if failure:
        tail = _log_tail(opts.out / "logs")
        raise RuntimeError(f"{failure}\n{tail}")
    # collisions are judged on the simulator's ground truth (every tick, batched), gaps in what
    # the robots reported on their odometry topics are counted separately (without odometry in
    # the bag, travel and gaps are those of the ground truth)
    store = bagio.typestore_with([interfaces_msg_dir(opts.root)])
    truth = bagio.read_fleet_state_tracks(bag_dir, store)
    tracks = bagio.read_odometry_tracks(bag_dir) if opts.bag_odom else truth
    encounters = trajectory.close_encounters(truth or tracks, opts.min_distance, MAX_ODOM_GAP_S)
    gaps = trajectory.sample_gaps(tracks, MAX_ODOM_GAP_S)
    sim_wall = sim_end_wall - (sim_started_wall or sim_end_wall)
    visits = order_kpis(record, min(sim_time, opts.duration))["rack_visits"]
    travel = sum(tr.distance() for tr in tracks)
    report = {
        "robots": opts.robots,
        "sim_duration_s": round(min(sim_time, opts.duration), 2),
        "wall_duration_s": round(time.monotonic() - t_start, 2),
        "real_time_factor": round(sim_time / sim_wall, 2) if sim_wall > 0 else 0.0,
        "max_real_time_factor": round(float(param_doc["floor_simulator"]["ros__parameters"]["real_time_factor"]), 2),
        "startup_s": round((sim_started_wall or t_start) - t_start, 2),
        "first_plan_s": round(first_plan_wall - t_start, 2) if first_plan_wall else None,
        **order_kpis(record, min(sim_time, opts.duration)),
        **operations_kpis(record, min(sim_time, opts.duration), opts.robots),
        "forecast_mase": forecast_summary.get("mase"),
        "forecast_seasonal_naive_mase": forecast_summary.get("seasonal_naive_mase"),
        "forecast_wall_s": forecast_summary.get("computed_in_s"),
        "forecast_at_s": round(forecast_at_s, 1) if forecast_at_s is not None else None,
        "travel_per_rack_visit_m": round(travel / visits, 2) if visits else 0.0,
        "robot_travel_m": round(travel, 1),
        **packaging.kpis(),
        "policy": policy,
        "collisions": len(encounters),
        "odom_gaps": len(gaps),
        "odom_gap_s": round(sum(end - start for _, start, end in gaps), 1),
        "min_distance_m": opts.min_distance,
        "sim_stalls": sum(_status_value(status, k) for k in ("stalls", "node_stalls", "allocator_stalls")),
        "sim_stalls_planner": _status_value(status, "stalls"),
        "sim_stalls_nodes": _status_value(status, "node_stalls"),
        "sim_stalls_allocator": _status_value(status, "allocator_stalls"),
        "injected_delays": _status_value(status, "injected_delays"),
        "robot_failures": _status_value(status, "robot_failures"),
        "plan_repairs": _status_value(planner_status, "plan_repairs"),
        "lag_repairs": _status_value(planner_status, "lag_repairs"),
        "freeze_timeouts": _status_value(planner_status, "freeze_timeouts"),
        "priority_boosts": _status_value(planner_status, "priority_boosts"),
        "watchdog_replans": _status_value(planner_status, "watchdog_replans"),
        **fault_log.kpis(record.order_created, set(record.order_completed)),
        "stuck_robots": len(watch.stuck_episodes),
        "max_no_progress_s": round(watch.longest(), 1),
        "stuck_robots_strict": len(watch.strict_episodes),
        "max_no_progress_strict_s": round(watch.longest_strict(), 1),
        "peak_rss_mb": round(peak_rss, 1),
        "cpu_s": cpu,
        "node_restarts": supervisor.total_restarts,
        "seed": opts.seed,
        "layout": str(opts.layout),
        "bag": str(bag_dir),
    }
    (opts.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _status_value(status: str, key: str) -> int:
    """An integer ``key=N`` field of the simulator's status line (0 if absent)."""
    for word in status.split():
        if word.startswith(f"{key}="):
            return int(word.split("=", 1)[1])
    return 0


def _log_tail(log_dir: Path, lines: int = 15) -> str:
    out = []
    for f in sorted(log_dir.glob("*.log")):
        text = f.read_text(errors="replace").strip().splitlines()
        if text:
            out.append(f"--- {f.name}\n" + "\n".join(text[-lines:]))
    return "\n".join(out)


def summary(report: dict, out: Path) -> str:
    r = report
    return "\n".join([
        f"Warehouse run: {r['robots']} robots, {r['sim_duration_s']:.0f} s simulated in "
        f"{r['wall_duration_s']:.0f} s wall (x{r['real_time_factor']:.1f}, start-up {r['startup_s']:.1f} s)",
        f"  orders      received {r['orders_received']}, completed {r['orders_completed']}, "
        f"rejected {r['orders_rejected']}",
        f"  picking     {r['order_lines_picked']} lines in {r['rack_visits']} rack visits "
        f"({r['picks_per_rack_visit']:.2f} lines/visit), {r['throughput_lines_per_hour']:.0f} lines/h",
        f"  cycle time  mean {r['mean_order_cycle_s']:.0f} s, p95 {r['p95_order_cycle_s']:.0f} s; "
        f"{r['deadline_misses']} deadline misses",
        f"  shipping    {r['parcels_shipped']} parcels ({r['consolidation_ratio']:.2f} orders/parcel), "
        f"robots busy {r['robot_utilization'] * 100:.0f} % (policy {r['policy']}), "
        f"{r['charging_events']} charges, lowest battery {r['min_battery'] * 100:.0f} %",
        f"  safety      {r['collisions']} collisions (robot centres < {r['min_distance_m']} m, "
        f"{r['odom_gaps']} odometry gaps > {MAX_ODOM_GAP_S:.0f} s not judged); "
        f"{r['robot_failures']} robot failures, {r['plan_repairs']} plan repairs, "
        f"{r['tasks_reallocated']} tasks reallocated",
        f"  slotting    {r['travel_per_rack_visit_m']:.1f} m robot travel per rack visit; forecast MASE "
        f"{r['forecast_mase']} (seasonal naive {r['forecast_seasonal_naive_mase']}); forecast there at "
        f"{r['forecast_at_s']} s sim time (rack returns random before)",
        f"  packing     {r['boxes_shipped']} boxes, {r['packaging_surface_m2']:.2f} m2 of board, mean utilisation "
        f"{r['mean_box_utilisation'] * 100:.0f} %",
        f"  planner     p99 {r['planner_p99_ms']:.1f} ms per round ({r['planner_cpu_p99_ms']:.1f} ms CPU); "
        f"peak memory {r['peak_rss_mb']:.0f} MB",
        f"  progress    {r['stuck_robots']} robots stuck > {STUCK_AFTER_S:.0f} s with a task (longest "
        f"{r['max_no_progress_s']:.0f} s; strictly, counting station-line waits: {r['stuck_robots_strict']}, "
        f"{r['max_no_progress_strict_s']:.0f} s); sim time waited {r['sim_stalls']} ticks for slow nodes",
        f"  faults      {r['faults_injected']} injected, {r['orders_lost']} orders lost; "
        f"{r['deadlocks_detected']} deadlocks detected, {r['unresolved_deadlocks']} unresolved",
        f"  written     {out / 'report.json'}, {out / 'parcels.jsonl'} and {out / 'bag'}",
    ])

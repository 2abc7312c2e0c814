"""The one description of the warehouse ROS graph, read by ``./warehouse run`` and the launch files alike.

:func:`describe` turns the arguments of a start (:class:`GraphArgs`) into the processes to start, in
order: their executables, the nodes they host (names, namespaces), the parameters they get (the
config file plus overrides), whether they are respawned, and the simulator's start gating and
speed cap as its parameters. ``./warehouse run`` (run.py, run_params.py, supervisor.py) and the
launch files of ``warehouse_bringup`` only translate it, into subprocesses or launch ``Node``
actions, so the two ways to start the graph cannot drift (tests/test_graph_description.py compares
them). Imports no ROS client library and no ``launch``: launch files import it on any distro.

Rules described here, once:

* start order: floor simulator or, with ``bases``, the base simulator (the clock), planner,
  allocator, forecaster, order source, the lifecycle manager, robots;
* bring-up: the central nodes are managed lifecycle nodes; the lifecycle manager configures them
  and activates them in the start order above (its ``node_names``; :mod:`lifecycle_plan`), and
  brings a respawned one back to active;
* start gating: the simulator waits for ``expected_nodes`` ``/clock`` subscribers (the planner,
  the allocator, the order source when started, and ``observers`` such as the run's recorder) and
  ``expected_state_readers`` ``/sim/fleet_state`` subscribers (one per robot container, one per
  robot node elsewhere, plus the observers); the config's ``wait_for_planner`` and
  ``wait_for_forecast`` hold it until the planner and the forecaster are ready;
* speed cap: ``--max-rtf`` / ``max_rtf:=``, else ``RTF_ROBOT_BUDGET / robots`` (with ``bases``:
  ``BASES_RTF_ROBOT_BUDGET / robots``), at most the simulator's configured ``real_time_factor``;
* bases (``diffdrive``): no floor simulator; one base simulator process hosts every robot's
  differential-drive base (vendor-driver topics, ground truth on ``/sim/fleet_state``) and is the
  clock; every node is on sim time and every robot node drives its base with the hardware backend
  (``BASE_ROBOT``), ``cmd_vel`` stamped or not as the distro's controllers take it; with ``nav2``
  every robot node drives its base with the ``nav2`` backend and the base simulator serves each
  base's ``FollowPath`` (a simulated Nav2 controller server);
* respawn: with a state store every central node and robot container is started again when it dies
  (:mod:`warehouse_nodes.supervisor` says what each recovers); without one none is (its state
  would be lost);
* operators' API (``api``): the ``fleet_api`` node, started last (nothing waits for it);
* paths: relative path parameters in the config file are relative to that file (:mod:`share`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from warehouse_nodes import distro
from warehouse_nodes.share import resolve_in_file, share_path

PACKAGE = "warehouse_nodes"
ROBOTS_PER_CONTAINER = 100  # robot nodes per container process
ODOM_PER_SIM_S = 250.0  # fleet odometry messages per simulated second a recorder is sized for
RTF_ROBOT_BUDGET = 750.0  # default speed cap: this / robots (500 robots: x1.5), at most the config's
RESPAWN_DELAY_S = 0.5  # [s, wall] between a death and the restart
DEFAULT_CONFIG = "config/warehouse.yaml"  # in the bringup share
DEFAULT_HARDWARE = "config/robot_hardware.yaml"
# central node -> (console script, module): in start order (the simulator is the clock)
CENTRAL = {
    "floor_simulator": ("floor_simulator", "warehouse_nodes.floor_sim_node"),
    "mapf_planner": ("mapf_planner", "warehouse_nodes.planner_node"),
    "task_allocator": ("task_allocator", "warehouse_nodes.allocator_node"),
    "forecaster": ("forecaster", "warehouse_nodes.forecaster_node"),
    "order_source": ("order_source", "warehouse_nodes.order_source_node"),
}
MANAGER = ("lifecycle_manager", "warehouse_nodes.lifecycle_manager")  # (console script, module)
API = ("fleet_api", "warehouse_nodes.api_node")  # the operators' HTTP API, started last when asked for
CLOCK_READERS = ("mapf_planner", "task_allocator", "order_source")  # the simulator waits for these on /clock
STATE_STORE_NODES = ("floor_simulator", "task_allocator", "order_source")  # nodes with a durable state store
PATH_PARAMETERS = ("layout", "boxes", "inventory_dir", "demand_history_csv")  # relative: to the file naming them
ROBOT_SECTION = "/**/robot"
COMMON = "/**"
TRUE, FALSE = ("true", "True", "1"), ("false", "False", "0")
# floor: the floor simulator; diffdrive: per-robot base simulators (cmd_vel/odom hardware backend);
# nav2: the same bases, robot nodes on the nav2 backend, the base simulator their controller servers
BASES = ("floor", "diffdrive", "nav2")
# bases: every robot node runs a 20 Hz control loop on sim time and every base a 20 Hz physics step,
# so the default speed cap is this / robots (20 robots: x2), at most the base simulator's config
BASES_RTF_ROBOT_BUDGET = 40.0
BASES_NODE_LAG_S = 0.15  # [s, sim] the base simulator waits for a robot node's control this far behind (3 periods)
BASE_SIMULATOR = ("base_simulator", "warehouse_nodes.base_sim_node")  # (console script, module)
# what a robot node on a simulated vendor base reads: the driver's battery, rack sensor, stop and
# lift/dock action, and its localisation (warehouse_nodes.base_sim_node publishes them all)
BASE_ROBOT = {"drive_backend": "gazebo", "base_inputs": "battery,rack,stop,operations",
              "localisation_topic": "amcl_pose"}


@dataclass(frozen=True)
class GraphArgs:
    """What a start asks for. ``None``/empty: the config's value."""

    config: Path  # the parameter file (absolute)
    robots: int | None = None
    seed: int | None = None
    layout: str = ""  # semantic layout file; empty: the config's
    use_sim_time: bool | None = None
    state_store: str = ""  # durable state file; empty: state in memory only, and no respawn
    floor_sim: bool = True  # start the floor simulator
    order_source: bool = True  # start the seeded order source
    robot_processes: str = "containers"  # containers | nodes (one process per robot) | remote (started elsewhere)
    robot_files: tuple[str, ...] = ()  # more parameter files of the robot nodes (the AMR's hardware)
    observers: int = 0  # more /clock and /sim/fleet_state subscribers the simulator waits for (a recorder)
    max_rtf: float | None = None  # the simulator's speed cap; None: RTF_ROBOT_BUDGET / robots, at most the config's
    policy: str = ""  # task_allocator.policy; empty: the config's
    orders_per_hour: float | None = None
    bases: str = "floor"  # BASES: diffdrive or nav2 start base simulators (the clock) instead of the floor simulator
    api: dict | None = None  # start the operators' HTTP API (fleet_api) with these parameters (host, port, token_file)


@dataclass(frozen=True)
class Process:
    """One process to start: a console script of ``warehouse_nodes`` (or ``python -m module``)."""

    key: str  # unique: the node's name, or robots_<first> for a robot container
    executable: str
    module: str
    arguments: tuple[str, ...]  # before --ros-args
    name: str  # the node name launch gives it; "" for a container (it names its nodes itself)
    namespace: str
    nodes: tuple[str, ...]  # fully qualified names of the nodes it hosts
    section: str  # its nodes' section in the parameter file
    overrides: dict  # parameters on top of the config file (and of ``files``), for its nodes
    files: tuple[str, ...] = ()  # parameter files after the config
    respawn: bool = False


@dataclass(frozen=True)
class Graph:
    """The processes of one start, in start order, and the config file they all read."""

    config: Path
    common: dict  # overrides for every node (the ``/**`` section)
    processes: tuple[Process, ...] = field(default_factory=tuple)

    def process(self, key: str) -> Process:
        return next(p for p in self.processes if p.key == key)

    def parameters(self, process: Process) -> dict:
        """Every override ``process``'s nodes get: the common ones, then its own."""
        return {**self.common, **process.overrides}

    def sections(self) -> dict[str, dict]:
        """The overrides by parameter-file section: ``/**``, then each node's (a params document's order)."""
        out = {COMMON: dict(self.common)}
        for p in self.processes:
            out.setdefault(p.section, {}).update(p.overrides)
        return out


def flag(text: str | bool, name: str) -> bool:
    """A boolean argument: true/True/1 or false/False/0; a ValueError names the argument otherwise."""
    if isinstance(text, bool):
        return text
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{name}:={text!r} is not a boolean: give true/True/1 or false/False/0")


def read_params(config: Path) -> dict:
    """The params document of ``config`` (node sections of ``ros__parameters``)."""
    with open(config) as f:
        return yaml.safe_load(f) or {}


def configured(doc: dict, section: str, key: str):
    """What ``section``'s nodes get for ``key`` from ``doc``: their section, else ``/**``, else
    the node's typed default (imported only then: it needs rclpy's message types)."""
    own = doc.get(section, {}).get("ros__parameters", {})
    common = doc.get(COMMON, {}).get("ros__parameters", {})
    if key in own:
        return own[key]
    if key in common:
        return common[key]
    from warehouse_nodes.configs import NODE_CONFIGS
    from warehouse_nodes.params import default_of
    return default_of(NODE_CONFIGS[section], key)


def speed_cap(max_rtf: float | None, robots: int, configured_rtf: float, budget: float = RTF_ROBOT_BUDGET) -> float:
    """The simulator's real-time-factor cap (sim s per wall s; 0: none).

    Default: ``RTF_ROBOT_BUDGET / robots``, at most the config's ``real_time_factor``. A run as
    fast as two cores allow keeps every process runnable, so the planner waits for a core
    (its wall-time p99 was 5x its CPU time at 500 robots); the cap leaves headroom and the
    simulator waits instead (500 robots: x1.5, 100: x7.5)."""
    if max_rtf is None:
        auto = budget / robots
        return min(auto, configured_rtf) if configured_rtf > 0 else auto
    return float(max_rtf)


def _path_overrides(doc: dict, config: Path, section: str) -> dict:
    """Path parameters of ``section``'s nodes that the config file gives relative: absolute, against the file."""
    values = doc.get(section, {}).get("ros__parameters", {})
    return {key: resolve_in_file(value, config) for key, value in values.items()
            if key in PATH_PARAMETERS and isinstance(value, str) and value and not Path(value).is_absolute()}


def relocatable(doc: dict, config: Path) -> dict:
    """A copy of the config ``doc`` read from ``config`` whose relative path parameters are absolute,
    so it can be changed and written anywhere else (tests, benchmarks, a site's own copy)."""
    out = copy.deepcopy(doc)
    for section in out:
        values = out[section].get("ros__parameters") if isinstance(out[section], dict) else None
        if isinstance(values, dict):
            values.update(_path_overrides(out, config, section))
    return out


def load_relocatable(config: Path) -> dict:
    """:func:`relocatable` of the YAML file ``config``."""
    return relocatable(yaml.safe_load(Path(config).read_text()), Path(config))


def _common(args: GraphArgs, doc: dict) -> dict:
    common = _path_overrides(doc, args.config, COMMON)
    if args.robots is not None:
        common["robots"] = args.robots
    if args.seed is not None:
        common["seed"] = args.seed
    if args.use_sim_time is not None:
        common["use_sim_time"] = args.use_sim_time
    if args.layout:
        common["layout"] = str(Path(args.layout).resolve())
    return common


def robot_count(args: GraphArgs, doc: dict) -> int:
    """The fleet size: the argument, else the config's, else the nodes' default."""
    return int(args.robots if args.robots is not None else configured(doc, "floor_simulator", "robots"))


def _own(args: GraphArgs, doc: dict, section: str, common: dict, extra: dict) -> dict:
    """A process's own overrides: resolved paths, a common override its config section would
    otherwise beat, its state store, then ``extra``."""
    own = _path_overrides(doc, args.config, section)
    section_keys = doc.get(section, {}).get("ros__parameters", {})
    own.update({k: v for k, v in common.items() if k in section_keys})
    if args.state_store and section in STATE_STORE_NODES:
        own["state_store"] = args.state_store
    own.update(extra)
    return own


def _central(args: GraphArgs, doc: dict, common: dict, robots: int, readers: int) -> list[Process]:
    started = [n for n in CENTRAL if (n != "floor_simulator" or args.floor_sim)
               and (n != "order_source" or args.order_source)]
    extra: dict[str, dict] = {n: {} for n in started}
    if args.floor_sim:
        cap = speed_cap(args.max_rtf, robots, float(configured(doc, "floor_simulator", "real_time_factor")))
        extra["floor_simulator"] = {
            "use_sim_time": False,  # the simulator is the clock
            "real_time_factor": cap,
            "expected_nodes": sum(n in started for n in CLOCK_READERS) + args.observers,
            "expected_state_readers": readers + args.observers,
        }
    for n in started:
        extra[n]["managed"] = True  # the lifecycle manager brings it up
    if args.policy:
        extra["task_allocator"]["policy"] = args.policy
    if args.orders_per_hour is not None and args.order_source:
        extra["order_source"]["orders_per_hour"] = float(args.orders_per_hour)
    out = [Process(n, CENTRAL[n][0], CENTRAL[n][1], (), n, "", (f"/{n}",), n,
                   _own(args, doc, n, common, extra[n]), respawn=bool(args.state_store)) for n in started]
    # the manager holds no state: respawned like the nodes it manages
    manager = {"node_names": started}  # autostart: the config's (default true)
    return out + [Process(MANAGER[0], MANAGER[0], MANAGER[1], (), MANAGER[0], "", (f"/{MANAGER[0]}",), MANAGER[0],
                          _own(args, doc, MANAGER[0], common, manager), respawn=bool(args.state_store))]


def _base_simulator(args: GraphArgs, doc: dict, common: dict, robots: int) -> Process:
    """The base simulator of every robot (one process, the clock): it waits for the central
    ``/clock`` readers, every robot node (on sim time) and the observers; held by the planner as the
    floor simulator is, and by a robot node whose control falls behind (``BASES_NODE_LAG_S``: with
    stamped ``cmd_vel``). Not for the planner's first release: robot nodes on sim time report only
    once time runs, and the planner starts on their reports."""
    section = BASE_SIMULATOR[0]
    cap = speed_cap(args.max_rtf, robots, float(configured(doc, section, "real_time_factor")),
                    BASES_RTF_ROBOT_BUDGET)
    readers = sum(n in CLOCK_READERS for n in CENTRAL if n != "order_source" or args.order_source)
    robot_nodes = robots if args.robot_processes != "remote" else 0
    # publish_clock: it is the clock (the node sets its own use_sim_time false)
    extra = {"publish_clock": True, "real_time_factor": cap,
             "expected_nodes": readers + robot_nodes + args.observers, "wait_for_planner": False,
             "max_planner_lag": float(configured(doc, "floor_simulator", "max_planner_lag")),
             "max_node_lag": BASES_NODE_LAG_S,
             "cmd_vel_stamped": distro.cmd_vel_stamped(), "follow_path_servers": args.bases == "nav2"}
    return Process(section, BASE_SIMULATOR[0], BASE_SIMULATOR[1], (), section, "", (f"/{section}",), section,
                   _own(args, doc, section, common, extra))


def _robots(args: GraphArgs, doc: dict, common: dict, robots: int) -> list[Process]:
    """Robot containers (ROBOTS_PER_CONTAINER robots each) or one process per robot."""
    odom = max(float(configured(doc, ROBOT_SECTION, "odom_period")), robots / ODOM_PER_SIM_S)
    # a recorder keeps up with a few hundred odometry messages per simulated second: large fleets
    # publish odometry less often (collisions are judged on the simulator's ground truth)
    hardware = {**BASE_ROBOT, "cmd_vel_stamped": distro.cmd_vel_stamped()} if args.bases != "floor" else {}
    if args.bases == "nav2":
        hardware["drive_backend"] = "nav2"
    own = _own(args, doc, ROBOT_SECTION, common, {"odom_period": odom, **hardware})
    respawn = bool(args.state_store)
    if args.robot_processes == "nodes":
        return [Process(f"robot_{i}", "robot", "warehouse_nodes.robot_node", (), "robot", f"robot_{i}",
                        (f"/robot_{i}/robot",), ROBOT_SECTION, own, args.robot_files, respawn)
                for i in range(robots)]
    out = []
    for first in range(0, robots, ROBOTS_PER_CONTAINER):
        count = min(ROBOTS_PER_CONTAINER, robots - first)
        nodes = tuple(f"/robot_{i}/robot" for i in range(first, first + count))
        out.append(Process(f"robots_{first}", "robot_container", "warehouse_nodes.robot_container",
                           ("--first", str(first), "--count", str(count)), "", "", nodes, ROBOT_SECTION, own,
                           args.robot_files, respawn))
    return out


def describe(args: GraphArgs) -> Graph:
    """The processes ``args`` start, in start order, with their parameters, gating and respawn."""
    if args.robot_processes not in ("containers", "nodes", "remote"):
        raise ValueError(f"robot_processes {args.robot_processes!r}: containers, nodes or remote")
    if args.bases not in BASES:
        raise ValueError(f"bases {args.bases!r}: {' or '.join(BASES)}")
    if args.bases != "floor":  # the bases are the floor, and the clock
        args = replace(args, floor_sim=False, use_sim_time=True)
    doc = read_params(args.config)
    common = _common(args, doc)
    robots = robot_count(args, doc)
    containers = len(range(0, robots, ROBOTS_PER_CONTAINER))
    readers = containers if args.robot_processes == "containers" else robots
    processes = [_base_simulator(args, doc, common, robots)] if args.bases != "floor" else []
    processes += _central(args, doc, common, robots, readers)
    if args.robot_processes != "remote":
        processes += _robots(args, doc, common, robots)
    if args.api is not None:
        processes.append(Process(API[0], API[0], API[1], (), API[0], "", (f"/{API[0]}",), API[0],
                                 _own(args, doc, API[0], common, dict(args.api)), respawn=bool(args.state_store)))
    return Graph(args.config, common, tuple(processes))


def default_config() -> Path:
    """The installed ``config/warehouse.yaml`` (the bringup share)."""
    return share_path(DEFAULT_CONFIG)

"""What ``./warehouse run`` passes to its nodes: the --config file with the run's own overrides.

The run's command line (and its scenario) sets robots, seed, layout and, when given, the policy and
the order rate; a few values follow from what the run starts (robot containers, the durable store
in the run directory, the recorder's odometry budget, the real-time-factor cap). ``RUN_OVERRIDES``
lists them all with the reason; every other parameter keeps the config file's value, or the node's
typed default (:mod:`warehouse_nodes.configs`) where the file has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from warehouse_core.errors import InputError, read_yaml_file
from warehouse_core.sim.scenario import Scenario
from warehouse_nodes.config_check import FORECASTER_KEYS, as_declared, check_sections, check_value
from warehouse_nodes.configs import NODE_CONFIGS, OrderSourceConfig
from warehouse_nodes.graph import (  # noqa: F401 (ROBOTS_PER_CONTAINER, ... are read from here too)
    ODOM_PER_SIM_S,
    ROBOTS_PER_CONTAINER,
    RTF_ROBOT_BUDGET,
    Graph,
    GraphArgs,
    describe,
    speed_cap,
)
from warehouse_nodes.params import default_of
from warehouse_nodes.run_faults import apply_scenario
from warehouse_nodes.share import resolve_in_file, share_path

STATE_FILE = "state.db"  # the run's durable state (orders, tasks), in the run directory


@dataclass(frozen=True)
class RunOptions:
    """One run as its command line (and scenario) asked for it."""

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
    max_rtf: float | None = None  # None: max_rtf()'s default; 0: as fast as the machine allows
    scenario: Scenario | None = None  # faults to inject and parameter overrides (--scenario)
    sample_every: float = 0.0  # [s, sim] memory and throughput samples into DIR/timeline.jsonl (0: none)
    bag_odom: bool = True  # record every robot's /<robot>/map_pose (off: the ground truth alone, see docs/running.md)
    bag_frames: bool = False  # also every robot's /<robot>/odom and /<robot>/map_to_odom (--bag-odom full)
    bases: str = "floor"  # floor: the floor simulator; diffdrive: simulated vendor bases (graph.BASES)
    api: dict | None = None  # --api: the fleet_api node's host, port and token_file; None: no API


# What `./warehouse run` writes over the --config file, and why: its command line, or what follows from
# it and from the processes it starts (the graph description, warehouse_nodes.graph, computes them for
# the launch files too); nothing else (tests/test_config_single_source.py checks it).
# A --scenario's `params` are applied on top, as the scenario file says.
RUN_OVERRIDES = {
    "/**.robots": "--robots, else the scenario's, else the config's",
    "/**.seed": "--seed, else the scenario's, else the config's",
    "/**.layout": "--map, else the scenario's, else the config's (as an absolute path)",
    "task_allocator.policy": "--policy, only when given",
    "order_source.orders_per_hour": "--orders-per-hour or the scenario's, only when given",
    "/**/robot.odom_period": "at least robots / ODOM_PER_SIM_S: the odometry rate the recorder keeps up with",
    "task_allocator.boxes": "the configured file as an absolute path (relative ones are from the config file)",
    "floor_simulator.real_time_factor": "--max-rtf, else RTF_ROBOT_BUDGET / robots, at most the config's",
    "floor_simulator.expected_nodes": "the /clock subscribers it starts: planner, allocator, order source, monitor",
    "floor_simulator.expected_state_readers": "its robot containers (ROBOTS_PER_CONTAINER robots each) and monitor",
    "task_allocator.state_store": "DIR/state.db (--out): a restarted allocator resumes from it",
    "order_source.state_store": "DIR/state.db (--out): a restarted order source resumes from it",
    "floor_simulator.state_store": "DIR/state.db (--out): a restarted simulator resumes the floor from it",
    "fleet_api.host": "--api-host (with --api)",
    "fleet_api.port": "--api-port (with --api)",
    "fleet_api.token_file": "--api-token-file, else DIR/api_token made by the run (--api without WAREHOUSE_API_TOKEN)",
    "lifecycle_manager.node_names": "the central nodes it starts, in bring-up order (the graph description's)",
    "floor_simulator.managed": "true: the lifecycle manager brings it up",
    "mapf_planner.managed": "true: the lifecycle manager brings it up",
    "task_allocator.managed": "true: the lifecycle manager brings it up",
    "forecaster.managed": "true: the lifecycle manager brings it up",
    "order_source.managed": "true: the lifecycle manager brings it up",
    # --bases diffdrive (the graph description's BASE_ROBOT and _base_simulator; it also sets /**
    # use_sim_time true, as config/warehouse.yaml does: every node follows the base simulator's clock)
    "/**/robot.drive_backend": "--bases diffdrive: gazebo, the cmd_vel/odom path tracker of a hardware base; "
                               "--bases nav2: nav2",
    "/**/robot.base_inputs": "--bases diffdrive: battery,rack,stop,operations, all the simulated base provides",
    "/**/robot.localisation_topic": "--bases diffdrive: amcl_pose, the simulated base's localisation",
    "/**/robot.cmd_vel_stamped": "--bases diffdrive: what the distro's controllers take (warehouse_nodes.distro)",
    "base_simulator.publish_clock": "--bases diffdrive: true, it is the clock",
    "base_simulator.real_time_factor": "--max-rtf, else BASES_RTF_ROBOT_BUDGET / robots, at most the config's",
    "base_simulator.expected_nodes": "--bases diffdrive: planner, allocator, order source, robot nodes, monitor",
    "base_simulator.wait_for_planner": "--bases diffdrive: false, robot nodes on sim time report once time runs",
    "base_simulator.max_planner_lag": "--bases diffdrive: the floor simulator's, the planner holds time alike",
    "base_simulator.follow_path_servers": "--bases nav2: true, it plays each base's Nav2 controller server",
    "base_simulator.max_node_lag": "--bases diffdrive: BASES_NODE_LAG_S, time waits for a robot node's control loop",
    "base_simulator.cmd_vel_stamped": "--bases diffdrive: what the distro's controllers take (warehouse_nodes.distro)",
}


def read_config(config: Path) -> dict:
    """The ROS 2 params file ``config`` (keyed by node name), checked; errors name the file."""
    _, doc = read_yaml_file(config, "config", fix="pass a ROS 2 params YAML with --config")
    if not isinstance(doc, dict) or "/**" not in doc:
        raise InputError(str(config), "no '/**: ros__parameters:' section",
                         fix="start from config/warehouse.yaml")
    for key, section in doc.items():
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters"), dict):
            raise InputError(str(config), f"section {key!r} is not a 'ros__parameters:' mapping",
                             fix="give every node section a ros__parameters mapping (see config/warehouse.yaml)")
    check_sections({key: section["ros__parameters"] for key, section in doc.items()}, str(config))
    return doc


def configured(doc: dict, node: str, key: str, config: Path):
    """What node ``node`` (a section name of NODE_CONFIGS) gets for parameter ``key`` from the params
    ``doc``: its own section, else ``/**``, else its typed default. An InputError on a wrong type."""
    default = default_of(NODE_CONFIGS[node], key)
    common = doc.get("/**", {}).get("ros__parameters", {})
    value = doc.get(node, {}).get("ros__parameters", {}).get(key, common.get(key, default))
    kinds = (int, float) if isinstance(default, float) else type(default)
    if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, kinds):
        raise InputError(str(config), f"{node}.{key}: {value!r} has the wrong type", fix=f"give it like {default!r}")
    return value


def run_defaults(config: Path) -> dict:
    """robots, seed and layout from ``config`` (else the nodes' defaults): what a run uses when
    neither its command line nor its scenario sets them."""
    doc = read_config(config)
    out = {key: configured(doc, "floor_simulator", key, config) for key in ("robots", "seed", "layout")}
    # a layout the file names is relative to the file; the nodes' default, to the bringup share
    named = any("layout" in doc.get(s, {}).get("ros__parameters", {}) for s in ("/**", "floor_simulator"))
    out["layout"] = resolve_in_file(out["layout"], config) if named else str(share_path(out["layout"]))
    return out


def graph_args(opts: RunOptions) -> GraphArgs:
    """The graph description's arguments of this run: its command line, its durable store, and the
    run monitor as the one observer the simulator waits for (/clock and /sim/fleet_state)."""
    return GraphArgs(config=opts.config, robots=opts.robots, seed=opts.seed, layout=str(opts.layout),
                     state_store=str(opts.out / STATE_FILE), observers=1, max_rtf=checked_max_rtf(opts),
                     policy=opts.policy, orders_per_hour=opts.orders_per_hour, bases=opts.bases, api=opts.api)


def run_graph(opts: RunOptions) -> Graph:
    """The processes of this run (:func:`warehouse_nodes.graph.describe`)."""
    return describe(graph_args(opts))


def write_params(opts: RunOptions) -> tuple[Path, dict]:
    """The config file with this run's overrides (RUN_OVERRIDES), as a params file for every node."""
    doc = read_config(opts.config)
    move_forecast_keys(doc)
    if opts.orders_per_hour is not None:
        check_value(OrderSourceConfig, "orders_per_hour", opts.orders_per_hour, "--orders-per-hour")
        if not opts.orders_per_hour > 0:
            raise InputError("--orders-per-hour", f"{opts.orders_per_hour} is not a positive rate",
                             fix="give orders per hour > 0")
    # the values the graph computes with, refused here naming the file if mistyped
    configured(doc, "/**/robot", "odom_period", opts.config)
    configured(doc, "floor_simulator", "real_time_factor", opts.config)
    configured(doc, "task_allocator", "boxes", opts.config)
    for section, values in run_graph(opts).sections().items():
        doc.setdefault(section, {}).setdefault("ros__parameters", {}).update(values)
    boxes = doc["task_allocator"]["ros__parameters"]
    if "boxes" not in boxes:  # the nodes' default: a file of the bringup share
        boxes["boxes"] = str(share_path(default_of(NODE_CONFIGS["task_allocator"], "boxes")))
    if opts.scenario is not None:
        check_sections(opts.scenario.params, opts.scenario.source, "params.")
        apply_scenario(doc, opts.scenario)
    as_declared({key: section["ros__parameters"] for key, section in doc.items()})
    path = opts.out / "params.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, doc


def checked_max_rtf(opts: RunOptions) -> float | None:
    """``--max-rtf``, refused unless a factor >= 0; None: the graph's default speed cap
    (:func:`warehouse_nodes.graph.speed_cap`)."""
    if opts.max_rtf is not None and not opts.max_rtf >= 0:
        raise InputError("--max-rtf", f"{opts.max_rtf} is not a real-time factor",
                         fix="give a factor > 0, or 0 for as fast as possible")
    return opts.max_rtf


def max_rtf(opts: RunOptions, configured: float) -> float:
    """The simulator's real-time-factor cap for ``--max-rtf`` (:func:`warehouse_nodes.graph.speed_cap`)."""
    return speed_cap(checked_max_rtf(opts), opts.robots, configured)


def move_forecast_keys(doc: dict) -> None:
    """Forecast settings of a config written before the forecaster node (under ``task_allocator``)
    go to the ``forecaster`` section, unless that section sets them itself."""
    allocator = doc.get("task_allocator", {}).get("ros__parameters", {})
    forecaster = doc.setdefault("forecaster", {}).setdefault("ros__parameters", {})
    for key in FORECASTER_KEYS:
        if key in allocator:
            forecaster.setdefault(key, allocator.pop(key))

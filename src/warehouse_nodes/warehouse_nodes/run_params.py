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
from warehouse_nodes.params import default_of
from warehouse_nodes.run_faults import apply_scenario
from warehouse_nodes.supervisor import RESPAWN

ROBOTS_PER_CONTAINER = 100  # robot nodes per container process
ODOM_PER_SIM_S = 250.0  # fleet odometry messages per simulated second the recorder is sized for
RTF_ROBOT_BUDGET = 750.0  # default --max-rtf: this / robots (500 robots: x1.5), at most the config's
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
    bag_odom: bool = True  # record every robot's /<robot>/odom (off: the ground truth alone, see docs/running.md)


# What `./warehouse run` writes over the --config file, and why: its command line, or what follows from
# it and from the processes it starts; nothing else (tests/test_config_single_source.py checks it).
# A --scenario's `params` are applied on top, as the scenario file says.
RUN_OVERRIDES = {
    "/**.robots": "--robots, else the scenario's, else the config's",
    "/**.seed": "--seed, else the scenario's, else the config's",
    "/**.layout": "--map, else the scenario's, else the config's (as an absolute path)",
    "task_allocator.policy": "--policy, only when given",
    "order_source.orders_per_hour": "--orders-per-hour or the scenario's, only when given",
    "/**/robot.odom_period": "at least robots / ODOM_PER_SIM_S: the odometry rate the recorder keeps up with",
    "task_allocator.boxes": "the configured file as an absolute path (relative ones are from the repository)",
    "floor_simulator.real_time_factor": "--max-rtf, else RTF_ROBOT_BUDGET / robots, at most the config's",
    "floor_simulator.expected_nodes": "the /clock subscribers it starts: planner, allocator, order source, monitor",
    "floor_simulator.expected_state_readers": "its robot containers (ROBOTS_PER_CONTAINER robots each) and monitor",
    "task_allocator.state_store": "DIR/state.db (--out): a restarted allocator resumes from it",
    "order_source.state_store": "DIR/state.db (--out): a restarted order source resumes from it",
    "floor_simulator.state_store": "DIR/state.db (--out): a restarted simulator resumes the floor from it",
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
    return {key: configured(doc, "floor_simulator", key, config) for key in ("robots", "seed", "layout")}


def write_params(opts: RunOptions) -> tuple[Path, dict]:
    """The config file with this run's overrides (RUN_OVERRIDES), as a params file for every node."""
    doc = read_config(opts.config)
    common = doc["/**"].setdefault("ros__parameters", {})
    common.update(robots=opts.robots, seed=opts.seed, layout=str(opts.layout))
    allocator = doc.setdefault("task_allocator", {}).setdefault("ros__parameters", {})
    move_forecast_keys(doc)
    if opts.policy:
        allocator["policy"] = opts.policy
    if opts.orders_per_hour is not None:
        check_value(OrderSourceConfig, "orders_per_hour", opts.orders_per_hour, "--orders-per-hour")
        if not opts.orders_per_hour > 0:
            raise InputError("--orders-per-hour", f"{opts.orders_per_hour} is not a positive rate",
                             fix="give orders per hour > 0")
        doc.setdefault("order_source", {}).setdefault("ros__parameters", {})["orders_per_hour"] = \
            float(opts.orders_per_hour)
    # the recorder (Python) keeps up with a few hundred odometry messages per simulated second:
    # large fleets publish odometry less often (collisions are judged on the simulator's ground
    # truth, recorded every tick, so they are not affected)
    robot = doc.setdefault("/**/robot", {}).setdefault("ros__parameters", {})
    robot["odom_period"] = max(float(configured(doc, "/**/robot", "odom_period", opts.config)),
                               opts.robots / ODOM_PER_SIM_S)
    boxes = Path(configured(doc, "task_allocator", "boxes", opts.config))
    allocator["boxes"] = str(boxes if boxes.is_absolute() else opts.root / boxes)
    sim = doc.setdefault("floor_simulator", {}).setdefault("ros__parameters", {})
    sim["real_time_factor"] = max_rtf(opts, float(configured(doc, "floor_simulator", "real_time_factor",
                                                             opts.config)))
    sim["expected_nodes"] = 4  # /clock: planner, allocator, order source, monitor
    if opts.scenario is not None:
        check_sections(opts.scenario.params, opts.scenario.source, "params.")
        apply_scenario(doc, opts.scenario)
    for node in sorted(RESPAWN):  # durable state: a restarted allocator or order source resumes from it
        if "state_store" in NODE_CONFIGS[node].__dataclass_fields__:
            doc.setdefault(node, {}).setdefault("ros__parameters", {})["state_store"] = str(opts.out / STATE_FILE)
    # /sim/fleet_state: every robot container (it subscribes once all its robots exist), monitor
    sim["expected_state_readers"] = len(range(0, opts.robots, ROBOTS_PER_CONTAINER)) + 1
    as_declared({key: section["ros__parameters"] for key, section in doc.items()})
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


def move_forecast_keys(doc: dict) -> None:
    """Forecast settings of a config written before the forecaster node (under ``task_allocator``)
    go to the ``forecaster`` section, unless that section sets them itself."""
    allocator = doc.get("task_allocator", {}).get("ros__parameters", {})
    forecaster = doc.setdefault("forecaster", {}).setdefault("ros__parameters", {})
    for key in FORECASTER_KEYS:
        if key in allocator:
            forecaster.setdefault(key, allocator.pop(key))

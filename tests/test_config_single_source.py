"""One source of truth for every node parameter.

A parameter's default is written once, in its node's typed config (warehouse_nodes.configs). These
tests fail when another place silently disagrees with it:

* ``config/*.yaml``: a value that differs from the default must be marked ``# override:`` on its
  line (and a marked value must really differ, so the markers stay honest);
* nodes declaring the same parameter share one default;
* core configs the nodes fill in (OpsConfig, Kinematics, ...) differ from the node defaults only
  where CORE_DIFFERENCES below says why;
* the launch files' arguments either leave a parameter to the config (empty default) or give
  its configured value, or are marked ``# override:`` on the line above;
* ``./warehouse run`` changes only the keys of RUN_OVERRIDES, and --policy / --orders-per-hour only
  when given;
* every parameter has a description and a range that holds its default; over real rclpy a node's
  parameters are described and read-only (``ros2 param set`` is refused).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
from pathlib import Path

import pytest
import yaml

from warehouse_core.errors import InputError
from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.ops.forecast import ForecastConfig
from warehouse_core.ops.operations import OpsConfig
from warehouse_core.ops.orders import DemandModel
from warehouse_core.robot.path_tracker import TrackerConfig
from warehouse_core.sim.floor_sim import Battery, Kinematics
from warehouse_nodes.config_check import ROS_PARAMETERS
from warehouse_nodes.configs import (
    NODE_CONFIGS,
    AllocatorConfig,
    FloorSimConfig,
    ForecasterConfig,
    OrderSourceConfig,
    PlannerConfig,
    RobotConfig,
)
from warehouse_nodes.params import declarations, default_of
from warehouse_nodes.run_params import RUN_OVERRIDES, RunOptions, run_defaults, write_params

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "warehouse.yaml"
HARDWARE = ROOT / "config" / "robot_hardware.yaml"
NOT_TYPED = ROS_PARAMETERS  # rclpy's own parameters, declared by every node
OVERRIDE = "# override:"

# Core defaults (library API, unit tests, benchmarks) that differ from the node's, and why.
# core class -> ({core field: node field}, node config, {core field: reason it differs})
CORE = {
    OpsConfig: ({}, AllocatorConfig, {
        "seed": "the library seeds 0; the stack shares one seed (42) for starts, catalogue and demand",
        "park_after": "a bare WarehouseOps never parks (unit tests keep robots where they finish); the "
                      "allocator parks idle robots under class-A racks",
        "replenish_every": "a bare WarehouseOps never restocks; long runs of the stack would sell out",
    }),
    Kinematics: ({}, FloorSimConfig, {}),
    Battery: ({"charge_per_s": "charge_rate"}, FloorSimConfig, {}),
    TrackerConfig: ({"max_angular_accel": "max_angular_acceleration", "latency": "actuation_latency"},
                    RobotConfig, {}),
    ForecastConfig: ({"model": "forecast_model", "horizon": "forecast_horizon", "ets_model": "forecast_ets_model",
                      "smooth": "forecast_smooth"}, ForecasterConfig, {
        "ets_model": "the library's ZZZ chooses the ETS form automatically; the node's ANA is ~15x faster",
        "smooth": "the library compares ets and theta; the node's seasonal_es is ~100x faster than ets",
    }),
    DemandModel: ({}, OrderSourceConfig, {}),
    FleetPlanner: ({"window": "window_steps", "lookahead": "lookahead_steps", "avoid_stations": "avoid_station_cells"},
                   PlannerConfig, {"seed": "the library seeds 0; the stack shares one seed (42)"}),
}


def _same(a, b) -> bool:
    if isinstance(a, tuple):  # a core tuple of names is a comma list parameter
        a = ",".join(a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-4)  # the YAML's 1.5708 is pi/2
    return a == b


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _yaml_lines(path: Path) -> dict[tuple[str, str], str]:
    """(section, key) -> the text of the key's line, for the ``ros__parameters`` keys of a params file."""
    out, section = {}, ""
    for line in path.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            section = line.split(":")[0].strip().strip("'\"")
        elif line.startswith("    ") and not line[4].isspace() and not line.lstrip().startswith("#"):
            out[(section, line.split(":")[0].strip())] = line
    return out


def _declaring(name: str) -> list[type]:
    return [cls for cls in NODE_CONFIGS.values() if name in _fields(cls)]


def test_the_yaml_line_scanner_finds_every_key():
    for path in (CONFIG, HARDWARE):
        doc = yaml.safe_load(path.read_text())
        keys = {(s, k) for s, sec in doc.items() for k in sec["ros__parameters"]}
        assert set(_yaml_lines(path)) == keys


@pytest.mark.parametrize("path", [CONFIG, HARDWARE], ids=lambda p: p.name)
def test_every_config_value_is_the_typed_default_or_a_marked_override(path):
    doc = yaml.safe_load(path.read_text())
    lines = _yaml_lines(path)
    problems = []
    for section, body in doc.items():
        for key, value in body["ros__parameters"].items():
            if key in NOT_TYPED:
                continue
            classes = _declaring(key) if section == "/**" else [NODE_CONFIGS[section]]
            assert classes and all(key in _fields(c) for c in classes), f"{section}.{key} is declared by no node"
            differs = [c.__name__ for c in classes if not _same(default_of(c, key), value)]
            marked = OVERRIDE in lines[(section, key)]
            if differs and not marked:
                problems.append(f"{section}.{key}: {value!r} is not the default of {differs} and not marked "
                                f"'{OVERRIDE} <why>'")
            if marked and not differs:
                problems.append(f"{section}.{key}: marked as an override but it is the default")
    assert not problems, "\n".join(problems)


def test_a_parameter_of_several_nodes_has_one_default():
    by_name: dict[str, set] = {}
    for cls in NODE_CONFIGS.values():
        for f in dataclasses.fields(cls):
            by_name.setdefault(f.name, set()).add(repr(default_of(cls, f.name)))
    assert {name: d for name, d in by_name.items() if len(d) > 1} == {}


@pytest.mark.parametrize("cls", list(NODE_CONFIGS.values()), ids=lambda c: c.__name__)
def test_every_parameter_is_described_and_its_default_in_range(cls):
    for d in declarations(cls):
        assert len(d.descriptor.description) > 10, f"{cls.__name__}.{d.name}: no description"
        assert d.descriptor.read_only, f"{cls.__name__}.{d.name}: settings are read once, at start"
        for r in [*d.descriptor.floating_point_range, *d.descriptor.integer_range]:
            assert r.from_value <= d.default <= r.to_value, f"{cls.__name__}.{d.name}: default outside its range"


def test_core_configs_differ_from_the_node_defaults_only_where_said_why():
    problems = []
    for core, (renamed, node_cls, allowed) in CORE.items():
        params = inspect.signature(core).parameters
        for name, p in params.items():
            node_name = renamed.get(name, name)
            if p.default is inspect.Parameter.empty or node_name not in _fields(node_cls):
                continue
            same = _same(p.default, default_of(node_cls, node_name))
            if not same and name not in allowed:
                problems.append(f"{core.__name__}.{name} = {p.default!r} but {node_cls.__name__}.{node_name} = "
                                f"{default_of(node_cls, node_name)!r}")
            if same and name in allowed:
                problems.append(f"{core.__name__}.{name}: listed as differing, but it agrees now")
        unknown = set(allowed) - set(params)
        assert not unknown, f"CORE lists {unknown}: not parameters of {core.__name__}"
    assert not problems, "\n".join(problems)


def test_every_ops_setting_is_a_parameter_of_the_allocator():
    """The allocator builds OpsConfig by name from its own config: none of it may fall back to a core default."""
    assert _fields(OpsConfig) <= _fields(AllocatorConfig)


def _flat(doc: dict) -> dict[str, object]:
    return {f"{s}.{k}": v for s, sec in doc.items() for k, v in sec["ros__parameters"].items()}


def _run_params(tmp_path: Path, **options) -> dict[str, object]:
    opts = RunOptions(robots=options.pop("robots", 20), duration=60.0, seed=options.pop("seed", 42),
                      layout=ROOT / "maps" / "warehouse_layout.yaml", config=CONFIG, out=tmp_path, root=ROOT,
                      **options)
    path, _ = write_params(opts)
    return _flat(yaml.safe_load(path.read_text()))


def test_the_runner_changes_only_its_documented_overrides(tmp_path):
    configured = _flat(yaml.safe_load(CONFIG.read_text()))
    for options in ({}, {"robots": 500, "seed": 7, "policy": "baseline", "orders_per_hour": 900.0, "max_rtf": 3.0},
                    {"robots": 4, "bases": "diffdrive"}):
        written = _run_params(tmp_path, **options)
        changed = {k for k, v in written.items() if configured.get(k, "<absent>") != v}
        assert changed <= set(RUN_OVERRIDES), f"{options}: undocumented changes {changed - set(RUN_OVERRIDES)}"
    plain = _run_params(tmp_path)
    assert plain["task_allocator.policy"] == configured["task_allocator.policy"]  # no --policy: the config's
    assert plain["order_source.orders_per_hour"] == configured["order_source.orders_per_hour"]
    assert plain["/**/robot.odom_period"] == configured["/**/robot.odom_period"]  # 20 robots: within the budget
    given = _run_params(tmp_path, robots=500, policy="baseline", orders_per_hour=900.0)
    assert given["task_allocator.policy"] == "baseline" and given["order_source.orders_per_hour"] == 900.0
    assert given["/**/robot.odom_period"] == pytest.approx(2.0)  # 500 robots / 250 odometry messages per s
    for key in RUN_OVERRIDES:
        section, name = key.split(".")
        classes = _declaring(name) if section == "/**" else [NODE_CONFIGS[section]]
        assert classes and all(name in _fields(c) for c in classes), f"RUN_OVERRIDES: {key} is no parameter"


def test_a_run_without_flags_takes_robots_seed_and_layout_from_the_config(tmp_path):
    doc = yaml.safe_load(CONFIG.read_text())
    doc["/**"]["ros__parameters"].update(robots=50, seed=9)
    del doc["/**"]["ros__parameters"]["layout"]
    config = tmp_path / "fifty.yaml"
    config.write_text(yaml.safe_dump(doc))
    from warehouse_nodes.share import share_path  # the nodes' default layout is a file of the bringup share
    assert run_defaults(config) == {"robots": 50, "seed": 9,
                                    "layout": str(share_path(default_of(FloorSimConfig, "layout")))}
    doc["/**"]["ros__parameters"]["robots"] = "fifty"
    config.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match="fifty.yaml.*robots"):
        run_defaults(config)


def _launch_arguments(path: Path):
    """(name, default value or None if computed, source lines around the call) of each DeclareLaunchArgument."""
    text = path.read_text()
    tree = ast.parse(text)
    lines = text.splitlines()
    consts = {}
    for node in tree.body:  # module constants: strings and os.path.join(REPO, "a", "b")
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Constant):
                consts[node.targets[0].id] = value.value
            elif isinstance(value, ast.Call) and ast.unparse(value.func) == "os.path.join":
                parts = [a.value for a in value.args[1:] if isinstance(a, ast.Constant)]
                consts[node.targets[0].id] = str(ROOT.joinpath(*parts))
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "DeclareLaunchArgument":
            default = next((k.value for k in call.keywords if k.arg == "default_value"), None)
            value = default.value if isinstance(default, ast.Constant) else consts.get(getattr(default, "id", None))
            around = "\n".join(lines[call.lineno - 2:call.end_lineno])  # the call and the line above it
            yield call.args[0].value, value, around


def _configured(name: str):
    """The value the nodes declaring ``name`` get from the config files (else their default)."""
    doc = yaml.safe_load(CONFIG.read_text())
    hardware = yaml.safe_load(HARDWARE.read_text())["/**/robot"]["ros__parameters"]
    values = set()
    for section, cls in NODE_CONFIGS.items():
        if name in _fields(cls):
            own = dict(doc.get(section, {}).get("ros__parameters", {}), **(hardware if cls is RobotConfig else {}))
            values.add(own.get(name, doc["/**"]["ros__parameters"].get(name, default_of(cls, name))))
    assert len(values) == 1, f"{name}: the nodes get {values}"
    return values.pop()


LAUNCH_PARAMETERS = {"map": "layout"}  # launch argument -> parameter, where the names differ


@pytest.mark.parametrize("path", sorted((ROOT / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_arguments_leave_parameters_to_the_config_or_say_why(path):
    problems = []
    for arg, default, around in _launch_arguments(path):
        name = LAUNCH_PARAMETERS.get(arg, arg)
        if name in NOT_TYPED or not _declaring(name):
            continue
        if default is None:
            problems.append(f"{arg}: a computed default; give '' (the config's value) or a literal")
            continue
        if default == "":
            continue
        expected = _configured(name)
        if name == "layout":
            same = Path(default) == ROOT / expected
        else:
            same = str(expected).lower() == default.lower() or _same(type(expected)(default), expected)
        if not same and OVERRIDE not in around:
            problems.append(f"{arg}:={default!r} differs from the configured {expected!r} without '{OVERRIDE}'")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def ros(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy

    rclpy.init(args=["--ros-args", "-p", f"layout:={ROOT / 'maps' / 'warehouse_layout.yaml'}",
                     "-p", f"boxes:={ROOT / 'config' / 'boxes.yaml'}", "-p", "use_sim_time:=false"])
    yield
    rclpy.try_shutdown()


def test_a_running_node_describes_its_parameters_and_refuses_to_change_them(ros):
    """What ``ros2 param describe`` and ``ros2 param set`` see, through the node's parameter services."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    from warehouse_nodes.allocator_node import AllocatorNode

    allocator = AllocatorNode()
    operator = Node("operator")
    executor = SingleThreadedExecutor()
    for n in (allocator, operator):
        executor.add_node(n)
    try:
        client = AsyncParameterClient(operator, "/task_allocator")
        assert client.wait_for_services(timeout_sec=10.0)

        def answer(future):
            executor.spin_until_future_complete(future, timeout_sec=10.0)
            assert future.done()
            return future.result()

        described = answer(client.describe_parameters(["stale_after", "charge_to"])).descriptors
        assert "silent" in described[0].description and described[0].read_only
        assert (described[1].floating_point_range[0].from_value, described[1].floating_point_range[0].to_value) \
            == (0.0, 1.0)
        result = answer(client.set_parameters([Parameter("stale_after", value=5.0)])).results[0]
        assert not result.successful and "read-only" in result.reason
        assert allocator.get_parameter("stale_after").value == allocator.cfg.stale_after == 20.0
    finally:
        executor.shutdown()
        for n in (allocator, operator):
            n.destroy_node()
    assert rclpy.ok()


def test_a_lean_robot_node_has_the_descriptors_too(ros):
    """Robot nodes in a container start without parameter services; their parameters are still
    described and read-only (shared descriptors: no cost per robot)."""
    from rclpy.parameter import Parameter

    from warehouse_nodes.robot_node import RobotNode

    robots = [RobotNode(namespace=f"robot_{i}", shared_inputs=True) for i in (990, 991)]
    try:
        for robot in robots:
            assert robot.describe_parameter("odom_period").description.startswith("[s] odometry period")
            result = robot.set_parameters([Parameter("odom_period", value=0.1)])[0]
            assert not result.successful and "read-only" in result.reason
        assert robots[0].describe_parameter("max_speed") is robots[1].describe_parameter("max_speed")
    finally:
        for robot in robots:
            robot.destroy_node()


@pytest.mark.parametrize(("name", "value"), [("tick", 0.0), ("expected_nodes", -1), ("real_time_factor", -2.0)])
def test_a_value_out_of_range_is_refused_at_start_by_name(ros, name, value):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from warehouse_nodes.params import declare_config

    node = Node("range_probe", parameter_overrides=[Parameter(name, value=value)])
    try:
        with pytest.raises(InputError, match=f"range_probe.{name}.*out of range"):
            declare_config(node, FloorSimConfig)
    finally:
        node.destroy_node()

"""Launch files cannot run here (no `launch` package on PyPI), so check what they name.

Every ``Node(...)`` must name its package and executable; the executables of our nodes package
must be its console scripts, and executables of other packages must be in the explicit list
``EXTERNAL`` below (they come from a ROS 2 distro, not from this workspace). Every declared
argument must have a description, and every file they point to must exist. The entry points
must import and expose ``main``.
"""

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

from warehouse_core import topics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake launch modules: a helper module, not a test
from launch_fakes import run_launch_file  # noqa: E402

LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
OURS = "warehouse_nodes"
# Executables of other packages the launch files may start (installed with the distro:
# ros-<distro>-ros-gz, ros-<distro>-tf2-ros).
EXTERNAL = {
    ("ros_gz_sim", "create"),
    ("ros_gz_bridge", "parameter_bridge"),
    ("tf2_ros", "static_transform_publisher"),
}


def launched_nodes(tree: ast.Module) -> list[tuple[str, str]]:
    """(package, executable) of every ``Node(...)`` call; module-level string constants resolved."""
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name)
              and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)}

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in consts:
            return consts[node.id]
        return None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Node":
            kw = {k.arg: value(k.value) for k in node.keywords}
            found.append((kw.get("package"), kw.get("executable")))
    return found


def console_scripts() -> dict[str, str]:
    tree = ast.parse((ROOT / "src" / "warehouse_nodes" / "setup.py").read_text())
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value:
            name, target = node.value.split(" = ")
            scripts[name.strip()] = target.strip()
    return scripts


def test_there_is_a_sim_launch_file():
    assert ROOT / "launch" / "warehouse_sim.launch.py" in LAUNCH_FILES


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_existing_things(path):
    text = path.read_text()
    tree = ast.parse(text)
    scripts = console_scripts()
    nodes = launched_nodes(tree)
    if "describe(" in text:  # a reader of the graph description: its processes are its nodes
        from warehouse_nodes.graph import CENTRAL
        nodes += [(OURS, exe) for exe, _module in CENTRAL.values()] + [(OURS, "robot_container"), (OURS, "robot")]
    assert nodes, f"{path.name} starts no Node"
    assert len(launched_nodes(tree)) == len(re.findall(r"executable=", text)), \
        f"{path.name}: executable= outside Node(...)"
    for package, exe in nodes:
        assert package and exe, f"{path.name}: Node without a literal package and executable"
        if package == OURS:
            assert exe in scripts, f"{path.name} starts {exe!r}, not an entry point of {OURS}"
        else:
            assert (package, exe) in EXTERNAL, \
                f"{path.name} starts {package}/{exe}: not ours and not in the EXTERNAL list"
    declared = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", getattr(n.func, "attr", "")) == "DeclareLaunchArgument"]
    assert len(declared) == text.count("DeclareLaunchArgument("), f"{path.name}: unparsed DeclareLaunchArgument"
    for call in declared:
        name = ast.unparse(call.args[0]) if call.args else "?"
        assert any(k.arg == "description" for k in call.keywords), \
            f"{path.name}: argument {name} without description"
    for rel in re.findall(r'os\.path\.join\(REPO, ((?:"[^"]+",? ?)+)\)', text):
        parts = re.findall(r'"([^"]+)"', rel)
        assert (ROOT.joinpath(*parts)).exists(), f"{path.name} names missing file {parts}"


def test_entry_points_import():
    for name, target in console_scripts().items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name


def test_config_is_keyed_by_the_node_names():
    import yaml
    doc = yaml.safe_load((ROOT / "config" / "warehouse.yaml").read_text())
    for node in ("floor_simulator", "mapf_planner", "task_allocator", "forecaster", "order_source", "/**/robot"):
        assert "ros__parameters" in doc[node], node


def test_every_configured_parameter_is_declared_by_its_node():
    """A typo in config/ would otherwise be ignored silently by ROS."""
    import dataclasses

    import yaml

    from warehouse_nodes.config_check import ROS_PARAMETERS
    from warehouse_nodes.configs import NODE_CONFIGS

    # ROS_PARAMETERS: declared by rclpy itself (use_sim_time, start_type_description_service)
    fields = {k: {f.name for f in dataclasses.fields(v)} | ROS_PARAMETERS for k, v in NODE_CONFIGS.items()}
    for name in ("warehouse.yaml", "robot_hardware.yaml"):
        doc = yaml.safe_load((ROOT / "config" / name).read_text())
        for node, section in doc.items():
            for key in section["ros__parameters"]:
                if node == "/**":
                    assert any(key in names for names in fields.values()), f"{name}: /**.{key} is used by no node"
                else:
                    assert key in fields[node], f"config/{name}: {node}.{key} is not a parameter of {node}"


# -- robot.launch.py: every base topic and action remappable, the backend chosen --------------------
ROBOT_LAUNCH = ROOT / "launch" / "robot.launch.py"


def _robot_node(monkeypatch, given: dict[str, str]) -> dict:
    _, nodes = run_launch_file(monkeypatch, ROBOT_LAUNCH, {"robot": "robot_3", **given})
    assert len(nodes) == 1 and nodes[0]["namespace"] == "robot_3"
    return nodes[0]


def _given_params(node: dict) -> dict:
    return next(p for p in node["parameters"] if isinstance(p, dict))


def test_robot_launch_has_an_argument_for_every_base_topic(monkeypatch):
    """A base topic added to warehouse_core.topics without a launch argument fails here."""
    declared, _ = run_launch_file(monkeypatch, ROBOT_LAUNCH, {})
    remapped = {d for d, _ in declared.values()}
    base = [t for name, t in vars(topics).items() if name.startswith("BASE_")]
    assert len(base) >= 6
    for t in base:
        assert t.relative in remapped, f"robot.launch.py cannot remap {t.relative}"
    assert "localisation_topic" in declared and "drive_backend" in declared


def test_robot_launch_remaps_nothing_by_default(monkeypatch):
    node = _robot_node(monkeypatch, {})
    assert node["remappings"] == []
    params = _given_params(node)
    assert params["drive_backend"] == "gazebo"
    assert not {"localisation_topic", "base_inputs", "cmd_vel_stamped"} & set(params)


def test_robot_launch_remaps_every_driver_name(monkeypatch):
    given = {"odom_topic": "/vendor/odom", "cmd_vel_topic": "/vendor/cmd_vel", "battery_topic": "/vendor/battery",
             "rack_topic": "sensors/rack", "stop_topic": "/vendor/estop", "base_operation": "/vendor/lift",
             "localisation_topic": "localization/pose", "drive_backend": "nav2",
             "base_inputs": "battery,stop,operations", "cmd_vel_stamped": "True"}
    node = _robot_node(monkeypatch, given)
    assert dict(node["remappings"]) == {
        "base/odom": "/vendor/odom", "cmd_vel": "/vendor/cmd_vel", "base/battery": "/vendor/battery",
        "base/rack_present": "sensors/rack", "base/protective_stop": "/vendor/estop",
        "base_operation": "/vendor/lift", "amcl_pose": "localization/pose"}
    params = _given_params(node)
    # the node reads localisation at its standard name, which the remapping redirects
    assert params["localisation_topic"] == "amcl_pose" and params["drive_backend"] == "nav2"
    assert params["base_inputs"] == "battery,stop,operations" and params["cmd_vel_stamped"] is True


def test_robot_launch_base_inputs_none_clears_the_configs(monkeypatch):
    assert _given_params(_robot_node(monkeypatch, {"base_inputs": "none"}))["base_inputs"] == ""


def test_robot_launch_refuses_a_wrong_boolean(monkeypatch):
    with pytest.raises(ValueError, match="cmd_vel_stamped"):
        _robot_node(monkeypatch, {"cmd_vel_stamped": "yes"})


def test_the_vendor_driver_example_uses_the_base_names():
    """docs/examples/vendor_driver.py (standalone, so it spells the names out) follows warehouse_core.topics."""
    tree = ast.parse((ROOT / "docs" / "examples" / "vendor_driver.py").read_text())
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for name, t in vars(topics).items():
        if name.startswith("BASE_"):
            assert t.relative in literals, f"the vendor driver example does not provide {t.relative}"

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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
    assert nodes, f"{path.name} starts no Node"
    assert len(nodes) == len(re.findall(r"executable=", text)), f"{path.name}: executable= outside Node(...)"
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

    from warehouse_nodes.configs import NODE_CONFIGS

    fields = {k: {f.name for f in dataclasses.fields(v)} | {"use_sim_time"} for k, v in NODE_CONFIGS.items()}
    for name in ("warehouse.yaml", "robot_hardware.yaml"):
        doc = yaml.safe_load((ROOT / "config" / name).read_text())
        for node, section in doc.items():
            for key in section["ros__parameters"]:
                if node == "/**":
                    assert any(key in names for names in fields.values()), f"{name}: /**.{key} is used by no node"
                else:
                    assert key in fields[node], f"config/{name}: {node}.{key} is not a parameter of {node}"

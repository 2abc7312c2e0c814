"""Launch files cannot run here (no `launch` package on PyPI), so check what they name.

Every ``executable=`` must be a console script of our nodes package, every declared argument
must have a description, and every file they point to must exist. The entry points must
import and expose ``main``.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


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
    ast.parse(text)
    scripts = console_scripts()
    executables = re.findall(r'executable="([^"]+)"', text)
    assert executables
    for exe in executables:
        assert exe in scripts, f"{path.name} starts {exe!r}, not an entry point of warehouse_nodes"
    for call in re.findall(r"DeclareLaunchArgument\((.*?)\)", text, flags=re.S):
        assert "description=" in call, f"{path.name}: argument without description: {call[:40]}"
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
    for node in ("floor_simulator", "mapf_planner", "task_allocator", "order_source", "/**/robot"):
        assert "ros__parameters" in doc[node], node


def test_every_configured_parameter_is_declared_by_its_node():
    """A typo in config/ would otherwise be ignored silently by ROS."""
    import dataclasses

    import yaml

    from warehouse_nodes.allocator_node import AllocatorConfig
    from warehouse_nodes.floor_sim_node import FloorSimConfig
    from warehouse_nodes.order_source_node import OrderSourceConfig
    from warehouse_nodes.planner_node import PlannerConfig
    from warehouse_nodes.robot_node import RobotConfig

    configs = {"floor_simulator": FloorSimConfig, "mapf_planner": PlannerConfig,
               "task_allocator": AllocatorConfig, "order_source": OrderSourceConfig,
               "/**/robot": RobotConfig}
    fields = {k: {f.name for f in dataclasses.fields(v)} | {"use_sim_time"} for k, v in configs.items()}
    doc = yaml.safe_load((ROOT / "config" / "warehouse.yaml").read_text())
    for node, names in fields.items():
        for key in doc[node]["ros__parameters"]:
            assert key in names, f"config/warehouse.yaml: {node}.{key} is not a parameter of {node}"
    for key in doc["/**"]["ros__parameters"]:
        assert any(key in names for names in fields.values()), f"/**.{key} is used by no node"

"""Fast checks of the workspace layout and of the built interfaces (run via ./warehouse test)."""

from __future__ import annotations

import importlib
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERFACES = ROOT / "src" / "warehouse_interfaces"


# ---------------------------------------------------------------- layout

def test_ci_runs_the_readme_test_command():
    """CI must run exactly the test command the README gives users."""
    readme = (ROOT / "README.md").read_text()
    assert "./warehouse run" in readme and "./warehouse test" in readme
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert "./warehouse test" in ci, ".ci/run must call ./warehouse test"


def _markdown_files() -> list[Path]:
    skip = {".venv", "build", "install", "log", "runs", ".git"}
    return [p for p in ROOT.rglob("*.md") if not skip & set(p.relative_to(ROOT).parts)]


def test_relative_links_in_docs_resolve():
    """Every relative link of a Markdown file names a file or directory of the repository."""
    import re

    broken = []
    for md in _markdown_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", md.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (md.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{md.relative_to(ROOT)}: {target}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("name", ["warehouse", "scripts/setup.sh", ".ci/run"])
def test_scripts_are_executable(name):
    assert (ROOT / name).stat().st_mode & 0o111, f"{name} is not executable"


def _package_names() -> dict[str, Path]:
    names = {}
    for xml in (ROOT / "src").glob("*/package.xml"):
        names[ET.parse(xml).getroot().findtext("name")] = xml.parent
    return names


def test_colcon_meta_is_valid_and_names_existing_packages():
    meta = json.loads((ROOT / "colcon.meta").read_text())
    assert isinstance(meta.get("names"), dict) and meta["names"]
    packages = _package_names()
    for name, settings in meta["names"].items():
        assert name in packages, f"colcon.meta names unknown package {name!r}"
        assert isinstance(settings, dict)
        for key in ("cmake-args", "ament-cmake-args"):
            if key in settings:
                assert all(isinstance(a, str) for a in settings[key])


def test_expected_packages_exist():
    packages = _package_names()
    for name in ("warehouse_interfaces", "warehouse_core", "warehouse_nodes", "warehouse_bringup"):
        assert name in packages, f"src/{name}/package.xml missing"


def test_interfaces_package_xml():
    root = ET.parse(INTERFACES / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("license") == "Apache-2.0"
    email = root.find("maintainer").get("email")
    assert "@" in email and "." in email.split("@")[1]
    assert root.findtext("member_of_group") == "rosidl_interface_packages"
    assert root.findtext("export/build_type") == "ament_cmake"


def _interface_files() -> list[tuple[str, str]]:
    out = []
    for kind, ext in (("msg", "msg"), ("srv", "srv"), ("action", "action")):
        for f in sorted((INTERFACES / kind).glob(f"*.{ext}")):
            out.append((kind, f.stem))
    return out


def test_every_interface_file_is_listed_in_cmakelists():
    cmake = (INTERFACES / "CMakeLists.txt").read_text()
    for kind, stem in _interface_files():
        ext = kind
        assert f'"{kind}/{stem}.{ext}"' in cmake, f"{kind}/{stem}.{ext} not in CMakeLists.txt"


# ---------------------------------------------------------------- built interfaces

@pytest.mark.parametrize("kind,stem", _interface_files())
def test_every_interface_is_generated(kind, stem):
    module = importlib.import_module(f"warehouse_interfaces.{kind}")
    assert hasattr(module, stem), f"warehouse_interfaces.{kind}.{stem} not generated/installed"


def test_named_interfaces_import():
    from warehouse_interfaces.action import ExecuteTask
    from warehouse_interfaces.msg import (  # noqa: F401
        DriveCommand,
        FleetPlan,
        FleetRelease,
        FleetState,
        Order,
        OrderLine,
        OrderStatus,
        PlanRequest,
        RobotState,
        Task,
        TaskStatus,
        TaskStep,
        TimedPath,
        TimedWaypoint,
    )
    from warehouse_interfaces.srv import SubmitOrder

    assert SubmitOrder.Request().order.lines == []
    assert ExecuteTask.Goal().task.task_id == ""
    assert ExecuteTask.Result().success is False
    assert ExecuteTask.Feedback().step_index == 0
    assert Order.SERVICE_TWO_DAY == 1
    # the core's codes are the messages' codes (conversions copy them unchanged)
    from warehouse_core import tasks
    for name in ("OP_NONE", "OP_LIFT", "OP_DROP", "OP_PICK", "OP_CHARGE"):
        assert getattr(TaskStep, name) == getattr(tasks, name), name
    for name in ("MODE_IDLE", "MODE_MOVING", "MODE_WAITING", "MODE_LIFTING", "MODE_DROPPING",
                 "MODE_PICKING", "MODE_CHARGING", "MODE_FAILED", "MODE_STOPPED"):
        assert getattr(RobotState, name) == getattr(tasks, name), name
    assert {getattr(RobotState, f"MODE_{m}") for m in ("LIFTING", "DROPPING", "PICKING", "CHARGING")} == \
        set(tasks.MODE_OF_OP.values())


def test_message_round_trip_through_rclpy_serialization():
    from rclpy.serialization import deserialize_message, serialize_message

    from warehouse_interfaces.msg import FleetState, RobotState, TaskStep, TimedPath, TimedWaypoint

    path = TimedPath()
    path.header.frame_id = "map"
    path.header.stamp.sec = 12
    path.header.stamp.nanosec = 500_000_000
    path.robot_id = "robot_3"
    path.task_id = "task-7"
    path.plan_id = 2**40 + 3
    path.step_duration = 0.5
    path.start_step = -5
    for k in range(3):
        wp = TimedWaypoint(x=0.5 + k, y=1.25, cell_x=k, cell_y=2, op=TaskStep.OP_LIFT if k == 2 else 0,
                           op_duration=1.5, carrying=k == 2)
        wp.stamp.sec = 12 + k
        path.waypoints.append(wp)

    data = serialize_message(path)
    assert isinstance(data, bytes) and len(data) > 0
    back = deserialize_message(data, TimedPath)
    assert back == path
    assert back.plan_id == 2**40 + 3 and back.start_step == -5
    assert [w.cell_x for w in back.waypoints] == [0, 1, 2]
    assert back.waypoints[2].carrying and back.waypoints[2].op == TaskStep.OP_LIFT
    assert back.header.stamp.nanosec == 500_000_000

    from warehouse_nodes import conversions as conv

    states = [RobotState(robot_id=f"robot_{i}", mode=RobotState.MODE_MOVING, x=float(i), y=-float(i),
                         theta=math.pi / 4, battery=0.75, cell_x=i, cell_y=i + 1, plan_id=2**40 + i,
                         progress_index=-1, carrying_rack="rack_9" if i == 7 else "", task_id=f"t{i}")
              for i in range(50)]
    fleet = conv.fleet_state_msg(states, 12.5)
    back = deserialize_message(serialize_message(fleet), FleetState)
    assert list(back.robot_ids) == [s.robot_id for s in states]
    entries = conv.fleet_state_entries(back)
    for sent, got in zip(states, entries, strict=True):
        got.header = sent.header = back.header
        assert got.battery == pytest.approx(sent.battery)
        got.battery = sent.battery
        assert got == sent
    assert entries[7].carrying_rack == "rack_9" and entries[49].plan_id == 2**40 + 49
    assert entries[7].progress_index == -1 and conv.from_time(back.header.stamp) == 12.5


def test_service_and_action_types_round_trip():
    from rclpy.serialization import deserialize_message, serialize_message

    from warehouse_interfaces.action import ExecuteTask
    from warehouse_interfaces.msg import OrderLine, Task
    from warehouse_interfaces.srv import SubmitOrder

    req = SubmitOrder.Request()
    req.order.order_id = "o-1"
    req.order.consumer_id = "c-9"
    req.order.lines = [OrderLine(sku="SKU-00042", quantity=3)]
    req.order.deadline.sec = 3600
    back = deserialize_message(serialize_message(req), SubmitOrder.Request)
    assert back == req and back.order.lines[0].quantity == 3

    goal = ExecuteTask.Goal()
    goal.task.task_id = "t-1"
    goal.task.type = Task.TYPE_CHARGE
    goal.task.order_ids = ["o-1", "o-2"]
    back = deserialize_message(serialize_message(goal), ExecuteTask.Goal)
    assert back == goal and back.task.order_ids == ["o-1", "o-2"]

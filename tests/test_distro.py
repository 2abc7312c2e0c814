"""The distro smoke selection: what CI runs on the second ROS 2 distro (``--smoke``).

``./warehouse test --distro jazzy --smoke`` runs this file in the Jazzy environment
(.venv-jazzy + install-jazzy); the full suite runs it on Kilted too. It shows, on the distro it
runs on: the interfaces were built for that distro, every node module imports and every node
of the default graph starts and does its work in one short end-to-end run (orders completed,
zero collisions, a bag that reads back), and each branch of ``warehouse_nodes.distro`` (the one
place that picks by distro) behaves as documented.
"""

import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from warehouse_nodes import distro

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the distro module, every branch

def _versions(**installed):
    """A ``version_of`` stand-in: distribution name (dashes) -> version, others not installed."""
    table = {name.replace("_", "-"): v for name, v in installed.items()}
    return lambda dist: table.get(dist)


def test_ros_distro_variable_wins_over_the_probe():
    assert distro.detect({"ROS_DISTRO": "Jazzy"}, _versions(ros_rclpy="9.1.2")) == "jazzy"
    assert distro.detect({"ROS_DISTRO": "kilted"}, _versions(ros_jazzy_rclpy="7.1.6")) == "kilted"


def test_probe_tells_the_distro_from_the_installed_rclpy_wheel():
    assert distro.detect({}, _versions(ros_jazzy_rclpy="7.1.6")) == "jazzy"
    assert distro.detect({}, _versions(ros_rclpy="9.1.2")) == "kilted"
    assert distro.detect({}, _versions(ros_rclpy="7.1.6")) == "jazzy"
    assert distro.detect({}, _versions()) == "kilted"  # nothing tells: the default distro


def test_this_process_runs_on_the_distro_its_environment_names():
    """env.sh exports ROS_DISTRO; without it the probe must reach the same answer."""
    expected = os.environ.get("WAREHOUSE_DISTRO", "kilted")
    assert distro.detect() == expected
    assert distro.detect({}) == expected


def test_cmd_vel_is_twist_on_jazzy_and_twist_stamped_from_kilted():
    assert distro.cmd_vel_stamped("jazzy") is False
    assert distro.cmd_vel_type("jazzy") == "geometry_msgs/msg/Twist"
    assert distro.cmd_vel_stamped("kilted") is True
    assert distro.cmd_vel_stamped("rolling") is True
    assert distro.cmd_vel_stamped("humble") is False
    assert distro.cmd_vel_type("kilted") == "geometry_msgs/msg/TwistStamped"


def test_cmd_vel_type_matches_the_gazebo_bridge_generator():
    from warehouse_core.sim.gazebo_world import CMD_VEL_TYPES, DISTRO_CMD_VEL

    for name, kind in DISTRO_CMD_VEL.items():
        assert CMD_VEL_TYPES[kind] == distro.cmd_vel_type(name), name


def _poses(n):
    from geometry_msgs.msg import PoseStamped

    poses = [PoseStamped() for _ in range(n)]
    for i, p in enumerate(poses):
        p.pose.position.x = float(i)
    return poses


def test_through_poses_goal_jazzy_layout_gets_the_pose_list():
    goal = SimpleNamespace(poses=[])  # nav2_msgs Jazzy: geometry_msgs/PoseStamped[] poses
    distro.set_through_poses(goal, _poses(3))
    assert [p.pose.position.x for p in goal.poses] == [0.0, 1.0, 2.0]


def test_through_poses_goal_kilted_layout_gets_a_goals_message():
    from std_msgs.msg import Header

    try:
        from nav_msgs.msg import Goals  # Kilted and later: nav_msgs/Goals poses
        goals = Goals()
    except ImportError:  # Jazzy's nav_msgs has no Goals: the same two fields
        goals = SimpleNamespace(header=Header(), goals=[])
    goal = SimpleNamespace(poses=goals)
    distro.set_through_poses(goal, _poses(2), Header(frame_id="map"))
    assert goal.poses is goals
    assert [p.pose.position.x for p in goals.goals] == [0.0, 1.0]
    assert goals.header.frame_id == "map"


def test_install_hint_names_the_distro_package():
    assert distro.install_hint("nav2_msgs", "jazzy") == "ros-jazzy-nav2-msgs"
    assert distro.install_hint("nav2_msgs", "kilted") == "ros-kilted-nav2-msgs"


# ---------------------------------------------------------------- the build of this distro

def test_interfaces_are_built_for_this_distro_and_round_trip():
    from rclpy.serialization import deserialize_message, serialize_message

    from warehouse_interfaces.msg import RobotState

    install = "install-jazzy" if os.environ.get("WAREHOUSE_DISTRO") == "jazzy" else "install"
    where = Path(importlib.import_module("warehouse_interfaces").__file__).resolve()
    assert (ROOT / install).resolve() in where.parents, f"{where} is not from {install}/"
    msg = RobotState(robot_id="robot_7", x=1.5, y=-2.0, progress_index=4)
    back = deserialize_message(serialize_message(msg), RobotState)
    assert (back.robot_id, back.x, back.y, back.progress_index) == ("robot_7", 1.5, -2.0, 4)
    for kind in ("msg", "srv", "action"):
        assert importlib.import_module(f"warehouse_interfaces.{kind}")


def _node_modules():
    setup_py = (ROOT / "src" / "warehouse_nodes" / "setup.py").read_text()
    return sorted({line.split("=", 1)[1].strip().split(":")[0]
                   for line in setup_py.splitlines() if "= warehouse_nodes." in line})


@pytest.mark.parametrize("module", _node_modules())
def test_every_node_module_imports_on_this_distro(module):
    assert hasattr(importlib.import_module(module), "main")


# ---------------------------------------------------------------- one short end-to-end run

@pytest.mark.skipif(os.environ.get("WAREHOUSE_SMOKE") != "1",
                    reason="run by the smoke selection (./warehouse test --smoke); the full suite's "
                           "tests/test_run_integration.py runs the same graph")
def test_short_run_starts_every_node_completes_orders_and_writes_a_readable_bag(tmp_path, ros_env):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "4", "--duration", "180",
         "--seed", "5", "--out", str(out), "--quiet"],
        cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["robots"] == 4
    assert report["orders_completed"] >= 1
    assert report["collisions"] == 0
    with Reader(out / "bag") as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        pose = next(c for c in reader.connections if c.topic == "/robot_0/map_pose")
        raw = next(data for conn, _, data in reader.messages(connections=[pose]))
    # each node of the default graph started and did its work: its output is in the bag
    for topic, node in {"/robot_0/map_pose": "floor_simulator", "/fleet/plan": "mapf_planner",
                        "/tasks": "task_allocator", "/orders": "order_source",
                        "/forecast/demand": "forecaster", "/task_status": "robots"}.items():
        assert counts.get(topic, 0) > 0, f"{node}: nothing on {topic}"
    pose_msg = get_typestore(Stores.ROS2_KILTED).deserialize_cdr(raw, "geometry_msgs/msg/PoseWithCovarianceStamped")
    assert pose_msg.header.frame_id == "map" and math.isfinite(pose_msg.pose.pose.position.x)

"""Robot node drive backends over DDS: the cmd_vel/odom path tracker against a fake base.

The fake base is a node of this test: it integrates the robot's ``cmd_vel`` with the
simulated differential-drive plant (latency, slip, noise) and publishes ``base/odom`` in its
own odom frame, which starts at the spawn pose (the robot node's ``map_to_odom``).
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core" / "test"))  # the core tests' simulated base
from diff_drive_plant import DiffDrivePlant, PlantConfig  # noqa: E402

SPAWN = (2.0, 3.0, math.pi / 2)  # map -> odom: the base starts here, facing +y
CELLS = [(2, 3), (3, 3), (4, 3), (4, 4), (4, 5)]  # cell size 1 m: cell centre = (cx, cy)


def test_gazebo_backend_follows_released_waypoints(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy
    from geometry_msgs.msg import PoseWithCovarianceStamped, Twist
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from warehouse_core import topics
    from warehouse_interfaces.msg import FleetRelease, RobotState, TimedPath, TimedWaypoint
    from warehouse_nodes import channels
    from warehouse_nodes import conversions as conv
    from warehouse_nodes.robot_node import RobotNode

    rclpy.init()
    try:
        robot = RobotNode(namespace="robot_0", parameter_overrides=[
            Parameter("drive_backend", value="gazebo"),
            Parameter("map_to_odom", value=list(SPAWN)),
            Parameter("control_rate", value=20.0),
            Parameter("odom_period", value=0.0)])  # odometry at every control step: compared with the truth
        test = Node("fake_base", namespace="robot_0")
        plant = DiffDrivePlant(0.0, 0.0, 0.0, PlantConfig(latency=0.05, seed=3))
        odom_pub = test.create_publisher(Odometry, "base/odom", 10)
        path_pub = channels.publisher(test, topics.ROBOT_PATH, topics.ROBOT_PATH.relative)  # as the planner
        release_pub = test.create_publisher(FleetRelease, "/fleet/release", 10)
        states: list[RobotState] = []
        odoms: list[PoseWithCovarianceStamped] = []  # the robot node's map pose (the base has the odometry)
        truth: list[tuple[float, float]] = []
        test.create_subscription(Twist, "cmd_vel", lambda m: plant.command(m.linear.x, m.angular.z), 10)
        test.create_subscription(RobotState, "state", states.append, 10)
        test.create_subscription(PoseWithCovarianceStamped, "map_pose", odoms.append, 10)
        last = [time.monotonic()]

        def base_tick() -> None:
            now = time.monotonic()
            dt, last[0] = now - last[0], now
            for _ in range(max(1, round(dt / 0.005))):
                plant.step(dt / max(1, round(dt / 0.005)))
            x, y, yaw = plant.odometry()
            msg = Odometry()
            msg.header = conv.header(now, "robot_0/odom")
            msg.child_frame_id = "robot_0/base_link"
            msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
            msg.pose.pose.orientation = conv.yaw_to_quaternion(yaw)
            msg.twist.twist.linear.x = plant.v
            odom_pub.publish(msg)
            c, s = math.cos(SPAWN[2]), math.sin(SPAWN[2])
            truth.append((SPAWN[0] + c * plant.x - s * plant.y, SPAWN[1] + s * plant.x + c * plant.y))

        test.create_timer(0.02, base_tick)
        executor = SingleThreadedExecutor()
        executor.add_node(robot)
        executor.add_node(test)

        def spin_until(cond, timeout: float) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.01)
                if cond():
                    return True
            return False

        # the robot node reports its base once odometry arrives
        assert spin_until(lambda: states, 10.0), "no state from the robot node"
        wps = [TimedWaypoint(x=float(cx), y=float(cy), cell_x=cx, cell_y=cy) for cx, cy in CELLS]
        path = TimedPath(robot_id="robot_0", plan_id=1, step_duration=1.0, first_index=0, waypoints=wps)

        def release(index: int) -> None:
            release_pub.publish(FleetRelease(robot_ids=["robot_0"], plan_ids=[1], release_indices=[index]))

        spin_until(lambda: False, 0.5)  # discovery between the two nodes of this process
        path_pub.publish(path)
        progressed = lambda k: any(s.plan_id == 1 and s.progress_index >= k for s in states)  # noqa: E731
        assert spin_until(lambda: progressed(0), 10.0), "the path did not reach the robot node"
        release(3)  # the planner releases after the path, every round; once is enough here
        assert spin_until(lambda: progressed(3), 30.0), [s.progress_index for s in states[-5:]]
        spin_until(lambda: False, 2.0)  # waits at the release point: never enters cell (4, 4)+1
        x, y = truth[-1]
        assert math.hypot(x - 4.0, y - 4.0) < 0.1, (x, y)
        assert all(y_ < 4.5 for _, y_ in truth), max(y_ for _, y_ in truth)  # not in cell (4, 5)
        assert not progressed(4)
        release(4)
        assert spin_until(lambda: progressed(4), 20.0)
        x, y = truth[-1]
        assert math.hypot(x - 4.0, y - 5.0) < 0.15, (x, y)
        reported = [s.progress_index for s in states if s.plan_id == 1]
        assert reported == sorted(reported)
        # the map pose is in map, at the true pose (odometry noise aside)
        o = odoms[-1]
        assert o.header.frame_id == "map"
        assert math.hypot(o.pose.pose.position.x - x, o.pose.pose.position.y - y) < 0.1
        # cross-track error from the polyline (2,3)-(4,3)-(4,5), on the true pose
        xte = max(min(abs(py - 3.0) if 2.0 - 0.05 <= px <= 4.0 + 0.05 else 9.0,
                      abs(px - 4.0) if 3.0 - 0.05 <= py <= 5.0 + 0.05 else 9.0) for px, py in truth)
        print(f"fake base over DDS: max cross-track {xte:.3f} m")
        assert xte < 0.1, xte
        robot.destroy_node()
        test.destroy_node()
    finally:
        rclpy.try_shutdown()


@pytest.mark.skipif(importlib.util.find_spec("nav2_msgs") is not None, reason="nav2_msgs is installed")
def test_nav2_backend_without_nav2_msgs_fails_clearly(ros_env):
    proc = subprocess.run(
        [sys.executable, "-m", "warehouse_nodes.robot_node", "--ros-args", "-r", "__ns:=/robot_0",
         "-p", "drive_backend:=nav2", "-p", "use_sim_time:=false"],
        cwd=ROOT, env=ros_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "drive_backend nav2 needs nav2_msgs" in proc.stderr, proc.stderr
    assert "install it or use drive_backend:=gazebo" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_backend_is_refused(ros_env):
    proc = subprocess.run(
        [sys.executable, "-m", "warehouse_nodes.robot_node", "--ros-args", "-p", "drive_backend:=segway"],
        cwd=ROOT, env=ros_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "unknown drive backend 'segway'" in proc.stderr

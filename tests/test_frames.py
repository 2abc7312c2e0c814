"""REP-105 frames over real DDS: odometry in ``<robot>/odom``, map poses in ``map``, ``map -> odom``.

* A short run (``warehouse_nodes.cli run --bag-odom full``, 3 robots, 60 sim s): its bag has every robot's
  odometry in ``<robot>/odom`` (child ``<robot>/base_link``, starting at the origin: odom is not
  map), its map pose in ``map`` equal to the simulator's ground truth, ``map -> <robot>/odom`` on
  ``/<robot>/map_to_odom`` (and on ``/tf`` where tf2_msgs is installed) with odometry composed
  with it giving the map pose; the run report's tracks and the analysis read the map poses.
* A robot node on a cmd_vel/odom base whose odometry drifts (10 % long) and a localisation source
  (``amcl_pose``, readings arriving late): before the first reading the map pose is the configured
  initial pose composed with odometry and drifts, and ``/diagnostics`` says there is no
  localisation; after readings the correction moves and the map pose is the truth again.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio
from warehouse_core.analysis.bagio import interfaces_msg_dir
from warehouse_core.robot.localisation import compose

ROOT = Path(__file__).resolve().parents[1]
ROBOTS = 3


def _xyyaw(position, q) -> tuple[float, float, float]:
    return float(position.x), float(position.y), math.atan2(2.0 * (q.w * q.z + q.x * q.y),
                                                            1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def _read(bag: Path, wanted) -> dict[str, list]:
    store = bagio.typestore_with([interfaces_msg_dir(ROOT)])
    out: dict[str, list] = {}
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if wanted(c.topic)]
        for conn, _t, raw in reader.messages(connections=conns):
            out.setdefault(conn.topic, []).append(store.deserialize_cdr(raw, conn.msgtype))
    return out


def test_run_bag_has_rep105_frames(tmp_path, ros_env):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(ROBOTS),
                           "--duration", "60", "--seed", "5", "--bag-odom", "full", "--out", str(out), "--quiet"],
                          cwd=ROOT,
                          env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["collisions"] == 0
    msgs = _read(out / "bag", lambda t: t.startswith("/robot_") or t in ("/sim/fleet_state", "/tf"))
    truth: dict[str, dict[int, tuple[float, float]]] = {}
    for m in msgs.pop("/sim/fleet_state", []):
        for rid, x, y in zip(m.robot_ids, m.x.tolist(), m.y.tolist(), strict=True):
            truth.setdefault(rid, {})[_stamp(m)] = (x, y)
    tf = msgs.pop("/tf", None)
    for i in range(ROBOTS):
        rid = f"robot_{i}"
        odom, poses, corr = msgs[f"/{rid}/odom"], msgs[f"/{rid}/map_pose"], msgs[f"/{rid}/map_to_odom"]
        assert len(odom) > 50 and len(poses) > 50
        assert {(o.header.frame_id, o.child_frame_id) for o in odom} == {(f"{rid}/odom", f"{rid}/base_link")}
        assert {p.header.frame_id for p in poses} == {"map"}
        first = _xyyaw(odom[0].pose.pose.position, odom[0].pose.pose.orientation)
        assert math.hypot(first[0], first[1]) < 1e-6  # the odometry starts at its frame's origin
        # map -> odom is the initial pose (no localisation in the simulator): one latched transform
        (c,) = corr
        assert (c.header.frame_id, c.child_frame_id) == ("map", f"{rid}/odom")
        c_pose = _xyyaw(c.transform.translation, c.transform.rotation)
        assert math.hypot(c_pose[0], c_pose[1]) > 0.5  # the robot did not start at the map origin
        by_stamp = {_stamp(p): _xyyaw(p.pose.pose.position, p.pose.pose.orientation) for p in poses}
        moved = 0.0
        # both are published together; the bag may close between the last two (the run's end)
        matched = [o for o in odom if _stamp(o) in by_stamp]
        assert len(matched) >= len(odom) - 1, (len(matched), len(odom))
        for o in matched:
            o_pose = _xyyaw(o.pose.pose.position, o.pose.pose.orientation)
            moved = max(moved, math.hypot(o_pose[0], o_pose[1]))
            m = by_stamp[_stamp(o)]
            x, y, _ = compose(c_pose, o_pose)
            assert math.hypot(x - m[0], y - m[1]) < 1e-6  # map pose = map -> odom * odom
            tx, ty = truth[rid][_stamp(o)]
            assert math.hypot(m[0] - tx, m[1] - ty) < 1e-6  # = the simulator's ground truth
        assert moved > 1.0  # the robots drove: odometry is not trivially zero
    if tf is not None:  # tf2_msgs installed: one TFMessage per container and period, all robots
        pairs = {(t.header.frame_id, t.child_frame_id) for m in tf for t in m.transforms}
        assert {("map", f"robot_{i}/odom") for i in range(ROBOTS)} <= pairs
    # the run report's tracks and the analysis read the map poses
    tracks = bagio.read_odometry_tracks(out / "bag")
    assert sorted(tr.name for tr in tracks) == [f"robot_{i}" for i in range(ROBOTS)]
    for tr in tracks:
        tx, ty = truth[tr.name][max(truth[tr.name])]
        assert math.hypot(float(tr.x[-1]) - tx, float(tr.y[-1]) - ty) < 2.0


SPAWN = (2.0, 3.0, math.pi / 2)  # configured initial pose: map -> odom before any reading
SPEED = 0.5  # m/s along the base's own x
DRIFT = 1.1  # the odometry says 10 % more than the base drove
LATE = 0.3  # s: a localisation reading arrives this long after the moment it describes


def _truth(t: float) -> tuple[float, float, float]:
    return compose(SPAWN, (SPEED * t, 0.0, 0.0))


def test_localisation_topic_shifts_the_correction(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile

    from warehouse_nodes import conversions as conv
    from warehouse_nodes.robot_node import RobotNode

    rclpy.init()
    try:
        robot = RobotNode(namespace="robot_0", parameter_overrides=[
            Parameter("drive_backend", value="gazebo"), Parameter("map_to_odom", value=list(SPAWN)),
            Parameter("odom_period", value=0.0), Parameter("localisation_topic", value="amcl_pose"),
            Parameter("diagnostics_period", value=0.5),
            Parameter("localisation_wait", value=0.0)])  # reports at once, from the configured initial pose
        test = Node("fake_base", namespace="robot_0")
        odom_pub = test.create_publisher(Odometry, "base/odom", 10)
        loc_pub = test.create_publisher(PoseWithCovarianceStamped, "amcl_pose", 10)
        poses: list[PoseWithCovarianceStamped] = []
        corrections: list[TransformStamped] = []
        diags: list[str] = []
        test.create_subscription(PoseWithCovarianceStamped, "map_pose", poses.append, 10)
        test.create_subscription(TransformStamped, "map_to_odom", corrections.append,
                                 QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        test.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diags.extend(
            s.message for s in m.status if s.name == "robot_0: localisation"), 10)
        t0 = time.time()
        localising = [False]

        def base_tick() -> None:
            t = time.time()
            msg = Odometry(header=conv.header(t, "robot_0/odom"), child_frame_id="robot_0/base_link")
            msg.pose.pose.position.x = DRIFT * SPEED * (t - t0)
            msg.pose.pose.orientation.w = 1.0
            odom_pub.publish(msg)

        def reading() -> None:
            if not localising[0]:
                return
            t = time.time() - LATE
            x, y, yaw = _truth(t - t0)
            msg = PoseWithCovarianceStamped(header=conv.header(t, "map"))
            msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
            msg.pose.pose.orientation = conv.yaw_to_quaternion(yaw)
            loc_pub.publish(msg)

        test.create_timer(0.05, base_tick)
        test.create_timer(0.5, reading)
        executor = SingleThreadedExecutor()
        executor.add_node(robot)
        executor.add_node(test)

        def spin(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.01)

        def error(p: PoseWithCovarianceStamped) -> float:
            x, y, _ = _truth(conv.from_time(p.header.stamp) - t0)
            return math.hypot(p.pose.pose.position.x - x, p.pose.pose.position.y - y)

        spin(5.0)
        assert poses and {p.header.frame_id for p in poses} == {"map"}
        assert error(poses[-1]) > 0.15  # odometry alone drifts: 10 % of ~2.5 m
        assert corrections and _xyyaw(corrections[-1].transform.translation,
                                      corrections[-1].transform.rotation) == pytest.approx(SPAWN)
        assert any("configured initial pose" in m for m in diags), diags
        assert robot.frames.localisation(time.time()) == (False, False)
        localising[0] = True
        spin(4.0)
        n = len(poses)
        spin(2.0)
        errors = np.array([error(p) for p in poses[n:]])
        # the drift since the last reading (<= 0.8 s: 0.04 m) and a control period of staleness
        assert errors.size > 10 and errors.max() < 0.1, errors.max()
        moved = _xyyaw(corrections[-1].transform.translation, corrections[-1].transform.rotation)
        assert math.hypot(moved[0] - SPAWN[0], moved[1] - SPAWN[1]) > 0.1  # the correction shifted
        assert corrections[-1].child_frame_id == "robot_0/odom" and corrections[-1].header.frame_id == "map"
        assert robot.frames.localisation(time.time()) == (True, False)
        assert robot.frames.loc.correction.updates >= 8
        spin(1.0)
        assert "1 robots localised" in diags[-1], diags[-3:]
        robot.destroy_node()
        test.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_one_tf_message_per_container_and_period(ros_env):  # noqa: ARG001 (sets the domain)
    """Where tf2_msgs is installed a container sends its robots' transforms as one TFMessage a
    period (what tf2_ros's broadcaster puts on /tf, batched); the batch is checked here with a
    stand-in publisher and message class, as tf2_msgs is not on every install."""
    import rclpy

    from warehouse_interfaces.msg import RobotState
    from warehouse_nodes import conversions as conv
    from warehouse_nodes.robot_frames import TfBatch
    from warehouse_nodes.robot_node import RobotNode

    class Message:
        def __init__(self, transforms) -> None:
            self.transforms = transforms

    class Pub:
        def __init__(self) -> None:
            self.sent: list[Message] = []

        def publish(self, msg: Message) -> None:
            self.sent.append(msg)

    rclpy.init()
    try:
        robots = [RobotNode(namespace=f"robot_{i}", shared_inputs=True) for i in range(3)]
        pub = Pub()
        batch = TfBatch(pub, Message, period=0.5)
        for r in robots:
            r.frames.tf = batch
        for k in range(11):  # 1 s of 10 Hz ticks: odometry every 0.5 s (odom_period)
            t = 100.0 + k / 10
            for i, r in enumerate(robots):
                r.on_base_state(RobotState(header=conv.header(t), robot_id=r.robot_id, x=2.0 * i + k / 10,
                                           y=5.0, theta=0.0, battery=1.0, progress_index=-1))
            batch.flush(t)
        assert len(pub.sent) == 3  # t = 100.0, 100.5, 101.0: one message each, not one per robot
        last = pub.sent[-1].transforms
        assert len(last) == 6
        got = {(tf.header.frame_id, tf.child_frame_id): tf for tf in last}
        for i in range(3):
            c = got[("map", f"robot_{i}/odom")].transform.translation
            assert (c.x, c.y) == pytest.approx((2.0 * i, 5.0))  # odometry started where the robot stood
            b = got[(f"robot_{i}/odom", f"robot_{i}/base_link")].transform.translation
            assert (b.x, b.y) == pytest.approx((1.0, 0.0))  # 1 m driven since
        assert [conv.from_time(tf.header.stamp) for tf in last] == pytest.approx([101.0] * 6)  # restamped
        for r in robots:
            r.destroy_node()
    finally:
        rclpy.try_shutdown()

"""The ``nav2`` drive backend over real DDS, against a fake Nav2 controller server.

The robot node (``drive_backend:=nav2``) and the fake ``FollowPath`` server
(tests/fake_nav2_server.py, a kinematic differential-drive base) run as child processes with
the TEST-ONLY ``nav2_msgs`` on their path (built once by tests/nav2_test_interfaces.py for the
distro the tests run on); this process plays the planner (paths, releases) and watches the
robot's state, the base's odometry and every goal the server receives. Runs on every distro
the project builds (``WAREHOUSE_DISTRO=jazzy`` with .venv-jazzy and install-jazzy).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from warehouse_nodes import distro

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test nav2_msgs builder: a helper module, not a test
import nav2_test_interfaces  # noqa: E402

TOL = 0.05  # arrive_tolerance of the robot node


# ---------------------------------------------------------------- distro branches, no graph

def test_through_poses_layout_per_distro():
    assert distro.through_poses_layout("jazzy") == "pose_list"
    assert distro.through_poses_layout("kilted") == "goals"
    assert distro.through_poses_layout("rolling") == "goals"


def test_follow_path_goal_jazzy_and_later_names_the_progress_checker():
    goal = SimpleNamespace(path=None, controller_id="", goal_checker_id="", progress_checker_id="")
    distro.set_follow_path(goal, "P", "FollowPath", "checker", "progress")
    assert (goal.path, goal.controller_id, goal.goal_checker_id, goal.progress_checker_id) == \
        ("P", "FollowPath", "checker", "progress")


def test_follow_path_goal_without_progress_checker_field_is_filled_too():
    goal = SimpleNamespace(path=None, controller_id="", goal_checker_id="")  # Humble's layout
    distro.set_follow_path(goal, "P", "FollowPath", "checker", "progress")
    assert goal.goal_checker_id == "checker" and not hasattr(goal, "progress_checker_id")


def test_action_error_reads_code_and_message_where_the_layout_has_them():
    assert distro.action_error(SimpleNamespace(error_code=105, error_msg="stuck")) == (105, "stuck")
    assert distro.action_error(SimpleNamespace(error_code=103)) == (103, "")
    assert distro.action_error(SimpleNamespace(result=None)) == (0, "")


def test_follow_path_message_merges_waits_and_faces_along_the_path():
    from warehouse_nodes.drive_backends import _yaw as _yaw_of
    from warehouse_nodes.nav2_backend import follow_path_msg

    path = follow_path_msg([(0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 1.0)], 5.0)
    assert [(p.pose.position.x, p.pose.position.y) for p in path.poses] == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    yaws = [_yaw_of(p.pose.orientation) for p in path.poses]
    assert yaws == pytest.approx([0.0, math.pi / 2, math.pi / 2])  # the last keeps the last move's heading
    assert path.header.frame_id == "map" and all(p.header.frame_id == "map" for p in path.poses)


# ---------------------------------------------------------------- over DDS

@pytest.fixture(scope="session")
def nav2_install():
    install, seconds = nav2_test_interfaces.build()
    if seconds:
        print(f"built the test nav2_msgs in {seconds:.0f} s")
    return install


class Graph:
    """Robot node + fake Nav2 as children; this process publishes paths/releases and records."""

    def __init__(self, install: Path, env: dict[str, str], robot: tuple[str, ...] = (),
                 fake: tuple[str, ...] = ()) -> None:
        import rclpy
        from nav_msgs.msg import Odometry
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import Bool, Empty, String

        from warehouse_core import topics
        from warehouse_interfaces.msg import FleetRelease, RobotState
        from warehouse_nodes import channels

        child = nav2_test_interfaces.child_env(install, env)
        # a file, not a pipe: a robot node writing more than a pipe holds must not block
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.procs = [
            subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_nav2_server.py"), "--ros-args",
                              "-r", "__ns:=/robot_0", *_params(fake)], cwd=ROOT, env=child),
            subprocess.Popen([sys.executable, "-m", "warehouse_nodes.robot_node", "--ros-args", "-r",
                              "__ns:=/robot_0", "-p", "drive_backend:=nav2", "-p", "use_sim_time:=false",
                              "-p", f"arrive_tolerance:={TOL}", "-p", "nav2_goal_period:=0.5", *_params(robot)],
                             cwd=ROOT, env=child, stderr=self.stderr)]
        rclpy.init()
        self.node = Node("nav2_test", namespace="robot_0")
        self.path_pub = channels.publisher(self.node, topics.ROBOT_PATH, topics.ROBOT_PATH.relative)
        self.release_pub = self.node.create_publisher(FleetRelease, "/fleet/release", 10)
        self.abort_pub = self.node.create_publisher(Empty, "fake_nav2/abort", 10)
        self.answer_pub = self.node.create_publisher(Empty, "fake_nav2/answer", 10)
        self.stop_pub = self.node.create_publisher(Bool, "fake_nav2/stop", 10)
        self.states: list = []
        self.truth: list[tuple[float, float, float]] = []  # (t, x, y): the fake base's odom is its true pose
        self.goals: list[dict] = []
        self.events: list[dict] = []  # the fake's cancels and base operations
        log_qos = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)  # as the fake's logs
        self.node.create_subscription(RobotState, "state", self.states.append, 10)
        self.node.create_subscription(
            Odometry, "base/odom",
            lambda m: self.truth.append((time.monotonic(), m.pose.pose.position.x, m.pose.pose.position.y)), 50)
        self.node.create_subscription(String, "fake_nav2/goals", lambda m: self.goals.append(json.loads(m.data)),
                                      log_qos)
        self.node.create_subscription(String, "fake_nav2/events", lambda m: self.events.append(json.loads(m.data)),
                                      log_qos)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.FleetRelease, self.RobotState = FleetRelease, RobotState

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
            if cond():
                return True
        return False

    def send_path(self, cells, ops=None):
        from warehouse_interfaces.msg import TimedPath, TimedWaypoint

        wps = [TimedWaypoint(x=float(cx), y=float(cy), cell_x=cx, cell_y=cy) for cx, cy in cells]
        for i, (op, duration) in (ops or {}).items():
            wps[i].op, wps[i].op_duration = op, duration
        self.path_pub.publish(TimedPath(robot_id="robot_0", plan_id=1, step_duration=1.0, first_index=0,
                                        waypoints=wps))
        assert self.spin_until(lambda: self.progressed(0), 15.0), "the path did not reach the robot node"

    def release(self, index: int) -> None:
        self.release_pub.publish(self.FleetRelease(robot_ids=["robot_0"], plan_ids=[1], release_indices=[index]))

    def progressed(self, k: int) -> bool:
        return any(s.plan_id == 1 and s.progress_index >= k for s in self.states)

    def close(self) -> str:
        """Stop the children; the robot node's stderr (once: later calls return "")."""
        import rclpy

        if not self.procs:
            return ""
        for p in self.procs:
            p.terminate()
        self.procs[1].wait(timeout=20)
        self.stderr.seek(0)
        err = self.stderr.read()
        self.stderr.close()
        self.procs[0].wait(timeout=20)
        self.procs = []
        self.node.destroy_node()
        rclpy.try_shutdown()
        return err


def _params(pairs: tuple[str, ...]) -> list[str]:
    return [arg for pair in pairs for arg in ("-p", pair)]


@contextlib.contextmanager
def running(install: Path, env: dict[str, str], robot: tuple[str, ...] = (), fake: tuple[str, ...] = ()):
    g = Graph(install, env, robot, fake)
    try:
        # two Python ROS processes start: slow on a loaded machine, so wait for them or for one to die
        exited = lambda: [p.poll() for p in g.procs if p.poll() is not None]  # noqa: E731
        if not g.spin_until(lambda: g.states or exited(), 180.0):
            pytest.fail("no state from the robot node in 180 s")
        if not g.states:
            codes = exited()
            pytest.fail(f"a child exited ({codes}) before the robot node reported; its stderr:\n{g.close()[-3000:]}")
        # volatile topics: a release or command sent before its reader is matched would be lost
        pubs = (g.release_pub, g.abort_pub, g.answer_pub, g.stop_pub)
        assert g.spin_until(lambda: all(p.get_subscription_count() for p in pubs), 30.0), "no reader matched"
        g.spin_until(lambda: False, 1.0)  # the action server and the parameter services
        yield g
    finally:
        g.close()


@pytest.fixture
def graph(nav2_install, ros_env):
    with running(nav2_install, ros_env) as g:
        yield g


@pytest.fixture
def base_graph(nav2_install, ros_env):
    """The robot node reads every base input; the fake base answers an operation only when told."""
    with running(nav2_install, ros_env, robot=("base_inputs:=battery,rack,stop,operations",),
                 fake=("operation_delay:=-1.0",)) as g:
        yield g


CELLS = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]


def test_follows_only_released_cells_with_one_extended_goal(graph):
    graph.send_path(CELLS)
    graph.release(2)
    assert graph.spin_until(lambda: graph.progressed(2), 20.0), [s.progress_index for s in graph.states[-3:]]
    graph.spin_until(lambda: False, 2.0)  # holds at the released horizon
    assert all(y < 0.5 for _, _, y in graph.truth), "entered cell (2, 1) before it was released"
    _, x, y = graph.truth[-1]
    assert math.hypot(x - 2.0, y) <= TOL + 0.01
    assert len(graph.goals) == 1 and graph.goals[0]["poses"][-1][:2] == [2.0, 0.0]
    first = graph.goals[0]
    assert (first["controller_id"], first["goal_checker_id"]) == ("FollowPath", "general_goal_checker")
    t_release = time.monotonic()
    for k in (3, 4, 5):  # releases back to back, well within the goal period: folded into few goals
        graph.release(k)
    assert graph.spin_until(lambda: graph.progressed(5), 20.0)
    graph.spin_until(lambda: False, 1.0)
    assert 2 <= len(graph.goals) <= 3, len(graph.goals)  # no preempt storm: not one goal per release
    ends = [g["poses"][-1][1] for g in graph.goals]
    assert ends == sorted(set(ends)), ends  # a goal only when the released horizon grew
    last = graph.goals[-1]
    assert last["poses"][-1][:2] == [2.0, 3.0]
    assert last["poses"][-1][2] == pytest.approx(math.pi / 2, abs=1e-6)  # final heading along the last move
    # the goal checker got arrive_tolerance before the first goal
    assert [g["tolerance"] for g in graph.goals] == pytest.approx([TOL] * len(graph.goals))
    assert all(y < 1.5 for t, _, y in graph.truth if t < t_release)
    _, x, y = graph.truth[-1]
    assert math.hypot(x - 2.0, y - 3.0) <= TOL + 0.01
    reported = [s.progress_index for s in graph.states if s.plan_id == 1]
    assert reported == sorted(reported)
    assert graph.states[-1].mode != graph.RobotState.MODE_FAILED


def test_operation_is_held_before_the_path_goes_on(graph):
    from warehouse_core.tasks import OP_LIFT

    graph.send_path(CELLS, ops={2: (OP_LIFT, 3.0)})
    graph.release(5)
    lifting = lambda: [s for s in graph.states if s.mode == graph.RobotState.MODE_LIFTING]  # noqa: E731
    assert graph.spin_until(lambda: lifting(), 20.0), "no lift reported"
    assert graph.goals[0]["poses"][-1][:2] == [2.0, 0.0]  # the first goal stops at the lift
    assert graph.spin_until(lambda: graph.progressed(5), 30.0)
    # a mode change is published at once: from the first lift state to the first state after it
    start = next(i for i, s in enumerate(graph.states) if s.mode == graph.RobotState.MODE_LIFTING)
    after = next(s for s in graph.states[start:] if s.mode != graph.RobotState.MODE_LIFTING)
    span = conv_time(after) - conv_time(graph.states[start])
    assert 2.9 <= span <= 4.0, span  # held for the operation's 3 s
    assert all(s.progress_index == 2 for s in lifting())
    t_lift = min(t for t, x, y in graph.truth if math.hypot(x - 2.0, y) <= TOL + 0.01)
    assert graph.goals[1]["t"] >= t_lift + 2.9, (graph.goals[1]["t"], t_lift)
    assert len(graph.goals) == 2


def test_operation_waits_for_the_base_and_a_protective_stop_holds_the_robot(base_graph):  # noqa: PLR0915
    from std_msgs.msg import Bool, Empty

    from warehouse_core.tasks import MODE_STOPPED, OP_LIFT

    g, rs = base_graph, base_graph.RobotState
    g.send_path(CELLS, ops={2: (OP_LIFT, 1.0)})
    g.release(5)
    asked = lambda: [e for e in g.events if e["event"] == "asked"]  # noqa: E731
    assert g.spin_until(asked, 20.0), "the base was not asked to lift"
    assert asked()[0]["operation"] == 1  # BaseOperation LIFT
    g.spin_until(lambda: False, 3.0)  # three times the plan's 1 s lift, the base silent
    start = next(i for i, s in enumerate(g.states) if s.mode == rs.MODE_LIFTING)
    held = g.states[start:]
    assert all(s.mode == rs.MODE_LIFTING and s.progress_index == 2 for s in held), [s.mode for s in held]
    assert len(g.goals) == 1 and g.goals[0]["poses"][-1][:2] == [2.0, 0.0]  # nothing past the lift yet
    assert held[-1].battery == pytest.approx(0.8)  # the base's BatteryState
    g.answer_pub.publish(Empty())
    answered = lambda: [e for e in g.events if e["event"] == "answered"]  # noqa: E731
    assert g.spin_until(lambda: answered() and len(g.goals) == 2, 20.0), (g.events, len(g.goals))
    assert answered()[0]["code"] == 0  # SUCCEEDED
    assert g.goals[1]["t"] >= answered()[0]["t"]  # the path goes on only after the base's answer
    assert g.goals[1]["poses"][-1][:2] == [2.0, 3.0]
    # a protective stop on the way to (2, 3): the goal is cancelled, none is sent, MODE_STOPPED
    assert g.spin_until(lambda: g.truth and g.truth[-1][2] > 1.2, 20.0), g.truth[-1:]
    g.stop_pub.publish(Bool(data=True))
    stopped = lambda: [i for i, s in enumerate(g.states) if s.mode == MODE_STOPPED]  # noqa: E731
    assert g.spin_until(stopped, 10.0), [s.mode for s in g.states[-3:]]
    assert g.spin_until(lambda: any(e["event"] == "cancel" for e in g.events), 10.0), g.events
    g.spin_until(lambda: False, 3.0)
    during = g.states[stopped()[0]:]
    assert all(s.mode == MODE_STOPPED for s in during), [s.mode for s in during]
    assert len(g.goals) == 2 and not g.progressed(5)
    g.stop_pub.publish(Bool(data=False))
    assert g.spin_until(lambda: g.progressed(5), 30.0), [(s.mode, s.progress_index) for s in g.states[-3:]]
    g.spin_until(lambda: False, 1.0)
    assert len(g.goals) == 3 and not any(goal["stopped"] for goal in g.goals), g.goals
    assert g.goals[2]["poses"][-1][:2] == [2.0, 3.0]  # from the last waypoint reached on to the horizon
    _, x, y = g.truth[-1]
    assert math.hypot(x - 2.0, y - 3.0) <= TOL + 0.01
    assert not any(s.mode == rs.MODE_FAILED for s in g.states)
    assert g.states[-1].mode != MODE_STOPPED


def conv_time(state) -> float:
    return state.header.stamp.sec + state.header.stamp.nanosec * 1e-9


def test_abort_takes_the_failure_path_with_the_reason(graph):
    graph.send_path(CELLS)
    graph.release(5)
    assert graph.spin_until(lambda: graph.progressed(1), 20.0)
    from std_msgs.msg import Empty

    graph.abort_pub.publish(Empty())
    failed = lambda: any(s.mode == graph.RobotState.MODE_FAILED for s in graph.states)  # noqa: E731
    assert graph.spin_until(failed, 10.0), [s.mode for s in graph.states[-3:]]
    n = len(graph.goals)
    graph.release(5)
    graph.spin_until(lambda: False, 1.5)
    assert len(graph.goals) == n  # a failed base gets no more goals
    stderr = graph.close()
    assert "Nav2 FollowPath aborted (error_code 105: told to abort)" in stderr, stderr[-2000:]


@pytest.mark.skipif(os.environ.get("WAREHOUSE_DISTRO", "kilted") != "kilted", reason="one distro at a time")
def test_the_test_package_is_private(nav2_install):
    assert nav2_install.name == "install-test"
    assert not (ROOT / "install" / "nav2_msgs").exists()  # never in the product's install space


# ---------------------------------------------------------------- the whole graph on nav2 bases

def test_a_run_on_simulated_bases_through_nav2_controller_servers(tmp_path, ros_env, nav2_install):
    """``./warehouse run --bases nav2``: every robot node drives its simulated base through FollowPath
    goals to the base simulator's controller servers (no cmd_vel from the robots); orders complete
    with no two robots closer than 0.5 m (judged on the bases' ground truth)."""
    from rosbags.rosbag2 import Reader

    out = tmp_path / "run"
    env = nav2_test_interfaces.child_env(nav2_install, ros_env) | {"WAREHOUSE_ROOT": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--bases", "nav2", "--robots", "4",
                           "--duration", "150", "--seed", "42", "--max-rtf", "5", "--out", str(out), "--quiet"],
                          cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["orders_completed"] >= 1 and report["collisions"] == 0, report
    assert report["robot_travel_m"] > 10.0
    params = yaml.safe_load((out / "params.yaml").read_text())
    assert params["/**/robot"]["ros__parameters"]["drive_backend"] == "nav2"
    assert params["base_simulator"]["ros__parameters"]["follow_path_servers"] is True
    with Reader(out / "bag") as reader:
        topics = {c.topic for c in reader.connections}
    assert {f"/robot_{i}/map_pose" for i in range(4)} <= topics


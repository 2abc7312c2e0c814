"""A fake Nav2 controller server for tests: ``FollowPath`` driving a kinematic differential-drive base.

Run as a node (``python tests/fake_nav2_server.py --ros-args -r __ns:=/robot_0``), named
``controller_server`` like Nav2's. It needs the test ``nav2_msgs`` (tests/nav2_test_interfaces.py).

* ``follow_path`` (nav2_msgs/FollowPath): the base turns on the spot towards the next pose of
  the path and drives straight to it (speed ``max_speed``, turn rate ``turn_rate``); the goal
  succeeds within ``<goal checker>.xy_goal_tolerance`` of the last pose. A goal arriving while
  one runs replaces the path, and the old goal ends aborted with no error code, as Nav2's
  controller server does.
* ``base/odom`` (nav_msgs/Odometry, frame ``odom`` = ``map`` here): the base's pose at 50 Hz.
* ``fake_nav2/abort`` (std_msgs/Empty): the goal running aborts with FAILED_TO_MAKE_PROGRESS.
* ``fake_nav2/goals`` (std_msgs/String, JSON, latched): one line per goal received: its poses
  ``[x, y, yaw]``, plugin ids, the goal checker tolerance then in force and whether the base
  was in a protective stop.

A new path is followed from its pose nearest the base (the poses behind it are pruned, as
Nav2's controllers do), so a path extended while the base drives does not send it back. A
cancelled goal stops the base. Beside the controller server the node plays the base's driver
(:class:`FakeBaseDriver`):

* ``base_operation`` (warehouse_interfaces/action/BaseOperation): answered after
  ``operation_delay`` seconds, or, when it is negative, when ``fake_nav2/answer``
  (std_msgs/Empty) comes; refused with REJECTED_STOPPED in a protective stop.
* ``base/protective_stop`` (std_msgs/Bool): set by ``fake_nav2/stop`` (std_msgs/Bool); while
  it is active the wheels do not turn.
* ``base/battery`` (sensor_msgs/BatteryState, ``battery``) and ``base/rack_present`` (std_msgs/Bool).
* ``fake_nav2/events`` (std_msgs/String, JSON, latched): ``cancel``, ``asked`` and ``answered``
  (operation, code) with their monotonic times.
"""

from __future__ import annotations

import json
import math
import threading
import time

import rclpy
from nav2_msgs.action import FollowPath
from nav_msgs.msg import Odometry
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool, Empty, String

from warehouse_core.sim.follow_path import nearest_ahead
from warehouse_interfaces.action import BaseOperation

CHECKER = "general_goal_checker"
# the test's subscription may match after the first lines: it gets them all the same
LOG_QOS = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class FakeBaseDriver:
    """The base's own driver: BaseOperation, protective stop, battery and rack presence."""

    def __init__(self, node: Node, group: ReentrantCallbackGroup) -> None:
        self.node = node
        node.declare_parameter("operation_delay", 1.0)
        node.declare_parameter("battery", 0.8)
        self.stop = False
        self.rack = False
        self.answers = 0  # fake_nav2/answer messages not used yet
        self.lock = threading.Lock()
        self.events = node.create_publisher(String, "fake_nav2/events", LOG_QOS)
        self.stop_pub = node.create_publisher(Bool, "base/protective_stop", 10)
        self.battery_pub = node.create_publisher(BatteryState, "base/battery", 10)
        self.rack_pub = node.create_publisher(Bool, "base/rack_present", 10)
        node.create_subscription(Bool, "fake_nav2/stop", self.on_stop, 10)
        node.create_subscription(Empty, "fake_nav2/answer", self.on_answer, 10)
        ActionServer(node, BaseOperation, "base_operation", self.execute, callback_group=group)
        node.create_timer(0.2, self.publish_inputs)

    def log(self, **event) -> None:
        self.events.publish(String(data=json.dumps({"t": time.monotonic(), **event})))

    def on_stop(self, msg: Bool) -> None:
        self.stop = bool(msg.data)
        self.publish_inputs()

    def on_answer(self, _msg: Empty) -> None:
        with self.lock:
            self.answers += 1

    def publish_inputs(self) -> None:
        self.stop_pub.publish(Bool(data=self.stop))
        self.battery_pub.publish(BatteryState(percentage=float(self.node.get_parameter("battery").value),
                                              present=True))
        self.rack_pub.publish(Bool(data=self.rack))

    def _answered(self, since: float) -> bool:
        delay = float(self.node.get_parameter("operation_delay").value)
        if delay >= 0.0:
            return time.monotonic() - since >= delay
        with self.lock:
            if self.answers:
                self.answers -= 1
                return True
        return False

    def execute(self, handle) -> BaseOperation.Result:
        op, asked = handle.request.operation, time.monotonic()
        self.log(event="asked", operation=op)
        while rclpy.ok() and not self._answered(asked):
            time.sleep(0.02)
        code = BaseOperation.Result.SUCCEEDED
        if self.stop:  # stopped before it was done: nothing moved
            code = BaseOperation.Result.REJECTED_STOPPED
        elif op == BaseOperation.Goal.LIFT:
            self.rack = True
        elif op == BaseOperation.Goal.DROP:
            self.rack = False
        self.log(event="answered", operation=op, code=code)
        self.publish_inputs()
        handle.succeed()
        return BaseOperation.Result(code=code, rack_present=self.rack, message="")


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _wrap(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


class FakeControllerServer(Node):
    """FollowPath server moving a simulated unicycle base along the latest path."""

    def __init__(self) -> None:
        super().__init__("controller_server")
        self.declare_parameter("max_speed", 1.0)
        self.declare_parameter("turn_rate", 3.0)
        self.declare_parameter("start", [0.0, 0.0, 0.0])
        self.declare_parameter(f"{CHECKER}.xy_goal_tolerance", 0.25)
        self.x, self.y, self.yaw = [float(v) for v in self.get_parameter("start").value]
        self.v = 0.0
        self.lock = threading.Lock()
        self.path: list[tuple[float, float]] = []
        self.target = 0
        self.current = None  # the goal handle being followed
        self.abort_now = False
        group = ReentrantCallbackGroup()
        self.odom_pub = self.create_publisher(Odometry, "base/odom", 10)
        self.goal_log = self.create_publisher(String, "fake_nav2/goals", LOG_QOS)
        self.create_subscription(Empty, "fake_nav2/abort", self.on_abort, 10)
        ActionServer(self, FollowPath, "follow_path", self.execute, callback_group=group,
                     goal_callback=self.on_goal, cancel_callback=lambda _h: CancelResponse.ACCEPT)
        self.base = FakeBaseDriver(self, group)
        self.create_timer(0.02, self.step, callback_group=group)

    def tolerance(self) -> float:
        return float(self.get_parameter(f"{CHECKER}.xy_goal_tolerance").value)

    def on_abort(self, _msg: Empty) -> None:
        self.abort_now = True

    def on_goal(self, goal) -> GoalResponse:
        poses = [[p.pose.position.x, p.pose.position.y, _yaw(p.pose.orientation)] for p in goal.path.poses]
        self.goal_log.publish(String(data=json.dumps({
            "t": time.monotonic(), "poses": poses, "controller_id": goal.controller_id,
            "goal_checker_id": goal.goal_checker_id, "tolerance": self.tolerance(), "stopped": self.base.stop})))
        return GoalResponse.ACCEPT if poses else GoalResponse.REJECT

    def execute(self, handle):
        with self.lock:
            self.current = handle  # replaces the path of the goal running
            self.path = [(p.pose.position.x, p.pose.position.y) for p in handle.request.path.poses]
            self.target = nearest_ahead(self.path, self.x, self.y)  # the poses behind the base are pruned
        result = FollowPath.Result()
        while rclpy.ok():
            time.sleep(0.02)
            with self.lock:
                if self.current is not handle:
                    handle.abort()  # superseded: no error code, the new goal goes on
                    return result
                if handle.is_cancel_requested:
                    self.current, self.path = None, []
                    self.base.log(event="cancel")
                    handle.canceled()
                    return result
                if self.abort_now:
                    self.abort_now, self.current, self.path = False, None, []
                    result.error_code, result.error_msg = result.FAILED_TO_MAKE_PROGRESS, "told to abort"
                    handle.abort()
                    return result
                gx, gy = self.path[-1]
                if self.target >= len(self.path) and math.hypot(gx - self.x, gy - self.y) <= self.tolerance():
                    self.current, self.path = None, []
                    handle.succeed()
                    return result
        handle.abort()
        return result

    def step(self) -> None:
        dt = 0.02
        with self.lock:
            self.v = 0.0
            while not self.base.stop and self.target < len(self.path):
                tx, ty = self.path[self.target]
                if math.hypot(tx - self.x, ty - self.y) > 0.01:
                    break
                self.target += 1
            if self.target < len(self.path) and not self.base.stop:  # brakes on in a protective stop
                tx, ty = self.path[self.target]
                err = _wrap(math.atan2(ty - self.y, tx - self.x) - self.yaw)
                turn = float(self.get_parameter("turn_rate").value) * dt
                if abs(err) > 0.05:
                    self.yaw = _wrap(self.yaw + max(-turn, min(turn, err)))
                else:
                    self.yaw = _wrap(self.yaw + err)
                    d = min(float(self.get_parameter("max_speed").value) * dt, math.hypot(tx - self.x, ty - self.y))
                    self.x += d * math.cos(self.yaw)
                    self.y += d * math.sin(self.yaw)
                    self.v = d / dt
        msg = Odometry()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id, msg.child_frame_id = "odom", "base_link"
        msg.pose.pose.position.x, msg.pose.pose.position.y = self.x, self.y
        msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(self.yaw / 2), math.cos(self.yaw / 2)
        msg.twist.twist.linear.x = self.v
        self.odom_pub.publish(msg)


def main() -> None:
    rclpy.init()
    node = FakeControllerServer()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()

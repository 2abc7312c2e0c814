"""A fake hardware base for tests: what a vendor driver of a differential-drive AMR provides.

Lives in a node given to it (the test's, in the test's own executor):

* ``cmd_vel`` (Twist) drives the kinematic plant of the core tests (latency, slip, noise;
  src/warehouse_core/test/diff_drive_plant.py); ``base/odom`` (Odometry) in the base's own odom
  frame, which starts at ``spawn`` in ``map``.
* ``base/battery`` (sensor_msgs/BatteryState): ``percentage`` falling by ``drain`` per second.
* ``base/rack_present`` (std_msgs/Bool): a rack is on the lift.
* ``base/protective_stop`` (std_msgs/Bool): :meth:`FakeBase.set_stop`; while active the wheels
  do not turn, whatever ``cmd_vel`` says, and operations are refused.
* ``base_operation`` (warehouse_interfaces/action/BaseOperation): answers after ``delay`` seconds;
  the lifts numbered in ``failing_lifts`` (1 = the first) fail with no rack on the lift.

Every record is on the monotonic clock: ``truth`` (t, x, y in map), ``commands`` (t, v, w),
``asked`` (t, operation), ``operations`` (asked, answered, operation, code).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from diff_drive_plant import DiffDrivePlant, PlantConfig
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.action import ActionServer
from rclpy.node import Node
from rclpy.task import Future
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from warehouse_interfaces.action import BaseOperation
from warehouse_nodes import conversions as conv


@dataclass
class BaseScript:
    """How the fake base behaves."""

    spawn: tuple[float, float, float]  # map -> odom (the base's odom origin in map)
    delay: float = 2.0  # [s] an operation's answer comes this late
    failing_lifts: frozenset[int] = frozenset()
    battery: float = 0.9  # percentage at start, 0..1
    drain: float = 0.01  # per second
    plant: PlantConfig = field(default_factory=lambda: PlantConfig(latency=0.05, seed=3))


class FakeBase:
    """The base simulator (see module docstring); ``tick`` runs at 50 Hz on the node's timer."""

    def __init__(self, node: Node, script: BaseScript) -> None:
        self.node, self.script = node, script
        self.plant = DiffDrivePlant(0.0, 0.0, 0.0, script.plant)
        self.start = self.last = time.monotonic()
        self.stop = False
        self.rack = False
        self.lifts = 0
        self.truth: list[tuple[float, float, float]] = []
        self.commands: list[tuple[float, float, float]] = []
        self.asked: list[tuple[float, int]] = []
        self.operations: list[tuple[float, float, int, int]] = []
        self.odom_pub = node.create_publisher(Odometry, "base/odom", 10)
        self.battery_pub = node.create_publisher(BatteryState, "base/battery", 10)
        self.rack_pub = node.create_publisher(Bool, "base/rack_present", 10)
        self.stop_pub = node.create_publisher(Bool, "base/protective_stop", 10)
        node.create_subscription(Twist, "cmd_vel", self._on_cmd, 10)
        self.server = ActionServer(node, BaseOperation, "base_operation", self._execute)
        node.create_timer(0.02, self.tick)
        node.create_timer(0.2, self._publish_inputs)

    def set_stop(self, active: bool) -> None:
        self.stop = active
        self._publish_inputs()

    def _on_cmd(self, msg: Twist) -> None:
        self.commands.append((time.monotonic(), msg.linear.x, msg.angular.z))
        self.plant.command(msg.linear.x, msg.angular.z)

    def tick(self) -> None:
        now = time.monotonic()
        dt, self.last = now - self.last, now
        if self.stop:  # brakes on: the plant stands still and forgets what it was told
            self.plant.v = self.plant.w = 0.0
            self.plant.command(0.0, 0.0)
        else:
            n = max(1, round(dt / 0.005))
            for _ in range(n):
                self.plant.step(dt / n)
        x, y, yaw = self.plant.odometry()
        msg = Odometry()
        msg.header = conv.header(now, "robot_0/odom")
        msg.child_frame_id = "robot_0/base_link"
        msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
        msg.pose.pose.orientation = conv.yaw_to_quaternion(yaw)
        msg.twist.twist.linear.x = self.plant.v
        self.odom_pub.publish(msg)
        sx, sy, syaw = self.script.spawn
        c, s = math.cos(syaw), math.sin(syaw)
        self.truth.append((now, sx + c * self.plant.x - s * self.plant.y, sy + s * self.plant.x + c * self.plant.y))

    def level(self) -> float:
        return max(0.0, self.script.battery - self.script.drain * (time.monotonic() - self.start))

    def _publish_inputs(self) -> None:
        self.battery_pub.publish(BatteryState(percentage=self.level(), present=True))
        self.rack_pub.publish(Bool(data=self.rack))
        self.stop_pub.publish(Bool(data=self.stop))

    async def _execute(self, goal_handle) -> BaseOperation.Result:
        op, asked = goal_handle.request.operation, time.monotonic()
        self.asked.append((asked, op))
        done: Future = Future()
        timer = self.node.create_timer(self.script.delay, lambda: done.done() or done.set_result(True))
        await done
        self.node.destroy_timer(timer)
        code, text = BaseOperation.Result.SUCCEEDED, ""
        if self.stop:  # stopped before it was done: nothing moved
            code, text = BaseOperation.Result.REJECTED_STOPPED, "protective stop"
        elif op == BaseOperation.Goal.LIFT:
            self.lifts += 1
            if self.lifts in self.script.failing_lifts:
                code, text = BaseOperation.Result.FAILED, "lift jammed"
            else:
                self.rack = True
        elif op == BaseOperation.Goal.DROP:
            self.rack = False
        self.operations.append((asked, time.monotonic(), op, code))
        self._publish_inputs()
        goal_handle.succeed()
        return BaseOperation.Result(code=code, rack_present=self.rack, message=text)

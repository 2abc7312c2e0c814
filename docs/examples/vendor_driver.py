"""A minimal vendor-driver adapter: a (hypothetical) AMR SDK behind the topics the robot node reads.

Run it in the robot's namespace, next to the robot node (docs/deployment.md, section 1):

    python3 vendor_driver.py --ros-args -r __ns:=/robot_3 -p cmd_vel_stamped:=false

It provides, relative to the namespace: ``base/odom`` (20 Hz), ``base/battery``, ``base/rack_present``
and ``base/protective_stop`` (1 Hz and at once on a change), takes ``cmd_vel`` (stopping the base
when commands stop for 0.5 s) and serves the ``base_operation`` action. The robot node then runs
with ``base_inputs: battery,rack,stop,operations``. ``StubSdk`` stands in for the vendor's SDK so
that the adapter runs without a robot; replace it with the real one (the six calls it has).
"""

from __future__ import annotations

import math
import sys
import threading
import time

import rclpy
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.action import ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from warehouse_interfaces.action import BaseOperation

WATCHDOG_S = 0.5  # no cmd_vel this long: the base stops by itself (the robot node or the link died)


class StubSdk:
    """A kinematic stand-in for the vendor SDK (poses in the base's odometry frame, SI units)."""

    def __init__(self) -> None:
        self.x = self.y = self.yaw = self.v = self.w = 0.0
        self.t = time.monotonic()
        self.rack = False

    def set_velocity(self, v: float, w: float) -> None:
        self.v, self.w = v, w

    def odometry(self) -> tuple[float, float, float, float, float]:
        now = time.monotonic()
        dt, self.t = now - self.t, now
        self.yaw += self.w * dt
        self.x += self.v * dt * math.cos(self.yaw)
        self.y += self.v * dt * math.sin(self.yaw)
        return self.x, self.y, self.yaw, self.v, self.w

    def state_of_charge(self) -> float:
        return 0.8  # 0..1

    def rack_on_lift(self) -> bool:
        return self.rack

    def safety_stop(self) -> bool:
        return False  # the safety PLC's protective or emergency stop

    def run(self, operation: str, timeout: float) -> bool:
        """lift, drop, dock or undock; blocks until done; False: the mechanism failed."""
        time.sleep(min(1.0, timeout))
        if operation in ("lift", "drop"):
            self.rack = operation == "lift"
        return True


OPERATIONS = {BaseOperation.Goal.LIFT: "lift", BaseOperation.Goal.DROP: "drop",
              BaseOperation.Goal.DOCK: "dock", BaseOperation.Goal.UNDOCK: "undock"}


class VendorDriver(Node):
    """The adapter: SDK calls <-> the robot node's base topics and action."""

    def __init__(self, sdk: StubSdk) -> None:
        super().__init__("vendor_driver")
        self.sdk = sdk
        self.robot = self.get_namespace().strip("/")  # frames carry the robot's name (REP-105, one /tf)
        stamped = self.declare_parameter("cmd_vel_stamped", False).value  # match the robot node's
        self.odom_pub = self.create_publisher(Odometry, "base/odom", qos_profile_sensor_data)
        self.battery_pub = self.create_publisher(BatteryState, "base/battery", qos_profile_sensor_data)
        self.rack_pub = self.create_publisher(Bool, "base/rack_present", 10)
        self.stop_pub = self.create_publisher(Bool, "base/protective_stop", 10)
        self.create_subscription(TwistStamped if stamped else Twist, "cmd_vel", self.on_cmd_vel, 10)
        self.last_cmd = -math.inf
        self.busy = threading.Lock()
        # its own callback group: a running operation must not hold up odometry and the watchdog
        ActionServer(self, BaseOperation, "base_operation", self.execute, callback_group=ReentrantCallbackGroup())
        self.stop = None
        self.create_timer(0.05, self.on_fast)
        self.create_timer(1.0, lambda: self.publish_inputs(force=True))

    def on_cmd_vel(self, msg) -> None:
        twist = msg.twist if isinstance(msg, TwistStamped) else msg
        self.last_cmd = time.monotonic()
        if not self.sdk.safety_stop():
            self.sdk.set_velocity(twist.linear.x, twist.angular.z)

    def on_fast(self) -> None:
        if time.monotonic() - self.last_cmd > WATCHDOG_S:
            self.sdk.set_velocity(0.0, 0.0)
        x, y, yaw, v, w = self.sdk.odometry()
        msg = Odometry()
        msg.header.stamp = self.get_clock().now().to_msg()  # when measured, in the robot node's clock
        msg.header.frame_id, msg.child_frame_id = f"{self.robot}/odom", f"{self.robot}/base_link"
        msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
        msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        msg.twist.twist.linear.x, msg.twist.twist.angular.z = v, w  # in the child frame
        self.odom_pub.publish(msg)
        self.publish_inputs(force=False)

    def publish_inputs(self, force: bool) -> None:
        """Battery, rack and stop every second; the stop also at once when it changes."""
        stop = self.sdk.safety_stop()
        if force or stop != self.stop:
            self.stop = stop
            self.stop_pub.publish(Bool(data=stop))
        if force:
            battery = BatteryState(percentage=self.sdk.state_of_charge(), present=True)
            battery.header.stamp = self.get_clock().now().to_msg()
            battery.header.frame_id = f"{self.robot}/base_link"
            self.battery_pub.publish(battery)
            self.rack_pub.publish(Bool(data=self.sdk.rack_on_lift()))

    def execute(self, goal_handle) -> BaseOperation.Result:
        """One operation: refused in a stop or while another runs, else run and report the rack sensor."""
        result = BaseOperation.Result()
        name = OPERATIONS.get(goal_handle.request.operation)
        timeout = goal_handle.request.timeout or 30.0  # 0: the base's own limit
        if name is None:
            result.code = result.FAILED
        elif self.sdk.safety_stop():
            result.code = result.REJECTED_STOPPED
        elif not self.busy.acquire(blocking=False):
            result.code = result.REJECTED_BUSY
        else:
            try:
                start = time.monotonic()
                done = self.sdk.run(name, timeout)  # a real SDK takes the timeout itself
                late = time.monotonic() - start > timeout
                result.code = result.FAILED_TIMEOUT if late else result.SUCCEEDED if done else result.FAILED
            finally:
                self.busy.release()
        result.rack_present = self.sdk.rack_on_lift()
        result.message = f"{name or goal_handle.request.operation}: code {result.code}"
        goal_handle.succeed()  # the action ran; its outcome is the result's code
        return result


def main() -> None:
    rclpy.init(args=sys.argv)
    node = VendorDriver(StubSdk())
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    finally:
        node.sdk.set_velocity(0.0, 0.0)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()

"""Drive backends of the robot node: how it moves its base and learns where the base is.

The robot node (task execution, planner interaction) is the same for every base; a backend
takes the released waypoints (:meth:`on_path`, :meth:`on_release`) and reports the base as a
``RobotState`` through the node's ``on_base_state`` (pose in ``map``, ``progress_index`` = last
waypoint reached, ``plan_id``, mode). Chosen by the ``drive_backend`` parameter:

* ``floor_sim``: the floor simulator moves the base; waypoints go out on ``/sim/drive``, the
  state comes back on ``/sim/fleet_state``.
* ``gazebo``: a cmd_vel/odom base (Gazebo's diff drive, or a real differential-drive base):
  :class:`warehouse_core.robot.path_tracker.PathTracker` runs at ``control_rate`` on the node clock
  (sim time under Gazebo), reads ``odom_topic`` (nav_msgs/Odometry in the base's odom frame),
  writes ``cmd_vel_topic`` (Twist, or TwistStamped with ``cmd_vel_stamped``). The odom pose
  is put into ``map`` with the fixed ``map_to_odom`` offset (the spawn pose); on a real robot a
  localisation source should provide that transform instead (not implemented here).
  Operations (lift, drop, pick, charge) are held on the spot for their duration; racks are
  not handled by the base (``carrying_rack`` follows the plan: the task's rack).
* ``nav2``: the released waypoints go to Nav2 as a ``NavigateThroughPoses`` goal; needs
  ``nav2_msgs``, else the node refuses to start with a clear message.
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import TYPE_CHECKING

from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.robot.path_tracker import PathTracker, TrackerConfig, TrackWaypoint, wrap
from warehouse_core.tasks import MODE_OF_OP
from warehouse_interfaces.msg import FleetState, RobotState, TimedPath
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv

if TYPE_CHECKING:
    from warehouse_nodes.robot_node import RobotNode

BACKENDS = ("floor_sim", "gazebo", "nav2")


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def odom_to_map(offset: list[float], x: float, y: float, yaw: float) -> tuple[float, float, float]:
    """A pose in the base's odom frame in ``map``, given ``map -> odom`` = (x, y, yaw)."""
    ox, oy, oyaw = (list(offset) + [0.0, 0.0, 0.0])[:3]
    c, s = math.cos(oyaw), math.sin(oyaw)
    return ox + c * x - s * y, oy + s * x + c * y, wrap(oyaw + yaw)


class FloorSimBackend:
    """The floor simulator is the base."""

    senses_racks = True  # carrying_rack is what the base really carries: a failed lift shows

    def __init__(self, node: RobotNode) -> None:
        self.node = node
        self.drive_pub = channels.publisher(node, topics.SIM_DRIVE, event_callbacks=conv.no_pub_events())
        if not node.shared_inputs:  # else the container's FleetInputs calls on_base_state
            channels.subscription(node, topics.SIM_FLEET_STATE, self.on_fleet_state,
                                  event_callbacks=conv.no_sub_events())

    def on_fleet_state(self, msg: FleetState) -> None:
        try:
            i = msg.robot_ids.index(self.node.robot_id)
        except ValueError:
            return
        self.node.on_base_state(conv.fleet_state_entry(msg, i))

    def on_path(self, path: TimedPath, new: bool) -> None:
        """Nothing to do: the simulator gets waypoints when they are released."""

    def on_release(self, path: TimedPath, first: int, last: int, stamp: float) -> None:
        # from the waypoint after the last one the base reached, not only the newly released
        # ones: the command is idempotent and makes up for one that got lost
        base = self.node.state
        reached = base.progress_index if base.plan_id == path.plan_id else 0
        self.drive_pub.publish(conv.drive_command(path, max(1, min(first, reached + 1)), last, stamp))


class TrackerBackend:
    """cmd_vel/odom base driven by the path tracker (Gazebo, real differential-drive bases)."""

    senses_racks = False  # carrying_rack follows the plan

    def __init__(self, node: RobotNode) -> None:
        cfg = node.cfg
        self.node = node
        self.tracker = PathTracker(TrackerConfig(
            max_speed=cfg.max_speed, max_accel=cfg.max_accel, turn_rate=cfg.turn_rate,
            max_angular_accel=cfg.max_angular_acceleration, odom_timeout=cfg.odom_timeout,
            arrive_tolerance=cfg.arrive_tolerance, latency=cfg.actuation_latency))
        self.path: TimedPath | None = None
        self.stamped = cfg.cmd_vel_stamped
        self.cmd_pub = node.create_publisher(TwistStamped if self.stamped else Twist, cfg.cmd_vel_topic, 10)
        node.create_subscription(Odometry, cfg.odom_topic, self.on_odom, 10)
        self.pose_map: tuple[float, float, float] | None = None
        self.speed = 0.0
        self.was_stale = False
        self.rack = ""
        self.timer = node.create_timer(1.0 / cfg.control_rate, self.on_control)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose
        x, y, yaw = odom_to_map(self.node.cfg.map_to_odom, p.position.x, p.position.y, _yaw(p.orientation))
        self.pose_map = (x, y, yaw)
        self.speed = msg.twist.twist.linear.x
        # the time of arrival on the node clock: a stamp in another clock must not look stale
        self.tracker.update_pose(x, y, yaw, self.now())

    def on_path(self, path: TimedPath, new: bool) -> None:
        # only the waypoints the tracker does not have yet: the plan keeps growing
        first = 0 if new else len(self.tracker.waypoints)
        wps = [TrackWaypoint(w.x, w.y, float(w.op_duration) if w.op else 0.0) for w in path.waypoints[first:]]
        if new:
            self.path = path
            self.tracker.set_path(wps)
        else:
            self.tracker.extend(wps)

    def on_release(self, path: TimedPath, first: int, last: int, stamp: float) -> None:  # noqa: ARG002
        self.tracker.release(last)

    def on_control(self) -> None:
        now = self.now()
        cmd = self.tracker.control(now)
        self._publish_cmd(cmd.v, cmd.w, now)
        if cmd.stale != self.was_stale:
            self.was_stale = cmd.stale
            if cmd.stale and self.pose_map is not None:
                self.node.get_logger().warning(
                    f"no odometry on {self.node.resolve_topic_name(self.node.cfg.odom_topic)} for "
                    f"{self.node.cfg.odom_timeout} s: base stopped")
        if self.pose_map is None:
            return
        x, y, yaw = self.pose_map
        state = RobotState(header=conv.header(now), robot_id=self.node.robot_id, x=x, y=y, theta=yaw,
                           linear_velocity=self.speed, battery=1.0, progress_index=cmd.progress)
        path = self.path
        if path is not None and 0 <= cmd.progress < len(path.waypoints):
            wp = path.waypoints[cmd.progress]
            state.plan_id, state.cell_x, state.cell_y = path.plan_id, wp.cell_x, wp.cell_y
            task = self.node.task_msg
            if wp.carrying and task is not None and task.rack_id:
                self.rack = task.rack_id  # the plan's lift: the task's rack
            state.carrying_rack = self.rack if wp.carrying else ""
            if cmd.dwelling:
                state.mode = MODE_OF_OP.get(wp.op, RobotState.MODE_WAITING)
            elif cmd.moving:
                state.mode = RobotState.MODE_MOVING
            else:
                state.mode = RobotState.MODE_WAITING
        else:
            state.progress_index = -1
        self.node.on_base_state(state)

    def _publish_cmd(self, v: float, w: float, now: float) -> None:
        twist = Twist()
        twist.linear.x, twist.angular.z = float(v), float(w)
        if self.stamped:
            frame = f"{self.node.robot_id}/base_link"
            self.cmd_pub.publish(TwistStamped(header=conv.header(now, frame), twist=twist))
        else:
            self.cmd_pub.publish(twist)


def nav2_missing_message() -> str:
    distro = os.environ.get("ROS_DISTRO", "<distro>")
    return (f"drive_backend nav2 needs nav2_msgs (ROS 2 distro package ros-{distro}-nav2-msgs); "
            "install it or use drive_backend:=gazebo")


class Nav2Backend:
    """Released waypoints as ``NavigateThroughPoses`` goals to the robot's own Nav2 (untested here).

    Progress: a waypoint counts as reached when Nav2's feedback says fewer poses remain; the
    goal's last pose is the last released waypoint, so Nav2 stops there. Operations are
    held on the spot by this node after Nav2 reports the goal succeeded (not implemented:
    operations are reported as done on arrival).
    """

    senses_racks = False

    def __init__(self, node: RobotNode) -> None:
        if importlib.util.find_spec("nav2_msgs") is None:
            raise InputError(f"parameter {node.get_fully_qualified_name()}.drive_backend",
                             nav2_missing_message())
        from nav2_msgs.action import NavigateThroughPoses
        from rclpy.action import ActionClient

        self.node = node
        self.action_type = NavigateThroughPoses
        self.client = ActionClient(node, NavigateThroughPoses, "navigate_through_poses")
        self.path: TimedPath | None = None
        self.goal_first = 0
        self.goal_last = 0
        self.reached = -1
        self.pose_map: tuple[float, float, float] | None = None
        node.create_subscription(Odometry, node.cfg.odom_topic, self.on_odom, 10)
        node.create_timer(1.0 / node.cfg.control_rate, self.on_timer)

    def on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose
        self.pose_map = odom_to_map(self.node.cfg.map_to_odom, p.position.x, p.position.y,
                                    _yaw(p.orientation))

    def on_path(self, path: TimedPath, new: bool) -> None:
        if new:
            self.path, self.reached = path, 0

    def on_release(self, path: TimedPath, first: int, last: int, stamp: float) -> None:  # noqa: ARG002
        if not self.client.server_is_ready():
            self.node.get_logger().warning("Nav2 navigate_through_poses is not available yet")
            return
        goal = self.action_type.Goal()
        start = max(self.reached + 1, 0)
        for w in path.waypoints[start:last + 1]:
            ps = PoseStamped(header=conv.header(self.node.get_clock().now().nanoseconds * 1e-9))
            ps.pose.position.x, ps.pose.position.y = w.x, w.y
            ps.pose.orientation.w = 1.0
            goal.poses.append(ps)
        self.goal_first, self.goal_last = start, last
        self.client.send_goal_async(goal, feedback_callback=self.on_feedback)

    def on_feedback(self, fb) -> None:
        remaining = int(fb.feedback.number_of_poses_remaining)
        self.reached = max(self.reached, self.goal_last - remaining)

    def on_timer(self) -> None:
        if self.pose_map is None:
            return
        x, y, yaw = self.pose_map
        now = self.node.get_clock().now().nanoseconds * 1e-9
        state = RobotState(header=conv.header(now), robot_id=self.node.robot_id, x=x, y=y, theta=yaw,
                           battery=1.0, progress_index=self.reached,
                           mode=RobotState.MODE_MOVING if self.reached < self.goal_last
                           else RobotState.MODE_WAITING)
        if self.path is not None:
            state.plan_id = self.path.plan_id
        self.node.on_base_state(state)


def make_backend(node: RobotNode):
    """The backend the node's ``drive_backend`` parameter names."""
    name = node.cfg.drive_backend
    if name == "floor_sim":
        return FloorSimBackend(node)
    if name == "gazebo":
        return TrackerBackend(node)
    if name == "nav2":
        return Nav2Backend(node)
    raise InputError(f"parameter {node.get_fully_qualified_name()}.drive_backend",
                     f"unknown drive backend {name!r}", fix="one of " + ", ".join(BACKENDS))

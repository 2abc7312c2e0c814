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
  is put into ``map`` with ``map -> odom`` from the localisation source (``localisation_topic``;
  the ``map_to_odom`` parameter, the spawn pose, until a reading comes: :mod:`warehouse_nodes.robot_frames`).
  Operations (lift, drop, pick, charge) are held on the spot for their duration; with the
  base's own inputs (``base_inputs``, :mod:`warehouse_nodes.base_io`) also until the base answers
  the lift/drop/dock/undock, ``carrying_rack`` is what the base reports (else the plan's: the task's
  rack), the battery is the base's and a protective stop holds the robot (``MODE_STOPPED``).
* ``nav2``: the released cell path goes to Nav2's controller server as one extended
  ``FollowPath`` goal (:mod:`warehouse_nodes.nav2_backend`); needs ``nav2_msgs``, else the
  node refuses to start with a clear message.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.robot.path_tracker import PathTracker, TrackerConfig, TrackWaypoint, wrap
from warehouse_core.tasks import MODE_OF_OP, MODE_STOPPED
from warehouse_interfaces.msg import FleetState, RobotState, TimedPath
from warehouse_nodes import channels, distro
from warehouse_nodes import conversions as conv
from warehouse_nodes.base_cells import cell_under
from warehouse_nodes.base_io import BaseSession

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
        self.drive_pub = None  # in a container: its FleetInputs' one publisher for all its robots
        if not node.shared_inputs:  # else the container's FleetInputs calls on_base_state
            self.drive_pub = channels.publisher(node, topics.SIM_DRIVE, event_callbacks=conv.no_pub_events())
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
        if self.stamped != distro.cmd_vel_stamped():
            node.get_logger().warning(
                f"cmd_vel_stamped={self.stamped}, but {distro.detect()}'s bridges and controllers take "
                f"{distro.cmd_vel_type()} on cmd_vel; set cmd_vel_stamped to match the base")
        self.cmd_pub = node.create_publisher(TwistStamped if self.stamped else Twist, cfg.cmd_vel_topic, 10)
        channels.subscription(node, topics.BASE_ODOM, self.on_odom, name=cfg.odom_topic)
        self.pose_map: tuple[float, float, float] | None = None
        self.speed = 0.0
        self.was_stale = False
        self.rack = ""
        self.base = BaseSession(node)  # battery, rack, protective stop, lift/dock (base_inputs)
        self.senses_racks = self.base.senses_racks
        self.reports_battery = self.base.reports_battery
        self.last_control: float | None = None  # time of the last control step (a stop freezes dwells)
        self.timer = node.create_timer(1.0 / cfg.control_rate, self.on_control)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose
        # in map with the localisation's map -> odom (the map_to_odom parameter until a reading comes)
        stamp = conv.from_time(msg.header.stamp) or self.now()
        x, y, yaw = self.node.frames.driver_odom_to_map(stamp, (p.position.x, p.position.y, _yaw(p.orientation)))
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
        stopped = self._hold_for_base(now)
        cmd = self.tracker.control(now)
        if stopped:  # protective stop: zero velocity, the tracker starts again from standstill
            self.tracker.v = self.tracker.w = 0.0
            cmd = replace(cmd, v=0.0, w=0.0, moving=False)
        self._publish_cmd(cmd.v, cmd.w, now)
        if cmd.stale != self.was_stale:
            self.was_stale = cmd.stale
            if cmd.stale and self.pose_map is not None:
                self.node.get_logger().warning(
                    f"no odometry on {self.node.resolve_topic_name(self.node.cfg.odom_topic)} for "
                    f"{self.node.cfg.odom_timeout} s: base stopped")
        if self.pose_map is None or self.node.frames.pose_unknown():
            return
        x, y, yaw = self.pose_map
        state = RobotState(header=conv.header(now), robot_id=self.node.robot_id, x=x, y=y, theta=yaw,
                           linear_velocity=self.speed, battery=self.base.battery(), progress_index=cmd.progress)
        path = self.path
        if path is not None and 0 <= cmd.progress < len(path.waypoints):
            wp = path.waypoints[cmd.progress]
            state.plan_id, state.cell_x, state.cell_y = path.plan_id, wp.cell_x, wp.cell_y
            task = self.node.task_msg
            if wp.carrying and task is not None and task.rack_id:
                self.rack = task.rack_id  # the plan's lift: the task's rack
            state.carrying_rack = self.base.carrying(wp.carrying, self.rack)
            if cmd.dwelling:
                state.mode = MODE_OF_OP.get(wp.op, RobotState.MODE_WAITING)
            elif cmd.moving:
                state.mode = RobotState.MODE_MOVING
            else:
                state.mode = RobotState.MODE_WAITING
        else:  # no path yet: the cell under the base is where the planner starts it
            state.progress_index = -1
            state.cell_x, state.cell_y = cell_under(self.node.cfg.layout, x, y)
        if stopped and not self.node.fleet_estop:  # an e-stop holds the whole fleet: nobody is planned around
            state.mode = MODE_STOPPED
        self.node.on_base_state(state)

    def _hold_for_base(self, now: float) -> bool:
        """Hold at an operation's waypoint until the base answers (not asked in a stop); True: stopped."""
        stopped = self.base.stopped(now)
        if stopped and self.last_control is not None and now < self.tracker.dwell_until:
            # an operation's time stands still in a protective stop: it runs its full time after
            self.tracker.dwell_until += now - self.last_control
            self.base.postpone(now - self.last_control)
        self.last_control = now
        i, path = self.tracker.progress, self.path
        if path is not None and 0 <= i < len(path.waypoints) and not stopped:
            task = self.node.task_msg
            if self.base.holds((path.plan_id, i), path.waypoints[i].op, now < self.tracker.dwell_until,
                               self.tracker.dwell_until, now, task.rack_id if task else ""):
                self.tracker.dwell_until = max(self.tracker.dwell_until, now + 2.0 / self.node.cfg.control_rate)
        return stopped

    def _publish_cmd(self, v: float, w: float, now: float) -> None:
        twist = Twist()
        twist.linear.x, twist.angular.z = float(v), float(w)
        if self.stamped:
            frame = f"{self.node.robot_id}/base_link"
            self.cmd_pub.publish(TwistStamped(header=conv.header(now, frame), twist=twist))
        else:
            self.cmd_pub.publish(twist)


# the nav2 backend lives in its own module; imported here for make_backend and older imports
from warehouse_nodes.nav2_backend import Nav2Backend, nav2_missing_message  # noqa: E402, F401


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

"""The ``nav2`` drive backend: Nav2's controller follows exactly the cells the planner released.

The MAPF plan is safe only if each robot stays on its reserved cells and never enters one
before it is released. Nav2's navigators (``NavigateToPose``, ``NavigateThroughPoses``)
plan their own route between poses, so this backend skips the planner server and gives
the controller server (``FollowPath``) the released cell path itself:

* **The path.** A ``nav_msgs/Path`` in ``map`` through the centres of the released cells, from
  the last waypoint reached to the released horizon (or to the next waypoint with an
  operation, where the base must stop): consecutive waits on one cell are one pose, each
  pose faces the next one, and the last pose keeps the heading of the last move (the final
  heading the goal checker holds the base to).
* **One goal, extended.** At most one goal is in flight. A new goal is sent only when the
  released horizon grows past the current goal's end; the controller server takes a goal
  sent while one runs as the new path to follow (it ends the old goal, whose result is then
  ignored here). Re-sends are rate-limited to one per ``nav2_goal_period``: releases arriving
  in between are folded into the next goal, so a planner releasing every step does not
  turn into a preempt storm.
* **Results.** The current goal succeeding marks its last waypoint reached. Rejected,
  aborted or cancelled goals are a base failure: the node reports ``MODE_FAILED`` (the path
  the other backends use: the task fails, the planner re-plans around the robot) and the
  reason is logged with Nav2's error code and message.
* **Goal tolerance.** FollowPath has no tolerance field: the backend sets
  ``<nav2_goal_checker_id>.xy_goal_tolerance`` to ``arrive_tolerance`` on the controller
  server (``nav2_controller_server``) and sends the first goal only once the server has
  answered (so that no goal runs with Nav2's default tolerance); it names that goal checker
  and the controller (``nav2_controller_id``) in every goal.
* **The base's own inputs** (``base_inputs``, :class:`warehouse_nodes.base_io.BaseSession`, as
  for the path tracker): operations (lift, drop, pick, charge) are held at their waypoint for
  their duration and, with a ``BaseOperation`` server, until the base has answered the
  lift/drop/dock/undock, before the next goal is sent; the battery and the rack on the base are
  the base's. A protective stop cancels the goal in flight and sends none while it lasts (the
  robot reports ``MODE_STOPPED``, an operation's time stands still); when it clears, a goal
  from the last waypoint reached to the released horizon takes the robot on.

Progress between results comes from odometry (pose in ``map`` through the localisation's
``map -> odom``): a waypoint counts as reached when the base has come within
``arrive_tolerance`` of it along the path, as for the path tracker.
"""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING, Any

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
from rclpy.parameter import Parameter

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.tasks import MODE_OF_OP, MODE_STOPPED
from warehouse_interfaces.msg import RobotState, TimedPath
from warehouse_nodes import channels, distro
from warehouse_nodes import conversions as conv
from warehouse_nodes.base_cells import cell_under
from warehouse_nodes.base_io import BaseSession

if TYPE_CHECKING:
    from warehouse_nodes.robot_node import RobotNode

# action_msgs/GoalStatus values (rclpy reports them as plain ints)
STATUS_SUCCEEDED, STATUS_CANCELED, STATUS_ABORTED = 4, 5, 6
TOLERANCE_RETRY = 5.0  # [s] the controller server did not answer the tolerance: ask again


def nav2_missing_message() -> str:
    return (f"drive_backend nav2 needs nav2_msgs (ROS 2 distro package {distro.install_hint('nav2_msgs')}); "
            "install it or use drive_backend:=gazebo")


def follow_path_msg(points: list[tuple[float, float]], stamp: float) -> Path:
    """A ``nav_msgs/Path`` in ``map`` through ``points``, consecutive duplicates merged, each pose
    facing the next one and the last one keeping the heading of the last move."""
    merged: list[tuple[float, float]] = []
    for p in points:
        if not merged or math.hypot(p[0] - merged[-1][0], p[1] - merged[-1][1]) > 1e-6:
            merged.append(p)
    header = conv.header(stamp)
    path = Path(header=header)
    yaw = 0.0
    for i, (x, y) in enumerate(merged):
        if i + 1 < len(merged):
            yaw = math.atan2(merged[i + 1][1] - y, merged[i + 1][0] - x)
        pose = PoseStamped(header=header)
        pose.pose.position.x, pose.pose.position.y = x, y
        pose.pose.orientation = conv.yaw_to_quaternion(yaw)
        path.poses.append(pose)
    return path


class Nav2Backend:
    """Released waypoints as one extended ``FollowPath`` goal to the robot's Nav2 controller server."""

    def __init__(self, node: RobotNode) -> None:
        if importlib.util.find_spec("nav2_msgs") is None:
            raise InputError(f"parameter {node.get_fully_qualified_name()}.drive_backend",
                             nav2_missing_message())
        from nav2_msgs.action import FollowPath
        from rclpy.action import ActionClient
        from rclpy.parameter_client import AsyncParameterClient

        cfg = node.cfg
        self.node = node
        self.action_type = FollowPath
        self.client = ActionClient(node, FollowPath, cfg.nav2_follow_path_action)
        self.params = AsyncParameterClient(node, cfg.nav2_controller_server)
        self.tolerance_asked: float | None = None  # when the goal checker's tolerance was asked
        self.tolerance_set = False  # the controller server answered: goals may go
        self.path: TimedPath | None = None
        self.reached = -1          # last waypoint reached (index in the path)
        self.released = -1         # last waypoint released by the planner
        self.goal_end = -1         # last waypoint of the goal sent last
        self.goal_seq = 0          # the goal whose result counts (older ones were superseded)
        self.cancel_upto = 0       # goals up to this one are cancelled (a stop, a new plan), accepted or not
        self.in_flight = False
        self.handle: Any = None    # the goal in flight
        self.last_goal_time = -math.inf
        self.goals_sent = 0
        self.hold_until: float | None = None  # operation at ``reached`` runs until then
        self.op_done = -1          # last waypoint whose operation is finished
        self.failure = ""          # why the base failed ("" : it has not)
        self.rack = ""
        self.pose_map: tuple[float, float, float] | None = None
        self.speed = 0.0
        self.base = BaseSession(node)  # battery, rack, protective stop, lift/dock (base_inputs)
        self.senses_racks = self.base.senses_racks  # carrying_rack is the base's, else the plan's
        self.reports_battery = self.base.reports_battery
        self.stopped = False
        self.last_tick: float | None = None
        channels.subscription(node, topics.BASE_ODOM, self.on_odom, name=cfg.odom_topic)
        node.create_timer(1.0 / cfg.control_rate, self.on_timer)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    # -- inputs ------------------------------------------------------------------------
    def on_odom(self, msg: Odometry) -> None:
        # imported here: drive_backends imports this module for make_backend
        from warehouse_nodes.drive_backends import _yaw

        p = msg.pose.pose
        stamp = conv.from_time(msg.header.stamp) or self.now()
        self.pose_map = self.node.frames.driver_odom_to_map(stamp, (p.position.x, p.position.y, _yaw(p.orientation)))
        self.speed = msg.twist.twist.linear.x

    def on_path(self, path: TimedPath, new: bool) -> None:
        if new:  # a new plan starts where the robot stands: the goal is rebuilt from its start
            # the old path may run past the new plan's released cells: stop following it
            self._drop_goal()
            self.reached, self.released, self.goal_end, self.op_done = 0, 0, -1, -1
            self.hold_until = None
        self.path = path

    def on_release(self, path: TimedPath, first: int, last: int, stamp: float) -> None:  # noqa: ARG002
        self.path = path
        self.released = max(self.released, last)
        if not self.stopped:
            self._send_if_due()

    # -- goals -------------------------------------------------------------------------
    def _segment_end(self) -> int:
        """The last waypoint the next goal may reach: the released horizon, or the first
        waypoint after ``reached`` with an operation (the base stops there for it)."""
        assert self.path is not None
        for i in range(self.reached + 1, self.released + 1):
            if self.path.waypoints[i].op:
                return i
        return self.released

    def _send_if_due(self) -> None:
        if self.path is None or self.failure or self.hold_until is not None or self._op_pending():
            return
        end = self._segment_end()
        if end <= max(self.reached, self.goal_end):
            return  # the horizon has not grown past the goal in flight
        if self.now() - self.last_goal_time < self.node.cfg.nav2_goal_period:
            return  # rate limit: the timer sends it, with whatever was released meanwhile
        if not self.client.server_is_ready():
            self.node.get_logger().warning(
                f"Nav2 {self.node.resolve_topic_name(self.node.cfg.nav2_follow_path_action)} is not "
                "available yet", throttle_duration_sec=5.0)
            return
        if not self._tolerance_ready():
            return
        wps = [self.path.waypoints[i] for i in range(self.reached, end + 1)]
        if all(math.hypot(w.x - wps[0].x, w.y - wps[0].y) < 1e-6 for w in wps):
            self.reached = end  # waits on the spot: nothing for the controller to do
            return
        goal = self.action_type.Goal()
        cfg = self.node.cfg
        distro.set_follow_path(goal, follow_path_msg([(w.x, w.y) for w in wps], self.now()),
                               cfg.nav2_controller_id, cfg.nav2_goal_checker_id, cfg.nav2_progress_checker_id)
        self.goal_seq += 1
        seq = self.goal_seq
        self.goal_end, self.in_flight, self.last_goal_time = end, True, self.now()
        self.goals_sent += 1
        self.client.send_goal_async(goal).add_done_callback(lambda f: self._on_goal_response(seq, f))

    def _tolerance_ready(self) -> bool:
        """The goal checker's position tolerance is ``arrive_tolerance``: asked once the controller
        server is up; goals wait for its answer, so that none runs with another tolerance."""
        if self.tolerance_set:
            return True
        now = self.now()
        if self.tolerance_asked is not None and now - self.tolerance_asked < TOLERANCE_RETRY:
            return False  # the answer is on its way
        cfg = self.node.cfg
        if not self.params.services_are_ready():
            self.node.get_logger().warning(
                f"Nav2 controller server {cfg.nav2_controller_server!r} has no parameter services yet: goals wait "
                f"until its {cfg.nav2_goal_checker_id}.xy_goal_tolerance is set", throttle_duration_sec=5.0)
            return False
        self.tolerance_asked = now
        self.params.set_parameters([Parameter(f"{cfg.nav2_goal_checker_id}.xy_goal_tolerance",
                                              value=float(cfg.arrive_tolerance))]).add_done_callback(
            self._on_tolerance)
        return False

    def _on_tolerance(self, future: Any) -> None:
        response = future.result()
        refused = [r.reason for r in (response.results if response is not None else []) if not r.successful]
        if response is None or refused:
            # a real answer: the goals go on, held to the server's own tolerance, and the operator knows
            self.node.get_logger().error(
                f"Nav2 controller server refused {self.node.cfg.nav2_goal_checker_id}.xy_goal_tolerance = "
                f"arrive_tolerance: {'; '.join(refused) or 'no response'}")
        self.tolerance_set = True

    def _on_goal_response(self, seq: int, future: Any) -> None:
        handle = future.result()
        if seq != self.goal_seq:
            if seq <= self.cancel_upto and handle is not None and handle.accepted:
                handle.cancel_goal_async()  # dropped before it was accepted: it must not run on
            return
        if handle is None or not handle.accepted:
            self._fail("Nav2 FollowPath rejected the goal")
            return
        self.handle = handle
        handle.get_result_async().add_done_callback(lambda f: self._on_result(seq, f))

    def _on_result(self, seq: int, future: Any) -> None:
        if seq != self.goal_seq:
            return  # superseded by a later goal: the server ended it to follow the new path
        response = future.result()
        self.in_flight = False
        if response.status == STATUS_SUCCEEDED:
            self.reached = max(self.reached, self.goal_end)
            if not self.stopped:
                self._send_if_due()
            return
        code, message = distro.action_error(response.result)
        what = {STATUS_ABORTED: "aborted", STATUS_CANCELED: "was cancelled"}.get(response.status, "ended")
        self._fail(f"Nav2 FollowPath {what} (error_code {code}{': ' + message if message else ''})")

    def _drop_goal(self) -> None:
        """Stop following the goal in flight (cancelled, its result no longer counts); the next
        goal starts from the last waypoint reached."""
        if self.in_flight:
            if self.handle is not None:
                self.handle.cancel_goal_async()
            self.cancel_upto = self.goal_seq  # not accepted yet: cancelled when it is
        self.goal_seq += 1
        self.in_flight, self.handle = False, None
        self.goal_end = min(self.goal_end, self.reached)

    def _fail(self, reason: str) -> None:
        self.in_flight = False
        if not self.failure:
            self.failure = reason
            self.node.get_logger().error(f"{self.node.robot_id}: {reason}: the base has failed")

    # -- progress, operations, protective stop -------------------------------------------
    def _advance(self) -> None:
        """Mark waypoints of the goal reached from the pose, as the path tracker does."""
        if self.path is None or self.pose_map is None:
            return
        x, y, _ = self.pose_map
        tol = self.node.cfg.arrive_tolerance
        while self.reached + 1 <= min(self.goal_end, self.released) and not self._op_pending():
            a, b = self.path.waypoints[self.reached], self.path.waypoints[self.reached + 1]
            seg = math.hypot(b.x - a.x, b.y - a.y)
            if seg > 1e-6:
                along = ((x - a.x) * (b.x - a.x) + (y - a.y) * (b.y - a.y)) / seg
                if along < seg - tol or math.hypot(b.x - x, b.y - y) > 3.0 * tol + 0.1:
                    return
            self.reached += 1

    def _op_pending(self) -> bool:
        """The waypoint reached has an operation that has not run yet."""
        return self.path is not None and self.reached > self.op_done and self.reached >= 0 \
            and bool(self.path.waypoints[self.reached].op)

    def start_operation(self, op: int, duration: float) -> None:
        """Begin ``op`` at the waypoint reached: the base holds still for ``duration`` and, with a
        ``BaseOperation`` server, until it has answered the base operations of ``op``."""
        self.hold_until = self.now() + duration
        self.node.get_logger().debug(f"operation {op} for {duration:.1f} s")

    def _operations(self, now: float) -> None:
        if self.hold_until is None:
            if not self._op_pending() or self.in_flight:
                return  # the goal ending at the operation's waypoint runs until the base stops there
            wp = self.path.waypoints[self.reached]
            self.start_operation(int(wp.op), float(wp.op_duration))
        path, task = self.path, self.node.task_msg
        if self.base.holds((path.plan_id, self.reached), int(path.waypoints[self.reached].op), True,
                           self.hold_until, now, task.rack_id if task else ""):
            self.hold_until = max(self.hold_until, now + 2.0 / self.node.cfg.control_rate)
        if now >= self.hold_until:
            self.hold_until, self.op_done = None, self.reached

    def _watch_stop(self, now: float) -> bool:
        """Follow the base's protective stop: the goal in flight is cancelled when it begins, an
        operation's time stands still while it lasts (it runs its full time after). True: stopped."""
        stopped = self.base.stopped(now)
        if stopped and not self.stopped:
            self._drop_goal()
            self.node.get_logger().warning(f"{self.node.robot_id}: protective stop: Nav2 goal cancelled")
        elif self.stopped and not stopped:
            self.node.get_logger().info(f"{self.node.robot_id}: protective stop cleared: the path goes on")
        if stopped and self.hold_until is not None and self.last_tick is not None:
            self.hold_until += now - self.last_tick
            self.base.postpone(now - self.last_tick)
        self.stopped, self.last_tick = stopped, now
        return stopped

    # -- state ---------------------------------------------------------------------------
    def on_timer(self) -> None:
        now = self.now()
        stopped = self._watch_stop(now)
        self._advance()
        if not stopped:  # in a stop the base is asked nothing and gets no goal
            if self.path is not None and self.reached >= 0:
                self._operations(now)
            self._send_if_due()
        if self.pose_map is None or self.node.frames.pose_unknown():
            return
        x, y, yaw = self.pose_map
        state = RobotState(header=conv.header(now), robot_id=self.node.robot_id, x=x, y=y, theta=yaw,
                           linear_velocity=self.speed, battery=self.base.battery(), progress_index=self.reached)
        path = self.path
        if path is not None and self.reached >= 0:
            wp = path.waypoints[self.reached]
            state.plan_id, state.cell_x, state.cell_y = path.plan_id, wp.cell_x, wp.cell_y
            task = self.node.task_msg
            if wp.carrying and task is not None and task.rack_id:
                self.rack = task.rack_id  # the plan's lift: the task's rack
            state.carrying_rack = self.base.carrying(wp.carrying, self.rack)
            if self.hold_until is not None:
                state.mode = MODE_OF_OP.get(wp.op, RobotState.MODE_WAITING)
            else:
                state.mode = RobotState.MODE_MOVING if self.in_flight else RobotState.MODE_WAITING
        else:  # no waypoint reached yet: the cell under the base is where the planner starts it
            state.cell_x, state.cell_y = cell_under(self.node.cfg.layout, x, y)
        if stopped and not self.node.fleet_estop:  # an e-stop holds the whole fleet: nobody is planned around
            state.mode = MODE_STOPPED
        if self.failure:
            state.mode = RobotState.MODE_FAILED
        self.node.on_base_state(state)

"""Robot node: one per robot, namespace ``/robot_<i>``; executes tasks on its drive base.

* Action server ``execute_task`` (ExecuteTask): accepts a task when idle, asks the planner for
  a route through its steps (``/planner/requests``), follows the timed path it receives on
  ``path`` only as far as the planner releases it (``/fleet/release``), and reports each
  completed step as feedback.
* Publishes ``odom`` (nav_msgs/Odometry, pose in ``map``) and ``state`` (RobotState).
* A path with a higher plan id (a repair after another robot failed) replaces the current
  one; the task steps not completed yet are bound to its waypoints again.
* When its base fails (MODE_FAILED) the robot aborts its task (success false, the fault in
  the message) and refuses new ones.
* Drive backend (parameter ``drive_backend``, :mod:`warehouse_nodes.drive_backends`):
  ``floor_sim`` (the floor simulator: ``/sim/drive``, ``/sim/fleet_state``), ``gazebo`` (a
  cmd_vel/odom path tracker for Gazebo and real differential-drive bases) or ``nav2``.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

from nav_msgs.msg import Odometry
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.task import Future

from warehouse_core.task_progress import TaskProgress
from warehouse_interfaces.action import ExecuteTask
from warehouse_interfaces.msg import (
    FleetRelease,
    PlanRequest,
    RobotState,
    TimedPath,
)
from warehouse_nodes import conversions as conv
from warehouse_nodes.drive_backends import make_backend
from warehouse_nodes.params import declare_config
from warehouse_nodes.runtime import run_nodes


@dataclass(frozen=True)
class RobotConfig:
    drive_backend: str = "floor_sim"
    state_period: float = 1.0  # s (sim time) between state messages when nothing changes
    request_retry: float = 5.0  # s (wall clock): re-send a plan request that got no waypoint yet
    heartbeat_period: float = 2.0  # s (wall clock): state goes out at least this often, even if
    # sim time stands still, so the fleet never mistakes a paused simulation for dead robots
    # -- drive_backend gazebo (cmd_vel/odom path tracker) and nav2 --
    odom_topic: str = "base/odom"  # base odometry (nav_msgs/Odometry, base's odom frame)
    cmd_vel_topic: str = "cmd_vel"  # velocity commands to the base
    cmd_vel_stamped: bool = False  # TwistStamped (Kilted and later) instead of Twist (Jazzy)
    control_rate: float = 20.0  # Hz, node clock (sim time under Gazebo)
    map_to_odom: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.0, 0.0])
    # [m, m, rad] fixed map -> odom (the spawn pose); a localisation source should replace it
    odom_timeout: float = 0.5  # s without odometry: stop the base
    max_speed: float = 1.5  # m/s, as floor_simulator.max_speed
    max_accel: float = 1.0  # m/s^2, as floor_simulator.max_accel
    turn_rate: float = 1.5708  # rad/s, as floor_simulator.turn_rate
    arrive_tolerance: float = 0.05  # m: a waypoint counts as reached this close to its centre
    actuation_latency: float = 0.0  # s: the tracker predicts the pose this far ahead (cmd delay)
    # -- base geometry (config/robot_hardware.yaml) --
    max_angular_acceleration: float = 3.0  # rad/s^2
    wheel_separation: float = 0.50  # m (Gazebo model; not used by the tracker)
    wheel_radius: float = 0.08  # m (Gazebo model)
    chassis_length: float = 0.70  # m
    chassis_width: float = 0.56  # m


class RobotNode(Node):
    """One robot: task execution, odometry and state (see module docstring)."""

    def __init__(self, namespace: str = "", **kwargs) -> None:
        super().__init__("robot", namespace=namespace, start_parameter_services=False, **kwargs)
        self.cfg = declare_config(self, RobotConfig)
        self.robot_id = self.get_namespace().strip("/") or self.get_name()
        self.state = RobotState(robot_id=self.robot_id, progress_index=-1)
        self.path: TimedPath | None = None
        self.sent = 0
        self.goal_handle = None
        self.task_msg = None
        self.progress: TaskProgress | None = None
        self.done_future: Future | None = None
        self.last_state_pub = -1e9
        self.heartbeat_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(self.cfg.heartbeat_period, self.on_heartbeat, clock=self.heartbeat_clock)
        self.failed = False
        self.odom_pub = self.create_publisher(Odometry, "odom", 10)
        self.state_pub = self.create_publisher(RobotState, "state", 10)
        # latched: a planner that (re)joins late still gets this robot's current request
        self.request_pub = self.create_publisher(PlanRequest, "/planner/requests", conv.latched_qos())
        self.request_msg: PlanRequest | None = None
        self.request_wall = 0.0
        self.backend = make_backend(self)
        self.create_subscription(FleetRelease, "/fleet/release", self.on_release, 10)
        # transient local like the planner's publisher: a robot node that matches late still
        # receives the first segment of its path (without it every later one is refused)
        self.create_subscription(TimedPath, "path", self.on_path, conv.latched_qos(conv.PATH_HISTORY))
        self.action = ActionServer(self, ExecuteTask, "execute_task", self.execute,
                                   goal_callback=self.on_goal, cancel_callback=self.on_cancel)

    # -- base state --------------------------------------------------------------------
    def on_base_state(self, mine: RobotState) -> None:
        """The backend's report of the base (pose in ``map``, progress on the current path)."""
        old = self.state
        if mine.mode == RobotState.MODE_FAILED and not self.failed:
            self.failed = True
            if self.done_future is not None and not self.done_future.done():
                self.done_future.set_result(False)
        mine.task_id = self.task_msg.task_id if self.task_msg else ""
        if self.path is not None and mine.plan_id != self.path.plan_id:
            mine.plan_id, mine.progress_index = self.path.plan_id, 0
        if self.task_msg is None and mine.mode == RobotState.MODE_WAITING:
            mine.mode = RobotState.MODE_IDLE
        self.state = mine
        self.odom_pub.publish(conv.odometry(mine))
        now = conv.from_time(mine.header.stamp)
        changed = (old.progress_index, old.plan_id, old.mode, old.task_id, old.carrying_rack) != \
            (mine.progress_index, mine.plan_id, mine.mode, mine.task_id, mine.carrying_rack)
        if changed or now - self.last_state_pub >= self.cfg.state_period:
            self.state_pub.publish(mine)
            self.last_state_pub = now
        self._follow_task()

    def _follow_task(self) -> None:
        if self.progress is None or self.path is None or self.state.plan_id != self.path.plan_id:
            return
        before = self.progress.completed
        done = self.progress.update(self.state.progress_index, self.state.mode in conv.OPERATION_MODES)
        if done != before and self.goal_handle is not None:
            fb = ExecuteTask.Feedback(step_index=done, mode=self.state.mode,
                                      progress_index=self.state.progress_index)
            self.goal_handle.publish_feedback(fb)
        if self.progress.done and self.done_future is not None and not self.done_future.done():
            self.done_future.set_result(True)

    def on_heartbeat(self) -> None:
        if self.state.header.stamp.sec or self.state.header.stamp.nanosec:
            self.state_pub.publish(self.state)
        # no waypoint of the task planned yet: the request may have been lost, send it again
        wall = self.heartbeat_clock.now().nanoseconds * 1e-9
        if self.request_msg is not None and self.progress is not None and not self.progress.arrivals \
                and wall - self.request_wall >= self.cfg.request_retry:
            self.request_pub.publish(self.request_msg)
            self.request_wall = wall

    # -- planner interaction -----------------------------------------------------------
    def on_path(self, msg: TimedPath) -> None:
        """A new path (``first_index`` 0, higher plan id) or the next segment of the current one."""
        waypoints = [((w.cell_x, w.cell_y), w.op) for w in msg.waypoints]
        if self.path is None or msg.plan_id > self.path.plan_id:
            if msg.first_index != 0:
                return  # the start of this path was missed; it is latched, so it comes again
            self.path = msg
            self.sent = 0
            if self.progress is not None:
                self.progress.rebind(0)  # a repair: bind the steps not done yet again
            self.backend.on_path(self.path, True)
        elif msg.plan_id == self.path.plan_id and msg.first_index == len(self.path.waypoints):
            self.path.waypoints.extend(msg.waypoints)
            self.backend.on_path(self.path, False)
        else:
            return
        if self.progress is not None:
            self.progress.extend_path(waypoints, msg.first_index)

    def on_release(self, msg: FleetRelease) -> None:
        if self.path is None:
            return
        try:
            i = msg.robot_ids.index(self.robot_id)
        except ValueError:
            return
        if msg.plan_ids[i] != self.path.plan_id or msg.release_indices[i] <= self.sent:
            return
        last = min(msg.release_indices[i], len(self.path.waypoints) - 1)
        self.backend.on_release(self.path, self.sent + 1, last, conv.from_time(msg.header.stamp))
        self.sent = last

    # -- task action -------------------------------------------------------------------
    def on_goal(self, goal: ExecuteTask.Goal) -> GoalResponse:
        if self.task_msg is not None or not goal.task.steps or self.failed:
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def on_cancel(self, goal_handle) -> CancelResponse:  # noqa: ARG002
        return CancelResponse.REJECT  # a rack visit in progress is finished, never abandoned

    async def execute(self, goal_handle) -> ExecuteTask.Result:
        task = goal_handle.request.task
        self.goal_handle, self.task_msg = goal_handle, task
        self.progress = TaskProgress([((s.cell_x, s.cell_y), s.op) for s in task.steps])
        # only waypoints planned after this request can perform the task's operations
        self.progress.extend_path([], len(self.path.waypoints) if self.path else 0)
        self.done_future = Future()
        self.request_msg = PlanRequest(header=self.state.header, robot_id=self.robot_id,
                                       task_id=task.task_id, steps=list(task.steps))
        self.request_pub.publish(self.request_msg)
        self.request_wall = self.heartbeat_clock.now().nanoseconds * 1e-9
        ok = await self.done_future
        self.request_msg = None
        # replace the latched request, so that a restarted planner does not redo this task
        self.request_pub.publish(PlanRequest(header=self.state.header, robot_id=self.robot_id))
        if ok:
            goal_handle.succeed()
            result = ExecuteTask.Result(success=True, finished=self.state.header.stamp)
        else:
            goal_handle.abort()
            result = ExecuteTask.Result(success=False, finished=self.state.header.stamp,
                                        message=f"{self.robot_id} failed (drive fault) during the task")
        self.goal_handle = self.task_msg = self.progress = self.done_future = None
        return result


def make_robots(first: int, count: int) -> list:
    return [lambda i=i: RobotNode(namespace=conv.robot_name(i)) for i in range(first, first + count)]


def main(args: list[str] | None = None) -> None:
    """One robot node (namespace from ``--ros-args -r __ns:=/robot_<i>``)."""
    sys.exit(run_nodes([RobotNode], args))


if __name__ == "__main__":
    main()

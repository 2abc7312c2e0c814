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
* Drive backend ``floor_sim``: the base is simulated by the floor simulator; commands go
  out on ``/sim/drive`` and the base state comes back in ``/sim/fleet_state``.
"""

from __future__ import annotations

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
    DriveCommand,
    FleetRelease,
    FleetState,
    PlanRequest,
    RobotState,
    TimedPath,
)
from warehouse_nodes import conversions as conv
from warehouse_nodes.params import declare_config
from warehouse_nodes.runtime import run_nodes


@dataclass(frozen=True)
class RobotConfig:
    drive_backend: str = "floor_sim"
    state_period: float = 1.0  # s (sim time) between state messages when nothing changes
    heartbeat_period: float = 2.0  # s (wall clock): state goes out at least this often, even if
    # sim time stands still, so the fleet never mistakes a paused simulation for dead robots


class RobotNode(Node):
    """One robot: task execution, odometry and state (see module docstring)."""

    def __init__(self, namespace: str = "", **kwargs) -> None:
        super().__init__("robot", namespace=namespace, start_parameter_services=False, **kwargs)
        self.cfg = declare_config(self, RobotConfig)
        if self.cfg.drive_backend != "floor_sim":
            raise ValueError(f"drive_backend {self.cfg.drive_backend!r} is not available here "
                             "(only 'floor_sim')")
        self.robot_id = self.get_namespace().strip("/") or self.get_name()
        self.state = RobotState(robot_id=self.robot_id, progress_index=-1)
        self.path: TimedPath | None = None
        self.sent = 0
        self.goal_handle = None
        self.task_msg = None
        self.progress: TaskProgress | None = None
        self.done_future: Future | None = None
        self.last_state_pub = -1e9
        self.create_timer(self.cfg.heartbeat_period, self.on_heartbeat,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.failed = False
        self.odom_pub = self.create_publisher(Odometry, "odom", 10)
        self.state_pub = self.create_publisher(RobotState, "state", 10)
        self.drive_pub = self.create_publisher(DriveCommand, "/sim/drive", 10)
        self.request_pub = self.create_publisher(PlanRequest, "/planner/requests", 10)
        self.create_subscription(FleetState, "/sim/fleet_state", self.on_fleet_state, 10)
        self.create_subscription(FleetRelease, "/fleet/release", self.on_release, 10)
        self.create_subscription(TimedPath, "path", self.on_path, 10)
        self.action = ActionServer(self, ExecuteTask, "execute_task", self.execute,
                                   goal_callback=self.on_goal, cancel_callback=self.on_cancel)

    # -- base state --------------------------------------------------------------------
    def on_fleet_state(self, msg: FleetState) -> None:
        mine = next((r for r in msg.robots if r.robot_id == self.robot_id), None)
        if mine is None:
            return
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
        elif msg.plan_id == self.path.plan_id and msg.first_index == len(self.path.waypoints):
            self.path.waypoints.extend(msg.waypoints)
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
        self.drive_pub.publish(conv.drive_command(self.path, self.sent + 1, last,
                                                  conv.from_time(msg.header.stamp)))
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
        self.request_pub.publish(PlanRequest(header=self.state.header, robot_id=self.robot_id,
                                             task_id=task.task_id, steps=list(task.steps)))
        ok = await self.done_future
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

"""Robot node: one per robot, namespace ``/robot_<i>``; executes tasks on its drive base.

* Tasks (parameter ``fleet_transport``): ``per_robot``: action server ``execute_task``
  (ExecuteTask); ``batched`` (lean, for large fleets): the task arrives on ``/tasks`` and the
  answer (accepted or rejected, each completed step, the result) goes to
  ``/fleet/task_feedback`` (TaskFeedback). Either way the robot accepts a task when idle, asks
  the planner for a route through its steps (``/planner/requests``), follows the timed path it
  receives on ``path`` only as far as the planner releases it (``/fleet/release``), and
  reports each completed step.
* Publishes ``odom`` (nav_msgs/Odometry in ``<robot>/odom``; not with a base that publishes its own),
  ``map_pose`` (in ``map``, :mod:`warehouse_nodes.robot_frames`), every ``odom_period``, and ``state``
  (RobotState); with ``batched`` also its state on ``/fleet/states`` (FleetState), where a
  robot container publishes all its robots' states in one message.
* A path with a higher plan id (a repair after another robot failed) replaces the current
  one; the task steps not completed yet are bound to its waypoints again.
* While waypoints released to it are left to drive it reports ``MODE_MOVING``, even when its base
  waits (a lost drive command, sent again): a planner restarted mid-run plans only once every robot
  stands at the end of what was released to it (:mod:`warehouse_core.fleet.restart`). When it takes
  a path of a higher plan id during a task it sends its request again, with the steps not done,
  marked with that plan id: a restarted planner learns the task in flight from it.
* A node started while its base already holds a plan (its robot container died and was started
  again) takes the robot over where the base stands: the plan from the latched path segments, the
  task in flight (sent again by the allocator: on ``/tasks``, or as a new goal with ``per_robot``,
  :mod:`warehouse_nodes.robot_goals`) at its steps done (:mod:`warehouse_nodes.robot_resume`).
* When its base fails (MODE_FAILED) the robot aborts its task (success false, the fault in
  the message) and refuses new ones.
* When a lift step is done but the base carries no rack, or another one, than the task's (a
  jammed rack; only with a base that senses its load), the robot aborts the task
  (``FAILURE_LIFT``) and stays in service: its next request to the planner has no steps.
* A hardware base that reports a protective stop (:mod:`warehouse_nodes.base_io`) makes the robot hold
  with ``MODE_STOPPED``: it keeps its task (given back, failed, after ``stop_timeout``), refuses new
  ones, and goes on when the stop clears; the planner plans around it meanwhile.
* It obeys only commands for its own namespace: a path on its ``path`` topic or a task goal
  that names another robot is ignored, counted in ``foreign_commands`` and logged (on the
  fleet-wide topics ``/tasks`` and ``/fleet/release`` it only ever reads its own entries).
* Drive backend (parameter ``drive_backend``, :mod:`warehouse_nodes.drive_backends`):
  ``floor_sim`` (the floor simulator: ``/sim/drive``, ``/sim/fleet_state``), ``gazebo`` (a
  cmd_vel/odom path tracker for Gazebo and real differential-drive bases) or ``nav2``.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.task import Future
from std_msgs.msg import Header

from warehouse_core import topics
from warehouse_core.fleet.restart import resume_marker
from warehouse_core.robot.task_progress import TaskProgress
from warehouse_core.robot.waypoint_window import WaypointWindow
from warehouse_interfaces.action import ExecuteTask
from warehouse_interfaces.msg import (
    FleetControl,
    FleetRelease,
    PlanRequest,
    RobotState,
    TaskFeedback,
    TaskStep,
    TimedPath,
    TimedWaypoint,
)
from warehouse_interfaces.msg import Task as TaskMsg
from warehouse_nodes import channels, diagnostics
from warehouse_nodes import conversions as conv
from warehouse_nodes.configs import RobotConfig
from warehouse_nodes.drive_backends import make_backend
from warehouse_nodes.params import declare_config
from warehouse_nodes.robot_frames import RobotFrames, tf_batch
from warehouse_nodes.robot_goals import TaskGoals
from warehouse_nodes.robot_resume import RobotResume
from warehouse_nodes.runtime import run_nodes

# Task events kept per robot, re-sent when the allocator repeats a task. It repeats only the tasks
# whose outcome it had not journaled when it stopped (a robot runs one task at a time: at most
# its current one and the one before); 100 per robot filled over 15 simulated hours and grew the
# robot container by ~12 MB at 100 robots.
FEEDBACK_HISTORY = 8


class RobotNode(Node):
    """One robot: task execution, odometry and state (see module docstring)."""

    def __init__(self, namespace: str = "", shared_inputs: bool = False, **kwargs) -> None:
        """``shared_inputs``: the fleet-level topics (``/fleet/release``, ``/sim/fleet_state``) are
        received once per process by :class:`~warehouse_nodes.robot_container.FleetInputs`, which
        calls :meth:`apply_release` and the backend's ``on_base_state`` of this node. Such a node
        logs to its process's output only, not on ``/rosout``: one ``/rosout`` writer per robot is
        500 more DDS endpoints for every process to discover at 500 robots."""
        super().__init__("robot", namespace=namespace, start_parameter_services=False,
                         enable_rosout=not shared_inputs, **kwargs)
        self.shared_inputs = shared_inputs
        self.cfg = declare_config(self, RobotConfig)
        self.batched = conv.check_fleet_transport(self.cfg.fleet_transport, self.get_fully_qualified_name())
        if self.cfg.drive_backend == "floor_sim":
            # time comes with the simulated base's state: no /clock subscription per robot
            self.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, False)])
        self.robot_id = self.get_namespace().strip("/") or self.get_name()
        self.state = RobotState(robot_id=self.robot_id, progress_index=-1)
        self.base_mode = RobotState.MODE_IDLE  # the base's own mode (the state may say MOVING: see above)
        self.base_seen = False  # self.state is the base's, not a placeholder
        self.path: TimedPath | None = None
        self.sent = 0
        self.placeholder = TimedWaypoint()  # what a waypoint the base has driven past reads as
        self.resume = RobotResume(self)  # this node may replace one that died mid-run
        self.goal_handle = None
        self.task_msg = None
        self.progress: TaskProgress | None = None
        self.done_future: Future | None = None
        self.last_state_pub = -1e9
        self.last_odom_pub = -1e9
        self.heartbeat_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(self.cfg.heartbeat_period, self.on_heartbeat, clock=self.heartbeat_clock)
        self.failed = False
        self.foreign_commands = 0  # commands naming another robot, ignored
        # odometry, map pose, map -> odom (a container hands its robots its /tf batch)
        self.frames = RobotFrames(self, None if shared_inputs else tf_batch(self, self.cfg.odom_period))
        self.state_pub = channels.publisher(self, topics.ROBOT_STATE, topics.ROBOT_STATE.relative,
                                            event_callbacks=conv.no_pub_events())
        # latched: a planner that (re)joins late still gets this robot's current request
        self.request_pub = channels.publisher(self, topics.PLANNER_REQUESTS, event_callbacks=conv.no_pub_events())
        self.request_msg: PlanRequest | None = None
        self.request_wall = 0.0
        self.backend = make_backend(self)
        if not shared_inputs:
            channels.subscription(self, topics.FLEET_RELEASE, self.on_release, event_callbacks=conv.no_sub_events())
        # an operator's emergency stop (/fleet/control): a hardware base holds at zero velocity until the
        # reset, its task kept (the floor simulator stops its own robots); a container reads it for its robots
        self.fleet_estop = False
        if not shared_inputs and self.cfg.drive_backend != "floor_sim":
            channels.subscription(self, topics.FLEET_CONTROL, self.on_control, event_callbacks=conv.no_sub_events())
        # transient local like the planner's publisher: a robot node that matches late still
        # receives the first segment of its path (without it every later one is refused)
        channels.subscription(self, topics.ROBOT_PATH, self.on_path, topics.ROBOT_PATH.relative,
                              event_callbacks=conv.no_sub_events())
        # batched transport: a container shares one publisher and subscription among its robots
        self.feedback_pub = self.fleet_state_pub = None
        self.task_events: OrderedDict[str, TaskFeedback] = OrderedDict()  # last event per task
        self.goals = TaskGoals(self) if not self.batched else None  # the ExecuteTask action server
        if self.batched and not shared_inputs:
            self.feedback_pub = channels.publisher(self, topics.TASK_FEEDBACK)
            self.fleet_state_pub = channels.publisher(self, topics.FLEET_STATES)
            channels.subscription(self, topics.TASKS, self.on_task_msg)
        if not shared_inputs:  # a robot on its own (in a container the container reports for all)
            self.diagnostics = diagnostics.robots(self.robot_id, [self], lambda: [self])

    # -- base state --------------------------------------------------------------------
    def on_base_state(self, mine: RobotState) -> None:
        """The backend's report of the base (pose in ``map``, progress on the current path)."""
        old = self.state
        self.base_seen = True
        if self.path is None or not self.resume.seen:
            self.resume.on_base_state(mine)
        if self.goals is not None:
            self.goals.poll()
        if mine.mode == RobotState.MODE_FAILED and not self.failed:
            self.failed = True
            if self.progress is not None:
                self._task_done(False)
        mine.task_id = self.task_msg.task_id if self.task_msg else ""
        if self.path is not None and mine.plan_id != self.path.plan_id:
            mine.plan_id, mine.progress_index = self.path.plan_id, 0
        if self.task_msg is None and mine.mode == RobotState.MODE_WAITING:
            mine.mode = RobotState.MODE_IDLE
        self.base_mode = mine.mode
        if mine.mode in (RobotState.MODE_IDLE, RobotState.MODE_WAITING) and self.path is not None \
                and mine.plan_id == self.path.plan_id and mine.progress_index < self.sent:
            mine.mode = RobotState.MODE_MOVING  # released waypoints are left: it has not settled
        self.state = mine
        self._forget_driven()
        now = conv.from_time(mine.header.stamp)
        # 1 ms slack: the simulator's ticks are floats, a period of exact ticks must not slip one
        due = now - self.last_odom_pub >= self.cfg.odom_period - 1e-3 or now < self.last_odom_pub
        self.frames.on_base_state(mine, due)
        if due:
            self.last_odom_pub = now
        changed = (old.progress_index, old.plan_id, old.mode, old.task_id, old.carrying_rack) != \
            (mine.progress_index, mine.plan_id, mine.mode, mine.task_id, mine.carrying_rack)
        if changed or now - self.last_state_pub >= self.cfg.state_period:
            self.state_pub.publish(mine)
            if self.fleet_state_pub is not None:
                self.fleet_state_pub.publish(conv.fleet_state_msg([mine], now))
            self.last_state_pub = now
        self._follow_task()

    def _forget_driven(self) -> None:
        """Waypoints the base has driven past are never read again (drive commands start after
        the last one reached): the path's :class:`WaypointWindow` drops them, so that a robot does
        not keep every waypoint of its plan, one a second, for the whole run (+113 MB/h for 100
        robots with the waypoints kept, about +2.9 MB/h with one placeholder slot each)."""
        if self.path is None or self.state.plan_id != self.path.plan_id:
            return
        self.path.waypoints.forget_before(self.resume.forget_before(self.state.progress_index))

    def _follow_task(self) -> None:
        if self.progress is None or self.path is None or self.state.plan_id != self.path.plan_id:
            return
        before = self.progress.completed
        # a protective stop at an operation's waypoint has not finished the operation
        running = self.state.mode in conv.OPERATION_MODES or self.state.mode == RobotState.MODE_STOPPED
        done = self.progress.update(self.state.progress_index, running)
        lifted = [s for s in self.task_msg.steps[before:done] if s.op == TaskStep.OP_LIFT]
        if lifted and self.backend.senses_racks and self.state.carrying_rack != self.task_msg.rack_id:
            s = lifted[-1]
            self.progress.completed = before  # the lift is not done: the rack stands where it was
            self._task_done(False, TaskFeedback.FAILURE_LIFT,
                            f"{self.robot_id} could not lift rack {self.task_msg.rack_id} at "
                            f"({s.cell_x}, {s.cell_y}): it carries {self.state.carrying_rack or 'nothing'}")
            return
        if done != before:
            if self.goal_handle is not None:
                fb = ExecuteTask.Feedback(step_index=done, mode=self.state.mode,
                                          progress_index=self.state.progress_index)
                self.goal_handle.publish_feedback(fb)
            self._feedback(TaskFeedback.EVENT_STEP_DONE, done)
        if self.progress.done:
            self._task_done(True)

    def on_heartbeat(self) -> None:
        if self.state.header.stamp.sec or self.state.header.stamp.nanosec:
            self.state_pub.publish(self.state)
        # the base waits short of what was released: a drive command was lost, send it again
        st = self.state
        behind = st.plan_id != self.path.plan_id or st.progress_index < self.sent if self.path else False
        if behind and self.sent > 0 and self.base_mode in (RobotState.MODE_WAITING, RobotState.MODE_IDLE):
            self.backend.on_release(self.path, self.sent, self.sent, conv.from_time(st.header.stamp))
        # no waypoint of the task planned yet: the request may have been lost, send it again
        wall = self.heartbeat_clock.now().nanoseconds * 1e-9
        if self.request_msg is not None and self.progress is not None and not self.progress.arrivals \
                and wall - self.request_wall >= self.cfg.request_retry:
            self.request_pub.publish(self.request_msg)
            self.request_wall = wall

    # -- planner interaction -----------------------------------------------------------
    def on_path(self, msg: TimedPath) -> None:
        """A new path (``first_index`` 0, higher plan id) or the next segment of the current one."""
        if self._foreign("path", msg.robot_id):
            return
        waypoints = [((w.cell_x, w.cell_y), w.op) for w in msg.waypoints]
        if self.path is None or msg.plan_id > self.path.plan_id:
            if msg.first_index != 0:
                if self.path is None:  # the plan may have begun before this node (it took over mid-run)
                    self.resume.hold(msg)
                return  # the start of this path was missed; it is latched, so it comes again
            taken_over = self.path is None and self.resume.taken_over
            self.resume.pieces.clear()
            self.path = msg
            self.path.waypoints = WaypointWindow(msg.waypoints, self.placeholder)
            # taken over mid-run on the plan the base is on: it has what it reached
            self.sent = max(self.state.progress_index, 0) if self.state.plan_id == msg.plan_id else 0
            if self.progress is not None and taken_over:
                self.resume.bind(self.progress, self.state)
                self._request_again(msg.plan_id)
            elif self.progress is not None:
                self.progress.rebind(0)  # a repair: bind the steps not done yet again
                self._request_again(msg.plan_id)
            self.backend.on_path(self.path, True)
        elif msg.plan_id == self.path.plan_id and msg.first_index == len(self.path.waypoints):
            self.path.waypoints.extend(msg.waypoints)
            self.backend.on_path(self.path, False)
        else:
            return
        if self.progress is not None:
            self.progress.extend_path(waypoints, msg.first_index)

    def _request_again(self, plan_id: int) -> None:
        """The steps not done of the task in flight, for plan ``plan_id`` (a planner that restarted
        learns the task from it; a running one already has it and ignores it)."""
        left = list(self.task_msg.steps[self.progress.completed:])
        if not left:  # done: the task ends with this state (a request without steps would give it up)
            return
        header = Header(stamp=self.state.header.stamp, frame_id=resume_marker(plan_id))
        self.request_msg = PlanRequest(header=header, robot_id=self.robot_id, task_id=self.task_msg.task_id,
                                       steps=left)
        self.request_pub.publish(self.request_msg)

    def on_control(self, msg: FleetControl) -> None:
        if msg.estop != self.fleet_estop:
            self.get_logger().warning(f"emergency stop {'on: holding' if msg.estop else 'reset: going on'}")
        self.fleet_estop = bool(msg.estop)

    def on_release(self, msg: FleetRelease) -> None:
        if self.path is None:
            return
        try:
            i = msg.robot_ids.index(self.robot_id)
        except ValueError:
            return
        self.apply_release(int(msg.plan_ids[i]), int(msg.release_indices[i]), conv.from_time(msg.header.stamp))

    def apply_release(self, plan_id: int, index: int, stamp: float) -> None:
        """The planner allows driving plan ``plan_id`` up to waypoint ``index``."""
        if self.path is None or plan_id != self.path.plan_id or index <= self.sent:
            return
        last = min(index, len(self.path.waypoints) - 1)
        self.backend.on_release(self.path, self.sent + 1, last, stamp)
        self.sent = last

    # -- tasks: common part -------------------------------------------------------------
    def refusal(self, task: TaskMsg) -> str:
        """Why this robot cannot take ``task`` now; empty if it can."""
        if self.failed:
            return f"{self.robot_id} has failed"
        if self.task_msg is not None:
            return f"{self.robot_id} is busy with {self.task_msg.task_id}"
        if self.state.mode == RobotState.MODE_STOPPED:
            return f"{self.robot_id} is in a protective stop"
        if not task.steps:
            return f"task {task.task_id} has no steps"
        return ""

    def _begin_task(self, task: TaskMsg, done: int | None = None) -> None:
        """Start ``task``; ``done``: it was begun by the node this one replaced, that many steps done."""
        self.task_msg = task
        self.progress = TaskProgress([((s.cell_x, s.cell_y), s.op) for s in task.steps])
        header = self.state.header
        if done is not None:  # marked: a planner restarted meanwhile counts it; a running one ignores it
            header = Header(stamp=header.stamp, frame_id=resume_marker(self.path.plan_id if self.path else 0))
        self.resume.begin(task.task_id, self.progress, done)
        self.request_msg = PlanRequest(header=header, robot_id=self.robot_id,
                                       task_id=task.task_id, steps=list(task.steps[done or 0:]))
        self.request_pub.publish(self.request_msg)
        self.request_wall = self.heartbeat_clock.now().nanoseconds * 1e-9

    def fail_task(self, message: str, failure: int = TaskFeedback.FAILURE_BASE) -> None:
        """A backend ends the task in flight, failed (the base refused an operation, a protective stop
        outlasted ``stop_timeout``); the robot stays in service. Nothing happens without a task."""
        self._task_done(False, failure, message)

    def _task_done(self, ok: bool, failure: int = TaskFeedback.FAILURE_BASE, message: str = "") -> None:
        """The task ended (all steps done, the base failed, a lift failed): report it, become idle."""
        if self.task_msg is None or (self.done_future is not None and self.done_future.done()):
            return
        self.request_msg = None
        # replace the latched request, so that a restarted planner does not redo this task; after
        # a failed lift it names the task: the planner drops the steps it has not planned yet
        gave_up = self.task_msg.task_id if failure == TaskFeedback.FAILURE_LIFT and not ok else ""
        self.request_pub.publish(PlanRequest(header=self.state.header, robot_id=self.robot_id, task_id=gave_up))
        failure = TaskFeedback.FAILURE_NONE if ok else failure
        message = "" if ok else message or f"{self.robot_id} failed (drive fault) during the task"
        self._feedback(TaskFeedback.EVENT_SUCCEEDED if ok else TaskFeedback.EVENT_FAILED,
                       self.progress.completed if self.progress else 0, message, failure=failure)
        if self.done_future is not None and not self.done_future.done():
            self.done_future.set_result((failure, message))  # the action's execute() finishes the goal
        else:
            self.task_msg = self.progress = None

    # -- tasks over topics (fleet_transport batched) ----------------------------------------
    def on_task_msg(self, task: TaskMsg) -> None:
        """A task on ``/tasks``: take it if it is for this robot (repeats are answered again)."""
        if task.robot_id != self.robot_id:
            return
        last = self.task_events.get(task.task_id)
        if last is not None:  # the allocator did not hear the answer: repeat it
            self.feedback_pub.publish(last)
            return
        reason = self.refusal(task)
        note = self.resume.steps_done(task.task_id)
        if note is None and not reason:
            return  # taken over mid-run, the allocator's word on the task not heard yet: it comes again
        if note is not None and not note.open:
            reason = f"task {task.task_id} is finished"
        if reason:
            self._feedback(TaskFeedback.EVENT_REJECTED, 0, reason, task.task_id)
            return
        self._begin_task(task, note.steps_done if self.resume.begun_before(note) else None)
        self._feedback(TaskFeedback.EVENT_ACCEPTED, self.progress.completed)

    def _feedback(self, event: int, steps: int, message: str = "", task_id: str = "",
                  failure: int = TaskFeedback.FAILURE_NONE) -> None:
        if not self.batched:
            return
        task_id = task_id or self.task_msg.task_id
        msg = TaskFeedback(header=self.state.header, robot_id=self.robot_id, task_id=task_id,
                           event=event, step_index=steps, message=message, failure=failure)
        self.task_events[task_id] = msg
        self.task_events.move_to_end(task_id)
        while len(self.task_events) > FEEDBACK_HISTORY:
            self.task_events.popitem(last=False)
        self.feedback_pub.publish(msg)

    def _foreign(self, what: str, robot_id: str) -> bool:
        """A command on this robot's own interface that names another robot: ignore, count, log."""
        if robot_id == self.robot_id:
            return False
        self.foreign_commands += 1
        self.get_logger().warning(f"ignored a {what} for {robot_id!r}: this node is {self.robot_id} "
                                  f"({self.foreign_commands} foreign commands so far)",
                                  throttle_duration_sec=10.0)
        return True


def make_robots(first: int, count: int, shared_inputs: bool = False) -> list:
    return [lambda i=i: RobotNode(namespace=conv.robot_name(i), shared_inputs=shared_inputs)
            for i in range(first, first + count)]


def main(args: list[str] | None = None) -> None:
    """One robot node (namespace from ``--ros-args -r __ns:=/robot_<i>``)."""
    sys.exit(run_nodes([RobotNode], args))


if __name__ == "__main__":
    main()

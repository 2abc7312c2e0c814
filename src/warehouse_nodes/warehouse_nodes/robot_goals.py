"""A robot node's ``execute_task`` action server (ExecuteTask, ``fleet_transport: per_robot``).

A goal is accepted when the robot is idle and in service, and ends when the task does (its result:
success, or the failure and why). The goal's result lives in the node's process: when its robot
container dies, the allocator never hears it, so the allocator sends a new goal for the task to the
node started in its place (it sees the robot report no task). That node resumes the task like one
repeated on ``/tasks`` with the batched transport (:mod:`warehouse_nodes.robot_resume`): it takes the
goal, names the task in its state at once, and begins it only once the allocator's ``/task_status``
history says how many steps the node before had done. A goal for a task the node is running or has
finished (sent again by an allocator unsure it arrived) is answered with that task's outcome, never
run twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.task import Future

from warehouse_core import topics
from warehouse_core.robot.resume import Outcomes
from warehouse_interfaces.action import ExecuteTask
from warehouse_interfaces.msg import TaskFeedback

if TYPE_CHECKING:
    from warehouse_interfaces.msg import Task as TaskMsg
    from warehouse_nodes.robot_node import RobotNode

OUTCOMES_KEPT = 8  # finished tasks answered again (the allocator repeats only the last one or two)


class TaskGoals:
    """The action server of one robot node (see the module docstring)."""

    def __init__(self, node: RobotNode) -> None:
        self.node = node
        self.outcomes: Outcomes[tuple[int, str]] = Outcomes(OUTCOMES_KEPT)  # task -> (failure, message)
        self.wake: Future | None = None  # a goal waits for the allocator's word on its task
        self.server = ActionServer(node, ExecuteTask, topics.ROBOT_EXECUTE_TASK.relative, self.execute,
                                   goal_callback=self.on_goal, cancel_callback=self.on_cancel)

    def poll(self) -> None:
        """Wake a goal waiting for the allocator's word on its task (it looks again)."""
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def _current(self, task_id: str) -> bool:
        return self.node.task_msg is not None and self.node.task_msg.task_id == task_id

    def on_goal(self, goal: ExecuteTask.Goal) -> GoalResponse:
        node, task = self.node, goal.task
        if node._foreign("execute_task goal", task.robot_id):
            return GoalResponse.REJECT
        if task.task_id in self.outcomes or self._current(task.task_id):
            return GoalResponse.ACCEPT  # sent again: answered with its outcome
        if node.refusal(task):
            return GoalResponse.REJECT
        note = node.resume.steps_done(task.task_id) if node.resume.taken_over else None
        return GoalResponse.REJECT if note is not None and not note.open else GoalResponse.ACCEPT

    def on_cancel(self, goal_handle) -> CancelResponse:  # noqa: ARG002
        return CancelResponse.REJECT  # a rack visit in progress is finished, never abandoned

    async def execute(self, goal_handle) -> ExecuteTask.Result:
        node, task = self.node, goal_handle.request.task
        outcome = self.outcomes.get(task.task_id)
        if outcome is None:
            if not self._current(task.task_id):
                node.task_msg, node.done_future = task, Future()  # its state names the task from now on
                await self._begin(task)
            future = node.done_future
            node.goal_handle = goal_handle
            outcome = await future
            self.outcomes.record(task.task_id, outcome)
            if node.done_future is future:  # not a repeat that ended after the task's own goal
                node.goal_handle = node.task_msg = node.progress = node.done_future = None
        failure, message = outcome
        if failure == TaskFeedback.FAILURE_NONE:
            goal_handle.succeed()
            return ExecuteTask.Result(success=True, finished=node.state.header.stamp)
        goal_handle.abort()
        return ExecuteTask.Result(success=False, finished=node.state.header.stamp, message=message, failure=failure)

    async def _begin(self, task: TaskMsg) -> None:
        """Begin ``task``: at once, or, taken over mid-run, once the steps done before are known."""
        node, resume = self.node, self.node.resume
        note = resume.steps_done(task.task_id)
        while note is None:  # the base's first state, or the allocator's word on the task, is to come
            self.wake = Future()
            await self.wake
            note = resume.steps_done(task.task_id)
        self.wake = None
        if not note.open:  # finished under the node before (its result was lost with it)
            node._task_done(False, message=f"task {task.task_id} is finished")
            return
        node._begin_task(task, note.steps_done if resume.begun_before(note) else None)
        if node.failed:  # the base failed meanwhile
            node._task_done(False)

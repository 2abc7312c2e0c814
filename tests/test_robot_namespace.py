"""A robot node obeys only commands for its own namespace (over real DDS).

The robots here are numbered from 900, which no test run uses: DDS entities of this test may
outlive it in the pytest process (its latched path reached ``robot_0`` of a later run even after
``destroy_node``), so it must not share a name with any later run.

A path on ``/robot_900/path`` that names ``robot_901``, or an ExecuteTask goal to
``/robot_902/execute_task`` for another robot, is ignored and counted; the robot's own commands
still work; tasks on the fleet-wide ``/tasks`` for other robots get no answer from it.
"""

from __future__ import annotations

import time


def spin_until(executor, condition, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        if condition():
            return True
    return False


def test_commands_for_another_robot_are_ignored_and_counted(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from warehouse_core import topics
    from warehouse_interfaces.action import ExecuteTask
    from warehouse_interfaces.msg import Task, TaskFeedback, TaskStep, TimedPath, TimedWaypoint
    from warehouse_nodes import channels
    from warehouse_nodes.robot_node import RobotNode

    rclpy.init()
    nodes = []
    try:
        robot = RobotNode(namespace="robot_900")  # batched transport (default)
        action_robot = RobotNode(namespace="robot_902", parameter_overrides=[
            Parameter("fleet_transport", value="per_robot")])
        test = Node("intruder")
        nodes += [robot, action_robot, test]
        executor = SingleThreadedExecutor()
        for n in (robot, action_robot, test):
            executor.add_node(n)
        path_pub = channels.publisher(test, topics.ROBOT_PATH, topics.ROBOT_PATH.of("robot_900"))
        task_pub = channels.publisher(test, topics.TASKS)
        answers: list[TaskFeedback] = []
        channels.subscription(test, topics.TASK_FEEDBACK, answers.append)
        assert spin_until(executor, lambda: path_pub.get_subscription_count() > 0
                          and task_pub.get_subscription_count() > 0)

        def path(robot_id: str, plan_id: int) -> TimedPath:
            return TimedPath(robot_id=robot_id, plan_id=plan_id, step_duration=1.0, first_index=0,
                             waypoints=[TimedWaypoint(cell_x=1, cell_y=1, step=0)])

        path_pub.publish(path("robot_901", 7))
        assert spin_until(executor, lambda: robot.foreign_commands == 1)
        assert robot.path is None
        path_pub.publish(path("robot_900", 8))
        assert spin_until(executor, lambda: robot.path is not None)
        assert robot.path.plan_id == 8 and robot.foreign_commands == 1

        # /tasks is fleet-wide: a task for robot_905 is not robot_900's to answer (nor to count)
        step = TaskStep(cell_x=1, cell_y=1, op=TaskStep.OP_LIFT, duration=1.0)
        task_pub.publish(Task(task_id="T-other", robot_id="robot_905", steps=[step]))
        spin_until(executor, lambda: bool(answers), timeout=1.5)
        assert not answers and robot.task_msg is None

        client = ActionClient(test, ExecuteTask, "/robot_902/execute_task")
        assert spin_until(executor, client.server_is_ready)
        future = client.send_goal_async(ExecuteTask.Goal(task=Task(task_id="T-x", robot_id="robot_909", steps=[step])))
        assert spin_until(executor, future.done)
        assert not future.result().accepted
        assert action_robot.foreign_commands == 1 and action_robot.task_msg is None
    finally:
        # destroying the nodes is not enough on its own (see the module docstring): the robot
        # numbers keep this test's latched path and tasks away from later runs
        for n in nodes:
            n.destroy_node()
        rclpy.try_shutdown()

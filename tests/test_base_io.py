"""A robot node's hardware I/O over DDS: the tracker backend against a fake vendor base.

The fake base (tests/fake_base.py) drives a kinematic plant from ``cmd_vel``, serves the
``BaseOperation`` action (answers 2 s late, the second lift jams), publishes a falling battery, rack
presence and, for 3 s mid-drive, a protective stop. This test plays allocator and planner: two
tasks on ``/tasks``, their paths on ``path``, everything released at once. It checks:

* an operation holds the robot until the base answers (a 1 s lift held 2 s, not a step earlier);
* during the stop the robot commands zero velocity, reports ``MODE_STOPPED`` and keeps its task,
  then drives on and completes it; a drop the base refused for a second stop is asked again after it;
* the base's battery reaches the robot state;
* the jammed lift fails its task with ``FAILURE_LIFT`` as a floor-simulator lift failure does.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core" / "test"))  # the core tests' simulated base
sys.path.insert(0, str(ROOT / "tests"))  # the fake base: a helper module, not a test

SPAWN = (2.0, 3.0, 0.0)  # the base's odom origin in map, facing +x; cell size 1 m
DELAY = 2.0  # [s] the base answers an operation this late
OP_S = 1.0  # [s] the plan's operation duration (shorter: the base's answer must be waited for)
STOP_S = 3.0  # [s] protective stop


def _path(plan_id: int, cells: list[tuple[int, int, int, bool]]):
    from warehouse_interfaces.msg import TimedPath, TimedWaypoint
    wps = [TimedWaypoint(x=float(cx), y=float(cy), cell_x=cx, cell_y=cy, op=op, op_duration=OP_S if op else 0.0,
                         carrying=carrying) for cx, cy, op, carrying in cells]
    return TimedPath(robot_id="robot_0", plan_id=plan_id, step_duration=1.0, first_index=0, waypoints=wps)


def _task(task_id: str, steps: list[tuple[int, int, int]]):
    from warehouse_interfaces.msg import Task, TaskStep
    return Task(task_id=task_id, robot_id="robot_0", rack_id="rack_7",
                steps=[TaskStep(cell_x=cx, cell_y=cy, op=op, duration=OP_S) for cx, cy, op in steps])


def _near(truth, t0: float, t1: float, cell: tuple[float, float], tol: float) -> bool:
    return all(math.hypot(x - cell[0], y - cell[1]) < tol for t, x, y in truth if t0 <= t <= t1)


class Floor:
    """The robot node, the fake base and this test as allocator and planner, in one executor."""

    def __init__(self) -> None:
        from fake_base import BaseScript, FakeBase
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.parameter import Parameter

        from warehouse_core import topics
        from warehouse_interfaces.msg import FleetRelease
        from warehouse_nodes import channels
        from warehouse_nodes.robot_node import RobotNode

        self.robot = RobotNode(namespace="robot_0", parameter_overrides=[
            Parameter("drive_backend", value="gazebo"),
            Parameter("map_to_odom", value=list(SPAWN)),
            Parameter("base_inputs", value="battery,rack,stop,operations"),
            Parameter("base_operation_timeout", value=10.0)])
        self.node = node = Node("fake_base", namespace="robot_0")
        self.base = FakeBase(node, BaseScript(SPAWN, delay=DELAY, failing_lifts=frozenset({2})))
        self.task_pub = channels.publisher(node, topics.TASKS)
        self.path_pub = channels.publisher(node, topics.ROBOT_PATH, topics.ROBOT_PATH.relative)
        release_pub = channels.publisher(node, topics.FLEET_RELEASE)
        self.states: list = []  # (receipt time, RobotState)
        self.events: list = []  # TaskFeedback
        channels.subscription(node, topics.ROBOT_STATE, lambda m: self.states.append((time.monotonic(), m)),
                              topics.ROBOT_STATE.relative)
        channels.subscription(node, topics.TASK_FEEDBACK, self.events.append)
        self.released = [0, 0]  # (plan id, index): the planner repeats its release every round
        node.create_timer(0.5, lambda: self.released[0] and release_pub.publish(FleetRelease(
            robot_ids=["robot_0"], plan_ids=[self.released[0]], release_indices=[self.released[1]])))
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.robot)
        self.executor.add_node(node)

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
            if cond():
                return True
        return False

    def ended(self, task_id: str):
        from warehouse_interfaces.msg import TaskFeedback
        return next((e for e in self.events if e.task_id == task_id and e.event in (
            TaskFeedback.EVENT_SUCCEEDED, TaskFeedback.EVENT_FAILED)), None)

    def reached(self, plan_id: int, k: int) -> bool:
        return any(s.plan_id == plan_id and s.progress_index >= k for _, s in self.states)

    def last_states(self) -> list[tuple[int, int]]:
        return [(s.mode, s.progress_index) for _, s in self.states[-5:]]

    def run_task(self, task_id: str, steps, plan_id: int, cells) -> None:
        from warehouse_interfaces.msg import TaskFeedback
        self.task_pub.publish(_task(task_id, steps))
        assert self.spin_until(lambda: any(e.task_id == task_id for e in self.events), 10.0), "task not answered"
        assert self.events[-1].event == TaskFeedback.EVENT_ACCEPTED, self.events[-1]
        self.path_pub.publish(_path(plan_id, cells))
        self.released[:] = [plan_id, len(cells) - 1]


def _lift_is_held_until_the_answer(f: Floor) -> None:
    from warehouse_interfaces.action import BaseOperation
    from warehouse_interfaces.msg import RobotState

    assert f.spin_until(lambda: f.reached(1, 1), 20.0), "did not reach the lift cell"
    assert f.spin_until(lambda: f.base.operations, 10.0), "the base was not asked to lift"
    asked, answered, op, code = f.base.operations[0]
    assert (op, code) == (BaseOperation.Goal.LIFT, BaseOperation.Result.SUCCEEDED)
    assert answered - asked >= DELAY - 0.1
    # held until the answer, although the plan's lift takes 1 s: not a step off the cell before it
    assert _near(f.base.truth, asked, answered, (3.0, 3.0), 0.1)
    assert all(s.mode == RobotState.MODE_LIFTING for t, s in f.states
               if asked + 0.3 <= t <= answered and s.plan_id == 1), f.last_states()
    assert f.spin_until(lambda: f.reached(1, 2), 10.0), "did not drive on after the lift"
    left = next(t for t, s in f.states if s.plan_id == 1 and s.progress_index >= 2)
    assert left > answered, (left, answered)


def _stop_holds_the_robot_and_keeps_its_task(f: Floor) -> float:
    """A stop mid-drive: zero velocity, MODE_STOPPED, task kept; returns when it cleared."""
    from warehouse_interfaces.msg import RobotState

    assert f.spin_until(lambda: f.base.truth[-1][1] > 3.5, 10.0), "did not drive on after the lift"
    stop_at = time.monotonic()
    f.base.set_stop(True)
    f.spin_until(lambda: False, STOP_S)
    stop_end = time.monotonic()
    f.base.set_stop(False)
    during = [s for t, s in f.states if stop_at + 0.5 <= t <= stop_end]
    assert during and all(s.mode == RobotState.MODE_STOPPED and s.task_id == "A" for s in during), \
        [(s.mode, s.task_id) for s in during]
    assert all(v == 0.0 and w == 0.0 for t, v, w in f.base.commands if stop_at + 0.5 <= t <= stop_end)
    still = [(x, y) for t, x, y in f.base.truth if stop_at + 0.5 <= t <= stop_end]
    assert math.dist(still[0], still[-1]) < 0.02, (still[0], still[-1])
    assert still[0][0] < 4.9, "the stop came too late to stop it short of the drop cell"
    assert f.ended("A") is None, "task A ended during the stop"
    return stop_end


def test_base_inputs_and_operations_over_dds(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy

    from warehouse_interfaces.action import BaseOperation
    from warehouse_interfaces.msg import RobotState, TaskFeedback, TaskStep

    lift, drop = TaskStep.OP_LIFT, TaskStep.OP_DROP
    rclpy.init()
    try:
        f = Floor()
        base, states = f.base, f.states
        assert f.spin_until(lambda: states, 10.0), "no state from the robot node"
        f.spin_until(lambda: False, 1.0)  # discovery of the action server and the topics
        # task A: lift at (3, 3), drop at (5, 3); the protective stop comes on the way
        f.run_task("A", [(3, 3, lift), (5, 3, drop)], 1,
                   [(2, 3, 0, False), (3, 3, lift, False), (4, 3, 0, True), (5, 3, drop, True)])
        _lift_is_held_until_the_answer(f)
        stop_end = _stop_holds_the_robot_and_keeps_its_task(f)
        # the stop cleared: on to the drop; a second stop while the base lowers the rack makes it refuse
        # the drop (it did nothing), which is asked again once the stop clears
        assert f.spin_until(lambda: len(base.asked) == 2, 30.0), f.last_states()
        base.set_stop(True)
        f.spin_until(lambda: False, DELAY + 0.5)
        assert f.ended("A") is None and states[-1][1].mode == RobotState.MODE_STOPPED, states[-1][1]
        base.set_stop(False)
        assert f.spin_until(lambda: f.ended("A") is not None, 30.0), f.last_states()
        assert f.ended("A").event == TaskFeedback.EVENT_SUCCEEDED, f.ended("A")
        assert any(s.mode == RobotState.MODE_MOVING for t, s in states if t > stop_end)
        assert math.hypot(base.truth[-1][1] - 5.0, base.truth[-1][2] - 3.0) < 0.15, base.truth[-1]
        assert [o[2:] for o in base.operations] == [
            (BaseOperation.Goal.LIFT, BaseOperation.Result.SUCCEEDED),
            (BaseOperation.Goal.DROP, BaseOperation.Result.REJECTED_STOPPED),
            (BaseOperation.Goal.DROP, BaseOperation.Result.SUCCEEDED)]
        # the base's battery is the robot's
        battery = states[-1][1].battery
        assert abs(battery - base.level()) < 0.03 and battery < 0.9, (battery, base.level())
        assert [s.battery for _, s in states[-10:]] == sorted((s.battery for _, s in states[-10:]), reverse=True)

        # task B: the lift at (5, 4) jams: failed as the floor simulator's failed lift
        f.run_task("B", [(5, 4, lift)], 2, [(5, 3, 0, False), (5, 4, lift, False)])
        assert f.spin_until(lambda: f.ended("B") is not None, 30.0), f.last_states()
        fail = f.ended("B")
        assert fail.event == TaskFeedback.EVENT_FAILED and fail.failure == TaskFeedback.FAILURE_LIFT, fail
        assert "could not lift rack rack_7 at (5, 4): it carries nothing" in fail.message, fail.message
        assert base.operations[-1][2:] == (BaseOperation.Goal.LIFT, BaseOperation.Result.FAILED)
        assert not f.robot.failed and f.robot.task_msg is None  # in service: the next task is taken
        assert states[-1][1].carrying_rack == ""
        f.robot.destroy_node()
        f.node.destroy_node()
    finally:
        rclpy.try_shutdown()



def test_an_operators_emergency_stop_holds_a_hardware_base_until_the_reset(ros_env):  # noqa: ARG001
    """/fleet/control estop: zero velocity at once, the task kept, no MODE_STOPPED (the planner would plan
    around every robot of a stopped fleet); after the reset the robot drives on and completes its task."""
    import rclpy

    from warehouse_core import topics
    from warehouse_interfaces.msg import FleetControl, RobotState, TaskFeedback, TaskStep
    from warehouse_nodes import channels

    rclpy.init()
    try:
        f = Floor()
        control = channels.publisher(f.node, topics.FLEET_CONTROL)
        assert f.spin_until(lambda: f.states, 10.0), "no state from the robot node"
        f.spin_until(lambda: False, 1.0)
        f.run_task("A", [(3, 3, TaskStep.OP_LIFT)], 1, [(2, 3, 0, False), (2, 3, 0, False), (3, 3, TaskStep.OP_LIFT,
                                                                                             False)])
        assert f.spin_until(lambda: f.base.truth[-1][1] > 2.3, 10.0), "did not start driving"
        control.publish(FleetControl(seq=1, estop=True))
        f.spin_until(lambda: False, 0.5)
        held = time.monotonic()
        f.spin_until(lambda: False, 2.5)
        assert f.robot.fleet_estop
        assert all(v == 0.0 and w == 0.0 for t, v, w in f.base.commands if t >= held)
        still = [(x, y) for t, x, y in f.base.truth if t >= held]
        assert math.dist(still[0], still[-1]) < 0.02, (still[0], still[-1])
        during = [s for t, s in f.states if t >= held]
        assert during and all(s.mode != RobotState.MODE_STOPPED and s.task_id == "A" for s in during)
        assert f.ended("A") is None
        control.publish(FleetControl(seq=2, estop=False))
        assert f.spin_until(lambda: f.ended("A") is not None, 30.0), f.last_states()
        assert f.ended("A").event == TaskFeedback.EVENT_SUCCEEDED, f.ended("A")
        f.robot.destroy_node()
        f.node.destroy_node()
    finally:
        rclpy.try_shutdown()

def test_codes_agree_with_the_action():
    from warehouse_core.robot import base_state
    from warehouse_interfaces.action import BaseOperation

    for name in ("LIFT", "DROP", "DOCK", "UNDOCK"):
        assert getattr(BaseOperation.Goal, name) == getattr(base_state, name), name
    for name in ("SUCCEEDED", "FAILED", "FAILED_TIMEOUT", "REJECTED_STOPPED", "REJECTED_BUSY"):
        assert getattr(BaseOperation.Result, name) == getattr(base_state, name), name

"""Robot nodes on simulated vendor bases over DDS: two base simulators, two robots.

Two base simulator nodes (src/warehouse_nodes/warehouse_nodes/base_sim_node.py): one is the clock
and hosts robot_0's base, the other follows its /clock and hosts robot_1's. Two robot nodes drive
them with the ``gazebo`` (cmd_vel/odom path tracker) backend on sim time, reading the bases'
battery, rack and stop (robot_0 also their lift/drop action) and their localisation. This test
plays allocator and planner (as tests/test_base_io.py): a task each, its path, everything released
at once. It checks:

* the bases' odometry is in ``<robot>/odom`` with child ``<robot>/base_link`` and starts at 0;
* the ground truth of both bases is on ``/sim/fleet_state`` in ``map`` and ends on the task's last cell;
* localisation readings of the bases in ``map`` at their rate;
* the robot_0 lift goes through the base's action: the rack is on the base and in the robot's state;
* battery falls and reaches the robot state;
* a protective stop of robot_1's base mid-drive: the robot reports ``MODE_STOPPED``, the base stands,
  then the robot drives on and completes its task.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

SEED = 11
RTF = 2.0  # sim seconds per wall second: robot control on sim time keeps up on a loaded machine
STOP_S = 3.0  # [s] protective stop of robot_1's base


LAYOUT = Path(__file__).resolve().parents[1] / "maps" / "warehouse_layout.yaml"


class Floor:
    """The base simulator, two robot nodes and this test as allocator and planner, in one executor."""

    def __init__(self) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.parameter import Parameter

        from warehouse_core import topics
        from warehouse_core.maps.layout import load_layout
        from warehouse_interfaces.msg import FleetRelease
        from warehouse_nodes import channels
        from warehouse_nodes.base_sim_node import BaseSimNode
        from warehouse_nodes.robot_node import RobotNode
        self.layout = load_layout(str(LAYOUT))
        common = [Parameter("robots", value=2), Parameter("seed", value=SEED), Parameter("layout", value=str(LAYOUT))]
        bases = [*common, Parameter("max_planner_lag", value=0.0), Parameter("stops_per_robot_hour", value=0.0),
                 Parameter("lift_failure_prob", value=0.0), Parameter("battery_drain_scale", value=20.0)]
        # the clock waits for the robot nodes and the other base simulator on /clock
        self.sims = [BaseSimNode(0, 1, parameter_overrides=[*bases, Parameter("real_time_factor", value=RTF),
                                                            Parameter("expected_nodes", value=3)]),
                     BaseSimNode(1, 1, parameter_overrides=[*bases, Parameter("publish_clock", value=False)])]
        self.spawns = [tuple(float(v) for v in sim.sim.spawn[0]) for sim in self.sims]
        inputs = ["battery,rack,stop,operations", "battery,rack,stop"]
        self.robots = [RobotNode(namespace=f"robot_{i}", parameter_overrides=[
            Parameter("use_sim_time", value=True), Parameter("drive_backend", value="gazebo"),
            Parameter("map_to_odom", value=list(self.spawns[i])), Parameter("localisation_topic", value="amcl_pose"),
            Parameter("base_inputs", value=inputs[i])]) for i in range(2)]
        self.node = node = Node("planner_stand_in")
        self.task_pub = channels.publisher(node, topics.TASKS)
        self.path_pubs = [channels.publisher(node, topics.ROBOT_PATH, topics.ROBOT_PATH.of(f"robot_{i}"))
                          for i in range(2)]
        release_pub = channels.publisher(node, topics.FLEET_RELEASE)
        self.states: list[list] = [[], []]  # (sim time of the base, RobotState) per robot
        self.events: list = []  # TaskFeedback
        self.odom: list = []  # robot_0's base odometry
        self.truth: list = []  # FleetState
        self.readings: list = []  # robot_0's localisation
        for i in range(2):
            channels.subscription(node, topics.ROBOT_STATE, lambda m, i=i: self.states[i].append(
                (self.now(), m)), topics.ROBOT_STATE.of(f"robot_{i}"))
        channels.subscription(node, topics.TASK_FEEDBACK, self.events.append)
        channels.subscription(node, topics.BASE_ODOM, self.odom.append, topics.BASE_ODOM.of("robot_0"))
        channels.subscription(node, topics.SIM_FLEET_STATE, self.truth.append)
        channels.subscription(node, topics.ROBOT_LOCALISATION, self.readings.append,
                              topics.ROBOT_LOCALISATION.of("robot_0"))
        self.released: dict[int, tuple[int, int]] = {}  # robot -> (plan id, index)
        node.create_timer(0.5, lambda: self.released and release_pub.publish(FleetRelease(
            robot_ids=[f"robot_{i}" for i in self.released], plan_ids=[p for p, _ in self.released.values()],
            release_indices=[k for _, k in self.released.values()])))
        self.executor = SingleThreadedExecutor()
        for n in (*self.sims, *self.robots, node):
            self.executor.add_node(n)

    def base(self, i: int):
        """Robot ``i``'s simulated base (the only one of its simulator: index 0)."""
        return self.sims[i].sim

    def now(self) -> float:
        return self.sims[0].sim.time

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
            if cond():
                return True
        return False

    def cell(self, i: int, dx: int) -> tuple[int, int]:
        cx, cy = self.layout.world_to_cell(*self.spawns[i][:2])
        return cx + dx, cy

    def ended(self, task_id: str):
        from warehouse_interfaces.msg import TaskFeedback
        return next((e for e in self.events if e.task_id == task_id and e.event in (
            TaskFeedback.EVENT_SUCCEEDED, TaskFeedback.EVENT_FAILED)), None)

    def give(self, i: int, task_id: str, cells: list[tuple[tuple[int, int], int]]) -> None:
        """Task ``task_id`` to robot ``i``: its operations at the cells named with one, the path through all."""
        from warehouse_interfaces.msg import Task, TaskStep, TimedPath, TimedWaypoint
        robot, carrying = f"robot_{i}", False
        steps = [TaskStep(cell_x=c[0], cell_y=c[1], op=op, duration=1.0) for c, op in cells if op]
        self.task_pub.publish(Task(task_id=task_id, robot_id=robot, rack_id=f"rack_{i}", steps=steps))
        assert self.spin_until(lambda: any(e.task_id == task_id for e in self.events), 20.0), "task not answered"
        wps = []
        for c, op in cells:
            x, y = self.layout.cell_to_world(c)
            wps.append(TimedWaypoint(x=x, y=y, cell_x=c[0], cell_y=c[1], op=op, op_duration=1.0 if op else 0.0,
                                     carrying=carrying))
            carrying = carrying or op == TaskStep.OP_LIFT
        self.path_pubs[i].publish(TimedPath(robot_id=robot, plan_id=i + 1, step_duration=1.0, first_index=0,
                                            waypoints=wps))
        self.released[i] = (i + 1, len(cells) - 1)

    def truth_of(self, robot: str) -> list[tuple[float, float, float]]:
        from warehouse_nodes import conversions as conv
        return [(conv.from_time(m.header.stamp), m.x[k], m.y[k]) for m in self.truth
                for k, rid in enumerate(m.robot_ids) if rid == robot]


def _stop_robot_1(f: Floor) -> tuple[float, float]:
    """A protective stop of robot_1's base once it drives; returns (sim time of the stop, of its end)."""
    from warehouse_interfaces.msg import RobotState
    start = f.layout.cell_to_world(f.cell(1, 0))
    assert f.spin_until(lambda: math.dist(f.base(1).truth(0)[:2], start) > 0.5, 60.0), "robot_1 does not drive"
    stop_at = f.now()
    f.sims[1].set_stop("robot_1", STOP_S)
    assert f.spin_until(lambda: f.now() > stop_at + STOP_S + 0.5, 30.0)
    during = [s for t, s in f.states[1] if stop_at + 0.5 <= t <= stop_at + STOP_S - 0.2]
    assert during and all(s.mode == RobotState.MODE_STOPPED for s in during), [s.mode for s in during]
    still = [(x, y) for t, x, y in f.truth_of("robot_1") if stop_at + 0.1 <= t <= stop_at + STOP_S - 0.1]
    assert len(still) > 5 and math.dist(still[0], still[-1]) < 0.01, still
    return stop_at, stop_at + STOP_S


def test_robot_nodes_drive_simulated_vendor_bases(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy

    from warehouse_interfaces.msg import RobotState, TaskFeedback, TaskStep

    rclpy.init()
    try:
        f = Floor()
        assert f.spin_until(lambda: all(f.states) and f.sims[0].started, 30.0), "robot nodes or clock not up"
        f.spin_until(lambda: False, 1.0)  # discovery of the action servers
        lift, drop, pick = TaskStep.OP_LIFT, TaskStep.OP_DROP, TaskStep.OP_PICK
        f.give(0, "A", [(f.cell(0, 0), 0), (f.cell(0, 1), lift), (f.cell(0, 2), 0), (f.cell(0, 3), drop)])
        f.give(1, "B", [(f.cell(1, 0), 0), (f.cell(1, 1), 0), (f.cell(1, 2), 0), (f.cell(1, 3), pick)])
        stop_at, stop_end = _stop_robot_1(f)
        assert f.spin_until(lambda: f.ended("A") and f.ended("B"), 90.0), \
            ([(s.mode, s.progress_index) for _, s in f.states[0][-3:]], [e.event for e in f.events])
        assert f.ended("A").event == f.ended("B").event == TaskFeedback.EVENT_SUCCEEDED, f.events
        assert any(s.mode == RobotState.MODE_MOVING for t, s in f.states[1] if t > stop_end)
        # the lift went through the base: the rack was on it, and in the robot's state, until the drop
        assert any(s.carrying_rack == "rack_0" for _, s in f.states[0])
        assert not f.base(0).rack[0]
        # odometry as a driver publishes it: its own frames, starting at 0 at the spawn pose
        assert {(m.header.frame_id, m.child_frame_id) for m in f.odom} == {("robot_0/odom", "robot_0/base_link")}
        assert math.hypot(f.odom[0].pose.pose.position.x, f.odom[0].pose.pose.position.y) < 0.05
        # localisation in map at about its rate (5 Hz), near the truth
        assert {m.header.frame_id for m in f.readings} == {"map"}
        assert len(f.readings) > 0.6 * 5.0 * f.now(), (len(f.readings), f.now())
        goal = f.layout.cell_to_world(f.cell(0, 3))
        assert math.dist((f.readings[-1].pose.pose.position.x, f.readings[-1].pose.pose.position.y), goal) < 0.2
        # ground truth of both bases in map, ending on the tasks' last cells
        assert {m.header.frame_id for m in f.truth} == {"map"}
        assert {rid for m in f.truth for rid in m.robot_ids} == {"robot_0", "robot_1"}
        for i in range(2):
            goal = f.layout.cell_to_world(f.cell(i, 3))
            assert math.dist(f.truth_of(f"robot_{i}")[-1][1:], goal) < 0.15, (i, f.truth_of(f"robot_{i}")[-1], goal)
        # battery falls, and the robot reports the base's
        battery = [s.battery for _, s in f.states[0]]
        assert battery[-1] < battery[0] < 1.0 + 1e-6 and abs(battery[-1] - float(f.base(0).battery[0])) < 0.01
        # the follower keeps the clock's time
        assert abs(f.base(1).time - f.now()) < 0.5, (f.base(1).time, f.now())
        for n in (*f.robots, f.node, *f.sims):
            n.destroy_node()
    finally:
        rclpy.try_shutdown()

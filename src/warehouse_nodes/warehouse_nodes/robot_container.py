"""Many robot nodes in one process (lean start-up for large simulated fleets).

``python -m warehouse_nodes.robot_container --first 0 --count 20 --ros-args ...`` creates
``/robot_0`` .. ``/robot_19``, each a full :class:`~warehouse_nodes.robot_node.RobotNode`
with its own namespace, topics and action server, all spun by one executor.

The fleet-level topics every robot needs a slice of (``/sim/fleet_state`` every tick,
``/fleet/release`` every planning round, ``/tasks``) are received once per process by
:class:`FleetInputs` and handed to the robot nodes in it, instead of once per robot: at 500
robots that is the difference between 10 and 500 copies of each message. The robots' drive
commands to the floor simulator (``/sim/drive``) go out through one shared publisher; with
``fleet_transport: batched`` their answers to tasks too, and their states as one FleetState per
tick on ``/fleet/states``. Every DDS endpoint a robot does not have is one less for every process
of the graph to discover: start-up at 500 robots is mostly discovery.

A container started again after its process died (``./warehouse run`` restarts it) takes its
robots over where their bases stand (:mod:`warehouse_nodes.robot_resume`); the allocator's
``/task_status`` history it then needs is received once per process too.

``--silence ROBOT@T`` (a scenario's ``robot_silent`` fault) kills robot ROBOT's node at sim
time T: from then on it gets no input and sends nothing (no state, odometry, drive command).

Robots on hardware backends (``drive_backend`` other than ``floor_sim``: each backend reads its
own base) do not read ``/sim/fleet_state``: there it is a base simulator's ground truth, not
their bases' state. Their container sends the batched states, the ``/tf`` batch and the
silences due every ``HARDWARE_BATCH_PERIOD_S`` of the robots' clock instead.
"""

from __future__ import annotations

import argparse
import sys

from rclpy.node import Node
from rclpy.utilities import remove_ros_args
from std_msgs.msg import Header

from warehouse_core import topics
from warehouse_core.robot.resume import TaskBook
from warehouse_interfaces.msg import FleetControl, FleetRelease, FleetState
from warehouse_interfaces.msg import Task as TaskMsg
from warehouse_nodes import channels, diagnostics
from warehouse_nodes import conversions as conv
from warehouse_nodes.robot_frames import tf_batch
from warehouse_nodes.robot_node import RobotNode, make_robots
from warehouse_nodes.robot_resume import watch_task_status
from warehouse_nodes.runtime import run_nodes

HARDWARE_BATCH_PERIOD_S = 0.2  # [s, node clock] batched states of hardware-backend robots (the floor simulator's tick)


class FleetInputs:
    """One subscription per process to the fleet-level topics, dispatched to its robot nodes.

    After handing a fleet state to its robots it reports the state's stamp on
    ``/sim/progress`` (frame_id: the container), so that the floor simulator can wait for a
    container that falls behind instead of letting its robots miss ticks.
    """

    def __init__(self, robots: list[RobotNode], name: str, silence: dict[str, float] | None = None) -> None:
        self.robots = list(robots)
        self.by_id = {r.robot_id: r for r in robots}
        self.silence = dict(silence or {})  # robot -> sim time its node dies
        host: Node = robots[0]
        self.name = name
        self.host = host
        self.book: TaskBook | None = None
        for robot in robots:
            robot.resume.task_book = self.task_book
        if host.cfg.drive_backend == "floor_sim":  # the floor simulator's state is its robots' bases
            channels.subscription(host, topics.SIM_FLEET_STATE, self.on_fleet_state)
            drive_pub = channels.publisher(host, topics.SIM_DRIVE, event_callbacks=conv.no_pub_events())
            for robot in robots:
                robot.backend.drive_pub = drive_pub
        else:  # each robot's backend reads its own base
            host.create_timer(HARDWARE_BATCH_PERIOD_S, self.on_batch_timer)
        channels.subscription(host, topics.FLEET_RELEASE, self.on_release)
        if host.cfg.drive_backend != "floor_sim":  # hardware bases hold in an e-stop (the floor simulator's stop)
            channels.subscription(host, topics.FLEET_CONTROL, self.on_control)
        self.progress_pub = channels.publisher(host, topics.SIM_PROGRESS)
        # one /tf message per period for all its robots' transforms (where tf2_msgs is installed)
        self.tf = tf_batch(host, host.cfg.odom_period)
        for robot in robots:
            robot.frames.tf = self.tf
        # one /diagnostics array for the container: its robots' links and batteries
        self.diagnostics = diagnostics.robots(name, list(robots), lambda: self.robots)
        self.states_pub = None
        if host.batched:
            self.states_pub = channels.publisher(host, topics.FLEET_STATES)
            feedback_pub = channels.publisher(host, topics.TASK_FEEDBACK)
            for robot in robots:
                robot.feedback_pub = feedback_pub
            channels.subscription(host, topics.TASKS, self.on_task)

    def task_book(self) -> TaskBook:
        """The allocator's word on this container's robots' tasks (subscribed when first needed:
        only robots taken over mid-run ask for it)."""
        if self.book is None:
            self.book = TaskBook(set(self.by_id))
            watch_task_status(self.host, self.book)
        return self.book

    def on_fleet_state(self, msg: FleetState) -> None:
        if self.silence:
            self._kill_due(conv.from_time(msg.header.stamp))
        for i, rid in enumerate(msg.robot_ids):
            robot = self.by_id.get(rid)
            if robot is not None:
                robot.on_base_state(conv.fleet_state_entry(msg, i))
        if self.states_pub is not None:
            now = conv.from_time(msg.header.stamp)
            self.states_pub.publish(conv.fleet_state_msg([r.state for r in self.robots if r.base_seen], now))
        if self.tf is not None:
            self.tf.flush(conv.from_time(msg.header.stamp))
        self.progress_pub.publish(Header(stamp=msg.header.stamp, frame_id=self.name))

    def on_batch_timer(self) -> None:
        """Hardware backends: the robots' states as one FleetState, the /tf batch, silences due."""
        now = self.host.get_clock().now().nanoseconds * 1e-9
        if self.silence:
            self._kill_due(now)
        if self.states_pub is not None:
            seen = [r.state for r in self.robots if r.base_seen]
            if seen:
                self.states_pub.publish(conv.fleet_state_msg(seen, now))
        if self.tf is not None:
            self.tf.flush(now)

    def _kill_due(self, now: float) -> None:
        """Robot nodes whose silence is due stop: no input is handed to them, their timers and
        path subscription end (the host's shared subscriptions stay for the others)."""
        for rid, t in list(self.silence.items()):
            robot = self.by_id.get(rid)
            if t > now or robot is None:
                continue
            del self.silence[rid], self.by_id[rid]
            self.robots.remove(robot)
            for timer in list(robot.timers):
                timer.cancel()
            for sub in list(robot.subscriptions):
                if sub.topic_name.endswith(f"/{rid}/path"):
                    robot.destroy_subscription(sub)
            robot.get_logger().warning(f"scenario fault: node of {rid} silenced at t={now:.1f} s")

    def on_task(self, msg: TaskMsg) -> None:
        robot = self.by_id.get(msg.robot_id)
        if robot is not None:
            robot.on_task_msg(msg)

    def on_control(self, msg: FleetControl) -> None:
        for robot in self.by_id.values():
            robot.fleet_estop = bool(msg.estop)

    def on_release(self, msg: FleetRelease) -> None:
        stamp = conv.from_time(msg.header.stamp)
        for rid, plan_id, index in zip(msg.robot_ids, msg.plan_ids, msg.release_indices, strict=True):
            robot = self.by_id.get(rid)
            if robot is not None:
                robot.apply_release(int(plan_id), int(index), stamp)


def main(args: list[str] | None = None) -> None:
    argv = sys.argv if args is None else args
    parser = argparse.ArgumentParser(prog="robot_container", description=__doc__)
    parser.add_argument("--first", type=int, default=0, help="index of the first robot")
    parser.add_argument("--count", type=int, required=True, help="number of robots")
    parser.add_argument("--silence", action="append", default=[], metavar="ROBOT@T",
                        help="kill ROBOT's node at sim time T (scenario fault robot_silent)")
    opts = parser.parse_args(remove_ros_args(argv)[1:])
    name = f"robots_{opts.first}"
    silence = {}
    for item in opts.silence:
        robot, _, t = item.partition("@")
        try:
            silence[robot] = float(t)
        except ValueError:
            parser.error(f"--silence {item!r}: expected ROBOT@SIM_TIME, e.g. robot_3@90")
    sys.exit(run_nodes(make_robots(opts.first, opts.count, shared_inputs=True), argv,
                       after_create=lambda nodes: FleetInputs(nodes, name, silence)))


if __name__ == "__main__":
    main()

"""Base simulator: differential-drive bases behind the topics and action of a vendor driver.

``python -m warehouse_nodes.base_sim_node --first 0 --count 20 --ros-args ...`` (console script
``base_simulator``) hosts the bases of ``robot_<first>`` .. ``robot_<first+count-1>`` in one node
(``/base_simulator``; ``/bases_<first>/base_simulator`` from another first robot),
stepped together by :class:`warehouse_core.sim.base_sim.BaseSim` (drift, noise, localisation,
battery, lift failures, protective stops). Per robot, with the names of
:mod:`warehouse_core.topics` (what a robot node's hardware backend reads by default):

* subscribes ``/<robot>/cmd_vel`` (Twist; TwistStamped with ``cmd_vel_stamped``);
* publishes ``/<robot>/base/odom`` (Odometry, frame ``<robot>/odom``, child ``<robot>/base_link``,
  REP-105: continuous, drifting, starting at 0 at the spawn pose) at ``odom_rate``;
* publishes ``/<robot>/amcl_pose`` (PoseWithCovarianceStamped in ``map``) at ``localisation_rate``,
  stamped when measured (a late reading carries its old stamp);
* publishes ``/<robot>/base/battery`` (BatteryState), ``/<robot>/base/rack_present`` and
  ``/<robot>/base/protective_stop`` (Bool) every ``inputs_period`` and at once on a change;
* serves ``/<robot>/base_operation`` (BaseOperation: lift, drop, dock at a charger cell, undock);
* with ``follow_path_servers``, plays each base's Nav2 controller server (``FollowPath`` on
  ``/<robot>/follow_path``, :mod:`warehouse_nodes.sim_controller`) for robot nodes whose
  ``nav2`` backend drives the base instead of ``cmd_vel``.

The bases spawn where the floor simulator's robots would (under racks, by the seed), so a run
with these bases starts as one with the floor simulator.

Clock and ground truth: the bases are the floor in a run with simulated bases, as Gazebo is in a
Gazebo run, so the floor simulator is not started. With ``publish_clock`` (default) this node is
the graph's clock: every ``step`` of simulated time it publishes ``/clock``, paced by
``real_time_factor``; it waits for ``expected_nodes`` ``/clock`` subscribers (and with
``wait_for_planner`` the planner's first release; at most ``start_timeout``) before time runs,
meanwhile publishing every base's first odometry and localisation so that robot nodes know where
they stand; and, as the floor simulator, holds time while the planner's last
``/fleet/release`` is more than ``max_planner_lag`` behind, and while a base's last stamped
``cmd_vel`` is more than ``max_node_lag`` behind (a robot node's control loop on sim time fell
behind, on a loaded machine: without the wait its base drives on with an old command).
Without ``publish_clock`` the node follows ``/clock`` (a second process hosting more bases).
Either way it publishes the ground truth of its bases
every ``truth_period`` on ``/sim/fleet_state`` (FleetState in ``map``, as the floor simulator
does; no rack ids, which a base does not know, and no plan progress), where the run's recorder
and the analysis judge collisions from it. A failed lift is announced on ``/sim/events``
(``EVENT_LIFT_FAILED``, no rack id) as the floor simulator announces its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from functools import partial

from geometry_msgs.msg import PoseWithCovarianceStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.action import ActionServer
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.task import Future
from rclpy.utilities import remove_ros_args
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.sim.base_sim import FAILED, LIFT, BaseSim, BaseSimConfig, Pose, StepReport
from warehouse_core.sim.floor_sim import Battery, SimRobot
from warehouse_core.tasks import MODE_IDLE, MODE_MOVING, MODE_STOPPED
from warehouse_interfaces.action import BaseOperation
from warehouse_interfaces.msg import FleetRelease
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv
from warehouse_nodes.configs import BaseSimulatorConfig
from warehouse_nodes.floor_sim_node import start_cells
from warehouse_nodes.params import declare_config
from warehouse_nodes.runtime import run_nodes

WAITING_PERIOD_S = 0.5  # [s, wall] between the first odometry and localisation messages while time stands


def core_config(cfg: BaseSimulatorConfig, seed: int) -> BaseSimConfig:
    """The simulator's settings from the node's parameters."""
    b, k = Battery(), cfg.battery_drain_scale
    return BaseSimConfig(
        max_speed=cfg.max_speed, max_accel=cfg.motor_accel, turn_rate=cfg.turn_rate,
        max_angular_accel=cfg.motor_angular_accel, odom_scale_std=cfg.odom_scale_std,
        odom_bias_walk=cfg.odom_bias_walk, odom_noise=cfg.odom_noise, odom_yaw_noise=cfg.odom_yaw_noise,
        loc_rate=cfg.localisation_rate, loc_noise=cfg.localisation_noise, loc_yaw_noise=cfg.localisation_yaw_noise,
        loc_latency=cfg.localisation_latency, loc_late_prob=cfg.localisation_late_prob,
        loc_late_s=cfg.localisation_late_s,
        battery=Battery(idle_per_s=b.idle_per_s * k, moving_per_s=b.moving_per_s * k,
                        lifting_per_s=b.lifting_per_s * k, charge_per_s=cfg.charge_rate),
        battery_start=cfg.battery_start, op_time=cfg.operation_time, lift_failure_prob=cfg.lift_failure_prob,
        charger_radius=cfg.charger_radius, stops_per_hour=cfg.stops_per_robot_hour, stop_s=cfg.stop_duration,
        seed=seed)


def spawn_poses(cfg: BaseSimulatorConfig, layout) -> list[Pose]:
    """Every robot's start pose in ``map`` (facing +x), where the floor simulator starts it."""
    _, placement = load_catalogue(layout, cfg.inventory_dir, cfg.skus, cfg.seed)
    racks = sorted(layout.storage_by_id[loc].cell for loc in placement)
    return [(*layout.cell_to_world(cell), 0.0) for cell in start_cells(racks, cfg.robots, cfg.seed, layout.source)]


class BaseChannels:
    """The driver topics and action of one base (see the module docstring)."""

    def __init__(self, node: BaseSimNode, i: int, robot: str) -> None:
        self.robot = robot
        self.odom_pub = channels.publisher(node, topics.BASE_ODOM, topics.BASE_ODOM.of(robot))
        self.pose_pub = channels.publisher(node, topics.ROBOT_LOCALISATION, topics.ROBOT_LOCALISATION.of(robot))
        self.battery_pub = channels.publisher(node, topics.BASE_BATTERY, topics.BASE_BATTERY.of(robot))
        self.rack_pub = channels.publisher(node, topics.BASE_RACK_PRESENT, topics.BASE_RACK_PRESENT.of(robot))
        self.stop_pub = channels.publisher(node, topics.BASE_PROTECTIVE_STOP, topics.BASE_PROTECTIVE_STOP.of(robot))
        cmd = replace(topics.BASE_CMD_VEL, msgtype="geometry_msgs/msg/TwistStamped") \
            if node.cfg.cmd_vel_stamped else topics.BASE_CMD_VEL
        channels.subscription(node, cmd, partial(node.on_cmd_vel, i), cmd.of(robot))
        self.server = ActionServer(node, BaseOperation, topics.BASE_OPERATION.of(robot), partial(node.execute, i))

    def odometry(self, now: float, pose: Pose, v: float, w: float) -> None:
        msg = Odometry()
        msg.header = conv.header(now, f"{self.robot}/odom")
        msg.child_frame_id = f"{self.robot}/base_link"
        msg.pose.pose.position.x, msg.pose.pose.position.y = pose[0], pose[1]
        msg.pose.pose.orientation = conv.yaw_to_quaternion(pose[2])
        msg.twist.twist.linear.x, msg.twist.twist.angular.z = v, w
        self.odom_pub.publish(msg)

    def localisation(self, stamp: float, pose: Pose, sigma: float, yaw_sigma: float) -> None:
        msg = PoseWithCovarianceStamped()
        msg.header = conv.header(stamp)  # map
        msg.pose.pose.position.x, msg.pose.pose.position.y = pose[0], pose[1]
        msg.pose.pose.orientation = conv.yaw_to_quaternion(pose[2])
        cov = [0.0] * 36
        cov[0] = cov[7] = sigma * sigma
        cov[35] = yaw_sigma * yaw_sigma
        msg.pose.covariance = cov
        self.pose_pub.publish(msg)

    def inputs(self, stamp: float, battery: float, rack: bool, stop: bool) -> None:
        self.battery_pub.publish(BatteryState(header=conv.header(stamp, f"{self.robot}/base_link"),
                                              percentage=battery, present=True))
        self.rack_pub.publish(Bool(data=rack))
        self.stop_pub.publish(Bool(data=stop))


class BaseSimNode(Node):
    """The bases of robots ``first`` .. ``first + count - 1`` (see the module docstring)."""

    def __init__(self, first: int = 0, count: int | None = None, **kwargs) -> None:
        # one name for the section of the parameter file; another process's bases in their own namespace
        super().__init__("base_simulator", namespace="" if first == 0 else f"bases_{first}",
                         start_parameter_services=False, **kwargs)
        self.cfg = cfg = declare_config(self, BaseSimulatorConfig)
        # the clock is this node's own, or the one it follows
        self.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, not cfg.publish_clock)])
        self.layout = load_layout(cfg.layout)
        count = cfg.robots - first if count is None else count
        spawns = spawn_poses(cfg, self.layout)[first:first + count]
        if not spawns:
            raise InputError("base_simulator --first/--count",
                             f"no robot of the fleet's {cfg.robots} from robot_{first} (count {count})",
                             fix="give a range within robot_0 .. robot_<robots-1>")
        self.names = [conv.robot_name(first + k) for k in range(len(spawns))]
        chargers = [self.layout.cell_to_world(c.cell) for c in self.layout.chargers]
        self.sim = BaseSim(spawns, core_config(cfg, cfg.seed + first), chargers)
        self.bases = [BaseChannels(self, i, name) for i, name in enumerate(self.names)]
        self.controllers = None  # with follow_path_servers: FollowPath goals of the bases (sim_controller)
        self.servers = []
        self.truth_pub = channels.publisher(self, topics.SIM_FLEET_STATE)
        self.event_pub = channels.publisher(self, topics.SIM_EVENTS)
        self.clock_pub = channels.publisher(self, topics.CLOCK) if cfg.publish_clock else None
        self.planner_time = -1.0
        if cfg.publish_clock and (cfg.max_planner_lag > 0 or cfg.wait_for_planner):
            channels.subscription(self, topics.FLEET_RELEASE, self.on_release)
        self.waiting: dict[int, Future] = {}  # base -> its running operation's answer
        self.started = False
        self.created_wall = self.last_wall_publish = time.monotonic()
        self.last_sim: float | None = None  # node clock at the last step (following /clock)
        self.next_odom = self.next_inputs = self.next_truth = 0.0
        self.sent_inputs: list[tuple[bool, bool]] = [(False, False)] * len(spawns)  # (rack, stop) last sent
        self.held = 0  # steps time waited for the planner or a robot node
        self.cmd_stamp: list[float | None] = [None] * len(spawns)  # each base's last stamped command (sim time)
        self.lag_since: float | None = None  # wall time the clock began waiting for a robot node
        if cfg.publish_clock:
            period = cfg.step / cfg.real_time_factor if cfg.real_time_factor > 0 else 1e-4
            self.create_timer(period, self.on_tick)
        else:
            self.create_timer(cfg.step, self.on_tick)  # on sim time: fires only once time runs
            self.wait_timer = self.create_timer(WAITING_PERIOD_S, self._follower_waiting,
                                                clock=Clock(clock_type=ClockType.STEADY_TIME))

    # -- inputs ---------------------------------------------------------------------------
    def on_cmd_vel(self, i: int, msg: Twist | TwistStamped) -> None:
        twist = msg.twist if isinstance(msg, TwistStamped) else msg
        self.sim.command(i, twist.linear.x, twist.angular.z)
        if isinstance(msg, TwistStamped):  # the sim time its robot node's control has reached
            self.cmd_stamp[i] = max(self.cmd_stamp[i] or 0.0, conv.from_time(msg.header.stamp))

    def on_release(self, msg: FleetRelease) -> None:
        self.planner_time = max(self.planner_time, conv.from_time(msg.header.stamp))

    async def execute(self, i: int, goal_handle) -> BaseOperation.Result:
        request = goal_handle.request
        answer = self.sim.start_operation(i, int(request.operation), float(request.timeout))
        if answer is None:
            done: Future = Future()
            self.waiting[i] = done
            answer = await done
        goal_handle.succeed()
        return BaseOperation.Result(code=answer.code, rack_present=answer.rack_present, message=answer.message)

    def set_stop(self, robot: str, seconds: float) -> None:
        """A protective stop of ``robot``'s base for ``seconds`` (an operator's e-stop; 0 clears it)."""
        i = self.names.index(robot)
        self.sim.set_stop(i, seconds)
        self._publish_inputs(self.sim.time, only_changed=True)

    # -- time -----------------------------------------------------------------------------
    def on_tick(self) -> None:
        cfg = self.cfg
        if not cfg.publish_clock:
            now = self.get_clock().now().nanoseconds * 1e-9
            if self.last_sim is None:
                self.sim.set_time(now)
            dt, self.last_sim = (0.0 if self.last_sim is None else now - self.last_sim), now
            if dt > 0:
                self._advance(dt)
            return
        if not self.started:
            self.started = self._ready()
            if not self.started:
                self._while_waiting()
                return
            self.get_logger().info(f"time runs: bases of {self.names[0]} .. {self.names[-1]}")
        if cfg.max_planner_lag > 0 and self.planner_time >= 0 \
                and self.sim.time - self.planner_time > cfg.max_planner_lag:
            self.held += 1
            self.clock_pub.publish(ClockMsg(clock=conv.to_time(self.sim.time)))  # a node started meanwhile learns it
            return
        if self._robots_behind():
            self.held += 1
            self.clock_pub.publish(ClockMsg(clock=conv.to_time(self.sim.time)))
            return
        self._advance(cfg.step)
        self.clock_pub.publish(ClockMsg(clock=conv.to_time(self.sim.time)))

    def _robots_behind(self) -> bool:
        """True: a robot node's control is more than ``max_node_lag`` behind sim time (its last
        stamped command), so time waits, as a robot's controller on its own computer would keep
        up; a base silent for ``node_hold_limit`` s of wall time is not waited for."""
        lag = self.cfg.max_node_lag
        behind = [i for i, t in enumerate(self.cmd_stamp) if lag > 0 and t is not None and self.sim.time - t > lag]
        if not behind:
            self.lag_since = None
            return False
        wall = time.monotonic()
        self.lag_since = wall if self.lag_since is None else self.lag_since
        if self.cfg.node_hold_limit <= 0 or wall - self.lag_since <= self.cfg.node_hold_limit:
            return True
        self.get_logger().warning(f"not waiting for {', '.join(self.names[i] for i in behind)}: no command for "
                                  f"{self.cfg.node_hold_limit:.0f} s")
        for i in behind:
            self.cmd_stamp[i] = None
        self.lag_since = None
        return False

    def _follower_waiting(self) -> None:
        if self.last_sim is not None and self.sim.time > 0:  # time runs: the bases report as they move
            self.wait_timer.cancel()
        else:
            self._while_waiting()

    def _ready(self) -> bool:
        clocks = self.count_subscribers(topics.CLOCK.name)
        planner = self.planner_time >= 0 or not self.cfg.wait_for_planner
        if clocks >= self.cfg.expected_nodes and planner:
            return True
        if time.monotonic() - self.created_wall > self.cfg.start_timeout:
            self.get_logger().warning(f"starting after {self.cfg.start_timeout:.0f} s with {clocks} of "
                                      f"{self.cfg.expected_nodes} nodes on /clock"
                                      f"{'' if planner else ', no planner yet'}")
            return True
        return False

    def _while_waiting(self) -> None:
        """Time stands: the clock, each base's odometry and a localisation reading now and then, so
        that the robot nodes know where they stand before anything moves."""
        wall = time.monotonic()
        if wall - self.last_wall_publish < WAITING_PERIOD_S:
            return
        self.last_wall_publish = wall
        now, cfg = self.sim.time, self.cfg
        if self.clock_pub is not None:
            self.clock_pub.publish(ClockMsg(clock=conv.to_time(now)))
        for i, base in enumerate(self.bases):
            base.odometry(now, self.sim.odometry(i), 0.0, 0.0)
            base.localisation(now, self.sim.truth(i), cfg.localisation_noise, cfg.localisation_yaw_noise)
        self._publish_inputs(now, only_changed=False)
        self._publish_truth(now)

    def _advance(self, dt: float) -> None:
        for server in self.servers:  # simulated Nav2 controllers command their bases
            server.step(self.controllers, self.sim.time)
        report = self.sim.step(dt)
        now = self.sim.time
        self._answer(report)
        for r in report.readings:
            self.bases[r.index].localisation(r.stamp, r.pose, self.cfg.localisation_noise,
                                             self.cfg.localisation_yaw_noise)
        if now >= self.next_odom - 1e-9:
            self.next_odom = now + 1.0 / self.cfg.odom_rate
            for i, base in enumerate(self.bases):
                base.odometry(now, self.sim.odometry(i), float(self.sim.v[i] * self.sim.scale[i]),
                              float(self.sim.w[i]))
        full = now >= self.next_inputs - 1e-9
        if full:
            self.next_inputs = now + self.cfg.inputs_period
        self._publish_inputs(now, only_changed=not full)
        if now >= self.next_truth - 1e-9:
            self.next_truth = now + self.cfg.truth_period
            self._publish_truth(now)

    def _answer(self, report: StepReport) -> None:
        for result in report.results:
            if result.operation == LIFT and result.code == FAILED:  # as the floor simulator announces it
                self.event_pub.publish(conv.sim_event_msg("lift_failed", self.names[result.index], self.sim.time))
            done = self.waiting.pop(result.index, None)
            if done is not None and not done.done():
                done.set_result(result)
        for i in report.stops_started:
            self.get_logger().info(f"{self.names[i]}: protective stop for {self.cfg.stop_duration:.0f} s "
                                   f"at t={self.sim.time:.1f} s")

    def _publish_inputs(self, now: float, only_changed: bool) -> None:
        for i, base in enumerate(self.bases):
            state = (bool(self.sim.rack[i]), self.sim.stopped(i))
            if only_changed and state == self.sent_inputs[i]:
                continue
            self.sent_inputs[i] = state
            base.inputs(now, float(self.sim.battery[i]), *state)

    def _publish_truth(self, now: float) -> None:
        sim, robots = self.sim, []
        for i, name in enumerate(self.names):
            x, y, yaw = sim.truth(i)
            mode = MODE_STOPPED if sim.stopped(i) else MODE_MOVING if abs(sim.v[i]) > 1e-3 or abs(sim.w[i]) > 1e-3 \
                else MODE_IDLE
            robots.append(SimRobot(name, self.layout.world_to_cell(x, y), x, y, yaw, float(sim.v[i]),
                                   float(sim.battery[i]), mode=mode, odometer=float(sim.odometer[i])))
        self.truth_pub.publish(conv.sim_fleet_state(robots, now))


def base_simulator_nodes(first: int, count: int | None) -> list[Node]:
    """The base simulator node and, with ``follow_path_servers``, a simulated Nav2 controller server
    per base (:mod:`warehouse_nodes.sim_controller`)."""
    node = BaseSimNode(first, count)
    if node.cfg.follow_path_servers:
        from warehouse_nodes.sim_controller import controller_servers  # imports nav2_msgs

        node.servers = controller_servers(node)
    return [node, *node.servers]


def main(args: list[str] | None = None) -> None:
    argv = sys.argv if args is None else args
    parser = argparse.ArgumentParser(prog="base_simulator", description=__doc__)
    parser.add_argument("--first", type=int, default=0, help="index of the first robot")
    parser.add_argument("--count", type=int, default=None, help="number of robots (default: up to the fleet size)")
    opts = parser.parse_args(remove_ros_args(argv)[1:])
    sys.exit(run_nodes([lambda: base_simulator_nodes(opts.first, opts.count)], argv))


if __name__ == "__main__":
    main()

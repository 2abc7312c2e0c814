"""``/diagnostics`` of every long-running node: the statuses of :mod:`warehouse_core.fleet.health`
as ``diagnostic_msgs/DiagnosticArray``, about once a second.

The period (``diagnostics_period``) runs on the steady wall clock, not on sim time: the standard
``diagnostic_aggregator`` marks a status STALE when it has not come for a few wall seconds, and the
moments an operator most needs it are those when sim time stands (the simulator held for a slow
node, a planner restarting). It also bounds the cost: one array a second whatever the real-time
factor, one per robot container for all its robots (not one per robot). The header stamp is the
node's sim time, like every other stamp of the run's bag.

Each node gets its diagnostics with one call (:func:`planner`, :func:`allocator`, ...): what to
read from the node is said here, the levels and thresholds are the core's; this module only
gathers the numbers and converts. Status names are ``<node>: <aspect>``; ``hardware_id`` is the
host for the central nodes and the robots' names (``robot_0..robot_99``) for a robot container.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from warehouse_core import topics
from warehouse_core.fleet import health
from warehouse_core.ops.model import ORDER_COMPLETED
from warehouse_core.tasks import MODE_STOPPED
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv


def to_msg(statuses: list[health.Status], stamp: float) -> DiagnosticArray:
    """The DiagnosticArray of ``statuses`` stamped ``stamp`` (sim seconds)."""
    return DiagnosticArray(header=conv.header(stamp), status=[
        DiagnosticStatus(level=bytes([s.level]), name=s.name, message=s.message, hardware_id=s.hardware_id,
                         values=[KeyValue(key=k, value=v) for k, v in s.values]) for s in statuses])


class Diagnostics:
    """Publishes ``collect()``'s statuses on ``/diagnostics`` every ``period`` wall seconds (0: never)."""

    def __init__(self, node: Node, period: float, collect: Callable[[], list[health.Status]],
                 sim_now: Callable[[], float] | None = None) -> None:
        self.node = node
        self.collect = collect
        self.sim_now = sim_now or (lambda: node.get_clock().now().nanoseconds * 1e-9)
        self.rounds = health.RoundWatch()
        self.pub = channels.publisher(node, topics.DIAGNOSTICS)
        self.timer = node.create_timer(period, self.publish, clock=Clock(clock_type=ClockType.STEADY_TIME)) \
            if period > 0 else None

    def publish(self) -> None:
        self.pub.publish(to_msg(self.collect(), self.sim_now()))

    def timed(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback`` (a node's round) with its sim start and wall duration recorded in :attr:`rounds`."""
        def round_() -> None:
            start, t0 = self.sim_now(), time.perf_counter()
            try:
                callback()
            finally:
                self.rounds.record(start, time.perf_counter() - t0)
        return round_


def _host() -> str:
    return socket.gethostname()


def planner(node) -> Diagnostics:
    """The planner's ``planning`` status (wrap its round timer with :meth:`Diagnostics.timed`)."""
    cfg, host = node.cfg, _host()
    rounds = health.Limits(cfg.diag_round_warn, cfg.diag_round_error)
    lag = health.Limits(cfg.diag_lag_warn, cfg.diag_lag_error)

    def collect() -> list[health.Status]:
        fleet = node.fleet
        waiting = 0 if fleet is not None else max(0, cfg.robots - len(node.states.keys() | node.removed))
        extra = {"robots": cfg.robots, "robots_failed": len(fleet.failed) if fleet is not None else 0,
                 "unresolved_deadlocks": node.watchdog.deadlocks.unresolved,
                 "plan_repairs": fleet.repairs if fleet else 0}
        return [health.planning(node.get_name(), host, diag.rounds, node.now(), rounds, lag, waiting, extra)]

    diag = Diagnostics(node, cfg.diagnostics_period, collect)
    return diag


def allocator(node) -> Diagnostics:
    """The allocator's ``allocation`` status (wrap its round timer with :meth:`Diagnostics.timed`)."""
    cfg, host = node.cfg, _host()
    lag = health.Limits(cfg.diag_alloc_lag_warn, cfg.diag_alloc_lag_error)
    backlog = health.Limits(cfg.diag_open_orders_warn, cfg.diag_open_orders_error)

    def collect() -> list[health.Status]:
        ops = node.ops
        work = health.Backlog(
            open_orders=sum(1 for rec in ops.orders.values() if rec.state != ORDER_COMPLETED),
            pending_lines=len(ops.pending), tasks_in_flight=sum(1 for t in ops.tasks.values() if not t.finished),
            unanswered_tasks=len(node.unanswered))
        extra = {"robots_out_of_service": len(ops.failed_robots)}
        return [health.allocation(node.get_name(), host, diag.rounds, node.now(), work, lag, backlog, extra)]

    diag = Diagnostics(node, cfg.diagnostics_period, collect)
    return diag


def floor_sim(node) -> Diagnostics:
    """The simulator's ``simulation`` status: time standing still, real-time factor, stalls."""
    cfg, host = node.cfg, _host()
    still = health.Limits(cfg.diag_still_warn, cfg.diag_still_error)
    clock, stalls = health.ClockWatch(), health.StallCounts()

    def collect() -> list[health.Status]:
        counts = (node.stalls, node.node_stalls, node.allocator_stalls)
        rtf, still_s = clock.sample(time.monotonic(), node.sim.time)
        return [health.simulation(node.get_name(), host, node.started, rtf, cfg.real_time_factor, still_s, counts,
                                  stalls.since(counts), still, cfg.diag_min_rtf)]

    return Diagnostics(node, cfg.diagnostics_period, collect, sim_now=lambda: node.sim.time)


def forecaster(node, summary: dict | None, skus: int) -> Diagnostics:
    """The forecaster's ``forecast`` status (it forecasts once, before it spins)."""
    host = _host()
    return Diagnostics(node, node.cfg.diagnostics_period,
                       lambda: [health.forecast(node.get_name(), host, summary, skus)])


def order_source(node) -> Diagnostics:
    """The order source's ``orders`` status: orders held and waiting for an answer."""
    cfg, host = node.cfg, _host()
    wait = health.Limits(cfg.diag_answer_warn, cfg.diag_answer_error)

    def collect() -> list[health.Status]:
        wall = node.wall_clock.now().nanoseconds * 1e-9
        oldest = max((wall - sent for _, sent in node.waiting.values()), default=0.0)
        subs = health.Submissions(len(node.backlog), len(node.waiting), oldest, len(node.answered),
                                  node.client.service_is_ready())
        return [health.order_intake(node.get_name(), host, subs, wait)]

    return Diagnostics(node, cfg.diagnostics_period, collect)


def _has_battery(robot) -> bool:
    """Whether the robot's state carries a real battery level: the floor simulator models one; a drive
    backend that reads a real one (e.g. sensor_msgs/BatteryState) says so with ``reports_battery``."""
    return robot.base_seen and getattr(robot.backend, "reports_battery", robot.cfg.drive_backend == "floor_sim")


def robots(name: str, nodes: list, current: Callable[[], list]) -> Diagnostics:
    """One ``robot links`` and one ``battery`` status for the robot nodes ``nodes`` of one process
    (a robot container ``name``, or one robot), published by the first; ``current()``: those still
    running (a scenario's ``robot_silent`` stops some)."""
    host_node = nodes[0]
    cfg = host_node.cfg
    ids = [n.robot_id for n in nodes]
    hardware = ids[0] if len(ids) == 1 else f"{ids[0]}..{ids[-1]}"
    links = health.Limits(cfg.diag_link_warn, cfg.diag_link_error)
    low = health.LowLimits(cfg.diag_battery_warn, cfg.diag_battery_error)

    def reports() -> dict[str, health.RobotReport]:
        running = {id(n) for n in current()}
        return {n.robot_id: health.RobotReport(conv.from_time(n.state.header.stamp) if n.base_seen else None,
                                               failed=n.failed, stopped=id(n) not in running,
                                               battery=float(n.state.battery) if _has_battery(n) else None,
                                               protective_stop=n.state.mode == MODE_STOPPED)
                for n in nodes}

    def collect() -> list[health.Status]:
        robots_now = reports()
        return [health.robot_links(name, hardware, robots_now, links),
                health.battery(name, hardware, robots_now, low),
                health.localisation(name, hardware, {n.robot_id: n.frames.localisation(newest()) for n in nodes})]

    def newest() -> float:
        return max((conv.from_time(n.state.header.stamp) for n in nodes if n.base_seen), default=0.0)

    return Diagnostics(host_node, cfg.diagnostics_period, collect, sim_now=newest)

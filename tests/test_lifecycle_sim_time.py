"""A managed node activated once simulated time has moved runs its timers although time stands.

The simulator holds ``/clock`` until the allocator reports a round, and the allocator reports from
a sim-time timer: a respawned allocator activated at t=40 with its timer reset to fire at t=41 would
wait for a time that never comes (the whole run stood still). The activation runs such a timer once
at once, as a plain node's timer, created before its first ``/clock``, fires when that arrives; at
t=0 (the graph's first bring-up) it waits for its period as before. In-process, real rclpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from builtin_interfaces.msg import Time
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from warehouse_core import topics
from warehouse_nodes import channels
from warehouse_nodes.managed import ManagedNode
from warehouse_nodes.params import param


@dataclass(frozen=True)
class TickerConfig:
    """The one parameter a managed node needs here."""

    managed: bool = param(True, "driven by the test, as by the lifecycle manager")


class Ticker(ManagedNode):
    """A managed node with one sim-time timer counting its calls."""

    def __init__(self, context) -> None:
        super().__init__("lifecycle_sim_time_ticker", TickerConfig, context=context,
                         parameter_overrides=[Parameter("use_sim_time", value=True)])
        self.calls: list[float] = []

    def configure_node(self) -> None:
        self.create_timer(1.0, lambda: self.calls.append(self.get_clock().now().nanoseconds * 1e-9))


def run_at(sim_s: int) -> tuple[list[float], list[float]]:
    """Calls of the ticker's timer with time standing at ``sim_s``: (configured only, then activated)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        clock_node = rclpy.create_node("lifecycle_sim_time_clock", context=context)
        clock_pub = channels.publisher(clock_node, topics.CLOCK)
        ticker = Ticker(context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(ticker)
        executor.add_node(clock_node)

        def spin(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                clock_pub.publish(Clock(clock=Time(sec=sim_s)))
                executor.spin_once(timeout_sec=0.02)

        spin(1.0)  # the ticker has the standing time before it is configured (a respawned node)
        ticker.trigger_configure()
        spin(1.5)
        configured = list(ticker.calls)
        ticker.trigger_activate()
        spin(1.5)
        return configured, list(ticker.calls)
    finally:
        rclpy.shutdown(context=context)


def test_activated_after_time_moved_its_timer_runs_although_time_stands():
    configured, active = run_at(40)
    assert configured == []  # held while inactive
    assert active == [40.0]  # once, at once; then it waits for time to move


def test_activated_at_time_zero_its_timer_waits_for_its_period():
    configured, active = run_at(0)
    assert configured == [] and active == []

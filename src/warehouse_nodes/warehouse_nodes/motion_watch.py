"""How long the fleet takes to stand still: the simulator's ground truth (``/sim/fleet_state``)
followed in a process of its own (the benchmarks, the tests).

:class:`MotionWatch` keeps (sim time, fastest robot's speed) samples; :func:`stood_still_from`
finds when every robot stopped and stayed stopped.
"""

from __future__ import annotations

import time

import rclpy
from rclpy.node import Node

from warehouse_core import topics
from warehouse_interfaces.msg import FleetState
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv


def stood_still_from(samples: list[tuple[float, float]], since: float, hold: float) -> float | None:
    """The first sim time at or after ``since`` from which no robot moved for ``hold`` s (None: not yet)."""
    start = None
    for t, v in samples:
        if t < since:
            continue
        if v > 1e-6:
            start = None
        elif start is None:
            start = t
        if start is not None and t - start >= hold:
            return start
    return None


class MotionWatch(Node):
    """Samples of ``/sim/fleet_state``: (sim time, the fastest robot's speed [m/s])."""

    def __init__(self) -> None:
        super().__init__("motion_watch")
        self.samples: list[tuple[float, float]] = []
        channels.subscription(self, topics.SIM_FLEET_STATE, self.on_state)

    def on_state(self, msg: FleetState) -> None:
        self.samples.append((conv.from_time(msg.header.stamp), max(map(abs, msg.linear_velocity), default=0.0)))

    def spin(self, seconds: float) -> None:
        """Take the samples that arrive in the next ``seconds`` (wall)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self, timeout_sec=0.05)

    @property
    def now(self) -> float:
        """The last sample's sim time (0 before any)."""
        return self.samples[-1][0] if self.samples else 0.0

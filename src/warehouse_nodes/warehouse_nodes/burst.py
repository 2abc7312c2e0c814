"""Burst load on ``/submit_order``: thousands of orders within about a second, every answer timed.

:class:`BurstClient` sends seeded orders (the order source's demand model on the allocator's
catalogue, ids ``B000001`` ...) spread evenly over ``spread_s`` seconds of wall time, then waits
for the answers. Each request ends accepted, rejected (the reason is grouped by kind), or
dropped (no answer within ``answer_timeout_s``). Latency is wall time from the call to its
answer. Used by ``benchmarks/burst.py`` and its shorter test.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from warehouse_core import topics
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.ops.orders import DemandModel, Order
from warehouse_interfaces.srv import SubmitOrder
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv


def burst_orders(layout_path: str, count: int, seed: int, skus: int = 500) -> list[Order]:
    """``count`` seeded orders on the catalogue of ``layout_path`` (created at 0 s, ids ``B...``)."""
    inventory, _ = load_catalogue(load_layout(layout_path), "", skus, seed)
    stream = DemandModel(3600.0 * count, inventory.popularity).stream(seed + 7)
    orders = stream.until(2.0)[:count]
    return [replace(o, order_id=f"B{i + 1:06d}", deadline=o.deadline - o.created, created=0.0)
            for i, o in enumerate(orders)]


def reason_kind(reason: str) -> str:
    """A refusal reason with ids and numbers taken out, to group refusals by kind."""
    text = re.sub(r"'[^']*'|\b[A-Z]+-?\d+\b|\d+(\.\d+)?", "#", reason)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class BurstResult:
    sent: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason kind -> count
    dropped: int = 0
    latencies_s: list[float] = field(default_factory=list)
    send_s: float = 0.0  # wall time the sending took
    answered_s: float = 0.0  # wall time from the first request to the last answer

    def latency_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q) * 1000.0) if self.latencies_s else float("nan")


class BurstClient(Node):
    """Fires a burst of orders at ``/submit_order`` (see module docstring)."""

    def __init__(self, use_sim_time: bool = False) -> None:
        super().__init__("burst_client", parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)])
        self.client = channels.client(self, topics.SUBMIT_ORDER)

    def fire(self, orders: list[Order], spread_s: float = 1.0, answer_timeout_s: float = 300.0,
             service_timeout_s: float = 120.0) -> BurstResult:
        executor = SingleThreadedExecutor()
        executor.add_node(self)
        deadline = time.monotonic() + service_timeout_s
        while not self.client.wait_for_service(timeout_sec=0.5):
            if time.monotonic() > deadline:
                raise TimeoutError("/submit_order did not come up")
        now = self.get_clock().now().nanoseconds * 1e-9
        result = BurstResult(sent=len(orders))
        sent_at: dict[str, float] = {}
        answers: dict[str, SubmitOrder.Response] = {}

        def answered(order_id: str, future) -> None:
            answers[order_id] = future.result()
            result.latencies_s.append(time.monotonic() - sent_at[order_id])

        start = time.monotonic()
        for i, order in enumerate(orders):
            due = start + spread_s * i / max(1, len(orders))
            while time.monotonic() < due:
                executor.spin_once(timeout_sec=0.0)
            msg = conv.order_to_msg(replace(order, created=order.created + now, deadline=order.deadline + now))
            sent_at[order.order_id] = time.monotonic()
            future = self.client.call_async(SubmitOrder.Request(order=msg))
            future.add_done_callback(lambda f, oid=order.order_id: answered(oid, f))
        result.send_s = time.monotonic() - start
        deadline = time.monotonic() + answer_timeout_s
        while len(answers) < len(orders) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        result.answered_s = time.monotonic() - start
        for response in answers.values():
            if response.accepted:
                result.accepted += 1
            else:
                result.rejected[reason_kind(response.reason) or "(no reason given)"] += 1
        result.dropped = len(orders) - len(answers)
        executor.remove_node(self)
        return result

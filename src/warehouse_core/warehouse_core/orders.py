"""Customer orders: the data model, validation, and a seeded demand model.

Times are seconds of (simulated) warehouse time. An order is validated against the
catalogue before it is accepted; a refused order gets a reason naming the field.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SERVICE_NEXT_DAY = 0
SERVICE_TWO_DAY = 1
MAX_QUANTITY = 10_000
MAX_LINES = 200


@dataclass(frozen=True)
class OrderLine:
    """``quantity`` units of ``sku``."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class Order:
    """A customer order with its dispatch deadline."""

    order_id: str
    consumer_id: str
    lines: tuple[OrderLine, ...]
    created: float
    deadline: float
    service: int = SERVICE_NEXT_DAY


def order_problem(order: Order, known_skus: set[str] | frozenset[str]) -> str:
    """Why ``order`` cannot be accepted (empty string when it is well formed)."""
    if not order.consumer_id or not order.consumer_id.strip():
        return "consumer_id is empty (give the consumer's id)"
    if not order.lines:
        return "order has no lines (add at least one line with sku and quantity)"
    if len(order.lines) > MAX_LINES:
        return f"order has {len(order.lines)} lines, at most {MAX_LINES} are accepted"
    for i, line in enumerate(order.lines):
        if line.sku not in known_skus:
            return f"lines[{i}].sku {line.sku!r} is not in the catalogue"
        if not isinstance(line.quantity, int) or not 1 <= line.quantity <= MAX_QUANTITY:
            return f"lines[{i}].quantity {line.quantity!r} must be 1..{MAX_QUANTITY}"
    if not math.isfinite(order.created) or not math.isfinite(order.deadline):
        return "created and deadline must be finite times"
    if order.deadline <= order.created:
        return f"deadline {order.deadline:.1f} s is not after created {order.created:.1f} s"
    if order.service not in (SERVICE_NEXT_DAY, SERVICE_TWO_DAY):
        return f"service {order.service} is unknown (0 next-day, 1 two-day)"
    return ""


@dataclass(frozen=True)
class DemandModel:
    """Poisson order arrivals; lines per order geometric; SKUs by Zipf-like popularity.

    ``popularity`` maps SKU id to a weight; consumers are drawn from a pool so that one
    consumer regularly has several open orders (the chance for consolidation).
    """

    orders_per_hour: float
    popularity: dict[str, float]
    mean_lines: float = 1.6
    max_quantity: int = 2
    consumers: int = 400
    next_day_share: float = 0.6
    next_day_deadline_s: float = 4 * 3600.0
    two_day_deadline_s: float = 12 * 3600.0

    def generate(self, rng: random.Random, t0: float, t1: float, first_id: int) -> list[Order]:
        """Orders created in ``[t0, t1)``, numbered from ``first_id``."""
        out: list[Order] = []
        if self.orders_per_hour <= 0:
            return out
        skus = list(self.popularity)
        weights = [self.popularity[s] for s in skus]
        rate = self.orders_per_hour / 3600.0
        t = t0 + rng.expovariate(rate)
        p_more = 1.0 - 1.0 / max(1.0, self.mean_lines)
        while t < t1:
            n_lines = 1
            while rng.random() < p_more and n_lines < 10:
                n_lines += 1
            chosen = dict.fromkeys(rng.choices(skus, weights, k=n_lines))
            lines = tuple(OrderLine(s, rng.randint(1, self.max_quantity)) for s in chosen)
            next_day = rng.random() < self.next_day_share
            service = SERVICE_NEXT_DAY if next_day else SERVICE_TWO_DAY
            horizon = self.next_day_deadline_s if next_day else self.two_day_deadline_s
            consumer = f"C{rng.randrange(self.consumers):05d}"
            out.append(Order(f"O{first_id + len(out):06d}", consumer, lines, t, t + horizon, service))
            t += rng.expovariate(rate)
        return out

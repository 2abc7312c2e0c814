"""Customer orders: the data model, validation, and a seeded demand model.

Times are seconds of (simulated) warehouse time. An order is validated against the
catalogue before it is accepted; a refused order gets a reason naming the field.

Field bounds (what a deployment's WMS sends fits well within them, and no request can make the
allocator hold or echo megabytes): ``order_id`` and ``consumer_id`` at most
:data:`MAX_ID_CHARS` printable characters (any script; no control or formatting characters), a
SKU id at most :data:`MAX_ID_CHARS` characters and in the catalogue, at most :data:`MAX_LINES`
lines, each of 1 to :data:`MAX_QUANTITY` units.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SERVICE_NEXT_DAY = 0
SERVICE_TWO_DAY = 1
MAX_QUANTITY = 10_000
MAX_LINES = 200
MAX_ID_CHARS = 128  # order_id, consumer_id and SKU ids


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
    """Why ``order`` cannot be accepted (empty string when it is well formed).

    The sizes are checked first, so that no reason quotes an oversized field."""
    problem = (id_problem("order_id", order.order_id) or id_problem("consumer_id", order.consumer_id)
               or _lines_problem(order, known_skus))
    if problem:
        return problem
    if not math.isfinite(order.created) or not math.isfinite(order.deadline):
        return "created and deadline must be finite times"
    if order.deadline <= order.created:
        return f"deadline {order.deadline:.1f} s is not after created {order.created:.1f} s"
    if order.service not in (SERVICE_NEXT_DAY, SERVICE_TWO_DAY):
        return f"service {order.service} is unknown (0 next-day, 1 two-day)"
    return ""


def id_problem(field: str, value: str) -> str:
    """Why ``value`` is no valid ``order_id``/``consumer_id`` ("" if it is one; an empty
    ``order_id`` is valid: the allocator gives one)."""
    if len(value) > MAX_ID_CHARS:
        return f"{field} is {len(value)} characters long, at most {MAX_ID_CHARS} are accepted"
    if field == "consumer_id" and not value.strip():
        return "consumer_id is empty (give the consumer's id)"
    if not value.isprintable():
        return f"{field} {value!r} has a control or formatting character (use printable characters only)"
    return ""


def _lines_problem(order: Order, known_skus: set[str] | frozenset[str]) -> str:
    if not order.lines:
        return "order has no lines (add at least one line with sku and quantity)"
    if len(order.lines) > MAX_LINES:
        return f"order has {len(order.lines)} lines, at most {MAX_LINES} are accepted"
    for i, line in enumerate(order.lines):
        if len(line.sku) > MAX_ID_CHARS:
            return f"lines[{i}].sku is {len(line.sku)} characters long, at most {MAX_ID_CHARS} are accepted"
        if line.sku not in known_skus:
            return f"lines[{i}].sku {line.sku!r} is not in the catalogue"
        if not isinstance(line.quantity, int) or not 1 <= line.quantity <= MAX_QUANTITY:
            return f"lines[{i}].quantity {line.quantity!r} must be 1..{MAX_QUANTITY}"
    return ""


def clipped(value: str) -> str:
    """``value`` cut to :data:`MAX_ID_CHARS` characters (marked with "..."), to quote an oversized
    id in a refusal without echoing all of it."""
    return value if len(value) <= MAX_ID_CHARS else value[:MAX_ID_CHARS] + "..."


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

    def stream(self, seed: int) -> "OrderStream":
        """The seeded order stream of this model (identical whenever it is read)."""
        return OrderStream(self, random.Random(seed))


class OrderStream:
    """A continuous Poisson stream of orders: the same orders for the same seed, however
    often and at whatever times it is read."""

    def __init__(self, model: DemandModel, rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self.count = 0
        self.skus = list(model.popularity)
        self.weights = [model.popularity[s] for s in self.skus]
        self.rate = model.orders_per_hour / 3600.0
        self.next_time = rng.expovariate(self.rate) if self.rate > 0 else math.inf

    def until(self, t: float) -> list[Order]:
        """Every order created before ``t`` not returned yet."""
        out: list[Order] = []
        m, rng = self.model, self.rng
        p_more = 1.0 - 1.0 / max(1.0, m.mean_lines)
        while self.next_time < t:
            n_lines = 1
            while rng.random() < p_more and n_lines < 10:
                n_lines += 1
            chosen = dict.fromkeys(rng.choices(self.skus, self.weights, k=n_lines))
            lines = tuple(OrderLine(s, rng.randint(1, m.max_quantity)) for s in chosen)
            next_day = rng.random() < m.next_day_share
            service = SERVICE_NEXT_DAY if next_day else SERVICE_TWO_DAY
            horizon = m.next_day_deadline_s if next_day else m.two_day_deadline_s
            consumer = f"C{rng.randrange(m.consumers):05d}"
            self.count += 1
            created = self.next_time
            out.append(Order(f"O{self.count:06d}", consumer, lines, created, created + horizon, service))
            self.next_time += rng.expovariate(self.rate)
        return out

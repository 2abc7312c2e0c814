"""Smart consolidation: several orders of one consumer leave in one parcel.

A completed order is held at packing while other orders of the same consumer are still open,
but only as long as waiting cannot make any of them miss its dispatch deadline: the open
orders are expected to complete ``expected_cycle_s`` after their creation (the allocator
keeps that estimate up to date from observed cycle times), and packing takes ``pack_time_s``.
When waiting would risk a deadline, what is complete ships now and the rest later.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Parcel:
    """One shipment to one consumer."""

    parcel_id: str
    consumer_id: str
    order_ids: tuple[str, ...]
    shipped_at: float
    deadline: float  # earliest dispatch deadline of its orders

    @property
    def late(self) -> bool:
        return self.shipped_at > self.deadline


@dataclass
class _OpenOrder:
    consumer: str
    created: float
    deadline: float
    completed_at: float | None = None


@dataclass
class Consolidator:
    """Decides when completed orders ship, and with which other orders of their consumer."""

    pack_time_s: float = 60.0
    expected_cycle_s: float = 600.0
    enabled: bool = True
    orders: dict[str, _OpenOrder] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def accepted(self, order_id: str, consumer: str, created: float, deadline: float) -> None:
        self.orders[order_id] = _OpenOrder(consumer, created, deadline)

    def completed(self, order_id: str, now: float) -> list[Parcel]:
        """Record a completed order; returns the parcels that ship now."""
        rec = self.orders.get(order_id)
        if rec is None:
            return []
        rec.completed_at = now
        return self._decide(rec.consumer, now)

    def set_deadline(self, order_id: str, deadline: float) -> None:
        rec = self.orders.get(order_id)
        if rec is not None:
            rec.deadline = deadline

    def cancelled(self, order_id: str, now: float) -> list[Parcel]:
        """An order cancelled before it completed: its consumer's other orders no longer wait for it."""
        rec = self.orders.pop(order_id, None)
        return self._decide(rec.consumer, now) if rec is not None else []

    def tick(self, now: float) -> list[Parcel]:
        """Ship held orders whose deadline no longer allows waiting."""
        consumers = {r.consumer for r in self.orders.values() if r.completed_at is not None}
        return [p for c in sorted(consumers) for p in self._decide(c, now)]

    def continue_ids_after(self, last: int) -> None:
        """New parcel ids continue after ``P{last}`` (a restart: ids are never reused)."""
        self._ids = itertools.count(last + 1)

    def held(self) -> int:
        return sum(1 for r in self.orders.values() if r.completed_at is not None)

    def _decide(self, consumer: str, now: float) -> list[Parcel]:
        mine = {oid: r for oid, r in self.orders.items() if r.consumer == consumer}
        done = {oid: r for oid, r in mine.items() if r.completed_at is not None}
        if not done:
            return []
        open_ = [r for r in mine.values() if r.completed_at is None]
        if self.enabled and open_:
            ready_at = max(max(r.created + self.expected_cycle_s, now) for r in open_)
            if ready_at + self.pack_time_s <= min(r.deadline for r in mine.values()):
                return []  # everybody can wait for the rest without missing a deadline
        for oid in done:
            del self.orders[oid]
        parcel = Parcel(f"P{next(self._ids):06d}", consumer, tuple(sorted(done)),
                        now + self.pack_time_s, min(r.deadline for r in done.values()))
        return [parcel]

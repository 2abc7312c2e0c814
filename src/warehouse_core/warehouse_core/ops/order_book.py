"""The order book: order intake, the pending pool of order lines, and the records of accepted orders.

:class:`OrderBook` owns every accepted order until it is *retired*: an order is pending, in
progress or completed, and nothing accepted is ever dropped (the lines of a failed visit come
back to the pending pool). A completed order is retired (dropped from ``orders``) once its
parcel has shipped; what stays of it is its id and a digest of its content
(:class:`RetiredOrders`), to recognise a repeated submission. The cycle times the consolidation
estimate needs are the last 50 only, so memory follows the backlog, not the run length.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator

from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import (
    ORDER_ACCEPTED,
    ORDER_COMPLETED,
    ORDER_IN_PROGRESS,
    ORDER_REJECTED,
    OrderEvent,
    OrderRecord,
    PickLine,
    Task,
)
from warehouse_core.ops.orders import Order, order_problem

RECENT_CYCLES = 50  # order cycle times the consolidation estimate averages


class RetiredOrders:
    """What is kept of retired orders in memory: a digest of each one's content by id."""

    def __init__(self) -> None:
        self._digests: dict[str, int] = {}

    def same(self, order: Order) -> bool | None:
        """Whether ``order`` is a retired order again (None: its id was never retired)."""
        digest = self._digests.get(order.order_id)
        return None if digest is None else digest == hash(order)

    def remember(self, record: OrderRecord) -> None:
        """Keep what :meth:`same` needs of a retired order."""
        self._digests[record.order.order_id] = hash(record.order)


class OrderBook:
    """Accepted orders and their pending lines (see module docstring); events go to ``emit``."""

    def __init__(self, inventory: Inventory, emit: Callable[[OrderEvent], None],
                 on_accept: Callable[[Order], None]) -> None:
        self.inventory = inventory
        self.emit = emit
        self.on_accept = on_accept  # told of every order taken (consolidation)
        self.orders: dict[str, OrderRecord] = {}
        self.pending: dict[tuple[str, int], PickLine] = {}  # in arrival order
        self.retired = RetiredOrders()
        self.orders_retired = 0
        self._pending_units: dict[str, int] = {}
        self._order_ids: Iterator[int] = itertools.count(1)
        self._retiring: list[str] = []  # shipped: retired at the next retire()
        self._cycles: deque[float] = deque(maxlen=RECENT_CYCLES)

    # -- intake --------------------------------------------------------------------------
    def submit(self, order: Order, now: float) -> tuple[bool, str, str]:
        """Accept or refuse ``order``; returns (accepted, order_id, reason)."""
        if not order.order_id:
            order = Order(f"A{next(self._order_ids):06d}", order.consumer_id, order.lines,
                          order.created, order.deadline, order.service)
        known = self.orders.get(order.order_id)
        same = known.order == order if known is not None else self.retired.same(order)
        if same:
            return True, order.order_id, ""  # a repeat (the answer was lost): acknowledged again, not added
        reason = f"order_id {order.order_id!r} was already submitted with other content" if same is False else ""
        reason = reason or order_problem(order, self.inventory.skus) or self._stock_problem(order)
        if reason:
            self.emit(OrderEvent(order.order_id, order.consumer_id, ORDER_REJECTED, len(order.lines), 0, now, reason))
            return False, order.order_id, reason
        self.adopt(order)
        self.emit(OrderEvent(order.order_id, order.consumer_id, ORDER_ACCEPTED, len(order.lines), 0, now))
        return True, order.order_id, ""

    def _stock_problem(self, order: Order) -> str:
        """Why the stock not yet promised cannot serve ``order`` ("" if it can)."""
        for i, line in enumerate(order.lines):
            free = self.inventory.total_available(line.sku)
            if free < line.quantity + self.pending_units(line.sku):
                return f"lines[{i}]: not enough stock of {line.sku} ({free} units free)"
            if not self.inventory.racks_for(line.sku, line.quantity) and not self.pending_units(line.sku):
                return f"lines[{i}]: no single rack holds {line.quantity} of {line.sku}"
        return ""

    def adopt(self, order: Order) -> None:
        """Take ``order`` as accepted without checks: its lines join the pending pool."""
        self.orders[order.order_id] = OrderRecord(order)
        self.on_accept(order)
        for i, line in enumerate(order.lines):
            self.add_pending(PickLine(order.order_id, i, line.sku, line.quantity, order.deadline, order.created))

    def continue_ids_after(self, last: int) -> None:
        """Ids given to orders submitted without one continue after ``A{last}``."""
        self._order_ids = itertools.count(last + 1)

    # -- the pending pool ----------------------------------------------------------------
    def pending_units(self, sku: str) -> int:
        return self._pending_units.get(sku, 0)

    def add_pending(self, line: PickLine) -> None:
        self.pending[line.key] = line
        self._pending_units[line.sku] = self._pending_units.get(line.sku, 0) + line.quantity

    def take_pending(self, line: PickLine) -> None:
        del self.pending[line.key]
        self._pending_units[line.sku] -= line.quantity

    # -- progress ------------------------------------------------------------------------
    def started(self, task: Task, now: float) -> None:
        """The orders of ``task`` are in progress (if they were not yet)."""
        for oid in task.order_ids:
            rec = self.orders[oid]
            if rec.state == ORDER_ACCEPTED:
                rec.state = ORDER_IN_PROGRESS
                self.emit(OrderEvent(oid, rec.order.consumer_id, ORDER_IN_PROGRESS, len(rec.order.lines),
                                     rec.lines_picked, now))

    def picked(self, line: PickLine, now: float) -> bool:
        """``line`` was picked; True if that completed its order."""
        rec = self.orders[line.order_id]
        rec.lines_picked += 1
        if rec.lines_picked == len(rec.order.lines):
            rec.state = ORDER_COMPLETED
            rec.completed_at = now
            self._cycles.append(now - rec.order.created)
        self.emit(OrderEvent(line.order_id, rec.order.consumer_id, rec.state, len(rec.order.lines),
                             rec.lines_picked, now))
        return rec.state == ORDER_COMPLETED

    def expected_cycle_s(self) -> float | None:
        """The cycle time (creation to completion) to expect of an open order: 1.5 times the mean
        of the recent ones (None before any order completed)."""
        if not self._cycles:
            return None
        return 1.5 * sum(self._cycles) / len(self._cycles)

    # -- retirement ----------------------------------------------------------------------
    def retire_when_shipped(self, order_ids: Iterable[str]) -> None:
        """These orders shipped: retire them at the next :meth:`retire`."""
        self._retiring += order_ids

    def retire(self, held: Container[str]) -> None:
        """Drop the shipped orders from memory, unless still ``held`` at consolidation."""
        for oid in self._retiring:
            rec = self.orders.get(oid)
            if rec is not None and rec.state == ORDER_COMPLETED and oid not in held:
                del self.orders[oid]
                self.retired.remember(rec)
                self.orders_retired += 1
        self._retiring.clear()

    def retire_all_completed(self, held: Container[str]) -> None:
        """Retire every completed order not ``held`` (after a replay)."""
        self._retiring = [oid for oid, rec in self.orders.items() if rec.state == ORDER_COMPLETED]
        self.retire(held)

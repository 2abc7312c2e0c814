"""The order book: order intake, the pending pool of order lines, and the records of accepted orders.

An order is accepted whole or refused whole (with an ``ORDER_REJECTED`` event naming the reason):
its fields must be well formed (:func:`~warehouse_core.ops.orders.order_problem`), its deadline
still ahead, and all its lines of each SKU together must fit in the stock not yet reserved or
promised to accepted orders, each line on one rack (:mod:`warehouse_core.ops.promises`).

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
from dataclasses import replace

from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import (
    ORDER_ACCEPTED,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_IN_PROGRESS,
    ORDER_REJECTED,
    OrderEvent,
    OrderRecord,
    PickLine,
    Task,
)
from warehouse_core.ops.orders import Order, clipped, id_problem, order_problem
from warehouse_core.ops.promises import Key, StockPromises

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
        self.promises = StockPromises(inventory)
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
        reason = id_problem("order_id", order.order_id)  # first: an oversized id is not looked up
        if reason:
            return self.refuse(order, reason, now)
        known = self.orders.get(order.order_id)
        same = known.order == order if known is not None else self.retired.same(order)
        if same:
            return True, order.order_id, ""  # a repeat (the answer was lost): acknowledged again, not added
        reason = f"order_id {order.order_id!r} was already submitted with other content" if same is False else ""
        reason = reason or order_problem(order, self.inventory.skus)
        if not reason and order.deadline <= now:
            reason = (f"deadline {order.deadline:.1f} s has already passed (now {now:.1f} s): the order "
                      "cannot be dispatched in time")
        plan: dict[Key, str] | None = None
        if not reason:
            reason, plan = self._stock_check(order)
        if reason:
            return self.refuse(order, reason, now)
        self.adopt(order, plan)
        self.emit(OrderEvent(order.order_id, order.consumer_id, ORDER_ACCEPTED, len(order.lines), 0, now))
        return True, order.order_id, ""

    def refuse(self, order: Order, reason: str, now: float) -> tuple[bool, str, str]:
        """Refuse ``order`` with an ``ORDER_REJECTED`` event; returns (False, order_id, reason)
        (oversized ids cut short)."""
        order_id = clipped(order.order_id)
        self.emit(OrderEvent(order_id, clipped(order.consumer_id), ORDER_REJECTED, len(order.lines), 0, now, reason))
        return False, order_id, reason

    def _stock_check(self, order: Order) -> tuple[str, dict[Key, str] | None]:
        """("", racks promised to the lines of ``order``), or (why the stock not yet reserved or
        promised cannot serve the whole order, None)."""
        asked: dict[str, int] = {}
        for line in order.lines:
            asked[line.sku] = asked.get(line.sku, 0) + line.quantity
        for sku, units in asked.items():
            free = max(0, self.inventory.total_available(sku) - self.pending_units(sku))
            if units > free:
                return (f"not enough stock of {sku}: the order asks {units} units, {free} are free "
                        "(not reserved or promised to accepted orders)"), None
        lines = self._lines_of(order)
        plan = self.promises.plan(lines)
        if plan is not None:
            return "", plan
        sku = next(s for s in asked if self.promises.plan([p for p in lines if p.sku == s]) is None)
        n = sum(1 for p in lines if p.sku == sku)
        free = self.inventory.total_available(sku) - self.pending_units(sku)
        return (f"not enough stock of {sku} on single racks: the order asks {asked[sku]} units in {n} "
                f"line(s), {free} are free but at most {self.promises.max_slack(sku)} on one rack "
                "(a line is taken from one rack)"), None

    @staticmethod
    def _lines_of(order: Order) -> list[PickLine]:
        return [PickLine(order.order_id, i, line.sku, line.quantity, order.deadline, order.created)
                for i, line in enumerate(order.lines)]

    def adopt(self, order: Order, plan: dict[Key, str] | None = None) -> None:
        """Take ``order`` as accepted: its lines join the pending pool, promised as ``plan`` says
        (None: without checks, promised where they fit)."""
        self.orders[order.order_id] = OrderRecord(order)
        self.on_accept(order)
        lines = self._lines_of(order)
        for line in lines:
            self.add_pending(line)
        if plan is not None:
            self.promises.apply(plan)
        else:
            self.promises.place(lines)

    def continue_ids_after(self, last: int) -> None:
        """Ids given to orders submitted without one continue after ``A{last}``."""
        self._order_ids = itertools.count(last + 1)

    # -- the pending pool ----------------------------------------------------------------
    def pending_units(self, sku: str) -> int:
        return self._pending_units.get(sku, 0)

    def add_pending(self, line: PickLine, promised_to: str = "") -> None:
        """``line`` joins the pool, promised to ``promised_to`` (a line given back: the rack it
        was reserved on) or to none yet."""
        self.pending[line.key] = line
        self._pending_units[line.sku] = self._pending_units.get(line.sku, 0) + line.quantity
        self.promises.add(line, promised_to)

    def take_pending(self, line: PickLine) -> None:
        """``line`` leaves the pool: its units are reserved on a rack now."""
        del self.pending[line.key]
        self._pending_units[line.sku] -= line.quantity
        self.promises.remove(line)

    # -- operators -------------------------------------------------------------------------
    def cancel(self, order_id: str, now: float) -> str:
        """Cancel an open order: its lines leave the pending pool (their promises released); lines
        already reserved on a rack on its way are not picked when it arrives (:meth:`cancelled`).
        Returns why it cannot be cancelled, or "" when it was."""
        rec = self.orders.get(order_id)
        refusal = self._not_open(order_id, rec)
        if refusal:
            return refusal
        for key in [k for k in self.pending if k[0] == order_id]:
            self.take_pending(self.pending[key])
        rec.state = ORDER_CANCELLED
        self.emit(OrderEvent(order_id, rec.order.consumer_id, ORDER_CANCELLED, len(rec.order.lines),
                             rec.lines_picked, now, "cancelled by an operator"))
        return ""

    def set_deadline(self, order_id: str, deadline: float, now: float) -> str:
        """Move an open order's dispatch deadline (an operator re-prioritising it: the policies serve
        lines by their slack); its lines waiting for a rack take it at once. Returns why not, or ""."""
        rec = self.orders.get(order_id)
        refusal = self._not_open(order_id, rec)
        if refusal:
            return refusal
        if not deadline > now:
            return f"deadline {deadline:.1f} s is not after now ({now:.1f} s)"
        rec.order = replace(rec.order, deadline=deadline)
        for line in self.pending.values():
            if line.order_id == order_id:
                line.deadline = deadline
        return ""

    def _not_open(self, order_id: str, rec: OrderRecord | None) -> str:
        """Why an operator cannot change the order any more ("" if it is open)."""
        if rec is None:
            known = self.retired.same(Order(order_id, "", (), 0.0, 0.0)) is not None
            return f"order {order_id} has shipped" if known else f"unknown order {order_id!r}"
        if rec.state == ORDER_COMPLETED:
            return f"order {order_id} is picked in full already (at packing or shipped)"
        if rec.state == ORDER_CANCELLED:
            return f"order {order_id} is cancelled already"
        return ""

    def cancelled(self, order_id: str) -> bool:
        rec = self.orders.get(order_id)
        return rec is not None and rec.state == ORDER_CANCELLED

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

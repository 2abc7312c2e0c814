"""The allocator's decision state, written to the durable store before anything depends on it.

:class:`JournaledOps` is :class:`~warehouse_core.ops.operations.WarehouseOps` whose state changes
(accepting an order, creating a task, a step or task outcome, a robot fault, a recovered rack,
a shipped parcel) each become one transaction in a :class:`~warehouse_core.ops.store.StateStore`
before the call returns, so before the node answers a submission or sends a task to a robot.
:meth:`JournaledOps.recover` replays the journal into a fresh instance after a restart: the
same orders, pending lines, tasks in flight, reservations and rack positions; new ids continue
after the stored ones, so a task id is never reused (robots recognise a repeated task by its id
and answer it again instead of doing it twice).

Retired orders (completed and shipped, see :mod:`warehouse_core.ops.order_book`) are not kept in
memory at all here: a repeated submission of one is recognised from its row in the store
(:class:`StoredRetiredOrders`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.layout import Layout
from warehouse_core.ops.config import OpsConfig
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import (
    ORDER_ACCEPTED,
    TASK_ACTIVE,
    TASK_ASSIGNED,
    OpsEvent,
    OrderEvent,
    OrderRecord,
    ParcelEvent,
    PickLine,
    Task,
    TaskEvent,
)
from warehouse_core.ops.operations import WarehouseOps
from warehouse_core.ops.order_book import RetiredOrders
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.ops.shipping import ShippingDesk
from warehouse_core.ops.store import JournalEntry, OrderRow, StateStore, TaskRow
from warehouse_core.tasks import TaskStep


def order_to_json(order: Order) -> dict:
    return {"order_id": order.order_id, "consumer_id": order.consumer_id,
            "lines": [[line.sku, line.quantity] for line in order.lines], "created": order.created,
            "deadline": order.deadline, "service": order.service}


def order_from_json(d: dict) -> Order:
    return Order(order_id=d["order_id"], consumer_id=d["consumer_id"],
                 lines=tuple(OrderLine(s, int(q)) for s, q in d["lines"]), created=float(d["created"]),
                 deadline=float(d["deadline"]), service=int(d["service"]))


def task_to_json(task: Task) -> dict:
    return {"task_id": task.task_id, "robot": task.robot, "rack": task.rack, "station": task.station,
            "lines": [[p.order_id, p.index, p.sku, p.quantity, p.deadline, p.created] for p in task.lines],
            "steps": [[s.cell[0], s.cell[1], s.op, s.duration] for s in task.steps],
            "origin": task.origin, "return_location": task.return_location, "created": task.created,
            "deadline": task.deadline, "type": task.type, "charger": task.charger,
            "length_steps": task.length_steps}


def task_from_json(d: dict) -> Task:
    return Task(
        task_id=d["task_id"], robot=d["robot"], rack=d["rack"], station=d["station"],
        lines=[PickLine(o, int(i), s, int(q), float(dl), float(c)) for o, i, s, q, dl, c in d["lines"]],
        steps=[TaskStep((int(x), int(y)), int(op), float(dur)) for x, y, op, dur in d["steps"]],
        origin=d["origin"], return_location=d["return_location"], created=float(d["created"]),
        deadline=float(d["deadline"]), type=int(d["type"]), charger=d["charger"],
        length_steps=int(d["length_steps"]))


def _number(ident: str) -> int:
    """The counter in an id like ``T000042`` (0 if there is none)."""
    digits = ident[1:]
    return int(digits) if digits.isdigit() else 0


@dataclass
class RecoveryReport:
    """What :meth:`JournaledOps.recover` reloaded."""

    entries: int = 0
    orders: int = 0
    open_orders: int = 0
    tasks_in_flight: list[Task] | None = None


@dataclass
class _LastIds:
    """The highest task, order and parcel counters a replay saw."""

    task: int = 0
    order: int = 0
    parcel: int = 0


class StoredRetiredOrders(RetiredOrders):
    """A retired order is recognised from its row in the store: nothing is kept in memory."""

    def __init__(self, store: StateStore) -> None:
        super().__init__()
        self.store = store

    def same(self, order: Order) -> bool | None:
        row = self.store.order(order.order_id)
        return None if row is None else order_from_json(row.data) == order

    def remember(self, record: OrderRecord) -> None:
        pass  # the store's row is the record


class JournaledOps(WarehouseOps):
    """WarehouseOps with every state change journaled in ``store`` (see module docstring).
    Without a store it behaves exactly like WarehouseOps."""

    def __init__(self, layout: Layout, inventory: Inventory, config: OpsConfig | None = None, *,
                 store: StateStore | None = None, dist: DistanceCache | None = None,
                 placement: dict[str, str] | None = None, demand: dict[str, float] | None = None,
                 shipping: ShippingDesk | None = None, forecast_pending: bool = False) -> None:
        super().__init__(layout, inventory, config, dist=dist, placement=placement, demand=demand, shipping=shipping,
                         forecast_pending=forecast_pending)
        self.store = store
        if store is not None:
            self.book.retired = StoredRetiredOrders(store)
        self._depth = 0  # nested calls (task_finished -> step_done) are journaled once, by the outer one
        self._replaying = False

    # -- journaled changes ---------------------------------------------------------------
    def _journaled(self, kind: str, now: float, data: dict, call: Callable[[], Any]) -> Any:
        if self.store is None or self._replaying or self._depth:
            return call()
        mark = len(self.events)
        self._depth += 1
        try:
            result = call()
        finally:
            self._depth -= 1
        self._write([JournalEntry(kind, now, data)] if kind else [], now, self.events[mark:])
        return result

    def _write(self, entries: list[JournalEntry], now: float, new_events: list[OpsEvent]) -> None:
        """One transaction: ``entries``, a ``shipped`` entry per new parcel, and the rows of
        the orders and tasks that ``new_events`` changed."""
        orders: dict[str, OrderRow] = {}
        tasks: dict[str, TaskRow] = {}
        for ev in new_events:
            if isinstance(ev, OrderEvent) and ev.order_id in self.orders:
                rec = self.orders[ev.order_id]
                orders[ev.order_id] = OrderRow(ev.order_id, ev.consumer_id, rec.state, rec.lines_picked,
                                               order_to_json(rec.order))
            elif isinstance(ev, TaskEvent):
                t = ev.task
                tasks[t.task_id] = TaskRow(t.task_id, t.robot, t.state, t.step_index, task_to_json(t))
            elif isinstance(ev, ParcelEvent):
                entries.append(JournalEntry("shipped", now, {"parcel_id": ev.parcel.parcel_id,
                                                             "order_ids": list(ev.parcel.order_ids)}))
        if entries:
            self.store.write(entries, orders.values(), tasks.values())

    def submit(self, order: Order, now: float) -> tuple[bool, str, str]:
        known = order.order_id in self.orders or (self.store is not None and self.store.order(order.order_id)
                                                  is not None)
        if self.store is None or self._replaying:
            return super().submit(order, now)
        mark = len(self.events)
        accepted, order_id, reason = super().submit(order, now)
        if accepted and not known:  # new (a repeat of a stored order is not written again)
            self._write([JournalEntry("order", now, order_to_json(self.orders[order_id].order))], now,
                        self.events[mark:])
        return accepted, order_id, reason

    def assign(self, now: float) -> list[Task]:
        if self.store is None or self._replaying:
            return super().assign(now)
        mark = len(self.events)
        tasks = super().assign(now)
        if tasks:
            self._write([JournalEntry("task", now, task_to_json(t)) for t in tasks], now, self.events[mark:])
        return tasks

    def _open(self, task_id: str) -> bool:
        task = self.tasks.get(task_id)
        return task is not None and not task.finished

    def step_done(self, task_id: str, step_index: int, now: float) -> None:
        task = self.tasks.get(task_id)
        if not self._open(task_id) or step_index <= task.step_index + 1:
            return super().step_done(task_id, step_index, now)  # nothing changes: nothing to write
        return self._journaled("step", now, {"task_id": task_id, "step_index": step_index},
                               lambda: super(JournaledOps, self).step_done(task_id, step_index, now))

    def task_finished(self, task_id: str, success: bool, now: float, message: str = "") -> None:
        if not self._open(task_id):
            return super().task_finished(task_id, success, now, message)
        return self._journaled("finished", now, {"task_id": task_id, "success": success, "message": message},
                               lambda: super(JournaledOps, self).task_finished(task_id, success, now, message))

    def lift_failed(self, task_id: str, now: float, message: str = "") -> None:
        if not self._open(task_id):
            return super().lift_failed(task_id, now, message)
        return self._journaled("lift_failed", now, {"task_id": task_id, "message": message},
                               lambda: super(JournaledOps, self).lift_failed(task_id, now, message))

    def robot_failed(self, robot: str, now: float, reason: str = "robot failed") -> bool:
        return self._journaled("robot_failed", now, {"robot": robot, "reason": reason},
                               lambda: super(JournaledOps, self).robot_failed(robot, now, reason))

    def cancel_order(self, order_id: str, now: float, requester: str = "") -> str:
        """Journaled with who asked (a refusal changes nothing and is not written)."""
        if self.store is None or self._replaying:
            return super().cancel_order(order_id, now)
        mark = len(self.events)
        reason = super().cancel_order(order_id, now)
        if not reason:
            self._write([JournalEntry("cancel_order", now, {"order_id": order_id, "requester": requester})], now,
                        self.events[mark:])
        return reason

    def set_deadline(self, order_id: str, deadline: float, now: float, requester: str = "") -> str:
        """Journaled with who asked, and the order's row rewritten (a refusal changes nothing)."""
        reason = super().set_deadline(order_id, deadline, now)
        if not reason and self.store is not None and not self._replaying:
            rec = self.orders[order_id]
            self.store.write([JournalEntry("order_deadline", now, {"order_id": order_id, "deadline": deadline,
                                                                   "requester": requester})],
                             [OrderRow(order_id, rec.order.consumer_id, rec.state, rec.lines_picked,
                                       order_to_json(rec.order))])
        return reason

    def rack_recovered(self, rack: str, location: str, now: float) -> None:
        return self._journaled("rack_recovered", now, {"rack": rack, "location": location},
                               lambda: super(JournaledOps, self).rack_recovered(rack, location, now))

    def tick(self, now: float) -> None:
        if self.replenish_due(now):  # journaled: a restart replays the stock it refilled
            self._journaled("replenished", now, {}, lambda: self.replenish(now))
        return self._journaled("", now, {}, lambda: super(JournaledOps, self).tick(now))

    # -- recovery ------------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Replay the store's journal into this (fresh) instance. Packing is not redone for
        parcels already shipped; the events the replay produces are replaced by the current
        state of every order and task, to be published again (listeners deduplicate)."""
        report = RecoveryReport(tasks_in_flight=[])
        if self.store is None:
            return report
        last = _LastIds()
        self._replaying = True
        try:
            with self.dispatch.packing_paused():
                for entry in self.store.journal():
                    report.entries += 1
                    self._replay(entry, last)
        finally:
            self._replaying = False
        self.continue_ids_after(last.task, last.order, last.parcel)
        self.book.promises.rebuild()
        self.events = _latest_state(self.events)
        report.orders = len(self.orders)
        report.open_orders = sum(1 for r in self.orders.values() if r.open)
        report.tasks_in_flight = [t for t in self.tasks.values() if t.state in (TASK_ASSIGNED, TASK_ACTIVE)]
        self.retire_all_finished()
        return report

    def _replay(self, entry: JournalEntry, last: _LastIds) -> None:
        """Apply one journal entry again; ``last`` follows the highest ids seen."""
        d, now = entry.data, entry.time
        if entry.kind == "order":
            order = order_from_json(d)
            self.adopt_order(order)
            self.events.append(OrderEvent(order.order_id, order.consumer_id, ORDER_ACCEPTED, len(order.lines), 0,
                                          now))
            last.order = max(last.order, _number(order.order_id) if order.order_id.startswith("A") else 0)
        elif entry.kind == "task":
            task = task_from_json(d)
            self.adopt_task(task)
            self.events.append(TaskEvent(task, TASK_ASSIGNED, -1, now))
            last.task = max(last.task, _number(task.task_id))
        elif entry.kind == "step":
            self.step_done(d["task_id"], int(d["step_index"]), now)
        elif entry.kind == "finished":
            self.task_finished(d["task_id"], bool(d["success"]), now, d["message"])
        elif entry.kind == "lift_failed":
            self.lift_failed(d["task_id"], now, d["message"])
        elif entry.kind == "robot_failed":
            self.robot_failed(d["robot"], now, d["reason"])
        elif entry.kind == "replenished":
            self.replenish(now)
        elif entry.kind == "order_deadline":
            self.set_deadline(d["order_id"], float(d["deadline"]), now)
        elif entry.kind == "cancel_order":
            self.cancel_order(d["order_id"], now)
        elif entry.kind == "rack_recovered":
            self.rack_recovered(d["rack"], d["location"], now)
        elif entry.kind == "shipped":
            self.dispatch.shipped(d["order_ids"])
            last.parcel = max(last.parcel, _number(d["parcel_id"]))


def _latest_state(events: list[OpsEvent]) -> list[OpsEvent]:
    """Of replayed events: each order's acceptance and its latest event, each task's latest event."""
    accepted: dict[str, OrderEvent] = {}
    last_order: dict[str, OrderEvent] = {}
    last_task: dict[str, TaskEvent] = {}
    for ev in events:
        if isinstance(ev, OrderEvent):
            if ev.state == ORDER_ACCEPTED:
                accepted.setdefault(ev.order_id, ev)
            last_order[ev.order_id] = ev
        elif isinstance(ev, TaskEvent):
            last_task[ev.task.task_id] = ev
    out: list[OpsEvent] = list(accepted.values())
    out += [ev for oid, ev in last_order.items() if ev is not accepted.get(oid)]
    out += list(last_task.values())
    return out

"""The allocator's decision state, written to the durable store before anything depends on it.

:class:`JournaledOps` is :class:`~warehouse_core.ops.operations.WarehouseOps` whose state changes
(accepting an order, creating a task, a step or task outcome, a robot fault, a recovered rack,
a shipped parcel) each become one transaction in a :class:`~warehouse_core.ops.store.StateStore`
before the call returns, so before the node answers a submission or sends a task to a robot.
:meth:`JournaledOps.recover` replays the journal into a fresh instance after a restart: the
same orders, pending lines, tasks in flight, reservations and rack positions; new ids continue
after the stored ones, so a task id is never reused (robots recognise a repeated task by its id
and answer it again instead of doing it twice).

Retired orders (completed and shipped, see :mod:`warehouse_core.ops.operations`) are not kept in
memory at all here: a repeated submission of one is recognised from its row in the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_core.ops import operations as ops_mod
from warehouse_core.ops.operations import (
    OrderEvent,
    OrderRecord,
    ParcelEvent,
    PickLine,
    Task,
    TaskEvent,
    WarehouseOps,
)
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.ops.store import JournalEntry, OrderRow, StateStore, TaskRow
from warehouse_core.tasks import TaskStep


def order_to_json(order: Order) -> dict:
    return {"order_id": order.order_id, "consumer_id": order.consumer_id,
            "lines": [[line.sku, line.quantity] for line in order.lines], "created": order.created,
            "deadline": order.deadline, "service": order.service}


def order_from_json(d: dict) -> Order:
    return Order(d["order_id"], d["consumer_id"], tuple(OrderLine(s, int(q)) for s, q in d["lines"]),
                 float(d["created"]), float(d["deadline"]), int(d["service"]))


def task_to_json(task: Task) -> dict:
    return {"task_id": task.task_id, "robot": task.robot, "rack": task.rack, "station": task.station,
            "lines": [[p.order_id, p.index, p.sku, p.quantity, p.deadline, p.created] for p in task.lines],
            "steps": [[s.cell[0], s.cell[1], s.op, s.duration] for s in task.steps],
            "origin": task.origin, "return_location": task.return_location, "created": task.created,
            "deadline": task.deadline, "type": task.type, "charger": task.charger,
            "length_steps": task.length_steps}


def task_from_json(d: dict) -> Task:
    return Task(d["task_id"], d["robot"], d["rack"], d["station"],
                [PickLine(o, int(i), s, int(q), float(dl), float(c)) for o, i, s, q, dl, c in d["lines"]],
                [TaskStep((int(x), int(y)), int(op), float(dur)) for x, y, op, dur in d["steps"]],
                d["origin"], d["return_location"], float(d["created"]), float(d["deadline"]),
                type=int(d["type"]), charger=d["charger"], length_steps=int(d["length_steps"]))


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
class JournaledOps(WarehouseOps):
    """WarehouseOps with every state change journaled in ``store`` (see module docstring).
    Without a store it behaves exactly like WarehouseOps."""

    store: StateStore | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._depth = 0  # nested calls (task_finished -> step_done) are journaled once, by the outer one
        self._replaying = False

    # -- journaled changes ---------------------------------------------------------------
    def _journaled(self, kind: str, now: float, data: dict, call):
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

    def _write(self, entries: list[JournalEntry], now: float, new_events: list) -> None:
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

    def _retired_same(self, order: Order) -> bool | None:
        if self.store is None:
            return super()._retired_same(order)
        row = self.store.order(order.order_id)
        return None if row is None else order_from_json(row.data) == order

    def _remember_retired(self, record: OrderRecord) -> None:
        if self.store is None:  # else the store's row is the record
            super()._remember_retired(record)

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

    def step_done(self, task_id: str, step_index: int, now: float) -> None:
        task = self.tasks.get(task_id)
        if task is None or step_index <= task.step_index + 1 or task.state in (ops_mod.TASK_DONE,
                                                                               ops_mod.TASK_FAILED):
            return super().step_done(task_id, step_index, now)  # nothing changes: nothing to write
        return self._journaled("step", now, {"task_id": task_id, "step_index": step_index},
                               lambda: super(JournaledOps, self).step_done(task_id, step_index, now))

    def task_finished(self, task_id: str, success: bool, now: float, message: str = "") -> None:
        task = self.tasks.get(task_id)
        if task is None or task.state in (ops_mod.TASK_DONE, ops_mod.TASK_FAILED):
            return super().task_finished(task_id, success, now, message)
        return self._journaled("finished", now, {"task_id": task_id, "success": success, "message": message},
                               lambda: super(JournaledOps, self).task_finished(task_id, success, now, message))

    def lift_failed(self, task_id: str, now: float, message: str = "") -> None:
        task = self.tasks.get(task_id)
        if task is None or task.state in (ops_mod.TASK_DONE, ops_mod.TASK_FAILED):
            return super().lift_failed(task_id, now, message)
        return self._journaled("lift_failed", now, {"task_id": task_id, "message": message},
                               lambda: super(JournaledOps, self).lift_failed(task_id, now, message))

    def robot_failed(self, robot: str, now: float, reason: str = "robot failed") -> bool:
        return self._journaled("robot_failed", now, {"robot": robot, "reason": reason},
                               lambda: super(JournaledOps, self).robot_failed(robot, now, reason))

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
        shipping, self.shipping = self.shipping, None
        self._replaying = True
        max_task = max_order = max_parcel = 0
        try:
            for entry in self.store.journal():
                report.entries += 1
                d, now = entry.data, entry.time
                if entry.kind == "order":
                    order = order_from_json(d)
                    self.adopt_order(order)
                    self.events.append(OrderEvent(order.order_id, order.consumer_id, ops_mod.ORDER_ACCEPTED,
                                                  len(order.lines), 0, now))
                    max_order = max(max_order, _number(order.order_id) if order.order_id.startswith("A") else 0)
                elif entry.kind == "task":
                    task = task_from_json(d)
                    self.adopt_task(task)
                    self.events.append(TaskEvent(task, ops_mod.TASK_ASSIGNED, -1, now))
                    max_task = max(max_task, _number(task.task_id))
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
                elif entry.kind == "rack_recovered":
                    self.rack_recovered(d["rack"], d["location"], now)
                elif entry.kind == "shipped":
                    for oid in d["order_ids"]:
                        self.consolidator.orders.pop(oid, None)
                    max_parcel = max(max_parcel, _number(d["parcel_id"]))
        finally:
            self._replaying = False
            self.shipping = shipping
        self._ids = iter(range(max_task + 1, 1 << 62))
        self._order_ids = iter(range(max_order + 1, 1 << 62))
        self.consolidator._ids = iter(range(max_parcel + 1, 1 << 62))
        self.events = _latest_state(self.events)
        report.orders = len(self.orders)
        report.open_orders = sum(1 for r in self.orders.values() if r.state != ops_mod.ORDER_COMPLETED)
        report.tasks_in_flight = [t for t in self.tasks.values()
                                  if t.state in (ops_mod.TASK_ASSIGNED, ops_mod.TASK_ACTIVE)]
        self.retire_all_finished()
        return report


def _latest_state(events: list) -> list:
    """Of replayed events: each order's acceptance and its latest event, each task's latest event."""
    accepted: dict[str, OrderEvent] = {}
    last_order: dict[str, OrderEvent] = {}
    last_task: dict[str, TaskEvent] = {}
    for ev in events:
        if isinstance(ev, OrderEvent):
            if ev.state == ops_mod.ORDER_ACCEPTED:
                accepted.setdefault(ev.order_id, ev)
            last_order[ev.order_id] = ev
        elif isinstance(ev, TaskEvent):
            last_task[ev.task.task_id] = ev
    out: list = list(accepted.values())
    out += [ev for oid, ev in last_order.items() if ev is not accepted.get(oid)]
    out += list(last_task.values())
    return out

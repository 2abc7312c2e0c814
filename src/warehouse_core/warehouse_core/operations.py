"""Goods-to-person operations: orders -> rack visits (tasks) -> robots, and their progress.

:class:`WarehouseOps` is the decision state of the task allocator, free of ROS:

* ``submit`` validates an order against the catalogue and stock and accepts or refuses it;
* ``assign`` turns pending order lines into rack visits (a rack is chosen so that one visit
  serves as many pending lines as possible: pile-on), sends each to the least busy pick
  station, picks a return location, and assigns the visits to idle robots with a minimum-cost
  assignment over travel distances (``scipy.optimize.linear_sum_assignment``);
* ``step_done`` / ``task_finished`` follow execution (rack lifted, lines picked, rack dropped);
* every change of an order or task is queued as an event for the node to publish.

Nothing accepted is ever dropped: an order is pending, in progress, or completed, and the
lines of a failed visit go back to the pending pool.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from warehouse_core.floor_sim import OP_DROP, OP_LIFT, OP_PICK
from warehouse_core.grid import Coord
from warehouse_core.inventory import Inventory
from warehouse_core.layout import Layout
from warehouse_core.orders import Order, order_problem
from warehouse_core.spacetime import DistanceCache

ORDER_ACCEPTED, ORDER_REJECTED, ORDER_IN_PROGRESS, ORDER_COMPLETED = range(4)
TASK_QUEUED, TASK_ASSIGNED, TASK_ACTIVE, TASK_DONE, TASK_FAILED, TASK_CANCELLED = range(6)
TYPE_PICK = 0


@dataclass(frozen=True)
class OpsConfig:
    """Operation times and limits (seconds)."""

    lift_time: float = 2.0
    drop_time: float = 2.0
    pick_base_time: float = 3.0
    pick_time_per_line: float = 4.0
    max_lines_per_visit: int = 10
    station_queue_limit: int = 4


@dataclass(frozen=True)
class Step:
    """Drive to ``cell`` and do ``op`` there for ``duration`` seconds."""

    cell: Coord
    op: int
    duration: float


@dataclass
class PickLine:
    """One order line waiting for, or served by, a rack visit."""

    order_id: str
    index: int
    sku: str
    quantity: int
    deadline: float
    created: float
    rack: str = ""


@dataclass
class Task:
    """A rack visit: fetch ``rack``, present it at ``station``, return it to ``return_location``."""

    task_id: str
    robot: str
    rack: str
    station: str
    lines: list[PickLine]
    steps: list[Step]
    origin: str
    return_location: str
    created: float
    deadline: float
    state: int = TASK_ASSIGNED
    step_index: int = -1

    @property
    def order_ids(self) -> list[str]:
        return list(dict.fromkeys(line.order_id for line in self.lines))


@dataclass
class OrderRecord:
    order: Order
    state: int = ORDER_ACCEPTED
    lines_picked: int = 0
    completed_at: float | None = None


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    consumer_id: str
    state: int
    lines_total: int
    lines_picked: int
    time: float
    reason: str = ""


@dataclass(frozen=True)
class TaskEvent:
    task: Task
    state: int
    step_index: int
    time: float
    message: str = ""


@dataclass
class RobotSlot:
    """What the allocator knows of a robot: where it is and whether it is busy."""

    cell: Coord
    task: str = ""
    available: bool = True


@dataclass
class WarehouseOps:
    """The allocator's decision state (see module docstring)."""

    layout: Layout
    inventory: Inventory
    config: OpsConfig = field(default_factory=OpsConfig)
    dist: DistanceCache | None = None
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    pending: list[PickLine] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    robots: dict[str, RobotSlot] = field(default_factory=dict)
    events: list[OrderEvent | TaskEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.dist is None:
            self.dist = DistanceCache(self.layout.grid, self.layout.storage_mask)
        self.rack_at: dict[str, str] = {s.id: s.rack for s in self.layout.storage if s.rack}
        self.location_of: dict[str, str] = {rack: loc for loc, rack in self.rack_at.items()}
        self.busy_racks: set[str] = set()
        self.reserved_locations: set[str] = set()
        self.station_load: dict[str, int] = {s.id: 0 for s in self.layout.stations}
        self._ids = itertools.count(1)
        self._order_ids = itertools.count(1)
        self._cell_index = {s.id: self.layout.grid.index(s.cell) for s in self.layout.storage}

    # -- orders ------------------------------------------------------------------------
    def submit(self, order: Order, now: float) -> tuple[bool, str, str]:
        """Accept or refuse ``order``; returns (accepted, order_id, reason)."""
        if not order.order_id:
            order = Order(f"A{next(self._order_ids):06d}", order.consumer_id, order.lines,
                          order.created, order.deadline, order.service)
        reason = ""
        if order.order_id in self.orders:
            reason = f"order_id {order.order_id!r} was already submitted"
        reason = reason or order_problem(order, self.inventory.skus)
        if not reason:
            for i, line in enumerate(order.lines):
                if self._unreserved_stock(line.sku) < line.quantity + self._pending_units(line.sku):
                    reason = (f"lines[{i}]: not enough stock of {line.sku} "
                              f"({self._unreserved_stock(line.sku)} units free)")
                    break
                if not self.inventory.racks_for(line.sku, line.quantity) and \
                        not self._pending_units(line.sku):
                    reason = f"lines[{i}]: no single rack holds {line.quantity} of {line.sku}"
                    break
        if reason:
            self.events.append(OrderEvent(order.order_id, order.consumer_id, ORDER_REJECTED,
                                          len(order.lines), 0, now, reason))
            return False, order.order_id, reason
        self.orders[order.order_id] = OrderRecord(order)
        for i, line in enumerate(order.lines):
            self.pending.append(PickLine(order.order_id, i, line.sku, line.quantity,
                                         order.deadline, order.created))
        self.events.append(OrderEvent(order.order_id, order.consumer_id, ORDER_ACCEPTED,
                                      len(order.lines), 0, now))
        return True, order.order_id, ""

    def _unreserved_stock(self, sku: str) -> int:
        return self.inventory.total_available(sku)

    def _pending_units(self, sku: str) -> int:
        return sum(p.quantity for p in self.pending if p.sku == sku)

    # -- robots ------------------------------------------------------------------------
    def update_robot(self, name: str, cell: Coord, available: bool = True) -> None:
        slot = self.robots.get(name)
        if slot is None:
            self.robots[name] = RobotSlot(cell, "", available)
        else:
            slot.cell = cell
            slot.available = available

    def idle_robots(self) -> list[str]:
        return [n for n, s in self.robots.items() if not s.task and s.available]

    # -- assignment --------------------------------------------------------------------
    def assign(self, now: float) -> list[Task]:
        """Create rack visits for idle robots and assign them; returns the new tasks."""
        idle = self.idle_robots()
        if not idle or not self.pending:
            return []
        drafts: list[tuple[str, list[PickLine]]] = []
        while len(drafts) < len(idle):
            choice = self._best_rack()
            if choice is None:
                break
            rack, lines = choice
            for line in lines:
                self.inventory.reserve(rack, line.sku, line.quantity)
                line.rack = rack
                self.pending.remove(line)
            self.busy_racks.add(rack)
            drafts.append((rack, lines))
        if not drafts:
            return []
        tasks = [self._make_task(rack, lines, now) for rack, lines in drafts]
        # a robot parked under a rack must take that rack's visit: nobody else can get there
        cost = np.empty((len(idle), len(tasks)))
        sitting = {self.layout.grid.index(self.robots[r].cell): i for i, r in enumerate(idle)}
        for i, robot in enumerate(idle):
            rc = self.layout.grid.index(self.robots[robot].cell)
            for j, task in enumerate(tasks):
                target = self._cell_index[task.origin]
                d = self.dist.distance(rc, target)
                cost[i, j] = 1e6 if d < 0 else d
                if sitting.get(target, i) != i:
                    cost[i, j] += 1e5
        rows, cols = linear_sum_assignment(cost)
        out = []
        for i, j in zip(rows, cols):
            task = tasks[j]
            task.robot = idle[i]
            self.robots[task.robot].task = task.task_id
            self.tasks[task.task_id] = task
            self.station_load[task.station] += 1
            self.reserved_locations.add(task.return_location)
            self._order_progress(task, now)
            self.events.append(TaskEvent(task, TASK_ASSIGNED, -1, now))
            out.append(task)
        return out

    def _best_rack(self) -> tuple[str, list[PickLine]] | None:
        """The free rack that serves the most pending lines (oldest deadline breaks ties)."""
        if not any(load < self.config.station_queue_limit for load in self.station_load.values()):
            return None
        by_rack: dict[str, list[PickLine]] = {}
        for line in sorted(self.pending, key=lambda p: (p.deadline, p.created)):
            for rack in self.inventory.racks_for(line.sku, line.quantity):
                if rack not in self.busy_racks and rack in self.location_of:
                    by_rack.setdefault(rack, []).append(line)
        best = None
        for rack, lines in by_rack.items():
            chosen, used = [], {}
            for line in lines:
                need = used.get(line.sku, 0) + line.quantity
                if need <= self.inventory.available(rack, line.sku):
                    chosen.append(line)
                    used[line.sku] = need
                if len(chosen) >= self.config.max_lines_per_visit:
                    break
            key = (len(chosen), -min(p.deadline for p in chosen)) if chosen else (0, 0.0)
            if chosen and (best is None or key > best[0]):
                best = (key, rack, chosen)
        return None if best is None else (best[1], best[2])

    def _make_task(self, rack: str, lines: list[PickLine], now: float) -> Task:
        cfg = self.config
        origin = self.location_of[rack]
        rack_cell = self.layout.storage_by_id[origin].cell
        rack_idx = self.layout.grid.index(rack_cell)
        open_stations = [s for s in self.layout.stations
                         if self.station_load[s.id] < cfg.station_queue_limit]
        station = min(open_stations, key=lambda s: (
            self.station_load[s.id],
            self.dist.distance(rack_idx, self.layout.grid.index(s.pick_cell), True)))
        ret = self._return_location(station.pick_cell, exclude=origin)
        pick_time = cfg.pick_base_time + cfg.pick_time_per_line * len(lines)
        steps = [Step(rack_cell, OP_LIFT, cfg.lift_time),
                 Step(station.pick_cell, OP_PICK, pick_time),
                 Step(self.layout.storage_by_id[ret].cell, OP_DROP, cfg.drop_time)]
        return Task(f"T{next(self._ids):06d}", "", rack, station.id, lines, steps, origin, ret,
                    now, min(p.deadline for p in lines))

    def _return_location(self, near: Coord, exclude: str) -> str:
        """Nearest free storage location to ``near`` for a loaded robot."""
        target = self.layout.grid.index(near)
        best, best_d = exclude, None
        for loc in self.layout.storage:
            if loc.id in self.rack_at or loc.id in self.reserved_locations or loc.id == exclude:
                continue
            d = self.dist.distance(self._cell_index[loc.id], target, True)
            if d >= 0 and (best_d is None or d < best_d):
                best, best_d = loc.id, d
        return best

    def _order_progress(self, task: Task, now: float) -> None:
        for oid in task.order_ids:
            rec = self.orders[oid]
            if rec.state == ORDER_ACCEPTED:
                rec.state = ORDER_IN_PROGRESS
                self.events.append(OrderEvent(oid, rec.order.consumer_id, ORDER_IN_PROGRESS,
                                              len(rec.order.lines), rec.lines_picked, now))

    # -- execution feedback -------------------------------------------------------------
    def step_done(self, task_id: str, step_index: int, now: float) -> None:
        """Steps ``< step_index`` of ``task_id`` are complete."""
        task = self.tasks.get(task_id)
        if task is None or step_index <= task.step_index + 1:
            return
        for k in range(task.step_index + 1, step_index):
            self._complete_step(task, task.steps[k], now)
        task.step_index = step_index - 1
        if task.state == TASK_ASSIGNED:
            task.state = TASK_ACTIVE
        self.events.append(TaskEvent(task, TASK_ACTIVE, step_index, now))

    def _complete_step(self, task: Task, step: Step, now: float) -> None:
        if step.op == OP_LIFT:
            self.rack_at.pop(task.origin, None)
            self.location_of.pop(task.rack, None)
        elif step.op == OP_PICK:
            for line in task.lines:
                self.inventory.pick(line.rack, line.sku, line.quantity)
                rec = self.orders[line.order_id]
                rec.lines_picked += 1
                if rec.lines_picked == len(rec.order.lines):
                    rec.state = ORDER_COMPLETED
                    rec.completed_at = now
                self.events.append(OrderEvent(line.order_id, rec.order.consumer_id, rec.state,
                                              len(rec.order.lines), rec.lines_picked, now))
            self.station_load[task.station] -= 1
        elif step.op == OP_DROP:
            self.rack_at[task.return_location] = task.rack
            self.location_of[task.rack] = task.return_location
            self.reserved_locations.discard(task.return_location)
            self.busy_racks.discard(task.rack)

    def task_finished(self, task_id: str, success: bool, now: float, message: str = "") -> None:
        task = self.tasks.get(task_id)
        if task is None or task.state in (TASK_DONE, TASK_FAILED):
            return
        if success:
            self.step_done(task_id, len(task.steps), now)
            task.state = TASK_DONE
        else:
            task.state = TASK_FAILED
            self._requeue(task)
        slot = self.robots.get(task.robot)
        if slot is not None and slot.task == task_id:
            slot.task = ""
        self.events.append(TaskEvent(task, task.state, task.step_index + 1, now, message))

    def _requeue(self, task: Task) -> None:
        """Give the unpicked lines of a failed visit back to the pending pool."""
        picked = any(s.op == OP_PICK for s in task.steps[:task.step_index + 1])
        if not picked:
            for line in task.lines:
                self.inventory.unreserve(line.rack, line.sku, line.quantity)
                line.rack = ""
                self.pending.append(line)
            self.station_load[task.station] -= 1
        if task.step_index < 0:  # rack never lifted: it stays where it was
            self.busy_racks.discard(task.rack)
            self.reserved_locations.discard(task.return_location)

    def drain_events(self) -> list[OrderEvent | TaskEvent]:
        out, self.events = self.events, []
        return out

"""Goods-to-person operations: orders -> rack visits (tasks) -> robots, and their progress.

:class:`WarehouseOps` is the decision state of the task allocator, free of ROS:

* ``submit`` validates an order against the catalogue and stock and accepts or refuses it;
* ``assign`` turns pending order lines into rack visits (a rack is chosen so that one visit
  serves as many pending lines as possible: pile-on), sends each to the least busy pick
  station, picks a return location, and assigns the visits to idle robots with a minimum-cost
  assignment over travel distances (``scipy.optimize.linear_sum_assignment``);
* robots idle for ``park_after`` seconds go to wait under a fast-moving rack (forecast class A),
  where the next visit to it will need them (:mod:`warehouse_core.ops.parking`);
* ``step_done`` / ``task_finished`` follow execution (rack lifted, lines picked, rack dropped);
* a rack a robot could not lift (``lift_failed``) is out of service for ``rack_retry_after``
  seconds: its visit's lines go back to the pending pool and are served from other racks
  holding the SKU, or wait for the rack to be tried again;
* every change of an order or task is queued as an event for the node to publish.

Nothing accepted is ever dropped: an order is pending, in progress, or completed, and the
lines of a failed visit go back to the pending pool.

Memory stays bounded over long runs: a completed order is *retired* (dropped from ``orders``)
once its parcel has shipped, a finished task once nothing needs it any more (a failed visit
whose rack is still out waits for :meth:`WarehouseOps.rack_recovered`); retirement happens at
the start of the next ``tick`` or ``assign``, so the events of the call that finished them
still see them. What stays of a retired order is its id and a digest of its content, to
recognise a repeated submission (the durable store keeps the full record); the cycle times the
consolidation estimate needs are the last 50 only.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Layout
from warehouse_core.ops.consolidation import Consolidator, Parcel
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.orders import Order, order_problem
from warehouse_core.ops.parking import choose_parking
from warehouse_core.ops.shipping import Manifest, ShippingDesk, TrackingEvent
from warehouse_core.ops.slotting import abc_classes, rack_turnover
from warehouse_core.tasks import OP_CHARGE, OP_DROP, OP_LIFT, OP_NONE, OP_PICK, TaskStep

ORDER_ACCEPTED, ORDER_REJECTED, ORDER_IN_PROGRESS, ORDER_COMPLETED = range(4)
TASK_QUEUED, TASK_ASSIGNED, TASK_ACTIVE, TASK_DONE, TASK_FAILED, TASK_CANCELLED = range(6)
TYPE_PICK = 0
TYPE_CHARGE = 1
TYPE_PARK = 2
_NEVER = 1e12  # assignment cost of a pair that must not happen
_RECENT_CYCLES = 50  # order cycle times the consolidation estimate averages
# Distance tables the allocator keeps (17 kB each on the large layout; a missing one is a BFS of a
# few ms): every storage location and station of the large layout, 2 classes, would be ~3,200.
_DISTANCE_TABLES = 1024


@dataclass(frozen=True)
class OpsConfig:
    """Operation times and limits (seconds)."""

    lift_time: float = 2.0
    drop_time: float = 2.0
    pick_base_time: float = 3.0
    pick_time_per_line: float = 4.0
    max_lines_per_visit: int = 10
    station_queue_limit: int = 3
    policy: str = "default"  # "default" or "baseline"
    pack_time: float = 60.0  # s, packing a parcel
    slack_weight: float = 0.2  # travel steps one second of deadline slack is worth
    seed: int = 0
    charge_below: float = 0.3  # state of charge that sends an idle robot to a charger
    charge_to: float = 0.9  # state of charge a charge ends at
    charge_rate: float = 0.002  # state of charge gained per second on a charger
    energy_per_step: float = 0.0003  # state of charge a move of one cell costs (with margin)
    returns: str = "class"  # rack returns: "class" (A/B/C turnover class near the station) or "random"
    dispatch_time: float = 0.0  # s from packed to handed to the carrier
    park_after: float = 0.0  # s idle before a robot parks under a class-A rack (0 = never; class returns only)
    rack_retry_after: float = 600.0  # s a rack that could not be lifted is left alone before it is tried again
    replenish_every: float = 0.0  # s between replenishment shifts that refill every rack (0 = never)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r} is unknown; use one of {sorted(POLICIES)}")
        if self.returns not in ("class", "random"):
            raise ValueError(f"returns {self.returns!r} is unknown; use class or random")
        if self.park_after < 0:
            raise ValueError(f"park_after {self.park_after} must be >= 0 (0 = robots never park)")
        if not self.rack_retry_after > 0:
            raise ValueError(f"rack_retry_after {self.rack_retry_after} must be > 0 (seconds before a rack "
                             "that could not be lifted is tried again)")
        if not self.replenish_every >= 0:
            raise ValueError(f"replenish_every {self.replenish_every} must be >= 0 (seconds between "
                             "replenishment shifts; 0 = never)")


POLICIES = {
    "default": "pile-on rack choice, min-cost assignment weighted by deadline slack, "
               "returns by turnover class, consumer consolidation",
    "baseline": "first-come-first-served lines, nearest idle robot, one line per rack visit, "
                "random return location, one parcel per order",
}


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
    steps: list[TaskStep]
    origin: str
    return_location: str
    created: float
    deadline: float
    state: int = TASK_ASSIGNED
    step_index: int = -1
    type: int = TYPE_PICK
    charger: str = ""
    length_steps: int = 0  # cells from the rack to the station and on to the return location

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


@dataclass(frozen=True)
class ParcelEvent:
    parcel: Parcel


@dataclass(frozen=True)
class ManifestEvent:
    manifest: Manifest


@dataclass
class RobotSlot:
    """What the allocator knows of a robot: where it is and whether it is busy."""

    cell: Coord
    task: str = ""
    available: bool = True
    battery: float = 1.0
    needs_charge: bool = False  # too low for any visit offered: charge at the next chance


@dataclass
class WarehouseOps:
    """The allocator's decision state (see module docstring)."""

    layout: Layout
    inventory: Inventory
    config: OpsConfig = field(default_factory=OpsConfig)
    dist: DistanceCache | None = None
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    pending: dict[tuple[str, int], PickLine] = field(default_factory=dict)  # in arrival order
    tasks: dict[str, Task] = field(default_factory=dict)
    robots: dict[str, RobotSlot] = field(default_factory=dict)
    events: list[OrderEvent | TaskEvent | ParcelEvent | ManifestEvent | TrackingEvent] = field(default_factory=list)
    placement: dict[str, str] | None = None  # location -> rack at start (default: the layout's)
    demand: dict[str, float] | None = None  # forecast units per SKU and period (slotting); None: popularity
    shipping: ShippingDesk | None = None  # packs each parcel and writes its manifest (None: no packing)
    forecast_pending: bool = False  # True: return racks at random until ``set_demand`` brings a forecast

    def __post_init__(self) -> None:
        if self.dist is None:
            self.dist = DistanceCache(self.layout.grid, self.layout.storage_mask, _DISTANCE_TABLES)
        self.rack_at: dict[str, str] = dict(self.placement) if self.placement is not None else \
            {s.id: s.rack for s in self.layout.storage if s.rack}
        self.location_of: dict[str, str] = {rack: loc for loc, rack in self.rack_at.items()}
        self.busy_racks: set[str] = set()
        self.reserved_locations: set[str] = set()
        self.station_load: dict[str, int] = {s.id: 0 for s in self.layout.stations}
        self._ids = itertools.count(1)
        self._order_ids = itertools.count(1)
        self._cell_index = {s.id: self.layout.grid.index(s.cell) for s in self.layout.storage}
        self.baseline = self.config.policy == "baseline"
        self.rng = random.Random(self.config.seed)
        self.consolidator = Consolidator(self.config.pack_time, enabled=not self.baseline)
        self._cycles: deque[float] = deque(maxlen=_RECENT_CYCLES)
        self._retired_orders: dict[str, int] = {}  # order id -> hash of its content (repeat detection)
        self._retiring_orders: list[str] = []  # shipped: retired at the next tick/assign
        self._retiring_tasks: list[str] = []  # finished: retired at the next tick/assign
        self._failed_holding: set[str] = set()  # failed visits whose rack is out until rack_recovered
        self.orders_retired = 0
        self.tasks_retired = 0
        self._pending_units_by_sku: dict[str, int] = {}
        self.charger_user: dict[str, str] = {}  # charger id -> robot charging or heading there
        self.charging_events = 0
        self.failed_robots: set[str] = set()  # out of service for the rest of the run
        self.out_of_service: dict[str, float] = {}  # rack that could not be lifted -> sim time it is tried again
        self.lift_failures = 0
        self._tracking_due: list[tuple[float, int, TrackingEvent]] = []
        self._ids_due = itertools.count()
        self._location_class = self._classify_locations()
        self._rack_class = self._classify_racks()
        self._idle_since: dict[str, float] = {}  # robot -> sim time it was last seen starting to idle
        self.park_tasks = 0
        self._full_stock = {rack: dict(items) for rack, items in self.inventory.stock.items()}
        self.replenished_at = 0.0  # sim time of the last replenishment shift (the start counts as one)
        self.replenishments = 0
        self.units_replenished = 0

    def set_demand(self, demand: dict[str, float]) -> None:
        """Class racks by this forecast demand (units per SKU and period) from now on."""
        self.demand = demand
        self.forecast_pending = False
        self._rack_class = self._classify_racks()

    # -- orders ------------------------------------------------------------------------
    def submit(self, order: Order, now: float) -> tuple[bool, str, str]:
        """Accept or refuse ``order``; returns (accepted, order_id, reason)."""
        if not order.order_id:
            order = Order(f"A{next(self._order_ids):06d}", order.consumer_id, order.lines,
                          order.created, order.deadline, order.service)
        reason = ""
        known = self.orders.get(order.order_id)
        same = known.order == order if known is not None else self._retired_same(order)
        if same:
            return True, order.order_id, ""  # a repeat (the answer was lost): acknowledged again, not added
        if same is False:
            reason = f"order_id {order.order_id!r} was already submitted with other content"
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
        self.adopt_order(order)
        self.events.append(OrderEvent(order.order_id, order.consumer_id, ORDER_ACCEPTED,
                                      len(order.lines), 0, now))
        return True, order.order_id, ""

    def adopt_order(self, order: Order) -> None:
        """Take ``order`` as accepted without checks (a new order that passed them, or one
        reloaded from the durable store): its lines join the pending pool."""
        self.orders[order.order_id] = OrderRecord(order)
        self.consolidator.accepted(order.order_id, order.consumer_id, order.created, order.deadline)
        for i, line in enumerate(order.lines):
            self._add_pending(PickLine(order.order_id, i, line.sku, line.quantity,
                                       order.deadline, order.created))

    def _retired_same(self, order: Order) -> bool | None:
        """Whether ``order`` is a retired order again (None: its id was never retired)."""
        digest = self._retired_orders.get(order.order_id)
        return None if digest is None else digest == hash(order)

    def _remember_retired(self, record: OrderRecord) -> None:
        """Keep what :meth:`_retired_same` needs of a retired order."""
        self._retired_orders[record.order.order_id] = hash(record.order)

    def retire_finished(self) -> None:
        """Drop shipped orders and finished tasks from memory (see module docstring)."""
        for oid in self._retiring_orders:
            rec = self.orders.get(oid)
            if rec is not None and rec.state == ORDER_COMPLETED and oid not in self.consolidator.orders:
                del self.orders[oid]
                self._remember_retired(rec)
                self.orders_retired += 1
        self._retiring_orders.clear()
        for tid in self._retiring_tasks:
            task = self.tasks.get(tid)
            if task is not None and self._task_retirable(task):
                del self.tasks[tid]
                self.tasks_retired += 1
        self._retiring_tasks.clear()

    def _task_retirable(self, task: Task) -> bool:
        """Done, or failed without holding its rack (:meth:`rack_recovered` looks for that visit)."""
        return task.state == TASK_DONE or (task.state == TASK_FAILED and task.task_id not in self._failed_holding)

    def retire_all_finished(self) -> None:
        """Queue every order and task that may be retired, and retire them (after a replay)."""
        self._retiring_orders = [oid for oid, rec in self.orders.items() if rec.state == ORDER_COMPLETED]
        self._retiring_tasks = [tid for tid, t in self.tasks.items() if t.state in (TASK_DONE, TASK_FAILED)]
        self.retire_finished()

    def _unreserved_stock(self, sku: str) -> int:
        return self.inventory.total_available(sku)

    def _pending_units(self, sku: str) -> int:
        return self._pending_units_by_sku.get(sku, 0)

    def _add_pending(self, line: PickLine) -> None:
        self.pending[(line.order_id, line.index)] = line
        self._pending_units_by_sku[line.sku] = self._pending_units_by_sku.get(line.sku, 0) + line.quantity

    def _take_pending(self, line: PickLine) -> None:
        del self.pending[(line.order_id, line.index)]
        self._pending_units_by_sku[line.sku] -= line.quantity

    # -- robots ------------------------------------------------------------------------
    def update_robot(self, name: str, cell: Coord, available: bool = True, battery: float = 1.0) -> None:
        available = available and name not in self.failed_robots
        slot = self.robots.get(name)
        if slot is None:
            self.robots[name] = RobotSlot(cell, "", available, battery)
        else:
            slot.cell = cell
            slot.available = available
            slot.battery = battery

    def idle_robots(self) -> list[str]:
        # cell (-1, -1): known from a reloaded task only, no state heard yet
        return [n for n, s in self.robots.items() if not s.task and s.available and s.cell[0] >= 0]

    def adopt_task(self, task: Task) -> None:
        """Take ``task`` as assigned (reloaded from the durable store): reserve what
        :meth:`assign` reserved for it when it was created (stock, rack, station slot, return
        location or charger) and bind it to its robot."""
        if task.type == TYPE_PICK:
            lines = []
            for line in task.lines:
                mine = self.pending.get((line.order_id, line.index))
                if mine is None:
                    raise ValueError(f"task {task.task_id}: line {line.order_id}[{line.index}] is not pending")
                self.inventory.reserve(task.rack, mine.sku, mine.quantity)
                mine.rack = task.rack
                self._take_pending(mine)
                lines.append(mine)
            task.lines = lines
            self.busy_racks.add(task.rack)
            self.station_load[task.station] += 1
            self.reserved_locations.add(task.return_location)
        elif task.charger:
            self.charger_user[task.charger] = task.robot
        slot = self.robots.setdefault(task.robot, RobotSlot((-1, -1)))
        slot.task = task.task_id
        self.tasks[task.task_id] = task
        self._order_progress(task, task.created)

    # -- assignment --------------------------------------------------------------------
    def assign(self, now: float) -> list[Task]:
        """Create rack visits for idle robots and assign them; returns the new tasks.

        The default policy drafts up to twice as many visits as there are idle robots and lets
        the assignment choose (travel plus deadline slack); drafts left over are undone.
        """
        self.retire_finished()
        self._back_in_service(now)
        out = self._send_to_chargers(now)
        out += self._assign_visits(now)
        return out + self._park_idle(now)

    def _assign_visits(self, now: float) -> list[Task]:
        """Rack visits for idle robots (see :meth:`assign`)."""
        out: list[Task] = []
        idle = [r for r in self.idle_robots() if self.robots[r].battery >= self.config.charge_below]
        if not idle or not self.pending:
            return out
        want = len(idle) if self.baseline else 2 * len(idle)
        drafts: list[Task] = []
        choices = self._fcfs_racks() if self.baseline else self._pile_on_racks()
        for rack, lines in choices:
            drafts.append(self._draft(rack, lines, now))
            if len(drafts) >= want:
                break
        if not drafts:
            return out
        pairs = self._match_nearest(idle, drafts) if self.baseline else \
            self._match_min_cost(idle, drafts, now)
        chosen = {id(t) for _, t in pairs}
        for task in drafts:
            if id(task) not in chosen:
                self._undraft(task)
        for robot, task in pairs:
            task.robot = robot
            self.robots[robot].task = task.task_id
            self.tasks[task.task_id] = task
            self._order_progress(task, now)
            self.events.append(TaskEvent(task, TASK_ASSIGNED, -1, now))
            out.append(task)
        return out

    def _park_idle(self, now: float) -> list[Task]:
        """Robots idle for ``park_after`` seconds go to wait under a class-A rack at rest (a robot
        under a rack takes its next visit; :mod:`warehouse_core.ops.parking`). Class returns only: with
        random returns, or before the forecast is there, robots stay where they are."""
        cfg = self.config
        idle = set(self.idle_robots())
        for robot in list(self._idle_since):
            if robot not in idle:
                del self._idle_since[robot]
        for robot in idle:
            self._idle_since.setdefault(robot, now)
        if cfg.park_after <= 0 or self.baseline or cfg.returns != "class" or self.forecast_pending:
            return []
        ready = {r: self.layout.grid.index(self.robots[r].cell) for r in sorted(idle)
                 if now - self._idle_since[r] >= cfg.park_after and self.robots[r].battery >= cfg.charge_below}
        if not ready:
            return []
        taken = {self.layout.grid.index(s.cell) for s in self.robots.values()}
        taken |= {self.layout.grid.index(t.steps[0].cell) for t in self.tasks.values()
                  if t.type == TYPE_PARK and t.state in (TASK_ASSIGNED, TASK_ACTIVE)}
        spots = [self._cell_index[loc] for loc, rack in self.rack_at.items()
                 if self._rack_class.get(rack, 2) == 0 and rack not in self.busy_racks]
        spots = [c for c in spots if c not in taken or c in ready.values()]
        out = []
        for robot, cell in sorted(choose_parking(ready, spots, self.dist.distance).items()):
            step = TaskStep(self.layout.grid.coord(cell), OP_NONE, 0.0)
            task = Task(f"T{next(self._ids):06d}", robot, "", "", [], [step], "", "", now, now + 3600.0, type=TYPE_PARK)
            self.robots[robot].task = task.task_id
            self.tasks[task.task_id] = task
            self._idle_since.pop(robot, None)
            self.park_tasks += 1
            self.events.append(TaskEvent(task, TASK_ASSIGNED, -1, now))
            out.append(task)
        return out

    def _send_to_chargers(self, now: float) -> list[Task]:
        """Idle robots below ``charge_below`` go to the nearest free charger (one robot each)."""
        cfg = self.config
        out = []
        low = sorted((self.robots[r].battery, r) for r in self.idle_robots()
                     if self.robots[r].battery < cfg.charge_below or self.robots[r].needs_charge)
        for battery, robot in low:
            free = [c for c in self.layout.chargers if c.id not in self.charger_user]
            if not free:
                break
            here = self.layout.grid.index(self.robots[robot].cell)

            def travel(c, here=here) -> int:
                d = self.dist.distance(here, self.layout.grid.index(c.cell))
                return d if d >= 0 else 1 << 30

            charger = min(free, key=travel)
            duration = max(1.0, (cfg.charge_to - battery) / cfg.charge_rate)
            task = Task(f"T{next(self._ids):06d}", robot, "", "", [], [TaskStep(charger.cell, OP_CHARGE, duration)],
                        "", "", now, now + 3600.0, type=TYPE_CHARGE, charger=charger.id)
            self.charger_user[charger.id] = robot
            self.robots[robot].task = task.task_id
            self.robots[robot].needs_charge = False
            self.tasks[task.task_id] = task
            self.events.append(TaskEvent(task, TASK_ASSIGNED, -1, now))
            out.append(task)
        return out

    def _draft(self, rack: str, lines: list[PickLine], now: float) -> Task:
        """Reserve stock, the rack, a station slot and a return location for a visit."""
        for line in lines:
            self.inventory.reserve(rack, line.sku, line.quantity)
            line.rack = rack
            self._take_pending(line)
        self.busy_racks.add(rack)
        task = self._make_task(rack, lines, now)
        self.station_load[task.station] += 1
        self.reserved_locations.add(task.return_location)
        return task

    def _undraft(self, task: Task) -> None:
        for line in task.lines:
            self.inventory.unreserve(line.rack, line.sku, line.quantity)
            line.rack = ""
            self._add_pending(line)
        self.busy_racks.discard(task.rack)
        self.station_load[task.station] -= 1
        self.reserved_locations.discard(task.return_location)

    def _travel(self, robot: str, task: Task) -> float:
        d = self.dist.distance(self.layout.grid.index(self.robots[robot].cell),
                               self._cell_index[task.origin])
        return 1e6 if d < 0 else float(d)

    def _affordable(self, robot: str, travel: float, task: Task) -> bool:
        """The robot can drive to the rack and finish the visit with a reserve to reach a charger."""
        cfg = self.config
        need = (travel + task.length_steps) * cfg.energy_per_step
        return self.robots[robot].battery - need >= 0.5 * cfg.charge_below

    def _match_min_cost(self, idle: list[str], tasks: list[Task], now: float) -> list[tuple[str, Task]]:
        """Minimum total of travel steps plus weighted deadline slack (Hungarian method)."""
        cells = np.array([self.layout.grid.index(self.robots[r].cell) for r in idle])
        battery = np.array([self.robots[r].battery for r in idle])
        cfg = self.config
        cost = np.empty((len(idle), len(tasks)))
        for j, task in enumerate(tasks):
            target = self._cell_index[task.origin]
            d = self.dist.table(target, False)[cells].astype(float)
            d[d < 0] = 1e6
            cost[:, j] = d + (task.deadline - now) * cfg.slack_weight
            # a robot parked under a rack must take that rack's visit: nobody else can get there
            sitting = cells == target
            if sitting.any():
                cost[~sitting, j] += 1e7
            cost[battery - (d + task.length_steps) * cfg.energy_per_step < 0.5 * cfg.charge_below, j] = _NEVER
        rows, cols = linear_sum_assignment(cost)
        pairs = [(idle[i], tasks[j]) for i, j in zip(rows, cols) if cost[i, j] < _NEVER]
        assigned = {r for r, _ in pairs}
        for i, robot in enumerate(idle):
            if robot not in assigned and (cost[i] >= _NEVER).all():
                self.robots[robot].needs_charge = True
        return pairs

    def _match_nearest(self, idle: list[str], tasks: list[Task]) -> list[tuple[str, Task]]:
        """Baseline: each visit, oldest first, to the nearest robot still idle (and charged enough)."""
        free = list(idle)
        pairs = []
        for task in tasks:
            able = [r for r in free if self._affordable(r, self._travel(r, task), task)]
            if not able:
                continue
            sitting = [r for r in able if self.robots[r].cell == self.layout.storage_by_id[task.origin].cell]
            robot = sitting[0] if sitting else min(able, key=lambda r: self._travel(r, task))
            free.remove(robot)
            pairs.append((robot, task))
        for robot in free:
            if tasks and not any(self._affordable(robot, self._travel(robot, t), t) for t in tasks):
                self.robots[robot].needs_charge = True
        return pairs

    def _stations_open(self) -> bool:
        return any(load < self.config.station_queue_limit for load in self.station_load.values())

    def _fcfs_racks(self) -> Iterator[tuple[str, list[PickLine]]]:
        """Baseline: the oldest pending line alone, from a random rack that holds it."""
        for line in sorted(self.pending.values(), key=lambda p: p.created):
            if not self._stations_open():
                return
            racks = [r for r in self.inventory.racks_for(line.sku, line.quantity)
                     if self._rack_free(r)]
            if racks:
                yield self.rng.choice(sorted(racks)), [line]

    def _pile_on_racks(self) -> Iterator[tuple[str, list[PickLine]]]:
        """Racks in order of how many pending lines one visit serves (lazy greedy).

        Lines are considered most urgent first; a rack's count is recomputed when it comes
        up, since lines taken by an earlier visit no longer count for it.
        """
        by_rack: dict[str, list[PickLine]] = {}
        for line in sorted(self.pending.values(), key=lambda p: (p.deadline, p.created)):
            for rack in self.inventory.racks_for(line.sku, line.quantity):
                if self._rack_free(rack):
                    by_rack.setdefault(rack, []).append(line)
        taken: set[tuple[str, int]] = set()
        heap = [(-len(lines), lines[0].deadline, rack) for rack, lines in by_rack.items()]
        heapq.heapify(heap)
        while heap and self._stations_open():
            neg, _, rack = heapq.heappop(heap)
            chosen = self._servable(rack, [p for p in by_rack[rack] if (p.order_id, p.index) not in taken])
            if not chosen:
                continue
            if len(chosen) < -neg:  # stale count: put it back where it belongs now
                heapq.heappush(heap, (-len(chosen), chosen[0].deadline, rack))
                continue
            taken.update((p.order_id, p.index) for p in chosen)
            yield rack, chosen

    def _rack_free(self, rack: str) -> bool:
        """In its storage location, on no visit, and not out of service."""
        return rack not in self.busy_racks and rack in self.location_of and rack not in self.out_of_service

    def _servable(self, rack: str, lines: list[PickLine]) -> list[PickLine]:
        """The lines (in the given order) one visit of ``rack`` can serve from its stock."""
        chosen, used = [], {}
        for line in lines:
            need = used.get(line.sku, 0) + line.quantity
            if need <= self.inventory.available(rack, line.sku):
                chosen.append(line)
                used[line.sku] = need
                if len(chosen) >= self.config.max_lines_per_visit:
                    break
        return chosen

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
        ret = self._return_location(rack, station.pick_cell, exclude=origin)
        pick_time = cfg.pick_base_time + cfg.pick_time_per_line * len(lines)
        steps = [TaskStep(rack_cell, OP_LIFT, cfg.lift_time),
                 TaskStep(station.pick_cell, OP_PICK, pick_time),
                 TaskStep(self.layout.storage_by_id[ret].cell, OP_DROP, cfg.drop_time)]
        ret_idx = self._cell_index[ret]
        station_idx = self.layout.grid.index(station.pick_cell)
        length = max(0, self.dist.distance(rack_idx, station_idx, True)) + \
            max(0, self.dist.distance(station_idx, ret_idx, True))
        return Task(f"T{next(self._ids):06d}", "", rack, station.id, lines, steps, origin, ret,
                    now, min(p.deadline for p in lines), length_steps=length)

    def _free_locations(self, exclude: str) -> list[str]:
        return [loc.id for loc in self.layout.storage if loc.id not in self.rack_at
                and loc.id not in self.reserved_locations and loc.id != exclude]

    def _return_location(self, rack: str, near: Coord, exclude: str) -> str:
        """Where the rack goes after the pick.

        Baseline (or ``returns: random``, or class returns while the forecast is pending): a random
        free location. Default: the free location nearest to the station within the rack's turnover
        class (A: fast movers, closest to the stations), falling back to the nearest free location
        of any class.
        """
        free = self._free_locations(exclude)
        if not free:
            return exclude
        if self.baseline or self.config.returns == "random" or self.forecast_pending:
            return self.rng.choice(free)
        target = self.layout.grid.index(near)
        want = self._rack_class.get(rack, 2)

        def key(loc: str) -> tuple[int, int]:
            d = self.dist.distance(self._cell_index[loc], target, True)
            return (self._location_class[loc] != want, d if d >= 0 else 1 << 30)

        return min(free, key=key)

    def _classify_locations(self) -> dict[str, int]:
        """A/B/C (0/1/2) by loaded distance to the nearest station: nearest 20 %, next 30 %, rest."""
        near = {}
        for loc in self.layout.storage:
            ds = [self.dist.distance(self._cell_index[loc.id], self.layout.grid.index(s.pick_cell), True)
                  for s in self.layout.stations]
            near[loc.id] = min((d for d in ds if d >= 0), default=1 << 30)
        return abc_classes(near)

    def _classify_racks(self) -> dict[str, int]:
        """A/B/C by turnover: the forecast demand of the SKUs a rack holds (``demand``), or their
        catalogue popularity when no forecast is given."""
        turnover = rack_turnover(self.inventory.stock, self.demand or self.inventory.popularity)
        return abc_classes({r: -v for r, v in turnover.items()})

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
        if task is None or step_index <= task.step_index + 1 or task.state in (TASK_DONE, TASK_FAILED):
            return
        for k in range(task.step_index + 1, step_index):
            self._complete_step(task, task.steps[k], now)
        task.step_index = step_index - 1
        if task.state == TASK_ASSIGNED:
            task.state = TASK_ACTIVE
        self.events.append(TaskEvent(task, TASK_ACTIVE, step_index, now))

    def _complete_step(self, task: Task, step: TaskStep, now: float) -> None:
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
                    self._cycles.append(now - rec.order.created)
                self.events.append(OrderEvent(line.order_id, rec.order.consumer_id, rec.state,
                                              len(rec.order.lines), rec.lines_picked, now))
                if rec.state == ORDER_COMPLETED:
                    self._ship(self.consolidator.completed(line.order_id, now))
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
            if task.type == TYPE_CHARGE:
                self.charging_events += 1
        else:
            task.state = TASK_FAILED
            if task.type == TYPE_PICK:
                self._requeue(task)
                if task.rack in self.busy_racks:
                    self._failed_holding.add(task_id)
        if task.charger:
            self.charger_user.pop(task.charger, None)
        slot = self.robots.get(task.robot)
        if slot is not None and slot.task == task_id:
            slot.task = ""
        self._retiring_tasks.append(task_id)
        self.events.append(TaskEvent(task, task.state, task.step_index + 1, now, message))

    def _requeue(self, task: Task) -> None:
        """Give the unpicked lines of a failed visit back to the pending pool."""
        picked = any(s.op == OP_PICK for s in task.steps[:task.step_index + 1])
        if not picked:
            for line in task.lines:
                self.inventory.unreserve(line.rack, line.sku, line.quantity)
                line.rack = ""
                self._add_pending(line)
            self.station_load[task.station] -= 1
        if task.step_index < 0:  # rack never lifted: it stays where it was
            self.busy_racks.discard(task.rack)
            self.reserved_locations.discard(task.return_location)

    def lift_failed(self, task_id: str, now: float, message: str = "") -> None:
        """The robot of ``task_id`` could not lift its rack (jammed, damaged, misplaced): the
        visit fails, its lines go back to the pending pool, and the rack, still standing in its
        location, is out of service for ``rack_retry_after`` seconds (other racks serve its SKUs
        meanwhile; lines only it can serve wait)."""
        task = self.tasks.get(task_id)
        if task is None or task.state in (TASK_DONE, TASK_FAILED) or task.type != TYPE_PICK:
            return
        self.lift_failures += 1
        self.out_of_service[task.rack] = now + self.config.rack_retry_after
        self.task_finished(task_id, False, now, message or f"rack {task.rack} could not be lifted")

    def _back_in_service(self, now: float) -> None:
        for rack in [r for r, t in self.out_of_service.items() if t <= now]:
            del self.out_of_service[rack]

    def robot_failed(self, robot: str, now: float, reason: str = "robot failed") -> bool:
        """``robot`` is out of service (a fault, or no state for too long): it gets no more
        tasks and its task in progress fails (unpicked lines go back to the pending pool; a
        rack it carried stays busy until :meth:`rack_recovered`). False if already known."""
        slot = self.robots.get(robot)
        if slot is None:
            slot = self.robots[robot] = RobotSlot((-1, -1), "", False)
        first = robot not in self.failed_robots
        self.failed_robots.add(robot)
        slot.available = False
        if slot.task:
            self.task_finished(slot.task, False, now, reason)
        return first

    def rack_recovered(self, rack: str, location: str, now: float) -> None:
        """A rack a failed robot carried was put down at storage ``location`` by hand."""
        stale = self.location_of.get(rack)  # the lift was done but not yet reported
        if stale is not None and self.rack_at.get(stale) == rack:
            del self.rack_at[stale]
        self.rack_at[location] = rack
        self.location_of[rack] = location
        self.busy_racks.discard(rack)
        failed = [t for t in self.tasks.values() if t.rack == rack and t.state == TASK_FAILED]
        if failed:  # the visit it was on: its return location is not needed any more
            self.reserved_locations.discard(failed[-1].return_location)
        for t in failed:
            self._failed_holding.discard(t.task_id)
            self._retiring_tasks.append(t.task_id)

    def _ship(self, parcels: list[Parcel]) -> None:
        self.events.extend(ParcelEvent(p) for p in parcels)
        for parcel in parcels:
            self._retiring_orders += parcel.order_ids
        if self.shipping is None:
            return
        for parcel in parcels:
            orders = [self.orders[oid].order for oid in parcel.order_ids]
            picked_at = parcel.shipped_at - self.config.pack_time
            for manifest in self.shipping.manifests(parcel, orders):
                self.events.append(ManifestEvent(manifest))
                self.events.append(TrackingEvent(manifest.tracking_id, manifest.parcel_id, "picked", picked_at))
                heapq.heappush(self._tracking_due, (parcel.shipped_at, next(self._ids_due), TrackingEvent(
                    manifest.tracking_id, manifest.parcel_id, "packed", parcel.shipped_at)))
                t = parcel.shipped_at + self.config.dispatch_time
                heapq.heappush(self._tracking_due, (t, next(self._ids_due), TrackingEvent(
                    manifest.tracking_id, manifest.parcel_id, "dispatched", t)))

    def replenish_due(self, now: float) -> bool:
        every = self.config.replenish_every
        return every > 0 and now >= self.replenished_at + every

    def replenish(self, now: float) -> int:
        """A replenishment shift: every rack is filled back up to its starting stock (its
        capacity per SKU). Without it a long run sells out its popular SKUs and refuses their
        orders. Returns the units added."""
        added = self.inventory.restock(self._full_stock)
        self.replenished_at = now
        self.replenishments += 1
        self.units_replenished += added
        return added

    def tick(self, now: float) -> None:
        """Time-driven decisions: refill the racks when a replenishment shift is due, ship held
        parcels whose deadlines no longer allow waiting, and announce packed and dispatched
        parcels when their time has come."""
        if self.replenish_due(now):
            self.replenish(now)
        self.retire_finished()
        self._back_in_service(now)
        while self._tracking_due and self._tracking_due[0][0] <= now:
            self.events.append(heapq.heappop(self._tracking_due)[2])
        if self._cycles:
            self.consolidator.expected_cycle_s = 1.5 * sum(self._cycles) / len(self._cycles)
        self._ship(self.consolidator.tick(now))

    def drain_events(self) -> list[OrderEvent | TaskEvent | ParcelEvent | ManifestEvent | TrackingEvent]:
        out, self.events = self.events, []
        return out

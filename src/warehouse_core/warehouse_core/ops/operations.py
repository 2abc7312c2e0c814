"""Goods-to-person operations: orders -> rack visits (tasks) -> robots, and their progress.

:class:`WarehouseOps` is the decision state of the task allocator, free of ROS: a facade over
the parts that hold it, each in its own module:

* :mod:`~warehouse_core.ops.order_book`: order intake (``submit`` validates an order against the
  catalogue and stock), the pending pool of order lines, the records of accepted orders;
* :mod:`~warehouse_core.ops.rack_ledger`: rack positions, reservations, stations' queues, racks
  out of service, A/B/C classes and return locations; :mod:`~warehouse_core.ops.replenishment`:
  the shifts that refill the racks;
* :mod:`~warehouse_core.ops.assignment`: the policies that turn pending lines into rack visits and
  give them to idle robots (``default``: pile-on and a minimum-cost assignment; ``baseline``);
* :mod:`~warehouse_core.ops.errands`: charging and parking of idle robots;
* :mod:`~warehouse_core.ops.task_board`: the robots and the tasks given to them;
* :mod:`~warehouse_core.ops.execution`: step and task feedback, failed lifts, failed robots,
  recovered racks;
* :mod:`~warehouse_core.ops.dispatch`: consolidation, packing and tracking of completed orders.

Every change of an order or task is queued as an event (:mod:`~warehouse_core.ops.model`) for the
node to publish (:meth:`WarehouseOps.drain_events`). Memory stays bounded over long runs: shipped
orders and finished tasks are retired at the start of the next ``tick`` or ``assign``, so the
events of the call that finished them still see them.
"""

from __future__ import annotations

import random

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Layout
from warehouse_core.ops.assignment import POLICY_CLASSES
from warehouse_core.ops.config import POLICIES, OpsConfig
from warehouse_core.ops.dispatch import Dispatch
from warehouse_core.ops.errands import Charging, Parking
from warehouse_core.ops.execution import ExecutionFeedback
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import (
    ORDER_ACCEPTED,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_IN_PROGRESS,
    ORDER_REJECTED,
    TASK_ACTIVE,
    TASK_ASSIGNED,
    TASK_CANCELLED,
    TASK_DONE,
    TASK_FAILED,
    TASK_QUEUED,
    TYPE_CHARGE,
    TYPE_PARK,
    TYPE_PICK,
    ManifestEvent,
    OpsEvent,
    OrderEvent,
    OrderRecord,
    ParcelEvent,
    PickLine,
    RobotSlot,
    Task,
    TaskEvent,
)
from warehouse_core.ops.order_book import OrderBook
from warehouse_core.ops.orders import Order
from warehouse_core.ops.rack_ledger import RackLedger
from warehouse_core.ops.replenishment import Restocking
from warehouse_core.ops.shipping import ShippingDesk
from warehouse_core.ops.task_board import TaskBoard

# The allocator's vocabulary, importable from the facade's module as the nodes and analysis do.
__all__ = [
    "ORDER_ACCEPTED", "ORDER_CANCELLED", "ORDER_COMPLETED", "ORDER_IN_PROGRESS", "ORDER_REJECTED", "POLICIES",
    "TASK_ACTIVE", "TASK_ASSIGNED", "TASK_CANCELLED", "TASK_DONE", "TASK_FAILED", "TASK_QUEUED",
    "TYPE_CHARGE", "TYPE_PARK", "TYPE_PICK", "ManifestEvent", "OpsConfig", "OpsEvent", "OrderEvent",
    "OrderRecord", "ParcelEvent", "PickLine", "RobotSlot", "Task", "TaskEvent", "WarehouseOps",
]

# Distance tables the allocator keeps (17 kB each on the large layout; a missing one is a BFS of a
# few ms): every storage location and station of the large layout, 2 classes, would be ~3,200.
DISTANCE_TABLES = 1024


class WarehouseOps:
    """The allocator's decision state (see module docstring).

    ``placement``: location -> rack at start (default: the layout's); ``demand``: forecast units per
    SKU and period that class the racks (None: catalogue popularity); ``shipping``: packs each
    parcel and writes its manifests (None: no packing); ``forecast_pending``: return racks at
    random until :meth:`set_demand` brings a forecast.
    """

    def __init__(self, layout: Layout, inventory: Inventory, config: OpsConfig | None = None, *,
                 dist: DistanceCache | None = None, placement: dict[str, str] | None = None,
                 demand: dict[str, float] | None = None, shipping: ShippingDesk | None = None,
                 forecast_pending: bool = False) -> None:
        self.layout = layout
        self.inventory = inventory
        self.config = config = config if config is not None else OpsConfig()
        self.dist = dist if dist is not None else DistanceCache(layout.grid, layout.storage_mask, DISTANCE_TABLES)
        self.events: list[OpsEvent] = []
        rng = random.Random(config.seed)  # one seeded sequence for the random rack and return choices
        self.book = OrderBook(inventory, self._emit, on_accept=self._accepted)
        self.dispatch = Dispatch(config, self.book, shipping, self._emit)
        self.racks = RackLedger(layout, inventory, self.dist, config, rng, placement, demand, forecast_pending)
        self.restocking = Restocking(inventory, config.replenish_every)
        self.board = TaskBoard(self._emit)
        self.charging = Charging(layout, self.dist, config, self.board)
        self.parking = Parking(layout, self.dist, config, self.racks, self.board)
        self.policy = POLICY_CLASSES[config.policy](layout, inventory, self.dist, config, self.book, self.racks,
                                                    self.board, rng)
        self.execution = ExecutionFeedback(inventory, self.book, self.racks, self.board, self.charging,
                                           self.dispatch, self._emit)

    def _emit(self, event: OpsEvent) -> None:
        self.events.append(event)

    def _accepted(self, order: Order) -> None:
        self.dispatch.accepted(order)

    # -- what the node reads -------------------------------------------------------------
    @property
    def orders(self) -> dict[str, OrderRecord]:
        return self.book.orders

    @property
    def pending(self) -> dict[tuple[str, int], PickLine]:
        return self.book.pending

    @property
    def tasks(self) -> dict[str, Task]:
        return self.board.tasks

    @property
    def robots(self) -> dict[str, RobotSlot]:
        return self.board.robots

    @property
    def failed_robots(self) -> set[str]:
        return self.board.failed_robots

    @property
    def replenishments(self) -> int:
        return self.restocking.replenishments

    @property
    def units_replenished(self) -> int:
        return self.restocking.units_replenished

    # -- orders and robots ---------------------------------------------------------------
    def set_demand(self, demand: dict[str, float]) -> None:
        """Class racks by this forecast demand (units per SKU and period) from now on."""
        self.racks.set_demand(demand)

    def submit(self, order: Order, now: float) -> tuple[bool, str, str]:
        """Accept or refuse ``order``; returns (accepted, order_id, reason)."""
        return self.book.submit(order, now)

    def refuse(self, order: Order, reason: str, now: float) -> tuple[bool, str, str]:
        """Refuse ``order`` found bad before :meth:`submit` could read it (a message that does not
        convert), with its ``ORDER_REJECTED`` event like every refusal."""
        return self.book.refuse(order, reason, now)

    def cancel_order(self, order_id: str, now: float) -> str:
        """Cancel an open order (an operator's request); returns why not, or "" when it was
        (:meth:`OrderBook.cancel`: nothing picked twice, no line left behind)."""
        reason = self.book.cancel(order_id, now)
        if not reason:
            self.dispatch.cancelled(order_id, now)
        return reason

    def set_deadline(self, order_id: str, deadline: float, now: float) -> str:
        """Move an open order's dispatch deadline (sim time); returns why not, or "" when it moved."""
        reason = self.book.set_deadline(order_id, deadline, now)
        if not reason:
            self.dispatch.consolidator.set_deadline(order_id, deadline)
        return reason

    def adopt_order(self, order: Order) -> None:
        """Take ``order`` as accepted without checks (reloaded from the durable store)."""
        self.book.adopt(order)

    def adopt_task(self, task: Task) -> None:
        """Take ``task`` as assigned (reloaded from the durable store), with its reservations."""
        self.execution.adopt_task(task)

    def update_robot(self, name: str, cell: Coord, available: bool = True, battery: float = 1.0) -> None:
        self.board.update_robot(name, cell, available, battery)

    def idle_robots(self) -> list[str]:
        return self.board.idle_robots()

    # -- decisions -----------------------------------------------------------------------
    def assign(self, now: float) -> list[Task]:
        """Charges for low robots, rack visits for idle ones, parks for those idle long enough;
        returns the new tasks."""
        self.retire_finished()
        self.racks.back_in_service(now)
        out = self.charging.send(now)
        out += self.policy.assign(now)
        return out + self.parking.park(now)

    def tick(self, now: float) -> None:
        """Time-driven decisions: refill the racks when a replenishment shift is due, retire what
        is finished, ship held parcels whose deadlines no longer allow waiting, and announce
        packed and dispatched parcels when their time has come."""
        if self.replenish_due(now):
            self.replenish(now)
        self.retire_finished()
        self.racks.back_in_service(now)
        self.dispatch.tick(now)

    def replenish_due(self, now: float) -> bool:
        return self.restocking.due(now)

    def replenish(self, now: float) -> int:
        """A replenishment shift: every rack filled back up to its starting stock; returns the units added."""
        return self.restocking.replenish(now)

    # -- execution feedback --------------------------------------------------------------
    def step_done(self, task_id: str, step_index: int, now: float) -> None:
        """Steps ``< step_index`` of ``task_id`` are complete."""
        self.execution.step_done(task_id, step_index, now)

    def task_finished(self, task_id: str, success: bool, now: float, message: str = "") -> None:
        self.execution.task_finished(task_id, success, now, message)

    def lift_failed(self, task_id: str, now: float, message: str = "") -> None:
        """The robot of ``task_id`` could not lift its rack: the visit fails, the rack is out of
        service for ``rack_retry_after`` seconds."""
        self.execution.lift_failed(task_id, now, message)

    def robot_failed(self, robot: str, now: float, reason: str = "robot failed") -> bool:
        """``robot`` is out of service; its task in progress fails. False if already known."""
        return self.execution.robot_failed(robot, now, reason)

    def rack_recovered(self, rack: str, location: str, now: float) -> None:
        """A rack a failed robot carried was put down at storage ``location`` by hand."""
        self.execution.rack_recovered(rack, location)

    # -- memory and events ---------------------------------------------------------------
    def retire_finished(self) -> None:
        """Drop shipped orders and finished tasks from memory (see module docstring)."""
        self.book.retire(self.dispatch.held)
        self.board.retire()

    def retire_all_finished(self) -> None:
        """Retire every order and task that may be retired (after a replay)."""
        self.book.retire_all_completed(self.dispatch.held)
        self.board.retire_all_finished()

    def continue_ids_after(self, task: int, order: int, parcel: int) -> None:
        """New task, order and parcel ids continue after these counters (a restart)."""
        self.board.continue_ids_after(task)
        self.book.continue_ids_after(order)
        self.dispatch.continue_ids_after(parcel)

    def drain_events(self) -> list[OpsEvent]:
        out, self.events = self.events, []
        return out

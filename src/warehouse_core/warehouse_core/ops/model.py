"""The allocator's vocabulary: order and task states, order lines on their way to a rack visit,
tasks (rack visits, charges, parks), what the allocator knows of a robot, and the events it queues
for the node to publish.

The state codes are the values of ``OrderStatus.state``, ``TaskStatus.state`` and ``Task.type``
in ``warehouse_interfaces``.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Charger
from warehouse_core.ops.consolidation import Parcel
from warehouse_core.ops.orders import Order
from warehouse_core.ops.shipping import Manifest, TrackingEvent
from warehouse_core.tasks import OP_CHARGE, OP_NONE, TaskStep

ORDER_ACCEPTED, ORDER_REJECTED, ORDER_IN_PROGRESS, ORDER_COMPLETED, ORDER_CANCELLED = range(5)
TASK_QUEUED, TASK_ASSIGNED, TASK_ACTIVE, TASK_DONE, TASK_FAILED, TASK_CANCELLED = range(6)
TYPE_PICK = 0
TYPE_CHARGE = 1
TYPE_PARK = 2
ERRAND_DEADLINE_S = 3600.0  # a charge or a park is due this long after it is given (no order waits on it)


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

    @property
    def key(self) -> tuple[str, int]:
        """The line's key in the pending pool."""
        return (self.order_id, self.index)


@dataclass
class Task:
    """A robot's task. A rack visit (``TYPE_PICK``): fetch ``rack`` from ``origin``, present it at
    ``station`` for ``lines``, put it down at ``return_location``. A charge (``TYPE_CHARGE``) or a
    park (``TYPE_PARK``) is one step and no rack. Build them with :meth:`visit`, :meth:`charge`
    and :meth:`park`."""

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

    @classmethod
    def visit(cls, task_id: str, rack: str, station: str, lines: list[PickLine], steps: list[TaskStep],
              origin: str, return_location: str, created: float, length_steps: int) -> Task:
        """A rack visit not yet given to a robot, due by the earliest deadline of its lines."""
        return cls(task_id=task_id, robot="", rack=rack, station=station, lines=lines, steps=steps,
                   origin=origin, return_location=return_location, created=created,
                   deadline=min(p.deadline for p in lines), length_steps=length_steps)

    @classmethod
    def charge(cls, task_id: str, robot: str, charger: Charger, duration: float, created: float) -> Task:
        """``robot`` drives to ``charger`` and charges there for ``duration`` seconds."""
        return cls._errand(task_id, robot, TaskStep(charger.cell, OP_CHARGE, duration), created,
                           TYPE_CHARGE, charger.id)

    @classmethod
    def park(cls, task_id: str, robot: str, cell: Coord, created: float) -> Task:
        """``robot`` drives to ``cell`` and waits there."""
        return cls._errand(task_id, robot, TaskStep(cell, OP_NONE, 0.0), created, TYPE_PARK, "")

    @classmethod
    def _errand(cls, task_id: str, robot: str, step: TaskStep, created: float, type_: int, charger: str) -> Task:
        return cls(task_id=task_id, robot=robot, rack="", station="", lines=[], steps=[step], origin="",
                   return_location="", created=created, deadline=created + ERRAND_DEADLINE_S, type=type_,
                   charger=charger)

    @property
    def order_ids(self) -> list[str]:
        return list(dict.fromkeys(line.order_id for line in self.lines))

    @property
    def finished(self) -> bool:
        return self.state in (TASK_DONE, TASK_FAILED)


@dataclass
class OrderRecord:
    """An accepted order and how far its picking got."""

    order: Order
    state: int = ORDER_ACCEPTED
    lines_picked: int = 0
    completed_at: float | None = None

    @property
    def open(self) -> bool:
        """Neither picked in full nor cancelled: the allocator still owes it."""
        return self.state not in (ORDER_COMPLETED, ORDER_CANCELLED)


@dataclass
class RobotSlot:
    """What the allocator knows of a robot: where it is and whether it is busy."""

    cell: Coord
    task: str = ""
    available: bool = True
    battery: float = 1.0
    needs_charge: bool = False  # too low for any visit offered: charge at the next chance


@dataclass(frozen=True)
class OrderEvent:
    """An order changed state (or was refused: ``reason``)."""

    order_id: str
    consumer_id: str
    state: int
    lines_total: int
    lines_picked: int
    time: float
    reason: str = ""


@dataclass(frozen=True)
class TaskEvent:
    """A task changed state or completed steps up to ``step_index``."""

    task: Task
    state: int
    step_index: int
    time: float
    message: str = ""


@dataclass(frozen=True)
class ParcelEvent:
    """A parcel left packing."""

    parcel: Parcel


@dataclass(frozen=True)
class ManifestEvent:
    """The manifest of one packed box."""

    manifest: Manifest


OpsEvent = OrderEvent | TaskEvent | ParcelEvent | ManifestEvent | TrackingEvent

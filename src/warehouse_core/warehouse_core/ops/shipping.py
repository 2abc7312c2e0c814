"""Shipping desk: packs each parcel into right-sized boxes and writes its manifest.

A :class:`Manifest` is the e-label data a carrier or customs broker consumes: consumer,
orders, the box (inner dimensions), every item with its extents as placed and the position
of its min corner, weight, outer dimensions and a tracking id. A parcel whose items need
more than one box gets one manifest per box (``P000123``, ``P000123-2``, ...). Tracking
events (``picked``, ``packed``, ``dispatched``) follow each manifest's tracking id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from warehouse_core.ops.boxes import Box
from warehouse_core.ops.consolidation import Parcel
from warehouse_core.ops.items import ItemSpec
from warehouse_core.ops.orders import Order
from warehouse_core.ops.packing import Placement, pack_parcel

TRACKING_STAGES = ("picked", "packed", "dispatched")


@dataclass(frozen=True)
class Manifest:
    """One shipped box (see module docstring); lengths in m, weight in kg."""

    parcel_id: str
    tracking_id: str
    consumer_id: str
    order_ids: tuple[str, ...]
    box: Box
    items: tuple[Placement, ...]
    weight_kg: float
    utilisation: float
    solve_s: float
    shipped_at: float

    def to_json(self) -> dict:
        """The ``parcels.jsonl`` record of this box."""
        return {
            "parcel_id": self.parcel_id,
            "tracking_id": self.tracking_id,
            "consumer_id": self.consumer_id,
            "order_ids": list(self.order_ids),
            "box": {"id": self.box.box_id, "inner_dims_m": list(self.box.inner_dims_m),
                    "outer_dims_m": [round(d, 4) for d in self.box.outer_dims_m],
                    "surface_m2": round(self.box.surface_m2, 5)},
            "items": [{"sku": p.sku, "dims_m": list(p.dims_m), "position_m": list(p.position_m),
                       "weight_kg": p.weight_kg} for p in self.items],
            "weight_kg": round(self.weight_kg, 3),
            "dims_m": [round(d, 4) for d in self.box.outer_dims_m],
            "utilisation": round(self.utilisation, 4),
            "shipped_at_s": round(self.shipped_at, 3),
        }


@dataclass(frozen=True)
class TrackingEvent:
    """A parcel reached ``stage`` (one of :data:`TRACKING_STAGES`) at ``time`` (s)."""

    tracking_id: str
    parcel_id: str
    stage: str
    time: float


@dataclass
class ShippingDesk:
    """Packs parcels with :func:`warehouse_core.ops.packing.pack_parcel` (CP-SAT)."""

    specs: dict[str, ItemSpec]
    boxes: list[Box]
    time_limit_s: float = 1.0
    seed: int = 0

    def items_of(self, orders: list[Order]) -> list[ItemSpec]:
        """One item per unit of every line of ``orders``."""
        return [self.specs[line.sku] for o in orders for line in o.lines for _ in range(line.quantity)]

    def tracking_id(self, parcel_id: str) -> str:
        """A stable, seeded 14-character tracking id."""
        digest = hashlib.sha256(f"{self.seed}:{parcel_id}".encode()).hexdigest()[:12].upper()
        return f"WB{digest}"

    def manifests(self, parcel: Parcel, orders: list[Order]) -> list[Manifest]:
        result = pack_parcel(self.items_of(orders), self.boxes, self.time_limit_s)
        out = []
        for k, packed in enumerate(result.boxes):
            pid = parcel.parcel_id if k == 0 else f"{parcel.parcel_id}-{k + 1}"
            out.append(Manifest(pid, self.tracking_id(pid), parcel.consumer_id, parcel.order_ids, packed.box,
                                packed.placements, packed.weight_kg + 0.0, packed.utilisation,
                                result.solve_s, parcel.shipped_at))
        return out

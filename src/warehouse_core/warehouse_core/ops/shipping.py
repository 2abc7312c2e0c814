"""Shipping desk: packs each parcel into right-sized boxes and writes its manifest.

A :class:`Manifest` is the e-label data a carrier or customs broker consumes: consumer,
orders, the box (inner dimensions), every item with its extents as placed and the position
of its min corner, weight, outer dimensions and a tracking id. A parcel whose items need
more than one box gets one manifest per box (``P000123``, ``P000123-2``, ...). Tracking
events (``picked``, ``packed``, ``dispatched``) follow each manifest's tracking id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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
        """The ``parcels.jsonl`` record of this box (:func:`parcel_record`)."""
        return parcel_record(parcel_id=self.parcel_id, tracking_id=self.tracking_id, consumer_id=self.consumer_id,
                             order_ids=self.order_ids, box_id=self.box.box_id, inner_dims_m=self.box.inner_dims_m,
                             outer_dims_m=self.box.outer_dims_m, surface_m2=self.box.surface_m2, items=self.items,
                             weight_kg=self.weight_kg, utilisation=self.utilisation, shipped_at=self.shipped_at)


def parcel_record(*, parcel_id: str, tracking_id: str, consumer_id: str, order_ids: Iterable[str], box_id: str,
                  inner_dims_m: Iterable[float], outer_dims_m: Iterable[float], surface_m2: float,
                  items: Iterable[Placement], weight_kg: float, utilisation: float, shipped_at: float) -> dict:
    """The ``parcels.jsonl`` record of one shipped box; field names and rounding are a contract (lengths
    to 1 um, areas to 1 mm^2, weights to 0.1 g, utilisation to 1e-4, time to 1 ms)."""
    def r(v: Iterable[float]) -> list[float]:
        return [round(float(x), 6) for x in v]
    return {
        "parcel_id": parcel_id, "tracking_id": tracking_id, "consumer_id": consumer_id,
        "order_ids": list(order_ids),
        "box": {"id": box_id, "inner_dims_m": r(inner_dims_m), "outer_dims_m": r(outer_dims_m),
                "surface_m2": round(float(surface_m2), 6)},
        "items": [{"sku": it.sku, "dims_m": r(it.dims_m), "position_m": r(it.position_m),
                   "weight_kg": round(float(it.weight_kg), 4)} for it in items],
        "weight_kg": round(float(weight_kg), 4), "dims_m": r(outer_dims_m), "utilisation": round(float(utilisation), 4),
        "shipped_at_s": round(float(shipped_at), 3),
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

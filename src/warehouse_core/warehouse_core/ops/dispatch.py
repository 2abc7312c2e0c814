"""Dispatch: completed orders -> parcels -> packed boxes -> tracking events.

:class:`Dispatch` owns the consolidation of completed orders into parcels
(:class:`~warehouse_core.ops.consolidation.Consolidator`; one parcel per order under the baseline
policy), the packing of each parcel into boxes with a manifest per box (the optional
:class:`~warehouse_core.ops.shipping.ShippingDesk`), and the tracking events of each box:
``picked`` when the parcel leaves the pick, ``packed`` ``pack_time`` later, ``dispatched``
``dispatch_time`` after that, each announced when its time has come. A shipped order is handed
back to the order book for retirement.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager

from warehouse_core.ops.config import OpsConfig
from warehouse_core.ops.consolidation import Consolidator, Parcel
from warehouse_core.ops.model import ManifestEvent, OpsEvent, ParcelEvent
from warehouse_core.ops.order_book import OrderBook
from warehouse_core.ops.orders import Order
from warehouse_core.ops.shipping import ShippingDesk, TrackingEvent


class Dispatch:
    """Consolidation, packing and tracking (see module docstring); events go to ``emit``."""

    def __init__(self, config: OpsConfig, book: OrderBook, desk: ShippingDesk | None,
                 emit: Callable[[OpsEvent], None]) -> None:
        self.config = config
        self.book = book
        self.desk = desk  # None: parcels are not packed (no manifests, no tracking)
        self.emit = emit
        self.consolidator = Consolidator(config.pack_time, enabled=config.policy != "baseline")
        self._tracking_due: list[tuple[float, int, TrackingEvent]] = []
        self._ids_due = itertools.count()

    @property
    def held(self) -> Container[str]:
        """Ids of the orders not yet shipped."""
        return self.consolidator.orders

    def accepted(self, order: Order) -> None:
        self.consolidator.accepted(order.order_id, order.consumer_id, order.created, order.deadline)

    def completed(self, order_id: str, now: float) -> None:
        """``order_id`` is picked in full: ship what can leave now."""
        self._ship(self.consolidator.completed(order_id, now))

    def cancelled(self, order_id: str, now: float) -> None:
        """``order_id`` was cancelled: ship what waited only for it."""
        self._ship(self.consolidator.cancelled(order_id, now))

    def tick(self, now: float) -> None:
        """Announce the tracking events due, and ship held parcels whose deadlines no longer
        allow waiting (with the order book's current cycle-time estimate)."""
        while self._tracking_due and self._tracking_due[0][0] <= now:
            self.emit(heapq.heappop(self._tracking_due)[2])
        expected = self.book.expected_cycle_s()
        if expected is not None:
            self.consolidator.expected_cycle_s = expected
        self._ship(self.consolidator.tick(now))

    def _ship(self, parcels: list[Parcel]) -> None:
        for parcel in parcels:
            self.emit(ParcelEvent(parcel))
        for parcel in parcels:
            self.book.retire_when_shipped(parcel.order_ids)
        if self.desk is None:
            return
        for parcel in parcels:
            orders = [self.book.orders[oid].order for oid in parcel.order_ids]
            picked_at = parcel.shipped_at - self.config.pack_time
            for manifest in self.desk.manifests(parcel, orders):
                self.emit(ManifestEvent(manifest))
                self.emit(TrackingEvent(manifest.tracking_id, manifest.parcel_id, "picked", picked_at))
                self._track(parcel.shipped_at, TrackingEvent(manifest.tracking_id, manifest.parcel_id, "packed",
                                                             parcel.shipped_at))
                t = parcel.shipped_at + self.config.dispatch_time
                self._track(t, TrackingEvent(manifest.tracking_id, manifest.parcel_id, "dispatched", t))

    def _track(self, due: float, event: TrackingEvent) -> None:
        heapq.heappush(self._tracking_due, (due, next(self._ids_due), event))

    # -- replay --------------------------------------------------------------------------
    @contextmanager
    def packing_paused(self) -> Iterator[None]:
        """No packing inside (a replay: the parcels it ships were packed before)."""
        desk, self.desk = self.desk, None
        try:
            yield
        finally:
            self.desk = desk

    def shipped(self, order_ids: list[str]) -> None:
        """These orders left in a parcel (replayed): they are not held any more."""
        for oid in order_ids:
            self.consolidator.orders.pop(oid, None)

    def continue_ids_after(self, last: int) -> None:
        """New parcel ids continue after ``P{last}``."""
        self.consolidator.continue_ids_after(last)

"""Shared helpers of the allocator tests (not a test module): a small hand-made layout, an
allocator on it (journaled or not), and orders."""

import numpy as np

from warehouse_core.maps.grid import Grid
from warehouse_core.maps.layout import Layout, Station, StorageLocation
from warehouse_core.maps.occupancy import GridFrame
from warehouse_core.ops.durable_ops import JournaledOps
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.operations import OpsConfig, WarehouseOps
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.ops.store import StateStore

STOCK = {"R1": {"A": 9, "B": 9}, "R2": {"A": 9}, "R3": {"C": 9}}  # rack -> sku -> units


def small_layout(chargers=()) -> Layout:
    """An 8 x 5 floor: one station at the left, racks R1-R3 and one free location L4."""
    free = np.ones((5, 8), dtype=bool)
    grid = Grid(free)
    storage = (StorageLocation("L1", (3, 1), "R1"), StorageLocation("L2", (4, 1), "R2"),
               StorageLocation("L3", (3, 3), "R3"), StorageLocation("L4", (4, 3), None))
    stations = (Station("S1", (0, 2), ((0, 3),)),)
    return Layout("t", "test", grid, GridFrame(0.0, 0.0, 1.0, 5), storage, stations, tuple(chargers), ())


def ops_with(stock, policy="default", chargers=(), config: OpsConfig | None = None) -> WarehouseOps:
    """An allocator on :func:`small_layout` with ``stock`` (rack -> sku -> units)."""
    inv = Inventory(stock, {s: 1.0 for r in stock.values() for s in r})
    config = config or OpsConfig(max_lines_per_visit=10, station_queue_limit=4, policy=policy)
    return WarehouseOps(small_layout(chargers), inv, config)


def order(oid, *lines, consumer="C1", created=0.0, deadline=3600.0) -> Order:
    """An order of ``lines`` (sku, quantity)."""
    return Order(oid, consumer, tuple(OrderLine(s, q) for s, q in lines), created, deadline)


def journaled(path, stock=STOCK) -> JournaledOps:
    """A journaled allocator on :func:`small_layout` with its store at ``path``."""
    base = ops_with({r: dict(s) for r, s in stock.items()})
    return JournaledOps(base.layout, base.inventory, base.config, store=StateStore(path))

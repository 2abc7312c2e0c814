"""Forecast-driven slotting, and the shipping desk: manifests and tracking events from the allocator."""

from pathlib import Path

import numpy as np

from warehouse_core.maps.grid import Grid
from warehouse_core.maps.layout import Layout, Station, StorageLocation
from warehouse_core.maps.occupancy import GridFrame
from warehouse_core.ops.boxes import Box, load_boxes
from warehouse_core.ops.consolidation import Parcel
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.items import ItemSpec
from warehouse_core.ops.operations import ManifestEvent, OpsConfig, ParcelEvent, WarehouseOps
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.ops.shipping import ShippingDesk, TrackingEvent
from warehouse_core.ops.slotting import abc_classes, rack_turnover

CATALOGUE = Path(__file__).resolve().parents[3] / "config" / "boxes.yaml"


def small_layout() -> Layout:
    """A 6 x 5 floor: one station at the left, three racks and one free location."""
    locations = tuple(StorageLocation(f"L{k + 1}", cell, rack) for k, (cell, rack) in enumerate(
        [((2, 1), "R1"), ((4, 1), "R2"), ((2, 3), "R3"), ((4, 3), None)]))
    return Layout("s", "slotting test", Grid(np.ones((5, 6), dtype=bool)), GridFrame(0.0, 0.0, 1.0, 5),
                  locations, (Station("S1", (0, 2), ((0, 3),)),), (), ())


def order(oid: str, *lines) -> Order:
    return Order(oid, "C1", tuple(OrderLine(s, q) for s, q in lines), 0.0, 3600.0)


def test_turnover_shares_a_skus_demand_over_its_racks_by_units():
    stock = {"R1": {"A": 30, "B": 5}, "R2": {"A": 10}, "R3": {"C": 1}}
    t = rack_turnover(stock, {"A": 8.0, "B": 2.0})
    assert t == {"R1": 6.0 + 2.0, "R2": 2.0, "R3": 0.0}
    classes = abc_classes({f"r{i}": float(i) for i in range(10)})
    assert [classes[f"r{i}"] for i in range(10)] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]


def test_forecast_decides_which_rack_is_a_fast_mover():
    stock = {"R1": {"A": 9}, "R2": {"B": 9}, "R3": {"C": 9}}
    inv = Inventory(stock, {"A": 1.0, "B": 1.0, "C": 1.0})
    by_b = WarehouseOps(small_layout(), inv, OpsConfig(), demand={"A": 0.1, "B": 50.0, "C": 1.0})
    by_a = WarehouseOps(small_layout(), inv, OpsConfig(), demand={"A": 50.0, "B": 0.1, "C": 1.0})
    assert by_b.racks.rack_class("R2") == 0 and by_a.racks.rack_class("R1") == 0
    assert by_b.racks.rack_class("R1") == 2 and by_a.racks.rack_class("R2") == 2


def test_random_returns_are_seeded_and_class_returns_go_near_the_station():
    stock = {"R1": {"A": 9}, "R2": {}, "R3": {}}
    picks = set()
    for seed in range(6):
        ops = WarehouseOps(small_layout(), Inventory(stock, {"A": 1.0}), OpsConfig(returns="random", seed=seed))
        picks.add(ops.racks.return_location("R1", (0, 2), exclude="L1"))
    assert picks <= {"L4"}  # the only free location in the small layout
    try:
        OpsConfig(returns="nearest")
    except ValueError as exc:
        assert "returns 'nearest' is unknown" in str(exc)
    else:
        raise AssertionError("bad returns accepted")


def test_completed_orders_ship_packed_with_manifest_and_tracking_events():
    stock = {"R1": {"A": 9, "B": 9}, "R2": {}, "R3": {}}
    specs = {"A": ItemSpec("A", (0.2, 0.2, 0.05), 0.5), "B": ItemSpec("B", (0.08, 0.08, 0.25), 1.0, upright=True)}
    desk = ShippingDesk(specs, load_boxes(CATALOGUE), seed=4)
    ops = WarehouseOps(small_layout(), Inventory(stock, {"A": 1.0, "B": 1.0}),
                       OpsConfig(pack_time=60.0, dispatch_time=30.0), shipping=desk)
    ops.submit(order("O1", ("A", 2), ("B", 1)), 0)
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(0.0)
    ops.step_done(task.task_id, 2, 50.0)
    events = ops.drain_events()
    (parcel,) = [e.parcel for e in events if isinstance(e, ParcelEvent)]
    (manifest,) = [e.manifest for e in events if isinstance(e, ManifestEvent)]
    assert manifest.parcel_id == parcel.parcel_id and manifest.order_ids == ("O1",)
    assert sorted(p.sku for p in manifest.items) == ["A", "A", "B"]
    assert manifest.tracking_id == desk.tracking_id(parcel.parcel_id) and len(manifest.tracking_id) == 14
    record = manifest.to_json()
    assert record["box"]["id"] == manifest.box.box_id and len(record["box"]["inner_dims_m"]) == 3
    assert all(len(i["dims_m"]) == 3 and len(i["position_m"]) == 3 for i in record["items"])
    # the parcels.jsonl contract: lengths to 1 um, weights to 0.1 g, shipping time to 1 ms
    assert record["dims_m"] == record["box"]["outer_dims_m"] == [round(d, 6) for d in manifest.box.outer_dims_m]
    assert record["weight_kg"] == round(manifest.weight_kg, 4) and record["shipped_at_s"] == 110.0
    stages = [(e.stage, e.time) for e in events if isinstance(e, TrackingEvent)]
    assert stages == [("picked", 50.0)]
    ops.tick(100.0)
    assert [e.stage for e in ops.drain_events() if isinstance(e, TrackingEvent)] == []
    ops.tick(110.0)
    assert [(e.stage, e.time) for e in ops.drain_events() if isinstance(e, TrackingEvent)] == [("packed", 110.0)]
    ops.tick(140.0)
    assert [(e.stage, e.time) for e in ops.drain_events() if isinstance(e, TrackingEvent)] == [
        ("dispatched", 140.0)]


def test_a_parcel_too_big_for_one_box_gets_one_manifest_per_box():
    cube = ItemSpec("C", (0.25, 0.25, 0.25), 1.0)
    desk = ShippingDesk({"C": cube}, [Box("B", (0.3, 0.3, 0.3), 1.0)])
    manifests = desk.manifests(Parcel("P000007", "C1", ("O1",), 10.0, 99.0), [order("O1", ("C", 2))])
    assert [m.parcel_id for m in manifests] == ["P000007", "P000007-2"]
    assert len({m.tracking_id for m in manifests}) == 2

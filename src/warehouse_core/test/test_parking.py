"""Idle-robot parking near forecast demand: the pure choice, and the allocator's park tasks."""

import numpy as np

from warehouse_core.maps.grid import Grid
from warehouse_core.maps.layout import Layout, Station, StorageLocation
from warehouse_core.maps.occupancy import GridFrame
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.operations import TYPE_PARK, OpsConfig, WarehouseOps
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.ops.parking import choose_parking


def line_travel(a: int, b: int) -> int:
    """Cells on a line; cell 99 is unreachable."""
    return -1 if 99 in (a, b) else abs(a - b)


def test_robots_on_a_spot_stay_and_the_others_take_the_nearest_free_spots():
    moves = choose_parking({"r1": 5, "r2": 0, "r3": 20}, [5, 2, 18, 30], line_travel)
    assert moves == {"r2": 2, "r3": 18}  # r1 is on a spot already; 30 is farther for everyone
    assert choose_parking({"r1": 5}, [5], line_travel) == {}
    assert choose_parking({"r1": 99}, [3], line_travel) == {}  # no reachable spot: it stays
    assert choose_parking({"r1": 1, "r2": 2}, [10], line_travel) == {"r2": 10}  # one spot, the nearer robot


def layout() -> Layout:
    """A 9 x 5 floor: one station at the left, six racks in two rows (the fast movers R3 and R6 at the
    right), two free locations: L7 next to the station, L8 far right."""
    racks = [((2, 1), "R1"), ((4, 1), "R2"), ((6, 1), "R3"), ((2, 3), "R4"), ((4, 3), "R5"), ((6, 3), "R6"),
             ((1, 0), None), ((8, 0), None)]
    locations = tuple(StorageLocation(f"L{k + 1}", cell, rack) for k, (cell, rack) in enumerate(racks))
    return Layout("p", "parking test", Grid(np.ones((5, 9), dtype=bool)), GridFrame(0.0, 0.0, 1.0, 5),
                  locations, (Station("S1", (0, 2), ((0, 3),)),), (), ())


def ops(**config) -> WarehouseOps:
    stock = {f"R{i}": {f"K{i}": 20} for i in range(1, 7)}
    demand = {"K1": 1.0, "K2": 1.0, "K3": 50.0, "K4": 1.0, "K5": 1.0, "K6": 2.0}  # R3 is the fast mover (class A)
    o = WarehouseOps(layout(), Inventory(stock, {k: 1.0 for k in demand}), OpsConfig(**config), demand=demand)
    o.update_robot("robot_0", (7, 0))
    return o


def test_an_idle_robot_parks_under_the_fast_mover_after_park_after_seconds_and_then_takes_its_visit():
    o = ops(park_after=10.0)
    assert o.racks.rack_class("R3") == 0 and sum(o.racks.rack_class(r) == 0 for r in o.racks.location_of) == 2
    assert o.assign(0.0) == [] and o.assign(9.0) == []  # not idle long enough yet
    (park,) = o.assign(10.0)
    assert park.type == TYPE_PARK and park.robot == "robot_0" and len(park.steps) == 1
    assert park.steps[0].cell == (6, 1)  # under R3, the class-A rack nearest to the robot
    assert o.assign(30.0) == []  # busy with the park task
    o.task_finished(park.task_id, True, 31.0)
    o.update_robot("robot_0", (6, 1))
    assert o.assign(60.0) == []  # already parked on a spot: stays
    # a second idle robot parks under the other class-A rack, not on the taken spot
    o.update_robot("robot_1", (0, 4))
    o.assign(61.0)
    (park2,) = o.assign(72.0)
    assert park2.robot == "robot_1" and park2.steps[0].cell != (6, 1)
    # an order for the fast mover goes to the robot parked under its rack
    o.task_finished(park2.task_id, True, 80.0)
    o.update_robot("robot_1", park2.steps[0].cell)
    assert o.submit(Order("O1", "C1", (OrderLine("K3", 1),), 81.0, 3600.0), 81.0)[0]
    tasks = o.assign(82.0)
    assert [(t.robot, t.rack) for t in tasks] == [("robot_0", "R3")]


def test_no_parking_when_off_with_random_returns_or_while_the_forecast_is_pending():
    for o in (ops(park_after=0.0), ops(park_after=5.0, returns="random"), ops(park_after=5.0, policy="baseline")):
        o.assign(0.0)
        assert o.assign(100.0) == []
    pending = ops(park_after=5.0)
    pending.racks.forecast_pending = True
    pending.assign(0.0)
    assert pending.assign(100.0) == []
    pending.set_demand(pending.racks.demand)
    assert not pending.racks.forecast_pending
    assert [t.type for t in pending.assign(101.0)] == [TYPE_PARK]


def test_class_returns_are_random_until_the_forecast_arrives():
    waiting, classed = set(), set()
    for seed in range(12):
        o = ops(seed=seed)
        classed.add(o.racks.return_location("R3", (0, 2), exclude="L3"))
        o.racks.forecast_pending = True
        waiting.add(o.racks.return_location("R3", (0, 2), exclude="L3"))
    assert classed == {"L7"}  # the free location nearest the station
    assert waiting == {"L7", "L8"}

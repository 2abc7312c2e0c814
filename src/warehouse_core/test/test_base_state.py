"""The meaning of a hardware base's inputs: battery, operation answers, holds, protective stop."""

from __future__ import annotations

import math

import numpy as np

from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.maps.grid import Grid
from warehouse_core.robot import base_state as bs
from warehouse_core.tasks import OP_CHARGE, OP_LIFT, OP_PICK, TaskStep


def test_battery_from_percentage_else_charge_over_capacity():
    assert bs.battery_fraction(0.42) == 0.42
    assert bs.battery_fraction(math.nan, 30.0, 60.0) == 0.5
    assert bs.battery_fraction(1.7) == 1.0
    assert bs.battery_fraction(math.nan, math.nan, 60.0) is None
    assert bs.battery_fraction(math.nan, 10.0, 0.0) is None  # unknown capacity: unknown, not empty
    assert bs.battery_fraction(None) is None


def test_failed_lift_means_no_rack_as_in_the_simulator():
    out = bs.outcome(bs.LIFT, bs.FAILED, False, "jammed")
    assert (out.ok, out.rack, out.fail_task) == (False, False, False)  # the robot node's FAILURE_LIFT path
    assert "lift failed: jammed" == out.message
    timeout = bs.outcome(bs.LIFT, bs.FAILED_TIMEOUT, True)
    assert (timeout.ok, timeout.rack) == (False, False) and "timed out" in timeout.message
    assert bs.outcome(bs.LIFT, bs.SUCCEEDED, True).rack is True
    drop = bs.outcome(bs.DROP, bs.FAILED, True)
    assert drop.fail_task and drop.rack is True  # still carried
    assert bs.outcome(bs.DOCK, bs.REJECTED_STOPPED, False).fail_task


def test_hold_waits_for_every_answer_and_undocks_after_the_dwell():
    assert bs.OperationHold.of((1, 3), OP_PICK, 5.0) is None  # a pick needs nothing of the base
    hold = bs.OperationHold.of((1, 3), OP_CHARGE, dwell_end=10.0)
    assert hold.next_now(0.0) == bs.DOCK
    assert hold.next_now(1.0) is None and hold.holding(50.0)  # pending: held past the dwell
    hold.answered(bs.SUCCEEDED, False)
    assert hold.next_now(5.0) is None and hold.holding(5.0)  # charging
    assert hold.next_now(10.0) == bs.UNDOCK and hold.holding(11.0)
    hold.answered(bs.SUCCEEDED, False)
    assert not hold.holding(11.0)
    lift = bs.OperationHold.of((1, 4), OP_LIFT, dwell_end=2.0)
    assert lift.next_now(0.0) == bs.LIFT
    lift.answered(bs.FAILED, False)
    assert lift.failed and not lift.holding(0.5)  # a failure ends the hold at once


def test_refusal_for_a_stop_is_asked_again_and_the_dwell_waits():
    hold = bs.OperationHold.of((1, 4), OP_LIFT, dwell_end=2.0)
    assert hold.next_now(0.0) == bs.LIFT
    out = hold.answered(bs.REJECTED_STOPPED, False, "stop")
    assert out.ok and out.rack is None and not out.fail_task and "asked again" in out.message
    assert hold.holding(0.5) and hold.next_now(0.5) == bs.LIFT  # the base did nothing: asked again
    for _ in range(bs.STOP_RETRIES - 1):
        hold.answered(bs.REJECTED_STOPPED, False)
        assert hold.next_now(1.0) == bs.LIFT
    last = hold.answered(bs.REJECTED_STOPPED, False)  # a base that keeps refusing ends the hold
    assert not last.ok and last.rack is False and hold.failed and not hold.holding(1.0)
    charge = bs.OperationHold.of((1, 5), OP_CHARGE, dwell_end=10.0)
    charge.next_now(0.0)
    charge.answered(bs.SUCCEEDED, False)
    charge.postpone(3.0)  # a protective stop of 3 s while charging: the undock comes 3 s later
    assert charge.next_now(12.0) is None and charge.next_now(13.0) == bs.UNDOCK


def test_protective_stops_are_a_warning_of_the_robot_links():
    from warehouse_core.fleet.health import OK, WARN, Limits, RobotReport, robot_links

    robots = {f"robot_{i}": RobotReport(100.0) for i in range(3)}
    assert robot_links("robots_0", "hw", robots, Limits(2.0, 20.0)).level == OK
    robots["robot_1"] = RobotReport(100.0, protective_stop=True)
    warn = robot_links("robots_0", "hw", robots, Limits(2.0, 20.0))
    assert warn.level == WARN and warn.value("protective_stops") == "1"
    assert "1 robot(s) in a protective stop: robot_1" in warn.message
    robots["robot_1"] = RobotReport(100.0, failed=True, protective_stop=True)  # failed: the planner's news
    assert robot_links("robots_0", "hw", robots, Limits(2.0, 20.0)).value("protective_stops") == "0"


def test_stop_watch_expires_after_the_timeout_only():
    w = bs.StopWatch(timeout=20.0)
    w.update(True, 100.0)
    w.update(True, 110.0)
    assert w.stopped and w.since == 100.0 and not w.expired(119.0) and w.expired(121.0)
    w.update(False, 122.0)
    assert not w.stopped and not w.expired(200.0)
    assert not bs.StopWatch(timeout=0.0, since=0.0).expired(1e9)


def _drive(fleet: FleetPlanner, step: int) -> None:
    """Every robot not stopped reports reaching what was released to it."""
    fleet.plan(step)
    for name, (index, _why) in fleet.release_all(step).items():
        if name not in fleet.stopped:
            p = fleet.traffic.paths[name]
            fleet.report_progress(name, p.plan_id, index)


def test_stopped_robot_is_planned_around_keeps_its_task_and_rejoins():
    grid = Grid(np.ones((5, 9), dtype=bool))
    storage = __import__("numpy").zeros((5, 9), dtype=bool)
    fleet = FleetPlanner(grid, storage, {"a": (0, 2), "b": (8, 2)}, 1, 1.0, window=8, lookahead=4, seed=1)
    fleet.request("a", "t1", [TaskStep((6, 2), OP_LIFT, 2.0)])
    fleet.request("b", "t2", [TaskStep((1, 2))])
    for step in range(1, 4):
        _drive(fleet, step)
    assert fleet.protective_stop("a", True)
    assert "a" in fleet.suspended and not fleet.protective_stop("a", True)
    plan_before = fleet.plan_id
    for step in range(4, 12):
        _drive(fleet, step)
    assert "a" in fleet.suspended, "resumed while still stopped"
    assert fleet.plan_id > plan_before  # the others were re-planned around it
    blocked = fleet.suspended["a"]
    b_cells = set(fleet.traffic.paths["b"].cells)
    assert not blocked & b_cells
    assert fleet.protective_stop("a", False)
    for step in range(12, 40):
        _drive(fleet, step)
    assert "a" not in fleet.suspended and fleet.resumes >= 1
    goals = [fleet.grid.coord(c) for c in fleet.traffic.paths["a"].cells]
    assert (6, 2) in goals  # its task was kept: it still goes to lift

"""Orders -> rack visits -> robots, on a small hand-made layout."""

import sys
from pathlib import Path

import pytest

from warehouse_core.ops.operations import (
    ORDER_COMPLETED,
    ORDER_REJECTED,
    TASK_DONE,
    TASK_FAILED,
    OpsConfig,
    OrderEvent,
    TaskEvent,
)
from warehouse_core.ops.orders import order_problem
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_PICK

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from ops_helpers import ops_with, order  # noqa: E402


def test_bad_orders_are_refused_with_a_reason():
    ops = ops_with({"R1": {"A": 5}, "R2": {}, "R3": {}})
    assert "not in the catalogue" in ops.submit(order("O1", ("ZZZ", 1)), 0)[2]
    assert "not enough stock" in ops.submit(order("O2", ("A", 6)), 0)[2]
    assert "quantity" in order_problem(order("O3", ("A", 0)), {"A"})
    assert "deadline" in order_problem(order("O4", ("A", 1), deadline=-1.0), {"A"})
    ok, oid, _ = ops.submit(order("O5", ("A", 2)), 0)
    assert ok
    assert "already submitted" in ops.submit(order("O5", ("A", 1)), 0)[2]
    states = [e.state for e in ops.drain_events() if isinstance(e, OrderEvent)]
    assert states.count(ORDER_REJECTED) == 3


def test_pile_on_serves_all_lines_of_one_rack_in_one_visit():
    ops = ops_with({"R1": {"A": 9, "B": 9}, "R2": {"A": 9}, "R3": {"C": 9}})
    for i, sku in enumerate(["A", "B", "A"]):
        assert ops.submit(order(f"O{i}", (sku, 1)), 0)[0]
    ops.update_robot("robot_0", (7, 4))
    tasks = ops.assign(1.0)
    assert len(tasks) == 1
    assert tasks[0].rack == "R1" and len(tasks[0].lines) == 3
    assert [s.op for s in tasks[0].steps] == [OP_LIFT, OP_PICK, OP_DROP]


def test_assignment_minimises_total_travel():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {"C": 9}})
    ops.submit(order("O1", ("A", 1)), 0)
    ops.submit(order("O2", ("C", 1)), 0)
    ops.update_robot("near_R3", (3, 4))
    ops.update_robot("near_R1", (3, 0))
    tasks = {t.rack: t.robot for t in ops.assign(0.0)}
    assert tasks == {"R1": "near_R1", "R3": "near_R3"}


def test_a_visit_completes_its_orders_and_moves_the_rack():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    ops.submit(order("O1", ("A", 2)), 0)
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(0.0)
    assert task.return_location == "L4"  # the only free location
    ops.step_done(task.task_id, 2, 50.0)  # lifted and picked
    ops.task_finished(task.task_id, True, 80.0)
    events = ops.drain_events()
    done = [e for e in events if isinstance(e, OrderEvent) and e.state == ORDER_COMPLETED]
    assert done and done[0].time == 50.0
    assert any(isinstance(e, TaskEvent) and e.state == TASK_DONE for e in events)
    assert ops.inventory.stock["R1"]["A"] == 7
    assert ops.racks.rack_at["L4"] == "R1" and "L1" not in ops.racks.rack_at
    assert not ops.robots["robot_0"].task


def test_failed_visit_gives_its_lines_back():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    ops.submit(order("O1", ("A", 2)), 0)
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(0.0)
    ops.task_finished(task.task_id, False, 5.0, "robot refused")
    assert len(ops.pending) == 1 and ops.inventory.available("R1", "A") == 9
    ops.update_robot("robot_0", (0, 0))
    (again,) = ops.assign(6.0)
    assert again.rack == "R1"


def test_task_steps_bind_to_waypoints_arriving_in_segments():
    from warehouse_core.robot.task_progress import TaskProgress

    prog = TaskProgress([((2, 0), OP_LIFT), ((5, 0), OP_PICK)])
    path = [((0, 0), 0), ((1, 0), 0), ((2, 0), OP_LIFT), ((2, 0), 0), ((3, 0), 0), ((4, 0), 0),
            ((5, 0), OP_PICK)]
    assert not prog.bind_path(path[:3])
    assert prog.arrivals == [2]
    assert prog.extend_path(path[3:], 3)
    assert prog.arrivals == [2, 6]
    assert prog.update(2, op_running=True) == 0
    assert prog.update(2, op_running=False) == 1
    assert prog.update(6, op_running=False) == 2 and prog.done


def test_consolidation_waits_for_a_sibling_when_no_deadline_is_at_risk():
    from warehouse_core.ops.consolidation import Consolidator

    c = Consolidator(pack_time_s=60, expected_cycle_s=300)
    c.accepted("O1", "C1", created=0, deadline=4 * 3600)
    c.accepted("O2", "C1", created=100, deadline=4 * 3600)
    assert c.completed("O1", 250) == []  # O2 expected at 400: wait
    (parcel,) = c.completed("O2", 380)
    assert parcel.order_ids == ("O1", "O2") and parcel.consumer_id == "C1"
    assert not parcel.late


def test_consolidation_does_not_wait_past_a_deadline():
    from warehouse_core.ops.consolidation import Consolidator

    c = Consolidator(pack_time_s=60, expected_cycle_s=300)
    c.accepted("O1", "C1", created=0, deadline=500)  # tight next-day cut-off
    c.accepted("O2", "C1", created=400, deadline=9000)  # expected at 700: too late for O1
    (parcel,) = c.completed("O1", 300)
    assert parcel.order_ids == ("O1",)
    (second,) = c.completed("O2", 650)
    assert second.order_ids == ("O2",)


def test_held_order_ships_when_its_deadline_comes_close():
    from warehouse_core.ops.consolidation import Consolidator

    c = Consolidator(pack_time_s=60, expected_cycle_s=300)
    c.accepted("O1", "C1", created=0, deadline=1000)
    c.accepted("O2", "C1", created=0, deadline=5000)
    assert c.completed("O1", 100) == []
    assert c.tick(500) == []
    c.expected_cycle_s = 2000  # the sibling turns out slow
    (parcel,) = c.tick(600)
    assert parcel.order_ids == ("O1",) and parcel.shipped_at == 660


def test_baseline_policy_serves_one_line_per_visit_first_come_first_served():
    ops = ops_with({"R1": {"A": 9, "B": 9}, "R2": {"A": 9}, "R3": {"C": 9}}, policy="baseline")
    ops.submit(order("O1", ("B", 1), created=5.0), 0)
    ops.submit(order("O2", ("A", 1), created=1.0), 0)
    ops.update_robot("robot_0", (7, 4))
    (task,) = ops.assign(10.0)
    assert len(task.lines) == 1 and task.lines[0].order_id == "O2"


def test_default_policy_prefers_the_visit_with_less_slack():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {"C": 9}})
    ops.submit(order("O1", ("A", 1), deadline=20000.0), 0)  # near the robot, lots of slack
    ops.submit(order("O2", ("C", 1), deadline=300.0), 0)  # a bit farther, due soon
    ops.update_robot("robot_0", (3, 0))
    (task,) = ops.assign(0.0)
    assert task.rack == "R3"
    assert next(iter(ops.pending.values())).order_id == "O1"  # the other draft was undone, nothing lost
    assert ops.inventory.available("R1", "A") == 9


def test_order_stream_does_not_depend_on_when_it_is_read():
    from warehouse_core.ops.orders import DemandModel

    model = DemandModel(600.0, {"A": 5.0, "B": 1.0, "C": 1.0})
    a = model.stream(7)
    b = model.stream(7)
    once = a.until(600.0)
    pieces = [o for t in (0.3, 1.0, 55.5, 56.0, 300.0, 600.0) for o in b.until(t)]
    assert once == pieces and 70 < len(once) < 130  # ~100 orders in 10 minutes
    assert all(o.created < 600.0 and o.deadline > o.created for o in once)


def test_low_battery_robot_charges_and_chargers_are_limited():
    from warehouse_core.maps.layout import Charger
    from warehouse_core.ops.operations import TYPE_CHARGE

    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}}, chargers=[Charger("C1", (7, 0))])
    ops.submit(order("O1", ("A", 1)), 0)
    ops.update_robot("low", (6, 0), battery=0.2)
    ops.update_robot("also_low", (6, 1), battery=0.25)
    ops.update_robot("ok", (0, 0), battery=0.8)
    tasks = ops.assign(0.0)
    charge = [t for t in tasks if t.type == TYPE_CHARGE]
    assert [t.robot for t in charge] == ["low"]  # one charger: the lowest goes first
    assert charge[0].steps[0].cell == (7, 0) and charge[0].steps[0].duration == pytest.approx(350.0)
    assert {t.robot for t in tasks if t.type != TYPE_CHARGE} == {"ok"}  # low robots get no picks
    ops.task_finished(charge[0].task_id, True, 400.0)
    assert ops.charging.charging_events == 1
    ops.update_robot("low", (7, 0), battery=0.9)
    (second,) = ops.assign(401.0)
    assert second.robot == "also_low" and second.type == TYPE_CHARGE


def test_failed_robot_with_a_rack_gets_no_tasks_and_its_rack_is_recovered():
    ops = ops_with({"R1": {"A": 9}, "R2": {"A": 9}, "R3": {}})
    ops.submit(order("O1", ("A", 2)), 0)
    ops.update_robot("robot_0", (3, 1))
    ops.update_robot("robot_1", (7, 4))
    (task,) = ops.assign(0.0)
    assert task.robot == "robot_0" and task.rack == "R1"
    ops.step_done(task.task_id, 1, 10.0)  # lifted
    assert ops.robot_failed("robot_0", 12.0, "robot_0: drive fault")
    assert not ops.robot_failed("robot_0", 13.0)  # once
    assert task.state == TASK_FAILED and len(ops.pending) == 1  # the line is back
    assert "R1" in ops.racks.busy_racks and "R1" not in ops.racks.location_of  # the rack is on the robot
    ops.step_done(task.task_id, 2, 14.0)  # late feedback of the failed task is ignored
    assert ops.orders["O1"].lines_picked == 0
    ops.update_robot("robot_0", (3, 1))
    assert ops.idle_robots() == ["robot_1"]  # the failed robot stays out of service
    (again,) = ops.assign(15.0)
    assert again.robot == "robot_1" and again.rack == "R2"  # another rack with the SKU
    ops.rack_recovered("R1", "L4", 60.0)
    assert ops.racks.rack_at["L4"] == "R1" and ops.racks.location_of["R1"] == "L4" and "R1" not in ops.racks.busy_racks
    assert task.return_location == "L4" and "L4" not in ops.racks.reserved_locations


def test_task_progress_rebinds_to_a_replacement_path():
    from warehouse_core.robot.task_progress import TaskProgress

    prog = TaskProgress([((2, 0), OP_LIFT), ((5, 0), OP_PICK)])
    prog.bind_path([((0, 0), 0), ((1, 0), 0), ((2, 0), OP_LIFT), ((3, 0), 0), ((4, 0), 0), ((5, 0), OP_PICK)])
    assert prog.update(3, op_running=False) == 1
    prog.rebind(0)  # a repair: a new path from where the robot stands, (3, 0)
    assert prog.arrivals == [2] and prog.completed == 1
    assert prog.extend_path([((3, 0), 0), ((3, 0), 0), ((4, 0), 0), ((5, 0), OP_PICK)], 0)
    assert prog.arrivals == [2, 3]
    assert prog.update(3, op_running=False) == 2 and prog.done


def test_a_robot_too_low_for_the_visit_is_sent_to_charge_instead():
    from warehouse_core.maps.layout import Charger
    from warehouse_core.ops.operations import TYPE_CHARGE

    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}}, chargers=[Charger("C1", (7, 4))],
                   config=OpsConfig(energy_per_step=0.02, charge_below=0.3))
    ops.submit(order("O1", ("A", 1)), 0)
    ops.update_robot("robot_0", (0, 4), battery=0.4)  # above the threshold, not enough for ~14 cells
    assert ops.assign(0.0) == []
    assert len(ops.pending) == 1  # the visit was not lost
    (charge,) = ops.assign(1.0)
    assert charge.type == TYPE_CHARGE and charge.robot == "robot_0"


def test_a_rack_that_would_not_lift_is_left_alone_then_tried_again():
    ops = ops_with({"R1": {"A": 9, "B": 9}, "R2": {"A": 9}, "R3": {}})
    ops.submit(order("O1", ("A", 1), ("B", 1)), 0)
    ops.update_robot("robot_0", (3, 0))
    (task,) = ops.assign(0.0)
    assert task.rack == "R1"  # one visit serves both lines
    ops.lift_failed(task.task_id, 10.0, "robot_0 could not lift rack R1")
    assert task.state == TASK_FAILED and ops.racks.lift_failures == 1
    assert ops.racks.location_of["R1"] == "L1" and "R1" not in ops.racks.busy_racks  # it still stands there
    assert len(ops.pending) == 2  # nothing lost
    (event,) = [e for e in ops.drain_events() if isinstance(e, TaskEvent) and e.state == TASK_FAILED]
    assert "could not lift" in event.message
    ops.update_robot("robot_0", (3, 0))
    (other,) = ops.assign(11.0)
    assert other.rack == "R2" and [ln.sku for ln in other.lines] == ["A"]  # A from another rack
    ops.task_finished(other.task_id, True, 60.0)
    ops.update_robot("robot_0", (3, 0))
    assert ops.assign(100.0) == []  # B is only on R1, out of service: the line waits
    assert len(ops.pending) == 1 and ops.orders["O1"].state != ORDER_COMPLETED
    (retry,) = ops.assign(10.0 + ops.config.rack_retry_after)
    assert retry.rack == "R1" and [ln.sku for ln in retry.lines] == ["B"]
    ops.task_finished(retry.task_id, True, 700.0)
    assert ops.orders["O1"].state == ORDER_COMPLETED


def test_lift_failed_ignores_finished_and_unknown_tasks():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    ops.submit(order("O1", ("A", 1)), 0)
    ops.update_robot("robot_0", (3, 0))
    (task,) = ops.assign(0.0)
    ops.task_finished(task.task_id, True, 50.0)
    ops.lift_failed(task.task_id, 51.0)
    ops.lift_failed("T999", 51.0)
    assert ops.racks.lift_failures == 0 and not ops.racks.out_of_service
    with pytest.raises(ValueError, match="rack_retry_after"):
        OpsConfig(rack_retry_after=0.0)


def test_a_cancelled_order_leaves_no_line_behind_and_picks_nothing_twice():
    from warehouse_core.ops.operations import ORDER_CANCELLED

    ops = ops_with({"R1": {"A": 9}, "R2": {"B": 9}, "R3": {}})
    ops.submit(order("O1", ("A", 2)), 0)  # its rack will be on its way
    ops.submit(order("O2", ("B", 3)), 0)  # still waiting for a rack
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(0.0)
    on_way = task.lines[0].order_id
    waiting = "O2" if on_way == "O1" else "O1"
    assert ops.cancel_order(waiting, 1.0) == ""
    assert not ops.pending and ops.cancel_order(waiting, 2.0) == f"order {waiting} is cancelled already"
    assert ops.cancel_order("nope", 2.0) == "unknown order 'nope'"
    assert ops.cancel_order(on_way, 3.0) == ""
    ops.step_done(task.task_id, 2, 50.0)  # the rack arrives: the cancelled line is not picked
    ops.task_finished(task.task_id, True, 80.0)
    rack, sku = task.rack, task.lines[0].sku
    assert ops.inventory.stock[rack][sku] == 9 and ops.inventory.available(rack, sku) == 9
    states = {e.order_id: e.state for e in ops.drain_events() if isinstance(e, OrderEvent)}
    assert states == {"O1": ORDER_CANCELLED, "O2": ORDER_CANCELLED}
    ops.update_robot("robot_0", (0, 0))
    assert ops.assign(100.0) == []  # nothing left to fetch for them


def test_cancelling_a_completed_order_is_refused():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    ops.submit(order("O1", ("A", 1)), 0)
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(0.0)
    ops.step_done(task.task_id, 2, 50.0)
    assert "picked in full already" in ops.cancel_order("O1", 60.0)


def test_an_operator_moves_an_open_orders_deadline():
    ops = ops_with({"R1": {"A": 9}, "R2": {}, "R3": {}})
    ops.submit(order("O1", ("A", 1), deadline=3600.0), 0)
    assert ops.set_deadline("O1", 5.0, 10.0) == "deadline 5.0 s is not after now (10.0 s)"
    assert ops.set_deadline("nope", 500.0, 10.0) == "unknown order 'nope'"
    assert ops.set_deadline("O1", 400.0, 10.0) == ""
    assert ops.orders["O1"].order.deadline == 400.0
    assert [line.deadline for line in ops.pending.values()] == [400.0]
    assert ops.dispatch.consolidator.orders["O1"].deadline == 400.0
    ops.cancel_order("O1", 20.0)
    assert ops.set_deadline("O1", 500.0, 30.0) == "order O1 is cancelled already"

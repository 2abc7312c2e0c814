"""The durable store and the journaled allocator state: what was accepted survives a restart."""

import dataclasses
import sqlite3
import sys
from pathlib import Path

import pytest

from warehouse_core.errors import InputError
from warehouse_core.ops.durable_ops import JournaledOps, task_from_json, task_to_json
from warehouse_core.ops.operations import (
    ORDER_COMPLETED,
    TASK_ACTIVE,
    TASK_ASSIGNED,
    TASK_DONE,
    TASK_FAILED,
    OrderEvent,
)
from warehouse_core.ops.store import SCHEMA_VERSION, StateStore

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from ops_helpers import STOCK, journaled, ops_with, order  # noqa: E402


def snapshot(ops: JournaledOps) -> dict:
    return {
        "orders": {oid: (r.state, r.lines_picked) for oid, r in ops.orders.items()},
        "pending": sorted(ops.pending),
        "tasks": {tid: (t.robot, t.state, t.step_index, [(p.order_id, p.index, p.rack) for p in t.lines])
                  for tid, t in ops.tasks.items()},
        "reserved": {r: {s: q for s, q in per.items() if q} for r, per in ops.inventory.reserved.items()
                     if any(per.values())},
        "stock": ops.inventory.stock,
        "busy": sorted(ops.racks.busy_racks),
        "station_load": dict(ops.racks.station_load),
        "reserved_locations": sorted(ops.racks.reserved_locations),
        "rack_at": dict(ops.racks.rack_at),
        "robot_tasks": {n: s.task for n, s in ops.robots.items() if s.task},
        "failed": sorted(ops.failed_robots),
        "out_of_service": dict(ops.racks.out_of_service),
        "lift_failures": ops.racks.lift_failures,
    }


def drive(ops: JournaledOps) -> list:
    """Orders, two visits, one done, one failed after its lift, one still in flight."""
    for i, sku in enumerate(["A", "B", "C", "A"]):
        assert ops.submit(order(f"O{i}", (sku, 1), consumer=f"C{i}"), 0)[0]
    ops.update_robot("robot_0", (7, 4))
    ops.update_robot("robot_1", (0, 0))
    tasks = ops.assign(1.0)
    assert len(tasks) == 2
    a, b = tasks
    ops.step_done(a.task_id, 1, 5.0)
    ops.task_finished(a.task_id, True, 9.0)
    ops.step_done(b.task_id, 1, 6.0)
    ops.robot_failed(b.robot, 7.0, "test fault")
    ops.rack_recovered(b.rack, "L4", 8.0)
    ops.update_robot("robot_0", (2, 2))
    return ops.assign(10.0)


def test_a_failed_lift_survives_a_restart(tmp_path):
    ops = journaled(tmp_path / "state.db")
    assert ops.submit(order("O1", ("B", 1)), 0)[0]
    ops.update_robot("robot_0", (3, 0))
    (task,) = ops.assign(1.0)
    ops.lift_failed(task.task_id, 5.0, "would not come up")
    ops.tick(5.0)  # retires the failed visit, as a recovery does
    before = snapshot(ops)
    assert before["out_of_service"] == {"R1": 5.0 + ops.config.rack_retry_after}
    again = journaled(tmp_path / "state.db")
    again.recover()
    assert snapshot(again) == before
    again.update_robot("robot_0", (3, 0))
    assert again.assign(6.0) == []  # B is only on R1: it waits for the retry


def test_recover_restores_orders_tasks_reservations_and_racks(tmp_path):
    ops = journaled(tmp_path / "state.db")
    third = drive(ops)
    assert third and third[0].state == TASK_ASSIGNED
    before = snapshot(ops)
    again = journaled(tmp_path / "state.db")
    report = again.recover()
    assert snapshot(again) == before
    assert report.orders == 4 and [t.task_id for t in report.tasks_in_flight] == [third[0].task_id]
    # ids go on after the stored ones: a robot never sees a task id twice
    again.update_robot("robot_0", (2, 2))
    again.task_finished(third[0].task_id, True, 20.0)
    assert again.submit(order("O9", ("A", 1)), 21.0)[0]
    new = again.assign(22.0)
    assert new and all(t.task_id not in before["tasks"] for t in new)
    # the replayed events are the current state, once per order and task
    events = again.drain_events()
    assert sum(isinstance(e, OrderEvent) and e.order_id == "O0" and e.state == ORDER_COMPLETED
               for e in events) <= 1


def test_rows_follow_the_state(tmp_path):
    ops = journaled(tmp_path / "state.db")
    third = drive(ops)
    store = ops.store
    rows = {t.task_id: t for t in store.tasks()}
    states = sorted(t.state for t in rows.values())
    assert states == sorted([TASK_DONE, TASK_FAILED, TASK_ASSIGNED])
    assert {o.order_id for o in store.orders()} == {"O0", "O1", "O2", "O3"}
    assert task_from_json(task_to_json(third[0])).steps == third[0].steps
    assert "T000001" not in ops.tasks  # done: retired from memory, its row stays
    assert TASK_ACTIVE not in states  # the failed visit was active, its row says failed now


def test_a_repeated_submission_is_acknowledged_once(tmp_path):
    ops = journaled(tmp_path / "state.db")
    o = order("O1", ("A", 2))
    assert ops.submit(o, 0) == (True, "O1", "")
    assert ops.submit(o, 1) == (True, "O1", "")  # the first answer was lost: same answer, nothing added
    assert len(ops.pending) == 1
    assert not ops.submit(order("O1", ("A", 3)), 2)[0]  # same id, other content: refused
    assert sum(1 for e in ops.store.journal() if e.kind == "order") == 1


def test_wrong_schema_version_is_refused_by_name(tmp_path):
    path = tmp_path / "state.db"
    StateStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(InputError, match=rf"state.db: state store has schema version 999, this build reads "
                                         rf"version {SCHEMA_VERSION}"):
        StateStore(path)


def test_not_a_database_is_refused_by_name(tmp_path):
    path = tmp_path / "state.db"
    path.write_text("this is not sqlite\n" * 100)
    with pytest.raises(InputError, match="state.db: not a usable state store"):
        StateStore(path)


def test_wal_mode_and_order_source_answers(tmp_path):
    store = StateStore(tmp_path / "state.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.record_answer("O1", True, "")
    store.record_answer("O2", False, "no stock")
    other = StateStore(tmp_path / "state.db")  # a second process' view
    assert other.answered() == {"O1": True, "O2": False}


def test_replenishment_shifts_refill_the_racks_and_a_restart_replays_them(tmp_path):
    """Stock sold at the stations comes back at each shift (a long run would otherwise sell out
    and refuse orders); the shift is journaled, so a restarted allocator has the same stock."""
    base = ops_with({r: dict(s) for r, s in STOCK.items()})
    cfg = dataclasses.replace(base.config, replenish_every=100.0)
    ops = JournaledOps(base.layout, base.inventory, cfg, store=StateStore(tmp_path / "state.db"))
    assert ops.submit(order("O1", ("A", 4)), 0)[0]
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(1.0)
    ops.task_finished(task.task_id, True, 20.0)
    sold = ops.inventory.stock[task.lines[0].rack]["A"]
    assert sold == 5
    ops.tick(99.0)
    assert ops.replenishments == 0 and ops.inventory.stock[task.lines[0].rack]["A"] == 5
    assert ops.submit(order("O2", ("B", 2)), 99.5)[0]
    (task2,) = ops.assign(99.5)  # B reserved on R1 across the shift: the reservation stays
    ops.tick(100.0)
    assert ops.replenishments == 1 and ops.units_replenished == 4
    assert ops.inventory.stock == STOCK and ops.inventory.reserved["R1"]["B"] == 2
    ops.tick(150.0)
    assert ops.replenishments == 1  # the next shift is at 200 s
    ops.task_finished(task2.task_id, True, 160.0)
    assert ops.inventory.stock["R1"]["B"] == 7
    again = JournaledOps(base.layout, ops_with({r: dict(s) for r, s in STOCK.items()}).inventory, cfg,
                         store=StateStore(tmp_path / "state.db"))
    again.recover()
    assert snapshot(again)["stock"] == snapshot(ops)["stock"]
    assert again.restocking.replenished_at == 100.0 and again.replenishments == 1
    with pytest.raises(ValueError, match="replenish_every -1"):
        dataclasses.replace(base.config, replenish_every=-1.0)


def test_a_restart_keeps_the_promises_of_nearly_sold_out_stock(tmp_path):
    """Stock nearly gone, a visit in flight and lines promised: the replayed allocator has the same
    reservations and free stock, refuses and accepts the same orders, and serves every line."""
    tight = {"R1": {"A": 3}, "R2": {"A": 2}, "R3": {"C": 1}}
    ops = journaled(tmp_path / "state.db", tight)
    assert ops.submit(order("URGENT", ("A", 2), deadline=600.0), 0)[0]
    assert ops.submit(order("LATER", ("A", 3), deadline=3600.0), 0)[0]
    ops.update_robot("robot_0", (7, 4))
    (first,) = ops.assign(1.0)
    rest = {("R2", "A"): 2, ("R1", "A"): 3}
    rest.pop((first.rack, "A"))  # the other line keeps the other rack
    assert (first.rack, first.lines[0].quantity) in (("R1", 3), ("R2", 2))  # 2 units on R1 would strand 3
    before = snapshot(ops)
    again = journaled(tmp_path / "state.db", tight)
    again.recover()
    assert snapshot(again) == before
    for one in (ops, again):
        assert {(r, s): one.book.promises.promised(r, s) for r in tight for s in "AC"
                if one.book.promises.promised(r, s)} == rest
        assert "0 are free" in one.submit(order("MORE", ("A", 1)), 2.0)[2]
        assert one.submit(order("C1", ("C", 1)), 2.0)[0]
        one.update_robot("robot_1", (7, 0))
        (second,) = one.assign(3.0)
        assert [(second.rack, second.lines[0].sku)] == list(rest)


def test_opening_waits_while_another_process_holds_the_new_file(tmp_path):
    """Processes of a run open the state file at once: switching it to WAL while another process
    holds it locked waits until that one lets go (SQLite's busy wait, or connect_wal's retry where
    SQLite refuses at once), it is not refused."""
    import subprocess
    import time

    from warehouse_core.ops.store import connect_wal

    path = tmp_path / "state.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "db.execute('CREATE TABLE t (x)')\n"
        "print('locked', flush=True)\n"
        "time.sleep(1.0)\n"
        "db.execute('COMMIT')\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        db = connect_wal(path, busy_timeout_s=10.0)
        assert time.monotonic() - t0 > 0.3  # it waited for the other process
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()
    finally:
        holder.wait(timeout=10)


def test_a_cancellation_is_journaled_with_who_asked_and_survives_a_restart(tmp_path):
    from warehouse_core.ops.operations import ORDER_CANCELLED

    ops = journaled(tmp_path / "state.db")
    assert ops.submit(order("O1", ("C", 2)), 0)[0] and ops.submit(order("O2", ("A", 1), consumer="C2"), 0)[0]
    assert ops.cancel_order("O1", 5.0, requester="api:127.0.0.1") == ""
    assert ops.cancel_order("O1", 6.0, requester="api:127.0.0.1") != ""  # refused: not journaled
    entries = [e for e in ops.store.journal() if e.kind == "cancel_order"]
    assert [(e.data["order_id"], e.data["requester"], e.time) for e in entries] == [("O1", "api:127.0.0.1", 5.0)]
    again = journaled(tmp_path / "state.db")
    report = again.recover()
    assert again.orders["O1"].state == ORDER_CANCELLED and report.open_orders == 1
    assert [line.order_id for line in again.pending.values()] == ["O2"]


def test_a_new_deadline_is_journaled_and_survives_a_restart(tmp_path):
    ops = journaled(tmp_path / "state.db")
    assert ops.submit(order("O1", ("C", 1), deadline=3600.0), 0)[0]
    assert ops.set_deadline("O1", 900.0, 5.0, requester="console") == ""
    again = journaled(tmp_path / "state.db")
    again.recover()
    assert again.orders["O1"].order.deadline == 900.0
    assert [line.deadline for line in again.pending.values()] == [900.0]
    assert ops.store.order("O1") is not None

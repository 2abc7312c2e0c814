"""The durable floor: a snapshot and the journaled steps after it give back exactly the floor a
killed simulator had (robots, racks, queues, faults, random stalls), and time goes on from there."""

from __future__ import annotations

import json
import math

import pytest

from warehouse_core.errors import InputError
from warehouse_core.sim.fault_injection import FloorFaults
from warehouse_core.sim.floor_journal import FloorJournal
from warehouse_core.sim.floor_sim import (
    DelayInjector,
    FloorSim,
    Kinematics,
    Waypoint,
    waypoint_from_json,
    waypoint_to_json,
)
from warehouse_core.sim.scenario import Fault
from warehouse_core.tasks import MODE_FAILED, OP_DROP, OP_LIFT

DT = 0.2


def _row(first: int, last: int, y: int, lift_at: int = -1, drop_at: int = -1) -> list[Waypoint]:
    """Waypoints ``first..last`` along +x on row ``y`` (1 m cells), lifting / dropping on arrival."""
    ops = {lift_at: OP_LIFT, drop_at: OP_DROP}
    return [Waypoint(i, (i, y), i + 0.5, y + 0.5, ops.get(i, 0), 2.0 if i in ops else 0.0)
            for i in range(first, last + 1)]


def _floor() -> FloorSim:
    sim = FloorSim(Kinematics(1.5, 1.0, math.pi / 2), racks={(3, 0): "rack_a", (5, 2): "rack_b", (7, 4): "rack_c"})
    for name, y in (("robot_0", 0), ("robot_1", 2), ("robot_2", 4)):
        sim.add_robot(name, (0, y), 0.5, y + 0.5)
    sim.jammed.add("rack_b")
    sim.obstacles.add((9, 4))
    return sim


# the inputs a simulator gets before some steps: (step, robot, plan, first index, waypoints)
COMMANDS = [(1, "robot_0", 1, 1, _row(1, 4, 0, lift_at=3)), (1, "robot_1", 1, 1, _row(1, 3, 2)),
            (6, "robot_1", 1, 4, _row(4, 6, 2, lift_at=5)), (9, "robot_0", 1, 5, _row(5, 8, 0, drop_at=8)),
            (12, "robot_2", 1, 1, _row(1, 10, 4, lift_at=7)), (60, "robot_1", 2, 1, _row(1, 2, 2))]


def _inputs(step: int) -> list[list]:
    return [["drive", robot, plan, first, [waypoint_to_json(wp) for wp in wps]]
            for at, robot, plan, first, wps in COMMANDS if at == step]


def _apply(sim: FloorSim, inputs: list[list]) -> None:
    for _, robot, plan, first, wps in inputs:
        sim.command(robot, plan, first, [waypoint_from_json(wp) for wp in wps])


def _step(sim: FloorSim, delays: DelayInjector, step: int) -> None:
    if step == 20:
        sim.fail("robot_1")
    delays.apply(sim, DT)
    sim.step(DT)


def test_a_restored_snapshot_steps_on_exactly_like_the_floor_it_was_taken_of():
    sim, delays = _floor(), DelayInjector(400.0, (0.5, 2.0), 3)
    for k in range(1, 41):
        _apply(sim, _inputs(k))
        _step(sim, delays, k)
    assert sim.robots["robot_0"].carrying == "rack_a" and sim.robots["robot_0"].queue  # mid-run, loaded
    assert sim.robots["robot_1"].failed and sim.robots["robot_2"].queue
    # through JSON, as the journal stores it (tuples become lists and must come back as tuples)
    snap, rng = json.loads(json.dumps(sim.snapshot())), json.loads(json.dumps(delays.state()))
    copy, copy_delays = FloorSim(sim.kin), DelayInjector(400.0, (0.5, 2.0), 99)
    copy.restore(snap)
    copy_delays.set_state(rng)
    assert copy.snapshot() == sim.snapshot()
    for k in range(41, 160):
        for floor, d in ((sim, delays), (copy, copy_delays)):
            _apply(floor, _inputs(k))
            _step(floor, d, k)
        assert copy.snapshot() == sim.snapshot(), k
    # it all happened: rack_a carried to its drop, rack_c lifted, the failed robot ignored its new plan,
    # the robot before the obstacle waits there, robots were stalled at random
    assert sim.racks == {(8, 0): "rack_a", (5, 2): "rack_b"} and sim.robots["robot_2"].carrying == "rack_c"
    assert sim.robots["robot_1"].mode == MODE_FAILED and sim.robots["robot_1"].plan_id == 1
    assert sim.robots["robot_2"].cell == (8, 4) and sum(r.stalls for r in sim.robots.values()) > 0


def test_the_journal_gives_back_the_last_snapshot_and_the_steps_after_it(tmp_path):
    journal = FloorJournal(tmp_path / "state.db")
    assert journal.resume() is None  # a new run
    journal.snapshot(0, {"floor": "start"})
    for k in range(1, 6):
        journal.step(k, {"inputs": [k]})
    journal.snapshot(5, {"floor": "after 5"})
    journal.step(6, {"inputs": [6]})
    journal.step(7, {"inputs": [7]})
    journal.close()
    resume = FloorJournal(tmp_path / "state.db").resume()  # another process, later
    assert resume.tick == 5 and resume.snapshot == {"floor": "after 5"}
    assert resume.steps == [(6, {"inputs": [6]}), (7, {"inputs": [7]})]


def test_a_gap_in_the_journal_is_refused_naming_the_file(tmp_path):
    journal = FloorJournal(tmp_path / "state.db")
    journal.snapshot(0, {})
    journal.step(1, {})
    journal.step(3, {})
    with pytest.raises(InputError, match="misses entry 2"):
        journal.resume()


@pytest.mark.parametrize("stop", [10, 47, 79])
def test_a_simulator_killed_at_any_step_resumes_where_it_stood(tmp_path, stop):
    """Journal as the node does (write-ahead inputs, a snapshot every few steps), stop at a step,
    resume in a fresh floor: it equals the floor that was never stopped, at the same time."""
    reference, ref_delays = _floor(), DelayInjector(400.0, (0.5, 2.0), 3)
    journal = FloorJournal(tmp_path / "state.db")
    journal.snapshot(0, {"floor": reference.snapshot(), "delays": ref_delays.state()})
    for k in range(1, stop + 1):
        inputs = _inputs(k)
        journal.step(k, {"inputs": inputs})
        _apply(reference, inputs)
        _step(reference, ref_delays, k)
        if k % 10 == 0:
            journal.snapshot(k, {"floor": reference.snapshot(), "delays": ref_delays.state()})
    resume = FloorJournal(tmp_path / "state.db").resume()
    assert resume.tick == stop // 10 * 10 and [k for k, _ in resume.steps] == list(range(resume.tick + 1, stop + 1))
    floor, delays = FloorSim(reference.kin), DelayInjector(400.0, (0.5, 2.0), 3)
    floor.restore(resume.snapshot["floor"])
    delays.set_state(resume.snapshot["delays"])
    for k, step in resume.steps:
        _apply(floor, step["inputs"])
        _step(floor, delays, k)
    assert floor.snapshot() == reference.snapshot()
    assert floor.time == pytest.approx(stop * DT)


def test_fault_schedules_resume_with_what_is_left_to_do():
    sim = _floor()
    faults = FloorFaults([Fault("rack_jammed", 1.0, rack="rack_a", seconds=5.0),
                          Fault("robot_silent", 2.0, robot="robot_2", tow_after=30.0),
                          Fault("robot_fail", 50.0, robot="robot_0"),
                          Fault("blocked_cell", 3.0, cell=(6, 6), seconds=10.0)])
    while sim.time < 4.0:
        faults.step(sim)
        sim.step(DT)
    again = FloorFaults([])
    again.restore(json.loads(json.dumps(faults.snapshot())))
    assert again.snapshot() == faults.snapshot()
    assert [f.kind for f in again.pending] == ["robot_fail"]
    assert again.tows == [(32.0, "robot_2")] and again.clear_at and again.unjam_at == [(6.0, "rack_a")]
    assert isinstance(again.clear_at[0][1], tuple)


@pytest.mark.parametrize("robots", [5, 500])
def test_the_journal_costs_one_statement_per_step_and_one_transaction_per_snapshot_at_any_fleet_size(
        tmp_path, robots):
    """The journal is on the simulator's hot path: per step one INSERT (one implicit transaction; WAL
    with synchronous=NORMAL: no sync per commit), per snapshot one transaction of fixed size, whatever
    the number of robots (only the size of the JSON grows)."""
    sim = FloorSim(Kinematics(1.5, 1.0, math.pi / 2))
    for i in range(robots):
        sim.add_robot(f"robot_{i}", (i, 0), i + 0.5, 0.5)
    journal = FloorJournal(tmp_path / "state.db")
    assert journal.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    statements: list[str] = []
    journal.db.set_trace_callback(statements.append)
    journal.snapshot(0, {"floor": sim.snapshot()})
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "DELETE", "DELETE", "COMMIT"]
    for k in range(1, 4):
        statements.clear()
        drives = [["drive", name, 1, 1, [waypoint_to_json(wp) for wp in _row(1, 3, 0)]] for name in sim.robots]
        journal.step(k, {"inputs": drives, "gating": {"nodes": {"robots_0": k * DT}}, "held": False})
        assert len(statements) == 1 and statements[0].startswith("INSERT OR REPLACE INTO sim_ticks"), statements
        assert not journal.db.in_transaction  # committed with the statement: nothing left open

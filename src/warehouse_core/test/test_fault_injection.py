"""Scheduled floor faults (obstacles, stuck and failed robots, towing) and robot-planner link faults."""

import pytest

from warehouse_core.sim.fault_injection import FloorFaults
from warehouse_core.sim.floor_sim import FloorSim, Kinematics, Waypoint
from warehouse_core.sim.link_faults import LinkFaults
from warehouse_core.sim.scenario import Fault


def _sim():
    sim = FloorSim(Kinematics())
    sim.add_robot("a", (0, 0), 0.0, 0.0)
    sim.add_robot("b", (0, 3), 0.0, 3.0)
    return sim


def _line(y0, n):  # waypoints along x from (0, y0)
    return [Waypoint(i, (i, y0), float(i), float(y0)) for i in range(1, n + 1)]


def test_an_obstacle_waits_for_a_free_cell_then_no_robot_drives_into_it_until_cleared():
    sim = _sim()
    faults = FloorFaults([Fault("blocked_cell", 0.0, cell=(0, 3), seconds=20.0),
                          Fault("blocked_cell", 0.0, cell=(3, 0), seconds=20.0)])
    notes, _ = faults.step(sim)
    # (0, 3): robot b stands there, not placed yet; (3, 0): free, placed
    assert [n["cell"] for n in notes] == [[3, 0]] and sim.obstacles == {(3, 0)}
    assert sim.command("a", 1, 1, _line(0, 5))
    assert sim.command("b", 1, 1, _line(3, 2))  # b leaves (0, 3)
    placed_b = None
    for _ in range(100):  # 10 s
        sim.step(0.1)
        notes, _ = faults.step(sim)
        placed_b = placed_b or next((n for n in notes if n["cell"] == [0, 3]), None)
        assert sim.robots["a"].x < 2.0 + 1e-9  # stands at (2, 0), before the obstacle
    assert placed_b is not None and placed_b["delayed_s"] > 0
    assert sim.robots["a"].cell == (2, 0) and sim.robots["a"].v == 0.0
    for _ in range(150):  # the obstacle at (3, 0) is cleared at t = 20 s: a drives on
        sim.step(0.1)
        notes, _ = faults.step(sim)
    assert sim.robots["a"].cell == (5, 0) and (3, 0) not in sim.obstacles


def test_stuck_failed_and_silent_robots_at_their_times():
    sim = _sim()
    faults = FloorFaults([Fault("robot_stuck", 1.0, robot="a", seconds=5.0), Fault("robot_fail", 2.0, robot="b"),
                          Fault("robot_silent", 1.0, robot="a", tow_after=3.0)])
    sim.command("a", 1, 1, _line(0, 3))
    seen, failed = [], []
    for _ in range(60):
        notes, fail = faults.step(sim)
        seen += [(n["kind"], n["time"]) for n in notes]
        failed += [(name, round(sim.time, 1)) for name, _ in fail]
        sim.step(0.25)  # exact in binary: fault times are hit exactly
    assert seen == [("robot_stuck", 1.0), ("robot_silent", 1.0), ("robot_fail", 2.0)]
    assert failed == [("b", 2.0), ("a", 4.0)]  # b failed at 2 s, silent a towed 3 s after 1 s
    assert sim.robots["a"].stalls == 1


def test_link_fault_delays_in_order_drops_and_ends():
    link = LinkFaults([Fault("link_fault", 10.0, seconds=5.0, delay=1.0, loss=0.3)], seed=4)
    assert link.admit(9.9, "early")  # before the fault: handled now
    got = []
    for k in range(500):  # 500 messages in [10, 15)
        t = 10.0 + k * 0.01
        if link.admit(t, k):
            got.append(k)
        got += link.due(t)
    got += link.due(16.1)
    assert got == sorted(got)  # delayed, never reordered
    assert 0.2 * 500 < link.dropped_in < 0.4 * 500 and len(got) == 500 - link.dropped_in
    assert link.admit(16.2, "late") and link.due(16.2) == []
    drops = sum(link.drop_outbound(12.0) for _ in range(1000))
    assert drops == pytest.approx(300, abs=60) and not link.drop_outbound(20.0)
    notes = link.announcements(12.0) + link.announcements(13.0) + link.announcements(15.0)
    assert [n["event"] for n in notes] == ["fault_injected", "fault_cleared"]
    assert notes[1]["states_dropped"] == link.dropped_in


def test_a_jammed_rack_does_not_come_up_until_the_jam_is_cleared():
    sim = FloorSim(Kinematics(), racks={(2, 0): "R7"})
    sim.add_robot("a", (0, 0), 0.0, 0.0)
    faults = FloorFaults([Fault("rack_jammed", 0.0, rack="R7", seconds=30.0)])
    notes, _ = faults.step(sim)
    assert notes == [{"event": "fault_injected", "kind": "rack_jammed", "time": 0.0, "rack": "R7", "seconds": 30.0}]
    lift = [Waypoint(1, (1, 0), 1.0, 0.0), Waypoint(2, (2, 0), 2.0, 0.0, op=1, op_duration=1.0)]
    assert sim.command("a", 1, 1, lift)
    events = []
    for _ in range(100):  # 10 s
        events += sim.step(0.1)
        faults.step(sim)
    assert [(e.kind, e.rack) for e in events] == [("lift_failed", "R7")]
    assert sim.racks[(2, 0)] == "R7" and sim.robots["a"].carrying == ""  # the rack stays on the floor
    cleared = []
    for _ in range(250):  # to 35 s: the jam ends at 30 s
        sim.step(0.1)
        cleared += faults.step(sim)[0]
    assert [(n["event"], n["rack"]) for n in cleared] == [("fault_cleared", "R7")] and not sim.jammed
    assert sim.command("a", 1, 3, [Waypoint(3, (2, 0), 2.0, 0.0, op=1, op_duration=1.0)])
    events = []
    for _ in range(30):
        events += sim.step(0.1)
    assert [(e.kind, e.rack) for e in events] == [("lifted", "R7")] and sim.robots["a"].carrying == "R7"

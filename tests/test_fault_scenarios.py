"""Issue 8 items 2, 3, 7: the fault scenarios of config/scenarios/ run with ``./warehouse run --scenario``.

One short stack run per scenario file (several faults each): zero collisions on the simulator's
ground truth, zero lost orders, orders still complete after the faults, no unresolved deadlock,
and every fault is in the bag (``/sim/faults``) and in ``report.json``.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio, side_channels
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "config" / "scenarios"
STORE = bagio.typestore_with([ROOT / "src" / "warehouse_interfaces" / "msg"])


def run_cli(args, env, timeout):
    """``./warehouse ARGS`` as a child process (tests import mode: no sharing with test_run_integration)."""
    return subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", *args], cwd=ROOT,
                          env=env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True, timeout=timeout)


def run_scenario(tmp_path, env, name, *extra):
    out = tmp_path / "run"
    proc = run_cli(["run", "--scenario", str(SCENARIOS / name), "--out", str(out), "--quiet", *extra], env,
                   timeout=420)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "faults" in proc.stdout  # the summary line
    return out, json.loads((out / "report.json").read_text())


def read(bag, topics):
    """[(topic, stamp or None, message)] of ``topics`` in recording order (side channels as their
    records: dicts with the keys of their JSON form)."""
    out = []
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic in topics]
        for conn, _t, raw in reader.messages(connections=conns):
            msg = STORE.deserialize_cdr(raw, conn.msgtype)
            record = side_channels.record(conn.topic, msg)
            if record is not None:
                out.append((conn.topic, None, record))
            else:
                out.append((conn.topic, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, msg))
    return out


def check_common(report, out, faults):
    assert report["faults_injected"] == faults
    assert report["collisions"] == 0
    assert report["orders_lost"] == 0
    assert report["unresolved_deadlocks"] == 0
    for key in ("faults_injected", "orders_lost", "deadlocks_detected", "unresolved_deadlocks"):
        assert key in report, key
    events = read(out / "bag", {"/order_status"})
    done_late = [m for _, t, m in events if m.state == 3 and t > 160.0]
    assert len(done_late) >= 3, "the fleet stopped completing orders after the faults"
    assert report["orders_completed"] >= 0.9 * (report["orders_received"] - report["orders_rejected"])


def test_robot_faults_scenario(tmp_path, ros_env):
    """robot_3's base fails, robot_5's node dies (and is towed away), robot_1 is stuck for 90 s:
    the fleet goes on, every accepted order completes, the watchdog resolves what robot_1 holds up."""
    out, report = run_scenario(tmp_path, ros_env, "robot_faults.yaml")
    check_common(report, out, faults=3)
    assert report["robots"] == 8 and report["sim_duration_s"] == 480  # from the scenario file
    assert report["robot_failures"] == 2  # robot_3, and robot_5 when it was towed
    assert report["tasks_reallocated"] >= 1
    assert report["orders_completed"] == report["orders_received"] - report["orders_rejected"]
    records = read(out / "bag", {"/sim/faults", "/sim/events", "/planner/deadlocks", "/robot_5/map_pose"})
    faults = {m["kind"]: m for topic, _, m in records if topic == "/sim/faults" and m["event"] == "fault_injected"}
    assert set(faults) == {"robot_stuck", "robot_fail", "robot_silent"}
    assert faults["robot_stuck"]["robot"] == "robot_1" and faults["robot_stuck"]["time"] == pytest.approx(60, abs=0.5)
    failed = {m["robot"] for topic, _, m in records if topic == "/sim/events" and m["event"] == "robot_failed"}
    assert failed == {"robot_3", "robot_5"}
    # robot_5's node is dead from t = 100 s: no pose after it
    odom5 = [t for topic, t, _ in records if topic == "/robot_5/map_pose"]
    assert odom5 and max(odom5) < 101.0
    # robots stood still with a task (robot_1 stuck 90 s, robot_5's dead node, robots held up by them):
    # the watchdog saw it, recorded the chain and the reason, and every one was resolved
    detected = [m for topic, _, m in records if topic == "/planner/deadlocks" and m["event"] == "detected"]
    resolved = {m["id"] for topic, _, m in records if topic == "/planner/deadlocks" and m["event"] == "resolved"}
    assert report["deadlocks_detected"] == len(detected) >= 1
    assert all(d["chain"][0] == d["robot"] and "no progress" in d["reason"] for d in detected), detected
    assert {d["id"] for d in detected} == resolved


def test_floor_and_link_faults_scenario(tmp_path, ros_env):
    """An obstacle on an aisle cell for 150 s (robots are planned around it and never drive into it)
    and 60 s of delayed and lost messages between the robots and the planner."""
    out, report = run_scenario(tmp_path, ros_env, "floor_and_link_faults.yaml", "--robots", "8")
    check_common(report, out, faults=2)
    records = read(out / "bag", {"/sim/faults", "/fleet/plan"})
    notes = [m for topic, _, m in records if topic == "/sim/faults"]
    placed = next(m for m in notes if m["kind"] == "blocked_cell" and m["event"] == "fault_injected")
    cleared = next(m for m in notes if m["kind"] == "blocked_cell" and m["event"] == "fault_cleared")
    link_end = next(m for m in notes if m["kind"] == "link_fault" and m["event"] == "fault_cleared")
    assert link_end["states_dropped"] > 0 and link_end["states_delayed"] > 0 and link_end["releases_dropped"] > 0
    cell = tuple(placed["cell"])
    t0, t1 = placed["time"], cleared["time"]
    assert t1 - t0 == pytest.approx(150, abs=1.0)
    # the floor: no robot centre in the blocked cell while it was blocked (ground truth, every tick)
    layout = load_layout(ROOT / "maps" / "warehouse_layout.yaml")
    cx, cy = layout.cell_to_world(cell)
    for track in bagio.read_fleet_state_tracks(out / "bag", STORE):
        for t, x, y in zip(track.t, track.x, track.y):
            if t0 < t < t1:
                assert max(abs(x - cx), abs(y - cy)) > 0.5, (track.name, t, x, y)
    # the planner: no path planned after the obstacle was known goes through the cell
    through = [(t, m.robot_id) for topic, t, plan in records if topic == "/fleet/plan" for m in plan.paths
               if t0 + 1.0 < t < t1 and any((w.cell_x, w.cell_y) == cell for w in m.waypoints)]
    assert through == []
    used = [t for topic, t, plan in records if topic == "/fleet/plan" for m in plan.paths
            if any((w.cell_x, w.cell_y) == cell for w in m.waypoints)]
    assert used, "the cell is on no robot's path at all: the scenario tests nothing"


def test_rack_faults_scenario(tmp_path, ros_env):
    """Three racks cannot be lifted for 200 s: each robot that finds its rack will not come up
    gives the visit up and stays in service, the lines are served from other racks or wait for the
    rack's retry, and every accepted order completes."""
    out, report = run_scenario(tmp_path, ros_env, "rack_faults.yaml")
    check_common(report, out, faults=3)
    assert report["orders_completed"] == report["orders_received"] - report["orders_rejected"]
    assert report["robot_failures"] == 0
    records = read(out / "bag", {"/sim/faults", "/sim/events", "/task_status"})
    jammed = {m["rack"]: m["time"] for topic, _, m in records
              if topic == "/sim/faults" and m["event"] == "fault_cleared" and m["kind"] == "rack_jammed"}
    assert set(jammed) == {"R0023", "R0064", "R0015"} and all(t == pytest.approx(200, abs=0.5) for t in jammed.values())
    lifts = [m for topic, _, m in records if topic == "/sim/events" and m["event"] == "lift_failed"]
    assert report["lift_failures"] == len(lifts) >= 2
    assert {m["rack"] for m in lifts} <= set(jammed) and all(m["time"] < 200.5 for m in lifts)
    status = [(t, m) for topic, t, m in records if topic == "/task_status"]
    failed = [(t, m) for t, m in status if m.state == m.STATE_FAILED]
    # every failed lift failed its visit, said why, and nothing else failed
    assert len(failed) == len(lifts) and all("could not lift rack" in m.message for _, m in failed)
    assert sorted((m.robot_id, m.rack_id) for _, m in failed) == sorted((m["robot"], m["rack"]) for m in lifts)
    # the robots stayed in service: each did a rack visit after its failed lift
    for t_fail, m in failed:
        assert any(d.robot_id == m.robot_id and d.state == d.STATE_DONE and t > t_fail for t, d in status), m.robot_id
    # the allocator left each rack alone for its rack_retry_after (100 s) after a failed lift
    for t_fail, m in failed:
        assert not any(d.rack_id == m.rack_id and d.state == d.STATE_ASSIGNED and t_fail < t < t_fail + 99.0
                       for t, d in status), m.rack_id


def test_scenario_robots_and_duration_are_overridable_and_bad_files_refused(tmp_path, ros_env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults:\n  - {at: 10, kind: robot_stuck, robot: robot_1, seconds: -3}\n")
    proc = run_cli(["run", "--scenario", str(bad), "--out", str(tmp_path / "r")], ros_env, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}:faults[0].seconds" in proc.stderr and "positive" in proc.stderr
    # a robot the fleet of this run does not have: refused before anything starts
    proc = run_cli(["run", "--scenario", str(SCENARIOS / "robot_faults.yaml"), "--robots", "4",
                    "--out", str(tmp_path / "r2")], ros_env, timeout=60)
    assert proc.returncode == 2 and "faults[2].robot" in proc.stderr and "robot_5" in proc.stderr
    assert not (tmp_path / "r2" / "bag").exists()
    sc = load_scenario(SCENARIOS / "robot_faults.yaml")
    assert sc.robots == 8 and math.isclose(sc.duration, 480)

"""The side channels typed, and read from bags of both forms.

The same run's side channels are written twice: as the nodes publish them now (the messages of
``conversions``, serialised by rclpy) and as they did before (``std_msgs/String`` with JSON, or
``k=v`` text for the status lines). ``./warehouse analyze`` reads both bags into the same
``side_channels`` figures; every message turns back into the record it was made from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rclpy.serialization import serialize_message

from warehouse_core import topics
from warehouse_core.analysis import side_channels
from warehouse_core.analysis.analyze import AnalyzeOptions, analyze_bag
from warehouse_core.analysis.synthetic_bag import OdometryBagWriter
from warehouse_core.fleet.deadlock_watch import Deadlock
from warehouse_interfaces.msg import DeadlockReport, FaultEvent, SimEvent, SimStatus
from warehouse_nodes import conversions as conv

ROOT = Path(__file__).resolve().parents[1]
MSG_DIR = ROOT / "src" / "warehouse_interfaces" / "msg"
T0 = 1_700_000_000 * 10**9

# what the simulator, the planner and the allocator said during a 20 s run, in their JSON form
SIM_EVENTS = [
    {"event": "robot_failed", "robot": "amr_1", "reason": "scheduled fault at t=3 s", "time": 3.0},
    {"event": "lift_failed", "robot": "amr_2", "rack": "R9", "waypoint": 4, "time": 5.0},
    {"event": "robot_removed", "robot": "amr_1", "rack": "R1", "location": "L7", "time": 9.0},
]
FAULTS = [
    {"event": "fault_injected", "kind": "robot_fail", "time": 3.0, "robot": "amr_1"},
    {"event": "fault_injected", "kind": "blocked_cell", "time": 4.0, "cell": [3, 4], "seconds": 10.0, "delayed_s": 0.4},
    {"event": "fault_injected", "kind": "link_fault", "time": 6.0, "seconds": 5.0, "delay": 0.5, "loss": 0.2},
    {"event": "fault_cleared", "kind": "link_fault", "time": 11.0, "states_dropped": 7, "states_delayed": 30,
     "releases_dropped": 2},
    {"event": "fault_cleared", "kind": "blocked_cell", "time": 14.0, "cell": [3, 4]},
    {"event": "fault_skipped", "kind": "robot_stuck", "time": 15.0, "robot": "amr_1",
     "why": "robot no longer on the floor"},
]
DEADLOCKS = [Deadlock(1, 7.0, ("amr_3", "amr_2"), False, "amr_3: no progress for 60 s"),
             Deadlock(2, 12.0, ("amr_2", "amr_3", "amr_2"), True, "amr_2: no progress for 60 s, a cycle")]
OPEN_ORDERS = [(1.0, ["O1", "O2"]), (19.0, ["O2"])]
PLANNER = {"plan_repairs": 2, "robot_failures": 1, "lag_repairs": 0, "freeze_timeouts": 0, "deadlocks": 2,
           "unresolved_deadlocks": 1, "priority_boosts": 3, "watchdog_replans": 1}
SIM = {"stalls": 5, "node_stalls": 1, "allocator_stalls": 0, "injected_delays": 2, "robot_failures": 1}
FORECAST = {"model": "auto", "ets_model": "ANA", "mase": 0.8123, "seasonal_naive_mase": 1.0441, "series": 500,
            "periods": 56, "folds": 1, "horizon": 7, "source": "seeded", "computed_in_s": 1.25}


def typed_messages() -> list[tuple[float, str, object]]:
    """(sim time, topic, message) as the nodes publish them now."""
    out = [(e["time"], topics.SIM_EVENTS.name, conv.sim_event_msg(
        e["event"], e["robot"], e["time"], reason=e.get("reason", ""), rack=e.get("rack", ""),
        location=e.get("location", ""), waypoint=e.get("waypoint", -1))) for e in SIM_EVENTS]
    out += [(f["time"], topics.SIM_FAULTS.name, conv.fault_event_msg(f, f["time"])) for f in FAULTS]
    out += [(d.detected_at, topics.PLANNER_DEADLOCKS.name, conv.deadlock_detected_msg(d)) for d in DEADLOCKS]
    out.append((16.0, topics.PLANNER_DEADLOCKS.name, conv.deadlock_resolved_msg(DEADLOCKS[0], 16.0)))
    out += [(t, topics.ALLOCATOR_OPEN_ORDERS.name, conv.open_orders_msg(ids, t)) for t, ids in OPEN_ORDERS]
    out.append((17.0, topics.PLANNER_STATUS.name, conv.planner_status_msg(PLANNER, 17.0)))
    out.append((20.0, topics.SIM_STATUS.name, conv.sim_status_msg("stopped", SIM, 20.0)))
    out.append((0.5, topics.FORECAST_SUMMARY.name, conv.forecast_summary_msg(FORECAST, conv.to_time(0.5))))
    return sorted(out, key=lambda m: m[0])


def legacy_messages() -> list[tuple[float, str, str]]:
    """(sim time, topic, String text) as the nodes published them before the messages."""
    out = [(e["time"], topics.SIM_EVENTS.name, json.dumps(e)) for e in SIM_EVENTS]
    out += [(f["time"], topics.SIM_FAULTS.name, json.dumps(f)) for f in FAULTS]
    out += [(d.detected_at, topics.PLANNER_DEADLOCKS.name, json.dumps(d.describe())) for d in DEADLOCKS]
    out.append((16.0, topics.PLANNER_DEADLOCKS.name, json.dumps({"event": "resolved", "id": 1, "time": 16.0,
                                                                   "after_s": 9.0})))
    out += [(t, topics.ALLOCATOR_OPEN_ORDERS.name, json.dumps({"time": t, "open": ids})) for t, ids in OPEN_ORDERS]
    out.append((17.0, topics.PLANNER_STATUS.name, " ".join(f"{k}={v}" for k, v in PLANNER.items())))
    out.append((20.0, topics.SIM_STATUS.name, "stopped t=20.0 " + " ".join(f"{k}={v}" for k, v in SIM.items())))
    out.append((0.5, topics.FORECAST_SUMMARY.name, json.dumps(FORECAST)))
    return sorted(out, key=lambda m: m[0])


def write_bag(path: Path, typed: bool) -> None:
    """Two robots' odometry for 20 s and the side channels in one of their two forms."""
    with OdometryBagWriter(path, "mcap", [MSG_DIR]) as w:
        for r in (1, 2):
            w.add_odometry(f"/amr_{r}/odom")
        msgs = typed_messages() if typed else legacy_messages()
        for k in range(201):
            t = k / 10
            for r in (1, 2):
                w.odometry(f"/amr_{r}/odom", T0 + k * 10**8, 0.1 * k, 2.0 * r)
            for t_msg, topic, msg in [m for m in msgs if t - 0.05 < m[0] <= t + 0.05]:
                if typed:
                    w.bag.add_topic(topic, topics.by_name(topic).msgtype)
                    w.bag.write(topic, T0 + int(t_msg * 1e9), serialize_message(msg))
                else:
                    w.message(topic, topics.LEGACY_STRING, T0 + int(t_msg * 1e9),
                              w.store.types[topics.LEGACY_STRING](data=msg))


@pytest.mark.parametrize("k", range(len(legacy_messages())))
def test_each_typed_message_reads_back_as_its_json_record(k):
    """Every key of the old JSON (or k=v line) has the same value in the typed message's record
    (both lists are in the same order: by time, then as written)."""
    (_, topic, text), (_, typed_topic, typed) = legacy_messages()[k], typed_messages()[k]
    assert typed_topic == topic
    old, new = side_channels.record(topic, _String(text)), side_channels.record(topic, typed)
    assert {key: new.get(key) for key in old} == old, (old, new)


class _String:
    """A std_msgs/String as a bag reader hands it over."""

    def __init__(self, data: str) -> None:
        self.data = data


def test_codes_by_name_are_the_message_constants():
    assert side_channels.SIM_EVENTS == {SimEvent.EVENT_ROBOT_FAILED: "robot_failed",
                                        SimEvent.EVENT_ROBOT_REMOVED: "robot_removed",
                                        SimEvent.EVENT_LIFT_FAILED: "lift_failed",
                                        SimEvent.EVENT_DROP_FAILED: "drop_failed"}
    assert side_channels.FAULT_EVENTS == {FaultEvent.EVENT_INJECTED: "fault_injected",
                                          FaultEvent.EVENT_CLEARED: "fault_cleared",
                                          FaultEvent.EVENT_SKIPPED: "fault_skipped"}
    assert side_channels.DEADLOCK_EVENTS == {DeadlockReport.EVENT_DETECTED: "detected",
                                             DeadlockReport.EVENT_RESOLVED: "resolved"}
    assert side_channels.SIM_PHASES == {SimStatus.PHASE_STARTED: "started", SimStatus.PHASE_RUNNING: "running",
                                        SimStatus.PHASE_STOPPED: "stopped"}


def test_analyze_reads_old_and_new_bags_alike(tmp_path):
    results = {}
    for form, typed in (("string", False), ("typed", True)):
        bag = tmp_path / form
        write_bag(bag, typed)
        warnings: list[str] = []
        results[form] = analyze_bag(AnalyzeOptions(bag, tmp_path / f"out_{form}", msg_dirs=[MSG_DIR],
                                                   progress=False, plots=False), warnings.append)["side_channels"]
        assert warnings == [], warnings
        assert set(results[form].pop("forms").values()) == {form}
    assert results["string"] == results["typed"]
    s = results["typed"]
    assert s["faults_injected"] == {"blocked_cell": 1, "link_fault": 1, "robot_fail": 1}
    assert s["faults_cleared"] == {"blocked_cell": 1, "link_fault": 1}
    assert s["sim_events"] == {"lift_failed": 1, "robot_failed": 1, "robot_removed": 1}
    assert (s["deadlocks_detected"], s["unresolved_deadlocks"], s["open_orders_at_end"]) == (2, 1, 1)
    assert s["planner_status"] == PLANNER and s["forecast"] == pytest.approx(FORECAST)
    assert s["sim_status"] == {"phase": "stopped", "t": 20.0, **SIM}


def test_analyze_cli_on_a_bag_recorded_before_the_typed_messages(tmp_path, ros_env):
    bag, out = tmp_path / "bag", tmp_path / "out"
    write_bag(bag, typed=False)
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "analyze", str(bag), "--out", str(out),
                           "--quiet"], cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    a = json.loads((out / "analysis.json").read_text())
    assert a["side_channels"]["deadlocks_detected"] == 2 and a["side_channels"]["planner_status"] == PLANNER
    assert a["topics"]["/sim/faults"]["type"] == "std_msgs/msg/String" and a["topics"]["/sim/faults"]["decoded"] == 6


def test_a_string_that_is_not_json_is_skipped_and_named(tmp_path):
    bag = tmp_path / "bag"
    with OdometryBagWriter(bag, "mcap", [MSG_DIR]) as w:
        w.add_odometry("/amr_1/odom")
        for k in range(11):
            w.odometry("/amr_1/odom", T0 + k * 10**8, 0.1 * k, 0.0)
        w.message("/sim/events", topics.LEGACY_STRING, T0, w.store.types[topics.LEGACY_STRING](data="robot down"))
    warnings: list[str] = []
    a = analyze_bag(AnalyzeOptions(bag, tmp_path / "out", msg_dirs=[MSG_DIR], progress=False, plots=False),
                    warnings.append)
    assert "side_channels" not in a
    assert any("/sim/events" in w and "not the expected JSON" in w for w in warnings), warnings

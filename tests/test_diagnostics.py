"""Every long-running node reports on ``/diagnostics`` (diagnostic_msgs/DiagnosticArray), recorded in
the run's bag: OK while the run is healthy, and the level changes when something goes wrong.

One short run of 4 robots (one robot container) in which a scenario silences robot_2's node
(``robot_silent``) half-way: before it every status of every node is OK; after it the container's
``robot links`` status is WARN or worse and counts one stopped node, while the others stay OK.
"""

import json
import subprocess
import sys
from pathlib import Path

from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio

ROOT = Path(__file__).resolve().parents[1]
STORE = bagio.typestore_with([ROOT / "src" / "warehouse_interfaces" / "msg"])
SILENT_AT = 40.0  # [s, sim] robot_2's node stops
NODES = ("floor_simulator: simulation", "mapf_planner: planning", "task_allocator: allocation",
         "forecaster: forecast", "order_source: orders", "robots_0: robot links", "robots_0: battery")
OK, WARN = 0, 1
SCENARIO = f"""
name: diagnostics
description: robot_2's node dies at {SILENT_AT:.0f} s (not towed before the end)
robots: 4
duration: 80
seed: 5
faults:
  - {{at: {SILENT_AT:.0f}, kind: robot_silent, robot: robot_2, tow_after: 600}}
"""


def _level(raw) -> int:
    return raw if isinstance(raw, int) else raw[0]


def diagnostics(bag: Path) -> dict[str, list[tuple[float, int, str, dict]]]:
    """Status name -> [(stamp, level, message, key values)] in recording order."""
    out: dict[str, list] = {}
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic == "/diagnostics"]
        assert conns and conns[0].msgtype == "diagnostic_msgs/msg/DiagnosticArray"
        for conn, _t, raw in reader.messages(connections=conns):
            msg = STORE.deserialize_cdr(raw, conn.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            for s in msg.status:
                out.setdefault(s.name, []).append((stamp, _level(s.level), s.message,
                                                   {kv.key: kv.value for kv in s.values}))
    return out


def test_every_node_reports_ok_and_a_silenced_robot_raises_its_containers_level(tmp_path, ros_env):
    scenario = tmp_path / "diagnostics.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--scenario", str(scenario),
                           "--out", str(out), "--quiet"], cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)},
                          capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["collisions"] == 0
    seen = diagnostics(out / "bag")
    missing = [n for n in NODES if n not in seen]
    assert not missing, f"no /diagnostics from {missing}; got {sorted(seen)}"
    for name in NODES:
        # about once a wall second from every node (the run takes well over 5 wall seconds)
        assert len(seen[name]) >= 5, (name, len(seen[name]))
        before = [(t, lvl, msg) for t, lvl, msg, _ in seen[name] if t < SILENT_AT]
        assert before, name
        assert all(lvl == OK for _, lvl, _ in before), (name, [b for b in before if b[1] != OK])
    links = seen["robots_0: robot links"]
    assert links[0][3]["robots"] == "4"
    after = [(lvl, msg, values) for t, lvl, msg, values in links if t > SILENT_AT + 5.0]
    assert after, "no robot links status after robot_2 was silenced"
    assert all(lvl >= WARN and values["stopped_nodes"] == "1" and "robot_2" in msg for lvl, msg, values in after), \
        after
    # the robots still running keep their links: the planner, allocator and simulator stay healthy
    for name in ("mapf_planner: planning", "task_allocator: allocation", "robots_0: battery"):
        assert seen[name][-1][1] == OK, (name, seen[name][-1])
    # the numbers an operator reads are there
    assert {"round_time_s", "lag_s"} <= set(seen["mapf_planner: planning"][-1][3])
    assert {"open_orders", "pending_lines", "tasks_in_flight"} <= set(seen["task_allocator: allocation"][-1][3])
    assert {"real_time_factor", "planner_stalls"} <= set(seen["floor_simulator: simulation"][-1][3])
    assert float(seen["robots_0: battery"][-1][3]["lowest"]) > 0.0

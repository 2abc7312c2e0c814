"""What ``./warehouse run`` measures about itself and what it records (what the soak reads).

* Memory by process: every process is counted once. The node processes are children of the
  run process, and ``run_monitor`` once included all of them (the recorder seemed to grow
  by the whole stack's growth, and the total counted the nodes twice).
* ``--bag-odom off``: no ``/<robot>/odom`` in the bag; the report, ``./warehouse analyze`` and
  the soak's collision check work from the simulator's ground truth ``/sim/fleet_state``.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio, trajectory

ROOT = Path(__file__).resolve().parents[1]


def test_each_process_memory_is_counted_once():
    from warehouse_nodes.run_measure import memory_mb, process_memory_mb, process_pss_mb

    # this process's own memory first: a long test session makes it large, so compare against it
    own_pss, own_uss = process_memory_mb({})["run_monitor"]
    # a node process holding 300 MB of its own (touched pages)
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(300 * 2**20); "
                              "b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        by_process = process_pss_mb({"big_node": child})
        assert by_process["big_node"] > 280
        assert by_process["run_monitor"] < own_pss + 100, by_process  # this process, not its children too
        assert memory_mb({"big_node": child}) == pytest.approx(sum(by_process.values()), abs=1.0)
        pss_uss = process_memory_mb({"big_node": child})
        assert pss_uss["big_node"][1] > 280 and pss_uss["run_monitor"][1] < own_uss + 100  # USS likewise
    finally:
        child.kill()
        child.wait()


def test_run_without_odometry_in_the_bag(tmp_path, ros_env):
    out = tmp_path / "run"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "6", "--duration", "150",
                           "--seed", "4", "--bag-odom", "off", "--out", str(out), "--quiet"], cwd=ROOT,
                          env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    print(f"run: {time.monotonic() - t0:.0f} s wall")
    report = json.loads((out / "report.json").read_text())
    with Reader(out / "bag") as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert not [t for t in counts if t.endswith("/odom")]
    assert counts["/sim/fleet_state"] > 600 and counts["/task_status"] > 0
    # the report keeps every field; travel and gaps are the ground truth's
    from warehouse_core.analysis.bagio import interfaces_msg_dir

    truth = bagio.read_fleet_state_tracks(out / "bag", bagio.typestore_with([interfaces_msg_dir(ROOT)]))
    assert len(truth) == 6
    assert report["robot_travel_m"] == pytest.approx(sum(tr.distance() for tr in truth), abs=0.1)
    assert report["robot_travel_m"] > 10.0
    assert report["odom_gaps"] == len(trajectory.sample_gaps(truth, 2.0))
    assert report["collisions"] == 0 and report["orders_completed"] >= 1
    # the analyser reads the same bag, robots from the ground truth
    from warehouse_core.analysis.analyze import AnalyzeOptions, analyze_bag

    notes: list[str] = []
    analysis = analyze_bag(AnalyzeOptions(out / "bag", tmp_path / "analysis", msg_dirs=[interfaces_msg_dir(ROOT)],
                                          progress=False, plots=False), notes.append)
    assert sorted(r["name"] for r in analysis["robots"]) == sorted(tr.name for tr in truth)
    assert sum(r["distance_m"] for r in analysis["robots"]) == pytest.approx(report["robot_travel_m"], rel=1e-3)
    assert analysis["close_encounters"] == []
    assert any("no odometry topic" in n for n in notes)
    # and the soak's collision check
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import soak
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert soak.collisions_by_interval(out / "bag", [0.0, 75.0, 150.0]) == [0, 0]


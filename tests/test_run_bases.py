"""``./warehouse run --bases diffdrive``: the whole graph on simulated vendor bases over real DDS.

Runs ``warehouse_nodes.cli run --bases diffdrive`` as a user would: no floor simulator, the base
simulator is the clock and every robot node drives its differential-drive base through
``cmd_vel``/odometry, reading its battery, rack sensor, stop and lift/dock action and its
localisation. Four robots for two simulated minutes (about a minute of wall time). Checks:

* orders complete, and the base simulator's ground truth (``/sim/fleet_state``) shows no two
  robots closer than 0.5 m, judged by the runner and again from the bag here;
* the bag (``--bag-odom full``) holds, per robot, the driver's odometry in ``<robot>/odom`` (REP-105, child
  ``<robot>/base_link``), its localisation and the robot node's map pose in ``map``, the
  ``map -> <robot>/odom`` correction and the battery;
* the analysis reads one track per robot (the driver's odometry is not taken for another robot);
* the processes started: the base simulator, no floor simulator.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio, trajectory
from warehouse_core.analysis.bagio import interfaces_msg_dir

ROOT = Path(__file__).resolve().parents[1]
ROBOTS = 4


def test_a_run_on_simulated_diffdrive_bases(tmp_path, ros_env):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--bases", "diffdrive", "--robots",
                           str(ROBOTS), "--duration", "120", "--seed", "42", "--bag-odom", "full", "--out", str(out),
                           "--quiet"],
                          cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["orders_completed"] >= 1, report
    assert report["collisions"] == 0 and report["stuck_robots"] == 0, report
    logs = {p.stem for p in (out / "logs").glob("*.log")}
    assert "base_simulator" in logs and "floor_simulator" not in logs, logs

    store = bagio.typestore_with([interfaces_msg_dir(ROOT)])
    truth = bagio.read_fleet_state_tracks(out / "bag", store)
    assert [t.name for t in truth] == [f"robot_{i}" for i in range(ROBOTS)]
    assert sum(t.distance() for t in truth) > 10.0  # the bases drove
    assert not trajectory.close_encounters(truth, 0.5, 2.0)

    frames: dict[str, set] = {}
    counts: dict[str, int] = {}
    with Reader(out / "bag") as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
        wanted = [c for c in reader.connections if c.topic.startswith("/robot_0/")]
        for conn, _ts, raw in reader.messages(connections=wanted):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            child = getattr(msg, "child_frame_id", "")
            frames.setdefault(conn.topic, set()).add((msg.header.frame_id, child))
    for i in range(ROBOTS):
        r = f"/robot_{i}"
        assert types[f"{r}/base/odom"] == "nav_msgs/msg/Odometry" and counts[f"{r}/base/odom"] > 100
        assert types[f"{r}/amcl_pose"] == types[f"{r}/map_pose"] == "geometry_msgs/msg/PoseWithCovarianceStamped"
        assert counts[f"{r}/amcl_pose"] > 50 and counts[f"{r}/map_pose"] > 50
        assert counts[f"{r}/map_to_odom"] > 0 and counts[f"{r}/base/battery"] > 10
    assert frames["/robot_0/base/odom"] == {("robot_0/odom", "robot_0/base_link")}
    assert frames["/robot_0/map_pose"] == frames["/robot_0/amcl_pose"] == {("map", "")}
    assert frames["/robot_0/map_to_odom"] == {("map", "robot_0/odom")}

    # one track per robot from the map poses, which follow the ground truth
    tracks = {t.name: t for t in bagio.read_odometry_tracks(out / "bag")}
    assert sorted(tracks) == [f"robot_{i}" for i in range(ROBOTS)]
    for t in truth:
        mine = tracks[t.name]
        end = min(t.t[-1], mine.t[-1])
        x, y = np.interp(end, mine.t, mine.x), np.interp(end, mine.t, mine.y)
        tx, ty = np.interp(end, t.t, t.x), np.interp(end, t.t, t.y)
        assert math.hypot(x - tx, y - ty) < 0.3, (t.name, (x, y), (tx, ty))

"""Bag analysis on bags written here with ``rosbags`` (MCAP and sqlite3) with known ground truth.

The fleet: ``amr_1`` drives 20 m east at 1 m/s; ``amr_2`` stands still; ``amr_3`` drives west
0.3 m beside amr_1's line and passes it at t = 10 s (closest 0.3 m); ``/fleet/amr_4/odom``
drives 5 m in 10 s, then stands 10 s. Task events: two tasks done (cycle 10 s and 16 s), one
failed; waits: amr_3 waits 3 s for amr_1 and 1 s for its schedule, amr_1 waits 5 s for a plan.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from warehouse_core.analysis.analyze import AnalyzeOptions, analyze_bag
from warehouse_core.analysis.bag_source import odometry_pose
from warehouse_core.analysis.fleet_kpis import windowed_encounters
from warehouse_core.analysis.fleet_record import RecordedOrder
from warehouse_core.analysis.synthetic_bag import OdometryBagWriter
from warehouse_core.analysis.trajectory import Track, close_encounters
from warehouse_core.analysis.whatif import WhatIfConfig, simulate
from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_catalogue

ROOT = Path(__file__).resolve().parents[3]
MSG_DIR = ROOT / "src" / "warehouse_interfaces" / "msg"
LAYOUT = ROOT / "maps" / "warehouse_layout.yaml"
T0 = 1_700_000_000 * 10**9  # bag clock: wall-clock epoch, like a real recording
HZ = 10
DURATION = 20.0


def _ns(t: float) -> int:
    return T0 + int(round(t * 1e9))


def _time(store, t: float):
    ns = _ns(t)
    return store.types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)


def _header(store, t: float):
    return store.types["std_msgs/msg/Header"](stamp=_time(store, t), frame_id="")


def positions(t: float) -> dict[str, tuple[float, float]]:
    return {"/amr_1/odom": (t, 0.0), "/amr_2/odom": (5.0, 8.0), "/amr_3/odom": (20.0 - t, 0.3),
            "/fleet/amr_4/odom": (min(t, 10.0) * 0.5, 20.0)}


def write_fleet_bag(path: Path, storage: str, events: bool = True, odometry: bool = True,
                    zero_stamps: bool = False, duration: float = DURATION, fleet_state: bool = False) -> None:
    """``fleet_state``: the positions as the floor simulator's ground truth (one FleetState per
    tick on /sim/fleet_state) instead of odometry, as ``./warehouse run --bag-odom off`` records."""
    with OdometryBagWriter(path, storage, [MSG_DIR]) as w:
        if odometry:
            for topic in positions(0.0):
                w.add_odometry(topic, topic.split("/")[-2] + "/base_link")
        store = w.store
        T = store.types
        task_events = [(1.0, "T1", "amr_1", 1), (2.0, "T2", "amr_3", 1), (3.0, "T3", "amr_4", 1),
                       (5.0, "T3", "amr_4", 4), (11.0, "T1", "amr_1", 3), (18.0, "T2", "amr_3", 3)]
        waits = [(4.0, "amr_3", 1, "amr_1"), (7.0, "amr_3", 2, ""), (8.0, "amr_3", 0, ""), (15.0, "amr_1", 3, "")]
        for k in range(int(duration * HZ) + 1):
            t = k / HZ
            if odometry:
                for topic, (x, y) in positions(t).items():
                    w.odometry(topic, _ns(t), x, y, header_ns=0 if zero_stamps else None)
            if fleet_state:
                w.message("/sim/fleet_state", "warehouse_interfaces/msg/FleetState", _ns(t), fleet_state_msg(store, t))
            if not events:
                continue
            for te, tid, robot, state in task_events:
                if abs(te - t) < 1e-9:
                    if state == 1:
                        w.message("/tasks", "warehouse_interfaces/msg/Task", _ns(t), T["warehouse_interfaces/msg/Task"](
                            task_id=tid, type=0, robot_id=robot, rack_id="R1", station_id="S1", order_ids=[],
                            lines=[], steps=[], created=_time(store, t), deadline=_time(store, t + 100)))
                    w.message("/task_status", "warehouse_interfaces/msg/TaskStatus", _ns(t),
                              T["warehouse_interfaces/msg/TaskStatus"](
                                  header=_header(store, t), task_id=tid, robot_id=robot, state=state,
                                  step_index=-1, rack_id="R1", station_id="S1", order_ids=[], message=""))
            for tw, robot, kind, blocker in waits:
                if abs(tw - t) < 1e-9:
                    ws = T["warehouse_interfaces/msg/WaitStatus"](robot_id=robot, kind=kind, blocker=blocker,
                                                                  cell_x=1, cell_y=2, since=_time(store, t),
                                                                  chain=[blocker] if blocker else [])
                    w.message("/fleet/waits", "warehouse_interfaces/msg/FleetWaits", _ns(t),
                              T["warehouse_interfaces/msg/FleetWaits"](header=_header(store, t), waits=[ws]))
        if not odometry:
            w.message("/chatter", "std_msgs/msg/String", _ns(0.0), T["std_msgs/msg/String"](data="hello"))


def fleet_state_msg(store, t: float):
    """Every robot of :func:`positions` at ``t`` in one FleetState (parallel arrays)."""
    pos = positions(t)
    n = len(pos)
    return store.types["warehouse_interfaces/msg/FleetState"](
        header=_header(store, t), robot_ids=[topic.split("/")[-2] for topic in pos], modes=np.zeros(n, np.uint8),
        x=np.array([p[0] for p in pos.values()]), y=np.array([p[1] for p in pos.values()]), theta=np.zeros(n),
        linear_velocity=np.zeros(n), cell_x=np.zeros(n, np.int32), cell_y=np.zeros(n, np.int32),
        carrying_rack=[""] * n, battery=np.ones(n, np.float32), task_ids=[""] * n, plan_ids=np.zeros(n, np.uint64),
        progress_index=np.zeros(n, np.int32))


def run_analysis(bag: Path, out: Path, **kw) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    result = analyze_bag(AnalyzeOptions(bag, out, msg_dirs=[MSG_DIR], progress=False, **kw), warnings.append)
    return result, warnings


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_ground_truth_in_both_storages(tmp_path, storage):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, storage)
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert a["storage"] == storage and not a["truncated"] and a["complete"] and warnings == []
    assert a["duration_s"] == pytest.approx(DURATION)
    robots = {r["name"]: r for r in a["robots"]}
    assert sorted(robots) == ["amr_1", "amr_2", "amr_3", "amr_4"]  # named from the namespace
    assert robots["amr_1"]["distance_m"] == pytest.approx(20.0, abs=1e-6)
    assert robots["amr_1"]["idle_fraction"] == 0.0
    assert robots["amr_1"]["mean_speed_mps"] == pytest.approx(1.0, abs=1e-6)
    assert robots["amr_2"]["distance_m"] == 0.0 and robots["amr_2"]["idle_fraction"] == 1.0  # the idle robot
    assert robots["amr_4"]["distance_m"] == pytest.approx(5.0, abs=1e-6)
    assert robots["amr_4"]["idle_fraction"] == pytest.approx(0.5, abs=1e-6)
    assert all(r["samples"] == DURATION * HZ + 1 for r in robots.values())
    (enc,) = a["close_encounters"]  # only amr_1 and amr_3 ever come closer than 0.5 m
    assert enc["robots"] == ["amr_1", "amr_3"]
    assert enc["min_distance_m"] == pytest.approx(0.3, abs=1e-6)
    assert 9.7 - 1e-6 <= enc["t_start_s"] <= 9.8 + 1e-6 and 10.2 - 1e-6 <= enc["t_end_s"] <= 10.3 + 1e-6
    # task events
    assert a["tasks_completed"] == 2
    assert a["throughput_per_hour"] == pytest.approx(2 / (DURATION / 3600))
    assert a["task_cycle_s"]["count"] == 2 and a["task_cycle_s"]["p50"] == pytest.approx(13.0)
    assert a["tasks_reallocated"] == 1  # the failed task
    # waits, with their causes
    assert robots["amr_3"]["waiting_s"] == pytest.approx(4.0)
    causes = {(c["cause"], c["blocker"]): c["seconds"] for c in robots["amr_3"]["wait_causes"]}
    assert causes == {("robot", "amr_1"): pytest.approx(3.0), ("schedule", ""): pytest.approx(1.0)}
    assert robots["amr_1"]["wait_causes"] == [{"cause": "planning", "blocker": "", "seconds": pytest.approx(5.0),
                                               "count": 1}]
    assert "waiting_s" not in robots["amr_2"]
    # files
    on_disk = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert on_disk["robots"] == a["robots"] and on_disk["close_encounters"] == a["close_encounters"]
    for f in ("trajectories.png", "congestion.png", "utilisation.png", "report.html"):
        assert (tmp_path / "out" / f).stat().st_size > 1000, f


def test_a_bag_without_odometry_is_read_from_the_ground_truth(tmp_path):
    """``./warehouse run --bag-odom off``: no odometry topic, the robots' positions come from the
    floor simulator's /sim/fleet_state; same robots, distances, encounter and task KPIs."""
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", odometry=False, fleet_state=True)
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert any("no odometry topic" in w and "/sim/fleet_state" in w for w in warnings), warnings
    robots = {r["name"]: r for r in a["robots"]}
    assert sorted(robots) == ["amr_1", "amr_2", "amr_3", "amr_4"]
    assert robots["amr_1"]["distance_m"] == pytest.approx(20.0, abs=1e-6)
    assert robots["amr_4"]["distance_m"] == pytest.approx(5.0, abs=1e-6)
    assert all(r["samples"] == DURATION * HZ + 1 for r in robots.values())
    (enc,) = a["close_encounters"]
    assert enc["robots"] == ["amr_1", "amr_3"] and enc["min_distance_m"] == pytest.approx(0.3, abs=1e-6)
    assert a["tasks_completed"] == 2 and a["odom_gaps"] == []
    write_fleet_bag(tmp_path / "bag2", "mcap")
    with_odometry, _ = run_analysis(tmp_path / "bag2", tmp_path / "out2")
    assert a["robots"] == with_odometry["robots"]


def test_min_distance_option_and_no_events(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", events=False)
    a, _ = run_analysis(bag, tmp_path / "out", min_distance=0.2)
    assert a["close_encounters"] == [] and a["min_distance_m"] == 0.2
    assert "tasks_completed" not in a and "waiting_s_total" not in a
    a, _ = run_analysis(bag, tmp_path / "out2", min_distance=1.0)
    (enc,) = a["close_encounters"]
    assert 9.5 - 1e-6 <= enc["t_start_s"] <= 9.6 + 1e-6


def test_report_is_self_contained_with_replay_data(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", events=False)
    run_analysis(bag, tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html  # no network
    assert html.count("data:image/png;base64,") >= 3
    data = json.loads(html.split('<script id="replay-data" type="application/json">')[1].split("</script>")[0])
    assert data["names"] == ["amr_1", "amr_2", "amr_3", "amr_4"]
    assert len(data["pos"][0]) == 2 * len(data["times"])
    assert data["pos"][1][:2] == [500, 800]  # amr_2 at (5, 8) m, in cm


def test_map_from_an_occupancy_grid_topic_or_a_layout(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", events=False)
    a, _ = run_analysis(bag, tmp_path / "out", map_path=LAYOUT)
    assert a["map"] == str(LAYOUT)
    bag2 = tmp_path / "bag2"
    with OdometryBagWriter(bag2, "sqlite3") as w:
        T = w.store.types
        w.add_odometry("/amr_1/odom")
        grid = T["nav_msgs/msg/OccupancyGrid"](
            header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="map"),
            info=T["nav_msgs/msg/MapMetaData"](
                map_load_time=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), resolution=0.5, width=4, height=2,
                origin=T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=-1.0, y=-1.0, z=0.0),
                                                   orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0,
                                                                                                  w=1.0))),
            data=np.array([100, 0, 0, 0, 0, 0, 0, -1], dtype=np.int8))
        w.message("/map", "nav_msgs/msg/OccupancyGrid", _ns(0), grid)
        for k in range(5):
            w.odometry("/amr_1/odom", _ns(k), 0.1 * k, 0.0)
    a, _ = run_analysis(bag2, tmp_path / "out2", map_path=LAYOUT)  # the bag's own map wins
    assert a["map"] == "/map"
    html = (tmp_path / "out2" / "report.html").read_text()
    data = json.loads(html.split('<script id="replay-data" type="application/json">')[1].split("</script>")[0])
    assert data["mapExtent"] == [-1.0, 1.0, -1.0, 0.0] and data["map"].startswith("data:image/png;base64,")


def test_bag_without_odometry_is_refused_clearly(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", odometry=False)
    with pytest.raises(InputError, match="no nav_msgs/msg/Odometry topic") as exc:
        run_analysis(bag, tmp_path / "out")
    assert str(bag) in str(exc.value) and "ros2 bag record" in str(exc.value)


def test_not_a_bag(tmp_path):
    with pytest.raises(InputError, match="no such bag"):
        run_analysis(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a rosbag2 bag"):
        run_analysis(tmp_path / "empty", tmp_path / "out")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_truncated_bag_gives_clear_error_or_partial_results(tmp_path, storage):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, storage, events=False)
    (f,) = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    try:
        a, warnings = run_analysis(bag, tmp_path / "out")
    except InputError as exc:  # clear error naming the file, with a fix
        assert str(bag) in str(exc) and "fix:" in str(exc)
        assert "Traceback" not in str(exc)
    else:  # or results from what was readable, incomplete, with warnings saying what was skipped
        assert a["truncated"] and not a["complete"] and any("breaks off" in w or "does not decode" in w
                                                            for w in warnings), warnings
        assert 0 < a["duration_s"] < DURATION


def _chunk_offsets(data: bytes) -> list[int]:
    """Offsets of the MCAP chunk records (opcode 0x06) of a file."""
    out, pos = [], 8  # after the magic
    while pos + 9 <= len(data):
        op, length = data[pos], int.from_bytes(data[pos + 1:pos + 9], "little")
        if op == 0x06:
            out.append(pos)
        if op == 0x02:  # footer
            break
        pos += 9 + length
    return out


def test_corrupt_chunk_in_the_middle_keeps_what_was_readable(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", events=False, duration=60.0)  # more than one chunk (1 MB each)
    (f,) = bag.glob("*.mcap")
    data = bytearray(f.read_bytes())
    chunks = _chunk_offsets(bytes(data))
    assert len(chunks) >= 2
    chunk = chunks[-1]
    body = chunk + 9
    comp_len = int.from_bytes(data[body + 28:body + 32], "little")
    pos, end = body + 32 + comp_len + 8, chunk + 9 + int.from_bytes(data[chunk + 1:chunk + 9], "little")
    records = []
    while pos < end:  # the records inside the (uncompressed) chunk
        records.append(pos)
        pos += 9 + int.from_bytes(data[pos + 1:pos + 9], "little")
    middle = records[len(records) // 2]
    assert data[middle] == 0x05  # a message record
    data[middle + 1:middle + 9] = (2**40).to_bytes(8, "little")  # a record length past the end
    f.write_bytes(bytes(data))
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert a["truncated"] and not a["complete"], warnings
    assert warnings[0].startswith(f"{f.name}: chunk 2 of 2 (file offset {chunk}, bag time ") and "does not decode" in \
        warnings[0], warnings
    assert 0 < a["duration_s"] < 60.0  # what came before the broken chunk


def test_non_finite_positions_are_skipped_and_counted(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "sqlite3", events=False)  # no checksums: a patched payload is read as it is
    (f,) = bag.glob("*.db3")
    data = f.read_bytes()
    ten = struct.pack("<d", 10.0)  # amr_1 and amr_3 at x = 10 m (t = 10 s)
    assert data.count(ten) == 2
    f.write_bytes(data.replace(ten, struct.pack("<d", float("nan"))))
    a, warnings = run_analysis(bag, tmp_path / "out")
    robots = {r["name"]: r for r in a["robots"]}
    assert robots["amr_1"]["samples"] == DURATION * HZ and robots["amr_1"]["distance_m"] == pytest.approx(20.0)
    assert any("not finite" in w and "/amr_1/odom" in w for w in warnings), warnings


def test_missing_metadata_reads_the_storage_file(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", events=False)
    (bag / "metadata.yaml").unlink()
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert len(a["robots"]) == 4 and any("no metadata.yaml" in w for w in warnings)
    assert a["complete"] is False  # a recording never closed: whether it is whole cannot be checked


def test_unknown_message_types_are_named_and_skipped(tmp_path):
    bag = tmp_path / "bag"
    with OdometryBagWriter(bag, "sqlite3") as w:
        w.add_odometry("/amr_1/odom")
        w.store.register(get_types_from_msg("float64 level", "acme_msgs/msg/Widget"))
        for k in range(11):
            w.odometry("/amr_1/odom", _ns(k / 10), 0.1 * k, 0.0)
            w.message("/acme/widget", "acme_msgs/msg/Widget", _ns(k / 10),
                      w.store.types["acme_msgs/msg/Widget"](level=1.0))
    db = next(bag.glob("*.db3"))
    with sqlite3.connect(db) as con:  # a bag from a machine that had acme_msgs: no definition stored
        con.execute("UPDATE topics SET type_description_hash = ''")
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        if "message_definitions" in names:
            con.execute("DELETE FROM message_definitions WHERE topic_type = 'acme_msgs/msg/Widget'")
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert a["robots"][0]["distance_m"] == pytest.approx(1.0)
    assert a["topics"]["/acme/widget"]["known_type"] is False
    assert any("unknown message types" in w and "/acme/widget" in w for w in warnings)


@pytest.mark.parametrize("frame,child", [("", ""), ("map", "amr_1/base_link"), ("odom", "x"), ("abcdefg", "abcd")])
def test_fast_odometry_reader_matches_full_deserialisation(frame, child):
    store = get_typestore(Stores.ROS2_KILTED)
    T = store.types
    msg = T["nav_msgs/msg/Odometry"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=123, nanosec=456), frame_id=frame),
        child_frame_id=child,
        pose=T["geometry_msgs/msg/PoseWithCovariance"](
            pose=T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=1.25, y=-7.5, z=3.0),
                                             orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.arange(36.0)),
        twist=T["geometry_msgs/msg/TwistWithCovariance"](
            twist=T["geometry_msgs/msg/Twist"](linear=T["geometry_msgs/msg/Vector3"](x=9.0, y=9.0, z=9.0),
                                               angular=T["geometry_msgs/msg/Vector3"](x=9.0, y=9.0, z=9.0)),
            covariance=np.zeros(36)))
    raw = bytes(store.serialize_cdr(msg, "nav_msgs/msg/Odometry"))
    assert odometry_pose(raw) == (123 * 10**9 + 456, 1.25, -7.5)
    assert odometry_pose(raw[:20]) is None  # cut short: the caller deserialises (and reports) it


def test_undecodable_odometry_message_is_counted_and_reported(tmp_path):
    bag = tmp_path / "bag"
    with OdometryBagWriter(bag, "mcap") as w:
        w.add_odometry("/amr_1/odom")
        for k in range(11):
            w.odometry("/amr_1/odom", _ns(k / 10), 0.1 * k, 0.0)
        w.bag.write("/amr_1/odom", _ns(1.05), b"\x00\x01\x00\x00" + b"\x07" * 10)  # a broken message
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert a["robots"][0]["samples"] == 11 and a["robots"][0]["distance_m"] == pytest.approx(1.0)
    assert a["topics"]["/amr_1/odom"]["undecodable"] == 1
    assert any("does not deserialise" in w for w in warnings)


def test_zero_header_stamps_fall_back_to_recording_time(tmp_path):
    bag = tmp_path / "bag"
    write_fleet_bag(bag, "mcap", events=False, zero_stamps=True)
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert a["duration_s"] == pytest.approx(DURATION)
    assert len(a["close_encounters"]) == 1
    assert any("header stamps zero" in w for w in warnings)


def test_messages_recorded_late_keep_their_header_stamps(tmp_path):
    """A recorder that falls behind: amr_1's messages from 3 s on are recorded 15 s after their
    stamps (beyond the clock tolerance, but within the bag): the stamps still order them."""
    bag = tmp_path / "bag"
    with OdometryBagWriter(bag, "mcap") as w:
        w.add_odometry("/amr_1/odom")
        for k in range(60):
            late = 15 * 10**9 if k >= 30 else 0
            w.odometry("/amr_1/odom", _ns(k / HZ) + late, k / HZ, 0.0, header_ns=_ns(k / HZ))
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert warnings == [] and a["complete"] is True
    robot = a["robots"][0]
    assert robot["samples"] == 60 and robot["distance_m"] == pytest.approx(5.9)
    assert robot["idle_fraction"] == 0.0 and a["odom_gaps"] == []


def test_name_clash_gets_a_distinct_name(tmp_path):
    bag = tmp_path / "bag"
    with OdometryBagWriter(bag, "mcap") as w:
        for topic in ("/a/amr_1/odom", "/b/amr_1/odom"):
            w.add_odometry(topic)
        for k in range(3):
            w.odometry("/a/amr_1/odom", _ns(k), 0.0, 0.0)
            w.odometry("/b/amr_1/odom", _ns(k), 9.0, 0.0)
    a, warnings = run_analysis(bag, tmp_path / "out")
    assert sorted(r["name"] for r in a["robots"]) == ["amr_1", "b_amr_1_odom"]
    assert any("is taken" in w for w in warnings)


def _random_tracks(seed: int, synchronised: bool) -> list[Track]:
    rng = np.random.default_rng(seed)
    common = np.cumsum(rng.uniform(0.05, 0.6, size=30))
    tracks = []
    for i in range(5):
        t = common if synchronised else np.cumsum(rng.uniform(0.05, 0.6, size=30))  # with some gaps
        if i == 3 and not synchronised:
            t = t[:12]  # a robot that stops reporting
        tracks.append(Track(f"r{i}", t, np.cumsum(rng.normal(0, 0.3, len(t))), np.cumsum(rng.normal(0, 0.3, len(t)))))
    return tracks


def _key(e) -> tuple:
    return (e.robots, round(e.t_start, 9), round(e.t_end, 9), round(e.min_distance, 9))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 40))
def test_windowed_encounters_equal_one_pass_on_synchronised_clocks(seed, cells_per_window):
    """Judging window by window and group by group (bounded memory) finds exactly what one pass finds."""
    tracks = _random_tracks(seed, synchronised=True)
    one = close_encounters(tracks, 0.8, 0.5)
    win = windowed_encounters(tracks, 0.8, 0.5, cells=cells_per_window)
    assert [_key(e) for e in win] == [_key(e) for e in one]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 40))
def test_windowed_encounters_match_one_pass_on_unsynchronised_clocks(seed, cells_per_window):
    """With every robot on its own clock, spans are cut at the samples of the robots judged
    together, so their ends may differ; the close periods found and the minimum distances do not."""
    tracks = _random_tracks(seed, synchronised=False)
    one = close_encounters(tracks, 0.8, 0.5)
    win = windowed_encounters(tracks, 0.8, 0.5, cells=cells_per_window)
    for xs, ys in ((one, win), (win, one)):
        for e in xs:  # every span overlaps a span of the same pair found the other way
            assert any(f.robots == e.robots and f.t_start <= e.t_end and e.t_start <= f.t_end for f in ys), e
    for pair in {e.robots for e in one}:
        assert min(e.min_distance for e in one if e.robots == pair) == \
            pytest.approx(min(e.min_distance for e in win if e.robots == pair), abs=1e-9)


def test_whatif_rerun_serves_recorded_orders():
    layout = load_layout(LAYOUT)
    inventory, _ = load_catalogue(layout, "", 500, 42)
    skus = sorted(inventory.skus)[:6]
    orders = [RecordedOrder(f"O{i}", f"C{i}", [(sku, 1)], 1.0 + i, 3600.0, 0) for i, sku in enumerate(skus)]
    racks = [s.cell for s in layout.storage if s.rack][:4]
    first = {f"robot_{i}": layout.cell_to_world(c) for i, c in enumerate(racks)}
    kpis = simulate(WhatIfConfig(LAYOUT), orders, first, 150.0)
    assert kpis["orders_received"] == 6 and kpis["orders_rejected"] == 0
    assert kpis["orders_completed"] >= 3, kpis
    assert kpis["rack_visits"] >= 1 and kpis["order_lines_picked"] >= 3


def test_whatif_refuses_a_layout_that_does_not_fit():
    with pytest.raises(InputError, match="not a free cell"):
        simulate(WhatIfConfig(LAYOUT), [], {"robot_0": (-50.0, -50.0)}, 10.0)


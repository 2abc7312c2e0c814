"""The whole graph over real DDS: orders complete and no two robots ever come close.

Runs ``warehouse_nodes.cli run`` as the README's command does (separate node processes, and the
first run from another working directory), then checks the bag it wrote with an independent
reader: every robot's map pose, task and
order events and plans are there, and interpolated robot centres never come closer than
0.5 m.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio, trajectory
from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args, env, timeout=240):
    return subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", *args], cwd=ROOT,
                          env=env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True,
                          text=True, timeout=timeout)


def run_with(tmp_path, env, robots, duration, seed, **overrides):
    """Run with config/warehouse.yaml changed by ``overrides`` (node name -> parameters);
    returns (process, output directory, report or None)."""
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    for node, params in overrides.items():
        config[node]["ros__parameters"].update(params)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    proc = run_cli(["run", "--robots", str(robots), "--duration", str(duration), "--seed", str(seed),
                    "--config", str(cfg), "--out", str(out), "--quiet"], env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc, out, json.loads((out / "report.json").read_text())


def test_short_run_completes_orders_without_collisions(tmp_path, ros_env):
    """Also ``./warehouse run`` from any working directory: started in an empty directory without
    ``WAREHOUSE_ROOT``, the default ``--config`` and the layout and box catalogue it names are found
    through the ament index (warehouse_bringup's share; a source tree's root where the package is
    not built), the paths inside the config relative to it."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    out = cwd / "run"
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "8", "--duration", "240",
                           "--seed", "3", "--out", "run", "--quiet"], cwd=cwd,
                          env={k: v for k, v in ros_env.items() if k != "WAREHOUSE_ROOT"}, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    params = yaml.safe_load((out / "params.yaml").read_text())
    for path in (params["/**"]["ros__parameters"]["layout"], params["task_allocator"]["ros__parameters"]["boxes"]):
        assert Path(path).is_absolute() and Path(path).is_file(), path
    assert not (cwd / "config").exists() and not (cwd / "maps").exists()
    for key in ("robots", "sim_duration_s", "wall_duration_s", "real_time_factor", "startup_s",
                "orders_received", "orders_completed", "order_lines_picked",
                "throughput_lines_per_hour", "mean_order_cycle_s", "p95_order_cycle_s",
                "rack_visits", "picks_per_rack_visit", "collisions", "planner_p99_ms",
                "peak_rss_mb"):
        assert key in report, key
    for key in ("forecast_mase", "travel_per_rack_visit_m", "packaging_surface_m2", "mean_box_utilisation"):
        assert key in report, key
    assert 0 < report["forecast_mase"] < report["forecast_seasonal_naive_mase"]
    assert report["travel_per_rack_visit_m"] > 0
    assert report["robots"] == 8
    assert report["orders_completed"] >= 5
    assert report["order_lines_picked"] >= report["orders_completed"]
    assert report["collisions"] == 0
    assert "collisions" in proc.stdout  # the one-screen summary

    bag = out / "bag"
    with Reader(bag) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
    for i in range(8):  # the default record profile: each robot's pose in map, not its odometry too
        assert counts[f"/robot_{i}/map_pose"] > 100 and f"/robot_{i}/odom" not in counts
    for topic in ("/task_status", "/order_status", "/fleet/plan", "/tasks", "/orders"):
        assert counts.get(topic, 0) > 0, topic
    assert topics["/fleet/plan"] == "warehouse_interfaces/msg/FleetPlan"
    # the forecaster node's forecast, once, latched; the allocator classes racks by it from then on
    assert topics["/forecast/demand"] == "warehouse_interfaces/msg/DemandForecast"
    assert counts["/forecast/demand"] == 1
    assert report["forecast_at_s"] is not None and report["forecast_at_s"] < 240  # arrived during the run

    parcels = [json.loads(line) for line in (out / "parcels.jsonl").read_text().splitlines()]
    assert len(parcels) == report["boxes_shipped"] >= 3
    check_parcels(parcels, seed=3)
    assert sum(p["box"]["surface_m2"] for p in parcels) == pytest.approx(report["packaging_surface_m2"], abs=1e-3)
    assert counts["/parcels/manifests"] == len(parcels)
    stages = tracking_stages(bag)
    assert {p["tracking_id"] for p in parcels} == set(stages)
    for tid, seen in stages.items():  # picked, then packed, then dispatched (the last ones may be pending)
        order = [stage for _, stage in sorted(seen)]  # by event stamp (the bag orders by receipt)
        assert sorted(order) == [0, 1, 2][:len(order)] and order, (tid, seen)
        assert [t for t, _ in sorted(seen, key=lambda e: e[1])] == sorted(t for t, _ in seen), (tid, seen)
    assert report["travel_per_rack_visit_m"] == pytest.approx(
        sum(tr.distance() for tr in bagio.read_odometry_tracks(bag)) / report["rack_visits"], rel=1e-3)

    tracks = bagio.read_odometry_tracks(bag)
    assert len(tracks) == 8
    assert all(tr.distance() > 1.0 for tr in tracks)  # everybody moved
    assert trajectory.close_encounters(tracks, 0.5) == []
    assert trajectory.min_separation(tracks) >= 0.9


def check_parcels(parcels, seed):
    """Re-check every packing from parcels.jsonl alone (plus the SKU sizes): each item lies inside
    its box in an allowed orientation, and no two items overlap."""
    from warehouse_core.maps.layout import load_layout
    from warehouse_core.ops.inventory import load_catalogue
    from warehouse_core.ops.items import seeded_item_specs

    inventory, _ = load_catalogue(load_layout(ROOT / "maps" / "warehouse_layout.yaml"), "", 500, seed)
    specs = seeded_item_specs(sorted(inventory.skus), seed)
    eps = 1e-9
    for p in parcels:
        for key in ("parcel_id", "consumer_id", "order_ids", "box", "items", "tracking_id", "weight_kg", "dims_m"):
            assert key in p, key
        box = p["box"]["inner_dims_m"]
        items = p["items"]
        assert items, p["parcel_id"]
        for it in items:
            spec = specs[it["sku"]]
            dims, pos = it["dims_m"], it["position_m"]
            if spec.upright:
                assert dims[2] == pytest.approx(spec.dims_m[2], abs=1.5e-3), it
            assert sorted(dims) == pytest.approx(sorted(spec.dims_m), abs=1.5e-3), it
            assert all(pos[a] >= -eps and pos[a] + dims[a] <= box[a] + eps for a in range(3)), (p["parcel_id"], it)
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                assert not all(a["position_m"][k] + a["dims_m"][k] > b["position_m"][k] + eps and
                               b["position_m"][k] + b["dims_m"][k] > a["position_m"][k] + eps
                               for k in range(3)), (p["parcel_id"], a, b)


def tracking_stages(bag):
    """tracking id -> [(event stamp, stage)] from /parcels/tracking."""
    store = bagio.typestore_with([ROOT / "src" / "warehouse_interfaces" / "msg"])
    out = {}
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic == "/parcels/tracking"]
        for conn, _t, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            out.setdefault(msg.tracking_id, []).append((stamp, int(msg.stage)))
    return out


def test_bad_layout_is_refused_before_anything_starts(tmp_path, ros_env):
    bad = tmp_path / "layout.yaml"
    bad.write_text("layout: {name: x, map: missing.yaml, cell_size: 1.0}\nstorage: []\nstations: []\n")
    proc = run_cli(["run", "--map", str(bad), "--out", str(tmp_path / "r")], ros_env, timeout=60)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_random_stalls_cause_waits_never_collisions(tmp_path, ros_env):
    """Issue 3: delays injected into the floor simulator; robots wait, nobody collides."""
    _, out, report = run_with(tmp_path, ros_env, 10, 240, 5, floor_simulator=dict(
        stalls_per_robot_hour=90.0, stall_min_s=3.0, stall_max_s=25.0))
    assert report["injected_delays"] >= 20
    assert report["orders_completed"] >= 3
    assert report["collisions"] == 0
    tracks = bagio.read_odometry_tracks(out / "bag")
    assert trajectory.min_separation(tracks) >= 0.9
    with Reader(out / "bag") as reader:
        waits = [c for c in reader.connections if c.topic == "/fleet/waits"]
    assert waits and waits[0].msgcount > 0  # the waits were explained and recorded


def test_robots_charge_before_running_flat(tmp_path, ros_env):
    """Issue 4: with a fast-draining battery robots go to chargers; none ever runs flat."""
    # 12 times the normal drain empties a battery in minutes; the allocator knows the drain
    _, _, report = run_with(tmp_path, ros_env, 8, 480, 7,
                            floor_simulator=dict(battery_drain_scale=12.0, charge_rate=0.02),
                            task_allocator=dict(charge_rate=0.02, charge_below=0.35, charge_to=0.95,
                                                energy_per_step=0.0003 * 12))
    assert report["charging_events"] >= 2
    assert report["min_battery"] > 0.0
    assert report["orders_completed"] >= 3
    assert report["collisions"] == 0


def test_robot_fault_mid_task_is_repaired_and_orders_still_complete(tmp_path, ros_env):
    """robot_3 fails mid-task at t = 80 s (a scheduled fault);
    its task is reallocated, the others' plans are repaired (freeze and re-root), the robot is
    towed away after 40 s with its rack put down; orders stop arriving at 150 s and by the end
    of the run every accepted order, those of the failed task included, is completed."""
    from warehouse_core.analysis.bagio import interfaces_msg_dir

    _, out, report = run_with(tmp_path, ros_env, 8, 480, 3,
                              floor_simulator=dict(fault_robots=["robot_3"], fault_times=[80.0],
                                                   recovery_time=40.0),
                              order_source=dict(stop_after=150.0))
    assert report["robot_failures"] == 1
    assert report["tasks_reallocated"] >= 1
    assert report["plan_repairs"] >= 2  # the failure and the removal
    assert report["collisions"] == 0

    store = bagio.typestore_with([interfaces_msg_dir(ROOT)])
    failed_orders, last_state, done_after = set(), {}, 0
    with Reader(out / "bag") as reader:
        conns = [c for c in reader.connections if c.topic in ("/task_status", "/order_status")]
        for conn, _t, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            if conn.topic == "/task_status" and msg.state == 4:  # TASK_FAILED
                assert msg.robot_id == "robot_3" and "robot_3" in msg.message
                assert 79.0 <= stamp <= 90.0
                failed_orders.update(msg.order_ids)
            elif conn.topic == "/order_status":
                last_state[msg.order_id] = msg.state
                if msg.state == 3 and stamp > 90.0:  # ORDER_COMPLETED after the fault
                    done_after += 1
    assert failed_orders, "robot_3 had no task when it failed"
    assert done_after >= 3
    # nothing accepted is lost: every order accepted before the stop is completed
    assert last_state and all(state == 3 for state in last_state.values()), last_state
    assert report["orders_completed"] == report["orders_received"] - report["orders_rejected"]
    print("orders of the failed task:", {o: last_state.get(o) for o in failed_orders},
          "completed after the fault:", done_after)


def test_per_robot_transport_runs_tasks_over_the_action(tmp_path, ros_env):
    """fleet_transport per_robot (what one physical robot offers tools): every task travels as
    an ExecuteTask goal and states come from /<robot>/state; orders complete all the same."""
    _, out, report = run_with(tmp_path, ros_env, 6, 360, 11,
                              **{"/**": dict(fleet_transport="per_robot")})
    assert report["orders_completed"] >= 3
    assert report["collisions"] == 0 and report["stuck_robots"] == 0
    with Reader(out / "bag") as reader:
        topics = {c.topic for c in reader.connections}
    assert "/robot_0/state" in topics and "/fleet/task_feedback" not in topics


def test_hundred_robots_on_the_large_layout_all_progress_without_collisions(tmp_path, ros_env):
    """Issue 5 item 5: 100 robot nodes (two containers) on the large layout, short enough for
    CI: zero collisions on the simulator's ground truth, no robot with a task stuck for 60
    simulated seconds, and the fleet at work (most robots moved)."""
    from warehouse_core.analysis.bagio import interfaces_msg_dir

    out = tmp_path / "run"
    proc = run_cli(["run", "--robots", "100", "--duration", "150", "--seed", "8", "--map",
                    "maps/warehouse_large_layout.yaml", "--orders-per-hour", "12000", "--out", str(out),
                    "--quiet"], ros_env, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["robots"] == 100
    assert report["collisions"] == 0
    assert report["stuck_robots"] == 0 and report["max_no_progress_s"] < 60.0
    assert report["orders_completed"] >= 5
    for key in ("sim_stalls", "sim_stalls_planner", "sim_stalls_nodes", "first_plan_s", "cpu_s"):
        assert key in report, key
    truth = bagio.read_fleet_state_tracks(out / "bag", bagio.typestore_with([interfaces_msg_dir(ROOT)]))
    assert len(truth) == 100
    moved = [tr.name for tr in truth if tr.distance() > 2.0]
    assert len(moved) >= 60, f"only {len(moved)} of 100 robots moved"
    assert trajectory.close_encounters(truth, 0.5) == []


def test_forecast_keys_of_an_old_config_move_to_the_forecaster(tmp_path):
    """Configs written before the forecaster node kept the forecast settings under task_allocator."""
    from warehouse_nodes.run_params import move_forecast_keys

    doc = {"task_allocator": {"ros__parameters": {"returns": "class", "forecast_model": "tsb", "history_days": 70}},
           "forecaster": {"ros__parameters": {"history_days": 60}}}
    move_forecast_keys(doc)
    assert doc["task_allocator"]["ros__parameters"] == {"returns": "class"}
    assert doc["forecaster"]["ros__parameters"] == {"history_days": 60, "forecast_model": "tsb"}

"""The run's report: ``report.json`` from what the recorder gathered, and the one-screen summary."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse_core.analysis import bagio, trajectory
from warehouse_core.analysis.bagio import interfaces_msg_dir
from warehouse_core.analysis.metrics import operations_kpis, order_kpis
from warehouse_nodes.run_params import RunOptions

if TYPE_CHECKING:
    from warehouse_nodes.run import RunMonitor

STUCK_AFTER_S = 60.0  # [s, sim] a robot with a task and no progress this long counts as stuck
MAX_ODOM_GAP_S = 2.0  # longer stretches without odometry are not judged for collisions


@dataclass
class RunTimes:
    """Wall-clock marks of a run (``time.monotonic``) and what was sampled along it."""

    start: float
    sim_started: float | None = None  # first simulated step
    sim_ended: float | None = None
    peak_pss_mb: float = 0.0
    cpu_s: dict[str, float] | None = None
    node_restarts: int = 0
    restarts_by_node: dict[str, int] = field(default_factory=dict)  # node process -> times restarted
    interrupted_by: str = ""  # the signal that ended the run early (SIGINT, SIGTERM), else empty


def build_report(opts: RunOptions, monitor: RunMonitor, times: RunTimes, param_doc: dict, policy: str,
                 bag_dir: Path) -> dict:
    """``report.json`` of a finished run (field definitions: docs/running.md)."""
    # collisions are judged on the simulator's ground truth (every tick, batched), gaps in what
    # the robots reported on their odometry topics are counted separately (without odometry in
    # the bag, travel and gaps are those of the ground truth)
    store = bagio.typestore_with([interfaces_msg_dir(opts.root)])
    truth = bagio.read_fleet_state_tracks(bag_dir, store)
    tracks = bagio.read_odometry_tracks(bag_dir) if opts.bag_odom else truth
    encounters = trajectory.close_encounters(truth or tracks, opts.min_distance, MAX_ODOM_GAP_S)
    gaps = trajectory.sample_gaps(tracks, MAX_ODOM_GAP_S)
    sim_end = times.sim_ended if times.sim_ended is not None else time.monotonic()
    sim_wall = sim_end - (times.sim_started or sim_end)
    sim_time, record = monitor.sim_time, monitor.record
    sim_s = min(sim_time, opts.duration) if opts.duration > 0 else sim_time
    visits = order_kpis(record, sim_s)["rack_visits"]
    travel = sum(tr.distance() for tr in tracks)
    forecast, forecast_at_s = monitor.forecast, monitor.forecast_at_s
    first_plan = monitor.first_plan_wall
    return {
        "robots": opts.robots,
        "sim_duration_s": round(sim_s, 2),
        "wall_duration_s": round(time.monotonic() - times.start, 2),
        "real_time_factor": round(sim_time / sim_wall, 2) if sim_wall > 0 else 0.0,
        "max_real_time_factor": round(float(param_doc["floor_simulator" if opts.bases == "floor" else "base_simulator"]
                                            ["ros__parameters"]["real_time_factor"]), 2),
        "startup_s": round((times.sim_started or times.start) - times.start, 2),
        "first_plan_s": round(first_plan - times.start, 2) if first_plan else None,
        **order_kpis(record, sim_s),
        **operations_kpis(record, sim_s, opts.robots),
        "forecast_mase": forecast.get("mase"),
        "forecast_seasonal_naive_mase": forecast.get("seasonal_naive_mase"),
        "forecast_wall_s": forecast.get("computed_in_s"),
        "forecast_at_s": round(forecast_at_s, 1) if forecast_at_s is not None else None,
        "travel_per_rack_visit_m": round(travel / visits, 2) if visits else 0.0,
        "robot_travel_m": round(travel, 1),
        **monitor.packaging.kpis(),
        "policy": policy,
        "collisions": len(encounters),
        "odom_gaps": len(gaps),
        "odom_gap_s": round(sum(end - start for _, start, end in gaps), 1),
        "min_distance_m": opts.min_distance,
        **_status_counters(monitor.sim_status, monitor.planner_status),
        **monitor.faults.kpis(record.order_created, set(record.order_completed) | set(record.order_cancelled)),
        "orders_cancelled": len(record.order_cancelled),
        "stuck_robots": len(monitor.watch.stuck_episodes),
        "max_no_progress_s": round(monitor.watch.longest(), 1),
        "stuck_robots_strict": len(monitor.watch.strict_episodes),
        "max_no_progress_strict_s": round(monitor.watch.longest_strict(), 1),
        "peak_rss_mb": round(times.peak_pss_mb, 1),
        "cpu_s": times.cpu_s or {},
        "node_restarts": times.node_restarts,
        "node_restarts_by_node": times.restarts_by_node,
        "interrupted": bool(times.interrupted_by),
        "interrupted_by": times.interrupted_by or None,
        "ended_by": monitor.ended_by or None,  # who ended it early through /run/end (the API's shutdown)
        "seed": opts.seed,
        "layout": str(opts.layout),
        "bag": str(bag_dir),
    }


def _status_counters(status: dict, planner_status: dict) -> dict[str, int]:
    """The report's counters from the simulator's and the planner's last status."""
    sim = {k: _status_value(status, k) for k in ("stalls", "node_stalls", "allocator_stalls")}
    return {
        "sim_stalls": sum(sim.values()),
        "sim_stalls_planner": sim["stalls"],
        "sim_stalls_nodes": sim["node_stalls"],
        "sim_stalls_allocator": sim["allocator_stalls"],
        "injected_delays": _status_value(status, "injected_delays"),
        "robot_failures": _status_value(status, "robot_failures"),
        **{k: _status_value(planner_status, k)
           for k in ("plan_repairs", "lag_repairs", "freeze_timeouts", "priority_boosts", "watchdog_replans")},
    }


def _status_value(status: dict, key: str) -> int:
    """An integer counter of a status record (0 if absent: the node never said)."""
    return int(status.get(key, 0))


def log_tail(log_dir: Path, lines: int = 15) -> str:
    out = []
    for f in sorted(log_dir.glob("*.log")):
        text = f.read_text(errors="replace").strip().splitlines()
        if text:
            out.append(f"--- {f.name}\n" + "\n".join(text[-lines:]))
    return "\n".join(out)


def exit_code(report: dict) -> int:
    """The run command's exit code: 0, or 128 + the signal's number after an interruption (130 for
    SIGINT, 143 for SIGTERM: what a shell reports for a process the signal ended)."""
    name = report.get("interrupted_by")
    return 128 + signal.Signals[name].value if name else 0


def summary(report: dict, out: Path) -> str:
    r = report
    lines = [
        f"Warehouse run: {r['robots']} robots, {r['sim_duration_s']:.0f} s simulated in "
        f"{r['wall_duration_s']:.0f} s wall (x{r['real_time_factor']:.1f}, start-up {r['startup_s']:.1f} s)",
        f"  orders      received {r['orders_received']}, completed {r['orders_completed']}, "
        f"rejected {r['orders_rejected']}",
        f"  picking     {r['order_lines_picked']} lines in {r['rack_visits']} rack visits "
        f"({r['picks_per_rack_visit']:.2f} lines/visit), {r['throughput_lines_per_hour']:.0f} lines/h",
        f"  cycle time  mean {r['mean_order_cycle_s']:.0f} s, p95 {r['p95_order_cycle_s']:.0f} s; "
        f"{r['deadline_misses']} deadline misses",
        f"  shipping    {r['parcels_shipped']} parcels ({r['consolidation_ratio']:.2f} orders/parcel), "
        f"robots busy {r['robot_utilization'] * 100:.0f} % (policy {r['policy']}), "
        f"{r['charging_events']} charges, lowest battery {r['min_battery'] * 100:.0f} %",
        f"  safety      {r['collisions']} collisions (robot centres < {r['min_distance_m']} m, "
        f"{r['odom_gaps']} odometry gaps > {MAX_ODOM_GAP_S:.0f} s not judged); "
        f"{r['robot_failures']} robot failures, {r['plan_repairs']} plan repairs, "
        f"{r['tasks_reallocated']} tasks reallocated",
        f"  slotting    {r['travel_per_rack_visit_m']:.1f} m robot travel per rack visit; forecast MASE "
        f"{r['forecast_mase']} (seasonal naive {r['forecast_seasonal_naive_mase']}); forecast there at "
        f"{r['forecast_at_s']} s sim time (rack returns random before)",
        f"  packing     {r['boxes_shipped']} boxes, {r['packaging_surface_m2']:.2f} m2 of board, mean utilisation "
        f"{r['mean_box_utilisation'] * 100:.0f} %",
        f"  planner     p99 {r['planner_p99_ms']:.1f} ms per round ({r['planner_cpu_p99_ms']:.1f} ms CPU); "
        f"peak memory {r['peak_rss_mb']:.0f} MB",
        f"  progress    {r['stuck_robots']} robots stuck > {STUCK_AFTER_S:.0f} s with a task (longest "
        f"{r['max_no_progress_s']:.0f} s; strictly, counting station-line waits: {r['stuck_robots_strict']}, "
        f"{r['max_no_progress_strict_s']:.0f} s); sim time waited {r['sim_stalls']} ticks for slow nodes",
        f"  faults      {r['faults_injected']} injected, {r['orders_lost']} orders lost; "
        f"{r['deadlocks_detected']} deadlocks detected, {r['unresolved_deadlocks']} unresolved",
        f"  written     {out / 'report.json'}, {out / 'parcels.jsonl'} and {out / 'bag'}",
    ]
    if r.get("interrupted"):
        lines.insert(1, f"  INTERRUPTED by {r['interrupted_by']} after {r['sim_duration_s']:.0f} s simulated: "
                        "every figure covers the run until then")
    return "\n".join(lines)

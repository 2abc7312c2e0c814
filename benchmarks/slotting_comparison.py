"""Forecast-driven rack returns against random returns in the same seeded run.

    .venv/bin/python benchmarks/slotting_comparison.py [--robots 20] [--duration 1800] [--seed 42]
        [--seeds 1 2 3] [--variants class random [class-noparking ...]]

Runs ``./warehouse run`` per seed and variant with the same layout, order stream and policy
(``default``), one run at a time: ``class`` (``task_allocator.returns: class``: racks go back to
the free location of their forecast turnover class nearest the station; idle robots park under
class-A racks after ``park_after``), ``random`` (``returns: random``, no parking: no use of the
forecast), and further variants of :data:`VARIANTS`. Prints a markdown table per seed and the mean
over the seeds, with the issue's targets for ``class`` against ``random``: at least 8 % less robot
travel per rack visit, throughput no lower. Throughput is in simulated time (see RESULTS.md for
how far a loaded machine still moves it).

Where a visit's time goes, from each run's bag (``/tasks``, ``/task_status``; completed rack
visits): ``fetch_s`` from assignment to the rack lifted, ``station_s`` from lifted to picked
(drive to the station, queue, pick: congestion near the stations shows here), ``return_s`` from
picked to the rack put down; ``park_tasks`` counts the idle-robot park tasks.
``--tables-only`` prints the tables again from ``OUT/reports.json`` without running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import policy_comparison
from rosbags.rosbag2 import Reader

from warehouse_core.analysis import bagio

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("travel_per_rack_visit_m", "robot_travel_m", "rack_visits", "throughput_lines_per_hour",
          "orders_completed", "picks_per_rack_visit", "p95_order_cycle_s", "robot_utilization", "forecast_mase",
          "forecast_at_s", "fetch_s", "station_s", "return_s", "park_tasks", "collisions", "sim_stalls",
          "real_time_factor")
TYPE_PICK, TYPE_PARK = 0, 2  # warehouse_interfaces/msg/Task
STATE_ASSIGNED, STATE_DONE = 1, 3  # warehouse_interfaces/msg/TaskStatus


# variant -> task_allocator parameters
VARIANTS = {
    "class": {"returns": "class"},
    "random": {"returns": "random", "park_after": 0.0},
    "class-noparking": {"returns": "class", "park_after": 0.0},
}


def run_name(variant: str, seed: int, args) -> str:
    return f"{variant}-{args.robots}" + (f"-s{seed}" if len(args.seeds) > 1 else "")


def run(variant: str, seed: int, args, out: Path) -> dict:
    run_args = argparse.Namespace(**{**vars(args), "seed": seed})
    name = run_name(variant, seed, args)
    report = policy_comparison.run("default", args.robots, run_args, out, VARIANTS[variant], name)
    return report | visit_stages(out / name / "bag")


def visit_stages(bag: Path) -> dict:
    """Mean seconds (sim time) of the stages of completed rack visits, and the park tasks (module docstring)."""
    store = bagio.typestore_with([bagio.interfaces_msg_dir(ROOT)])
    types: dict[str, int] = {}
    first: dict[str, dict] = {}
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic in ("/tasks", "/task_status")]
        for conn, _t, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == "/tasks":
                types[msg.task_id] = int(msg.type)
                continue
            t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            seen = first.setdefault(msg.task_id, {})
            key = "assigned" if msg.state == STATE_ASSIGNED else "done" if msg.state == STATE_DONE \
                else int(msg.step_index)
            seen[key] = min(t, seen.get(key, t))
    stages = [(s[1] - s["assigned"], s[2] - s[1], s["done"] - s[2]) for tid, s in first.items()
              if types.get(tid) == TYPE_PICK and all(k in s for k in ("assigned", 1, 2, "done"))]
    mean = np.mean(stages, axis=0) if stages else [None] * 3
    return {"fetch_s": round(float(mean[0]), 1) if stages else None,
            "station_s": round(float(mean[1]), 1) if stages else None,
            "return_s": round(float(mean[2]), 1) if stages else None,
            "park_tasks": sum(1 for t in types.values() if t == TYPE_PARK)}


def change(ours: dict, base: dict, field: str) -> float:
    return (ours[field] - base[field]) / base[field] if base[field] else 0.0


def table(rows: list[tuple[str, dict]]) -> None:
    print("| seed | variant | " + " | ".join(FIELDS) + " |")
    print("|---|---|" + "---|" * len(FIELDS))
    for label, rep in rows:
        print(f"| {label} | " + " | ".join(str(rep.get(f)) for f in FIELDS) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--robots", type=int, default=20)
    ap.add_argument("--duration", type=float, default=1800.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="several seeds (default: --seed)")
    ap.add_argument("--variants", nargs="+", default=["class", "random"], choices=sorted(VARIANTS))
    ap.add_argument("--orders-per-robot-hour", type=float, default=30.0)
    ap.add_argument("--out", default=str(ROOT / "runs" / "slotting_comparison"))
    ap.add_argument("--tables-only", action="store_true", help="print the tables of OUT/reports.json, run nothing")
    args = ap.parse_args()
    args.seeds = args.seeds or [args.seed]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports: dict[int, dict[str, dict]] = {}
    if args.tables_only:
        saved = json.loads((out / "reports.json").read_text())
        reports = {s: {v: saved[str(s)][v] for v in args.variants} for s in args.seeds}
        for seed, reps in reports.items():
            for v, rep in reps.items():
                if "fetch_s" not in rep:  # saved before the stage timings were added
                    names = (f"{v}-{args.robots}-s{seed}", f"{v}-{args.robots}")
                    rep.update(visit_stages(next(out / n / "bag" for n in names if (out / n).exists())))
    for seed in args.seeds if not args.tables_only else ():
        reports[seed] = {variant: run(variant, seed, args, out) for variant in args.variants}
        (out / "reports.json").write_text(json.dumps(reports, indent=2))
    table([(f"{seed} | {variant}", rep) for seed, reps in reports.items() for variant, rep in reps.items()])
    if len(args.seeds) > 1:
        means = {v: {f: round(statistics.fmean(float(reports[s][v].get(f) or 0.0) for s in args.seeds), 3)
                     for f in FIELDS} for v in args.variants}
        print()
        table([(f"mean of {len(args.seeds)} | {v}", rep) for v, rep in means.items()])
    if "random" not in args.variants:
        return 0
    print()
    print("| seed | variant | robots | duration (s) | travel per rack visit change vs random (target <= -8 %) "
          "| throughput change vs random (target >= 0) |")
    print("|---|---|---|---|---|---|")
    for variant in (v for v in args.variants if v != "random"):
        for seed in args.seeds:
            ours, base = reports[seed][variant], reports[seed]["random"]
            print(f"| {seed} | {variant} | {args.robots} | {args.duration:.0f} "
                  f"| {change(ours, base, 'travel_per_rack_visit_m') * 100:+.1f} % "
                  f"| {change(ours, base, 'throughput_lines_per_hour') * 100:+.1f} % |")
        if len(args.seeds) > 1:
            ours, base = means[variant], means["random"]
            print(f"| mean | {variant} | {args.robots} | {args.duration:.0f} "
                  f"| {change(ours, base, 'travel_per_rack_visit_m') * 100:+.1f} % "
                  f"| {change(ours, base, 'throughput_lines_per_hour') * 100:+.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

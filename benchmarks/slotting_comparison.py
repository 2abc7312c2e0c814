"""Forecast-driven rack returns against random returns in the same seeded run (issue 9).

    .venv/bin/python benchmarks/slotting_comparison.py [--robots 20] [--duration 1800] [--seed 42]
        [--seeds 1 2 3] [--variants class random [class-noparking ...]]

Runs ``./warehouse run`` per seed and variant with the same layout, order stream and policy
(``default``), one run at a time: ``class`` (``task_allocator.returns: class``: racks go back to
the free location of their forecast turnover class nearest the station; idle robots park under
class-A racks after ``park_after``), ``random`` (``returns: random``, no parking: no use of the
forecast), and further variants of :data:`VARIANTS`. Prints a markdown table per seed and the mean
over the seeds, with the issue's targets for ``class`` against ``random``: at least 8 % less robot
travel per rack visit, throughput no lower. Throughput is in simulated time, so a loaded machine
slows a run down but does not change it (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import policy_comparison

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("travel_per_rack_visit_m", "robot_travel_m", "rack_visits", "throughput_lines_per_hour",
          "orders_completed", "picks_per_rack_visit", "p95_order_cycle_s", "robot_utilization", "forecast_mase",
          "forecast_at_s", "collisions", "sim_stalls", "real_time_factor")


# variant -> task_allocator parameters
VARIANTS = {
    "class": {"returns": "class"},
    "random": {"returns": "random", "park_after": 0.0},
    "class-noparking": {"returns": "class", "park_after": 0.0},
}


def run(variant: str, seed: int, args, out: Path) -> dict:
    run_args = argparse.Namespace(**{**vars(args), "seed": seed})
    name = f"{variant}-{args.robots}" + (f"-s{seed}" if len(args.seeds) > 1 else "")
    return policy_comparison.run("default", args.robots, run_args, out, VARIANTS[variant], name)


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
    args = ap.parse_args()
    args.seeds = args.seeds or [args.seed]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports: dict[int, dict[str, dict]] = {}
    for seed in args.seeds:
        reports[seed] = {variant: run(variant, seed, args, out) for variant in args.variants}
        (out / "reports.json").write_text(json.dumps(reports, indent=2))
    table([(f"{seed} | {variant}", rep) for seed, reps in reports.items() for variant, rep in reps.items()])
    if len(args.seeds) > 1:
        means = {v: {f: round(statistics.fmean(float(reports[s][v][f] or 0.0) for s in args.seeds), 3)
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

"""Fleet-scale runtime: the whole stack at 50 to 500 robots on the large layout.

    .venv/bin/python benchmarks/fleet_scale.py [--robots 50 100 200 500] [--duration 600]
                                               [--orders-per-robot-hour 40] [--out DIR]

Runs ``./warehouse run --map maps/warehouse_large_layout.yaml`` once per fleet size (same seed;
the order rate grows with the fleet so that every fleet has work) and prints one markdown
row per size against the issue's targets: start-up to first plan < 30 s at 500 robots,
real-time factor >= 1.0 at 500 (>= 5.0 at 100), planner step p99 < 200 ms at 500, zero
collisions, zero stuck robots (a robot with a task and no progress for 60 simulated s; the
strict columns also count robots waiting in a first-come-first-served station line), peak
memory < 4 GiB. Runs use ``./warehouse run``'s default ``--max-rtf`` (750 / robots).
A second table is the profile: CPU seconds per process per simulated minute.
It also writes ``DIR/throughput.png`` (lines per hour against fleet size) and
``DIR/fleet_scale.json`` (every report).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = "maps/warehouse_large_layout.yaml"
COLUMNS = (("robots", "robots"), ("first plan [s]", "first_plan_s"), ("start-up [s]", "startup_s"),
           ("RTF", "real_time_factor"), ("planner p50 [ms]", "planner_p50_ms"),
           ("planner p99 [ms]", "planner_p99_ms"), ("planner CPU p99 [ms]", "planner_cpu_p99_ms"),
           ("collisions", "collisions"), ("stuck robots", "stuck_robots"),
           ("longest no progress [s]", "max_no_progress_s"), ("stuck strict", "stuck_robots_strict"),
           ("longest strict [s]", "max_no_progress_strict_s"), ("peak memory [MB]", "peak_rss_mb"),
           ("sim waits (planner / nodes)", None), ("orders done", "orders_completed"),
           ("lines/h", "throughput_lines_per_hour"), ("utilisation", "robot_utilization"))
PROCESSES = ("floor_simulator", "robot_containers", "mapf_planner", "task_allocator", "order_source",
             "run_monitor")


def run(robots: int, args, out: Path) -> dict:
    run_dir = out / f"robots-{robots}"
    cmd = [str(ROOT / "warehouse"), "run", "--map", LAYOUT, "--robots", str(robots),
           "--duration", str(args.duration), "--seed", str(args.seed),
           "--orders-per-hour", str(args.orders_per_robot_hour * robots), "--out", str(run_dir), "--quiet"]
    print(f"# {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return json.loads((run_dir / "report.json").read_text())


def cell(rep: dict, key: str | None) -> str:
    if key is None:
        return f"{rep['sim_stalls_planner']} / {rep['sim_stalls_nodes']}"
    value = rep.get(key)
    return "-" if value is None else str(value)


def plot(reports: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["robots"] for r in reports]
    ys = [r["throughput_lines_per_hour"] for r in reports]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys, "o-")
    ax.set_xlabel("robots")
    ax.set_ylabel("order lines picked per hour")
    ax.set_title(f"Throughput against fleet size ({LAYOUT.split('/')[-1]})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--robots", type=int, nargs="+", default=[50, 100, 200, 500])
    ap.add_argument("--duration", type=float, default=600.0, help="simulated seconds per run")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--orders-per-robot-hour", type=float, default=40.0)
    ap.add_argument("--out", default=str(ROOT / "runs" / "fleet_scale"))
    ap.add_argument("--replot", action="store_true",
                    help="no runs: tables and plot again from DIR/fleet_scale.json")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports = json.loads((out / "fleet_scale.json").read_text()) if args.replot else []
    for robots in [] if args.replot else args.robots:
        reports.append(run(robots, args, out))
        (out / "fleet_scale.json").write_text(json.dumps(reports, indent=2))
    print("| " + " | ".join(name for name, _ in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for rep in reports:
        print("| " + " | ".join(cell(rep, key) for _, key in COLUMNS) + " |")
    print()
    print("CPU seconds per simulated minute, by process:")
    print()
    print("| robots | " + " | ".join(PROCESSES) + " | total |")
    print("|---|" + "---|" * (len(PROCESSES) + 1))
    for rep in reports:
        per_min = 60.0 / rep["sim_duration_s"] if rep["sim_duration_s"] else 0.0
        cpu = rep.get("cpu_s", {})
        values = [cpu.get(p, 0.0) * per_min for p in PROCESSES]
        print(f"| {rep['robots']} | " + " | ".join(f"{v:.1f}" for v in values) + f" | {sum(values):.1f} |")
    plot(reports, out / "throughput.png")
    print(f"\nplot: {out / 'throughput.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Default policy against the baseline policy in the same runs.

    .venv/bin/python benchmarks/policy_comparison.py [--robots 20 100] [--duration 3600] [--seed 42]

Runs ``./warehouse run`` for each fleet size with ``--policy baseline`` and ``--policy default``
(same seed, same layout, same order stream; the order rate is ``--orders-per-robot-hour`` times
the fleet size so that both fleets have work), then prints one markdown table with the issue's
targets: at least 30 % more picks per rack visit, at least 25 % fewer rack visits per order,
higher throughput, p95 order cycle time no worse.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("picks_per_rack_visit", "rack_visits_per_order", "throughput_lines_per_hour",
          "p95_order_cycle_s", "orders_completed", "consolidation_ratio", "robot_utilization",
          "collisions", "real_time_factor")


def run(policy: str, robots: int, args, out: Path, allocator: dict | None = None, name: str = "") -> dict:
    """One ``./warehouse run`` with ``policy``; ``allocator``: more task_allocator parameters;
    ``name``: the run's directory name (default ``<policy>-<robots>``)."""
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"]["orders_per_hour"] = args.orders_per_robot_hour * robots
    config["task_allocator"]["ros__parameters"].update(allocator or {})
    name = name or f"{policy}-{robots}"
    cfg = out / f"config-{name}.yaml"
    cfg.write_text(yaml.safe_dump(config))
    run_dir = out / name
    cmd = [str(ROOT / "warehouse"), "run", "--robots", str(robots), "--duration", str(args.duration),
           "--seed", str(args.seed), "--policy", policy, "--config", str(cfg), "--out", str(run_dir),
           "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return json.loads((run_dir / "report.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--robots", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--orders-per-robot-hour", type=float, default=30.0)
    ap.add_argument("--out", default=str(ROOT / "runs" / "policy_comparison"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for robots in args.robots:
        base = run("baseline", robots, args, out)
        ours = run("default", robots, args, out)
        rows.append((robots, base, ours))
        (out / f"reports-{robots}.json").write_text(json.dumps({"baseline": base, "default": ours}, indent=2))
    print("| robots | policy | " + " | ".join(FIELDS) + " |")
    print("|---|---|" + "---|" * len(FIELDS))
    for robots, base, ours in rows:
        for name, rep in (("baseline", base), ("default", ours)):
            print(f"| {robots} | {name} | " + " | ".join(str(rep[f]) for f in FIELDS) + " |")
    print()
    print("| robots | picks/visit gain (target >= +30 %) | visits/order change (target <= -25 %) "
          "| throughput gain (target > 0) | p95 cycle change (target <= 0) |")
    print("|---|---|---|---|---|")
    for robots, base, ours in rows:
        def rel(f, base=base, ours=ours):
            return (ours[f] - base[f]) / base[f] * 100 if base[f] else float("nan")
        print(f"| {robots} | {rel('picks_per_rack_visit'):+.0f} % | {rel('rack_visits_per_order'):+.0f} % "
              f"| {rel('throughput_lines_per_hour'):+.0f} % | {rel('p95_order_cycle_s'):+.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

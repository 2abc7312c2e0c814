"""Soak: the whole stack for many simulated hours, memory and throughput hour by hour.

    .venv/bin/python benchmarks/soak.py [--hours 24] [--robots 100] [--map maps/warehouse_large_layout.yaml]
                                        [--orders-per-hour 720] [--sample-every 3600] [--seed 42] [--out DIR]
                                        [--max-rtf 15] [--bag-odom off]

Runs ``./warehouse run --sample-every S`` (memory of every process as PSS, orders and lines so
far, every ``S`` simulated seconds into ``DIR/timeline.jsonl``) for ``--hours`` simulated hours
with the fast record profile (``--bag-odom off``: the bag keeps the simulator's ground truth,
every tick, and every event, but not the robots' odometry, 90 % of the messages; and a
real-time-factor cap of 15 instead of the run's 7.5 at 100 robots, ``--max-rtf 15``: the
simulator still waits for a planner, robot container or allocator that falls behind; no cap at
all, ``--max-rtf 0``, wastes CPU: the waiting simulator re-publishes ``/clock`` every 0.1 ms),
and prints one markdown row per sample: memory (total and the largest processes), orders
accepted / completed and lines picked in the interval, open backlog, and collisions in the
interval (robot centres closer than 0.5 m on the simulator's ground truth in the bag). It
checks the issue's targets: memory growth under 5 % from the first simulated hour to the end,
zero collisions, throughput stable (every full hour after the first within 25 % of the mean of
those hours). Exit code 1 if a target is missed.

The default layout is the large one (12 pick stations, 1,360 racks): on the default layout
(4 stations) 100 robots mostly queue at the stations, which soaks the queueing, not the fleet.
The default order rate (720 orders/h, about 1,150 lines/h) is below what 100 robots pick there
(about 1,700 lines/h, ``benchmarks/RESULTS.md``, "Fleet scale"), so the backlog stays bounded
and memory should too: a backlog that grows without bound would grow memory for a good reason.
The racks are refilled by the allocator's hourly replenishment shift
(``task_allocator.replenish_every`` in ``config/warehouse.yaml``): without it the run sells out
its popular SKUs within hours and refuses their orders, and throughput falls for that reason.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core"))

GROWTH_LIMIT = 0.05
THROUGHPUT_BAND = 0.25


def collisions_by_interval(bag: Path, edges: list[float]) -> list[int]:
    """Close encounters (< 0.5 m) starting in each interval [edges[i], edges[i + 1])."""
    from warehouse_core.analysis import bagio, trajectory

    store = bagio.typestore_with([ROOT / "src" / "warehouse_interfaces" / "msg"])
    truth = bagio.read_fleet_state_tracks(bag, store)
    found = trajectory.close_encounters(truth, 0.5, 2.0)
    return [sum(1 for e in found if a <= e.t_start < b) for a, b in zip(edges, edges[1:])]


def table(samples: list[dict], collisions: list[int]) -> list[str]:
    rows = ["| sim time [h] | memory PSS [MB] | private USS [MB] | largest processes PSS [MB] | orders accepted | "
            "orders completed | lines picked | open orders | collisions |",
            "|---|---|---|---|---|---|---|---|---|"]
    prev = {"orders_accepted": 0, "orders_completed": 0, "lines_picked": 0}
    for i, s in enumerate(samples):
        top = sorted(s["pss_by_process_mb"].items(), key=lambda kv: -kv[1])[:3]
        rows.append(
            f"| {s['sim_s'] / 3600:.2f} | {s['pss_mb']:,.0f} | {s.get('uss_mb', float('nan')):,.0f} | "
            f"{', '.join(f'{k} {v:,.0f}' for k, v in top)} | "
            f"{s['orders_accepted'] - prev['orders_accepted']} | {s['orders_completed'] - prev['orders_completed']} | "
            f"{s['lines_picked'] - prev['lines_picked']} | {s['orders_accepted'] - s['orders_completed']} | "
            f"{collisions[i - 1] if i else '-'} |")
        prev = s
    return rows


def verdict(samples: list[dict], collisions: list[int], report: dict) -> list[tuple[str, bool, str]]:
    """(target, met, figure) for memory growth, collisions and throughput stability."""
    out = []
    base = next((s for s in samples if s["sim_s"] >= 3600 - 1), None)
    if base is None or samples[-1] is base:
        out.append(("memory growth < 5 % after the first hour", False, "not measured: the run was shorter "
                    "than two samples past the first hour"))
    else:
        growth = (samples[-1]["pss_mb"] - base["pss_mb"]) / base["pss_mb"]
        private = ""
        if "uss_mb" in base:  # pages of the run's processes alone: not moved by other processes on the machine
            private = (f"; private (USS) {base['uss_mb']:,.0f} -> {samples[-1]['uss_mb']:,.0f} MB "
                       f"({(samples[-1]['uss_mb'] - base['uss_mb']) / base['uss_mb'] * 100:+.1f} %)")
        out.append(("memory growth < 5 % after the first hour", growth < GROWTH_LIMIT,
                    f"{base['pss_mb']:,.0f} MB at {base['sim_s'] / 3600:.2f} h -> {samples[-1]['pss_mb']:,.0f} MB at "
                    f"{samples[-1]['sim_s'] / 3600:.2f} h ({growth * 100:+.1f} %){private}"))
    out.append(("zero collisions", report["collisions"] == 0 and sum(collisions) == 0,
                f"{report['collisions']} in the run"))
    hourly = []
    for a, b in zip(samples, samples[1:]):
        if a["sim_s"] >= 3600 - 1 and b["sim_s"] - a["sim_s"] > 0:
            hourly.append((b["lines_picked"] - a["lines_picked"]) * 3600 / (b["sim_s"] - a["sim_s"]))
    if len(hourly) < 2:
        out.append(("throughput stable (each interval after the first hour within 25 % of their mean)", False,
                    f"not measured: {len(hourly)} interval(s) after the first hour"))
    else:
        mean = sum(hourly) / len(hourly)
        worst = max(abs(h - mean) / mean for h in hourly) if mean else 1.0
        out.append(("throughput stable (each interval after the first hour within 25 % of their mean)",
                    worst <= THROUGHPUT_BAND,
                    f"lines/h {', '.join(f'{h:,.0f}' for h in hourly)}; largest deviation {worst * 100:.0f} %"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--robots", type=int, default=100)
    p.add_argument("--map", default="maps/warehouse_large_layout.yaml")
    p.add_argument("--orders-per-hour", type=float, default=720.0)
    p.add_argument("--sample-every", type=float, default=3600.0, metavar="SIM_S",
                   help="memory/throughput sample period in simulated seconds (default 3600)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default=str(ROOT / "runs" / "soak"))
    p.add_argument("--max-rtf", type=float, default=15.0, metavar="X",
                   help="./warehouse run --max-rtf (default 15; the run's own default is 750 / robots, x7.5 at 100 "
                        "robots; 0 wastes CPU: the simulator re-publishes /clock every 0.1 ms while it waits)")
    p.add_argument("--bag-odom", choices=("on", "off", "full"), default="off",
                   help="./warehouse run --bag-odom (default off: collisions, travel and analysis from the ground "
                        "truth /sim/fleet_state)")
    a = p.parse_args(argv)
    out = Path(a.out).resolve()
    cmd = [str(ROOT / "warehouse"), "run", "--map", a.map, "--robots", str(a.robots),
           "--duration", str(a.hours * 3600), "--seed", str(a.seed), "--orders-per-hour", str(a.orders_per_hour),
           "--sample-every", str(a.sample_every), "--max-rtf", str(a.max_rtf), "--bag-odom", a.bag_odom,
           "--out", str(out), "--quiet"]
    print(f"# {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    samples = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    edges = [s["sim_s"] for s in samples] + [report["sim_duration_s"]]
    collisions = collisions_by_interval(out / "bag", edges)
    if collisions and len(collisions) > len(samples) - 1:  # the stretch after the last sample
        last = collisions.pop()
        collisions[-1:] = [collisions[-1] + last] if collisions else []
    print("\n".join(table(samples, collisions)))
    print(f"\nrun: {report['robots']} robots, {report['sim_duration_s'] / 3600:.2f} simulated hours in "
          f"{report['wall_duration_s'] / 3600:.2f} h wall (x{report['real_time_factor']}), "
          f"{report['orders_completed']} orders completed, {report['collisions']} collisions, "
          f"{report.get('deadlocks_detected', '-')} deadlocks detected, "
          f"{report.get('unresolved_deadlocks', '-')} unresolved, peak {report['peak_rss_mb']:,.0f} MB")
    ok = True
    for target, met, figure in verdict(samples, collisions, report):
        ok &= met
        print(f"- {target}: {'met' if met else 'NOT met'} ({figure})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Core soak: the allocator's decision state over many simulated hours, in-process (issue 8).

    .venv/bin/python benchmarks/soak_core.py [--hours 24] [--robots 100] [--orders-per-hour 720]
                                             [--map maps/warehouse_large_layout.yaml] [--seed 42] [--no-store]

Drives the allocator's decision state (journaled to a SQLite file in a temporary directory, as
``./warehouse run`` does) with the order source's seeded demand model, without ROS, planner or
floor (:mod:`warehouse_core.ops.ops_soak`: every rack visit takes ``--visit-s``; racks are refilled
every hour). Every simulated hour it prints the Python heap the run holds (``tracemalloc``,
after a garbage collection), the orders and tasks held in memory and what was accepted /
completed so far, and at the end the heap growth per hour after the first hour. A
memory-bounded allocator shows a flat heap; one that keeps every order and task grows by
the hour. About a minute of CPU per 24 simulated hours at the defaults.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core"))

from warehouse_core.ops.ops_soak import drive, growth_per_hour  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--robots", type=int, default=100)
    p.add_argument("--orders-per-hour", type=float, default=720.0)
    p.add_argument("--map", default=str(ROOT / "maps" / "warehouse_large_layout.yaml"))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--visit-s", type=float, default=120.0, help="simulated seconds a rack visit takes")
    p.add_argument("--no-store", action="store_true", help="no durable store (state in memory only)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        samples = drive(a.hours, a.robots, a.orders_per_hour, a.map, a.seed, None if a.no_store else tmp,
                        a.visit_s)
    print("| sim time [h] | Python heap [MB] | of it distance tables [MB] | orders held | tasks held | "
          "orders accepted | orders completed |")
    print("|---|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s.hour:.0f} | {s.heap_bytes / 1e6:.2f} | {s.distance_bytes / 1e6:.2f} | {s.orders_held:,} | "
              f"{s.tasks_held:,} | {s.accepted:,} | {s.completed:,} |")
    if a.hours >= 2:
        total, rest = growth_per_hour(samples)
        print(f"\nheap growth per hour after the first hour: {total / 1e3:+,.1f} kB/h, "
              f"{rest / 1e3:+,.1f} kB/h without the distance tables (a cache bounded by the layout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Task allocation speed: one assignment round with many idle robots and open rack visits.

    .venv/bin/python benchmarks/allocation.py [--robots 500] [--orders 1500] [--rounds 3]

Builds the large layout's operations state (seeded catalogue), submits orders so that about
``--orders`` lines are pending, puts ``--robots`` idle robots on random cells, and times
``WarehouseOps.assign`` with warm distance tables (rack choice with pile-on, drafting up to 2 visits per idle robot,
distance-and-slack cost matrix, Hungarian assignment). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core"))

from warehouse_core.maps.layout import load_layout  # noqa: E402
from warehouse_core.ops.inventory import seeded_inventory  # noqa: E402
from warehouse_core.ops.operations import OpsConfig, WarehouseOps  # noqa: E402
from warehouse_core.ops.orders import DemandModel  # noqa: E402


def one_round(layout, robots: int, orders: int, policy: str, seed: int) -> dict:
    inv = seeded_inventory(list(layout.rack_ids), 5000, seed)
    ops = WarehouseOps(layout, inv, OpsConfig(policy=policy, station_queue_limit=10_000,
                                              max_lines_per_visit=10, seed=seed))
    stream = DemandModel(3600.0, inv.popularity, mean_lines=1.6).stream(seed)
    t = 60.0
    while len(ops.pending) < orders:
        for o in stream.until(t):
            ops.submit(o, o.created)
        t += 60.0
    rng = random.Random(seed)
    free = [layout.grid.coord(i) for i in range(layout.grid.size) if layout.grid.free.ravel()[i]]
    for i, cell in enumerate(rng.sample(free, robots)):
        ops.update_robot(f"robot_{i}", cell)
    pending = len(ops.pending)
    for loc in layout.storage:  # warm distance tables, as in a running allocator
        ops.dist.table(layout.grid.index(loc.cell), False)
    t0 = time.perf_counter()
    tasks = ops.assign(t)
    dt = time.perf_counter() - t0
    lines = sum(len(task.lines) for task in tasks)
    return {"pending": pending, "tasks": len(tasks), "lines": lines, "seconds": dt}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", default=str(ROOT / "maps" / "warehouse_large_layout.yaml"))
    ap.add_argument("--robots", type=int, nargs="+", default=[100, 500])
    ap.add_argument("--orders", type=int, default=1500, help="pending order lines before the round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    layout = load_layout(args.layout)
    print("| policy | robots | pending lines | visits assigned | lines in them | round time (s), median |")
    print("|---|---|---|---|---|---|")
    for policy in ("default", "baseline"):
        for robots in args.robots:
            runs = [one_round(layout, robots, args.orders, policy, seed) for seed in range(args.rounds)]
            runs.sort(key=lambda r: r["seconds"])
            r = runs[len(runs) // 2]
            print(f"| {policy} | {robots} | {r['pending']} | {r['tasks']} | {r['lines']} | {r['seconds']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

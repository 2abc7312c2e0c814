#!/usr/bin/env python3
"""Lifelong MAPF benchmark: guided PIBT vs unguided vs windowed PP.

Usage (from the repo root)::

    .venv/bin/python benchmarks/mapf_lifelong.py [--steps 500] [--quick] [--sizes 100,200,500]
        [--maps default,large,warehouse-10-20-10-2-1,warehouse-small]
        [--data-dir ../shared/benchmarks/mapf] [--seed 0] [--window 10] [--replan-every 5]

Maps: ``default`` and ``large`` are the project layouts (maps/warehouse_layout.yaml,
maps/warehouse_large_layout.yaml) with goods-to-person tasks (lift a rack [dwell 2], carry it
to a station [dwell 5] as a loaded robot that may not pass storage cells, return it to a
free storage cell [dwell 2]; each is one goal). The MovingAI maps get random free-cell goals
(the usual lifelong MAPF benchmark); they are read from ``--data-dir`` and skipped with a
message when absent.

Planners: ``ours`` (LifelongPibt, one-way crisscross guidance), ``ours-noguide`` (same,
plain BFS distances), ``pp-w10-h5`` (WindowedPP, RHCR-style windowed prioritized planning).
Every step of every run is checked (vertex, swap, rotation, loaded-on-storage); the table
reports throughput (goals reached per step), planning time per step (p50 / p99 / max, ms),
the longest goal latency (assignment to arrival) among reached goals, and the age of the
oldest goal still open at the end (starvation shows up there).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src" / "warehouse_core"))

from lifelong_baseline import WindowedPP  # noqa: E402
from lifelong_tasks import RandomGoals, WarehouseTasks  # noqa: E402

from warehouse_core.mapf.guidance import NO_GUIDANCE, GuidanceConfig  # noqa: E402
from warehouse_core.mapf.lifelong import LifelongPibt  # noqa: E402
from warehouse_core.maps.grid import load_movingai_map  # noqa: E402
from warehouse_core.maps.layout import load_layout  # noqa: E402

LAYOUTS = {"default": "maps/warehouse_layout.yaml", "large": "maps/warehouse_large_layout.yaml"}
MOVINGAI = ("warehouse-10-20-10-2-1", "warehouse-small")


def load_instance(name: str, data_dir: Path):
    """(grid, storage_mask or None, task factory(seed), idle field or None) or None if absent."""
    if name in LAYOUTS:
        layout = load_layout(REPO / LAYOUTS[name])
        storage = np.asarray(layout.storage_mask)
        # idle robots park under racks (off the aisles): taxicab distance to storage
        idle = ndimage.distance_transform_cdt(~storage, metric="taxicab").astype(np.float32)
        return layout.grid, storage, (lambda seed: WarehouseTasks(layout, seed=seed)), idle
    path = data_dir / f"{name}.map"
    if not path.is_file():
        return None
    grid = load_movingai_map(path)
    return grid, None, (lambda seed: RandomGoals(grid, seed=seed)), None


def run_one(planner: str, grid, storage, tasks, idle, n: int, steps: int, seed: int,
            window: int, replan_every: int) -> dict:
    rng = np.random.default_rng(seed)
    starts = rng.choice(np.flatnonzero(grid.free.ravel()), n, replace=False)
    if planner == "ours":
        p = LifelongPibt(grid, starts, tasks, storage_mask=storage, guidance=GuidanceConfig(),
                         idle_field=idle, seed=seed + 1)
    elif planner == "ours-noguide":
        p = LifelongPibt(grid, starts, tasks, storage_mask=storage, guidance=NO_GUIDANCE,
                         idle_field=idle, seed=seed + 1)
    else:
        p = WindowedPP(grid, starts, tasks, storage_mask=storage, window=window,
                       replan_every=replan_every, seed=seed + 1)
    t0 = time.perf_counter()
    s = p.run(steps, check=True)
    return {"stats": s, "wall_s": time.perf_counter() - t0}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="150 steps, N = 100 and 200, two maps")
    ap.add_argument("--sizes", default="100,200,500")
    ap.add_argument("--maps", default="default,large,warehouse-10-20-10-2-1,warehouse-small")
    ap.add_argument("--planners", default="ours,ours-noguide,pp")
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "benchmarks" / "mapf"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--replan-every", type=int, default=5)
    args = ap.parse_args(argv)
    steps = 150 if args.quick else args.steps
    sizes = [100, 200] if args.quick else [int(x) for x in args.sizes.split(",")]
    maps = ["default", "warehouse-10-20-10-2-1"] if args.quick else args.maps.split(",")
    planners = args.planners.split(",")
    data_dir = Path(args.data_dir)
    pp_name = f"pp-w{args.window}-h{args.replan_every}"
    print(f"steps={steps} seed={args.seed}\n")
    for name in maps:
        inst = load_instance(name, data_dir)
        if inst is None:
            print(f"## {name}: skipped ({data_dir / (name + '.map')} not found)\n")
            continue
        grid, storage, make_tasks, idle = inst
        kind = "warehouse tasks" if name in LAYOUTS else "random goals"
        print(f"## {name} ({grid.width}x{grid.height}, {int(grid.free.sum())} free cells, {kind})\n")
        print("| planner | N | goals/step | plan ms p50 | p99 | max | max latency | oldest open goal | checks |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            if n > int(grid.free.sum()):
                continue
            for planner in planners:
                r = run_one(planner, grid, storage, make_tasks(args.seed), idle, n, steps, args.seed,
                            args.window, args.replan_every)
                s = r["stats"]
                label = pp_name if planner == "pp" else planner
                checks = f"{s.extra['violations']} violations"
                if "forced_waits" in s.extra:
                    checks += f", {s.extra['forced_waits']} forced waits"
                print(f"| {label} | {n} | {s.throughput:.3f} | {s.planning_ms_p50:.1f} | "
                      f"{s.planning_ms_p99:.1f} | {s.planning_ms_max:.0f} | {s.max_latency} | "
                      f"{s.max_open_age} | {checks} |", flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""One-shot MAPF benchmark: LaCAM (warehouse_core.mapf) on the shared MovingAI-format instances.

Usage (from the repo root)::

    .venv/bin/python benchmarks/mapf_oneshot.py [--time-limit 30] [--quick] [--scens 1,2]
        [--data-dir ../shared/benchmarks/mapf] [--algorithm lacam|pibt] [--no-lns] [--refine]
        [--seed 0] [--maps a,b] [--sizes 400,1000] [--clock wall|cpu]

Every instance runs in a fresh subprocess with a hard deadline (time limit + load margin);
every solution is checked with ``validate_solution``. Prints a markdown table: map, N, solved,
first_s and first SoC/LB (LaCAM's first solution), runtime_s and SoC/LB after the LNS
refinement (default on; runs until the time limit or until it stalls), makespan
(LB = sum of BFS distances).

``--clock cpu`` counts the time limit (and the runtime columns) in CPU seconds of the solver
process instead of wall-clock seconds: on a machine shared with other jobs, a wall-clock limit
measures the other jobs as much as the solver. The default is ``wall``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src" / "warehouse_core"))

MAPS = [  # (map, scen prefix, scen ids available)
    ("warehouse-small", "warehouse-small-random-", (1, 2, 3, 4, 5)),
    ("sortation-large", "sortation-large-random-", (1, 2, 3)),
    ("warehouse-10-20-10-2-1", "warehouse-10-20-10-2-1-random-", (1, 2, 3)),
]
SIZES = (100, 200, 400, 600, 800, 1000)
QUICK = [("warehouse-small", 100), ("warehouse-small", 200), ("sortation-large", 100),
         ("warehouse-10-20-10-2-1", 100)]


def worker(map_path: str, scen_path: str, n: int, time_limit: float, seed: int, algorithm: str,
           refine: bool, lns: bool, clock: str = "wall") -> dict:
    if clock == "cpu":
        # this subprocess only: the solvers read time.perf_counter, make it the process clock
        time.perf_counter = time.process_time
    from warehouse_core.mapf import lower_bound, makespan, solve_lacam, solve_pibt, sum_of_costs, validate_solution
    from warehouse_core.maps.grid import load_movingai_map, load_movingai_scen

    grid = load_movingai_map(map_path)
    scen = load_movingai_scen(scen_path, grid, n)
    starts = [a.start for a in scen]
    goals = [a.goal for a in scen]
    if algorithm == "pibt":
        sol = solve_pibt(grid, starts, goals, time_limit=time_limit, seed=seed)
    else:
        sol = solve_lacam(grid, starts, goals, time_limit=time_limit, seed=seed, refine=refine,
                          lns=lns)
    out = {"solved": sol.solved, "runtime_s": sol.runtime_s, "first_solution_s": sol.first_solution_s,
           "stats": sol.stats}
    if sol.solved:
        errors = validate_solution(grid, starts, goals, sol.paths)
        out["valid"] = not errors
        out["violations"] = errors[:3]
        lb = lower_bound(grid, starts, goals)
        out["soc"] = sum_of_costs(sol.paths, goals)
        out["lb"] = lb
        out["makespan"] = makespan(sol.paths, goals)
    return out


def run_one(args, map_name: str, scen_name: str, n: int) -> dict:
    data = Path(args.data_dir)
    cmd = [sys.executable, __file__, "--worker", str(data / f"{map_name}.map"),
           str(data / f"{scen_name}.scen"), str(n), str(args.time_limit), str(args.seed),
           args.algorithm, "1" if args.refine else "0", "1" if args.lns else "0", args.clock]
    t0 = time.perf_counter()
    hard = args.time_limit + 60 if args.clock == "wall" else 20 * args.time_limit + 120
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=hard)
    except subprocess.TimeoutExpired:
        return {"solved": False, "runtime_s": time.perf_counter() - t0, "note": "killed at hard deadline"}
    if proc.returncode != 0:
        return {"solved": False, "runtime_s": time.perf_counter() - t0,
                "note": "crashed: " + proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "crashed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        m, s, n, tl, seed, algo, refine, lns = argv[1:9]
        clock = argv[9] if len(argv) > 9 else "wall"
        print(json.dumps(worker(m, s, int(n), float(tl), int(seed), algo, refine == "1", lns == "1", clock)))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "benchmarks" / "mapf"))
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--quick", action="store_true", help="4 small instances only")
    p.add_argument("--scens", default="1", help="comma-separated random scen ids (default 1)")
    p.add_argument("--maps", default="", help="comma-separated subset of map names")
    p.add_argument("--sizes", default="", help="comma-separated agent counts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algorithm", choices=("lacam", "pibt"), default="lacam")
    p.add_argument("--refine", action="store_true",
                   help="LaCAM* search refinement until the time limit (instead of LNS)")
    p.add_argument("--lns", action=argparse.BooleanOptionalAction, default=True,
                   help="LNS refinement after the first solution (default on)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="count the time limit in wall-clock (default) or solver CPU seconds")
    args = p.parse_args(argv)
    data = Path(args.data_dir)
    if not data.is_dir():
        print(f"skipping: benchmark data not found at {data} (use --data-dir)")
        return 0
    sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else SIZES
    maps = set(args.maps.split(",")) if args.maps else None
    plan = []
    for map_name, prefix, ids in MAPS:
        if maps and map_name not in maps:
            continue
        for sid in [int(x) for x in args.scens.split(",")]:
            if sid not in ids:
                continue
            scen = data / f"{prefix}{sid}.scen"
            if not scen.exists():
                print(f"skipping {scen}: not found")
                continue
            available = sum(1 for line in scen.read_text().splitlines()[1:] if line.strip())
            for n in sizes:
                if n <= available and (not args.quick or (map_name, n) in QUICK):
                    plan.append((map_name, f"{prefix}{sid}", n))
    mode = " (LaCAM*)" if args.refine else (" + LNS" if args.lns and args.algorithm == "lacam" else "")
    clock = "" if args.clock == "wall" else " (CPU seconds)"
    print(f"# one-shot MAPF: {args.algorithm}{mode}, time limit {args.time_limit:g} s{clock}, seed {args.seed}\n")
    print("| map | scen | N | solved | first_s | first SoC/LB | runtime_s | SoC/LB | makespan |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = []
    for map_name, scen_name, n in plan:
        r = run_one(args, map_name, scen_name, n)
        ok = r["solved"] and r.get("valid", False)
        if r["solved"] and not r.get("valid", False):
            solved = f"INVALID ({'; '.join(r.get('violations', []))})"
        else:
            solved = "yes" if ok else "no" + (f" ({r['note']})" if "note" in r else
                                                f" ({r.get('stats', {}).get('reason', '')})")
        ratio = f"{r['soc'] / r['lb']:.3f}" if ok and r["lb"] > 0 else "-"
        first_soc = r.get("stats", {}).get("first_sum_of_costs")
        first_ratio = (f"{first_soc / r['lb']:.3f}" if ok and first_soc and r["lb"] > 0 else ratio)
        first_s = f"{r['first_solution_s']:.2f}" if ok and r.get("first_solution_s") is not None else "-"
        print(f"| {map_name} | {scen_name.rsplit('-', 2)[-2]}-{scen_name.rsplit('-', 1)[-1]} | {n} | {solved} "
              f"| {first_s} | {first_ratio} | {r['runtime_s']:.2f} | {ratio} "
              f"| {r.get('makespan', '-') if ok else '-'} |", flush=True)
        results.append((map_name, n, ok, r.get("first_solution_s") if ok else r["runtime_s"],
                        r["soc"] / r["lb"] if ok and r["lb"] else None))
    if results:
        solved = sum(1 for r in results if r[2])
        print(f"\nsolved {solved}/{len(results)}")
        for map_name in dict.fromkeys(r[0] for r in results):
            at400 = [r[3] for r in results if r[0] == map_name and r[1] == 400]
            if at400:
                print(f"{map_name}: median time to first solution at N=400: "
                      f"{statistics.median(at400):.2f} s")
            ratios = [r[4] for r in results if r[0] == map_name and r[4] is not None]
            if ratios:
                print(f"{map_name}: max SoC/LB: {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``warehouse mapf solve``: one-shot MAPF on a MovingAI map + scenario, plan written as JSON.

plan.json: ``{"solved": bool, "runtime_s": float, "algorithm": str, "paths": [[[x, y], ...], ...],
...}`` -- one path per agent (agent i = the i-th agent line of the scen), one cell per step from
start to goal (x = column, y = row), plus extra fields (sum_of_costs, lower_bound, makespan,
agents, map, scen, seed, first_solution_s, valid; with refinement also refinement and
first_sum_of_costs, the cost of the first solution).

Exit codes: 0 solved, 1 not solved within the time limit (or no solution exists), 2 bad input
(message names the file and the line), 3 internal error (an invalid plan; never expected).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path as FilePath

from warehouse_core.errors import ArgumentParser, InputError
from warehouse_core.mapf.lacam import solve_lacam
from warehouse_core.mapf.metrics import lower_bound, makespan, sum_of_costs
from warehouse_core.mapf.pibt import solve_pibt
from warehouse_core.mapf.types import Solution
from warehouse_core.mapf.validate import validate_solution
from warehouse_core.maps.grid import load_movingai_map, load_movingai_scen


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="warehouse mapf", description="One-shot multi-agent path finding.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="solve a MovingAI map + scen instance and write plan.json")
    s.add_argument("--map", required=True, help="MovingAI .map file")
    s.add_argument("--scen", required=True, help="MovingAI .scen file (agent i = i-th agent line)")
    s.add_argument("--agents", type=int, default=None, help="use the first N agents, N >= 1 (default: all)")
    s.add_argument("--time-limit", type=float, default=30.0, help="seconds, finite and > 0 (default 30)")
    s.add_argument("--out", required=True, help="output plan.json")
    s.add_argument("--seed", type=int, default=0, help="seed >= 0 (default 0)")
    s.add_argument("--algorithm", choices=("lacam", "pibt"), default="lacam",
                   help="lacam: complete (default); pibt: plain PIBT, fast but incomplete")
    s.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                   help="lacam only (default on): after the first solution, improve sum of costs by "
                        "large-neighbourhood search until the time limit or until it stalls, on dense "
                        "instances from a prioritized-planning solution; never loses the first solution")
    s.add_argument("--lacam-star", action="store_true",
                   help="lacam only: LaCAM* search refinement instead of LNS (proves optimality "
                        "on tiny instances)")
    return p


def solve_files(map_path: str, scen_path: str, agents: int | None, time_limit: float, seed: int = 0,
                algorithm: str = "lacam", refine: bool = True,
                lacam_star: bool = False) -> tuple[dict, Solution]:
    """Load, solve, validate; returns the plan dict (plan.json content) and the Solution."""
    grid = load_movingai_map(map_path)
    scen = load_movingai_scen(scen_path, grid, agents)
    starts = [a.start for a in scen]
    goals = [a.goal for a in scen]
    if algorithm == "pibt":
        sol = solve_pibt(grid, starts, goals, time_limit=time_limit, seed=seed)
    else:
        sol = solve_lacam(grid, starts, goals, time_limit=time_limit, seed=seed, refine=lacam_star,
                          lns=refine and not lacam_star)
    plan: dict = {"solved": sol.solved, "runtime_s": round(sol.runtime_s, 4), "algorithm": sol.algorithm,
                  "paths": [[[x, y] for x, y in p] for p in sol.paths] if sol.solved else []}
    plan.update(agents=len(scen), map=str(map_path), scen=str(scen_path), seed=seed)
    lb = lower_bound(grid, starts, goals)
    plan["lower_bound"] = lb
    if sol.solved:
        errors = validate_solution(grid, starts, goals, sol.paths)
        plan["valid"] = not errors
        plan["violations"] = errors
        plan["sum_of_costs"] = sum_of_costs(sol.paths, goals)
        plan["makespan"] = makespan(sol.paths, goals)
        plan["first_solution_s"] = (round(sol.first_solution_s, 4)
                                    if sol.first_solution_s is not None else None)
        if "refinement" in sol.stats:
            plan["refinement"] = sol.stats["refinement"]
            plan["first_sum_of_costs"] = sol.stats["first_sum_of_costs"]
    else:
        plan["reason"] = sol.stats.get("reason", "")
    return plan, sol


def _check(args: argparse.Namespace) -> None:
    """Refuse arguments out of range before anything is loaded."""
    if args.agents is not None and args.agents < 1:
        raise InputError("--agents", f"{args.agents} agents: nothing to solve", fix="give --agents 1 or more, "
                         "or leave it out for every agent of the scen")
    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise InputError("--time-limit", f"{args.time_limit} is not a time limit", fix="give seconds > 0, finite")
    if not 0 <= args.seed < 2**63:
        raise InputError("--seed", f"{args.seed} is not a seed", fix="give an integer from 0 to 2**63 - 1")


def _write(out: FilePath, plan: dict | None) -> None:
    """Write ``plan`` to ``out`` (None: only check that it can be written)."""
    fix = "give a writable --out file path"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if plan is not None:
            out.write_text(json.dumps(plan, separators=(",", ":")) + "\n")
    except OSError as exc:
        raise InputError(str(out), f"cannot write plan: {exc.strerror}", fix=fix) from None
    if out.is_dir() or not os.access(out.parent, os.W_OK):
        raise InputError(str(out), "cannot write plan: a directory or not writable", fix=fix)


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
        _check(args)
        out = FilePath(args.out)
        _write(out, None)  # a plan that could not be written is refused before the solver runs
        plan, _ = solve_files(args.map, args.scen, args.agents, args.time_limit, args.seed,
                              args.algorithm, args.refine, args.lacam_star)
        _write(out, plan)
    except SystemExit as exc:  # argparse: --help
        return int(exc.code or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = plan["agents"]
    if not plan["solved"]:
        print(f"mapf solve: {plan['algorithm']} did NOT solve {n} agents "
              f"({plan.get('reason', '')}, {plan['runtime_s']:.2f} s) -> {out}")
        return 1
    if not plan["valid"]:
        print(f"error: internal: invalid plan: {'; '.join(plan['violations'][:5])}", file=sys.stderr)
        return 3
    lb = plan["lower_bound"]
    ratio = plan["sum_of_costs"] / lb if lb > 0 else 1.0
    print(f"mapf solve: {plan['algorithm']} solved {n} agents in {plan['runtime_s']:.2f} s, "
          f"SoC {plan['sum_of_costs']} (LB {lb}, x{ratio:.3f}), makespan {plan['makespan']} -> {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

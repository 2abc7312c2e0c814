"""One-shot multi-agent path finding: LaCAM/LaCAM* with PIBT, validator, metrics, CLI.

Public API::

    solve_lacam(grid, starts, goals, time_limit=30.0, seed=0, refine=False) -> Solution
    solve_pibt(grid, starts, goals, time_limit=30.0, seed=0) -> Solution
    validate_solution(grid, starts, goals, paths) -> list[str]   # empty when valid
    sum_of_costs / makespan / lower_bound
    cli.main(["solve", "--map", ..., "--scen", ..., "--out", ...]) -> exit code
"""

from warehouse_core.mapf.lacam import solve_lacam
from warehouse_core.mapf.metrics import arrival_time, lower_bound, makespan, sum_of_costs
from warehouse_core.mapf.pibt import solve_pibt
from warehouse_core.mapf.types import Config, Solution
from warehouse_core.mapf.validate import validate_solution

__all__ = ["Config", "Solution", "arrival_time", "lower_bound", "makespan", "solve_lacam",
           "solve_pibt", "sum_of_costs", "validate_solution"]

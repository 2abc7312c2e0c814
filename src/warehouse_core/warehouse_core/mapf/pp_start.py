"""Prioritized-planning solutions for LNS to start from (see :func:`~warehouse_core.mapf.lacam.solve_lacam`).

Prioritized planning with collision repair (:mod:`warehouse_core.mapf.repair`), joint steps and
bumping (:mod:`warehouse_core.mapf.prioritized`) make a solution close to shortest paths, which
LNS improves far better than LaCAM's first. Dense instances start from it
(:func:`dense_pp_start`); sparse ones try it when LaCAM's first solution is expensive
(:func:`sparse_pp_start`).
"""

from __future__ import annotations

import time

import numpy as np

from warehouse_core.mapf.pibt import Graph
from warehouse_core.mapf.prioritized import plan_all
from warehouse_core.mapf.repair import RepairRefiner, repair_plan, restore_paths

REPAIR_SHARE = 0.5  # share of that time for collision repair before bumping takes the rest
# SIPP expansions per call in the repair: a failing call costs all of them, and the repair makes
# ~1,400 calls in 30 s at 1000 agents (warehouse-10-20 random-1, 20 CPU s of repair: 4 agents
# left unplanned with 10,000, 8 with 5,000, 46 after 12 s with 20,000)
REPAIR_EXPANSIONS = 10_000
# bumping finishes the prioritized solution only when the repair left at most this share of the
# agents unplanned; with more (warehouse-10-20 at 1000 agents: ~5 %) it did not finish in its
# time, which LNS from LaCAM's solution uses better
REPAIR_GIVE_UP = 0.025
# the repair itself stops right after prioritized planning left more than this share
# unplanned (warehouse-10-20, random-1..3: 7.5-10 % at 800 agents, where the repair then
# converges; 13-16 % at 1000, where it does not)
REPAIR_GIVE_UP_INITIAL = 0.15
# the repair stops after this many steps without fewer agents unplanned than before, if at most
# REPAIR_GIVE_UP of the agents are, or as soon as at most JOINT_FROM are; then the last few
# (they often take turns to be unplanned: warehouse-10-20 at 600 and 1000 agents stalled at 1-4
# for 10-25 s) get joint steps, and BUMP_TRIES bumping tries of BUMP_BUDGET bumps each from
# that plan when REPAIR_JOINT_STEPS joint steps brought no progress or at most BUMP_AT agents
# are left (from 3-5 agents bumping took 3-54 bumps in six runs, livelocked in others), and
# so on (warehouse-10-20 1000 random-2 completed with joint steps from 8 agents on, not from 4)
REPAIR_STALL = 15
REPAIR_JOINT_STEPS = 10
JOINT_FROM = 8
BUMP_AT = 4
BUMP_BUDGET = 80
BUMP_TRIES = 2


def sparse_pp_start(graph: Graph, D: np.ndarray, s: list[int], g: list[int], s_arr: np.ndarray, seed: int, end: float,
               pp_share: float, first_paths: list[list[int]], stats: dict) -> tuple[RepairRefiner | None, bool]:
    """Sparse instances: prioritized planning with collision repair, then bumping with LaCAM's
    ``first_paths`` as fallbacks, in up to ``pp_share`` of the time left. Returns the refiner if
    it holds a complete solution (else None), and whether LaCAM should be retried with other
    seeds (the repair left too many agents unplanned)."""
    now = time.perf_counter
    n = len(s)
    t_pp = now()
    pp = RepairRefiner(graph.nbrs, graph.nb5, D, s, g, repair_horizon(D, s_arr), seed=seed)
    pp_ok = repair_plan(pp, t_pp + REPAIR_SHARE * (end - t_pp), give_up=REPAIR_GIVE_UP_INITIAL)
    stats["repair_s"] = round(now() - t_pp, 3)
    stats["repair_unplanned"] = sum(1 for p in pp.paths if not p)
    stats["pp_unplanned"] = pp.initial_unplanned
    if not pp_ok and stats["repair_unplanned"] <= REPAIR_GIVE_UP * n:
        pp_ok = plan_all(pp, t_pp + pp_share * (end - t_pp), first_paths)
    pp.drop_dense()
    stats["pp_s"] = round(now() - t_pp, 3)
    stats["pp_bumps"] = pp.bumps
    stats["pp_fallbacks"] = pp.fallbacks
    if pp_ok:
        stats["pp_sum_of_costs"] = pp.sum_of_costs
    retry = not pp_ok and stats["repair_unplanned"] > REPAIR_GIVE_UP * n
    return (pp if pp_ok else None), retry


def dense_pp_start(graph: Graph, D: np.ndarray, s: list[int], g: list[int], s_arr: np.ndarray,
                       seed: int, until: float, stats: dict, fallback: list[list[int]],
                       end: float) -> RepairRefiner | None:
    """Prioritized planning with collision repair until ``until`` (perf_counter): the refiner
    holding a complete solution, or None. When the repair stalls with few agents unplanned,
    joint steps and bumping (:func:`~warehouse_core.mapf.prioritized.plan_all`, from a copy of
    the plan, ``BUMP_BUDGET`` bumps a try) take turns. Stats: ``pp_unplanned``, ``repair_s``,
    ``repair_unplanned``, ``repair_joint``, ``pp_bump_tries``, ``pp_bumps``, ``pp_sum_of_costs``,
    ``initial``, ``pp_fallbacks``. Out of time with at most ``REPAIR_GIVE_UP`` of the agents
    unplanned, bumping with ``fallback`` (LaCAM's paths) gets until ``end`` to finish."""
    t_pp = time.perf_counter()
    pp = RepairRefiner(graph.nbrs, graph.nb5, D, s, g, repair_horizon(D, s_arr), seed=seed)
    ok = repair_plan(pp, until, REPAIR_EXPANSIONS, give_up=REPAIR_GIVE_UP_INITIAL,
                     stall=(REPAIR_STALL, REPAIR_GIVE_UP), stop_at=JOINT_FROM)
    stats["pp_unplanned"] = pp.initial_unplanned
    gave_up = pp.initial_unplanned > REPAIR_GIVE_UP_INITIAL * pp.n
    tries = 0
    bump_at = BUMP_AT
    while not ok and not gave_up and time.perf_counter() < until:
        # the last few: joint steps until they stall or few are left, then a few bumping tries
        # from that plan
        ok = repair_plan(pp, until, REPAIR_EXPANSIONS, escalate=0, stall=(REPAIR_JOINT_STEPS, REPAIR_GIVE_UP),
                         stop_at=bump_at)
        left = sum(1 for p in pp.paths if not p)
        if ok or left > REPAIR_GIVE_UP * pp.n:
            continue
        bump_at = min(bump_at, left) - 1
        saved = list(pp.paths)
        for _ in range(BUMP_TRIES):
            tries += 1
            ok = plan_all(pp, until, max_expansions=REPAIR_EXPANSIONS, max_bumps=pp.bumps + BUMP_BUDGET)
            if ok:
                break
            restore_paths(pp, saved)
    left = sum(1 for p in pp.paths if not p)
    stats.update(repair_s=round(time.perf_counter() - t_pp, 3), repair_unplanned=left,
                 repair_joint=pp.repair_joint, pp_bump_tries=tries, pp_bumps=pp.bumps)
    if not ok and not gave_up and left <= REPAIR_GIVE_UP * pp.n:
        # out of time a few agents short: bumping that falls back on LaCAM's paths ends (see
        # plan_all) and costs far less than LNS from LaCAM's unguided solution
        ok = plan_all(pp, end, fallback, max_expansions=REPAIR_EXPANSIONS)
        stats.update(pp_fallbacks=pp.fallbacks, pp_bumps=pp.bumps)
    if not ok:
        return None
    pp.drop_dense()
    stats.update(pp_sum_of_costs=pp.sum_of_costs, initial="pp")
    return pp


def repair_horizon(D: np.ndarray, starts: np.ndarray) -> int:
    """Time steps the collision repair indexes densely: 3 x the longest shortest path + 100."""
    n = len(starts)
    return 3 * int(D[np.arange(n), starts].max()) + 100 if n else 1

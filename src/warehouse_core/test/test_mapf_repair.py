"""Collision repair (mapf/repair.py): hand-checkable instances, every solution through the validator."""

from __future__ import annotations

import time

import numpy as np

from warehouse_core.mapf import lower_bound, sum_of_costs, validate_solution
from warehouse_core.mapf.pibt import Graph
from warehouse_core.mapf.repair import (
    HOLD_START,
    PASSERS_SLACK,
    RepairRefiner,
    _passers_step,
    repair_plan,
    restore_paths,
)
from warehouse_core.maps.grid import Grid


def grid_of(rows: list[str]) -> Grid:
    return Grid(np.array([[ch == "." for ch in row] for row in rows], dtype=bool))


def refiner(grid: Grid, starts, goals, seed: int) -> tuple[Graph, RepairRefiner]:
    graph = Graph(grid)
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    D = graph.distance_table(g)
    return graph, RepairRefiner(graph.nbrs, graph.nb5, D, s, g, horizon=64, seed=seed)


def coords(graph: Graph, ref: RepairRefiner):
    return [[graph.coord(x) for x in p] for p in ref.paths]


# a corridor with one pocket next to A's start; A (west end) and B (east end) swap ends
HEAD_ON = (grid_of(["#.###",
                    "....."]), [(0, 1), (4, 1)], [(4, 1), (0, 1)])


def test_head_on_in_corridor_is_repaired_to_the_optimum():
    """A at the west end and B at the east end swap ends of a corridor with one pocket, next to
    A's start. Optimum (by hand): B drives straight through (4 steps) while A ducks into the
    pocket at t=2 and follows (7 steps): SoC 11, LB 8. When A is planned first it takes the
    straight path and walls B in (B cannot reach the pocket in time), so prioritized planning
    leaves B unplanned and the repair step must unplan A and replan it behind B."""
    grid, starts, goals = HEAD_ON
    repaired = 0
    for seed in range(8):
        graph, ref = refiner(grid, starts, goals, seed)
        assert repair_plan(ref, time.perf_counter() + 5)
        paths = coords(graph, ref)
        assert validate_solution(grid, starts, goals, paths) == []
        assert ref.sum_of_costs == sum_of_costs(paths, goals) == 11
        assert lower_bound(grid, starts, goals) == 8
        assert paths[1] == [(4, 1), (3, 1), (2, 1), (1, 1), (0, 1)]
        repaired += ref.initial_unplanned > 0 and ref.repair_accepted > 0
    assert 0 < repaired < 8   # the random order decides whether B needed the repair


def test_least_collisions_path_waits_out_a_crossing_agent():
    """Agent 1 crosses the middle of agent 0's straight corridor at t=2; agent 0's cheapest
    collision-free way is to wait one step (length 5 instead of 4); with no slack for waiting
    the only path meets agent 1 once."""
    grid = grid_of([".#.#.",
                    ".....",
                    ".#.#."])
    graph, ref = refiner(grid, [(0, 1), (2, 0)], [(4, 1), (2, 2)], seed=0)
    crossing = [graph.vid((2, 0)), graph.vid((2, 0)), graph.vid((2, 1)), graph.vid((2, 2))]
    ref.paths[1] = crossing
    ref.insert(1, crossing)
    p = ref.least_collisions_path(0, slack=3)
    assert ref.blockers(0, p) == set()
    assert len(p) - 1 == 5
    assert p[0] == graph.vid((0, 1)) and p[-1] == graph.vid((4, 1))
    tight = ref.least_collisions_path(0, slack=0)
    assert len(tight) - 1 == 4
    assert ref.blockers(0, tight) == {1}


def test_dense_index_follows_inserts_and_removals():
    grid = grid_of(["...."])
    graph, ref = refiner(grid, [(0, 0)], [(2, 0)], seed=0)
    start = graph.vid((0, 0))
    assert ref.dense is not None
    held = [1] * (HOLD_START + 1)
    # without a path, the agent holds its start for the first steps
    assert ref.dense[:HOLD_START + 1, start].tolist() == held and ref.dense.sum() == len(held)
    p = [start, graph.vid((1, 0)), graph.vid((2, 0))]
    ref.insert(0, p)
    assert ref.dense[1, graph.vid((1, 0))] == 1
    assert ref.dense[2:, graph.vid((2, 0))].min() == 1          # parked from its arrival on
    assert ref.dense[:, start].tolist()[:3] == [1, 0, 0]        # the hold went with the path
    ref.remove(0, p)
    assert ref.dense[:HOLD_START + 1, start].tolist() == held and ref.dense.sum() == len(held)


def test_an_agent_without_a_path_holds_its_start_for_the_first_steps():
    """Agent 0 (unplanned) stands in the middle of a corridor agent 1 must drive through: the
    hold keeps agent 1 out of that cell until step HOLD_START + 1, and goes once agent 0 has a
    path (prioritized planning otherwise walls unplanned agents in at their starts)."""
    grid = grid_of([".....",
                    ".###."])
    graph, ref = refiner(grid, [(2, 0), (0, 0)], [(4, 1), (4, 0)], seed=0)
    mid = graph.vid((2, 0))
    p1 = ref.plan(1, 100)
    assert p1 is not None and mid not in p1[:HOLD_START + 1]
    assert len(p1) - 1 > 4                                       # it had to wait
    ref.paths[1] = p1
    ref.insert(1, p1)
    p0 = ref.plan(0, 100)
    assert p0 is not None
    ref.paths[0] = p0
    ref.insert(0, p0)
    assert validate_solution(grid, [(2, 0), (0, 0)], [(4, 1), (4, 0)], coords(graph, ref)) == []
    assert all(ref.occ[mid].get(t) != 0 or p0[t] == mid for t in range(HOLD_START + 1))


def test_passers_step_plans_the_agent_on_time_and_sends_the_passer_round():
    """Agent 1 (planned first) waits, then drives along the top row past agent 0's goal long
    after agent 0 could have parked there. Planning agent 0 after it would cost it the wait;
    the passers step plans agent 0 on time and agent 1 round the block instead."""
    grid = grid_of([".....",
                    ".###.",
                    "....."])
    starts, goals = [(2, 2), (0, 0)], [(2, 0), (4, 0)]
    graph, ref = refiner(grid, starts, goals, seed=0)
    wait = PASSERS_SLACK + 8
    late = [graph.vid((0, 0))] * wait + [graph.vid((x, 0)) for x in range(1, 5)]
    ref.paths[1] = late
    ref.insert(1, late)
    assert ref.goal_free_from(0) > ref.lb[0] + PASSERS_SLACK

    def bound(a: int) -> int:
        return 1000

    assert _passers_step(ref, 0, 3 * ref.lb[0] + 60, bound, 10_000)
    paths = coords(graph, ref)
    assert validate_solution(grid, starts, goals, paths) == []
    assert len(paths[0]) - 1 == ref.lb[0] == 6                  # on time
    assert (2, 0) not in paths[1][6:]                           # agent 1 went round
    assert len(paths[1]) - 1 < wait                             # ... and is no later for it


def test_restore_paths_puts_plan_and_index_back():
    grid = grid_of([".....",
                    ".#.#.",
                    "....."])
    starts, goals = [(0, 0), (4, 2), (2, 1)], [(4, 0), (0, 2), (2, 2)]
    graph, ref = refiner(grid, starts, goals, seed=3)
    assert repair_plan(ref, time.perf_counter() + 5)
    saved = list(ref.paths)
    occ = [dict(o) for o in ref.occ]
    park = list(ref.park)
    for a in (0, 2):
        ref.remove(a, ref.paths[a])
        ref.paths[a] = []
    detour = ref.plan(0, 100)
    assert detour is not None
    ref.paths[0] = detour
    ref.insert(0, detour)
    restore_paths(ref, saved)
    assert ref.paths == saved and [dict(o) for o in ref.occ] == occ and ref.park == park


def test_aisle_runs_to_the_junctions_at_both_ends():
    grid = grid_of([".......",
                    ".#.#.#.",
                    "......."])
    graph, ref = refiner(grid, [(0, 0)], [(6, 2)], seed=0)
    aisle = {graph.coord(v) for v in ref.aisle(graph.vid((1, 0)))}
    assert aisle == {(2, 0), (1, 0), (0, 0), (0, 1), (0, 2), (1, 2), (2, 2)}
    # at a junction: the cell and its neighbours
    assert {graph.coord(v) for v in ref.aisle(graph.vid((2, 0)))} == {(1, 0), (2, 0), (3, 0), (2, 1)}


def test_joint_steps_alone_repair_the_head_on_corridor():
    """The head-on instance above with every repair step a joint step: still solved, valid."""
    grid, starts, goals = HEAD_ON
    joint = 0
    for seed in range(8):
        graph, ref = refiner(grid, starts, goals, seed)
        assert repair_plan(ref, time.perf_counter() + 5, escalate=0)
        assert validate_solution(grid, starts, goals, coords(graph, ref)) == []
        joint += ref.repair_joint
    assert joint > 0

"""Collision repair (mapf/repair.py): hand-checkable instances, every solution through the validator."""

from __future__ import annotations

import time

import numpy as np

from warehouse_core.grid import Grid
from warehouse_core.mapf import lower_bound, sum_of_costs, validate_solution
from warehouse_core.mapf.pibt import Graph
from warehouse_core.mapf.repair import RepairRefiner, repair_plan


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


def test_head_on_in_corridor_is_repaired_to_the_optimum():
    """A at the west end and B at the east end swap ends of a corridor with one pocket, next to
    A's start. Optimum (by hand): B drives straight through (4 steps) while A ducks into the
    pocket at t=2 and follows (7 steps): SoC 11, LB 8. When A is planned first it takes the
    straight path and walls B in (B cannot reach the pocket in time), so prioritized planning
    leaves B unplanned and the repair step must unplan A and replan it behind B."""
    grid = grid_of(["#.###",
                    "....."])
    starts, goals = [(0, 1), (4, 1)], [(4, 1), (0, 1)]
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
    ref._insert(1, crossing)
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
    p = [graph.vid((0, 0)), graph.vid((1, 0)), graph.vid((2, 0))]
    ref._insert(0, p)
    assert ref.dense is not None
    assert ref.dense[1, graph.vid((1, 0))] == 1
    assert ref.dense[2:, graph.vid((2, 0))].min() == 1          # parked from its arrival on
    ref._remove(0, p)
    assert not ref.dense.any()

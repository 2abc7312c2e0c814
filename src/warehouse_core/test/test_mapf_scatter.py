"""Guide paths (mapf/scatter.py) and guided PIBT: hand-checkable instances."""

from __future__ import annotations

import time

import numpy as np

from warehouse_core.mapf import solve_lacam, validate_solution
from warehouse_core.mapf.pibt import Graph, PibtGenerator
from warehouse_core.mapf.scatter import GuidePaths
from warehouse_core.maps.grid import Grid


def grid_of(rows: list[str]) -> Grid:
    return Grid(np.array([[ch == "." for ch in row] for row in rows], dtype=bool))


# two equally short routes (top row, bottom row) between the ends of the middle row
RING = ["......",
        ".####.",
        "......"]


def guide_paths(rows: list[str], starts, goals, margin: int, seed: int) -> tuple[Graph, GuidePaths]:
    graph = Graph(grid_of(rows))
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    D = graph.distance_table(g)
    return graph, GuidePaths(graph.nbrs, [row.tolist() for row in D], s, g, margin=margin, seed=seed)


def test_head_on_agents_get_guide_paths_on_different_routes():
    """A and B swap the ends of a ring: on the same route they meet head-on; the guide paths
    must use one route each (no collision), both still shortest (length 7)."""
    starts, goals = [(0, 1), (5, 1)], [(5, 1), (0, 1)]
    for seed in range(6):
        graph, gp = guide_paths(RING, starts, goals, margin=4, seed=seed)
        assert gp.build(time.perf_counter() + 5) == 0
        rows = []
        for p in gp.paths:
            assert len(p) == 8
            rows.append({graph.coord(v)[1] for v in p} - {1})
        assert rows[0] != rows[1] and rows[0] | rows[1] == {0, 2}


def test_guide_paths_respect_the_margin_and_the_next_table_follows_them():
    """Four agents through the same corridor: with margin 0 every guide path is a shortest path
    even if it collides; the next table maps each path vertex to its successor."""
    rows = ["........",
            "........"]
    starts = [(0, 0), (0, 1), (7, 0), (7, 1)]
    goals = [(7, 0), (7, 1), (0, 0), (0, 1)]
    graph, gp = guide_paths(rows, starts, goals, margin=0, seed=1)
    gp.build(time.perf_counter() + 5)
    nxt = gp.next_table()
    for i, p in enumerate(gp.paths):
        assert len(p) - 1 == 7
        assert graph.vid(starts[i]) == p[0] and graph.vid(goals[i]) == p[-1]
        assert [int(nxt[i, v]) for v in p[:-1]] == p[1:]
        assert int(nxt[i, p[-1]]) == -1
    assert (nxt >= 0).sum() == 4 * 7


def test_guided_pibt_ranks_the_guide_cell_first_even_as_a_detour():
    """Open 3x3 grid, agent in the middle of the left column heading right: its guide says go
    up first (a detour by distance); the guided candidate list starts with the cell above."""
    graph = Graph(grid_of(["...", "...", "..."]))
    start, goal, up = graph.vid((0, 1)), graph.vid((2, 1)), graph.vid((0, 0))
    D = graph.distance_table([goal])
    plain = PibtGenerator(graph, [goal], D, seed=0)
    assert plain.candidates(np.array([start]))[0][0] == graph.vid((1, 1))
    guide = np.full((1, graph.n_vertices + 1), -1, dtype=np.int32)
    guide[0, start] = up
    guided = PibtGenerator(graph, [goal], D, seed=0, guide=guide)
    for _ in range(5):
        assert guided.candidates(np.array([start]))[0][0] == up


def _corridors():
    """Three corridors joined at both ends and in the middle, and its free cells."""
    grid = grid_of(["..........",
                    ".##.##.##.",
                    "..........",
                    ".##.##.##.",
                    ".........."])
    return grid, [(x, y) for y in range(5) for x in range(10) if grid.free[y, x]]


def test_lacam_with_and_without_guidance_gives_valid_solutions():
    """A crowded corridor map: LaCAM with guide paths and three PIBT runs per expansion (the
    defaults) and without both; both solutions valid."""
    grid, free = _corridors()
    rng = np.random.default_rng(3)
    pick = rng.permutation(len(free))
    starts = [free[k] for k in pick[:14]]
    goals = [free[k] for k in pick[14:28]]
    for kw in ({}, {"scatter": False, "pibt_runs": 1}):
        sol = solve_lacam(grid, starts, goals, time_limit=10, seed=0, **kw)
        assert sol.solved
        assert validate_solution(grid, starts, goals, sol.paths) == []
    assert "scatter_s" in solve_lacam(grid, starts, goals, time_limit=10).stats


def test_lacam_retries_keep_the_cheapest_valid_first_solution():
    """_retry_first runs LaCAM again with other seeds on a crowded map and returns the cheapest
    first solution: never costlier than the one it was given, always valid."""
    from warehouse_core.mapf.lacam import _configs, _retry_first, _Search
    from warehouse_core.mapf.lns import configs_to_vid_paths

    grid, free = _corridors()
    pick = np.random.default_rng(5).permutation(len(free))
    starts, goals = [free[k] for k in pick[:16]], [free[k] for k in pick[16:32]]
    graph = Graph(grid)
    s = np.asarray([graph.vid(c) for c in starts], dtype=np.int32)
    g = [graph.vid(c) for c in goals]
    D = graph.distance_table(g)
    search = _Search(len(g), graph.nbrs, PibtGenerator(graph, g, D, seed=0), D, np.asarray(g, dtype=np.int32),
                     2, False)
    node, _, _ = search.run(s, np.random.default_rng(1), time.perf_counter() + 10)
    assert node is not None
    first = configs_to_vid_paths(_configs(node), g)
    stats: dict = {}
    best = _retry_first(search, s, g, 0, time.perf_counter() + 1.0, first, stats)
    assert stats["lacam_retries"] >= 2
    cost = sum(len(p) - 1 for p in best)
    assert cost <= sum(len(p) - 1 for p in first)
    assert cost == min(sum(len(p) - 1 for p in first), stats["retry_sum_of_costs"])
    coords = [[graph.coord(v) for v in p] for p in best]
    assert validate_solution(grid, starts, goals, coords) == []


def test_guide_path_search_falls_back_to_a_shortest_path():
    """When no path fits the margin (here forced with a negative margin) the agent still gets
    a guide path: a shortest one, with its collisions counted."""
    graph, gp = guide_paths(RING, [(0, 1), (5, 1)], [(5, 1), (0, 1)], margin=0, seed=0)
    gp.build(time.perf_counter() + 5)
    gp.margin = -1
    gp._apply(gp.paths[0], -1)
    p, c = gp.plan(0)
    assert len(p) == 8 and p[0] == graph.vid((0, 1)) and p[-1] == graph.vid((5, 1))
    assert all(u in graph.nbrs[v] for v, u in zip(p, p[1:]))
    assert c == gp._count(p)


def test_guidance_is_on_by_default_only_for_dense_instances():
    """Two agents on a 20x20 open grid (0.5 % of the cells): no guide paths by default; the
    same grid with 40 agents (10 %): guide paths. Both valid."""
    grid = grid_of(["." * 20] * 20)
    cells = [(x, y) for y in range(20) for x in range(20)]
    pick = np.random.default_rng(0).permutation(len(cells))
    for n, guided in ((2, False), (40, True)):
        starts = [cells[k] for k in pick[:n]]
        goals = [cells[k] for k in pick[n:2 * n]]
        sol = solve_lacam(grid, starts, goals, time_limit=10, seed=0)
        assert sol.solved and validate_solution(grid, starts, goals, sol.paths) == []
        assert ("scatter_s" in sol.stats) == guided

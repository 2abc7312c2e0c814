"""One-shot MAPF: LaCAM/LaCAM*, PIBT, the validator, metrics and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse_core.mapf import (
    arrival_time,
    lower_bound,
    makespan,
    solve_lacam,
    solve_pibt,
    sum_of_costs,
    validate_solution,
)
from warehouse_core.mapf.cli import main
from warehouse_core.maps.grid import Grid

DATA = Path(__file__).parent / "data"


def grid_of(rows: list[str]) -> Grid:
    return Grid(np.array([[ch == "." for ch in row] for row in rows], dtype=bool))


def check(grid, starts, goals, sol):
    assert sol.solved, sol.stats
    assert validate_solution(grid, starts, goals, sol.paths) == []


# ---------------------------------------------------------------- hand-checkable instances

POCKET = grid_of([".....",
                  "##.##"])


def test_corridor_with_side_pocket():
    starts, goals = [(0, 0), (4, 0)], [(4, 0), (0, 0)]
    sol = solve_lacam(POCKET, starts, goals, time_limit=5)
    check(POCKET, starts, goals, sol)
    # the swap refinement backs one agent into the pocket at once: LaCAM's first solution is
    # already the optimum (11, see the LaCAM* test below)
    assert sum_of_costs(sol.paths, goals) == 11


def test_refine_reaches_optimum_on_pocket():
    starts, goals = [(0, 0), (4, 0)], [(4, 0), (0, 0)]
    sol = solve_lacam(POCKET, starts, goals, time_limit=10, refine=True)
    check(POCKET, starts, goals, sol)
    assert sol.stats["optimal"] == 1          # search space exhausted
    assert sum_of_costs(sol.paths, goals) == 11


def test_swap_needs_detour_around_block():
    grid = grid_of(["...",
                    ".#.",
                    "..."])
    starts, goals = [(0, 0), (1, 0)], [(1, 0), (0, 0)]
    sol = solve_lacam(grid, starts, goals, time_limit=5)
    check(grid, starts, goals, sol)


def test_bottleneck_both_directions():
    grid = grid_of(["...#...",
                    ".......",
                    "...#..."])
    starts = [(0, 0), (0, 1), (0, 2), (6, 0), (6, 1), (6, 2)]
    goals = [(6, 2), (6, 1), (6, 0), (0, 2), (0, 1), (0, 0)]
    sol = solve_lacam(grid, starts, goals, time_limit=10)
    check(grid, starts, goals, sol)
    # six agents through a two-cell gap both ways: at most twice the independent shortest paths
    assert sum_of_costs(sol.paths, goals) <= 2 * lower_bound(grid, starts, goals)


def test_unsolvable_dead_end_swap_is_not_claimed():
    grid = grid_of(["....",
                    "####"])
    starts, goals = [(0, 0), (1, 0)], [(1, 0), (0, 0)]
    sol = solve_lacam(grid, starts, goals, time_limit=10)
    assert not sol.solved and sol.paths == []
    assert sol.stats["reason"] == "no solution exists"


def test_unreachable_goal_is_not_claimed():
    grid = grid_of(["..#.."])
    sol = solve_lacam(grid, [(0, 0)], [(4, 0)], time_limit=5)
    assert not sol.solved


def test_agent_already_at_goal_and_empty_instance():
    grid = grid_of(["..."])
    sol = solve_lacam(grid, [(1, 0)], [(1, 0)], time_limit=5)
    check(grid, [(1, 0)], [(1, 0)], sol)
    assert sol.paths == [[(1, 0)]]
    assert solve_lacam(grid, [], [], time_limit=5).solved


def test_pibt_solves_open_instance():
    grid = grid_of(["......", "......", "......"])
    starts, goals = [(0, 0), (5, 2), (0, 2)], [(5, 2), (0, 0), (5, 0)]
    sol = solve_pibt(grid, starts, goals, time_limit=5)
    check(grid, starts, goals, sol)


# ---------------------------------------------------------------- metrics

def test_metrics_use_last_arrival():
    goals = [(2, 0), (0, 0)]
    paths = [[(0, 0), (1, 0), (2, 0), (1, 0), (2, 0)], [(0, 0)]]
    assert arrival_time(paths[0], goals[0]) == 4
    assert arrival_time(paths[1], goals[1]) == 0
    assert sum_of_costs(paths, goals) == 4
    assert makespan(paths, goals) == 4
    assert lower_bound(grid_of(["..."]), [(0, 0), (0, 0)], goals) == 2


# ---------------------------------------------------------------- validator

def test_validator_reports_each_kind_of_violation():
    grid = grid_of(["....", ".#.."])
    starts, goals = [(0, 0), (3, 0)], [(3, 0), (0, 0)]
    assert validate_solution(grid, [(0, 0)], [(1, 0)], [[(0, 0), (1, 0)]]) == []
    # vertex conflict
    errs = validate_solution(grid, [(0, 0), (2, 0)], [(1, 0), (1, 0)], [[(0, 0), (1, 0)], [(2, 0), (1, 0)]])
    assert any("vertex conflict" in e for e in errs)
    # swap conflict
    errs = validate_solution(grid, [(0, 0), (1, 0)], [(1, 0), (0, 0)], [[(0, 0), (1, 0)], [(1, 0), (0, 0)]])
    assert any("swap conflict" in e for e in errs)
    # following is allowed
    assert validate_solution(grid, [(0, 0), (1, 0)], [(1, 0), (2, 0)], [[(0, 0), (1, 0)], [(1, 0), (2, 0)]]) == []
    # teleport, blocked cell, wrong start/end
    errs = validate_solution(grid, starts[:1], goals[:1], [[(0, 0), (2, 0), (3, 0)]])
    assert any("jumps" in e for e in errs)
    errs = validate_solution(grid, [(0, 1)], [(1, 1)], [[(0, 1), (1, 1)]])
    assert any("blocked" in e for e in errs)
    errs = validate_solution(grid, [(0, 0)], [(2, 0)], [[(1, 0), (2, 0)]])
    assert any("starts at" in e for e in errs)
    errs = validate_solution(grid, [(0, 0)], [(2, 0)], [[(0, 0), (1, 0)]])
    assert any("ends at" in e for e in errs)
    # an agent parked at its goal is hit later
    errs = validate_solution(grid, [(1, 0), (3, 0)], [(1, 0), (0, 0)],
                             [[(1, 0)], [(3, 0), (2, 0), (1, 0), (0, 0)]])
    assert any("vertex conflict" in e for e in errs)
    assert validate_solution(grid, starts, goals, [[(0, 0)]]) == ["1 paths for 2 agents"]


@st.composite
def instances(draw):
    w = draw(st.integers(3, 7))
    h = draw(st.integers(2, 6))
    cells = draw(st.lists(st.booleans(), min_size=w * h, max_size=w * h))
    free = np.array(cells, dtype=bool).reshape(h, w) | (np.arange(w * h).reshape(h, w) % 3 != 0)
    grid = Grid(free)
    labels = grid.components()
    comp = draw(st.sampled_from(sorted(set(labels[free].tolist()))))
    cand = [(int(x), int(y)) for y, x in zip(*np.nonzero(labels == comp))]
    k = draw(st.integers(1, min(5, len(cand))))
    starts = draw(st.permutations(cand))[:k]
    goals = draw(st.permutations(cand))[:k]
    return grid, list(starts), list(goals)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 3))
def test_property_solutions_are_valid_and_tampering_is_caught(inst, seed):
    grid, starts, goals = inst
    sol = solve_lacam(grid, starts, goals, time_limit=2, seed=seed)
    if not sol.solved:
        assert sol.stats["reason"] in ("no solution exists", "time limit")
        return
    assert validate_solution(grid, starts, goals, sol.paths) == []
    again = solve_lacam(grid, starts, goals, time_limit=2, seed=seed)
    assert again.paths == sol.paths  # the same plan for the same seed
    T = max(len(p) for p in sol.paths)
    full = [list(p) + [p[-1]] * (T - len(p)) for p in sol.paths]
    if len(starts) >= 2 and T >= 3:
        # vertex conflict: agent 1 copies agent 0's cell at t=1 (keeping 4-moves via t=1 only
        # if adjacent, else it is a jump -- either way a violation)
        bad = [list(p) for p in full]
        bad[1][1] = bad[0][1]
        assert validate_solution(grid, starts, goals, bad) != []
    # teleport: a path that jumps from start to goal (when they are not neighbours)
    s, g = starts[0], goals[0]
    if abs(s[0] - g[0]) + abs(s[1] - g[1]) > 1:
        bad = [list(p) for p in full]
        bad[0] = [s, g]
        assert any("jumps" in e for e in validate_solution(grid, starts, goals, bad))


def test_validator_catches_swap_in_solution():
    grid = grid_of(["...",
                    ".#.",
                    "..."])
    starts, goals = [(0, 0), (1, 0)], [(1, 0), (0, 0)]
    bad = [[(0, 0), (1, 0)], [(1, 0), (0, 0)]]
    assert any("swap" in e for e in validate_solution(grid, starts, goals, bad))


# ---------------------------------------------------------------- CLI

def test_cli_solves_warehouse_small_100(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code = main(["solve", "--map", str(DATA / "warehouse-small.map"),
                 "--scen", str(DATA / "warehouse-small-random-1-100.scen"),
                 "--agents", "100", "--time-limit", "20", "--out", str(out)])
    assert code == 0
    plan = json.loads(out.read_text())
    assert plan["solved"] is True and plan["algorithm"] == "lacam"
    assert isinstance(plan["runtime_s"], float)
    assert len(plan["paths"]) == 100
    from warehouse_core.maps.grid import load_movingai_map, load_movingai_scen
    grid = load_movingai_map(DATA / "warehouse-small.map")
    scen = load_movingai_scen(DATA / "warehouse-small-random-1-100.scen", grid, 100)
    paths = [[tuple(c) for c in p] for p in plan["paths"]]
    assert validate_solution(grid, [a.start for a in scen], [a.goal for a in scen], paths) == []
    assert "solved 100 agents" in capsys.readouterr().out


def test_cli_bad_scen_gives_file_and_line(tmp_path, capsys):
    lines = (DATA / "warehouse-small-random-1-100.scen").read_text().splitlines()
    lines[3] = "0\twarehouse-small.map\t57\t33\tx\ty\t1\t1\t3"
    bad = tmp_path / "bad.scen"
    bad.write_text("\n".join(lines) + "\n")
    code = main(["solve", "--map", str(DATA / "warehouse-small.map"), "--scen", str(bad),
                 "--agents", "10", "--out", str(tmp_path / "p.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:4" in err and "Traceback" not in err


def test_cli_unsolved_writes_empty_plan(tmp_path):
    m = tmp_path / "dead.map"
    m.write_text("type octile\nheight 2\nwidth 4\nmap\n....\n@@@@\n")
    s = tmp_path / "dead.scen"
    s.write_text("version 1\n0\tdead.map\t4\t2\t0\t0\t1\t0\t1\n0\tdead.map\t4\t2\t1\t0\t0\t0\t1\n")
    out = tmp_path / "plan.json"
    assert main(["solve", "--map", str(m), "--scen", str(s), "--time-limit", "5", "--out", str(out)]) == 1
    plan = json.loads(out.read_text())
    assert plan["solved"] is False and plan["paths"] == []


def test_cli_bad_map_exit_2(tmp_path, capsys):
    assert main(["solve", "--map", str(tmp_path / "missing.map"), "--scen", "x.scen",
                 "--out", str(tmp_path / "p.json")]) == 2
    assert "missing.map" in capsys.readouterr().err


# ---------------------------------------------------------------- swap, PIBT order, LNS

def test_swap_lets_agent_pass_one_parked_on_its_goal_in_a_corridor():
    # agent 0 must pass agent 1, which sits on its goal in a 1-wide corridor; the only place to
    # give way is the side pocket at x=2 (the swap pull; reversing the candidate list must not
    # put the padding sentinel first, or the pull never happens)
    grid = grid_of([".........",
                    "##.######"])
    starts, goals = [(0, 0), (4, 0)], [(7, 0), (4, 0)]
    sol = solve_pibt(grid, starts, goals, time_limit=5, max_steps=200)
    check(grid, starts, goals, sol)


def test_pibt_solves_crowded_corridor_grid():
    # 3 long 1-wide aisles joined at both ends, agents going both ways
    grid = grid_of(["...........",
                    ".#########.",
                    "...........",
                    ".#########.",
                    "..........."])
    starts = [(x, 0) for x in range(0, 10, 2)] + [(x, 4) for x in range(1, 11, 2)]
    goals = [(x, 4) for x in range(1, 11, 2)] + [(x, 0) for x in range(0, 10, 2)]
    sol = solve_lacam(grid, starts, goals, time_limit=10)
    check(grid, starts, goals, sol)


def test_lns_never_worsens_and_stays_valid():
    from warehouse_core.mapf.lns import LnsRefiner, configs_to_vid_paths
    from warehouse_core.mapf.pibt import Graph

    grid = grid_of(["........",
                    ".##.##..",
                    "........",
                    ".##.##..",
                    "........"])
    starts = [(0, 0), (7, 0), (0, 4), (7, 4), (3, 2), (5, 2)]
    goals = [(7, 4), (0, 4), (7, 0), (0, 0), (5, 2), (3, 2)]
    first = solve_lacam(grid, starts, goals, time_limit=5, lns=False)
    check(grid, starts, goals, first)
    graph = Graph(grid)
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    D = graph.distance_table(g)
    T = max(len(p) for p in first.paths)
    configs = [[graph.vid(p[min(t, len(p) - 1)]) for p in first.paths] for t in range(T)]
    paths = configs_to_vid_paths(configs, g)
    ref = LnsRefiner(graph.nbrs, [row.tolist() for row in D], s, g, paths, seed=1, neighbourhood=3)
    before = ref.sum_of_costs
    assert before == sum_of_costs(first.paths, goals)
    import time
    ref.run(time.perf_counter() + 1.0, stall_iterations=200)
    assert ref.sum_of_costs <= before
    coords = [[graph.coord(v) for v in p] for p in ref.paths]
    assert validate_solution(grid, starts, goals, coords) == []
    assert ref.sum_of_costs == sum_of_costs(coords, goals)  # the refiner's bookkeeping is exact


def test_lns_goal_passers_neighbourhood_takes_the_agents_that_keep_one_from_parking():
    """Agent 0 could park at x=2 at t=1, but agent 1 passes there at t=3 on its way east, so
    agent 0 arrives only after it: the neighbourhood is agent 0 plus agent 1."""
    from warehouse_core.mapf.lns import LnsRefiner
    from warehouse_core.mapf.pibt import Graph

    grid = grid_of([".....",
                    ".#.#."])
    graph = Graph(grid)
    v = {(x, y): graph.vid((x, y)) for x in range(5) for y in range(2) if grid.free[y, x]}
    starts, goals = [v[(2, 1)], v[(0, 1)]], [v[(2, 0)], v[(4, 0)]]
    D = graph.distance_table(goals)
    paths = [[v[(2, 1)]] * 4 + [v[(2, 0)]],
             [v[(0, 1)], v[(0, 0)], v[(1, 0)], v[(2, 0)], v[(3, 0)], v[(4, 0)]]]
    ref = LnsRefiner(graph.nbrs, [row.tolist() for row in D], starts, goals, paths, neighbourhood=2)
    assert ref.cost == [4, 5] and ref.lb == [1, 5]
    for _ in range(5):
        assert sorted(ref._goal_passers()) == [0, 1]


def test_lns_plan_respects_parked_agent_and_goal_visits():
    from warehouse_core.mapf.lns import LnsRefiner
    from warehouse_core.mapf.pibt import Graph

    grid = grid_of(["....."])
    graph = Graph(grid)
    v = [graph.vid((x, 0)) for x in range(5)]
    D = graph.distance_table([v[4], v[2]])
    # agent 1 walks 0 -> 2 (passing 1); agent 0 (1 -> 4) must leave 1 before 1 arrives there
    paths = [[v[1], v[2], v[3], v[4]], [v[0], v[1], v[2]]]
    ref = LnsRefiner(graph.nbrs, [row.tolist() for row in D], [v[1], v[0]], [v[4], v[2]], paths)
    ref.remove(0, paths[0])
    p = ref.plan(0, bound=100)
    assert p == [v[1], v[2], v[3], v[4]]
    ref.insert(0, p)
    # agent 1 parked at 2 from t=2: a path for agent 0 crossing 2 after that does not exist
    ref.remove(0, p)
    ref.paths[1] = [v[0], v[1], v[2]]
    assert ref.plan(0, bound=3) is None                # needs 3 steps, bound is exclusive
    assert ref.plan(0, bound=4) == [v[1], v[2], v[3], v[4]]


def test_solve_with_lns_improves_or_keeps_cost(tmp_path):
    from warehouse_core.maps.grid import load_movingai_map, load_movingai_scen
    grid = load_movingai_map(DATA / "warehouse-small.map")
    scen = load_movingai_scen(DATA / "warehouse-small-random-1-100.scen", grid, 60)
    starts, goals = [a.start for a in scen], [a.goal for a in scen]
    sol = solve_lacam(grid, starts, goals, time_limit=3, lns=True)
    check(grid, starts, goals, sol)
    assert sol.algorithm == "lacam" and sol.stats["refinement"] == "lns"
    assert sum_of_costs(sol.paths, goals) <= sol.stats["first_sum_of_costs"]
    assert sol.runtime_s < 3.5


def test_cli_refinement_fields_and_no_refine(tmp_path):
    out = tmp_path / "plan.json"
    args = ["solve", "--map", str(DATA / "warehouse-small.map"),
            "--scen", str(DATA / "warehouse-small-random-1-100.scen"),
            "--agents", "40", "--time-limit", "3", "--out", str(out)]
    assert main(args) == 0
    plan = json.loads(out.read_text())
    assert {"solved", "runtime_s", "algorithm", "paths"} <= set(plan)
    assert plan["refinement"] == "lns" and plan["sum_of_costs"] <= plan["first_sum_of_costs"]
    assert main(args + ["--no-refine"]) == 0
    plan = json.loads(out.read_text())
    assert "refinement" not in plan and plan["valid"]


def test_sipp_waits_out_a_crossing_agent_and_never_swaps():
    from warehouse_core.mapf.lns import LnsRefiner
    from warehouse_core.mapf.pibt import Graph

    grid = grid_of([".....",
                    "##.##",
                    "##.##"])
    graph = Graph(grid)
    v = {c: graph.vid(c) for c in [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (2, 1), (2, 2)]}
    # agent 1 walks down the stem 2,2 -> 2,0 -> 4,0 through the junction at t=2
    p1 = [v[(2, 2)], v[(2, 1)], v[(2, 0)], v[(3, 0)], v[(4, 0)]]
    goals = [v[(3, 0)], v[(4, 0)]]
    D = graph.distance_table(goals)
    ref = LnsRefiner(graph.nbrs, [row.tolist() for row in D], [v[(0, 0)], v[(2, 2)]], goals,
                     [[v[(0, 0)]], p1])
    ref.remove(0, ref.paths[0])
    p0 = ref.plan(0, bound=100)
    # the shortest path (0,0)->(3,0) is 3 steps, but (2,0) is taken at t=2 and (3,0) at t=3:
    # agent 0 has to follow agent 1 and arrive once (3,0) is free again, at t=4
    assert p0 is not None and len(p0) - 1 == 4
    coords = [[graph.coord(x) for x in p] for p in (p0, p1)]
    assert validate_solution(grid, [(0, 0), (2, 2)], [(3, 0), (4, 0)], coords) == []
    assert ref.plan(0, bound=4) is None                # arrival 4 is not below the bound 4
    # head-on in a corridor: agent 1 comes from the right; agent 0 may not swap through it
    line = grid_of(["...."])
    g2 = Graph(line)
    w = [g2.vid((x, 0)) for x in range(4)]
    D2 = g2.distance_table([w[3], w[0]])
    ref2 = LnsRefiner(g2.nbrs, [row.tolist() for row in D2], [w[0], w[3]], [w[3], w[0]],
                      [[w[0]], [w[3], w[2], w[1], w[0]]])
    ref2.remove(0, ref2.paths[0])
    assert ref2.plan(0, bound=50) is None              # no way past agent 1 on a line


def test_prioritized_planning_bumps_and_returns_a_valid_solution():
    from warehouse_core.mapf.lns import LnsRefiner
    from warehouse_core.mapf.pibt import Graph
    from warehouse_core.mapf.prioritized import plan_all
    from warehouse_core.maps.grid import load_movingai_map, load_movingai_scen

    grid = load_movingai_map(DATA / "warehouse-small.map")
    scen = load_movingai_scen(DATA / "warehouse-small-random-1-100.scen", grid, 100)
    starts, goals = [a.start for a in scen], [a.goal for a in scen]
    graph = Graph(grid)
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    rows = [row.tolist() for row in graph.distance_table(g)]
    import time
    ref = LnsRefiner(graph.nbrs, rows, s, g, None, seed=2)
    assert plan_all(ref, time.perf_counter() + 20)
    coords = [[graph.coord(x) for x in p] for p in ref.paths]
    assert validate_solution(grid, starts, goals, coords) == []
    assert ref.sum_of_costs == sum_of_costs(coords, goals)
    assert ref.sum_of_costs <= 1.2 * lower_bound(grid, starts, goals)


def test_prioritized_planning_falls_back_when_an_agent_is_walled_in():
    """Agent 0's goal is the junction in front of the pocket that is agent 1's goal: planned
    first, agent 0 parks there and walls agent 1 out; agent 1 bumps it and agent 0 is replanned
    to arrive after agent 1 has passed."""
    from warehouse_core.mapf.lns import LnsRefiner
    from warehouse_core.mapf.pibt import Graph
    from warehouse_core.mapf.prioritized import plan_all

    grid = grid_of(["#.##",
                    "....",
                    "#.##"])
    graph = Graph(grid)
    starts, goals = [(0, 1), (3, 1)], [(1, 1), (1, 0)]
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    rows = [row.tolist() for row in graph.distance_table(g)]
    first = solve_lacam(grid, starts, goals, time_limit=5, lns=False)
    check(grid, starts, goals, first)
    fallback = [[graph.vid(c) for c in p] for p in first.paths]
    import time
    bumped = 0
    for seed in range(8):
        ref = LnsRefiner(graph.nbrs, rows, s, g, None, seed=seed)
        assert plan_all(ref, time.perf_counter() + 5, fallback)
        coords = [[graph.coord(x) for x in p] for p in ref.paths]
        assert validate_solution(grid, starts, goals, coords) == []
        assert len(ref.paths[0]) - 1 >= 3 and len(ref.paths[1]) - 1 == 3   # 0 waits for 1
        bumped += ref.bumps > 0
    assert 0 < bumped < 8   # the order decides; planning agent 0 first needs the bump


def test_pibt_pushes_a_chain_longer_than_the_recursion_limit_without_raising_it():
    """1,500 agents in a one-wide corridor, the last one first in priority: its move pushes every
    agent ahead of it (an inheritance chain of 1,500), planned without touching the process's
    recursion limit."""
    import sys

    from warehouse_core.mapf.pibt import Graph, PibtGenerator

    n, length = 1500, 1600
    graph = Graph(Grid(np.ones((1, length), dtype=bool)))
    starts = list(range(n))
    goals = [length - n + i for i in starts]  # everybody wants to go right
    limit = sys.getrecursionlimit()
    gen = PibtGenerator(graph, goals, graph.distance_table(goals), seed=0)
    q = gen.generate(starts, list(range(n)))  # agent 0 (the last in the row) first
    assert q == [v + 1 for v in starts]
    assert sys.getrecursionlimit() == limit


def test_cli_refuses_a_map_whose_header_disagrees_with_its_rows_and_zero_agents(tmp_path, capsys):
    """Either way: a header smaller than the rows no longer cuts the map (the scen was blamed)."""
    text = (DATA / "warehouse-small.map").read_text()
    scen = str(DATA / "warehouse-small-random-1-100.scen")
    for old, new, said in [("height 33", "height 32", "more than the header's height 32"),
                           ("height 33", "height 34", "fewer than the header's height 34"),
                           ("width 57", "width 56", "header says width 56"),
                           ("width 57", "width 58", "header says width 58")]:
        bad = tmp_path / "bad.map"
        bad.write_text(text.replace(old, new))
        assert main(["solve", "--map", str(bad), "--scen", scen, "--out", str(tmp_path / "p.json")]) == 2
        err = capsys.readouterr().err
        assert f"{bad}:" in err and said in err and "scen" not in err.split("(fix")[0], err
    empty = tmp_path / "empty.scen"
    empty.write_text("version 1\n")
    for args in (["--agents", "0"], ["--scen", str(empty)]):
        argv = ["solve", "--map", str(DATA / "warehouse-small.map"), "--scen", scen, "--out", str(tmp_path / "q.json")]
        assert main([*argv, *args]) == 2
        assert "agent" in capsys.readouterr().err
    assert not (tmp_path / "q.json").exists()

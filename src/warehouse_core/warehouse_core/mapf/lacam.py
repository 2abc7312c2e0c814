"""LaCAM / LaCAM* one-shot MAPF (Okumura, AAAI 2023 and IJCAI 2023), PIBT as generator.

High level: a depth-first search over *configurations* (one vertex per agent). Each high-level
node keeps a queue of low-level *constraint* nodes; a constraint node fixes the next vertex of
the first k agents (in the node's priority order). Every time a node is on top of the stack one
constraint node is popped, its children (the next agent's k+1 possible moves) are queued, and
PIBT generates a successor configuration that respects the constraints. Because the constraint
tree eventually enumerates every successor, the search is complete: it finds a solution if
one exists and reports failure after exhausting the (finite) configuration space.

Refinement (LaCAM*): after the first solution the search continues; nodes whose
``g + h`` cannot beat the best solution are dropped, and when a known configuration is reached
again, the cheaper parent is adopted and the improvement propagated (Dijkstra-style), so the
solution cost decreases monotonically while time remains (and becomes optimal for sum of costs
if the search space is exhausted).

Generator (as in LaCAM3, Okumura, AAMAS 2024): PIBT is guided by congestion-spread guide paths
(``scatter``, :mod:`warehouse_core.mapf.scatter`: each agent prefers the next cell of its guide
path), and each expansion tries ``pibt_runs`` PIBT successors and keeps the one with the lowest
edge cost + heuristic. On warehouse-10-20-10-2-1 with 1,000 agents this brought the first
solution from 3.1 to 2.4-2.5 x the lower bound.

LNS (``lns=True``, the CLI default): instead of LaCAM*, the first solution is improved by
large-neighbourhood search (:mod:`warehouse_core.mapf.lns`) until the time limit or a stall.
On dense instances (at least ``GUIDE_DENSITY`` agents per free cell) LaCAM runs unguided, for
a first solution in little time, and LNS starts from a prioritized-planning solution instead:
prioritized planning with the passers step and collision repair
(:mod:`warehouse_core.mapf.repair`), bumping (:mod:`warehouse_core.mapf.prioritized`) for the
last few agents. On warehouse-10-20 at 1000 agents that solution costs 1.35-1.40 x the lower
bound against 2.9-3.3 for LaCAM's first. Guide paths then serve only if prioritized planning
gives up. On sparse instances prioritized planning runs after LaCAM, and only when LaCAM's
solution is expensive.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

from warehouse_core.mapf.lns import LnsRefiner, configs_to_vid_paths
from warehouse_core.mapf.pibt import (
    Graph,
    PibtGenerator,
    configs_to_paths,
    initial_priorities,
    priority_order,
    update_priorities,
)
from warehouse_core.mapf.pp_start import dense_pp_start, sparse_pp_start
from warehouse_core.mapf.scatter import GuidePaths
from warehouse_core.mapf.types import Solution
from warehouse_core.maps.grid import Coord, Grid

RESTART_RATE = 0.001
LNS_STALL = 1000
PP_SHARE = 0.7  # share of the time left after LaCAM's first solution that PP may use
# on dense instances (with LNS) LaCAM runs unguided, for a first solution in little time, and
# prioritized planning + repair then get up to this share of the time for the solution LNS
# starts from (warehouse-10-20 at 1000 agents: complete after 19-27 CPU s of 30, 1.35-1.40 x
# LB, against 2.9-3.3 for LaCAM's first)
PP_FIRST_SHARE = 0.98
SCATTER_MARGIN = 10  # guide paths may be this many steps longer than shortest
SCATTER_SHARE = 0.2  # share of the time limit the guide paths may take
SCATTER_ROUNDS = 4  # at most this many rounds of guide-path replanning
# when prioritized planning gave up and LaCAM's first solution is above this multiple of the
# lower bound, LaCAM is run again with other seeds until RETRY_SHARE of the time (warehouse-10-20, 1000 agents, seed 0:
# first solutions 1.9-2.4 x LB, other seeds of random-1 2.0-2.2 against 2.4)
RETRY_ABOVE = 2.0
RETRY_SHARE = 0.5
PIBT_RUNS = 3  # PIBT successors tried per LaCAM expansion, the best kept
# guide paths and PIBT_RUNS only from this many agents per free cell (sortation-large, 1000
# agents = 1.8 %: first solution no cheaper, 7 s later, final 1.164 against 1.142 without)
GUIDE_DENSITY = 0.05
PP_ABOVE = 1.4  # ... when that solution's sum of costs is above this multiple of the lower bound

# a constraint node: (depth, agent, vertex, parent) -- a linked list towards the root (None)
_Constraint = tuple


class _Node:
    __slots__ = ("key", "parent", "prio", "tree", "g", "h", "depth", "neighbors")

    def __init__(self, key: bytes, parent: "_Node | None", prio: np.ndarray, g: int, h: int,
                 depth: int) -> None:
        self.key = key
        self.parent = parent
        self.prio = prio
        self.tree: deque = deque([None])
        self.g = g
        self.h = h
        self.depth = depth
        self.neighbors: set[_Node] | None = None


def _constraints(c: _Constraint | None) -> list[tuple[int, int]]:
    out = []
    while c is not None:
        out.append((c[1], c[2]))
        c = c[3]
    out.reverse()
    return out


class _Search:
    """LaCAM's high-level search (LaCAM* with ``refine``) over configurations; see the module
    docstring. :meth:`run` may be called again (another seed) for another first solution."""

    def __init__(self, n: int, nbrs: list[list[int]], gen: PibtGenerator, D: np.ndarray, g_arr: np.ndarray,
                 pibt_runs: int, refine: bool) -> None:
        self.n = n
        self.nbrs = nbrs
        self.gen = gen
        self.D = D
        self.rows = np.arange(n)
        self.g_arr = g_arr
        self.pibt_runs = pibt_runs
        self.refine = refine
        self.expansions = 0
        self.generated = 0
        self.restarts = 0

    def heuristic(self, q_arr: np.ndarray) -> int:
        return int(self.D[self.rows, q_arr].sum(dtype=np.int64))

    def edge_cost(self, a: np.ndarray, b: np.ndarray) -> int:
        # SoC: every agent not resting at its goal pays one
        g_arr = self.g_arr
        return self.n - int(np.count_nonzero((a == g_arr) & (b == g_arr)))

    def f_value(self, a: np.ndarray, b: np.ndarray) -> int:
        return self.edge_cost(a, b) + self.heuristic(b)

    def run(self, s_arr: np.ndarray, rng: np.random.Generator, end: float) -> tuple[_Node | None, float | None, bool]:
        """Search from ``s_arr`` until the first solution (LaCAM) or ``end`` / exhaustion
        (LaCAM*). Returns (goal node or None, perf_counter time of the first solution, timed out).
        LaCAM's high-level loop, kept whole on purpose (it follows the published pseudocode)."""
        n, nbrs, gen, g_arr, refine = self.n, self.nbrs, self.gen, self.g_arr, self.refine
        pibt_runs, heuristic, edge_cost, f_value = self.pibt_runs, self.heuristic, self.edge_cost, self.f_value
        goal_key = g_arr.tobytes()
        root = _Node(s_arr.tobytes(), None, initial_priorities(self.D, s_arr.tolist()), 0, heuristic(s_arr), 0)
        if refine:
            root.neighbors = set()
        open_: list[_Node] = [root]
        explored: dict[bytes, _Node] = {root.key: root}
        best: _Node | None = None
        first_time: float | None = None
        timed_out = False
        now = time.perf_counter
        while open_:
            if now() >= end:
                timed_out = True
                break
            node = open_[-1]
            if best is None and node.key == goal_key:
                best = node
                first_time = now()
                if not refine:
                    break
            if best is not None and node.g + node.h >= best.g:
                open_.pop()
                continue
            if not node.tree:
                open_.pop()
                continue
            c = node.tree.popleft()
            self.expansions += 1
            q_from_arr = np.frombuffer(node.key, dtype=np.int32)
            q_from = q_from_arr.tolist()
            order = priority_order(node.prio)
            depth = 0 if c is None else c[0]
            if depth < n:
                i = order[depth]
                v = q_from[i]
                moves = nbrs[v] + [v]
                for k in rng.permutation(len(moves)).tolist():
                    node.tree.append((depth + 1, i, moves[k], c))
            q_to_arr = _best_successor(gen, q_from, q_from_arr, order, _constraints(c), pibt_runs, f_value)
            if q_to_arr is None:
                continue
            key = q_to_arr.tobytes()
            known = explored.get(key)
            if known is not None:
                if refine:
                    node.neighbors.add(known)  # type: ignore[union-attr]
                    _rewrite(node, known, q_from_arr, edge_cost, best)
                if rng.random() < RESTART_RATE:
                    self.restarts += 1
                    known = root
                if best is None or known.g + known.h < best.g:
                    open_.append(known)
                continue
            self.generated += 1
            child = _Node(key, node, update_priorities(node.prio, q_to_arr, g_arr),
                          node.g + edge_cost(q_from_arr, q_to_arr), heuristic(q_to_arr), node.depth + 1)
            if refine:
                child.neighbors = set()
                node.neighbors.add(child)  # type: ignore[union-attr]
            explored[key] = child
            open_.append(child)
        return best, first_time, timed_out


def solve_lacam(grid: Grid, starts: Sequence[Coord], goals: Sequence[Coord], time_limit: float = 30.0,
                seed: int = 0, refine: bool = False, swap: bool = True,
                deadline: float | None = None, lns: bool = False,
                lns_stall: int | None = LNS_STALL, pp_share: float = PP_SHARE,
                scatter: bool | None = None, pibt_runs: int | None = None) -> Solution:
    """Solve one-shot MAPF with LaCAM (first solution) or LaCAM* (``refine``: improve SoC
    until ``time_limit``). Paths are coordinate lists, agent ``i`` for ``starts[i]``.

    ``lns`` (ignored with ``refine``): after the first solution, improve its sum of costs by
    large-neighbourhood search (:mod:`warehouse_core.mapf.lns`) until the time limit or until
    ``lns_stall`` consecutive neighbourhoods brought no gain (None: no stall stop). The
    solution found first is kept if nothing better turns up, so this never loses a solution.

    Dense instances (``GUIDE_DENSITY``, ``pp_share`` > 0): LaCAM runs unguided, then prioritized
    planning + repair + bumping (:func:`~warehouse_core.mapf.pp_start.dense_pp_start`) get up to
    ``PP_FIRST_SHARE`` of the time for a complete solution, which LNS starts from when it is
    cheaper (``stats["initial"]`` ``"pp"``). If prioritized planning gives up (more than
    ``pp_start.REPAIR_GIVE_UP_INITIAL`` of the agents unplanned after its first pass), guided
    LaCAM runs with other seeds for a cheaper start (``"lacam-retry"``).

    Other instances: when the first solution costs more than ``PP_ABOVE`` times the lower bound,
    prioritized planning gets up to ``pp_share`` of the remaining time to find a second first
    solution: collision repair (``pp_start.REPAIR_SHARE`` of it; ``stats["repair_s"]``,
    ``stats["repair_unplanned"]``), then bumping with LaCAM's paths as fallbacks for the agents
    still unplanned; LNS starts from the cheaper of the two. Bumping is skipped when the repair
    left more than ``pp_start.REPAIR_GIVE_UP`` of the agents unplanned; then, if the first solution costs
    more than ``RETRY_ABOVE`` x LB, LaCAM runs again with other seeds until ``RETRY_SHARE`` of
    the time and LNS starts from the cheapest first solution (``stats["lacam_retries"]``,
    ``stats["retry_sum_of_costs"]``).

    ``scatter``: guide PIBT by congestion-spread guide paths (computed in at most
    ``SCATTER_SHARE`` of the time; ``stats["scatter_s"]``); ``pibt_runs``: PIBT successors
    tried per expansion, the one with the lowest edge cost + heuristic kept. Defaults (None):
    guide paths and ``PIBT_RUNS`` runs when there are at least ``GUIDE_DENSITY`` agents per
    free cell, else neither (on sparse maps they cost time and do not pay).
    """
    t0 = time.perf_counter()
    end = deadline if deadline is not None else t0 + time_limit
    n = len(starts)
    graph = Graph(grid)
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    algo = "lacam*" if refine else "lacam"
    if len(set(s)) != n or len(set(g)) != n:
        return Solution(False, [], algo, time.perf_counter() - t0,
                        stats={"reason": "starts or goals are not distinct"})
    D = graph.distance_table(g)
    rows = np.arange(n)
    s_arr = np.asarray(s, dtype=np.int32)
    g_arr = np.asarray(g, dtype=np.int32)
    if n and int(D[rows, s_arr].max()) >= graph.unreachable:
        return Solution(False, [], algo, time.perf_counter() - t0, stats={"reason": "unreachable goal"})
    dense = n >= GUIDE_DENSITY * graph.n_vertices
    if scatter is None:
        scatter = dense
    if pibt_runs is None:
        pibt_runs = PIBT_RUNS if dense else 1
    gen = PibtGenerator(graph, g, D, seed=seed, swap=swap)
    now = time.perf_counter
    stats: dict[str, float | int | str] = {}
    # dense, with LNS: prioritized planning makes the solution LNS starts from; LaCAM's (quick,
    # unguided) only guarantees one
    pp_first = lns and not refine and dense and pp_share > 0 and n >= 2
    if pp_first:
        scatter, pibt_runs = False, 1
    if scatter and n:
        stats.update(_guide(gen, graph, s, g, seed, now() + SCATTER_SHARE * (end - now())))
    rng = np.random.default_rng(seed + 1)
    nbrs = graph.nbrs
    search = _Search(n, nbrs, gen, D, g_arr, pibt_runs, refine)
    best, first_time, timed_out = search.run(s_arr, rng, end)
    if first_time is not None:
        first_time -= t0
    stats.update(expansions=search.expansions, nodes=search.generated + 1, restarts=search.restarts)
    if best is None:
        stats["reason"] = "time limit" if timed_out else "no solution exists"
        return Solution(False, [], algo, now() - t0, stats=stats)
    stats["optimal"] = int(refine and not timed_out)
    configs = _configs(best)
    if not (lns and not refine and n >= 2 and now() < end):
        return Solution(True, configs_to_paths(graph, configs, g), algo, now() - t0, first_time, stats=stats)
    refiner = _lns_start(search, graph, D, s, g, s_arr, seed, configs, pp_first, pp_share, (t0, end), stats)
    refiner.run(end, lns_stall)
    stats.update(lns_iterations=refiner.iterations, lns_accepted=refiner.accepted, refinement="lns")
    return Solution(True, vid_paths_to_coords(graph, refiner.paths), algo, now() - t0, first_time, stats=stats)


def _lns_start(search: _Search, graph: Graph, D: np.ndarray, s: list[int], g: list[int], s_arr: np.ndarray,
               seed: int, configs: list[np.ndarray], pp_first: bool, pp_share: float, times: tuple[float, float],
               stats: dict) -> LnsRefiner:
    """The solution LNS starts from (see :func:`solve_lacam`): LaCAM's first (``configs``), a
    prioritized-planning one, or LaCAM's cheapest with other seeds. ``times``: (t0, end)."""
    t0, end = times
    now = time.perf_counter
    nbrs, gen = graph.nbrs, search.gen
    first_paths = configs_to_vid_paths(configs, g)
    refiner = LnsRefiner(nbrs, gen.drows, s, g, first_paths, seed=seed)
    stats["first_sum_of_costs"] = refiner.sum_of_costs
    stats["initial"] = "lacam"
    lb = sum(refiner.lb)
    retry = False
    if pp_first:
        pp = dense_pp_start(graph, D, s, g, s_arr, seed, t0 + PP_FIRST_SHARE * (end - t0), stats,
                                first_paths, end)
        if pp is not None and pp.sum_of_costs < refiner.sum_of_costs:
            refiner = pp
        elif pp is None and now() < end:
            # prioritized planning gave up early (too dense): guided LaCAM runs for a cheaper start
            stats.update(_guide(gen, graph, s, g, seed, now() + SCATTER_SHARE * (end - now())))
            search.pibt_runs = PIBT_RUNS
            retry = True
    elif pp_share > 0 and refiner.sum_of_costs > PP_ABOVE * lb:
        pp, retry = sparse_pp_start(graph, D, s, g, s_arr, seed, end, pp_share, first_paths, stats)
        if pp is not None and pp.sum_of_costs < refiner.sum_of_costs:
            refiner = pp
            stats["initial"] = "pp"
    if retry and refiner.sum_of_costs > RETRY_ABOVE * lb:
        # too dense for prioritized planning: LNS starts from LaCAM's solution, whose cost
        # varies a lot with the random tie-breaks; try other seeds for a cheaper one
        first_paths = _retry_first(search, s_arr, g, seed, now() + RETRY_SHARE * (end - now()),
                                   first_paths, stats)
        if stats.get("retry_sum_of_costs", refiner.sum_of_costs) < refiner.sum_of_costs:
            refiner = LnsRefiner(nbrs, gen.drows, s, g, first_paths, seed=seed)
            stats["initial"] = "lacam-retry"
    return refiner


def _guide(gen: PibtGenerator, graph: Graph, s: Sequence[int], g: Sequence[int], seed: int,
           until: float) -> dict[str, float | int | str]:
    """Guide ``gen``'s PIBT by congestion-spread guide paths built until ``until``; their stats."""
    gp = GuidePaths(graph.nbrs, gen.drows, s, g, margin=SCATTER_MARGIN, seed=seed)
    t_sc = time.perf_counter()
    out: dict[str, float | int | str] = {"scatter_collisions": gp.build(until, SCATTER_ROUNDS),
                                         "scatter_rounds": gp.rounds}
    out["scatter_s"] = round(time.perf_counter() - t_sc, 3)
    gen.guide = gp.next_table()
    return out


def _configs(node: _Node) -> list[np.ndarray]:
    """The configurations from the root to ``node``."""
    configs = []
    nd: _Node | None = node
    while nd is not None:
        configs.append(np.frombuffer(nd.key, dtype=np.int32))
        nd = nd.parent
    configs.reverse()
    return configs


def _retry_first(search: _Search, s_arr: np.ndarray, goals: Sequence[int], seed: int, until: float,
                 paths: list[list[int]], stats: dict) -> list[list[int]]:
    """Run LaCAM again with other seeds until ``until`` (perf_counter); return the cheapest
    first solution's vertex-id paths (``paths`` if none is cheaper). Stats: ``lacam_retries``,
    ``retry_sum_of_costs`` (the best retry)."""
    best = paths
    best_cost = sum(len(p) - 1 for p in paths)
    k = 0
    while time.perf_counter() < until:
        k += 1
        search.gen.rng = np.random.default_rng(seed + 7919 * k)
        node, _, _ = search.run(s_arr, np.random.default_rng(seed + 1 + 7919 * k), until)
        if node is None:
            break
        cand = configs_to_vid_paths(_configs(node), goals)
        cost = sum(len(p) - 1 for p in cand)
        stats["retry_sum_of_costs"] = min(cost, int(stats.get("retry_sum_of_costs", cost)))
        if cost < best_cost:
            best, best_cost = cand, cost
    stats["lacam_retries"] = k
    return best


def _best_successor(gen: PibtGenerator, q_from: list[int], q_from_arr: np.ndarray, order: list[int],
                    constraints: list[tuple[int, int]], runs: int, score) -> np.ndarray | None:
    """The best of ``runs`` PIBT successors of ``q_from`` (their random tie-breaks differ) by
    ``score(q_from, successor)``, lower first (edge cost + heuristic, as LaCAM3 picks among its
    PIBT runs), or None if all fail."""
    best: np.ndarray | None = None
    best_score = 0
    for _ in range(runs):
        q_to = gen.generate(q_from, order, constraints)
        if q_to is None:
            continue
        arr = np.asarray(q_to, dtype=np.int32)
        if runs == 1:
            return arr
        sc = score(q_from_arr, arr)
        if best is None or sc < best_score:
            best, best_score = arr, sc
    return best


def vid_paths_to_coords(graph: Graph, paths: Sequence[Sequence[int]]):
    """Vertex-id paths to coordinate paths."""
    w = graph.width
    cell_of = graph.cell_of.tolist()
    out = []
    for p in paths:
        cells = [cell_of[v] for v in p]
        out.append([(c % w, c // w) for c in cells])
    return out


def _rewrite(node: _Node, known: _Node, q_from_arr: np.ndarray, edge_cost, best: _Node | None) -> None:
    """LaCAM*: ``known`` is reachable from ``node``; adopt cheaper parents, Dijkstra-style."""
    heap: list[tuple[int, int, _Node]] = [(node.g, id(node), node)]
    while heap:
        g_from, _, nd = heapq.heappop(heap)
        if g_from > nd.g:
            continue
        a = np.frombuffer(nd.key, dtype=np.int32)
        for nb in nd.neighbors:  # type: ignore[union-attr]
            g_new = nd.g + edge_cost(a, np.frombuffer(nb.key, dtype=np.int32))
            if g_new < nb.g:
                nb.g = g_new
                nb.parent = nd
                nb.depth = nd.depth + 1
                heapq.heappush(heap, (g_new, id(nb), nb))

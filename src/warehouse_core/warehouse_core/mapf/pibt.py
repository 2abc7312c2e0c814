"""PIBT (Okumura et al., 2019/2022): one-step configuration generator and a plain PIBT solver.

The generator plans one time step for every agent by *priority inheritance with backtracking*:
agents are served in priority order; an agent tries its candidate cells best first (BFS distance
to its goal, random tie-breaking); if the cell is held by a lower-priority agent that has not
moved yet, that agent inherits the priority and must move away first, or the candidate is
abandoned. It also implements the *swap* refinement described with LaCAM* (Okumura, IJCAI 2023):
when two agents must pass each other in a corridor, the higher-priority one backs up and pulls
the other along until a branching cell lets them swap. (The pull reverses only the real
candidates of the agent: the candidate rows are padded with a never-enterable sentinel vertex,
which must stay last, or the agent would never take its first reversed candidate and never
pull.) Candidate order: distance to goal, then a free cell before an occupied one, then random.

The PIBT step itself is :func:`warehouse_core.mapf.pibt_core.make_pibt`, shared with the
lifelong planner. Performance layout: vertex ids are dense (free cells only), adjacency is a
list of Python lists, each agent's candidate cells are sorted for all agents at once with numpy,
and the inner loop touches only flat Python lists.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from warehouse_core.mapf.pibt_core import Pibt, make_pibt
from warehouse_core.mapf.swap import make_swap_partner
from warehouse_core.mapf.types import Solution
from warehouse_core.maps.grid import Coord, Grid, Path

# Python list rows of the distance table when the table is at most this many entries.
_LIST_ROWS_MAX = 12_000_000
# candidate order: distance to goal, then free cells before occupied ones, then random
_OCC_W = 0.5
# a guide path's next cell ranks first among the candidates (see PibtGenerator.guide)
_GUIDE_BONUS = 1000.0


class Graph:
    """Dense vertex ids over the free cells of ``grid`` (row-major), adjacency and BFS."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        free = grid.free
        h, w = free.shape
        self.width = w
        flat_free = np.flatnonzero(free.ravel())
        self.n_vertices = V = int(flat_free.size)
        self.cell_of = flat_free                          # vid -> flat cell index
        vid = np.full(h * w, -1, dtype=np.int64)
        vid[flat_free] = np.arange(V)
        self.vid_of = vid                                 # flat cell index -> vid or -1
        idx = vid.reshape(h, w)
        pairs = []
        for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
            m = (a >= 0) & (b >= 0)
            pairs.append((a[m], b[m]))
        src = np.concatenate([np.concatenate([a, b]) for a, b in pairs])
        dst = np.concatenate([np.concatenate([b, a]) for a, b in pairs])
        self.adjacency = csr_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(V, V))
        indptr, indices = self.adjacency.indptr, self.adjacency.indices
        # neighbours in a fixed direction order (right, left, down, up) for determinism
        self.nbrs: list[list[int]] = [sorted(indices[indptr[v]:indptr[v + 1]].tolist())
                                      for v in range(V)]
        self.nbrs.append([])                              # sentinel vertex V
        self.degree = [len(x) for x in self.nbrs]
        nb5 = np.full((V + 1, 5), V, dtype=np.int64)     # [self, neighbours..., sentinel pad]
        nb5[:V, 0] = np.arange(V)
        for v in range(V):
            row = self.nbrs[v]
            nb5[v, 1:1 + len(row)] = row
        self.nb5 = nb5
        # distance dtype: uint16 while distances fit, sentinel/unreachable at the top
        self.dtype = np.uint16 if V < 60_000 else np.int32
        top = int(np.iinfo(self.dtype).max)
        self.sentinel_dist = top
        self.unreachable = top - 1

    def vid(self, c: Coord) -> int:
        v = int(self.vid_of[c[1] * self.width + c[0]]) if self.grid.in_bounds(c) else -1
        if v < 0:
            raise ValueError(f"cell {c} is not a free cell of the map")
        return v

    def coord(self, v: int) -> Coord:
        c = int(self.cell_of[v])
        return (c % self.width, c // self.width)

    def distance_from(self, goal: int) -> np.ndarray:
        """BFS distances of all vertices to ``goal`` (length V + 1; sentinel last).

        scipy's C breadth-first order plus one vectorised pass: BFS discovers vertices layer by
        layer and parents in non-decreasing order, so each layer's end is one ``searchsorted``.
        """
        V = self.n_vertices
        dist = np.full(V + 1, self.unreachable, dtype=self.dtype)
        dist[V] = self.sentinel_dist
        order, pred = breadth_first_order(self.adjacency, goal, directed=True,
                                          return_predecessors=True)
        if order.size == 1:
            dist[goal] = 0
            return dist
        pos = np.empty(V, dtype=np.int64)
        pos[order] = np.arange(order.size)
        ppos = pos[pred[order[1:]]]
        bounds = [0, 1]
        total = order.size
        ss = ppos.searchsorted
        while bounds[-1] < total:
            bounds.append(1 + int(ss(bounds[-1], "left")))
        layers = np.repeat(np.arange(len(bounds) - 1, dtype=self.dtype), np.diff(bounds))
        dist[order] = layers
        return dist

    def distance_table(self, goals: Sequence[int]) -> np.ndarray:
        """``D[i, v]`` = BFS distance from vertex ``v`` to ``goals[i]`` (shape n x (V + 1))."""
        D = np.empty((len(goals), self.n_vertices + 1), dtype=self.dtype)
        cache: dict[int, int] = {}
        for i, g in enumerate(goals):
            if g in cache:
                D[i] = D[cache[g]]
            else:
                D[i] = self.distance_from(g)
                cache[g] = i
        return D


class PibtGenerator:
    """One-step PIBT with optional constraints (LaCAM's low-level search) and swap."""

    def __init__(self, graph: Graph, goals: Sequence[int], dist: np.ndarray, seed: int = 0,
                 swap: bool = True, guide: np.ndarray | None = None) -> None:
        self.graph = graph
        # guide[i, v]: the cell after v on agent i's guide path (-1: none), ranked first among
        # agent i's candidates at v (see warehouse_core.mapf.scatter)
        self.guide = guide
        self.guide_bonus = _GUIDE_BONUS
        self.goals = list(goals)
        self.n = n = len(goals)
        self.D = dist
        self.rows = np.arange(n)[:, None]
        V = graph.n_vertices
        self.V = V
        self.occ_now = [-1] * (V + 1)
        self.occ_next = [-1] * (V + 1)
        self.occ_next[V] = -2                     # sentinel: never enterable
        self.rng = np.random.default_rng(seed)
        self.swap = swap
        if n * (V + 1) <= _LIST_ROWS_MAX:
            self.drows: list = [row.tolist() for row in dist]
        else:
            self.drows = [row for row in dist]

    def candidates(self, q_from: np.ndarray) -> list[list[int]]:
        """Each agent's next cells (neighbours and itself), best first, ties broken randomly."""
        C = self.graph.nb5[q_from]
        occ = np.zeros(self.V + 1, dtype=np.float64)
        occ[q_from] = _OCC_W
        keys = self.D[self.rows, C] + occ[C] + self.rng.random(C.shape) * (1.0 - _OCC_W)
        if self.guide is not None:
            keys -= (C == self.guide[self.rows[:, 0], q_from][:, None]) * self.guide_bonus
        idx = np.argsort(keys, axis=1)
        return np.take_along_axis(C, idx, axis=1).tolist()

    def generate(self, q_from: list[int], order: Sequence[int],
                 constraints: Sequence[tuple[int, int]] = ()) -> list[int] | None:
        """Next configuration from ``q_from``, or None when the constraints cannot be met.

        ``constraints`` fixes the next vertex of some agents (each a neighbour of, or equal to,
        the agent's current vertex); the other agents are planned by PIBT in ``order``.
        """
        n = self.n
        cands = self.candidates(np.asarray(q_from, dtype=np.int64))
        occ_now = self.occ_now
        occ_next = self.occ_next
        q_to = [-1] * n
        for i in range(n):
            occ_now[q_from[i]] = i
        ok = True
        try:
            for i, v in constraints:
                if occ_next[v] != -1:
                    ok = False
                    break
                j = occ_now[v]
                if j != -1 and q_to[j] == q_from[i]:
                    ok = False
                    break
                q_to[i] = v
                occ_next[v] = i
            if ok:
                pibt = self._make_pibt(q_from, q_to, cands)
                for i in order:
                    if q_to[i] == -1 and not pibt(i):
                        ok = False
                        break
        finally:
            for v in q_from:
                occ_now[v] = -1
            for v in q_to:
                if v >= 0:
                    occ_next[v] = -1
        return q_to if ok else None

    def _make_pibt(self, q_from: list[int], q_to: list[int], cands: list[list[int]]) -> Pibt:
        swap_partner = None
        if self.swap:
            swap_partner = make_swap_partner(self.graph.nbrs, self.graph.degree, self.occ_now, q_to,
                                             self.goals, self.drows.__getitem__)
        return make_pibt(q_from, q_to, cands, self.occ_now, self.occ_next, self.graph.degree, swap_partner)


def initial_priorities(dist: np.ndarray, starts: Sequence[int]) -> np.ndarray:
    """Far-from-goal agents first (fractional part only, so it acts as a tie-breaker)."""
    n = len(starts)
    d = dist[np.arange(n), np.asarray(starts, dtype=np.int64)].astype(np.float64)
    return d / (float(d.max()) + 1.0) if n else d


def update_priorities(prio: np.ndarray, q_to: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """+1 for every agent not at its goal; agents at their goal fall back to the fraction."""
    return np.where(q_to == goals, prio - np.floor(prio), prio + 1.0)


def priority_order(prio: np.ndarray) -> list[int]:
    return np.argsort(-prio, kind="stable").tolist()


def configs_to_paths(graph: Graph, configs: Sequence[Sequence[int]], goals: Sequence[int]) -> list[Path]:
    """Per-agent coordinate paths from a configuration sequence, cut after each arrival."""
    if not configs:
        return []
    arr = np.asarray(configs, dtype=np.int64)            # T x n
    n = arr.shape[1]
    goals_arr = np.asarray(goals, dtype=np.int64)
    off = arr != goals_arr[None, :]
    T = arr.shape[0]
    last_off = np.where(off.any(axis=0), T - 1 - np.argmax(off[::-1], axis=0), -1)
    cells = graph.cell_of[arr]
    xs = (cells % graph.width).T.tolist()
    ys = (cells // graph.width).T.tolist()
    return [list(zip(xs[i][:last_off[i] + 2], ys[i][:last_off[i] + 2])) for i in range(n)]


def solve_pibt(grid: Grid, starts: Sequence[Coord], goals: Sequence[Coord], time_limit: float = 30.0,
               seed: int = 0, max_steps: int | None = None, swap: bool = True) -> Solution:
    """Plain PIBT: repeat one-step PIBT until every agent is at its goal (incomplete)."""
    t0 = time.perf_counter()
    graph = Graph(grid)
    s = [graph.vid(c) for c in starts]
    g = [graph.vid(c) for c in goals]
    D = graph.distance_table(g)
    n = len(s)
    if n and int(D[np.arange(n), s].max()) >= graph.unreachable:
        return Solution(False, [], "pibt", time.perf_counter() - t0, stats={"reason": "unreachable goal"})
    gen = PibtGenerator(graph, g, D, seed=seed, swap=swap)
    goals_arr = np.asarray(g, dtype=np.int64)
    prio = initial_priorities(D, s)
    q = s
    configs = [s]
    limit = max_steps if max_steps is not None else 20 * (graph.n_vertices + n) + 1000
    solved = q == g
    while not solved and len(configs) <= limit and time.perf_counter() - t0 < time_limit:
        q_new = gen.generate(q, priority_order(prio))
        assert q_new is not None
        q_arr = np.asarray(q_new, dtype=np.int64)
        prio = update_priorities(prio, q_arr, goals_arr)
        configs.append(q_new)
        q = q_new
        solved = q == g
    runtime = time.perf_counter() - t0
    if not solved:
        return Solution(False, [], "pibt", runtime, stats={"steps": len(configs) - 1})
    paths = configs_to_paths(graph, configs, g)
    return Solution(True, paths, "pibt", time.perf_counter() - t0, runtime,
                    stats={"steps": len(configs) - 1})

"""Anytime improvement of a one-shot MAPF solution by large-neighbourhood search (LNS).

MAPF-LNS style (Li et al., IJCAI 2021): repeatedly pick a small *neighbourhood* of agents,
delete their paths, replan them one by one (random order) against the paths of everybody else
(prioritized planning), and keep the new paths only if the neighbourhood's sum of costs went
down (otherwise restore the old ones). Every accepted step keeps the whole solution
collision-free, so the search can be stopped at any time and never loses a solution.

Low level: SIPP (safe-interval path planning, Phillips and Likhachev, ICRA 2011) over the
occupancy index: a search node is a (vertex, safe interval) pair reached at its earliest time,
so waiting for a crossing agent costs one node instead of one node per waited step. The safe
intervals of a vertex are built from its occupancy on demand and cached until a path through
it is inserted or removed. The replanning bound (an agent may only use what is left of the
neighbourhood's old cost) prunes the search.

Neighbourhoods: *agent-based* (an agent with a large delay plus the agents that stand on its
individual shortest path around the time it would pass), *goal passers* (a delayed agent plus
the agents that visit its goal after it could have arrived: while they pass it cannot park;
on a prioritized-planning solution at 1000 agents on warehouse-10-20 this kind gained twice
as much per second as agent-based), *intersection-based* (agents passing a random junction and
the cells around it, as in Li et al.) and *random*, each in sizes 2, 4 and 8; the choice among
these arms adapts to the cost reduction per second each has recently produced (ALNS weights).
Larger neighbourhoods (16, 32) were tried and gave less per second in Python.

Representation: paths are lists of vertex ids (see :class:`~warehouse_core.mapf.pibt.Graph`),
``path[t]`` the vertex at time ``t``, ending at the agent's final arrival at its goal, where the
agent stays forever. Occupancy: ``occ[v]`` maps time -> agent for every (t, v) on a path
(including the arrival step) and ``park[v]`` is the arrival time of the agent that ends at ``v``
(goals are distinct, so at most one).
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Sequence

import numpy as np

_NO_PARK = 1 << 60
_ALWAYS_FREE = ((0, _NO_PARK),)  # the safe intervals of a vertex nobody visits
_SIZES = (2, 4, 8)  # neighbourhood sizes the adaptive choice picks from


class LnsRefiner:
    """Holds the current solution and the occupancy index; :meth:`run` improves it in place."""

    def __init__(self, nbrs: list[list[int]], drows: Sequence[Sequence[int]], starts: Sequence[int],
                 goals: Sequence[int], paths: list[list[int]] | None, seed: int = 0,
                 neighbourhood: int = 8, max_expansions: int = 5_000) -> None:
        self.nbrs = nbrs
        self._drows = drows
        self._hcache: dict[int, list[int]] = {}
        self.starts = list(starts)
        self.goals = list(goals)
        self.n = len(goals)
        # None: nobody planned yet (an empty path is an agent outside the index)
        self.paths = [list(p) for p in paths] if paths is not None else [[] for _ in goals]
        self.rng = random.Random(seed)
        self.k = neighbourhood  # size of the next neighbourhood (run() adapts it)
        self._crossings: list[int] | None = None
        self.max_expansions = max_expansions
        self.delay_samples = 8  # agent-based neighbourhoods: the most delayed of this many draws
        V = len(nbrs)
        self.occ: list[dict[int, int]] = [dict() for _ in range(V)]
        self.park = [_NO_PARK] * V
        self._iv: dict[int, list[tuple[int, int]]] = {}
        self._iv_moving: dict[int, list[tuple[int, int]]] = {}
        for a, p in enumerate(self.paths):
            if p:
                self._insert(a, p)
        self.cost = [len(p) - 1 for p in self.paths]
        self.lb = [int(drows[a][self.starts[a]]) for a in range(self.n)]
        self.iterations = 0
        self.accepted = 0
        self.bumps = 0  # agents bumped while building a prioritized solution
        self.fallbacks = 0  # agents that kept their fallback path there

    def _h(self, a: int) -> list[int]:
        row = self._drows[a]
        if isinstance(row, list):
            return row
        h = self._hcache.get(a)
        if h is None:
            if len(self._hcache) > 256:
                self._hcache.clear()
            h = self._hcache[a] = row.tolist()
        return h

    # ------------------------------------------------------------------ occupancy index
    def _insert(self, a: int, p: list[int]) -> None:
        occ = self.occ
        iv, ivm = self._iv, self._iv_moving
        for t, v in enumerate(p):
            occ[v][t] = a
            iv.pop(v, None)
            ivm.pop(v, None)
        self.park[p[-1]] = len(p) - 1

    def _remove(self, a: int, p: list[int]) -> None:
        occ = self.occ
        iv, ivm = self._iv, self._iv_moving
        for t, v in enumerate(p):
            del occ[v][t]
            iv.pop(v, None)
            ivm.pop(v, None)
        self.park[p[-1]] = _NO_PARK

    @property
    def sum_of_costs(self) -> int:
        return sum(self.cost)

    # ------------------------------------------------------------------ low level
    def _intervals(self, v: int) -> list[tuple[int, int]]:
        """Safe intervals of ``v``: maximal time ranges nobody occupies (cached per vertex)."""
        iv = self._iv.get(v)
        if iv is None:
            iv = self._iv[v] = self._make_intervals(v, self.park[v])
        return iv

    def _intervals_moving(self, v: int) -> list[tuple[int, int]]:
        """Like :meth:`_intervals`, but an agent parked at ``v`` is ignored once it arrived."""
        iv = self._iv_moving.get(v)
        if iv is None:
            iv = self._iv_moving[v] = self._make_intervals(v, _NO_PARK, self.park[v])
        return iv

    def _make_intervals(self, v: int, park: int, ignore_from: int = _NO_PARK) -> list[tuple[int, int]]:
        occ_v = self.occ[v]
        if not occ_v:
            return list(_ALWAYS_FREE) if park == _NO_PARK else ([(0, park - 1)] if park > 0 else [])
        lo = 0
        iv = []
        stop = park if park < ignore_from else ignore_from
        for t in sorted(occ_v):
            if t >= stop:
                break
            if t > lo:
                iv.append((lo, t - 1))
            lo = t + 1
        end = park - 1 if park != _NO_PARK else _NO_PARK
        if lo <= end:
            iv.append((lo, end))
        return iv

    def plan(self, a: int, bound: int, max_expansions: int | None = None,
             ignore_parked: bool = False) -> list[int] | None:
        """SIPP (safe-interval path planning) for agent ``a`` against the indexed paths.

        ``a``'s own path must be removed from the index. Returns the shortest collision-free
        path that arrives for good before ``bound`` (arrival time < bound), or None (also
        when more than ``max_expansions`` search nodes were expanded). A search node is a
        (vertex, safe interval) pair reached at its earliest time, so waiting costs nothing
        to search; swaps are checked on every move. ``ignore_parked``: agents that have
        arrived for good are ignored there (a relaxation that tells who is in the way, see
        :meth:`blockers`).
        """
        start, goal = self.starts[a], self.goals[a]
        h = self._h(a)
        if h[start] >= bound:
            return None
        occ, nbrs = self.occ, self.nbrs
        if ignore_parked:
            intervals, cache = self._intervals_moving, self._iv_moving
        else:
            intervals, cache = self._intervals, self._iv
        s_iv = intervals(start)
        if not s_iv or s_iv[0][0] != 0:
            return None
        g_iv = intervals(goal)
        # nobody can arrive for good before the goal's last safe interval opens
        t_free = g_iv[-1][0] if g_iv and g_iv[-1][1] == _NO_PARK else bound
        if t_free >= bound:
            return None
        V = len(nbrs)
        # node: (vertex, interval start, interval end, arrival time, parent node id);
        # best: earliest arrival per (vertex, interval), keyed interval start * V + vertex
        nodes: list[tuple[int, int, int, int, int]] = [(start, 0, s_iv[0][1], 0, -1)]
        best: dict[int, int] = {start: 0}
        heap = [(max(int(h[start]), t_free), int(h[start]), 0)]
        push, pop = heapq.heappush, heapq.heappop
        limit = self.max_expansions if max_expansions is None else max_expansions
        expansions = 0
        while heap:
            nid = pop(heap)[2]
            v, lo, hi, t, _ = nodes[nid]
            if best[lo * V + v] < t:
                continue
            if v == goal and hi == _NO_PARK:
                self.last_expansions = expansions
                return self._unroll(nodes, nid)
            expansions += 1
            if expansions > limit:
                return None
            ov = occ[v]
            t1 = t + 1
            hi1 = hi + 1
            for u in nbrs[v]:
                hu = h[u]
                if t1 + hu >= bound:
                    continue
                ivs = cache.get(u)
                if ivs is None:
                    ivs = intervals(u)
                for ulo, uhi in ivs:
                    if uhi < t1:
                        continue
                    if ulo > hi1:
                        break
                    if t1 > ulo:
                        t2 = t1
                    else:
                        # arriving as the interval opens: whoever left u at t2 - 1 must not
                        # be entering v (a swap; we cannot wait longer in v either)
                        t2 = ulo
                        b = occ[u].get(t2 - 1)
                        if b is not None and ov.get(t2) == b:
                            continue
                    f = t2 + hu
                    if f >= bound:
                        break
                    key = ulo * V + u
                    old = best.get(key)
                    if old is not None and old <= t2:
                        continue
                    best[key] = t2
                    nodes.append((u, ulo, uhi, t2, nid))
                    push(heap, (f if f > t_free else t_free, hu, len(nodes) - 1))
        return None

    def blockers(self, a: int, path: list[int]) -> set[int]:
        """Agents in the index whose paths collide with ``path`` of agent ``a`` (vertex, swap,
        standing on a cell after arriving there for good, or visiting ``a``'s goal after
        ``a`` arrived)."""
        occ, park = self.occ, self.park
        out: set[int] = set()
        prev = -1
        for t, v in enumerate(path):
            ov = occ[v]
            b = ov.get(t)
            if b is not None:
                out.add(b)
            if park[v] <= t:
                out.add(ov[park[v]])
            if prev >= 0 and prev != v:
                b = ov.get(t - 1)
                if b is not None and occ[prev].get(t) == b:
                    out.add(b)
            prev = v
        end = len(path) - 1
        for t, b in occ[path[-1]].items():
            if t > end:
                out.add(b)
        out.discard(a)
        return out

    @staticmethod
    def _unroll(nodes: list[tuple[int, int, int, int, int]], nid: int) -> list[int]:
        chain = []
        while nid != -1:
            v, _, _, t, nid = nodes[nid]
            chain.append((v, t))
        chain.reverse()
        path = [chain[0][0]]
        for v, t in chain[1:]:
            path.extend([path[-1]] * (t - len(path)))   # wait until t - 1
            path.append(v)
        return path

    # ------------------------------------------------------------------ neighbourhoods
    def _most_delayed(self) -> int:
        """The most delayed of a few random draws (a cheap delay-weighted choice)."""
        cost, lb, rng, n = self.cost, self.lb, self.rng, self.n
        cands = [rng.randrange(n) for _ in range(self.delay_samples)]
        return max(cands, key=lambda x: cost[x] - lb[x])

    def _agent_based(self) -> list[int]:
        n, rng = self.n, self.rng
        a = self._most_delayed()
        if self.cost[a] == self.lb[a]:
            return self._random()
        group = {a}
        # agents standing on a's individual shortest path around the time it would pass there
        v = self.starts[a]
        h = self._h(a)
        nbrs, occ, park = self.nbrs, self.occ, self.park
        t = 0
        goal = self.goals[a]
        hits: list[int] = []
        while True:
            for dt in (0, 1, -1):
                b = occ[v].get(t + dt)
                if b is not None and b != a:
                    hits.append(b)
            if park[v] != _NO_PARK:
                b = occ[v].get(park[v])
                if b is not None and b != a:
                    hits.append(b)
            if v == goal:
                break
            best = [u for u in nbrs[v] if h[u] < h[v]]
            v = best[rng.randrange(len(best))]
            t += 1
        rng.shuffle(hits)
        for b in hits:
            if len(group) >= self.k:
                break
            group.add(b)
        while len(group) < self.k and len(group) < n:
            group.add(rng.randrange(n))
        return list(group)

    def _goal_passers(self) -> list[int]:
        """A delayed agent plus the agents that visit its goal after it could have arrived:
        while they pass, it cannot arrive for good."""
        n, rng = self.n, self.rng
        a = self._most_delayed()
        lo, hi = self.lb[a], self.cost[a]
        passers = list({b for t, b in self.occ[self.goals[a]].items() if lo <= t < hi and b != a})
        if not passers:
            return self._agent_based()
        rng.shuffle(passers)
        group = [a] + passers[:self.k - 1]
        seen = set(group)
        while len(group) < self.k and len(group) < n:
            b = rng.randrange(n)
            if b not in seen:
                seen.add(b)
                group.append(b)
        return group

    def _random(self) -> list[int]:
        return self.rng.sample(range(self.n), min(self.k, self.n))

    def _intersection(self) -> list[int]:
        """Agents passing a random intersection (degree >= 3) and the cells around it."""
        if self._crossings is None:
            self._crossings = [v for v, nb in enumerate(self.nbrs) if len(nb) >= 3]
        if not self._crossings:
            return self._random()
        rng, occ, nbrs = self.rng, self.occ, self.nbrs
        v0 = self._crossings[rng.randrange(len(self._crossings))]
        seen = {v0}
        frontier = [v0]
        group: set[int] = set()
        while frontier and len(group) < self.k:
            nxt = []
            for v in frontier:
                agents = list(set(occ[v].values()))
                rng.shuffle(agents)
                for b in agents:
                    if len(group) >= self.k:
                        break
                    group.add(b)
                for u in nbrs[v]:
                    if u not in seen:
                        seen.add(u)
                        nxt.append(u)
            frontier = nxt
            if len(seen) > 64:
                break
        while len(group) < min(self.k, self.n):
            group.add(rng.randrange(self.n))
        return list(group)

    # ------------------------------------------------------------------ search
    def step(self, group: list[int]) -> int:
        """Replan ``group``; keep the result if cheaper. Returns the cost reduction (>= 0)."""
        paths, cost = self.paths, self.cost
        old = {a: paths[a] for a in group}
        old_cost = sum(cost[a] for a in group)
        for a in group:
            self._remove(a, paths[a])
        self.rng.shuffle(group)
        new: dict[int, list[int]] = {}
        budget = old_cost
        remaining_lb = sum(self.lb[a] for a in group)
        ok = True
        for a in group:
            remaining_lb -= self.lb[a]
            # strict improvement: this agent's cost + the others' lower bounds < what is left
            bound = budget - remaining_lb
            p = self.plan(a, bound) if bound > self.lb[a] else None
            if p is None:
                ok = False
                break
            new[a] = p
            budget -= len(p) - 1
            self._insert(a, p)
        new_cost = sum(len(p) - 1 for p in new.values())
        if ok and new_cost < old_cost:
            for a, p in new.items():
                paths[a] = p
                cost[a] = len(p) - 1
            return old_cost - new_cost
        for a, p in new.items():
            self._remove(a, p)
        for a in group:
            self._insert(a, old[a])
        return 0

    def run(self, deadline: float, stall_iterations: int | None = None) -> None:
        """Improve until ``deadline`` (perf_counter) or ``stall_iterations`` without gain."""
        if self.n < 2:
            return
        # adaptive choice (ALNS) among (neighbourhood kind, size) arms, rewarded by the cost
        # reduction per second
        kinds = (self._agent_based, self._intersection, self._random, self._goal_passers)
        arms = [(kind, size) for kind in range(len(kinds)) for size in _SIZES if size < self.n]
        if not arms:
            arms = [(kind, self.n) for kind in range(len(kinds))]
        weights = [100.0] * len(arms)
        since = 0
        now = time.perf_counter
        rng = self.rng
        while now() < deadline:
            arm = rng.choices(range(len(arms)), weights)[0]
            kind, self.k = arms[arm]
            t = now()
            group = kinds[kind]()
            gain = self.step(group)
            self.iterations += 1
            # reward: cost reduction per second (larger neighbourhoods take longer)
            rate = gain / max(now() - t, 1e-4)
            weights[arm] = 0.8 * weights[arm] + 0.2 * max(rate, 1.0)
            if gain > 0:
                self.accepted += 1
                since = 0
            else:
                since += 1
                if stall_iterations is not None and since >= stall_iterations:
                    break


def configs_to_vid_paths(configs: Sequence[Sequence[int]], goals: Sequence[int]) -> list[list[int]]:
    """Per-agent vertex-id paths from a configuration sequence, cut after the final arrival."""
    arr = np.asarray(configs, dtype=np.int64)            # T x n
    T, n = arr.shape
    goals_arr = np.asarray(goals, dtype=np.int64)
    off = arr != goals_arr[None, :]
    last_off = np.where(off.any(axis=0), T - 1 - np.argmax(off[::-1], axis=0), -1)
    cols = arr.T.tolist()
    return [cols[i][:int(last_off[i]) + 2] for i in range(n)]

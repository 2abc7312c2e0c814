"""Anytime improvement of a one-shot MAPF solution by large-neighbourhood search (LNS).

MAPF-LNS style (Li et al., IJCAI 2021): repeatedly pick a small *neighbourhood* of agents,
delete their paths, replan them one by one (random order) with space-time A* against the paths
of everybody else (prioritized planning), and keep the new paths only if the neighbourhood's
sum of costs went down (otherwise restore the old ones). Every accepted step keeps the whole
solution collision-free, so the search can be stopped at any time and never loses a solution.

Neighbourhoods: *agent-based* (an agent with a large delay plus the agents that stand on its
individual shortest path around the time it would pass) and *random*; the choice between them
adapts to which one has recently produced improvements (ALNS weights).

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


class LnsRefiner:
    """Holds the current solution and the occupancy index; :meth:`run` improves it in place."""

    def __init__(self, nbrs: list[list[int]], drows: Sequence[Sequence[int]], starts: Sequence[int],
                 goals: Sequence[int], paths: list[list[int]], seed: int = 0,
                 neighbourhood: int = 8, max_expansions: int = 5_000) -> None:
        self.nbrs = nbrs
        self._drows = drows
        self._hcache: dict[int, list[int]] = {}
        self.starts = list(starts)
        self.goals = list(goals)
        self.n = len(goals)
        self.paths = [list(p) for p in paths]
        self.rng = random.Random(seed)
        self.k = neighbourhood
        self.max_expansions = max_expansions
        V = len(nbrs)
        self.occ: list[dict[int, int]] = [dict() for _ in range(V)]
        self.park = [_NO_PARK] * V
        for a, p in enumerate(self.paths):
            self._insert(a, p)
        self.cost = [len(p) - 1 for p in self.paths]
        self.lb = [int(drows[a][self.starts[a]]) for a in range(self.n)]
        self.iterations = 0
        self.accepted = 0

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
        for t, v in enumerate(p):
            occ[v][t] = a
        self.park[p[-1]] = len(p) - 1

    def _remove(self, a: int, p: list[int]) -> None:
        occ = self.occ
        for t, v in enumerate(p):
            del occ[v][t]
        self.park[p[-1]] = _NO_PARK

    @property
    def sum_of_costs(self) -> int:
        return sum(self.cost)

    # ------------------------------------------------------------------ low level
    def plan(self, a: int, bound: int) -> list[int] | None:
        """Space-time A* for agent ``a`` against the indexed paths (``a``'s own removed).

        Returns the shortest collision-free path that arrives for good before ``bound``
        (arrival time < bound), or None.
        """
        start, goal = self.starts[a], self.goals[a]
        h = self._h(a)
        occ, park, nbrs = self.occ, self.park, self.nbrs
        og = occ[goal]
        t_free = (max(og) + 1) if og else 0     # goal visited by others until t_free - 1
        V = len(nbrs)
        if h[start] >= bound:
            return None
        heap = [(max(int(h[start]), t_free), int(h[start]), 0, start)]
        parent: dict[int, int] = {start: -1}    # key t * V + v
        push, pop = heapq.heappush, heapq.heappop
        expansions = 0
        limit = min(self.max_expansions, 8 * bound + 500)
        while heap:
            f, _, negt, v = pop(heap)
            t = -negt
            if v == goal and t >= t_free:
                key = t * V + v
                path = []
                while key != -1:
                    path.append(key % V)
                    key = parent[key]
                path.reverse()
                return path
            expansions += 1
            if expansions > limit:
                return None
            t1 = t + 1
            ov = occ[v]
            for u in nbrs[v]:
                key = t1 * V + u
                if key in parent:
                    continue
                hu = h[u]
                if t1 + hu >= bound or park[u] <= t1:
                    continue
                ou = occ[u]
                if t1 in ou:
                    continue
                b = ou.get(t)
                if b is not None and ov.get(t1) == b:
                    continue                      # swap with b
                parent[key] = t * V + v
                push(heap, (t1 + hu if t1 + hu > t_free else t_free, hu, -t1, u))
            # wait
            key = t1 * V + v
            if key not in parent and t1 + h[v] < bound and t1 not in ov and park[v] > t1:
                parent[key] = t * V + v
                hv = h[v]
                push(heap, (t1 + hv if t1 + hv > t_free else t_free, hv, -t1, v))
        return None

    # ------------------------------------------------------------------ neighbourhoods
    def _agent_based(self) -> list[int]:
        n, rng = self.n, self.rng
        delays = [c - l for c, l in zip(self.cost, self.lb)]
        # a few random draws, keep the most delayed (cheap weighted choice)
        cands = [rng.randrange(n) for _ in range(8)]
        a = max(cands, key=lambda x: delays[x])
        if delays[a] == 0:
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

    def _random(self) -> list[int]:
        return self.rng.sample(range(self.n), min(self.k, self.n))

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
        weights = [1.0, 1.0]
        since = 0
        now = time.perf_counter
        while now() < deadline:
            r = self.rng.random() * (weights[0] + weights[1])
            kind = 0 if r < weights[0] else 1
            group = self._agent_based() if kind == 0 else self._random()
            gain = self.step(group)
            self.iterations += 1
            weights[kind] = 0.9 * weights[kind] + 0.1 * max(gain, 0.05)
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

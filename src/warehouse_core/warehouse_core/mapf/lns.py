"""Anytime improvement of a one-shot MAPF solution by large-neighbourhood search (LNS).

MAPF-LNS style (Li et al., IJCAI 2021): repeatedly pick a small *neighbourhood* of agents,
delete their paths, replan them one by one (random order) against the paths of everybody else
(prioritized planning), and keep the new paths only if the neighbourhood's sum of costs went
down (otherwise restore the old ones). Every accepted step keeps the whole solution
collision-free, so the search can be stopped at any time and never loses a solution.

Neighbourhoods: *agent-based* (an agent with a large delay plus the agents that stand on its
individual shortest path around the time it would pass), *goal passers* (a delayed agent plus
the agents that visit its goal after it could have arrived: while they pass it cannot park;
on a prioritized-planning solution at 1000 agents on warehouse-10-20 this kind gained twice
as much per second as agent-based), *intersection-based* (agents passing a random junction and
the cells around it, as in Li et al.) and *random*, each in sizes 2, 4 and 8; the choice among
these arms adapts to the cost reduction per second each has recently produced (ALNS weights).
Larger neighbourhoods (16, 32) were tried and gave less per second in Python.

The paths and the occupancy index are a :class:`~warehouse_core.mapf.plan_index.PlanIndex`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import numpy as np

from warehouse_core.mapf.plan_index import NO_PARK, PlanIndex

_SIZES = (2, 4, 8)  # neighbourhood sizes the adaptive choice picks from


class LnsRefiner(PlanIndex):
    """Holds the current solution and the occupancy index; :meth:`run` improves it in place."""

    def __init__(self, nbrs: list[list[int]], drows: Sequence[Sequence[int]], starts: Sequence[int],
                 goals: Sequence[int], paths: list[list[int]] | None, seed: int = 0,
                 neighbourhood: int = 8, max_expansions: int = 5_000) -> None:
        super().__init__(nbrs, drows, starts, goals, max_expansions)
        # None: nobody planned yet (an empty path is an agent outside the index)
        self.paths = [list(p) for p in paths] if paths is not None else [[] for _ in goals]
        self.rng = random.Random(seed)
        self.k = neighbourhood  # size of the next neighbourhood (run() adapts it)
        self._crossings: list[int] | None = None
        self.delay_samples = 8  # agent-based neighbourhoods: the most delayed of this many draws
        for a, p in enumerate(self.paths):
            if p:
                self.insert(a, p)
        self.cost = [len(p) - 1 for p in self.paths]
        self.lb = [int(drows[a][self.starts[a]]) for a in range(self.n)]
        self.iterations = 0
        self.accepted = 0
        self.bumps = 0  # agents bumped while building a prioritized solution
        self.fallbacks = 0  # agents that kept their fallback path there

    @property
    def sum_of_costs(self) -> int:
        return sum(self.cost)

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
        h = self.distances(a)
        nbrs, occ, park = self.nbrs, self.occ, self.park
        t = 0
        goal = self.goals[a]
        hits: list[int] = []
        while True:
            for dt in (0, 1, -1):
                b = occ[v].get(t + dt)
                if b is not None and b != a:
                    hits.append(b)
            if park[v] != NO_PARK:
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
            self.remove(a, paths[a])
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
            self.insert(a, p)
        new_cost = sum(len(p) - 1 for p in new.values())
        if ok and new_cost < old_cost:
            for a, p in new.items():
                paths[a] = p
                cost[a] = len(p) - 1
            return old_cost - new_cost
        for a, p in new.items():
            self.remove(a, p)
        for a in group:
            self.insert(a, old[a])
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

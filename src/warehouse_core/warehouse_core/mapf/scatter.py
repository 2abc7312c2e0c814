"""Congestion-spread guide paths for PIBT ("space utilization optimization").

Idea (Han and Yu, ICRA 2022, "Optimizing space utilization for more effective multi-robot path
planning"; used as "scatter" by LaCAM3, Okumura, AAMAS 2024): before the search, give every agent
a *guide path* that is nearly shortest but meets few other guide paths, and let PIBT prefer
the next cell of the agent's guide path. In dense warehouse instances shortest paths pile into
the same aisles in both directions; PIBT, following plain distance-to-goal, then pushes agents
head-on into each other and the first solution is several times the lower bound. Spreading
the guide paths over parallel aisles removes much of that contention.

Guide paths are computed one agent at a time (random order, a few rounds, each agent replanned
against the current paths of all others) by A* over vertices with time = steps (no waits):
the cost is lexicographic, (collisions with the other guide paths, length), where a collision
is another path at the same (vertex, time), a path crossing the same edge the other way at the
same time, or another agent already parked at the vertex; a path may be at most ``margin``
steps longer than the shortest. Rounds stop when the total collision count stops going down,
at the deadline, or after ``max_rounds``.

Output: ``nxt[i, v]`` = the vertex after ``v`` on agent ``i``'s guide path, -1 off the path
(see :class:`~warehouse_core.mapf.pibt.PibtGenerator`, ``guide``).
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Sequence

import numpy as np

_NEVER = 1 << 60


class GuidePaths:
    """Guide paths of all agents and their space-time usage counts (see module docstring)."""

    def __init__(self, nbrs: list[list[int]], drows: Sequence[Sequence[int]], starts: Sequence[int],
                 goals: Sequence[int], margin: int = 4, seed: int = 0) -> None:
        self.nbrs = nbrs
        self.drows = drows
        self.starts = list(starts)
        self.goals = list(goals)
        self.n = len(self.starts)
        self.V = len(nbrs)
        self.margin = margin
        self.rng = random.Random(seed)
        self.paths: list[list[int]] = [[] for _ in range(self.n)]
        self.collisions = [0] * self.n   # each path's collisions with the others (after a round)
        self._vc: dict[int, int] = {}    # t * V + v -> paths at v at t
        self._ec: dict[int, int] = {}    # (t * V + v) * V + u -> paths moving v -> u at t
        self._park = [_NEVER] * self.V   # arrival time of the agent whose guide path ends at v
        self.rounds = 0

    def _apply(self, p: list[int], d: int) -> None:
        V, vc, ec = self.V, self._vc, self._ec
        for t, v in enumerate(p):
            k = t * V + v
            vc[k] = vc.get(k, 0) + d
            if t + 1 < len(p):
                e = k * V + p[t + 1]
                ec[e] = ec.get(e, 0) + d
        self._park[p[-1]] = len(p) - 1 if d > 0 else _NEVER

    def collisions_of(self, a: int) -> int:
        """Collisions of ``a``'s indexed path with the other indexed paths (same measure as
        :meth:`plan`)."""
        p = self.paths[a]
        self._apply(p, -1)
        c = self._count(p)
        self._apply(p, 1)
        return c

    def _count(self, p: list[int]) -> int:
        """Collisions of path ``p`` (not in the index) with the indexed paths."""
        V, vc, ec, park = self.V, self._vc, self._ec, self._park
        c = 0
        for t in range(1, len(p)):
            v, u = p[t - 1], p[t]
            c += vc.get(t * V + u, 0) + ec.get(((t - 1) * V + u) * V + v, 0) + (park[u] <= t)
        return c

    def plan(self, a: int) -> tuple[list[int], int]:
        """Fewest-collision path of ``a`` (no waits, at most ``margin`` over shortest), and its
        collision count against the other indexed paths."""
        V, vc, ec, park, nbrs = self.V, self._vc, self._ec, self._park, self.nbrs
        h = self.drows[a]
        start, goal = self.starts[a], self.goals[a]
        ub = int(h[start]) + self.margin
        parent: dict[int, int] = {}
        heap = [(0, int(h[start]), 0, start, -1)]
        pop, push = heapq.heappop, heapq.heappush
        tie = random.Random(self.rng.random()).random
        while heap:
            c, _, g, v, par = pop(heap)
            if v in parent:
                continue
            parent[v] = par
            if v == goal:
                path = [v]
                while parent[v] != -1:
                    v = parent[v]
                    path.append(v)
                path.reverse()
                return path, c
            g1 = g + 1
            for u in nbrs[v]:
                if u in parent or u == start:
                    continue
                hu = h[u]
                if g1 + hu > ub:
                    continue
                cu = c + vc.get(g1 * V + u, 0) + ec.get((g * V + u) * V + v, 0) + (park[u] <= g1)
                push(heap, (cu, g1 + hu + tie() * 0.5, g1, u, v))
        # vertices are closed at their first (fewest-collision) visit, which can, rarely, cut
        # every way to the goal within the margin: fall back to a shortest path
        path = [start]
        v = start
        while v != goal:
            v = min(nbrs[v], key=h.__getitem__)
            path.append(v)
        return path, self._count(path)

    def build(self, deadline: float, max_rounds: int = 4) -> int:
        """Plan rounds until the collision total stops going down (then the previous round's
        paths are kept; the usage counts are not restored), ``max_rounds`` or ``deadline``;
        returns the collision total kept (the last one counted when stopped by the deadline)."""
        now = time.perf_counter
        last = _NEVER
        best_paths: list[list[int]] | None = None
        order = list(range(self.n))
        while self.rounds < max_rounds and now() < deadline:
            self.rng.shuffle(order)
            for a in order:
                if now() >= deadline:
                    return sum(self.collisions)
                if self.paths[a]:
                    self._apply(self.paths[a], -1)
                p, c = self.plan(a)
                self.paths[a] = p
                self.collisions[a] = c
                self._apply(p, 1)
            self.rounds += 1
            # each path against all the others (during the round, early paths saw only some)
            self.collisions = [self.collisions_of(a) for a in range(self.n)]
            total = sum(self.collisions)
            if total >= last:
                self.paths = best_paths  # type: ignore[assignment]
                return last
            last = total
            best_paths = [list(p) for p in self.paths]
            if total == 0:
                break
        return last

    def next_table(self) -> np.ndarray:
        """``nxt[i, v]``: the vertex after ``v`` on agent ``i``'s guide path, -1 elsewhere
        (shape n x V; agents without a guide path have a row of -1)."""
        nxt = np.full((self.n, self.V), -1, dtype=np.int32)
        for i, p in enumerate(self.paths):
            if len(p) > 1:
                nxt[i, p[:-1]] = p[1:]
        return nxt

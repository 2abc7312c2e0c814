"""A near-shortest first solution by collision repair (MAPF-LNS2 style), for LNS to refine.

In the spirit of MAPF-LNS2 (Li, Chen, Harabor, Stuckey, Koenig, AAAI 2022): build a plan
with few conflicts cheaply, then repeatedly replan a small neighbourhood of agents around a
conflict, keeping the change only if the conflict count does not go up, until none is left.
Here the conflict count is the number of agents *without* a path: the agents with a path are
kept collision-free among themselves in :class:`~warehouse_core.mapf.lns.LnsRefiner`'s
occupancy index (so its SIPP low level is reused as is), and an agent whose path would collide
is left unplanned.

1. Prioritized planning (SIPP) in random order; an agent SIPP cannot fit within its bound and
   expansion budget is left unplanned.
2. Repair step for one unplanned agent ``a``: its *least-collisions* path (fewest occupied
   (vertex, time) pairs, waits and detours up to a slack allowed; a dynamic programme over time
   layers, vectorised over all vertices with a dense occupancy count) is taken; the agents it
   collides with (``blockers``) are unplanned and replanned with SIPP one by one in random
   order. The result is kept if no more agents are unplanned than before (equal counts too:
   LNS2 accepts sideways moves, which lets the search walk across plateaus), else restored.

Paths stay close to shortest (every path is a bounded SIPP path or within a slack of shortest),
unlike PIBT's, which is what the cost refinement after it needs. Unlike
:mod:`warehouse_core.mapf.prioritized` (bumping without an acceptance test), the number of
unplanned agents never grows, so the search cannot cascade -- but it can stall; the caller then
finishes with bumping (see ``solve_lacam``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from warehouse_core.mapf.lns import LnsRefiner


class RepairRefiner(LnsRefiner):
    """:class:`LnsRefiner` plus a dense occupancy count ``O[t, v]`` (agents at ``v`` at ``t``,
    parked agents from their arrival on) for the collision-minimising search
    :meth:`least_collisions_path`. Paths longer than ``horizon`` steps are not indexed densely
    (the sparse index stays exact); call :meth:`drop_dense` before LNS to save the upkeep.
    """

    def __init__(self, nbrs: list[list[int]], nb5: np.ndarray, dist: np.ndarray, starts: Sequence[int],
                 goals: Sequence[int], horizon: int, seed: int = 0) -> None:
        self.dense: np.ndarray | None = np.zeros((horizon, len(nbrs)), dtype=np.int16)
        self.nb5 = nb5
        self.dist = dist
        super().__init__(nbrs, _rows(dist), starts, goals, None, seed=seed)
        self.np_rng = np.random.default_rng(seed)
        self.initial_unplanned = 0  # agents prioritized planning left unplanned
        self.repair_steps = 0
        self.repair_accepted = 0

    def drop_dense(self) -> None:
        self.dense = None

    def _insert(self, a: int, p: list[int]) -> None:
        super()._insert(a, p)
        O = self.dense
        if O is not None:
            k = min(len(p), O.shape[0])
            O[np.arange(k), p[:k]] += 1
            O[k:, p[-1]] += 1

    def _remove(self, a: int, p: list[int]) -> None:
        super()._remove(a, p)
        O = self.dense
        if O is not None:
            k = min(len(p), O.shape[0])
            O[np.arange(k), p[:k]] -= 1
            O[k:, p[-1]] -= 1

    def least_collisions_path(self, a: int, slack: int) -> list[int]:
        """A path of ``a`` arriving by ``shortest + slack`` that meets the fewest indexed agents.

        Dynamic programming over time layers, vectorised over all vertices: ``C[v]`` = the fewest
        occupied (vertex, time) pairs on a way to ``v`` at time ``t`` (waits allowed, states
        that cannot reach the goal in time pruned by the distance table); at the goal, the
        visits of others after the arrival are added. Fewest collisions first, then earliest
        arrival; ties broken randomly. A move ``w -> v`` while ``v`` is occupied before and ``w``
        after counts as one more (a swap if it is the same agent; the dense count cannot tell).
        """
        O = self.dense
        assert O is not None
        h = self.dist[a].astype(np.int32)
        start, goal = self.starts[a], self.goals[a]
        d = int(h[start])
        T = min(d + slack, O.shape[0] - 1)
        nb5 = self.nb5
        V1 = nb5.shape[0]
        big = np.int32(1 << 20)
        cost = np.full(V1, big, dtype=np.int32)
        cost[start] = 0
        occupied = (O[:T + 1] > 0)
        # visits of the goal after t (anyone passing there once a has arrived for good)
        later = np.cumsum(occupied[::-1, goal])[::-1].astype(np.int32)
        parents = []
        best = (int(big), -1)
        noise = self.np_rng.random((T + 1, nb5.shape[1])) < 0.5
        rows = np.arange(V1)
        for t in range(1, T + 1):
            # moving w -> v while someone is at v before and at w after: (probably) a swap
            swaps = occupied[t - 1][:, None] & occupied[t][nb5]
            swaps[:, 0] = False
            cand = (cost[nb5] + swaps) * 2 + noise[t]  # random tie-break among equal counts
            k = cand.argmin(axis=1)
            cost = (cand[rows, k] >> 1) + occupied[t]
            cost[t + h > T] = big
            cost[V1 - 1] = big
            parents.append(nb5[rows, k])
            if cost[goal] < big:
                c = int(cost[goal]) + (int(later[t + 1]) if t + 1 <= T else 0)
                if c < best[0]:
                    best = (c, t)
        t_end = best[1]
        path = [goal]
        v = goal
        for t in range(t_end, 0, -1):
            v = int(parents[t - 1][v])
            path.append(v)
        path.reverse()
        return path


def _rows(dist: np.ndarray) -> list:
    return [row.tolist() for row in dist]


def repair_plan(ref: RepairRefiner, deadline: float, max_expansions: int = 20_000, factor: int = 3,
                slack: int = 60, max_blockers: int = 16, wait_slack: int = 30,
                order: Sequence[int] | None = None, give_up: float = 1.0) -> bool:
    """Give every agent of ``ref`` a path (all collision-free) or stop at ``deadline``.

    ``ref`` must start with no paths (``LnsRefiner(..., paths=None)``). A path may be at most
    ``factor`` times the agent's shortest length plus ``slack``; a SIPP call expands at most
    ``max_expansions`` nodes; a relaxed path that collides with more than ``max_blockers``
    agents is not tried. Returns True when every agent has a path (``ref.cost`` is then up to
    date); False at the deadline (``ref`` then holds a partial, collision-free plan).
    ``order``: the prioritized planning order (default random). ``give_up``: return False as soon as
    prioritized planning has left more than this share of the agents unplanned.
    Statistics go to ``ref.repair_steps`` / ``ref.repair_accepted`` / ``ref.initial_unplanned``.
    """
    n = ref.n
    rng = ref.rng
    paths = ref.paths
    lb = ref.lb
    now = time.perf_counter
    bound = [factor * lb[a] + slack for a in range(n)]
    if order is None:
        order = list(range(n))
        rng.shuffle(order)
    unplanned: list[int] = []
    for a in order:
        if now() >= deadline:
            return False
        p = ref.plan(a, bound[a], max_expansions)
        if p is None:
            unplanned.append(a)
            if len(unplanned) > give_up * n:
                ref.initial_unplanned = len(unplanned)
                return False
        else:
            paths[a] = p
            ref._insert(a, p)
    ref.initial_unplanned = len(unplanned)
    ref.repair_steps = 0
    ref.repair_accepted = 0
    while unplanned:
        if now() >= deadline:
            return False
        ref.repair_steps += 1
        i = rng.randrange(len(unplanned))
        a = unplanned[i]
        p = ref.least_collisions_path(a, wait_slack)
        group = sorted(ref.blockers(a, p))
        if not group:
            paths[a] = p
            ref._insert(a, p)
            unplanned[i] = unplanned[-1]
            unplanned.pop()
            ref.repair_accepted += 1
            continue
        if len(group) > max_blockers:
            continue
        old = {b: paths[b] for b in group}
        for b in group:
            ref._remove(b, paths[b])
            paths[b] = []
        paths[a] = p
        ref._insert(a, p)
        rng.shuffle(group)
        failed: list[int] = []
        for b in group:
            q = ref.plan(b, bound[b], max_expansions) if len(failed) <= 1 else None
            if q is None:
                failed.append(b)
            else:
                paths[b] = q
                ref._insert(b, q)
        if len(failed) <= 1:
            # a is planned; at most one of the group took its place among the unplanned
            if failed:
                unplanned[i] = failed[0]
            else:
                unplanned[i] = unplanned[-1]
                unplanned.pop()
            ref.repair_accepted += 1
            continue
        # worse: restore
        for b in group:
            if paths[b]:
                ref._remove(b, paths[b])
        ref._remove(a, p)
        paths[a] = []
        for b in group:
            paths[b] = old[b]
            ref._insert(b, old[b])
    ref.cost = [len(p) - 1 for p in paths]
    return True

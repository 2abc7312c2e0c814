"""Prioritized planning with conflict-driven bumping: a short first solution for LNS to refine.

Plain prioritized planning (PP: agents one by one, each with SIPP against the paths of the
agents before it) gives near-shortest paths, but in dense warehouse instances it fails for
some agents: agents planned earlier park on their goals and wall later agents in (one-wide
aisles), or run over a later agent's start while it is boxed in. Here a failure does not end
the attempt: the failed agent is planned once more with parked agents ignored (or, if that
fails too, along a shortest path ignoring everybody), the agents that path collides with are
*bumped* (their paths deleted, they go back to the front of the queue) and the path is kept.
Because a bumped agent is replanned against the path that bumped it, it gives way (typically
it arrives later or takes another aisle). The loop ends when every agent has a path (success)
or at the deadline / bump budget (failure; the caller keeps the solution it had).

This is in the spirit of MAPF-LNS2's collision repair (Li et al., AAAI 2022), simplified: a
path is never stored with collisions; instead the agents it would collide with are unplanned.
"""

from __future__ import annotations

import time
from collections import deque

from warehouse_core.mapf.lns import LnsRefiner


def shortest_path(ref: LnsRefiner, a: int) -> list[int]:
    """One shortest path of agent ``a`` ignoring everybody (random tie-breaking)."""
    h = ref.distances(a)
    v, goal = ref.starts[a], ref.goals[a]
    path = [v]
    rng = ref.rng
    while v != goal:
        better = [u for u in ref.nbrs[v] if h[u] < h[v]]
        v = better[rng.randrange(len(better))]
        path.append(v)
    return path


def plan_all(ref: LnsRefiner, deadline: float, fallback: list[list[int]] | None = None,
             max_expansions: int = 200_000, max_bumps: int | None = None, slack: int = 200,
             factor: int = 4) -> bool:
    """Give every agent of ``ref`` without a path (empty list) one, in random order.

    Returns True when all agents have collision-free paths (then ``ref.cost`` is up to date);
    False at ``deadline`` (perf_counter) or after ``max_bumps`` bumps (default 20 per agent),
    leaving some agents without a path. An agent's path may be at most four times its
    shortest length plus ``slack`` before the agents in the way are bumped.

    ``fallback``: a known collision-free solution (e.g. LaCAM's). An agent that fails a second
    time takes its fallback path for good; fallback paths never collide with each other, so
    they bump only agents planned here, and the loop ends after at most ``n`` such failures.
    Without it, a failed agent takes a shortest path (no termination guarantee beyond the
    bump budget).
    """
    n = ref.n
    order = [a for a in range(n) if not ref.paths[a]]
    ref.rng.shuffle(order)
    queue = deque(order)
    budget = 20 * n if max_bumps is None else max_bumps
    now = time.perf_counter
    paths = ref.paths
    failures = [0] * n
    fixed = [False] * n
    while queue:
        if now() >= deadline or ref.bumps > budget:
            return False
        a = queue.popleft()
        bound = factor * ref.lb[a] + slack
        p = ref.plan(a, bound, max_expansions)
        if p is None:
            failures[a] += 1
            if fallback is None or failures[a] == 1:
                p = ref.plan(a, bound, max_expansions, ignore_parked=True)
                if p is not None and any(fixed[b] for b in ref.blockers(a, p)):
                    p = None
            if p is None:
                if fallback is not None:
                    p = list(fallback[a])
                    fixed[a] = True
                    ref.fallbacks += 1
                else:
                    p = shortest_path(ref, a)
            for b in sorted(ref.blockers(a, p)):
                ref.remove(b, paths[b])
                paths[b] = []
                queue.appendleft(b)
                ref.bumps += 1
        paths[a] = p
        ref.insert(a, p)
    ref.cost = [len(p) - 1 for p in paths]
    return True

"""Joint steps of the collision repair: when it stalls, replan an agent with the agents around it.

Step 3 of :mod:`warehouse_core.mapf.repair`: the last few unplanned agents often take turns to
be unplanned; then ``a``, its blockers, the agents in the aisle of its start early on and the
agents parking in or passing through the aisle of its goal are replanned together in a few
orders (``a`` and the deepest goals first, then the agents that failed first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from warehouse_core.mapf.repair import RepairRefiner

JOINT_RADIUS = 4  # a joint step takes in the agents passing up to (random) this close to a's goal
JOINT_MAX = 32  # agents in a joint step at most
JOINT_START_STEPS = 8  # ... with the agents in the aisle of a's start before this step
JOINT_ORDERS = 6  # planning orders a joint step tries


def joint_group(ref: RepairRefiner, a: int, blockers: list[int]) -> list[int]:
    """The agents a joint step replans besides ``a``: its ``blockers``, the agents in the aisle of
    its start early on, then (up to ``JOINT_MAX`` in all) the agents parking in or near the aisle
    of its goal and those passing there."""
    rng, paths, D, goals, occ = ref.rng, ref.paths, ref.dist, ref.goals, ref.occ
    seen = {a, *blockers}
    core = list(blockers)
    start = ref.starts[a]
    for v in ref.aisle(start):
        for t in range(JOINT_START_STEPS):
            b = occ[v].get(t)
            if b is not None and b not in seen and paths[b]:
                seen.add(b)
                core.append(b)
    # the agents parking in the aisle of a's goal (up to the junctions at its ends) or near the
    # goals of a and its blockers: the order they arrive in decides who can reach their goal;
    # then the agents passing through there (they keep a from arriving)
    radius = rng.randint(1, JOINT_RADIUS)
    region = ref.aisle(goals[a])
    frontier = [goals[a]]
    for _ in range(radius):
        frontier = [u for v in frontier for u in ref.nbrs[v] if u not in region]
        region.update(frontier)
    owner = ref.goal_owner()
    parking = [owner[v] for v in region if owner[v] >= 0 and owner[v] not in seen]
    for b in [a, *blockers]:
        parking.extend(c for c in np.flatnonzero(D[:, goals[b]] <= radius).tolist() if c not in seen)
    near = list(dict.fromkeys(parking))
    rng.shuffle(near)
    passing = sorted({b for v in region for b in occ[v].values() if b not in seen and paths[b]} - set(near))
    rng.shuffle(passing)
    near += passing
    return core + near[:max(0, JOINT_MAX - 1 - len(core))]


def joint_step(ref: RepairRefiner, a: int, blockers: list[int], bound, max_expansions: int) -> bool:
    """Replan ``a`` (unplanned), its ``blockers``, the agents in the aisle of its start early on,
    the agents parking in or near the aisle of its goal and those passing there, with SIPP in up
    to ``JOINT_ORDERS`` orders: ``a`` first, then the deepest goals first; after that the agents
    that failed move to the front. Keeps the first result with fewer agents unplanned among them
    than before (the last order: no more), else restores. True when kept."""
    rng, paths, goals = ref.rng, ref.paths, ref.goals
    others = joint_group(ref, a, blockers)
    old = {b: paths[b] for b in others if paths[b]}
    allowed = len(others) - len(old)  # fewer failures than unplanned among a and the others
    for b in old:
        ref.remove(b, paths[b])
        paths[b] = []
    depth = ref.goal_depth()
    # deepest goals first: in a one-wide aisle the agent parking farthest from the junctions has
    # to arrive before its neighbours wall it in; a first (it has waited longest)
    rng.shuffle(others)
    others.sort(key=lambda b: -depth[goals[b]])
    order = [a, *others]
    for k in range(JOINT_ORDERS):
        placed: list[int] = []
        failed: list[int] = []
        # the last order may also end sideways (one agent unplanned for another, like the plain
        # step): the walk goes on from there instead of retrying the same agent forever
        limit = allowed + 1 if k == JOINT_ORDERS - 1 else allowed
        for b in order:
            q = ref.plan(b, bound(b), max_expansions)
            if q is None:
                failed.append(b)
                if len(failed) > limit:
                    break
            else:
                paths[b] = q
                ref.insert(b, q)
                placed.append(b)
        failures = len(failed)
        if failures <= limit:
            return True
        for b in placed:
            ref.remove(b, paths[b])
            paths[b] = []
        # next order: the agents that failed go first (prioritized planning with restarts)
        order = failed + [b for b in order if b not in failed]
    for b, q in old.items():
        paths[b] = q
        ref.insert(b, q)
    return False

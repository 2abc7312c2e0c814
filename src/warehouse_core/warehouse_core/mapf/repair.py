"""A near-shortest first solution by collision repair (MAPF-LNS2 style), for LNS to refine.

In the spirit of MAPF-LNS2 (Li, Chen, Harabor, Stuckey, Koenig, AAAI 2022): build a plan
with few conflicts cheaply, then repeatedly replan a small neighbourhood of agents around a
conflict, keeping the change only if the conflict count does not go up, until none is left.
Here the conflict count is the number of agents *without* a path: the agents with a path are
kept collision-free among themselves in :class:`~warehouse_core.mapf.lns.LnsRefiner`'s
occupancy index (so its SIPP low level is reused as is), and an agent whose path would collide
is left unplanned.

1. Prioritized planning (SIPP) in random order; an agent SIPP cannot fit within its bound and
   expansion budget is left unplanned. An agent whose goal agents planned before it still pass
   after it could have parked there first tries the *passers step*: it is planned on time and
   those passers (up to ``PASSERS_MAX``) are replanned round it; if one of them fails, the
   agent may arrive after the last of them (the bound allows that). On warehouse-10-20 at 1000
   agents the passers step brought the prioritized solution from 1.49 to 1.32 x LB.
   An agent without a path *holds* its start for the first ``HOLD_START`` + 1 steps, so agents
   planned before it do not drive through it at once (it could not get out of their way).
2. Repair step for one unplanned agent ``a``: its *least-collisions* path (fewest occupied
   (vertex, time) pairs, waits and detours up to a slack allowed; a dynamic programme over time
   layers, vectorised over all vertices with a dense occupancy count) is taken; the agents it
   collides with (``blockers``) are unplanned and replanned with SIPP one by one in random
   order. The result is kept if no more agents are unplanned than before (equal counts too:
   LNS2 accepts sideways moves, which lets the search walk across plateaus), else restored.
3. When that stalls (the last few agents take turns to be unplanned), *joint steps*: ``a``, its
   blockers, the agents in the aisle of its start early on and the agents parking in or passing
   through the aisle of its goal are replanned together in a few orders (``a`` and the deepest
   goals first, then the agents that failed first); see :mod:`warehouse_core.mapf.joint_step`.

Paths stay close to shortest (every path is a bounded SIPP path or within a slack of shortest),
unlike PIBT's, which is what the cost refinement after it needs. Unlike
:mod:`warehouse_core.mapf.prioritized` (bumping without an acceptance test), the number of
unplanned agents never grows, so the search cannot cascade -- but it can stall; the caller then
tries bumping from a copy of the plan (see ``solve_lacam``, :func:`restore_paths`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from warehouse_core.mapf.joint_step import joint_step
from warehouse_core.mapf.lns import LnsRefiner

HOLD_START = 2  # an agent without a path holds its start for this many steps after 0
PASSERS_SLACK = 40  # passers step: the agents visiting a's goal this long after a could arrive
PASSERS_MAX = 4  # ... at most this many of them
PASSERS_EXPANSIONS = 2_000  # SIPP expansions per replanned passer (most that fail, fail late)


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
        self.repair_joint = 0  # accepted joint steps
        self.hold_steps = HOLD_START
        self._depth: list[int] | None = None
        self._owner: list[int] | None = None
        self._held: dict[int, list[int]] = {}
        for a in range(self.n):
            self.hold(a)

    def hold(self, a: int) -> None:
        """Reserve ``a``'s start for the first ``hold_steps`` + 1 steps while it has no path."""
        if self.hold_steps <= 0 or a in self._held:
            return
        v = self.starts[a]
        occ_v = self.occ[v]
        held = [t for t in range(self.hold_steps + 1) if t not in occ_v]
        for t in held:
            occ_v[t] = a
        self._held[a] = held
        self.occupancy_changed(v)
        O = self.dense
        if O is not None and held:
            O[held, v] += 1

    def release(self, a: int) -> None:
        held = self._held.pop(a, None)
        if held is None:
            return
        v = self.starts[a]
        occ_v = self.occ[v]
        for t in held:
            if occ_v.get(t) == a:
                del occ_v[t]
        self.occupancy_changed(v)
        O = self.dense
        if O is not None and held:
            O[held, v] -= 1

    def plan(self, a: int, bound: int, max_expansions: int | None = None,
             ignore_parked: bool = False) -> list[int] | None:
        self.release(a)
        p = super().plan(a, bound, max_expansions, ignore_parked)
        if p is None and not self.paths[a]:
            self.hold(a)
        return p

    def blockers(self, a: int, path: list[int]) -> set[int]:
        return {b for b in super().blockers(a, path) if self.paths[b]}

    def goal_depth(self) -> list[int]:
        """Per vertex: steps to the nearest junction (a vertex with three or more neighbours)."""
        if self._depth is None:
            nbrs = self.nbrs
            depth = [-1] * len(nbrs)
            frontier = [v for v, nb in enumerate(nbrs) if len(nb) >= 3]
            for v in frontier:
                depth[v] = 0
            d = 0
            while frontier:
                d += 1
                nxt = []
                for v in frontier:
                    for u in nbrs[v]:
                        if depth[u] < 0:
                            depth[u] = d
                            nxt.append(u)
                frontier = nxt
            self._depth = [max(x, 0) for x in depth]
        return self._depth

    def aisle(self, v: int) -> set[int]:
        """The one-wide aisle through ``v`` (cells with at most two neighbours), with the
        junctions at its ends; just ``v`` and its neighbours at a junction."""
        nbrs = self.nbrs
        out = {v, *nbrs[v]}
        if len(nbrs[v]) > 2:
            return out
        frontier = list(nbrs[v])
        while frontier:
            u = frontier.pop()
            if len(nbrs[u]) > 2:
                continue
            for w in nbrs[u]:
                if w not in out:
                    out.add(w)
                    frontier.append(w)
        return out

    def goal_owner(self) -> list[int]:
        """Per vertex: the agent whose goal it is, or -1."""
        if self._owner is None:
            self._owner = [-1] * len(self.nbrs)
            for a, g in enumerate(self.goals):
                self._owner[g] = a
        return self._owner

    def goal_free_from(self, a: int) -> int:
        """The first time from which nobody in the index visits ``a``'s goal any more."""
        return self.free_from(self.goals[a])

    def drop_dense(self) -> None:
        for a in list(self._held):
            self.release(a)
        self.hold_steps = 0
        self.dense = None

    def insert(self, a: int, p: list[int]) -> None:
        self.release(a)
        super().insert(a, p)
        O = self.dense
        if O is not None:
            k = min(len(p), O.shape[0])
            O[np.arange(k), p[:k]] += 1
            O[k:, p[-1]] += 1

    def remove(self, a: int, p: list[int]) -> None:
        super().remove(a, p)
        O = self.dense
        if O is not None:
            k = min(len(p), O.shape[0])
            O[np.arange(k), p[:k]] -= 1
            O[k:, p[-1]] -= 1
        self.hold(a)

    def least_collisions_path(self, a: int, slack: int) -> list[int]:
        """A path of ``a`` arriving by ``shortest + slack`` (or just after the last visit of its
        goal by others, if that is later) that meets the fewest indexed agents.

        Dynamic programming over time layers, vectorised over all vertices: ``C[v]`` = the fewest
        occupied (vertex, time) pairs on a way to ``v`` at time ``t`` (waits allowed, states
        that cannot reach the goal in time pruned by the distance table); at the goal, the
        visits of others after the arrival are added. Fewest collisions first, then earliest
        arrival; ties broken randomly. A move ``w -> v`` while ``v`` is occupied before and ``w``
        after counts as one more (a swap if it is the same agent; the dense count cannot tell).
        """
        O = self.dense
        assert O is not None
        self.release(a)
        try:
            return self._least_collisions_path(a, slack, O)
        finally:
            if not self.paths[a]:
                self.hold(a)

    def _least_collisions_path(self, a: int, slack: int, O: np.ndarray) -> list[int]:
        h = self.dist[a].astype(np.int32)
        start, goal = self.starts[a], self.goals[a]
        d = int(h[start])
        # a goal others still pass late (in a one-wide aisle, say) is worth arriving at after them
        visits = np.flatnonzero(O[:, goal])
        last = int(visits[-1]) + 1 if len(visits) and visits[-1] < O.shape[0] - 1 else 0
        T = min(max(d + slack, last), O.shape[0] - 1)
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
                order: Sequence[int] | None = None, give_up: float = 1.0,
                escalate: int | None = None, stall: tuple[int, float] | None = None,
                stop_at: int = 0) -> bool:
    """Give every agent of ``ref`` a path (all collision-free) or stop at ``deadline``.

    Agents of ``ref`` that already have a path keep it (a later call resumes an earlier one). A
    path may be at most ``factor`` times the agent's shortest length plus ``slack`` (or arrive up
    to that long after the last visit of its goal by others); a SIPP call expands at most
    ``max_expansions`` nodes; a relaxed path that collides with more than ``max_blockers``
    agents is not tried. Returns True when every agent has a path (``ref.cost`` is then up to
    date); False at the deadline (``ref`` then holds a partial, collision-free plan).
    ``order``: the prioritized planning order of the agents without a path (default random).
    ``give_up``: return False as soon as prioritized planning has left more than this share of
    the agents unplanned. ``escalate``: after that many steps without fewer agents unplanned
    than ever before, use joint steps (:func:`~warehouse_core.mapf.joint_step.joint_step`).
    ``stall`` ``(steps, share)``: return False after that many such steps if at most ``share``
    of the agents are unplanned.
    ``stop_at``: return False as soon as at most that many agents are unplanned (but some).
    Statistics go to ``ref.repair_steps`` / ``ref.repair_accepted`` / ``ref.repair_joint`` /
    ``ref.initial_unplanned``. The repair loop (steps 2 and 3 of the module docstring) is kept
    whole here on purpose: its acceptance and stall rules read best in one place.
    """
    n = ref.n
    rng = ref.rng
    paths = ref.paths
    lb = ref.lb
    now = time.perf_counter
    base = [factor * lb[a] + slack for a in range(n)]

    def bound(a: int) -> int:
        # late enough to arrive after the last agent passing the goal: a goal in a one-wide aisle
        # that others use late made SIPP fail within factor * lb + slack (most agents prioritized
        # planning left unplanned at 1000 agents on warehouse-10-20 had short paths to such goals)
        return max(base[a], ref.goal_free_from(a) + lb[a] + slack)

    if order is None:
        order = [a for a in range(n) if not paths[a]]
        rng.shuffle(order)
    unplanned = _prioritized_pass(ref, order, deadline, base, bound, max_expansions, give_up)
    if unplanned is None:
        return False
    fewest, fewest_at = len(unplanned), ref.repair_steps
    while unplanned:
        if now() >= deadline:
            return False
        if len(unplanned) < fewest:
            fewest, fewest_at = len(unplanned), ref.repair_steps
        stalled = ref.repair_steps - fewest_at
        if stall is not None and stalled >= stall[0] and len(unplanned) <= stall[1] * n:
            return False
        if len(unplanned) <= stop_at:
            return False
        ref.repair_steps += 1
        i = rng.randrange(len(unplanned))
        a = unplanned[i]
        p = ref.least_collisions_path(a, wait_slack)
        group = sorted(ref.blockers(a, p))
        if not group:
            paths[a] = p
            ref.insert(a, p)
            unplanned[i] = unplanned[-1]
            unplanned.pop()
            ref.repair_accepted += 1
            continue
        if len(group) > max_blockers:
            continue
        if escalate is not None and stalled >= escalate:
            # stalled (the last few agents take turns to be unplanned): replan a, its blockers
            # and the agents around its start and goal together
            if joint_step(ref, a, group, bound, max_expansions):
                unplanned[:] = [b for b in range(n) if not paths[b]]
                ref.repair_joint += 1
            continue
        failed = _replan_blockers(ref, a, p, group, bound, max_expansions)
        if failed is None:
            continue
        # a is planned; at most one of the group took its place among the unplanned
        if failed:
            unplanned[i] = failed[0]
        else:
            unplanned[i] = unplanned[-1]
            unplanned.pop()
        ref.repair_accepted += 1
    ref.cost = [len(p) - 1 for p in paths]
    return True


def _prioritized_pass(ref: RepairRefiner, order: Sequence[int], deadline: float, base: list[int], bound,
                      max_expansions: int, give_up: float) -> list[int] | None:
    """Prioritized planning of the agents in ``order`` (step 1 of the module docstring): the
    agents left unplanned, or None at ``deadline`` or once more than ``give_up`` of them are."""
    unplanned: list[int] = []
    lb, paths = ref.lb, ref.paths
    for a in order:
        if time.perf_counter() >= deadline:
            return None
        # when agents planned before pass the goal after a could arrive: on time if they can
        # go round, late (after the last of them) only if not
        if ref.goal_free_from(a) > lb[a] + PASSERS_SLACK and _passers_step(ref, a, base[a], bound,
                                                                           max_expansions):
            continue
        p = ref.plan(a, bound(a), max_expansions)
        if p is None:
            unplanned.append(a)
            if len(unplanned) > give_up * ref.n:
                ref.initial_unplanned = len(unplanned)
                return None
        else:
            paths[a] = p
            ref.insert(a, p)
    ref.initial_unplanned = len(unplanned)
    return unplanned


def _replan_blockers(ref: RepairRefiner, a: int, p: list[int], group: list[int], bound,
                     max_expansions: int) -> list[int] | None:
    """The repair step (step 2 of the module docstring): ``a`` (unplanned) takes ``p``, its
    blockers ``group`` are replanned in random order. Kept if at most one of them failed (the
    failed ones are returned), else everything is restored (None)."""
    paths = ref.paths
    old = {b: paths[b] for b in group}
    for b in group:
        ref.remove(b, paths[b])
        paths[b] = []
    paths[a] = p
    ref.insert(a, p)
    ref.rng.shuffle(group)
    failed: list[int] = []
    for b in group:
        q = ref.plan(b, bound(b), max_expansions) if len(failed) <= 1 else None
        if q is None:
            failed.append(b)
        else:
            paths[b] = q
            ref.insert(b, q)
    if len(failed) <= 1:
        return failed
    for b in group:
        if paths[b]:
            ref.remove(b, paths[b])
    ref.remove(a, p)
    paths[a] = []
    for b in group:
        paths[b] = old[b]
        ref.insert(b, old[b])
    return None


def _passers_step(ref: RepairRefiner, a: int, a_bound: int, bound, max_expansions: int) -> bool:
    """Plan ``a`` (unplanned) within ``a_bound`` after taking out the agents that visit its goal
    after ``lb + PASSERS_SLACK`` (at most ``PASSERS_MAX``), then replan those. Keeps the result
    if all of them found a path, else restores. True when kept.

    Prioritized planning leaves an agent unplanned when agents planned before it pass its goal
    late (a goal in a one-wide aisle on a through route); arriving after the last of them
    costs it the wait, while the passers can often go round at a small cost (warehouse-10-20,
    1000 agents, random-1: the prioritized pass at 1.322 x LB instead of 1.494)."""
    paths = ref.paths
    after = ref.lb[a] + PASSERS_SLACK
    passers = sorted({b for t, b in ref.occ[ref.goals[a]].items() if t >= after and b != a and paths[b]})
    if not passers or len(passers) > PASSERS_MAX:
        return False
    old = {b: paths[b] for b in passers}
    for b in passers:
        ref.remove(b, paths[b])
        paths[b] = []
    p = ref.plan(a, a_bound, max_expansions)
    if p is not None:
        paths[a] = p
        ref.insert(a, p)
        done = []
        for b in passers:
            q = ref.plan(b, bound(b), PASSERS_EXPANSIONS)
            if q is None:
                break
            paths[b] = q
            ref.insert(b, q)
            done.append(b)
        else:
            return True
        for b in done:
            ref.remove(b, paths[b])
            paths[b] = []
        ref.remove(a, p)
        paths[a] = []
    for b, q in old.items():
        paths[b] = q
        ref.insert(b, q)
    return False


def restore_paths(ref: RepairRefiner, saved: list[list[int]]) -> None:
    """Put ``ref`` back to the plan ``saved`` (a copy of ``ref.paths`` taken before)."""
    paths = ref.paths
    changed = [a for a in range(ref.n) if paths[a] is not saved[a]]
    for a in changed:
        if paths[a]:
            ref.remove(a, paths[a])
            paths[a] = []
    for a in changed:
        if saved[a]:
            paths[a] = saved[a]
            ref.insert(a, saved[a])

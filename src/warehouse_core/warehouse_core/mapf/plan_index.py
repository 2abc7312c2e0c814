"""The plan index of the one-shot refiners: who is where when, and SIPP against it.

Representation: paths are lists of vertex ids (see :class:`~warehouse_core.mapf.pibt.Graph`),
``path[t]`` the vertex at time ``t``, ending at the agent's final arrival at its goal, where the
agent stays forever. Occupancy: ``occ[v]`` maps time -> agent for every (t, v) on a path
(including the arrival step) and ``park[v]`` is the arrival time of the agent that ends at ``v``
(goals are distinct, so at most one).


Low level: SIPP (safe-interval path planning, Phillips and Likhachev, ICRA 2011) over the
occupancy index: a search node is a (vertex, safe interval) pair reached at its earliest time,
so waiting for a crossing agent costs one node instead of one node per waited step. The safe
intervals of a vertex are built from its occupancy on demand and cached until a path through
it is inserted or removed. The replanning bound (an agent may only use what is left of the
neighbourhood's old cost) prunes the search.

:class:`PlanIndex` is the public API the refiners (:mod:`warehouse_core.mapf.lns`,
:mod:`warehouse_core.mapf.repair`, :mod:`warehouse_core.mapf.prioritized`) share: :meth:`~PlanIndex.insert`
and :meth:`~PlanIndex.remove` a path, :meth:`~PlanIndex.plan` one agent against the others,
:meth:`~PlanIndex.blockers` of a path, :meth:`~PlanIndex.free_from` of a vertex.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

NO_PARK = 1 << 60  # ``park[v]`` of a vertex nobody ends at (and the open end of a safe interval)
_ALWAYS_FREE = ((0, NO_PARK),)  # the safe intervals of a vertex nobody visits


class PlanIndex:
    """Occupancy of the agents' paths (``occ[v]``: time -> agent; ``park[v]``: arrival time of the
    agent that ends at ``v``) and SIPP for one agent against it."""

    def __init__(self, nbrs: list[list[int]], drows: Sequence[Sequence[int]], starts: Sequence[int],
                 goals: Sequence[int], max_expansions: int = 5_000) -> None:
        self.nbrs = nbrs
        self._drows = drows
        self._hcache: dict[int, list[int]] = {}
        self.starts = list(starts)
        self.goals = list(goals)
        self.n = len(goals)
        self.max_expansions = max_expansions
        V = len(nbrs)
        self.occ: list[dict[int, int]] = [dict() for _ in range(V)]
        self.park = [NO_PARK] * V
        self._iv: dict[int, list[tuple[int, int]]] = {}
        self._iv_moving: dict[int, list[tuple[int, int]]] = {}

    def distances(self, a: int) -> list[int]:
        """``a``'s distance row (to its goal) as a Python list."""
        row = self._drows[a]
        if isinstance(row, list):
            return row
        h = self._hcache.get(a)
        if h is None:
            if len(self._hcache) > 256:
                self._hcache.clear()
            h = self._hcache[a] = row.tolist()
        return h

    def insert(self, a: int, p: list[int]) -> None:
        """Add ``a``'s path ``p`` to the index (it parks at its last vertex)."""
        occ = self.occ
        iv, ivm = self._iv, self._iv_moving
        for t, v in enumerate(p):
            occ[v][t] = a
            iv.pop(v, None)
            ivm.pop(v, None)
        self.park[p[-1]] = len(p) - 1

    def remove(self, a: int, p: list[int]) -> None:
        """Take ``a``'s path ``p`` (as inserted) out of the index."""
        occ = self.occ
        iv, ivm = self._iv, self._iv_moving
        for t, v in enumerate(p):
            del occ[v][t]
            iv.pop(v, None)
            ivm.pop(v, None)
        self.park[p[-1]] = NO_PARK

    def occupancy_changed(self, v: int) -> None:
        """``occ[v]`` was changed directly (not by :meth:`insert` / :meth:`remove`): drop the
        safe intervals cached for ``v``."""
        self._iv.pop(v, None)
        self._iv_moving.pop(v, None)

    def free_from(self, v: int) -> int:
        """The first time from which nobody in the index visits ``v`` any more."""
        iv = self._intervals(v)
        return iv[-1][0] if iv and iv[-1][1] == NO_PARK else 0

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
            iv = self._iv_moving[v] = self._make_intervals(v, NO_PARK, self.park[v])
        return iv

    def _make_intervals(self, v: int, park: int, ignore_from: int = NO_PARK) -> list[tuple[int, int]]:
        occ_v = self.occ[v]
        if not occ_v:
            return list(_ALWAYS_FREE) if park == NO_PARK else ([(0, park - 1)] if park > 0 else [])
        lo = 0
        iv = []
        stop = park if park < ignore_from else ignore_from
        for t in sorted(occ_v):
            if t >= stop:
                break
            if t > lo:
                iv.append((lo, t - 1))
            lo = t + 1
        end = park - 1 if park != NO_PARK else NO_PARK
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
        :meth:`blockers`). The search loop is kept whole on purpose: it is the hot loop of every
        refiner and reads locals only.
        """
        start, goal = self.starts[a], self.goals[a]
        h = self.distances(a)
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
        t_free = g_iv[-1][0] if g_iv and g_iv[-1][1] == NO_PARK else bound
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
            if v == goal and hi == NO_PARK:
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

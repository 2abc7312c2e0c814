"""Baseline for lifelong MAPF: windowed prioritized planning (RHCR-style, Li et al. AAAI 2021,
with PP as the windowed solver).

Every ``replan_every`` (h) steps all agents are replanned in priority order (oldest goal
first) by space-time A* over a window of ``window`` (w >= h) steps: conflicts with the
agents planned earlier are avoided inside the window (vertex, swap, rotation; following is
allowed as in :mod:`warehouse_core.mapf.lifelong`), beyond it they are ignored. An agent that
reaches its goal inside the window parks there until the window ends. Between full replans,
an agent that gets a new goal is planned at once against the others' reservations, up to the
end of the current window (so finishing early does not waste the rest of the period, which
RHCR gets from goal sequences). An agent whose search fails waits.

Until an agent is planned, its current cell is reserved for the whole window (agents planned
earlier route around it), so every agent can always wait and plans never conflict; execution
still goes through a small safety pass that would turn a conflicting move into a wait
(counted as ``forced_waits``; it stays 0 unless reservations go stale). Same task sources,
statistics and step contract as :class:`~warehouse_core.mapf.lifelong.LifelongPibt`.

Known weakness (measured, see benchmarks/RESULTS.md, "Lifelong MAPF"): with a short window,
two agents that need to pass each other in a one-wide aisle each stop next to the other at
the window end, every window again; agents queueing for one station do the same. Such
agents never reach their goals.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence

import numpy as np

from warehouse_core.mapf.guidance import NO_GUIDANCE, DistanceOracle, GuidanceConfig, GuidedGraph
from warehouse_core.mapf.lifelong import Arrival, Goal, LifelongStats, StepResult, TaskSource, run_planner
from warehouse_core.maps.grid import Grid

__all__ = ["WindowedPP"]


class WindowedPP:
    """Windowed prioritized planning with space-time A*; cells are flat indices."""

    def __init__(self, grid: Grid, starts: Sequence[int], tasks: TaskSource | None = None, *,
                 storage_mask: np.ndarray | None = None, window: int = 10, replan_every: int = 5,
                 guidance: GuidanceConfig = NO_GUIDANCE, seed: int = 0,
                 max_expansions: int = 4000, order: str = "age") -> None:
        if not 1 <= replan_every <= window:
            raise ValueError("need 1 <= replan_every <= window")
        self.graph = g = GuidedGraph(grid, storage_mask, guidance)
        self.tasks = tasks
        self.window, self.h = window, replan_every
        self.max_expansions = max_expansions
        if order not in ("age", "random"):
            raise ValueError("order must be 'age' or 'random'")
        self.order = order
        n = self.n = len(starts)
        self.rng = np.random.default_rng(seed)
        self.pos: list[int] = [g.vid(int(c)) for c in starts]
        if len(set(self.pos)) != n:
            raise ValueError("start cells must be distinct")
        self.oracle = DistanceOracle(g, min_slots=n + 4)
        self.goal: list[Goal | None] = [None] * n
        self.goal_v: list[int] = [-1] * n
        self.slot: list[int] = [-1] * n
        self.loaded: list[bool] = [False] * n
        self.dwell: list[int] = [0] * n
        self.assigned_at: list[int] = [0] * n
        self.tiebreak = self.rng.random(n)
        self.t = 0
        self.plan_t0: list[int] = [0] * n           # plan[i][k] = vid at time plan_t0[i] + k
        self.plan: list[list[int]] = [[v] for v in self.pos]
        self.res: dict[tuple[int, int], int] = {}   # (time, vid) -> agent
        self.res_keys: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        self.window_end = 0
        self.planned: list[bool] = [True] * n
        self.forced_waits = 0
        self.failed_searches = 0
        self.searches = 0

    # -- goals ---------------------------------------------------------------------------
    def set_goal(self, agent: int, goal: Goal | None) -> None:
        if self.slot[agent] >= 0:
            self.oracle.release(self.slot[agent])
            self.slot[agent] = -1
        self.goal[agent] = goal
        if goal is None:
            self.goal_v[agent] = -1
            self.loaded[agent] = False
            return
        v = self.graph.vid(goal.cell)
        self.goal_v[agent] = v
        self.loaded[agent] = goal.loaded
        self.slot[agent] = self.oracle.acquire(v, goal.loaded)
        self.assigned_at[agent] = self.t

    def open_ages(self) -> list[int]:
        return [self.t - self.assigned_at[i] for i in range(self.n) if self.goal[i] is not None]

    @property
    def cells(self) -> np.ndarray:
        return self.graph.cell_of[np.asarray(self.pos, dtype=np.int64)]

    # -- reservations --------------------------------------------------------------------
    def _unreserve(self, i: int) -> None:
        res = self.res
        for key in self.res_keys[i]:
            if res.get(key) == i:
                del res[key]
        self.res_keys[i] = []

    def _reserve(self, i: int, t0: int, path: list[int]) -> None:
        res, keys = self.res, self.res_keys[i]
        for k, v in enumerate(path):
            key = (t0 + k, v)
            if key not in res:
                res[key] = i
                keys.append(key)
        self.plan_t0[i] = t0
        self.plan[i] = path

    def _at(self, z: int, t: int) -> int:
        """Planned vid of agent ``z`` at time ``t`` (its last planned cell after its plan)."""
        p = self.plan[z]
        k = t - self.plan_t0[z]
        return p[k] if 0 <= k < len(p) else p[-1]

    # -- space-time A* -------------------------------------------------------------------
    def _search(self, i: int, t0: int, t_end: int) -> list[int] | None:
        """Space-time A* from the agent's cell at ``t0`` until ``t_end`` (the window end).

        With a goal: ends when the goal is reached and free until ``t_end``, or at ``t_end``.
        Without a goal: finds the nearest cell where the agent can stay until ``t_end`` (it
        gets out of the way of the agents planned before it).
        """
        self.searches += 1
        start = self.pos[i]
        goal = self.goal_v[i]
        if t_end <= t0:
            return None
        row = self.oracle.store[self.slot[i]] if goal >= 0 else None
        nbrs = self.graph.nbrs
        is_storage = self.graph.is_storage
        loaded = self.loaded[i]
        res = self.res
        at = self._at
        n = self.n
        planned = self.planned

        def h(v: int) -> float:
            if row is None:
                return 0.0
            x = row[v]
            return float(x) if np.isfinite(x) else 1e6

        def may_enter(v: int, u: int, tau: int) -> bool:
            tn = tau + 1
            other = res.get((tn, u))
            if other is not None and other != i:
                return False
            y = res.get((tau, u))
            if y is None or y == i or u == v:
                return True
            if not planned[y]:
                return False    # do not count on an agent that is not planned yet moving away
            z = y   # walk the followers' chain: a swap or rotation returns to v
            for _ in range(n):
                c = at(z, tn)
                if c == v:
                    return False
                if c == at(z, tau):
                    return True
                z2 = res.get((tau, c))
                if z2 is None or z2 == i:
                    return True
                z = z2
            return False

        def can_park(v: int, tau: int) -> bool:
            for s in range(tau + 1, t_end + 1):
                other = res.get((s, v))
                if other is not None and other != i:
                    return False
            return True

        nodes: list[tuple[int, int, int]] = [(start, t0, -1)]
        heap = [(h(start), -t0, 0)]
        closed: set[tuple[int, int]] = set()
        expansions = 0
        while heap:
            _, _, ni = heapq.heappop(heap)
            v, tau, _ = nodes[ni]
            if (v, tau) in closed:
                continue
            closed.add((v, tau))
            expansions += 1
            if expansions > self.max_expansions:
                return None
            if tau == t_end or ((v == goal or goal < 0) and can_park(v, tau)):
                path = []
                while ni >= 0:
                    path.append(nodes[ni][0])
                    ni = nodes[ni][2]
                path.reverse()
                path.extend([v] * (t_end - tau))
                return path
            for u in (v, *nbrs[v]):
                if u != v and loaded and is_storage[u] and u != goal:
                    continue
                if (u, tau + 1) in closed or not may_enter(v, u, tau):
                    continue
                if u == goal and not can_park(u, tau + 1):
                    continue    # passing the goal would count as arriving there
                nodes.append((u, tau + 1, ni))
                heapq.heappush(heap, (tau + 1 - t0 + h(u), -(tau + 1), len(nodes) - 1))
        return None

    def _plan_agent(self, i: int, t_end: int) -> None:
        self._unreserve(i)
        path = self._search(i, self.t, t_end) if self.dwell[i] == 0 else None
        if path is None:
            if self.goal[i] is not None and self.dwell[i] == 0:
                self.failed_searches += 1
            path = [self.pos[i]] * (t_end - self.t + 1)   # wait (idle, dwelling or failed)
        self._reserve(i, self.t, path)

    # -- stepping ------------------------------------------------------------------------
    def step(self) -> StepResult:
        t0 = time.perf_counter()
        n = self.n
        fresh: list[int] = []
        if self.tasks is not None:
            new = []
            for i in range(n):
                if self.goal[i] is None and self.dwell[i] == 0:
                    gl = self.tasks.assign(i, int(self.graph.cell_of[self.pos[i]]), self.t)
                    if gl is not None:
                        new.append((i, gl))
            if new:
                self.oracle.prefetch([(self.graph.vid(gl.cell), gl.loaded) for _, gl in new])
                for i, gl in new:
                    self.set_goal(i, gl)
                    fresh.append(i)
        if self.t % self.h == 0:
            self.res.clear()
            self.res_keys = [[] for _ in range(n)]
            self.window_end = self.t + self.window
            for i in range(n):   # until planned, an agent keeps its cell: it can always wait
                stay = [self.pos[i]] * (self.window_end - self.t + 1)
                self._reserve(i, self.t, stay)
            age = (self.t - np.asarray(self.assigned_at, dtype=np.float64) if self.order == "age"
                   else self.rng.random(n) * 1e6)
            prio = np.where([g is None for g in self.goal], -1.0, age) + self.tiebreak
            prio[np.asarray(self.dwell) > 0] = np.inf   # operating agents cannot move: first
            self.planned = [False] * n
            for i in np.argsort(-prio, kind="stable").tolist():
                self._plan_agent(i, self.window_end)
                self.planned[i] = True
        else:
            for i in fresh:
                self._plan_agent(i, self.window_end)
        planning_s = time.perf_counter() - t0
        # execute one step (with the safety pass)
        desired = [self.pos[i] if self.dwell[i] > 0 else self._at(i, self.t + 1) for i in range(n)]
        nxt = self._safe_moves(desired)
        prev = self.cells
        moving_loaded = np.array(self.loaded, dtype=bool)
        moving_goals = np.array([gl.cell if gl is not None else -1 for gl in self.goal], dtype=np.int64)
        for i in range(n):
            if nxt[i] != desired[i]:
                self.forced_waits += 1
                k = self.t - self.plan_t0[i]
                p = self.plan[i]
                if 0 <= k < len(p):   # fall one step behind the plan
                    self.plan[i] = p[:k + 1] + p[k:]
        self.pos = nxt
        arrivals = self._advance_goals(nxt)
        return StepResult(self.t, prev, self.cells, moving_loaded, moving_goals, arrivals, planning_s)

    def _advance_goals(self, q_to: list[int]) -> list[Arrival]:
        """One step on: count dwells down, report and clear the goals reached in ``q_to`` (the
        same bookkeeping as :class:`~warehouse_core.mapf.lifelong.LifelongPibt`)."""
        self.t += 1
        for i, d in enumerate(self.dwell):
            if d > 0:
                self.dwell[i] = d - 1
        arrivals: list[Arrival] = []
        for i, gl in enumerate(self.goal):
            if gl is not None and q_to[i] == self.goal_v[i]:
                arrivals.append(Arrival(i, gl, self.t, self.t - self.assigned_at[i]))
                self.set_goal(i, None)
                self.dwell[i] = gl.dwell
                if self.tasks is not None:
                    self.tasks.reached(i, gl, self.t)
        return arrivals

    def _safe_moves(self, desired: list[int]) -> list[int]:
        """Turn conflicting moves into waits until the step is vertex/swap/rotation free."""
        n = self.n
        pos = self.pos
        nxt = list(desired)
        at = {v: i for i, v in enumerate(pos)}
        changed = True
        while changed:
            changed = False
            claim: dict[int, int] = {}
            for i in range(n):   # stayers first: their cells are taken
                if nxt[i] == pos[i]:
                    claim[nxt[i]] = i
            for i in range(n):
                if nxt[i] == pos[i]:
                    continue
                j = at.get(nxt[i], -1)
                if nxt[i] in claim or (j != -1 and nxt[j] == pos[i]):
                    nxt[i] = pos[i]
                    changed = True
                    break
                claim[nxt[i]] = i
            if changed:
                continue
            for s in range(n):   # rotation: a cycle of movers entering each other's cells
                x, seen = s, []
                while nxt[x] != pos[x] and x not in seen and len(seen) <= n:
                    seen.append(x)
                    x = at.get(nxt[x], -1)
                    if x == -1:
                        break
                if x != -1 and x in seen:
                    for y in seen[seen.index(x):]:
                        nxt[y] = pos[y]
                    changed = True
                    break
        return nxt

    def run(self, steps: int, check: bool = False) -> LifelongStats:
        return run_planner(self, steps, check, lambda: {
            "forced_waits": self.forced_waits, "failed_searches": self.failed_searches,
            "searches": self.searches})

"""Lifelong MAPF for the running warehouse: guided PIBT, one configuration per step.

Robots get new goals as they finish; every :meth:`LifelongPibt.step` plans the next
configuration of the whole fleet with PIBT (priority inheritance with backtracking, Okumura
et al., AIJ 2022) and the swap refinement of LaCAM* (Okumura, IJCAI 2023); :meth:`window`
rolls it out a few steps ahead. The PIBT step is the one of the one-shot solver
(:func:`warehouse_core.mapf.pibt_core.make_pibt`), with rotations forbidden.

The swap refinement is applied only to agents that have not come closer to their goal for
``swap_after`` steps: in open lifelong traffic it costs throughput, in corridors it is what
lets two agents pass each other through a side pocket.

Per agent: its cell, an optional :class:`Goal` (flat cell, dwell steps on arrival, traversal
class), a dwell counter and a priority. Rules of one step:

* no vertex conflicts, no swaps;
* following is allowed (an agent may enter the cell its occupant leaves in the same step),
  but never a *rotation* (a cycle of followers a->b->c->a): when agent ``x`` considers the
  cell of agent ``y``, ``y``'s chain of decided moves is walked; if it returns to ``x`` the
  move is refused. Without rotations the cell-visit dependency graph of the plan is acyclic,
  which is what :class:`warehouse_core.fleet.execution.TrafficController` needs to execute it under
  any delays;
* a loaded agent (carrying a rack) never enters a storage cell other than its goal;
* a dwelling agent (doing an operation at its cell for ``k`` more steps) stays and cannot be
  pushed; agents without a goal are pushed aside as needed (lowest priority) and otherwise
  follow an optional *idle field* (e.g. park under the racks, off the aisles).

Priorities age: an agent's priority is the number of steps since its goal was assigned (plus
a fixed random fraction to break ties), so no agent with a goal is outranked forever.

Guidance (:mod:`warehouse_core.mapf.guidance`): candidate moves are ranked by the guided cost
to the goal on a one-way "crisscross" guidance graph (moves against the aisle convention cost
more, which separates opposite flows), then by a congestion heat (recent occupancy) and a
random term, both only among moves of equal guided cost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from warehouse_core.mapf.guidance import NO_GUIDANCE, DistanceOracle, GuidanceConfig, GuidedGraph
from warehouse_core.mapf.pibt_core import Pibt, make_pibt
from warehouse_core.mapf.swap import make_swap_partner
from warehouse_core.maps.grid import Grid

__all__ = ["Arrival", "Goal", "LifelongPibt", "LifelongStats", "StepResult", "TaskSource",
           "NO_GUIDANCE", "GuidanceConfig", "run_planner", "summarize", "validate_step"]

_STAY_BIG = 1e9
# goal age of an agent put first (:meth:`LifelongPibt.put_first`): more than any run reaches
FIRST_AGE = 1 << 30


@dataclass(frozen=True)
class Goal:
    """Drive to flat ``cell`` (as a loaded robot if ``loaded``), then stay ``dwell`` steps."""

    cell: int
    dwell: int = 0
    loaded: bool = False
    kind: str = "goal"


class TaskSource(Protocol):
    """Hands out goals. Agents without a goal are treated as unloaded."""

    def assign(self, agent: int, cell: int, step: int) -> Goal | None:
        """Next goal of idle ``agent`` standing on flat ``cell`` at ``step`` (None: stay idle)."""

    def reached(self, agent: int, goal: Goal, step: int) -> None:
        """``agent`` arrived at ``goal`` at ``step`` (its dwell starts now)."""


@dataclass(frozen=True)
class Arrival:
    agent: int
    goal: Goal
    step: int
    latency: int  # steps from assignment to arrival


@dataclass
class StepResult:
    """One planned step: ``prev`` -> ``cells`` (flat cells per agent) at time ``step``.

    ``loaded`` and ``goals`` (flat cell or -1) are each agent's traversal class and goal
    during the move (for :func:`validate_step`).
    """

    step: int
    prev: np.ndarray
    cells: np.ndarray
    loaded: np.ndarray
    goals: np.ndarray
    arrivals: list[Arrival]
    planning_s: float


@dataclass
class LifelongStats:
    steps: int
    agents: int
    goals_reached: int
    throughput: float          # goals per step
    planning_ms_p50: float
    planning_ms_p99: float
    planning_ms_mean: float
    planning_ms_max: float
    max_latency: int           # over reached goals
    mean_latency: float
    max_open_age: int          # oldest goal still open at the end (starvation check)
    extra: dict = field(default_factory=dict)


def summarize(steps: int, agents: int, plan_s: Sequence[float], latencies: Sequence[int],
              open_ages: Sequence[int], extra: dict | None = None) -> LifelongStats:
    ms = np.asarray(plan_s, dtype=np.float64) * 1e3
    lat = np.asarray(latencies, dtype=np.int64)
    return LifelongStats(
        steps=steps, agents=agents, goals_reached=int(lat.size),
        throughput=lat.size / steps if steps else 0.0,
        planning_ms_p50=float(np.percentile(ms, 50)) if ms.size else 0.0,
        planning_ms_p99=float(np.percentile(ms, 99)) if ms.size else 0.0,
        planning_ms_mean=float(ms.mean()) if ms.size else 0.0,
        planning_ms_max=float(ms.max()) if ms.size else 0.0,
        max_latency=int(lat.max()) if lat.size else 0,
        mean_latency=float(lat.mean()) if lat.size else 0.0,
        max_open_age=int(max(open_ages)) if len(open_ages) else 0,
        extra=dict(extra or {}))


class LifelongPibt:
    """Guided lifelong PIBT over a grid; cells are flat indices ``y * width + x``.

    ``starts``: distinct free cells. ``tasks``: where goals come from (see :class:`TaskSource`;
    goals can also be set with :meth:`set_goal`). ``storage_mask``: bool ``[h, w]``, cells a
    loaded agent may not enter except as its goal. ``idle_field``: float ``[h, w]`` that agents
    without a goal descend (None: they stay unless pushed). ``avoid_mask``: cells through traffic
    keeps off (:class:`GuidedGraph`). ``seed``: the only randomness.
    """

    def __init__(self, grid: Grid, starts: Sequence[int], tasks: TaskSource | None = None, *,
                 storage_mask: np.ndarray | None = None,
                 guidance: GuidanceConfig = GuidanceConfig(),
                 idle_field: np.ndarray | None = None, seed: int = 0, swap: bool = True,
                 swap_after: int = 2, avoid_mask: np.ndarray | None = None,
                 dwell: Sequence[int] | None = None) -> None:
        self.graph = g = GuidedGraph(grid, storage_mask, guidance, avoid_mask)
        self.guidance = guidance
        self.tasks = tasks
        self.swap = swap
        self.swap_after = swap_after
        n = self.n = len(starts)
        self.rng = np.random.default_rng(seed)
        self.pos: list[int] = [g.vid(int(c)) for c in starts]
        if len(set(self.pos)) != n:
            raise ValueError("start cells must be distinct")
        V = g.n_vertices
        self.oracle = DistanceOracle(g, min_slots=n + 4)
        idle = np.zeros(V + 1, dtype=np.float32)
        if idle_field is not None:
            idle[:V] = np.asarray(idle_field, dtype=np.float32).ravel()[g.cell_of]
        idle[V] = np.inf
        self._idle_slot = self.oracle.fixed_row(idle)
        self._goal: list[Goal | None] = [None] * n
        self._goal_v: list[int] = [-1] * n
        self._loaded: list[bool] = [False] * n
        self._dwell: list[int] = list(dwell) if dwell is not None else [0] * n
        self._assigned_at: list[int] = [0] * n
        self._best: list[float] = [np.inf] * n        # lowest guided cost to the goal so far
        self._improved_at: list[int] = [0] * n        # when it was reached (stall detection)
        self.slot = np.full(n, self._idle_slot, dtype=np.int64)
        self.tiebreak = self.rng.random(n)
        self.heat = np.zeros(V + 1, dtype=np.float32)
        self.t = 0
        self._occ_now = [-1] * (V + 1)
        self._occ_next = [-1] * (V + 1)
        self._occ_next[V] = -2   # the sentinel is never enterable

    # -- state ---------------------------------------------------------------------------
    @property
    def cells(self) -> np.ndarray:
        """Current flat cell of every agent."""
        return self.graph.cell_of[np.asarray(self.pos, dtype=np.int64)]

    def set_goal(self, agent: int, goal: Goal | None, keep_age: bool = False) -> None:
        """Give ``agent`` a goal (None: idle). Its priority age restarts unless ``keep_age`` (the
        same errand, e.g. the next place in a line: it keeps the priority it has earned)."""
        old = int(self.slot[agent])
        if old != self._idle_slot:
            self.oracle.release(old)
        if goal is None:
            self._goal[agent], self._goal_v[agent] = None, -1
            self.slot[agent] = self._idle_slot
            self._loaded[agent] = False
            return
        v = self.graph.vid(goal.cell)
        self._goal[agent], self._goal_v[agent] = goal, v
        self._loaded[agent] = goal.loaded
        self.slot[agent] = self.oracle.acquire(v, goal.loaded)
        if not keep_age:
            self._assigned_at[agent] = self.t
        self._best[agent] = np.inf
        self._improved_at[agent] = self.t

    def open_ages(self) -> list[int]:
        """Steps since assignment of every goal still open."""
        return [self.t - self._assigned_at[i] for i in range(self.n) if self._goal[i] is not None]

    def goal_of(self, agent: int) -> Goal | None:
        """``agent``'s current goal (None: idle)."""
        return self._goal[agent]

    def dwell_left(self, agent: int) -> int:
        """Steps ``agent`` still stays where it is (an operation, or a hold)."""
        return self._dwell[agent]

    def set_dwell(self, agent: int, steps: int) -> None:
        """Keep ``agent`` where it is for the next ``steps`` steps (0: free to move again); a
        dwelling agent is never pushed."""
        self._dwell[agent] = steps

    def put_first(self, agent: int, rank: int) -> None:
        """Rank ``agent`` ahead of every agent with an ordinary goal age, until its next goal;
        among agents put first, a lower ``rank`` goes first."""
        self._assigned_at[agent] = -FIRST_AGE + rank

    # -- planning ------------------------------------------------------------------------
    def _assign(self) -> None:
        if self.tasks is None:
            return
        cells = self.graph.cell_of
        new: list[tuple[int, Goal]] = []
        for i in range(self.n):
            if self._goal[i] is None and self._dwell[i] == 0:
                goal = self.tasks.assign(i, int(cells[self.pos[i]]), self.t)
                if goal is not None:
                    new.append((i, goal))
        if new:
            self.oracle.prefetch([(self.graph.vid(gl.cell), gl.loaded) for _, gl in new])
            for i, gl in new:
                self.set_goal(i, gl)

    def _candidates(self) -> list[list[int]]:
        """Each agent's allowed next cells (itself and neighbours), best first."""
        g = self.graph
        P = np.asarray(self.pos, dtype=np.int64)
        C = g.nb5[P]
        K = self.oracle.store[self.slot[:, None], C].astype(np.float64)
        base_stay = K[:, 0].copy()
        cfg = self.guidance
        if cfg.heat > 0.0:
            K += cfg.heat * np.minimum(self.heat[C], 1.0)
        K += (0.98 - cfg.heat) * self.rng.random(C.shape)
        idle = self.slot == self._idle_slot
        if idle.any():                  # an idle agent keeps its place unless a move is better
            K[idle, 0] = base_stay[idle]
        stay = K[:, 0]
        K[:, 0] = np.where(np.isfinite(stay), stay, _STAY_BIG)   # staying is always allowed
        order = np.argsort(K, axis=1, kind="stable")
        Cs = np.take_along_axis(C, order, axis=1).tolist()
        cnt = np.isfinite(np.take_along_axis(K, order, axis=1)).sum(axis=1).tolist()
        return [row[:k] for row, k in zip(Cs, cnt)]

    def step(self) -> StepResult:
        """Plan the next configuration; goals reached in it are reported and replaced."""
        t0 = time.perf_counter()
        self._assign()
        n = self.n
        q_from = self.pos
        q_to = [-1] * n
        occ_now, occ_next = self._occ_now, self._occ_next
        for i, v in enumerate(q_from):
            occ_now[v] = i
        moving_loaded = np.array(self._loaded, dtype=bool)
        moving_goals = np.array([gl.cell if gl is not None else -1 for gl in self._goal], dtype=np.int64)
        for i in range(n):
            if self._dwell[i] > 0:
                q_to[i] = q_from[i]
                occ_next[q_from[i]] = i
        cands = self._candidates()
        prio = np.where(self.slot == self._idle_slot, -1.0,
                        self.t - np.asarray(self._assigned_at, dtype=np.float64)) + self.tiebreak
        pibt = self._make_pibt(q_from, q_to, cands)
        try:
            for i in np.argsort(-prio, kind="stable").tolist():
                if q_to[i] == -1:
                    pibt(i)
        finally:
            for v in q_from:
                occ_now[v] = -1
            for v in q_to:
                occ_next[v] = -1
            occ_next[self.graph.n_vertices] = -2
        prev = self.cells
        self.pos = q_to
        arrivals = self._advance_goals(q_to)
        here = self.oracle.store[self.slot, np.asarray(q_to, dtype=np.int64)].tolist()
        for i in range(n):
            if here[i] < self._best[i]:
                self._best[i] = here[i]
                self._improved_at[i] = self.t
        if self.guidance.heat > 0.0:
            r = self.guidance.heat_rate
            self.heat *= (1.0 - r)
            self.heat[np.asarray(q_to, dtype=np.int64)] += r
        cells = self.cells
        return StepResult(self.t, prev, cells, moving_loaded, moving_goals, arrivals,
                          time.perf_counter() - t0)

    def _advance_goals(self, q_to: list[int]) -> list[Arrival]:
        """One step on: count dwells down, report and clear the goals reached in ``q_to``."""
        self.t += 1
        dwell = self._dwell
        for i, d in enumerate(dwell):
            if d > 0:
                dwell[i] = d - 1
        arrivals: list[Arrival] = []
        for i, gl in enumerate(self._goal):
            if gl is not None and q_to[i] == self._goal_v[i]:
                arrivals.append(Arrival(i, gl, self.t, self.t - self._assigned_at[i]))
                self.set_goal(i, None)
                dwell[i] = gl.dwell
                if self.tasks is not None:
                    self.tasks.reached(i, gl, self.t)
        return arrivals

    def window(self, steps: int) -> list[StepResult]:
        """Roll the generator out ``steps`` steps (the planning window)."""
        return [self.step() for _ in range(steps)]

    def run(self, steps: int, check: bool = False) -> LifelongStats:
        """Plan ``steps`` steps; with ``check`` every step goes through :func:`validate_step`."""
        return run_planner(self, steps, check, lambda: {"tables": self.oracle.computed})

    def _make_pibt(self, q_from: list[int], q_to: list[int], cands: list[list[int]]) -> Pibt:
        nbrs, degree = self.graph.nbrs, self.graph.degree
        goals = self._goal_v
        loaded = self._loaded
        is_storage = self.graph.is_storage.tolist()
        store, slot = self.oracle.store, self.slot

        def can_enter(a: int, v: int) -> bool:
            return not (loaded[a] and is_storage[v] and v != goals[a])

        swap_partner = None
        may_swap = None
        if self.swap:
            swap_partner = make_swap_partner(nbrs, degree, self._occ_now, q_to, goals, lambda a: store[slot[a]],
                                             can_enter, skip_decided=True)
            may_swap = [self.t - a >= self.swap_after and g != -1 for a, g in zip(self._improved_at, goals)]
        return make_pibt(q_from, q_to, cands, self._occ_now, self._occ_next, degree, swap_partner, may_swap,
                         no_rotations=True, can_enter=can_enter)


# ------------------------------------------------------------------------------------------
# checking
# ------------------------------------------------------------------------------------------

def run_planner(planner, steps: int, check: bool, extra) -> LifelongStats:
    """Plan ``steps`` steps with a lifelong planner (``step``, ``graph``, ``n``, ``open_ages``);
    with ``check`` every step goes through :func:`validate_step`. ``extra()`` adds statistics."""
    plan_s: list[float] = []
    latencies: list[int] = []
    violations = 0
    storage_flat = np.zeros(planner.graph.grid.size, dtype=bool)
    storage_flat[planner.graph.cell_of[planner.graph.is_storage[:-1]]] = True
    for _ in range(steps):
        res = planner.step()
        plan_s.append(res.planning_s)
        latencies.extend(a.latency for a in res.arrivals)
        if check:
            violations += len(validate_step(planner.graph.grid, res, storage_flat))
    return summarize(steps, planner.n, plan_s, latencies, planner.open_ages(),
                     {"violations": violations, **extra()})


def validate_step(grid: Grid, res: StepResult, storage_flat: np.ndarray | None = None) -> list[str]:
    """Problems of one step: bad moves, vertex/swap conflicts, follower cycles, loaded agents
    entering foreign storage cells. Empty when the step is valid."""
    prev = res.prev.tolist()
    nxt = res.cells.tolist()
    n = len(prev)
    w = grid.width
    out: list[str] = []
    free = grid.free.ravel()
    for i in range(n):
        a, b = prev[i], nxt[i]
        if not free[b]:
            out.append(f"agent {i} on blocked cell {b}")
        if a != b and abs(a % w - b % w) + abs(a // w - b // w) != 1:
            out.append(f"agent {i} jumps {a}->{b}")
        if (storage_flat is not None and a != b and res.loaded[i] and storage_flat[b]
                and b != res.goals[i]):
            out.append(f"loaded agent {i} enters storage cell {b}")
    if len(set(nxt)) != n:
        dup = [c for c, k in Counter(nxt).items() if k > 1]
        out.append(f"vertex conflict on {dup[:5]}")
    at = {c: i for i, c in enumerate(prev)}
    follow = [-1] * n   # i enters the cell of follow[i], who moves too
    for i in range(n):
        if nxt[i] != prev[i]:
            j = at.get(nxt[i], -1)
            if j != -1:
                if nxt[j] == prev[i]:
                    out.append(f"swap between {i} and {j}")
                elif nxt[j] == prev[j]:
                    out.append(f"agent {i} enters the cell of staying agent {j}")
                else:
                    follow[i] = j
    state = [0] * n   # 0 new, 1 on current walk, 2 done
    for s in range(n):
        walk = []
        x = s
        while x != -1 and state[x] == 0:
            state[x] = 1
            walk.append(x)
            x = follow[x]
        if x != -1 and state[x] == 1:
            cyc = walk[walk.index(x):]
            if len(cyc) > 2:
                out.append(f"rotation {cyc[:6]}")
        for y in walk:
            state[y] = 2
    return out

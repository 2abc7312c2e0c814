"""Lifelong MAPF for the running warehouse: guided PIBT, one configuration per step.

Robots get new goals as they finish; every :meth:`LifelongPibt.step` plans the next
configuration of the whole fleet with PIBT (priority inheritance with backtracking, Okumura
et al., AIJ 2022) and the swap refinement of LaCAM* (Okumura, IJCAI 2023); :meth:`window`
rolls it out a few steps ahead. Own implementation (``mapf/pibt.py`` is the one-shot solver).

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

import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from warehouse_core.mapf.guidance import NO_GUIDANCE, DistanceOracle, GuidanceConfig, GuidedGraph
from warehouse_core.mapf.swap import make_swap_partner
from warehouse_core.maps.grid import Grid

__all__ = ["Arrival", "Goal", "LifelongPibt", "LifelongStats", "RandomGoals", "StepResult",
           "TaskSource", "WarehouseTasks", "NO_GUIDANCE", "GuidanceConfig", "summarize",
           "validate_step"]

_STAY_BIG = 1e9


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
                 swap_after: int = 2, avoid_mask: np.ndarray | None = None) -> None:
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
        self.goal: list[Goal | None] = [None] * n
        self.goal_v: list[int] = [-1] * n
        self.loaded: list[bool] = [False] * n
        self.dwell: list[int] = [0] * n
        self.assigned_at: list[int] = [0] * n
        self.best: list[float] = [np.inf] * n        # lowest guided cost to the goal so far
        self.improved_at: list[int] = [0] * n        # when it was reached (stall detection)
        self.slot = np.full(n, self._idle_slot, dtype=np.int64)
        self.tiebreak = self.rng.random(n)
        self.heat = np.zeros(V + 1, dtype=np.float32)
        self.t = 0
        self._occ_now = [-1] * (V + 1)
        self._occ_next = [-1] * (V + 1)
        self._occ_next[V] = -2   # the sentinel is never enterable
        if sys.getrecursionlimit() < n + 500:   # PIBT recursion is at most n deep
            sys.setrecursionlimit(2 * n + 1000)

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
            self.goal[agent], self.goal_v[agent] = None, -1
            self.slot[agent] = self._idle_slot
            self.loaded[agent] = False
            return
        v = self.graph.vid(goal.cell)
        self.goal[agent], self.goal_v[agent] = goal, v
        self.loaded[agent] = goal.loaded
        self.slot[agent] = self.oracle.acquire(v, goal.loaded)
        if not keep_age:
            self.assigned_at[agent] = self.t
        self.best[agent] = np.inf
        self.improved_at[agent] = self.t

    def open_ages(self) -> list[int]:
        """Steps since assignment of every goal still open."""
        return [self.t - self.assigned_at[i] for i in range(self.n) if self.goal[i] is not None]

    # -- planning ------------------------------------------------------------------------
    def _assign(self) -> None:
        if self.tasks is None:
            return
        cells = self.graph.cell_of
        new: list[tuple[int, Goal]] = []
        for i in range(self.n):
            if self.goal[i] is None and self.dwell[i] == 0:
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
        moving_loaded = np.array(self.loaded, dtype=bool)
        moving_goals = np.array([gl.cell if gl is not None else -1 for gl in self.goal], dtype=np.int64)
        for i in range(n):
            if self.dwell[i] > 0:
                q_to[i] = q_from[i]
                occ_next[q_from[i]] = i
        cands = self._candidates()
        prio = np.where(self.slot == self._idle_slot, -1.0,
                        self.t - np.asarray(self.assigned_at, dtype=np.float64)) + self.tiebreak
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
        arrivals = advance_goals(self, q_to)
        here = self.oracle.store[self.slot, np.asarray(q_to, dtype=np.int64)].tolist()
        for i in range(n):
            if here[i] < self.best[i]:
                self.best[i] = here[i]
                self.improved_at[i] = self.t
        if self.guidance.heat > 0.0:
            r = self.guidance.heat_rate
            self.heat *= (1.0 - r)
            self.heat[np.asarray(q_to, dtype=np.int64)] += r
        cells = self.cells
        return StepResult(self.t, prev, cells, moving_loaded, moving_goals, arrivals,
                          time.perf_counter() - t0)

    def window(self, steps: int) -> list[StepResult]:
        """Roll the generator out ``steps`` steps (the planning window)."""
        return [self.step() for _ in range(steps)]

    def run(self, steps: int, check: bool = False) -> LifelongStats:
        """Plan ``steps`` steps; with ``check`` every step goes through :func:`validate_step`."""
        return run_planner(self, steps, check, lambda: {"tables": self.oracle.computed})

    def _make_pibt(self, q_from: list[int], q_to: list[int], cands: list[list[int]]):
        occ_now, occ_next = self._occ_now, self._occ_next
        nbrs, degree = self.graph.nbrs, self.graph.degree
        goals = self.goal_v
        loaded = self.loaded
        is_storage = self.graph.is_storage.tolist()
        store, slot = self.oracle.store, self.slot
        use_swap = self.swap
        stalled = [self.t - a >= self.swap_after for a in self.improved_at]
        n = self.n

        def closes_cycle(x: int, y: int) -> bool:
            """Would ``x`` entering the cell of ``y`` close a rotation through decided moves?"""
            z = y
            for _ in range(n + 1):
                tz = q_to[z]
                if tz == -1 or tz == q_from[z]:
                    return False
                z = occ_now[tz]
                if z == -1:
                    return False
                if z == x:
                    return True
            return True

        def can_enter(a: int, v: int) -> bool:
            return not (loaded[a] and is_storage[v] and v != goals[a])

        swap_partner = make_swap_partner(nbrs, degree, occ_now, q_to, goals, lambda a: store[slot[a]],
                                         can_enter, skip_decided=True)

        def pibt(i: int) -> bool:
            v_i = q_from[i]
            C = cands[i]
            swapper = -1
            if use_swap and stalled[i] and goals[i] != -1 and C[0] != v_i:
                swapper = swap_partner(i, v_i, C[0])
                if swapper != -1:
                    C = C[::-1]
            for k, u in enumerate(C):
                if occ_next[u] != -1:
                    continue
                j = occ_now[u]
                if j != -1 and j != i and q_to[j] != -1 and closes_cycle(i, j):
                    continue                      # swap (2-cycle) or longer rotation
                q_to[i] = u
                occ_next[u] = i
                if j != -1 and j != i and q_to[j] == -1 and not pibt(j):
                    continue
                if (k == 0 and swapper != -1 and q_to[swapper] == -1 and occ_next[v_i] == -1
                        and can_enter(swapper, v_i) and not closes_cycle(swapper, i)):
                    q_to[swapper] = v_i           # pull the swap partner behind us
                    occ_next[v_i] = swapper
                return True
            q_to[i] = v_i
            occ_next[v_i] = i
            return False

        return pibt


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


def advance_goals(planner, q_to: list[int]) -> list[Arrival]:
    """One step on for a lifelong planner: count dwells down, report and clear reached goals.

    Shared by :class:`LifelongPibt` and the windowed baseline; ``planner`` has ``t``, ``dwell``,
    ``goal``, ``goal_v``, ``assigned_at``, ``tasks`` and ``set_goal``.
    """
    planner.t += 1
    for i, d in enumerate(planner.dwell):
        if d > 0:
            planner.dwell[i] = d - 1
    arrivals: list[Arrival] = []
    for i, gl in enumerate(planner.goal):
        if gl is not None and q_to[i] == planner.goal_v[i]:
            arrivals.append(Arrival(i, gl, planner.t, planner.t - planner.assigned_at[i]))
            planner.set_goal(i, None)
            planner.dwell[i] = gl.dwell
            if planner.tasks is not None:
                planner.tasks.reached(i, gl, planner.t)
    return arrivals


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


# ------------------------------------------------------------------------------------------
# task sources
# ------------------------------------------------------------------------------------------

class RandomGoals:
    """Lifelong MAPF benchmark tasks: each new goal is a uniformly random free cell."""

    def __init__(self, grid: Grid, seed: int = 0, dwell: int = 0) -> None:
        self.cells = np.flatnonzero(grid.free.ravel())
        self.rng = np.random.default_rng(seed)
        self.dwell = dwell

    def assign(self, agent: int, cell: int, step: int) -> Goal | None:
        c = int(self.cells[self.rng.integers(self.cells.size)])
        while c == cell:
            c = int(self.cells[self.rng.integers(self.cells.size)])
        return Goal(c, self.dwell, False, "goal")

    def reached(self, agent: int, goal: Goal, step: int) -> None:
        pass


@dataclass
class _Job:
    stage: str      # "lift", "pick", "drop"
    rack_cell: int  # where the rack was lifted
    station: int = -1
    drop: int = -1


class WarehouseTasks:
    """Goods-to-person tasks on a :class:`~warehouse_core.maps.layout.Layout`.

    A task: go to a rack's storage cell (unloaded; lift, ``lift`` steps), carry it to a
    station's pick cell (loaded; pick, ``pick`` steps), return it to a free storage cell
    (loaded; drop, ``drop`` steps). Each of the three is one goal. A rack is claimed by one
    robot at a time; a drop cell is claimed when the drop goal is handed out.

    Admission control, as a real goods-to-person system does it: a station takes at most
    ``per_station`` tasks between lift and pick (default: twice its queue length + 1); a new task
    goes to the least busy station (nearest on ties) and only while one has room, otherwise
    the robot stays idle. Without this, racks in flight pile up in front of the stations and
    loaded robots (which cannot step aside under racks) gridlock the aisles.
    """

    def __init__(self, layout, seed: int = 0, lift: int = 2, pick: int = 5, drop: int = 2,
                 per_station: int | None = None) -> None:
        w = layout.grid.width
        self.rng = np.random.default_rng(seed)
        self.lift, self.pick, self.drop = lift, pick, drop
        self.available: list[int] = [s.cell[1] * w + s.cell[0] for s in layout.storage if s.rack]
        self.free_storage: list[int] = [s.cell[1] * w + s.cell[0] for s in layout.storage if not s.rack]
        self.stations = [s.pick_cell[1] * w + s.pick_cell[0] for s in layout.stations]
        self.capacity = [2 * len(s.queue) + 1 if per_station is None else per_station
                         for s in layout.stations]
        self.station_load = [0] * len(self.stations)
        self.jobs: dict[int, _Job] = {}
        self.width = w
        self.done: Counter = Counter()

    @staticmethod
    def _pop_random(lst: list[int], rng: np.random.Generator) -> int:
        k = int(rng.integers(len(lst)))
        lst[k], lst[-1] = lst[-1], lst[k]
        return lst.pop()

    def _manhattan(self, a: int, b: int) -> int:
        w = self.width
        return abs(a % w - b % w) + abs(a // w - b // w)

    def assign(self, agent: int, cell: int, step: int) -> Goal | None:
        job = self.jobs.get(agent)
        if job is None:
            room = [k for k, ld in enumerate(self.station_load) if ld < self.capacity[k]]
            if not self.available or not room:
                return None
            rack = self._pop_random(self.available, self.rng)
            k = min(room, key=lambda s: (self.station_load[s], self._manhattan(self.stations[s], rack)))
            self.station_load[k] += 1
            self.jobs[agent] = _Job("lift", rack, station=k)
            return Goal(rack, self.lift, False, "lift")
        if job.stage == "pick":
            return Goal(self.stations[job.station], self.pick, True, "pick")
        if job.stage == "drop":
            if job.drop < 0:
                if not self.free_storage:
                    return None
                job.drop = self._pop_random(self.free_storage, self.rng)
            return Goal(job.drop, self.drop, True, "drop")
        raise AssertionError(job.stage)

    def reached(self, agent: int, goal: Goal, step: int) -> None:
        job = self.jobs[agent]
        self.done[goal.kind] += 1
        if job.stage == "lift":
            self.free_storage.append(job.rack_cell)
            job.stage = "pick"
        elif job.stage == "pick":
            self.station_load[job.station] -= 1
            job.stage = "drop"
        else:
            self.available.append(job.drop)
            del self.jobs[agent]

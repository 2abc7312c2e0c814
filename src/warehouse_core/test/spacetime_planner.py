"""Prioritized space-time A*: one robot's timed path through a sequence of targets (test helper).

The running fleet plans with lifelong PIBT (:mod:`warehouse_core.fleet.fleet_planner`); the
execution tests use this planner to commit paths one robot at a time, which exercises the
dependency-gated release of :class:`~warehouse_core.fleet.execution.TrafficController` on plans of
another kind.

The robot is planned against the :class:`~warehouse_core.fleet.reservations.ReservationTable` of
every path committed before it (prioritized planning). A task is a sequence of
:class:`Target` cells, each with a dwell (lift, pick, drop, charge time in steps); the path
ends on the last target, where the robot parks until its next task. Two traversal classes:
a robot carrying a rack may not pass under stored racks (cells in ``blocked_when_loaded``)
except the cell it is heading for.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from warehouse_core.fleet.execution import TrafficController
from warehouse_core.fleet.reservations import FOREVER, ReservationTable
from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.grid import Coord, Grid


@dataclass(frozen=True)
class Target:
    """Drive to ``cell`` (carrying a rack on the way if ``loaded``), then stay ``dwell`` steps."""

    cell: Coord
    dwell: int = 0
    loaded: bool = False


@dataclass(frozen=True)
class PlanResult:
    """A planned path (flat cell indices from ``start_step``) and where each target is reached."""

    cells: list[int]
    start_step: int
    arrivals: list[int]  # path index at which target k is reached
    expansions: int


class SpaceTimePlanner:
    """Plans one robot at a time against the committed reservations."""

    def __init__(self, grid: Grid, blocked_when_loaded: np.ndarray | None = None,
                 max_expansions: int = 60_000, slack_steps: int = 200) -> None:
        self.grid = grid
        self.dist = DistanceCache(grid, blocked_when_loaded)
        self.max_expansions = max_expansions
        self.slack_steps = slack_steps

    def plan(self, table: ReservationTable, agent: str, start: Coord, start_step: int,
             targets: list[Target]) -> PlanResult | None:
        """Path from ``start`` at ``start_step`` through ``targets``; None if none was found."""
        g = self.grid
        cur = g.index(start)
        if not table.is_free(cur, start_step, agent):
            return None
        for tg in targets:
            ti = g.index(tg.cell)
            if not g.is_free(tg.cell):
                return None
            if any(v.agent != agent and v.end == FOREVER for v in table.visits(ti)):
                return None  # another robot is parked there for good
        cells = [cur]
        arrivals: list[int] = []
        t = start_step
        expansions = 0
        for k, tg in enumerate(targets):
            last = k == len(targets) - 1
            seg = self._segment(table, agent, cur, t, g.index(tg.cell), tg.dwell, tg.loaded, last)
            if seg is None:
                return None
            path, n = seg
            expansions += n
            cells.extend(path[1:])
            arrivals.append(len(cells) - 1)
            cells.extend([cells[-1]] * tg.dwell)
            t = start_step + len(cells) - 1
            cur = cells[-1]
        if not targets:
            arrivals = []
        return PlanResult(cells, start_step, arrivals, expansions)

    def _segment(self, table: ReservationTable, agent: str, start: int, t0: int, goal: int,
                 dwell: int, loaded: bool, final: bool) -> tuple[list[int], int] | None:
        h = self.dist.table(goal, loaded)
        passable = self.dist.loaded_flat if loaded else self.dist.free_flat
        nbrs = self.dist.neighbors
        h_start = self.dist.distance(start, goal, loaded)
        if h_start < 0:
            return None
        horizon = t0 + 3 * h_start + self.slack_steps
        # node: (cell, t, parent index)
        nodes: list[tuple[int, int, int]] = [(start, t0, -1)]
        heap = [(h_start, 0, 0)]
        closed: set[tuple[int, int]] = set()
        expansions = 0
        while heap:
            _, _, ni = heapq.heappop(heap)
            cell, t, _ = nodes[ni]
            if (cell, t) in closed:
                continue
            closed.add((cell, t))
            expansions += 1
            if expansions > self.max_expansions:
                return None
            if cell == goal and self._can_stay(table, agent, goal, t, dwell, final):
                path = []
                while ni >= 0:
                    path.append(nodes[ni][0])
                    ni = nodes[ni][2]
                path.reverse()
                return path, expansions
            if t >= horizon:
                continue
            nt = t + 1
            for nb in (cell, *nbrs[cell]):
                if nb != goal and nb != cell and not passable[nb]:
                    continue
                hv = int(h[nb])
                if hv < 0 or (nb, nt) in closed:
                    continue
                if not table.is_free(nb, nt, agent):
                    continue
                nodes.append((nb, nt, ni))
                heapq.heappush(heap, (nt - t0 + hv, hv, len(nodes) - 1))
        return None

    @staticmethod
    def _can_stay(table: ReservationTable, agent: str, cell: int, t: int, dwell: int,
                  final: bool) -> bool:
        if final:
            return table.free_from(cell, t, agent)
        return all(table.is_free(cell, s, agent) for s in range(t, t + dwell + 1))


def replan(traffic: TrafficController, agent: str, plan_id: int,
           plan: Callable[[ReservationTable], PlanResult | None]) -> PlanResult | None:
    """Plan ``agent`` against everybody else's committed paths; commit on success, else keep the old."""
    keep = traffic.table.agent_visits(agent)
    traffic.table.remove_agent(agent)
    result = plan(traffic.table)
    if result is None:
        traffic.table.restore(agent, keep)
        return None
    traffic.commit(agent, plan_id, result.cells, result.start_step)
    return result

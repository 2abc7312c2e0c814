"""Prioritized space-time A*: one robot's timed path through a sequence of targets.

The robot is planned against the :class:`~warehouse_core.reservations.ReservationTable` of
every path committed before it (prioritized planning). A task is a sequence of
:class:`Target` cells, each with a dwell (lift, pick, drop, charge time in steps); the path
ends on the last target, where the robot parks until its next task. Two traversal classes:
a robot carrying a rack may not pass under stored racks (cells in ``blocked_when_loaded``)
except the cell it is heading for.
"""

from __future__ import annotations

import heapq
import sys
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from warehouse_core.grid import Coord, Grid
from warehouse_core.reservations import FOREVER, ReservationTable


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


class DistanceCache:
    """BFS distance tables per (target cell, traversal class), computed on first use.

    Distances are stored as int16 when the grid has fewer than 32,768 cells (no path is longer),
    int32 otherwise. ``max_tables`` bounds the cache: its tables then live in one array of
    ``max_tables`` rows allocated (and written) at construction, so the cache's memory is fixed
    from the start instead of growing for hours while it warms up; the least recently used table
    is dropped and recomputed when asked again (a BFS of a few ms). A table returned by a bounded
    cache is a row of that array: use it before the next :meth:`table` call, which may reuse the
    row. None keeps every table (at most two per cell of the grid), each its own array.
    """

    def __init__(self, grid: Grid, blocked_when_loaded: np.ndarray | None = None,
                 max_tables: int | None = None) -> None:
        if max_tables is not None and max_tables < 1:
            raise ValueError(f"max_tables {max_tables} must be at least 1 (or None: no bound)")
        self.grid = grid
        self.max_tables = max_tables
        self.free_flat = grid.free.ravel()
        if blocked_when_loaded is None:
            blocked_when_loaded = np.zeros_like(grid.free)
        self.loaded_passable = grid.free & ~blocked_when_loaded
        self.loaded_flat = self.loaded_passable.ravel()
        self.neighbors = grid.neighbor_table()
        self.dtype = np.int16 if grid.free.size <= np.iinfo(np.int16).max else np.int32
        self._tables: OrderedDict[tuple[int, bool], np.ndarray] = OrderedDict()
        self._rows: np.ndarray | None = None
        if max_tables is not None:
            self._rows = np.full((max_tables, grid.free.size), -1, dtype=self.dtype)

    def table(self, target: int, loaded: bool) -> np.ndarray:
        key = (target, loaded)
        t = self._tables.get(key)
        if t is not None:
            if self._rows is not None:
                self._tables.move_to_end(key)
            return t
        mask = self.loaded_passable if loaded else None
        fresh = self.grid.distance_table(self.grid.coord(target), mask).ravel()
        if self._rows is None:
            t = fresh.astype(self.dtype)
        else:
            if len(self._tables) < len(self._rows):
                t = self._rows[len(self._tables)]
            else:
                _, t = self._tables.popitem(last=False)  # its row is reused
            t[:] = fresh
        self._tables[key] = t
        return t

    def __len__(self) -> int:
        return len(self._tables)

    @property
    def nbytes(self) -> int:
        """Bytes the distance tables take, keys and array objects included (a bounded cache:
        its whole array of rows, allocated at construction)."""
        total = sys.getsizeof(self._tables)
        for key, t in self._tables.items():
            total += sys.getsizeof(key) + sys.getsizeof(t)
        return total + (self._rows.nbytes if self._rows is not None else 0)

    def distance(self, a: int, b: int, loaded: bool = False) -> int:
        """Steps from cell ``a`` to cell ``b`` (-1 if unreachable).

        A loaded robot may start on a cell it may not pass (the rack it just lifted): then
        the distance goes through its best passable neighbour.
        """
        t = self.table(b, loaded)
        d = int(t[a])
        if d >= 0 or a == b:
            return d
        best = -1
        for nb in self.neighbors[a]:
            dn = int(t[nb])
            if dn >= 0 and (best < 0 or dn + 1 < best):
                best = dn + 1
        return best


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

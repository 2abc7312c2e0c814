"""Guidance for lifelong planning: a graph with direction-dependent edge costs and cached
goal-distance tables for two traversal classes.

Vocabulary: a *vertex id* (vid) is the index of a free cell among the free cells of the grid in
row-major order; ``cell_of[vid]`` is its flat cell index ``y * width + x``. Every per-vertex
array has one extra entry at index ``V`` (the number of free cells): a sentinel used to pad the
neighbour table, with distance ``inf``.

Guidance graph ("crisscross" one-way conventions, as the highway / guidance-graph literature
uses for warehouse maps): horizontal moves in even rows prefer east, in odd rows west; vertical
moves in even columns prefer south, in odd columns north. A move with the convention costs
``unit``, a move against it ``unit + penalty``. Costs are integers, so two guided distances are
either equal or at least 1 apart: a tie-breaking term in ``[0, 1)`` (congestion heat, random)
can only reorder moves of equal guided cost. With ``penalty = 0`` and ``unit = 1`` the tables are
plain BFS distances (no guidance).

Two traversal classes: an *unloaded* robot may use every free cell; a *loaded* robot (carrying
a rack) may only enter non-storage cells and its own goal. The loaded graph therefore keeps
only the edges that leave a non-storage cell; a Dijkstra search from the goal over the reversed
edges gives, for every cell, the cost to reach the goal through non-storage cells only (other
storage cells come out unreachable, ``inf``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from warehouse_core.maps.grid import Grid

__all__ = ["DistanceOracle", "GuidanceConfig", "GuidedGraph", "crisscross_costs"]

# Direction order of the neighbour table: east, west, south (row + 1), north (row - 1).
DIRECTIONS: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True)
class GuidanceConfig:
    """How agents are guided.

    ``penalty``: extra cost of a move against the one-way convention (0 = shortest paths).
    ``unit``: cost of a move with the convention. ``heat``: weight in ``[0, 1)`` of the
    congestion tie-breaker (recent occupancy of a cell, exponential moving average with rate
    ``heat_rate``); 0 switches it off.
    """

    penalty: int = 1
    unit: int = 2
    heat: float = 0.0
    heat_rate: float = 0.1

    def __post_init__(self) -> None:
        if self.unit < 1 or self.penalty < 0:
            raise ValueError("GuidanceConfig: unit must be >= 1 and penalty >= 0")
        if not 0.0 <= self.heat < 0.99:
            raise ValueError("GuidanceConfig.heat must be in [0, 0.99)")


NO_GUIDANCE = GuidanceConfig(penalty=0, unit=1, heat=0.0)


def crisscross_costs(grid: Grid, unit: int = 2, penalty: int = 1) -> np.ndarray:
    """int32 ``[h, w, 4]``: cost of leaving cell ``(x, y)`` in each of :data:`DIRECTIONS`."""
    h, w = grid.free.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cost = np.full((h, w, 4), unit, dtype=np.int32)
    east = (ys % 2) == 0
    south = (xs % 2) == 0
    cost[..., 0] += np.where(east, 0, penalty)       # moving east
    cost[..., 1] += np.where(east, penalty, 0)       # moving west
    cost[..., 2] += np.where(south, 0, penalty)      # moving south
    cost[..., 3] += np.where(south, penalty, 0)      # moving north
    return cost


class GuidedGraph:
    """Dense vertex ids over the free cells, a 5-wide move table and the guided edge costs."""

    def __init__(self, grid: Grid, storage_mask: np.ndarray | None = None,
                 config: GuidanceConfig = GuidanceConfig(), avoid_mask: np.ndarray | None = None) -> None:
        """``avoid_mask``: bool ``[h, w]``, cells through traffic should keep off (a station's pick
        and queue cells): entering one costs ``2 * unit`` more, so a path crosses them only where
        its goal is or no other way is much shorter."""
        self.grid = grid
        self.config = config
        h, w = grid.free.shape
        self.width = w
        free_flat = grid.free.ravel()
        self.cell_of = np.flatnonzero(free_flat)
        V = self.n_vertices = int(self.cell_of.size)
        vid_of = np.full(h * w, -1, dtype=np.int64)
        vid_of[self.cell_of] = np.arange(V)
        self.vid_of = vid_of
        storage = np.zeros((h, w), dtype=bool) if storage_mask is None else np.asarray(storage_mask, bool)
        if storage.shape != (h, w):
            raise ValueError(f"storage_mask shape {storage.shape} != grid shape {(h, w)}")
        self.is_storage = np.append(storage.ravel()[self.cell_of], False)   # per vid (+ sentinel)
        # nb5[v] = [v, east, west, south, north] with the sentinel V where there is no move
        nb5 = np.full((V + 1, 5), V, dtype=np.int64)
        nb5[:V, 0] = np.arange(V)
        ys, xs = self.cell_of // w, self.cell_of % w
        costs = crisscross_costs(grid, config.unit, config.penalty)
        src_l, dst_l, cost_l = [], [], []
        for d, (dx, dy) in enumerate(DIRECTIONS):
            nx, ny = xs + dx, ys + dy
            ok = (nx >= 0) & (nx < w) & (ny >= 0) & (ny < h)
            tgt = np.full(V, -1, dtype=np.int64)
            tgt[ok] = vid_of[ny[ok] * w + nx[ok]]
            ok &= tgt >= 0
            nb5[np.flatnonzero(ok), 1 + d] = tgt[ok]
            src_l.append(np.flatnonzero(ok))
            dst_l.append(tgt[ok])
            cost_l.append(costs[ys[ok], xs[ok], d])
        self.nb5 = nb5
        self.nbrs: list[list[int]] = [[int(u) for u in row[1:] if u != V] for row in nb5[:V]]
        self.nbrs.append([])
        self.degree = [len(r) for r in self.nbrs]
        src = np.concatenate(src_l)
        dst = np.concatenate(dst_l)
        cost = np.concatenate(cost_l).astype(np.float64)
        if avoid_mask is not None:
            avoid = np.asarray(avoid_mask, dtype=bool).ravel()[self.cell_of]
            cost += np.where(avoid[dst], 2 * config.unit, 0)
        # reversed graphs (row = destination of the original edge) for searches from the goal
        self._rev = {False: csr_matrix((cost, (dst, src)), shape=(V, V))}
        keep = ~self.is_storage[src]
        self._rev[True] = csr_matrix((cost[keep], (dst[keep], src[keep])), shape=(V, V))

    def vid(self, cell: int) -> int:
        v = int(self.vid_of[cell]) if 0 <= cell < self.vid_of.size else -1
        if v < 0:
            raise ValueError(f"flat cell {cell} is not a free cell of the map")
        return v

    def distances_to(self, goals: list[int], loaded: bool) -> np.ndarray:
        """Guided cost from every vertex to each goal vid: float32 ``[len(goals), V + 1]``."""
        V = self.n_vertices
        out = np.full((len(goals), V + 1), np.inf, dtype=np.float32)
        if goals:
            out[:, :V] = dijkstra(self._rev[loaded], directed=True, indices=goals)
        return out


class DistanceOracle:
    """Goal-distance rows in one 2-D store, keyed by ``(goal vid, loaded)``, with LRU reuse.

    Agents hold references to rows (:meth:`acquire` / :meth:`release`); only unreferenced rows
    are evicted. ``keys = store[slot[:, None], nb5[pos]]`` then gathers every agent's move costs
    in one numpy call.
    """

    def __init__(self, graph: GuidedGraph, min_slots: int, memory_bytes: int = 96 << 20) -> None:
        self.graph = graph
        V1 = graph.n_vertices + 1
        cap = max(min_slots + 16, min(memory_bytes // (4 * V1), 2 * graph.n_vertices + 16))
        self.capacity = int(cap)
        self.store = np.full((self.capacity, V1), np.inf, dtype=np.float32)
        self._slot: dict[tuple[int, bool], int] = {}
        self._key_of: list[tuple[int, bool] | None] = [None] * self.capacity
        self._refs = [0] * self.capacity
        self._idle: OrderedDict[int, None] = OrderedDict()   # unreferenced filled slots, LRU first
        self._free = list(range(self.capacity - 1, -1, -1))
        self.computed = 0

    def fixed_row(self, values: np.ndarray) -> int:
        """Store a row that is never evicted (e.g. the idle-agent field); returns its slot."""
        slot = self._take()
        self.store[slot] = values
        self._refs[slot] = 1 << 30
        return slot

    def prefetch(self, keys: Iterable[tuple[int, bool]]) -> None:
        """Compute the missing rows of ``keys`` in one batched Dijkstra per traversal class."""
        for loaded in (False, True):
            missing = sorted({g for g, ld in keys if ld == loaded and (g, ld) not in self._slot})
            if not missing:
                continue
            rows = self.graph.distances_to(missing, loaded)
            self.computed += len(missing)
            for g, row in zip(missing, rows):
                slot = self._take()
                self.store[slot] = row
                self._slot[(g, loaded)] = slot
                self._key_of[slot] = (g, loaded)
                self._idle[slot] = None

    def acquire(self, goal: int, loaded: bool) -> int:
        key = (goal, loaded)
        if key not in self._slot:
            self.prefetch([key])
        slot = self._slot[key]
        if self._refs[slot] == 0:
            self._idle.pop(slot, None)
        self._refs[slot] += 1
        return slot

    def release(self, slot: int) -> None:
        self._refs[slot] -= 1
        if self._refs[slot] == 0:
            self._idle[slot] = None

    def _take(self) -> int:
        if self._free:
            return self._free.pop()
        if not self._idle:
            raise RuntimeError("DistanceOracle: every row is in use; raise min_slots")
        slot, _ = self._idle.popitem(last=False)
        key = self._key_of[slot]
        if key is not None:
            del self._slot[key]
            self._key_of[slot] = None
        return slot

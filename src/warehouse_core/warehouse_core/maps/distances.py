"""BFS distance tables on the grid, cached per target cell and traversal class.

A robot carrying a rack may not pass under stored racks, so every target has two tables: one
for an empty robot and one for a loaded robot.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np

from warehouse_core.maps.grid import Grid


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

"""4-connected occupancy grids: the graph every planner and the simulator share.

Vocabulary (used across the core):

* ``Coord`` is ``(x, y)`` = ``(column, row)`` with row 0 the *top* row, as in MovingAI files
  and in map images. World coordinates (metres) are a separate concern of
  :mod:`warehouse_core.maps.occupancy`.
* A cell is also addressed by its flat index ``y * width + x`` (numpy-friendly).
* ``Path`` is one cell per time step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path as FilePath

import numpy as np

from warehouse_core.errors import InputError, unreadable

Coord = tuple[int, int]
Path = list[Coord]

UNREACHABLE = -1
_MOVES: tuple[Coord, ...] = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True, eq=False)
class Grid:
    """A 4-connected grid; ``free[y, x]`` is True where a robot may stand."""

    free: np.ndarray

    def __post_init__(self) -> None:
        if self.free.ndim != 2 or self.free.dtype != np.bool_:
            raise ValueError("Grid.free must be a 2-D bool array")

    @property
    def width(self) -> int:
        return int(self.free.shape[1])

    @property
    def height(self) -> int:
        return int(self.free.shape[0])

    @property
    def size(self) -> int:
        return self.width * self.height

    def in_bounds(self, c: Coord) -> bool:
        return 0 <= c[0] < self.width and 0 <= c[1] < self.height

    def is_free(self, c: Coord) -> bool:
        return self.in_bounds(c) and bool(self.free[c[1], c[0]])

    def index(self, c: Coord) -> int:
        return c[1] * self.width + c[0]

    def coord(self, i: int) -> Coord:
        return (i % self.width, i // self.width)

    def neighbors(self, c: Coord, passable: np.ndarray | None = None) -> list[Coord]:
        """Free 4-neighbours of ``c`` (optionally restricted to ``passable[y, x]``)."""
        mask = self.free if passable is None else passable
        out = []
        w, h = self.width, self.height
        for dx, dy in _MOVES:
            nx, ny = c[0] + dx, c[1] + dy
            if 0 <= nx < w and 0 <= ny < h and mask[ny, nx]:
                out.append((nx, ny))
        return out

    def neighbor_table(self, passable: np.ndarray | None = None) -> list[list[int]]:
        """Flat-index adjacency lists (free cells only), for fast inner loops."""
        mask = self.free if passable is None else passable
        w = self.width
        table: list[list[int]] = [[] for _ in range(self.size)]
        ys, xs = np.nonzero(mask)
        for x, y in zip(xs.tolist(), ys.tolist()):
            table[y * w + x] = [ny * w + nx for nx, ny in self.neighbors((x, y), mask)]
        return table

    def distance_table(self, goal: Coord, passable: np.ndarray | None = None) -> np.ndarray:
        """BFS distances (steps) from every cell to ``goal``; ``UNREACHABLE`` (-1) elsewhere.

        Vectorised frontier expansion: each BFS layer is one numpy shift of the frontier mask.
        ``passable`` (bool ``[h, w]``) restricts the cells used; the goal itself is always
        allowed, so that a loaded robot can reach a rack cell it may not pass through.
        """
        mask = (self.free if passable is None else passable).copy()
        dist = np.full(self.free.shape, UNREACHABLE, dtype=np.int32)
        gx, gy = goal
        if not self.in_bounds(goal):
            return dist
        mask[gy, gx] = True
        dist[gy, gx] = 0
        frontier = np.zeros_like(mask)
        frontier[gy, gx] = True
        seen = frontier.copy()
        d = 0
        while frontier.any():
            d += 1
            nxt = np.zeros_like(frontier)
            nxt[1:, :] |= frontier[:-1, :]
            nxt[:-1, :] |= frontier[1:, :]
            nxt[:, 1:] |= frontier[:, :-1]
            nxt[:, :-1] |= frontier[:, 1:]
            nxt &= mask & ~seen
            dist[nxt] = d
            seen |= nxt
            frontier = nxt
        return dist

    def components(self) -> np.ndarray:
        """Connected-component label per cell (-1 on blocked cells), 4-connected."""
        labels = np.full(self.free.shape, -1, dtype=np.int32)
        label = 0
        for y, x in zip(*np.nonzero(self.free)):
            if labels[y, x] != -1:
                continue
            labels[y, x] = label
            queue = deque([(int(x), int(y))])
            while queue:
                c = queue.popleft()
                for n in self.neighbors(c):
                    if labels[n[1], n[0]] == -1:
                        labels[n[1], n[0]] = label
                        queue.append(n)
            label += 1
        return labels


@dataclass(frozen=True)
class ScenAgent:
    """One agent of a MovingAI scenario: start, goal and the file's optimal length."""

    start: Coord
    goal: Coord
    optimal_length: float


_BLOCKED_CHARS = set("@OTW")
_FREE_CHARS = set(".GS")


def load_movingai_map(path: str | FilePath) -> Grid:
    """Load a MovingAI ``.map`` file (``type octile`` header, then rows; ``.``/G/S free)."""
    path = FilePath(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read map file: {unreadable(exc)}",
                         fix="check the --map path") from None
    header: dict[str, str] = {}
    i = 0
    while i < len(lines) and lines[i].strip() != "map":
        parts = lines[i].split()
        if len(parts) == 2:
            header[parts[0].lower()] = parts[1]
        elif parts:
            raise InputError(str(path), f"unexpected header line {lines[i]!r}", where=f"{i + 1}",
                             fix="a MovingAI map starts with 'type octile', 'height H', 'width W', 'map'")
        i += 1
    if i == len(lines):
        raise InputError(str(path), "no 'map' line found", fix="a MovingAI map has a line 'map' before the rows")
    try:
        height, width = int(header["height"]), int(header["width"])
    except (KeyError, ValueError):
        raise InputError(str(path), "header lacks integer 'height' and 'width'", where="1",
                         fix="add 'height H' and 'width W' lines") from None
    if height <= 0 or width <= 0:
        raise InputError(str(path), f"height {height} and width {width} must be positive", where="2")
    rows = _map_rows(path, lines, i + 1, height, width)
    free = np.zeros((height, width), dtype=bool)
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch in _FREE_CHARS:
                free[r, c] = True
            elif ch not in _BLOCKED_CHARS:
                raise InputError(str(path), f"unknown cell character {ch!r} at column {c}",
                                 where=str(i + 2 + r), fix="use '.' for free and '@' for blocked cells")
    return Grid(free)


def _map_rows(path: FilePath, lines: list[str], first: int, height: int, width: int) -> list[str]:
    """The ``height`` rows of ``width`` cells from line index ``first`` on (trailing blanks and blank
    lines at the end allowed); a header that disagrees with the rows either way is refused, so a
    map is never cut to its header nor padded."""
    rows = [line.rstrip() for line in lines[first:]]
    while rows and not rows[-1]:
        rows.pop()
    fix = "make the header's 'height' and 'width' match the rows"
    if len(rows) != height:
        more = "more" if len(rows) > height else "fewer"
        raise InputError(str(path), f"{len(rows)} map rows, {more} than the header's height {height}",
                         where=str(first + 1 + min(len(rows), height)), fix=fix)
    for r, row in enumerate(rows):
        if len(row) != width:
            raise InputError(str(path), f"row has {len(row)} cells, header says width {width}",
                             where=str(first + 1 + r), fix=fix)
    return rows


def load_movingai_scen(path: str | FilePath, grid: Grid | None = None,
                       agents: int | None = None) -> list[ScenAgent]:
    """Load the first ``agents`` lines of a MovingAI ``.scen`` file (x = column, y = row).

    With ``grid`` given, every start and goal must be a free cell of it and the map size each
    line names must be the grid's. A file without agents, or ``agents`` < 1, is refused.
    """
    path = FilePath(path)
    if agents is not None and agents < 1:
        raise InputError(str(path), f"asked for {agents} agents", fix="ask for at least 1 agent (--agents)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read scenario file: {unreadable(exc)}",
                         fix="check the --scen path") from None
    out: list[ScenAgent] = []
    for lineno, line in enumerate(lines, start=1):
        if lineno == 1 and line.lower().startswith("version"):
            continue
        if not line.strip():
            continue
        if agents is not None and len(out) >= agents:
            break
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 9:
            raise InputError(str(path), f"expected 9 fields, found {len(fields)}", where=str(lineno),
                             fix="bucket, map, width, height, start x, start y, goal x, goal y, length")
        try:
            mw, mh, sx, sy, gx, gy = (int(f) for f in fields[2:8])
            opt = float(fields[8])
        except ValueError:
            raise InputError(str(path), f"non-numeric coordinates in {line!r}", where=str(lineno)) from None
        agent = ScenAgent((sx, sy), (gx, gy), opt)
        if grid is not None:
            if (mw, mh) != (grid.width, grid.height):
                raise InputError(str(path), f"made for a {mw} x {mh} map, the map is {grid.width} x {grid.height}",
                                 where=str(lineno), fix="use the scenario made for this map")
            for name, c in (("start", agent.start), ("goal", agent.goal)):
                if not grid.is_free(c):
                    raise InputError(str(path), f"{name} {c} is not a free cell of the map",
                                     where=str(lineno), fix="use the scenario made for this map")
        out.append(agent)
    if not out:
        raise InputError(str(path), "no agent lines", fix="give a MovingAI .scen with at least one agent")
    if agents is not None and len(out) < agents:
        raise InputError(str(path), f"asked for {agents} agents but the file has {len(out)}",
                         fix=f"use --agents {len(out)} or fewer")
    return out

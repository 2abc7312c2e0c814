"""The semantic warehouse layout: storage locations, racks, pick stations, chargers, aisles.

File format (YAML; cells are ``[x, y]`` = ``[column, row]`` of the planning grid, row 0 = top)::

    layout:
      name: default_g2p
      map: warehouse.yaml        # Nav2 map YAML (or a MovingAI .map), relative to this file
      cell_size: 1.0             # metres per planning cell
    storage:                     # rack storage locations
      - {id: L0001, cell: [5, 3], rack: R0001}   # rack standing there at start, or null
    stations:
      - {id: S1, pick_cell: [1, 4], queue: [[1, 5], [1, 6], [1, 7]]}   # queue: nearest first
    chargers:
      - {id: C1, cell: [38, 4]}
    aisles:
      - {id: A1, from: [2, 1], to: [4, 25]}      # inclusive axis-aligned rectangle

Unloaded robots may drive under racks (storage cells are free floor); a loaded robot may not
pass any storage cell except its own target. :func:`load_layout` checks that every storage
location, station and charger is reachable under those rules and raises
:class:`~warehouse_core.errors.InputError` naming the file, the element and the problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import ndimage

from warehouse_core.errors import InputError, read_yaml_file
from warehouse_core.maps.grid import Coord, Grid, load_movingai_map
from warehouse_core.maps.occupancy import GridFrame, load_occupancy_map

__all__ = ["Aisle", "Charger", "Layout", "Station", "StorageLocation", "load_layout"]

_TOP_KEYS = ("layout", "storage", "stations", "chargers", "aisles")
_LAYOUT_KEYS = ("name", "map", "cell_size")
_FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


@dataclass(frozen=True)
class StorageLocation:
    id: str
    cell: Coord
    rack: str | None = None


@dataclass(frozen=True)
class Station:
    id: str
    pick_cell: Coord
    queue: tuple[Coord, ...] = ()


@dataclass(frozen=True)
class Charger:
    id: str
    cell: Coord


@dataclass(frozen=True)
class Aisle:
    id: str
    cells: tuple[Coord, ...]


@dataclass(frozen=True, eq=False)
class Layout:
    name: str
    source: str
    grid: Grid
    frame: GridFrame
    storage: tuple[StorageLocation, ...]
    stations: tuple[Station, ...]
    chargers: tuple[Charger, ...]
    aisles: tuple[Aisle, ...] = field(default=())

    @cached_property
    def storage_mask(self) -> np.ndarray:
        """bool[h, w]: True on storage cells (a loaded robot may only enter its own target)."""
        mask = np.zeros(self.grid.free.shape, dtype=bool)
        for s in self.storage:
            mask[s.cell[1], s.cell[0]] = True
        mask.flags.writeable = False
        return mask

    @cached_property
    def loaded_passable(self) -> np.ndarray:
        """bool[h, w]: cells a robot carrying a rack may pass (free and not storage)."""
        mask = self.grid.free & ~self.storage_mask
        mask.flags.writeable = False
        return mask

    @cached_property
    def rack_ids(self) -> tuple[str, ...]:
        """Ids of the racks present at start, in storage order."""
        return tuple(s.rack for s in self.storage if s.rack is not None)

    @cached_property
    def storage_by_id(self) -> dict[str, StorageLocation]:
        return {s.id: s for s in self.storage}

    @cached_property
    def storage_by_cell(self) -> dict[Coord, StorageLocation]:
        return {s.cell: s for s in self.storage}

    @cached_property
    def storage_by_rack(self) -> dict[str, StorageLocation]:
        """Initial storage location of every rack."""
        return {s.rack: s for s in self.storage if s.rack is not None}

    @cached_property
    def station_by_id(self) -> dict[str, Station]:
        return {s.id: s for s in self.stations}

    @cached_property
    def charger_by_id(self) -> dict[str, Charger]:
        return {c.id: c for c in self.chargers}

    def cell_to_world(self, c: Coord) -> tuple[float, float]:
        """Centre of grid cell ``c`` in map-frame metres."""
        return self.frame.cell_to_world(c)

    def world_to_cell(self, x: float, y: float) -> Coord:
        return self.frame.world_to_cell(x, y)


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------

class _Checker:
    """Parsing helpers that raise InputErrors naming the layout file."""

    def __init__(self, src: str, grid: Grid | None = None) -> None:
        self.src = src
        self.grid = grid

    def fail(self, problem: str, where: str = "", fix: str = "") -> None:
        raise InputError(self.src, problem, where=where, fix=fix)

    def ident(self, item: object, where: str, what: str) -> str:
        if not isinstance(item, dict):
            self.fail(f"{what} entry {item!r} must be a mapping like {{id: ..., ...}}", where)
        ident = item.get("id")
        if isinstance(ident, bool) or not isinstance(ident, (str, int)) or str(ident) == "":
            self.fail(f"{what} entry has no valid 'id' (got {ident!r})", where, fix="give every entry a unique id")
        return str(ident)

    def keys(self, item: dict, allowed: tuple[str, ...], required: tuple[str, ...], where: str,
             label: str) -> None:
        unknown = [k for k in item if k not in allowed]
        if unknown:
            self.fail(f"{label} has unknown key(s) {', '.join(map(str, unknown))}", where,
                      fix=f"allowed keys: {', '.join(allowed)}")
        missing = [k for k in required if k not in item]
        if missing:
            self.fail(f"{label} lacks key(s) {', '.join(missing)}", where)

    def cell(self, value: object, where: str, label: str) -> Coord:
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
            self.fail(f"{label} cell {value!r} must be [x, y] with integer column x and row y", where)
        c = (int(value[0]), int(value[1]))
        grid = self.grid
        assert grid is not None
        if not grid.in_bounds(c):
            self.fail(f"{label} at [{c[0]}, {c[1]}] is outside the map "
                      f"({grid.width} x {grid.height} cells)", where,
                      fix=f"x must be in 0..{grid.width - 1} and y in 0..{grid.height - 1} (row 0 = top)")
        return c

    def free_cell(self, value: object, where: str, label: str) -> Coord:
        c = self.cell(value, where, label)
        assert self.grid is not None
        if not self.grid.is_free(c):
            self.fail(f"{label} at [{c[0]}, {c[1]}] is on a wall (the map cell is not free)", where,
                      fix="move it to a free cell or fix the map")
        return c

    def seq(self, doc: dict, key: str) -> list:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"'{key}' must be a list", key)
        return value


def _load_grid(src: str, path: Path, header: dict) -> tuple[Grid, GridFrame, float]:
    raw_cell = header.get("cell_size", 1.0)
    if isinstance(raw_cell, bool) or not isinstance(raw_cell, (int, float)) or not math.isfinite(raw_cell) \
            or raw_cell <= 0:
        raise InputError(src, f"cell_size {raw_cell!r} must be a positive number of metres",
                         where="layout.cell_size", fix="e.g. cell_size: 1.0")
    cell_size = float(raw_cell)
    map_name = header.get("map")
    if not isinstance(map_name, str) or not map_name:
        raise InputError(src, f"layout.map {map_name!r} must name a map file", where="layout.map",
                         fix="e.g. map: warehouse.yaml (Nav2 map YAML, relative to the layout file)")
    map_path = Path(map_name)
    if not map_path.is_absolute():
        map_path = path.parent / map_path
    if not map_path.is_file():
        raise InputError(src, f"map file {map_path} does not exist", where="layout.map",
                         fix="the map path is relative to the layout file; check it or regenerate "
                             "the maps (python -m warehouse_core.maps.layout_gen)")
    if map_path.suffix.lower() == ".map":
        grid = load_movingai_map(map_path)
        return grid, GridFrame(0.0, 0.0, cell_size, grid.height), cell_size
    occ = load_occupancy_map(map_path)
    try:
        grid, frame = occ.to_grid(cell_size)
    except InputError as exc:
        raise InputError(src, f"{exc.problem} (map {map_path.name})", where="layout.cell_size",
                         fix=exc.fix) from None
    return grid, frame, cell_size


def load_layout(path: str | Path) -> Layout:
    """Load and validate a layout YAML (and the map it names)."""
    path = Path(path)
    src = str(path)
    _, doc = read_yaml_file(path, "layout file", fix="check the layout path (e.g. maps/warehouse_layout.yaml)")
    ck = _Checker(src)
    if not isinstance(doc, dict):
        ck.fail("a layout file must be a mapping with keys " + ", ".join(_TOP_KEYS),
                fix="see maps/README.md for the format")
    unknown = [str(k) for k in doc if k not in _TOP_KEYS]
    if unknown:
        ck.fail(f"unknown top-level key(s) {', '.join(unknown)}", unknown[0],
                fix=f"allowed keys: {', '.join(_TOP_KEYS)}")
    header = doc.get("layout")
    if not isinstance(header, dict):
        ck.fail("missing 'layout' section (name, map, cell_size)", "layout",
                fix="add layout: {name: ..., map: warehouse.yaml, cell_size: 1.0}")
    ck.keys(header, _LAYOUT_KEYS, ("map",), "layout", "layout section")
    name = str(header.get("name") or path.stem)
    grid, frame, _ = _load_grid(src, path, header)
    ck.grid = grid
    claims = _CellClaims(ck)
    storage = _read_storage(ck, doc, claims)
    stations = _read_stations(ck, doc, claims)
    chargers = _read_chargers(ck, doc, claims)
    aisles = _read_aisles(ck, doc, grid, {s.cell: s.id for s in storage})
    layout = Layout(name=name, source=src, grid=grid, frame=frame, storage=tuple(storage),
                    stations=tuple(stations), chargers=tuple(chargers), aisles=tuple(aisles))
    _check_reachability(layout, ck)
    return layout


class _CellClaims:
    """Which element stands on each cell, to refuse two elements on one cell."""

    def __init__(self, ck: _Checker) -> None:
        self.ck = ck
        self.used: dict[Coord, str] = {}

    def claim(self, c: Coord, label: str, where: str) -> None:
        other = self.used.get(c)
        if other is not None:
            self.ck.fail(f"{label} at [{c[0]}, {c[1]}] is also {other}", where,
                         fix="every storage, station, queue and charger cell must be distinct")
        self.used[c] = label


def _entries(ck: _Checker, doc: dict, key: str, what: str, allowed: tuple[str, ...],
             required: tuple[str, ...], noun: str = "") -> Iterator[tuple[str, str, str, dict]]:
    """Each entry of section ``key`` as (where, id, label, entry), ids and keys checked.

    ``what`` names the element in id errors, ``noun`` (default ``what``) in its label.
    """
    seen: set[str] = set()
    for i, item in enumerate(ck.seq(doc, key)):
        where = f"{key}[{i}]"
        ident = ck.ident(item, where, what)
        label = f"{noun or what} {ident}"
        ck.keys(item, allowed, required, where, label)
        if ident in seen:
            ck.fail(f"duplicate {what} id {ident}", where, fix=f"{what} ids must be unique")
        seen.add(ident)
        yield where, ident, label, item


def _read_storage(ck: _Checker, doc: dict, claims: _CellClaims) -> list[StorageLocation]:
    storage: list[StorageLocation] = []
    seen_racks: dict[str, str] = {}
    for where, sid, label, item in _entries(ck, doc, "storage", "storage", ("id", "cell", "rack"), ("cell",),
                                            noun="storage location"):
        rack = item.get("rack")
        if rack is not None:
            if isinstance(rack, bool) or not isinstance(rack, (str, int)) or str(rack) == "":
                ck.fail(f"{label}: rack {rack!r} must be a rack id or null", where)
            rack = str(rack)
            if rack in seen_racks:
                ck.fail(f"duplicate rack id {rack} (at storage {seen_racks[rack]} and {sid})", where,
                        fix="each rack stands at one storage location")
            seen_racks[rack] = sid
            label += f" (rack {rack})"
        c = ck.free_cell(item.get("cell"), where, label)
        claims.claim(c, label, where)
        storage.append(StorageLocation(sid, c, rack))
    if not storage:
        ck.fail("no storage locations", "storage", fix="add at least one storage entry")
    return storage


def _read_stations(ck: _Checker, doc: dict, claims: _CellClaims) -> list[Station]:
    stations: list[Station] = []
    for where, sid, label, item in _entries(ck, doc, "stations", "station", ("id", "pick_cell", "queue"),
                                            ("pick_cell",)):
        pick = ck.free_cell(item.get("pick_cell"), where, f"{label} pick cell")
        claims.claim(pick, f"{label} pick cell", where)
        queue_raw = item.get("queue") or []
        if not isinstance(queue_raw, list):
            ck.fail(f"{label} queue must be a list of [x, y] cells", where)
        queue = []
        for j, q in enumerate(queue_raw):
            qc = ck.free_cell(q, where, f"{label} queue cell {j}")
            claims.claim(qc, f"{label} queue cell {j}", where)
            queue.append(qc)
        stations.append(Station(sid, pick, tuple(queue)))
    if not stations:
        ck.fail("no stations", "stations", fix="add at least one pick station")
    return stations


def _read_chargers(ck: _Checker, doc: dict, claims: _CellClaims) -> list[Charger]:
    chargers: list[Charger] = []
    for where, cid, label, item in _entries(ck, doc, "chargers", "charger", ("id", "cell"), ("cell",)):
        c = ck.free_cell(item.get("cell"), where, label)
        claims.claim(c, label, where)
        chargers.append(Charger(cid, c))
    return chargers


def _read_aisles(ck: _Checker, doc: dict, grid: Grid, storage_cells: dict[Coord, str]) -> list[Aisle]:
    aisles: list[Aisle] = []
    for where, aid, label, item in _entries(ck, doc, "aisles", "aisle", ("id", "from", "to"), ("from", "to")):
        a = ck.cell(item.get("from"), where, f"{label} 'from'")
        b = ck.cell(item.get("to"), where, f"{label} 'to'")
        cells = tuple((x, y) for y in range(min(a[1], b[1]), max(a[1], b[1]) + 1)
                      for x in range(min(a[0], b[0]), max(a[0], b[0]) + 1))
        for c in cells:
            if not grid.is_free(c):
                ck.fail(f"{label} cell [{c[0]}, {c[1]}] is on a wall (the map cell is not free)", where,
                        fix="aisle rectangles must cover free floor only")
            if c in storage_cells:
                ck.fail(f"{label} cell [{c[0]}, {c[1]}] is storage location {storage_cells[c]}", where,
                        fix="aisles are for driving; they must not contain storage cells")
        aisles.append(Aisle(aid, cells))
    return aisles


def _check_reachability(layout: Layout, ck: _Checker) -> None:
    """Every storage location <-> every station, with and without a rack; chargers unloaded."""
    grid = layout.grid
    free_lab, _ = ndimage.label(grid.free, structure=_FOUR)
    load_lab, _ = ndimage.label(layout.loaded_passable, structure=_FOUR)
    h, w = grid.free.shape

    def loaded_labels(c: Coord) -> set[int]:
        """Loaded-robot components a robot at ``c`` (maybe a storage cell) can enter."""
        if load_lab[c[1], c[0]]:
            return {int(load_lab[c[1], c[0]])}
        out = set()
        x, y = c
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < w and 0 <= ny < h and load_lab[ny, nx]:
                out.add(int(load_lab[ny, nx]))
        return out

    def fc(c: Coord) -> str:
        return f"[{c[0]}, {c[1]}]"

    st0 = layout.stations[0]
    for i, st in enumerate(layout.stations):
        where = f"stations[{i}]"
        lab = int(load_lab[st.pick_cell[1], st.pick_cell[0]])
        if free_lab[st.pick_cell[1], st.pick_cell[0]] != free_lab[st0.pick_cell[1], st0.pick_cell[0]]:
            ck.fail(f"station {st.id} at {fc(st.pick_cell)} cannot be reached from station {st0.id}",
                    where, fix="connect the stations by free floor")
        if lab != int(load_lab[st0.pick_cell[1], st0.pick_cell[0]]):
            ck.fail(f"station {st.id} at {fc(st.pick_cell)} cannot be reached from station {st0.id} "
                    "with a rack (storage cells block the way)", where,
                    fix="open an aisle without storage cells between the stations")
        for j, q in enumerate(st.queue):
            if load_lab[q[1], q[0]] != lab:
                ck.fail(f"station {st.id} queue cell {j} at {fc(q)} cannot reach the pick cell "
                        f"{fc(st.pick_cell)} with a rack", where,
                        fix="queue cells must connect to the pick cell without crossing storage")

    pick_free = [int(free_lab[s.pick_cell[1], s.pick_cell[0]]) for s in layout.stations]
    pick_load = [int(load_lab[s.pick_cell[1], s.pick_cell[0]]) for s in layout.stations]
    for i, loc in enumerate(layout.storage):
        where = f"storage[{i}]"
        fl = int(free_lab[loc.cell[1], loc.cell[0]])
        ll = loaded_labels(loc.cell)
        for st, pf, pl in zip(layout.stations, pick_free, pick_load):
            if fl != pf:
                ck.fail(f"station {st.id} cannot be reached from storage {loc.id} at {fc(loc.cell)} "
                        "(no free path even without a rack)", where,
                        fix="connect the storage location to the stations by free floor")
            if pl not in ll:
                ck.fail(f"station {st.id} cannot be reached from storage {loc.id} at {fc(loc.cell)} "
                        "with a rack (a loaded robot may not pass other storage cells and none of "
                        "its neighbours connects to the station)", where,
                        fix="every storage cell must touch an aisle (a free, non-storage cell) that "
                            "leads to the stations; use rack blocks at most 2 deep")

    for i, ch in enumerate(layout.chargers):
        if free_lab[ch.cell[1], ch.cell[0]] != pick_free[0]:
            ck.fail(f"charger {ch.id} at {fc(ch.cell)} cannot be reached from station {st0.id}",
                    f"chargers[{i}]", fix="connect the charger to the floor")

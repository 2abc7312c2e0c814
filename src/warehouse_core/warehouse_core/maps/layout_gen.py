"""Seeded generator of goods-to-person (Kiva-style) warehouse layouts.

Writes three files into ``--out-dir``: ``<stem>.pgm`` (the floor image, 0.1 m pixels),
``<stem>.yaml`` (its Nav2 map YAML) and ``<stem>_layout.yaml`` (the semantic layout, 1 m cells).

Floor plan (columns left to right)::

    wall | stations + queues | west highway | rack blocks ... | east highway | chargers | wall

Racks stand in blocks two cells deep and ``block_len`` cells long, separated by one-cell aisles,
so every storage cell touches an aisle a loaded robot can use. Blocks are grouped; groups are
separated by highways, and a highway also runs around all groups. Stations (pick cell plus a
queue running along the west wall) are spread along the west wall, chargers along the east wall.

    python -m warehouse_core.maps.layout_gen --preset default --out-dir maps/
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from warehouse_core.maps.occupancy import write_pgm

__all__ = ["GeneratedLayout", "LayoutParams", "PRESETS", "generate", "write_layout", "main"]

FREE_PIXEL = 254     # what map_saver writes for free space
WALL_PIXEL = 0


@dataclass(frozen=True)
class LayoutParams:
    name: str
    stem: str
    preset: str = "default"
    block_len: int = 4              # cells per block along a rack row
    blocks_x: tuple[int, ...] = (3, 3)   # blocks per column group (groups separated by highways)
    blocks_y: tuple[int, ...] = (3, 3)   # block rows per row group
    highway: int = 3                # highway width around and between groups (cells)
    stations: int = 4
    queue_len: int = 4              # queue cells per station
    chargers: int = 6
    rack_fill: float = 0.85         # fraction of storage locations holding a rack at start
    seed: int = 7
    resolution: float = 0.1         # metres per pixel
    cell_size: float = 1.0          # metres per planning cell


PRESETS: dict[str, LayoutParams] = {
    "default": LayoutParams(name="default_g2p", stem="warehouse"),
    "large": LayoutParams(name="large_g2p", stem="warehouse_large", preset="large", block_len=5, blocks_x=(5, 5),
                          blocks_y=(4, 4, 4, 4), highway=3, stations=12, queue_len=3, chargers=24,
                          seed=11),
}


@dataclass
class GeneratedLayout:
    params: LayoutParams
    walls: np.ndarray                      # bool[h, w] planning cells that are walls
    storage: list[tuple[str, tuple[int, int], str | None]]
    stations: list[tuple[str, tuple[int, int], list[tuple[int, int]]]]
    chargers: list[tuple[str, tuple[int, int]]]
    aisles: list[tuple[str, tuple[int, int], tuple[int, int]]]

    @property
    def width(self) -> int:
        return int(self.walls.shape[1])

    @property
    def height(self) -> int:
        return int(self.walls.shape[0])


def _group_span(blocks: int, block: int) -> int:
    """Length of a group of ``blocks`` blocks of length ``block`` separated by 1-cell aisles."""
    return blocks * (block + 1) - 1


def _spread(n: int, lo: int, hi: int, size: int, what: str) -> list[int]:
    """Start positions in [lo, hi] of ``n`` items ``size`` cells long, evenly spread, >= 1 cell apart."""
    span = hi - lo + 1
    if n <= 0:
        return []
    if n == 1:
        return [lo + (span - size) // 2]
    step = (span - size) // (n - 1)
    if step < size + 1:
        raise ValueError(f"{n} {what} of {size} cells need {n * (size + 1) - 1} cells along the wall, "
                         f"only {span} available")
    first = lo + (span - size - step * (n - 1)) // 2
    return [first + i * step for i in range(n)]


@dataclass(frozen=True)
class _Floor:
    """Where the parts of a generated floor go: storage groups between highways, stations on the
    west wall, chargers on the east wall."""

    p: LayoutParams
    group_w: list[int]   # width of each column of block groups
    group_h: list[int]   # height of each row of block groups
    gx_starts: list[int]
    gy_starts: list[int]
    x0: int              # first storage column
    y0: int              # first storage row
    storage_h: int
    charger_col: int
    width: int
    height: int

    station_col = 1

    @classmethod
    def of(cls, p: LayoutParams) -> _Floor:
        hw = p.highway
        group_w = [_group_span(n, p.block_len) for n in p.blocks_x]
        group_h = [_group_span(n, 2) for n in p.blocks_y]
        x0 = cls.station_col + 1 + hw
        storage_w = sum(group_w) + hw * (len(group_w) - 1)
        charger_col = x0 + storage_w + hw
        y0 = 1 + hw
        storage_h = sum(group_h) + hw * (len(group_h) - 1)
        gx_starts = [x0 + sum(group_w[:i]) + hw * i for i in range(len(group_w))]
        gy_starts = [y0 + sum(group_h[:i]) + hw * i for i in range(len(group_h))]
        return cls(p, group_w, group_h, gx_starts, gy_starts, x0, y0, storage_h, charger_col,
                   width=charger_col + 2, height=y0 + storage_h + hw + 1)

    @property
    def last_y(self) -> int:
        return self.height - 2

    def storage_mask(self) -> np.ndarray:
        """Storage cells: blocks of 2 rows x ``block_len`` columns with 1-cell aisles between."""
        p = self.p
        is_storage = np.zeros((self.height, self.width), dtype=bool)
        for gy, nby in zip(self.gy_starts, p.blocks_y):
            for gx, nbx in zip(self.gx_starts, p.blocks_x):
                for by in range(nby):
                    for bx in range(nbx):
                        cx = gx + bx * (p.block_len + 1)
                        cy = gy + by * 3
                        is_storage[cy:cy + 2, cx:cx + p.block_len] = True
        return is_storage

    def aisle_rects(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Highways first, then the 1-cell aisles inside each group."""
        p, hw, last_y = self.p, self.p.highway, self.last_y
        rects = [
            ((self.station_col + 1, 1), (self.x0 - 1, last_y)),                    # west highway (stations)
            ((self.charger_col - hw, 1), (self.charger_col - 1, last_y)),          # east highway (chargers)
            ((self.x0, 1), (self.charger_col - hw - 1, self.y0 - 1)),              # north highway
            ((self.x0, last_y - hw + 1), (self.charger_col - hw - 1, last_y)),     # south highway
        ]
        for gx in self.gx_starts[1:]:
            rects.append(((gx - hw, self.y0), (gx - 1, self.y0 + self.storage_h - 1)))
        for gy in self.gy_starts[1:]:
            for gx, gw in zip(self.gx_starts, self.group_w):
                rects.append(((gx, gy - hw), (gx + gw - 1, gy - 1)))
        for gy, nby in zip(self.gy_starts, p.blocks_y):
            for gx, gw, nbx in zip(self.gx_starts, self.group_w, p.blocks_x):
                for by in range(1, nby):
                    ay = gy + by * 3 - 1
                    rects.append(((gx, ay), (gx + gw - 1, ay)))
                for bx in range(1, nbx):
                    ax = gx + bx * (p.block_len + 1) - 1
                    # vertical aisle segments between the blocks (skip the crossings already listed)
                    for by in range(nby):
                        cy = gy + by * 3
                        rects.append(((ax, cy), (ax, cy + 1)))
        return rects


def _storage_entries(is_storage: np.ndarray, rack_fill: float,
                     rng: np.random.Generator) -> list[tuple[str, tuple[int, int], str | None]]:
    """Storage locations in reading order, a seeded share of them holding a rack."""
    ys, xs = np.nonzero(is_storage)
    n_storage = len(xs)
    n_racks = int(round(rack_fill * n_storage))
    has_rack = np.zeros(n_storage, dtype=bool)
    has_rack[rng.choice(n_storage, size=n_racks, replace=False)] = True
    digits = max(4, len(str(n_storage)))
    storage = []
    rack_no = 0
    for i, (cx, cy) in enumerate(zip(xs.tolist(), ys.tolist())):
        rack = None
        if has_rack[i]:
            rack_no += 1
            rack = f"R{rack_no:0{digits}d}"
        storage.append((f"L{i + 1:0{digits}d}", (cx, cy), rack))
    return storage


def generate(params: LayoutParams) -> GeneratedLayout:
    """Build the cell-level plan of a layout (no files written)."""
    p = params
    if p.block_len < 1 or not p.blocks_x or not p.blocks_y or p.highway < 1:
        raise ValueError("block_len, blocks_x, blocks_y and highway must be positive")
    floor = _Floor.of(p)
    walls = np.zeros((floor.height, floor.width), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    aisles = [(f"A{i}", a, b) for i, (a, b) in enumerate(floor.aisle_rects(), start=1)]
    storage = _storage_entries(floor.storage_mask(), p.rack_fill, np.random.default_rng(p.seed))
    # stations on the west wall: pick cell, queue running south along the wall (nearest first)
    col = floor.station_col
    stations = [(f"S{i + 1}", (col, top), [(col, top + k) for k in range(1, p.queue_len + 1)])
                for i, top in enumerate(_spread(p.stations, 1, floor.last_y, p.queue_len + 1, "stations"))]
    # chargers on the east wall, with a free cell between neighbours
    chargers = [(f"C{i + 1}", (floor.charger_col, top))
                for i, top in enumerate(_spread(p.chargers, 1, floor.last_y, 1, "chargers"))]
    return GeneratedLayout(p, walls, storage, stations, chargers, aisles)


def _cell(c: tuple[int, int]) -> str:
    return f"[{c[0]}, {c[1]}]"


def layout_yaml(gen: GeneratedLayout, map_file: str) -> str:
    p = gen.params
    n_racks = sum(1 for s in gen.storage if s[2] is not None)
    lines = [
        f"# Generated by: python -m warehouse_core.maps.layout_gen --preset {p.preset} (seed {p.seed}).",
        f"# {gen.width} x {gen.height} cells of {p.cell_size} m; {len(gen.storage)} storage locations, "
        f"{n_racks} racks, {len(gen.stations)} stations, {len(gen.chargers)} chargers.",
        "# Cells are [x, y] = [column, row] of the planning grid, row 0 = top (north) row.",
        "layout:",
        f"  name: {p.name}",
        f"  map: {map_file}",
        f"  cell_size: {p.cell_size}",
        "storage:",
    ]
    for sid, c, rack in gen.storage:
        lines.append(f"  - {{id: {sid}, cell: {_cell(c)}, rack: {rack if rack else 'null'}}}")
    lines.append("stations:")
    for sid, pick, queue in gen.stations:
        q = ", ".join(_cell(c) for c in queue)
        lines.append(f"  - {{id: {sid}, pick_cell: {_cell(pick)}, queue: [{q}]}}")
    lines.append("chargers:")
    for cid, c in gen.chargers:
        lines.append(f"  - {{id: {cid}, cell: {_cell(c)}}}")
    lines.append("aisles:")
    for aid, a, b in gen.aisles:
        lines.append(f"  - {{id: {aid}, from: {_cell(a)}, to: {_cell(b)}}}")
    return "\n".join(lines) + "\n"


def map_yaml(image_name: str, resolution: float) -> str:
    return (
        f"image: {image_name}\n"
        "mode: trinary\n"
        f"resolution: {resolution}\n"
        "origin: [0.0, 0.0, 0.0]\n"
        "negate: 0\n"
        "occupied_thresh: 0.65\n"
        "free_thresh: 0.196\n"
    )


def render_pgm(gen: GeneratedLayout) -> np.ndarray:
    """Floor image: walls black, floor free (racks are movable, so storage cells are free)."""
    k = int(round(gen.params.cell_size / gen.params.resolution))
    cells = np.where(gen.walls, WALL_PIXEL, FREE_PIXEL).astype(np.uint8)
    return np.kron(cells, np.ones((k, k), dtype=np.uint8))


def write_layout(params: LayoutParams, out_dir: str | Path) -> dict[str, Path]:
    """Generate ``params`` and write ``<stem>.pgm``, ``<stem>.yaml``, ``<stem>_layout.yaml``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = generate(params)
    pgm = out / f"{params.stem}.pgm"
    nav = out / f"{params.stem}.yaml"
    lay = out / f"{params.stem}_layout.yaml"
    write_pgm(pgm, render_pgm(gen),
              comment=f"warehouse_core.maps.layout_gen --preset {params.preset} (seed {params.seed})")
    nav.write_text(map_yaml(pgm.name, params.resolution))
    lay.write_text(layout_yaml(gen, nav.name))
    return {"pgm": pgm, "map": nav, "layout": lay}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m warehouse_core.maps.layout_gen", description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default")
    ap.add_argument("--out-dir", default="maps", help="output directory (default: maps)")
    ap.add_argument("--seed", type=int, default=None, help="override the preset's rack-placement seed")
    ap.add_argument("--stem", default=None, help="override the output file stem")
    args = ap.parse_args(argv)
    params = PRESETS[args.preset]
    if args.seed is not None:
        params = replace(params, seed=args.seed)
    if args.stem:
        params = replace(params, stem=args.stem)
    paths = write_layout(params, args.out_dir)
    from warehouse_core.maps.layout import load_layout  # validate what we wrote
    layout = load_layout(paths["layout"])
    print(f"wrote {paths['pgm']}, {paths['map']}, {paths['layout']}: {layout.grid.width} x "
          f"{layout.grid.height} cells, {len(layout.storage)} storage locations, {len(layout.rack_ids)} "
          f"racks, {len(layout.stations)} stations, {len(layout.chargers)} chargers")
    return 0


if __name__ == "__main__":
    sys.exit(main())

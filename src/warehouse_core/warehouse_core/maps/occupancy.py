"""Nav2-style occupancy maps (map YAML + PGM) and their planning-grid frame.

A Nav2 map is a YAML file naming an image plus its metric placement::

    image: warehouse.pgm          # relative to the YAML file
    mode: trinary                 # optional: trinary (default) | scale | raw
    resolution: 0.1               # metres per pixel
    origin: [0.0, 0.0, 0.0]       # map-frame pose (x, y, yaw) of the LOWER-LEFT pixel
    negate: 0
    occupied_thresh: 0.65
    free_thresh: 0.25

Pixel occupancy is computed as ``nav2_map_server`` does: ``p = (255 - v) / 255`` (``v / 255``
with ``negate``); a pixel is occupied if ``p > occupied_thresh``, free if ``p < free_thresh``
and unknown otherwise. In ``raw`` mode the pixel value is the occupancy in percent
(``p = v / 100``, values above 100 are unknown) and the same thresholds apply.
``scale`` mode gives the same free/occupied split as ``trinary``.

:meth:`OccupancyMap.to_grid` downsamples the pixels to square planning cells; the returned
:class:`GridFrame` converts between grid cells (``Coord = (column, row)``, row 0 = top image
row) and map-frame metres (REP-103: x right/east, y up/north).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from warehouse_core.errors import InputError, read_yaml_file
from warehouse_core.maps.grid import Coord, Grid

__all__ = [
    "GridFrame",
    "OccupancyMap",
    "load_occupancy_map",
    "occupancy_from_image",
    "read_pgm",
    "write_pgm",
]

MODES = ("trinary", "scale", "raw")
_REQUIRED_KEYS = ("image", "resolution", "origin", "negate", "occupied_thresh", "free_thresh")


# --------------------------------------------------------------------------------------------
# PGM
# --------------------------------------------------------------------------------------------

def write_pgm(path: str | Path, image: np.ndarray, *, ascii: bool = False, comment: str = "") -> None:
    """Write a 2-D ``uint8`` array as a PGM (P5 binary, or P2 text with ``ascii=True``).

    Row 0 of the array is the top row of the image.
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"write_pgm needs a 2-D array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError("write_pgm needs values in 0..255")
        arr = arr.astype(np.uint8)
    h, w = arr.shape
    header = ("P2" if ascii else "P5") + "\n"
    for line in comment.splitlines():
        header += f"# {line}\n"
    header += f"{w} {h}\n255\n"
    path = Path(path)
    if ascii:
        body = "\n".join(" ".join(str(int(v)) for v in row) for row in arr)
        path.write_text(header + body + "\n")
    else:
        path.write_bytes(header.encode("ascii") + np.ascontiguousarray(arr).tobytes())


def _pgm_header(data: bytes, src: str) -> tuple[str, int, int, int, int]:
    """Parse the PGM header; return (magic, width, height, maxval, offset of the pixel data)."""
    pos = 0
    n = len(data)
    tokens: list[str] = []
    while len(tokens) < 4:
        # skip whitespace and comments
        while pos < n:
            ch = data[pos:pos + 1]
            if ch.isspace():
                pos += 1
            elif ch == b"#":
                end = data.find(b"\n", pos)
                pos = n if end < 0 else end + 1
            else:
                break
        if pos >= n:
            raise InputError(src, f"PGM header ends after {len(tokens)} of 4 fields "
                             "(magic, width, height, maxval)", where="header",
                             fix="the file is truncated or not a PGM; re-save it as a PGM")
        start = pos
        while pos < n and not data[pos:pos + 1].isspace() and data[pos:pos + 1] != b"#":
            pos += 1
        tokens.append(data[start:pos].decode("ascii", errors="replace"))
        if len(tokens) == 1 and tokens[0] not in ("P5", "P2"):
            raise InputError(src, f"not a grey-scale PGM: magic number is {tokens[0][:8]!r}, "
                             "expected 'P5' (binary) or 'P2' (ascii)", where="header",
                             fix="convert the image to PGM (e.g. with ImageMagick: convert in.png out.pgm)")
    magic = tokens[0]
    try:
        width, height, maxval = (int(t) for t in tokens[1:4])
    except ValueError:
        raise InputError(src, f"PGM header fields {tokens[1:4]} are not integers", where="header",
                         fix="the header must be 'P5 <width> <height> <maxval>'") from None
    if width <= 0 or height <= 0:
        raise InputError(src, f"PGM size {width} x {height} is not positive", where="header")
    if not 0 < maxval <= 255:
        raise InputError(src, f"PGM maxval {maxval} is not supported (only 8-bit, maxval <= 255)",
                         where="header", fix="save the map as an 8-bit PGM (maxval 255)")
    if magic == "P5":
        # exactly one whitespace character separates maxval from the binary data
        if pos >= n or not data[pos:pos + 1].isspace():
            raise InputError(src, "PGM header is not followed by pixel data", where="header",
                             fix="the file is truncated; re-save the map")
        pos += 1
    return magic, width, height, maxval, pos


def read_pgm(path: str | Path) -> np.ndarray:
    """Read a P5 (binary) or P2 (ascii) 8-bit PGM; returns ``uint8[h, w]`` (row 0 = top).

    Images with ``maxval < 255`` are rescaled to 0..255. Raises :class:`InputError` for a
    missing file, a bad header or truncated pixel data.
    """
    path = Path(path)
    src = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(src, f"cannot read image: {exc.strerror}",
                         fix="check that the image file exists and is readable") from None
    magic, w, h, maxval, pos = _pgm_header(data, src)
    if magic == "P5":
        body = data[pos:pos + w * h]
        if len(body) < w * h:
            raise InputError(src, f"pixel data truncated: {w} x {h} image needs {w * h} bytes, "
                             f"file has {len(body)}", where="pixels",
                             fix="the file is truncated; re-generate or re-save the map")
        arr = np.frombuffer(body, dtype=np.uint8).reshape(h, w).copy()
    else:
        text = data[pos:].decode("ascii", errors="replace")
        text = re.sub(r"#[^\n]*", " ", text)
        try:
            values = np.array(text.split(), dtype=np.int64)
        except ValueError:
            raise InputError(src, "P2 pixel data contains non-integer values", where="pixels",
                             fix="the P2 body must be whitespace-separated integers") from None
        if values.size < w * h:
            raise InputError(src, f"pixel data truncated: {w} x {h} image needs {w * h} values, "
                             f"file has {values.size}", where="pixels",
                             fix="the file is truncated; re-generate or re-save the map")
        values = values[:w * h]
        if values.size and (values.min() < 0 or values.max() > maxval):
            raise InputError(src, f"P2 pixel values must be in 0..{maxval}", where="pixels")
        arr = values.reshape(h, w).astype(np.uint8)
    if maxval != 255:
        arr = np.round(arr.astype(np.float64) * (255.0 / maxval)).astype(np.uint8)
    return arr


# --------------------------------------------------------------------------------------------
# Grid frame
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GridFrame:
    """Placement of a planning grid in the map frame.

    ``(origin_x, origin_y)`` is the map-frame position (metres) of the grid's lower-left corner
    (the bottom-left corner of cell ``(0, rows - 1)``); cells are ``cell_size`` metres square.
    Grid row 0 is the TOP row, so a cell's centre is at
    ``x = origin_x + (col + 0.5) * cell_size``, ``y = origin_y + (rows - row - 0.5) * cell_size``
    (rotated by ``yaw`` about the origin when the map origin has a yaw).
    """

    origin_x: float
    origin_y: float
    cell_size: float
    rows: int
    yaw: float = 0.0

    def cells_to_world(self, xs, ys) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`cell_to_world`: columns ``xs`` and rows ``ys`` -> (wx, wy) centres."""
        cx = (np.asarray(xs, dtype=np.float64) + 0.5) * self.cell_size
        cy = (self.rows - np.asarray(ys, dtype=np.float64) - 0.5) * self.cell_size
        if self.yaw:
            c, s = math.cos(self.yaw), math.sin(self.yaw)
            cx, cy = c * cx - s * cy, s * cx + c * cy
        return self.origin_x + cx, self.origin_y + cy

    def world_to_cells(self, wx, wy) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`world_to_cell`: map-frame points -> (columns, rows) as int arrays."""
        dx = np.asarray(wx, dtype=np.float64) - self.origin_x
        dy = np.asarray(wy, dtype=np.float64) - self.origin_y
        if self.yaw:
            c, s = math.cos(self.yaw), math.sin(self.yaw)
            dx, dy = c * dx + s * dy, -s * dx + c * dy
        col = np.floor(dx / self.cell_size).astype(np.int64)
        row = self.rows - 1 - np.floor(dy / self.cell_size).astype(np.int64)
        return col, row

    def cell_to_world(self, c: Coord) -> tuple[float, float]:
        """Centre of grid cell ``c = (column, row)`` in map-frame metres."""
        wx, wy = self.cells_to_world(c[0], c[1])
        return float(wx), float(wy)

    def world_to_cell(self, x: float, y: float) -> Coord:
        """Grid cell ``(column, row)`` containing map-frame point ``(x, y)``.

        The result may lie outside the grid; check it with :meth:`Grid.in_bounds`.
        """
        col, row = self.world_to_cells(x, y)
        return int(col), int(row)


# --------------------------------------------------------------------------------------------
# Occupancy map
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class OccupancyMap:
    """Per-pixel occupancy of a Nav2 map (row 0 = top image row)."""

    occupied: np.ndarray
    free: np.ndarray
    resolution: float
    origin: tuple[float, float, float]
    source: str = ""
    mode: str = "trinary"
    image: str = field(default="", compare=False)

    @property
    def height(self) -> int:
        return int(self.free.shape[0])

    @property
    def width(self) -> int:
        return int(self.free.shape[1])

    @property
    def unknown(self) -> np.ndarray:
        return ~(self.free | self.occupied)

    def to_grid(self, cell_size: float) -> tuple[Grid, GridFrame]:
        """Downsample to planning cells of ``cell_size`` metres.

        ``cell_size`` must be a whole multiple of the resolution. A cell is free iff all its
        pixels are free. If the image size is not a multiple of the cell, the last column /
        bottom row of cells is completed with (non-free) padding pixels, and the frame origin
        moves down accordingly so that pixels keep their metric position.
        """
        try:
            cell_size = float(cell_size)
        except (TypeError, ValueError):
            raise InputError(self.source, f"cell_size {cell_size!r} is not a number",
                             where="cell_size") from None
        if not cell_size > 0:
            raise InputError(self.source, f"cell_size {cell_size} must be positive", where="cell_size",
                             fix=f"use a multiple of the map resolution {self.resolution} m")
        ratio = cell_size / self.resolution
        k = int(round(ratio))
        if k < 1 or abs(ratio - k) > 1e-6 * max(1.0, ratio):
            raise InputError(self.source, f"cell_size {cell_size} m is not a whole multiple of the "
                             f"map resolution {self.resolution} m", where="cell_size",
                             fix=f"use a cell_size of n * {self.resolution} m, e.g. "
                                 f"{max(1, round(ratio)) * self.resolution:g}")
        h, w = self.free.shape
        rows, cols = -(-h // k), -(-w // k)
        padded = np.zeros((rows * k, cols * k), dtype=bool)
        padded[:h, :w] = self.free
        free = padded.reshape(rows, k, cols, k).all(axis=(1, 3))
        pad_px = rows * k - h
        ox, oy, yaw = self.origin
        # the padding rows hang below the image: shift the lower-left corner down (in the map's
        # own rotated frame)
        dx, dy = 0.0, -pad_px * self.resolution
        if yaw:
            c, s = math.cos(yaw), math.sin(yaw)
            dx, dy = c * dx - s * dy, s * dx + c * dy
        frame = GridFrame(float(ox + dx), float(oy + dy), float(k * self.resolution), rows, float(yaw))
        return Grid(free), frame


def occupancy_from_image(image: np.ndarray, *, negate: bool = False, occupied_thresh: float = 0.65,
                         free_thresh: float = 0.25, mode: str = "trinary") -> tuple[np.ndarray, np.ndarray]:
    """``(occupied, free)`` bool masks of a ``uint8`` image, as ``nav2_map_server`` computes them."""
    v = np.asarray(image).astype(np.float64)
    if mode == "raw":
        p = v / 100.0
        known = v <= 100
        occupied = known & (p > occupied_thresh)
        free = known & (p < free_thresh)
        return occupied, free
    p = v / 255.0 if negate else (255.0 - v) / 255.0
    return p > occupied_thresh, p < free_thresh


def _number(doc: dict, key: str, src: str) -> float:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(src, f"'{key}' is {value!r}, expected a number", where=key)
    return float(value)


def _thresholds(doc: dict, src: str) -> tuple[float, float]:
    """(occupied_thresh, free_thresh), both probabilities, free below occupied."""
    occ_t = _number(doc, "occupied_thresh", src)
    free_t = _number(doc, "free_thresh", src)
    for key, val in (("occupied_thresh", occ_t), ("free_thresh", free_t)):
        if not 0.0 <= val <= 1.0:
            raise InputError(src, f"{key} {val} is outside [0, 1]", where=key,
                             fix="thresholds are probabilities, e.g. occupied_thresh: 0.65, free_thresh: 0.25")
    if free_t >= occ_t:
        raise InputError(src, f"free_thresh {free_t} must be below occupied_thresh {occ_t}",
                         where="free_thresh", fix="e.g. occupied_thresh: 0.65, free_thresh: 0.25")
    return occ_t, free_t


def _image_path(image: object, yaml_path: Path, src: str) -> Path:
    """The PGM a map YAML names, relative to the YAML file."""
    if not isinstance(image, str) or not image:
        raise InputError(src, f"image {image!r} must be a file name", where="image")
    image_path = Path(image)
    if not image_path.is_absolute():
        image_path = yaml_path.parent / image_path
    if not image_path.is_file():
        raise InputError(src, f"image file {image_path} does not exist", where="image",
                         fix="the image path is relative to the map YAML; check the name or regenerate "
                             "the map (python -m warehouse_core.maps.layout_gen)")
    if image_path.suffix.lower() not in (".pgm", ".pnm"):
        raise InputError(src, f"image {image_path.name} is not a PGM (only .pgm images are supported)",
                         where="image", fix="convert the image to PGM")
    return image_path


def load_occupancy_map(yaml_path: str | Path) -> OccupancyMap:
    """Load a Nav2 map YAML and the PGM image it names (relative to the YAML file)."""
    yaml_path = Path(yaml_path)
    src = str(yaml_path)
    _, doc = read_yaml_file(yaml_path, "map YAML",
                            fix="check the map path (a Nav2 map YAML such as maps/warehouse.yaml)")
    if not isinstance(doc, dict):
        raise InputError(src, "a Nav2 map YAML must be a mapping with keys " + ", ".join(_REQUIRED_KEYS),
                         fix="see maps/README.md for the format")
    missing = [k for k in _REQUIRED_KEYS if k not in doc]
    if missing:
        raise InputError(src, f"missing key(s) {', '.join(missing)}", where=missing[0],
                         fix="a Nav2 map YAML needs image, resolution, origin, negate, "
                             "occupied_thresh and free_thresh")

    mode = doc.get("mode", "trinary")
    if mode not in MODES:
        raise InputError(src, f"mode {mode!r} is not one of {', '.join(MODES)}", where="mode",
                         fix="use mode: trinary (or leave it out)")

    resolution = _number(doc, "resolution", src)
    if resolution <= 0:
        raise InputError(src, f"resolution {resolution} must be positive (metres per pixel)",
                         where="resolution", fix="e.g. resolution: 0.05")

    origin = doc["origin"]
    if (not isinstance(origin, (list, tuple)) or len(origin) != 3
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                   for v in origin)):
        raise InputError(src, f"origin {origin!r} must be a list of 3 numbers [x, y, yaw]",
                         where="origin", fix="e.g. origin: [0.0, 0.0, 0.0]")
    origin_t = (float(origin[0]), float(origin[1]), float(origin[2]))

    negate = doc["negate"]
    if negate not in (0, 1, True, False):
        raise InputError(src, f"negate {negate!r} must be 0 or 1", where="negate")

    occ_t, free_t = _thresholds(doc, src)

    image_path = _image_path(doc["image"], yaml_path, src)
    pixels = read_pgm(image_path)
    occupied, free = occupancy_from_image(pixels, negate=bool(negate), occupied_thresh=occ_t,
                                          free_thresh=free_t, mode=mode)
    return OccupancyMap(occupied=occupied, free=free, resolution=resolution, origin=origin_t,
                        source=src, mode=mode, image=str(image_path))

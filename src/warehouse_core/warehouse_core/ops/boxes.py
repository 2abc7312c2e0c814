"""The box catalogue: shipping boxes with inner dimensions, material and cost, read from YAML.

``config/boxes.yaml`` lists ``boxes:``, each ``{id, inner_dims_m: [l, w, h], cost, max_weight_kg}``
(``wall_m`` optional, default 0.005: outer dimensions are inner plus two walls). A box's
material is its outer surface area. Every problem is an :class:`InputError` naming the file,
the line of the offending entry and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from warehouse_core.errors import InputError, read_yaml_file


@dataclass(frozen=True)
class Box:
    """A box type: inner dimensions (m), wall thickness (m), cost (currency units), load limit (kg)."""

    box_id: str
    inner_dims_m: tuple[float, float, float]
    cost: float
    max_weight_kg: float = 30.0
    wall_m: float = 0.005

    @property
    def outer_dims_m(self) -> tuple[float, float, float]:
        l, w, h = self.inner_dims_m
        return (l + 2 * self.wall_m, w + 2 * self.wall_m, h + 2 * self.wall_m)

    @property
    def surface_m2(self) -> float:
        """Outer surface area: the material a box of this type uses."""
        l, w, h = self.outer_dims_m
        return 2.0 * (l * w + l * h + w * h)

    @property
    def volume_m3(self) -> float:
        l, w, h = self.inner_dims_m
        return l * w * h


def load_boxes(path: str | Path) -> list[Box]:
    """The catalogue in ``path``, sorted by surface area (smallest first)."""
    path = Path(path)
    text, doc = read_yaml_file(path, "box catalogue", fix="give the box catalogue YAML")
    root = yaml.compose(text)  # parses: safe_load just did (for the line numbers of the entries)
    if not isinstance(doc, dict) or not isinstance(doc.get("boxes"), list) or not doc["boxes"]:
        raise InputError(str(path), "no 'boxes:' list", where="1",
                         fix="write boxes: followed by entries {id, inner_dims_m: [l, w, h], cost}")
    nodes = next(v for k, v in root.value if k.value == "boxes").value
    boxes: list[Box] = []
    seen: set[str] = set()
    for node, entry in zip(nodes, doc["boxes"]):
        line = str(node.start_mark.line + 1)
        boxes.append(_box(entry, str(path), line, seen))
    return sorted(boxes, key=lambda b: (b.surface_m2, b.box_id))


def _box(entry, source: str, line: str, seen: set[str]) -> Box:
    if not isinstance(entry, dict):
        raise InputError(source, "a box entry must be a mapping", where=line,
                         fix="write {id: B1, inner_dims_m: [0.3, 0.2, 0.1], cost: 0.5}")
    unknown = set(entry) - {"id", "inner_dims_m", "cost", "max_weight_kg", "wall_m"}
    if unknown:
        raise InputError(source, f"unknown key(s) {sorted(unknown)}", where=line,
                         fix="use id, inner_dims_m, cost, max_weight_kg, wall_m")
    box_id = entry.get("id")
    if not isinstance(box_id, str) or not box_id.strip():
        raise InputError(source, "box without an id", where=line, fix="give every box a unique id string")
    if box_id in seen:
        raise InputError(source, f"duplicate box id {box_id!r}", where=line, fix="give every box a unique id")
    seen.add(box_id)
    dims = entry.get("inner_dims_m")
    if not isinstance(dims, list) or len(dims) != 3 or not all(_positive(d) for d in dims):
        raise InputError(source, f"box {box_id}: inner_dims_m {dims!r} must be three positive lengths in m",
                         where=line, fix="write inner_dims_m: [l, w, h], e.g. [0.3, 0.2, 0.1]")
    if any(d > 5.0 for d in dims):
        raise InputError(source, f"box {box_id}: inner_dims_m {dims!r} has a side over 5 m", where=line,
                         fix="dimensions are in metres")
    cost = entry.get("cost")
    if not _positive(cost, allow_zero=True):
        raise InputError(source, f"box {box_id}: cost {cost!r} must be a number >= 0", where=line)
    limit = entry.get("max_weight_kg", 30.0)
    if not _positive(limit):
        raise InputError(source, f"box {box_id}: max_weight_kg {limit!r} must be a positive number", where=line)
    wall = entry.get("wall_m", 0.005)
    if not _positive(wall, allow_zero=True) or wall > 0.05:
        raise InputError(source, f"box {box_id}: wall_m {wall!r} must be 0..0.05 m", where=line)
    return Box(box_id, (float(dims[0]), float(dims[1]), float(dims[2])), float(cost), float(limit), float(wall))


def _positive(value, allow_zero: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value >= 0 if allow_zero else value > 0

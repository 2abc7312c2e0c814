"""Right-sized packing: the box of least material with a feasible 3-D placement of a parcel's items.

:func:`pack_parcel` builds one OR-Tools CP-SAT model per parcel: a choice of one box among the
candidates (catalogue boxes that pass cheap necessary tests: weight, volume, every item fits
alone), one allowed orientation per item, integer positions (millimetres) inside the chosen
box, and pairwise non-overlap (for every pair of items one of the six "is left/right/in
front/behind/below/above" relations holds). The objective is the chosen box's surface area.
The rule baseline (:func:`stacked_rule_box`) gives an upper bound and a solution hint. If the
items fit no single box the parcel is split over several boxes.

Lengths are rounded to whole millimetres outward for items and inward for boxes, so a placement
valid in millimetres is valid in metres.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from warehouse_core.ops.boxes import Box
from warehouse_core.ops.items import ItemSpec, orientations

MM = 1000.0


@dataclass(frozen=True)
class Placement:
    """An item in a box: its SKU, extents as placed and the position of its min corner (m)."""

    sku: str
    dims_m: tuple[float, float, float]
    position_m: tuple[float, float, float]
    weight_kg: float = 0.0


@dataclass(frozen=True)
class PackedBox:
    """One box of a parcel with the placement of each of its items."""

    box: Box
    placements: tuple[Placement, ...]
    status: str  # "optimal" (proved least surface among the candidates) or "feasible" (time limit hit)

    @property
    def utilisation(self) -> float:
        """Item volume over the box's inner volume."""
        used = sum(p.dims_m[0] * p.dims_m[1] * p.dims_m[2] for p in self.placements)
        return used / self.box.volume_m3

    @property
    def weight_kg(self) -> float:
        return sum(p.weight_kg for p in self.placements)


@dataclass(frozen=True)
class PackResult:
    """The boxes of a parcel (usually one) and the solver's wall time."""

    boxes: tuple[PackedBox, ...]
    solve_s: float

    @property
    def surface_m2(self) -> float:
        return sum(b.box.surface_m2 for b in self.boxes)


class PackingError(ValueError):
    """An item that fits no box of the catalogue in any allowed orientation, or is too heavy."""


def _mm_up(x: float) -> int:
    return int(-(-round(x * MM * 1000) // 1000))  # ceil, tolerant of float noise


def _mm_down(x: float) -> int:
    return int(round(x * MM * 1000) // 1000)


def _box_mm(box: Box) -> tuple[int, int, int]:
    return tuple(_mm_down(d) for d in box.inner_dims_m)  # type: ignore[return-value]


def _item_orients_mm(item: ItemSpec) -> list[tuple[int, int, int]]:
    return orientations(tuple(_mm_up(d) for d in item.dims_m), item.upright, item.vertical)


def fits_alone(item: ItemSpec, box: Box) -> bool:
    bl, bw, bh = _box_mm(box)
    return any(l <= bl and w <= bw and h <= bh for l, w, h in _item_orients_mm(item))


def stacked_extents(items: list[ItemSpec]) -> tuple[float, float, float]:
    """Extents of the items stacked in one column, each lying on its largest allowed face:
    (longest footprint side, shortest footprint side, total height)."""
    long_side = short_side = height = 0.0
    for it in items:
        lowest = min(orientations(it.dims_m, it.upright, it.vertical), key=lambda o: o[2])
        foot, h = sorted(lowest[:2], reverse=True), lowest[2]
        long_side, short_side, height = max(long_side, foot[0]), max(short_side, foot[1]), height + h
    return long_side, short_side, height


def stacked_rule_box(items: list[ItemSpec], boxes: list[Box]) -> Box | None:
    """The rule baseline: the smallest-surface box whose sorted inner dimensions are at least the
    sorted extents of the stacked items (None if no box is large enough)."""
    need = sorted(stacked_extents(items))
    weight = sum(it.weight_kg for it in items)
    fitting = [b for b in boxes if weight <= b.max_weight_kg
               and all(n <= d + 1e-9 for n, d in zip(need, sorted(b.inner_dims_m)))]
    return min(fitting, key=lambda b: (b.surface_m2, b.box_id), default=None)


def _stacked_placement(items: list[ItemSpec], box: Box) -> list[tuple[int, tuple[int, int, int]]] | None:
    """The rule's column as (orientation index, position mm) per item, if it is valid in ``box``
    with the stack vertical and footprints along the box's length (None otherwise)."""
    bl, bw, bh = _box_mm(box)
    out, z = [], 0
    for it in items:
        opts = _item_orients_mm(it)
        ok = [(k, o) for k, o in enumerate(opts) if o[0] <= bl and o[1] <= bw and z + o[2] <= bh]
        if not ok:
            return None
        k, o = min(ok, key=lambda ko: ko[1][2])
        out.append((k, (0, 0, z)))
        z += o[2]
    return out


def pack_parcel(items: list[ItemSpec], boxes: list[Box], time_limit_s: float = 1.0,
                workers: int = 1) -> PackResult:
    """Choose the box of least surface area holding ``items`` with a verified-feasible placement
    (CP-SAT). Raises :class:`PackingError` for an item no box can hold."""
    start = time.perf_counter()
    if not items:
        raise PackingError("a parcel without items cannot be packed")
    for it in items:
        if not any(fits_alone(it, b) and it.weight_kg <= b.max_weight_kg for b in boxes):
            raise PackingError(f"item {it.sku} ({'x'.join(f'{d:.3f}' for d in it.dims_m)} m, "
                               f"{it.weight_kg} kg{', upright' if it.upright else ''}) fits no box "
                               "of the catalogue: add a larger box to the catalogue")
    groups = [sorted(items, key=lambda it: (-it.volume_m3, it.sku))]
    packed: list[PackedBox] = []
    while groups:
        group = groups.pop()
        result = _pack_one_box(group, boxes, max(0.05, time_limit_s - (time.perf_counter() - start)), workers)
        if result is not None:
            packed.append(result)
            continue
        if len(group) == 1:  # fits alone (checked above) but the solver found no placement in time
            raise PackingError(f"no placement of item {group[0].sku} found within {time_limit_s} s: "
                               "raise the packing time limit")
        # no single box holds the group: split it in two halves of about equal volume
        half_a, half_b, vol_a, vol_b = [], [], 0.0, 0.0
        for it in group:
            if vol_a <= vol_b:
                half_a.append(it)
                vol_a += it.volume_m3
            else:
                half_b.append(it)
                vol_b += it.volume_m3
        groups.extend([half_b, half_a])
    return PackResult(tuple(packed), time.perf_counter() - start)


def _pack_one_box(items: list[ItemSpec], boxes: list[Box], time_limit_s: float, workers: int) -> PackedBox | None:
    """All ``items`` in one box of least surface (CP-SAT), or None if no box holds them."""
    rule = stacked_rule_box(items, boxes)
    hint = _stacked_placement(items, rule) if rule is not None else None
    if hint is None:  # the rule's column breaks an orientation limit: it bounds nothing
        rule = None
    weight = sum(it.weight_kg for it in items)
    volume = sum(it.volume_m3 for it in items)
    candidates = [b for b in boxes if weight <= b.max_weight_kg and volume <= b.volume_m3 + 1e-12
                  and all(fits_alone(it, b) for it in items)
                  and (rule is None or b.surface_m2 <= rule.surface_m2)]
    if not candidates:
        return None
    bm = _BoxModel(items, candidates)
    if rule is not None and hint is not None:  # start from the rule's column
        bm.hint(rule, hint)
    return bm.solve(time_limit_s, workers)


class _BoxModel:
    """The CP-SAT model of :func:`_pack_one_box`: one box chosen among ``candidates`` (least surface),
    each item in one of its orientations, inside the box, no two overlapping."""

    def __init__(self, items: list[ItemSpec], candidates: list[Box]) -> None:
        from ortools.sat.python import cp_model

        self.items = items
        self.candidates = candidates
        self.dims = [_box_mm(b) for b in candidates]
        self.orients = [_item_orients_mm(it) for it in items]
        m = self.m = cp_model.CpModel()
        self.choose = [m.new_bool_var(f"box{k}") for k in range(len(candidates))]
        m.add_exactly_one(self.choose)
        self.size = [m.new_int_var(min(d[a] for d in self.dims), max(d[a] for d in self.dims), f"box_{a}")
                     for a in range(3)]
        for a in range(3):
            m.add(self.size[a] == sum(d[a] * c for d, c in zip(self.dims, self.choose)))
        self.pos: list[list] = []
        self.ext: list[list] = []
        self.end: list[list] = []
        self.pick: list[list] = []
        for i in range(len(items)):
            self._add_item(i)
        self._add_face_relaxation()
        self._add_no_overlap()
        m.minimize(sum(round(b.surface_m2 * 1e4) * c for b, c in zip(candidates, self.choose)))

    def _add_item(self, i: int) -> None:
        """Item ``i``: one orientation, its extents, min and max corners inside the box."""
        m, opts = self.m, self.orients[i]
        top = [max(d[a] for d in self.dims) for a in range(3)]
        o = [m.new_bool_var(f"o{i}_{r}") for r in range(len(opts))]
        m.add_exactly_one(o)
        e = []
        for a in range(3):
            v = m.new_int_var(min(opt[a] for opt in opts), max(opt[a] for opt in opts), f"e{i}_{a}")
            m.add(v == sum(opt[a] * lit for opt, lit in zip(opts, o)))
            e.append(v)
        p = [m.new_int_var(0, top[a], f"p{i}_{a}") for a in range(3)]
        q = [m.new_int_var(0, top[a], f"q{i}_{a}") for a in range(3)]  # max corner
        for a in range(3):
            m.add(q[a] == p[a] + e[a])
            m.add(q[a] <= self.size[a])
        self.end.append(q)
        self.pos.append(p)
        self.ext.append(e)
        self.pick.append(o)

    def _add_face_relaxation(self) -> None:
        """Redundant relaxation: along each axis, the cross-sections of the items overlapping any
        coordinate cannot exceed the box face (a cumulative constraint per axis)."""
        m, n = self.m, len(self.items)
        for a in range(3):
            b1, b2 = [x for x in range(3) if x != a]
            intervals = [m.new_interval_var(self.pos[i][a], self.ext[i][a], self.end[i][a], f"iv{i}_{a}")
                         for i in range(n)]
            demands = []
            for i in range(n):
                areas = [opt[b1] * opt[b2] for opt in self.orients[i]]
                area = m.new_int_var(min(areas), max(areas), f"area{i}_{a}")
                m.add(area == sum(c * lit for c, lit in zip(areas, self.pick[i])))
                demands.append(area)
            face = m.new_int_var(0, max(d[b1] * d[b2] for d in self.dims), f"face{a}")
            m.add(face == sum(d[b1] * d[b2] * c for d, c in zip(self.dims, self.choose)))
            m.add_cumulative(intervals, demands, face)

    def _add_no_overlap(self) -> None:
        """Every pair of items apart along at least one axis."""
        m, pos, end, items = self.m, self.pos, self.end, self.items
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                rel = []
                for a in range(3):
                    before, after = m.new_bool_var(f"b{i}_{j}_{a}"), m.new_bool_var(f"a{i}_{j}_{a}")
                    m.add(end[i][a] <= pos[j][a]).only_enforce_if(before)
                    m.add(end[j][a] <= pos[i][a]).only_enforce_if(after)
                    rel += [before, after]
                m.add_bool_or(rel)
                if items[i] == items[j]:  # identical units: any solution can be relabelled so x_i <= x_j
                    m.add(pos[i][0] <= pos[j][0])

    def hint(self, box: Box, placement: list[tuple[int, tuple[int, int, int]]]) -> None:
        """Start the search from ``placement`` (orientation index, min corner per item) in ``box``."""
        for k, c in enumerate(self.choose):
            self.m.add_hint(c, self.candidates[k] == box)
        for i, (r, p) in enumerate(placement):
            for rr, lit in enumerate(self.pick[i]):
                self.m.add_hint(lit, rr == r)
            for a in range(3):
                self.m.add_hint(self.pos[i][a], p[a])

    def solve(self, time_limit_s: float, workers: int) -> PackedBox | None:
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit_s
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = 0
        # these models are small: presolve and LP relaxations cost more than they save (measured in
        # benchmarks/packing.py: p95 solve time 183 ms -> 8 ms on a loaded 2-core machine, same boxes)
        solver.parameters.cp_model_presolve = False
        solver.parameters.linearization_level = 0
        status = solver.solve(self.m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        k = next(k for k, c in enumerate(self.choose) if solver.value(c))
        placements = []
        for i, it in enumerate(self.items):
            r = next(r for r, lit in enumerate(self.pick[i]) if solver.value(lit))
            placements.append(Placement(it.sku, tuple(v / MM for v in self.orients[i][r]),  # type: ignore[arg-type]
                                        tuple(solver.value(self.pos[i][a]) / MM for a in range(3)),  # type: ignore[arg-type]
                                        it.weight_kg))
        return PackedBox(self.candidates[k], tuple(placements),
                         "optimal" if status == cp_model.OPTIMAL else "feasible")


def load_container(items: list[ItemSpec], container_m: tuple[float, float, float], time_limit_s: float = 10.0,
                   candidates: int = 3) -> tuple[list[Placement], float]:
    """Container loading (single knapsack: maximise the loaded volume) by walls and strips.

    The container is filled in walls along its length, each wall in horizontal strips, each
    strip a row of boxes across the width. Each strip is an exact bounded knapsack (CP-SAT:
    how many boxes of each type and orientation, most volume within the width); for walls and
    strips the ``candidates`` depths/heights with the most remaining cargo are tried and the
    densest kept. Returns the placements and the volume utilisation.
    """
    start = time.perf_counter()
    size = tuple(_mm_down(d) for d in container_m)
    counts: dict[ItemSpec, int] = {}
    for it in items:
        counts[it] = counts.get(it, 0) + 1
    orients = {it: _item_orients_mm(it) for it in counts}
    placed: list[Placement] = []
    x = 0
    while time.perf_counter() - start < time_limit_s:
        depths = _ranked_extents(counts, orients, 0, size[0] - x, size, candidates)
        best = None
        for d in depths:
            wall = _fill_wall(dict(counts), orients, d, size)
            fill = sum(orients_volume(o) for _it, o, _p in wall) / (d * size[1] * size[2])
            if wall and (best is None or fill > best[0]):
                best = (fill, wall)
        if best is None:
            break
        wall = best[1]
        for it, o, (y, z) in wall:
            counts[it] -= 1
            placed.append(Placement(it.sku, tuple(v / MM for v in o), (x / MM, y / MM, z / MM),  # type: ignore[arg-type]
                                    it.weight_kg))
        x += max(o[0] for _it, o, _p in wall)
    loaded = sum(p.dims_m[0] * p.dims_m[1] * p.dims_m[2] for p in placed)
    return placed, loaded / (container_m[0] * container_m[1] * container_m[2])


def orients_volume(o: tuple[int, int, int]) -> int:
    return o[0] * o[1] * o[2]


def _ranked_extents(counts, orients, axis: int, room: int, size, candidates: int) -> list[int]:
    """Extents along ``axis`` that fit in ``room``, ranked by the remaining volume that has them."""
    volume: dict[int, int] = {}
    for it, n in counts.items():
        for o in orients[it]:
            if n and o[axis] <= room and all(o[a] <= size[a] for a in range(3)):
                volume[o[axis]] = volume.get(o[axis], 0) + n * orients_volume(o)
    return sorted(volume, key=lambda e: (-volume[e], -e))[:candidates]


def _fill_wall(counts, orients, depth: int, size) -> list[tuple[ItemSpec, tuple[int, int, int], tuple[int, int]]]:
    """A wall of at most ``depth`` (mm): strips stacked up the height, each the best of a few."""
    out = []
    z = 0
    while True:
        fitting = {it: [o for o in orients[it] if o[0] <= depth] for it in counts}
        heights = _ranked_extents({it: n for it, n in counts.items() if fitting[it]}, fitting, 2,
                                  size[2] - z, size, 3)
        best = None
        for h in heights:
            strip = _fill_strip(counts, {it: [o for o in os_ if o[2] <= h] for it, os_ in fitting.items()}, size[1])
            fill = sum(orients_volume(o) for _it, o in strip) / (depth * size[1] * h)
            if strip and (best is None or fill > best[0]):
                best = (fill, strip)
        if best is None:
            return out
        y = 0
        for it, o in best[1]:
            counts[it] -= 1
            out.append((it, o, (y, z)))
            y += o[1]
        z += max(o[2] for _it, o in best[1])


def _fill_strip(counts, options, width: int) -> list[tuple[ItemSpec, tuple[int, int, int]]]:
    """Bounded knapsack across the width (CP-SAT): boxes and orientations of most volume."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    terms = []
    for it, opts in options.items():
        if not counts.get(it) or not opts:
            continue
        ns = [m.new_int_var(0, min(counts[it], width // o[1]), "") for o in opts]
        m.add(sum(ns) <= counts[it])
        terms.extend((it, o, n) for o, n in zip(opts, ns))
    if not terms:
        return []
    m.add(sum(o[1] * n for _it, o, n in terms) <= width)
    m.maximize(sum(orients_volume(o) // 1000 * n for _it, o, n in terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 1.0
    solver.parameters.num_workers = 1
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    return [(it, o) for it, o, n in terms for _ in range(solver.value(n))]

"""Physical attributes of SKUs for packing: dimensions, weight and orientation limits.

An item is a single unit of a SKU. ``dims_m`` are length, width and height as the item stands
when upright; an ``upright`` item ("this side up") may only turn about the vertical axis, any
other item may be placed in any of the six axis-aligned orientations. Finer limits, as in the
container-loading literature, are given per dimension: ``vertical`` says which of the item's own
length, width and height may stand vertical (``upright`` is the case "only the height").
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ItemSpec:
    """One unit of a SKU: dimensions (m; height last when upright), weight (kg), orientation limits.

    ``vertical`` (optional) names, per dimension of ``dims_m``, whether it may stand vertical; left
    out it follows ``upright`` (only the height) or allows all three.
    """

    sku: str
    dims_m: tuple[float, float, float]
    weight_kg: float
    upright: bool = False
    vertical: tuple[bool, bool, bool] | None = None

    def __post_init__(self) -> None:
        if self.vertical is None:
            return
        if len(self.vertical) != 3 or not any(self.vertical):
            raise ValueError(f"item {self.sku}: vertical flags {self.vertical} must be three and allow at least "
                             "one dimension to stand vertical")
        object.__setattr__(self, "vertical", tuple(bool(v) for v in self.vertical))  # hashable, plain bools
        if self.upright and self.vertical != (False, False, True):
            raise ValueError(f"item {self.sku}: upright means only the height stands vertical, but vertical "
                             f"flags are {self.vertical}: give one or the other")

    @property
    def vertical_ok(self) -> tuple[bool, bool, bool]:
        """Per dimension of ``dims_m``: whether it may be the vertical extent."""
        return vertical_flags(self.upright, self.vertical)

    @property
    def volume_m3(self) -> float:
        l, w, h = self.dims_m
        return l * w * h


def vertical_flags(upright: bool, vertical: tuple[bool, bool, bool] | None) -> tuple[bool, bool, bool]:
    """Per dimension: whether it may stand vertical (``vertical`` if given, else from ``upright``)."""
    if vertical is not None:
        return vertical
    return (False, False, True) if upright else (True, True, True)


def orientations(dims: tuple, upright: bool, vertical: tuple[bool, bool, bool] | None = None) -> list[tuple]:
    """The distinct axis-aligned (x, y, z) extents an item may take; z is vertical. ``vertical``,
    when given, lists per dimension of ``dims`` whether it may be the z extent (and overrides
    ``upright``)."""
    allowed = vertical_flags(upright, vertical)
    perms = [(dims[i], dims[j], dims[k]) for i, j, k in itertools.permutations(range(3)) if allowed[k]]
    return list(dict.fromkeys(perms))


def seeded_item_specs(skus: list[str] | tuple[str, ...], seed: int) -> dict[str, ItemSpec]:
    """Seeded SKU sizes from a few product families (small parts, books, boxed goods, bottles),
    weights from a density per family; bottles and a share of boxed goods are upright-only."""
    rng = random.Random(seed)
    families = (  # (share, length range, width range, height range, density kg/m3, upright share)
        (0.30, (0.06, 0.18), (0.04, 0.12), (0.02, 0.08), 300.0, 0.0),   # small parts, accessories
        (0.20, (0.15, 0.28), (0.10, 0.21), (0.01, 0.05), 600.0, 0.0),   # books, media, flat goods
        (0.35, (0.10, 0.35), (0.08, 0.25), (0.05, 0.20), 200.0, 0.3),   # boxed goods
        (0.15, (0.06, 0.12), (0.06, 0.12), (0.15, 0.32), 500.0, 1.0),   # bottles, jars: upright
    )
    out: dict[str, ItemSpec] = {}
    for sku in skus:
        pick, family = rng.random(), families[-1]
        for fam in families:
            pick -= fam[0]
            if pick <= 0:
                family = fam
                break
        _, lr, wr, hr, density, upright_share = family
        l, w, h = (round(rng.uniform(*r), 3) for r in (lr, wr, hr))
        weight = round(max(0.02, l * w * h * density * rng.uniform(0.6, 1.4)), 3)
        out[sku] = ItemSpec(sku, (l, w, h), weight, rng.random() < upright_share)
    return out

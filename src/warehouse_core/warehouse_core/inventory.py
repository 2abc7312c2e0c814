"""Inventory: which SKUs stand on which rack, in what quantity, and their popularity.

A SKU may sit on several racks and a rack holds several SKUs. Stock is *reserved* when an
order line is given to a rack visit and *removed* when it is picked, so two visits never
count on the same units.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Inventory:
    """Stock per rack and SKU, with reservations."""

    stock: dict[str, dict[str, int]]  # rack -> sku -> units on the rack
    popularity: dict[str, float]  # sku -> relative demand weight
    reserved: dict[str, dict[str, int]] = field(default_factory=dict)
    racks_by_sku: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.racks_by_sku = {}
        for rack, items in self.stock.items():
            for sku in items:
                self.racks_by_sku.setdefault(sku, []).append(rack)

    @property
    def skus(self) -> frozenset[str]:
        return frozenset(self.popularity)

    def available(self, rack: str, sku: str) -> int:
        return self.stock.get(rack, {}).get(sku, 0) - self.reserved.get(rack, {}).get(sku, 0)

    def total_available(self, sku: str) -> int:
        return sum(self.available(r, sku) for r in self.racks_by_sku.get(sku, ()))

    def racks_for(self, sku: str, quantity: int) -> list[str]:
        """Racks that can serve ``quantity`` units of ``sku`` in one visit."""
        return [r for r in self.racks_by_sku.get(sku, ()) if self.available(r, sku) >= quantity]

    def reserve(self, rack: str, sku: str, quantity: int) -> None:
        if self.available(rack, sku) < quantity:
            raise ValueError(f"rack {rack} has only {self.available(rack, sku)} of {sku}")
        per = self.reserved.setdefault(rack, {})
        per[sku] = per.get(sku, 0) + quantity

    def unreserve(self, rack: str, sku: str, quantity: int) -> None:
        per = self.reserved.setdefault(rack, {})
        per[sku] = max(0, per.get(sku, 0) - quantity)

    def pick(self, rack: str, sku: str, quantity: int) -> None:
        """Remove picked units (previously reserved) from the rack."""
        self.unreserve(rack, sku, quantity)
        self.stock[rack][sku] -= quantity


def seeded_inventory(rack_ids: list[str], n_skus: int, seed: int,
                     racks_per_sku: int = 3, units: tuple[int, int] = (20, 60),
                     zipf_s: float = 1.1) -> Inventory:
    """A catalogue with skewed popularity (few fast movers, a long tail) spread over racks.

    Each SKU is placed on ``racks_per_sku`` racks (the top 5 % on two more), spread evenly
    over the racks.
    """
    rng = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    popularity = {s: 1.0 / (rank + 1) ** zipf_s for rank, s in enumerate(skus)}
    stock: dict[str, dict[str, int]] = {r: {} for r in rack_ids}
    slots = []
    for rank, sku in enumerate(skus):
        copies = racks_per_sku + (2 if rank < n_skus // 20 else 0)
        slots.extend([sku] * copies)
    rng.shuffle(slots)
    racks = list(rack_ids)
    for i, sku in enumerate(slots):
        rack = racks[i % len(racks)]
        if sku in stock[rack]:
            rack = rng.choice(racks)
        stock[rack][sku] = stock[rack].get(sku, 0) + rng.randint(*units)
    return Inventory(stock, popularity)

"""Replenishment shifts: every rack filled back up to its starting stock.

Without them a long run sells out its popular SKUs and refuses their orders. The starting stock
of each rack counts as its capacity per SKU; a shift never touches reservations (reserved units
stay on their rack).
"""

from __future__ import annotations

from warehouse_core.ops.inventory import Inventory


class Restocking:
    """When the next replenishment shift is due, and what the shifts added so far."""

    def __init__(self, inventory: Inventory, every: float) -> None:
        self.inventory = inventory
        self.every = every  # s between shifts (0 = never)
        self._full_stock = {rack: dict(items) for rack, items in inventory.stock.items()}
        self.replenished_at = 0.0  # sim time of the last shift (the start counts as one)
        self.replenishments = 0
        self.units_replenished = 0

    def due(self, now: float) -> bool:
        return self.every > 0 and now >= self.replenished_at + self.every

    def replenish(self, now: float) -> int:
        """A replenishment shift at ``now``; returns the units added."""
        added = self.inventory.restock(self._full_stock)
        self.replenished_at = now
        self.replenishments += 1
        self.units_replenished += added
        return added

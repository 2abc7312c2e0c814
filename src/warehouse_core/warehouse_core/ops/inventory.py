"""Inventory: which SKUs stand on which rack, in what quantity, and their popularity.

A SKU may sit on several racks and a rack holds several SKUs. Stock is *reserved* when an
order line is given to a rack visit and *removed* when it is picked, so two visits never
count on the same units.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from warehouse_core.errors import InputError
from warehouse_core.ops.orders import MAX_ID_CHARS


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

    def restock(self, levels: dict[str, dict[str, int]]) -> int:
        """Fill racks up to ``levels`` (rack -> sku -> units; never lowers a stock); returns
        the units added. Reservations are untouched: reserved units stay on their rack."""
        added = 0
        for rack, items in levels.items():
            on_rack = self.stock[rack]
            for sku, units in items.items():
                have = on_rack.get(sku, 0)
                if have < units:
                    on_rack[sku] = units
                    added += units - have
        return added


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


def load_inventory_csv(directory: str | Path, layout) -> tuple[Inventory, dict[str, str]]:
    """Catalogue and stock from CSV files in ``directory``; validated line by line.

    * ``skus.csv``: ``sku,popularity`` (relative demand weight >= 0);
    * ``racks.csv`` (optional): ``rack,location``: which rack stands on which storage location
      of the layout at start (without it, the layout's own placement is used);
    * ``stock.csv``: ``rack,sku,quantity`` (a whole number >= 0).

    Returns the inventory and the rack placement (location id -> rack id). Every problem is
    an :class:`InputError` naming the file, the line and the fix.
    """
    directory = Path(directory)
    skus: dict[str, float] = {}
    for line, row in csv_rows(directory / "skus.csv", ("sku", "popularity")):
        sku = row["sku"]
        if sku in skus:
            raise InputError(str(directory / "skus.csv"), f"duplicate sku {sku!r}", where=str(line),
                             fix="list every SKU once")
        if len(sku) > MAX_ID_CHARS:  # no order could name it
            raise InputError(str(directory / "skus.csv"), f"sku is {len(sku)} characters long", where=str(line),
                             fix=f"use SKU ids of at most {MAX_ID_CHARS} characters")
        skus[sku] = _number(row["popularity"], directory / "skus.csv", line, "popularity", integer=False)
    placement = {loc.id: loc.rack for loc in layout.storage if loc.rack}
    racks_file = directory / "racks.csv"
    if racks_file.exists():
        placement, seen = {}, set()
        locations = {loc.id for loc in layout.storage}
        for line, row in csv_rows(racks_file, ("rack", "location")):
            rack, loc = row["rack"], row["location"]
            if rack in seen:
                raise InputError(str(racks_file), f"duplicate rack id {rack!r}", where=str(line),
                                 fix="each rack stands on one location")
            if loc not in locations:
                raise InputError(str(racks_file), f"location {loc!r} is not a storage location of "
                                 f"{layout.source}", where=str(line), fix="use a storage id of the layout")
            if loc in placement:
                raise InputError(str(racks_file), f"location {loc!r} already holds rack {placement[loc]!r}",
                                 where=str(line), fix="one rack per location")
            seen.add(rack)
            placement[loc] = rack
    racks = set(placement.values())
    stock: dict[str, dict[str, int]] = {r: {} for r in sorted(racks)}
    for line, row in csv_rows(directory / "stock.csv", ("rack", "sku", "quantity")):
        rack, sku = row["rack"], row["sku"]
        if rack not in racks:
            raise InputError(str(directory / "stock.csv"), f"unknown rack {rack!r}", where=str(line),
                             fix="use a rack of racks.csv (or of the layout)")
        if sku not in skus:
            raise InputError(str(directory / "stock.csv"), f"unknown sku {sku!r}", where=str(line),
                             fix="add it to skus.csv")
        qty = int(_number(row["quantity"], directory / "stock.csv", line, "quantity", integer=True))
        stock[rack][sku] = stock[rack].get(sku, 0) + qty
    return Inventory(stock, skus), placement


def csv_rows(path: Path, columns: tuple[str, ...]):
    """(line number, {column: stripped text}) per non-empty line; every problem an InputError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}", fix="check the inventory directory") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text", fix="save the CSV as UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:len(columns)]] != list(columns):
        raise InputError(str(path), f"header must start with {','.join(columns)}", where="1")
    for line, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) < len(columns):
            raise InputError(str(path), f"expected {len(columns)} fields, found {len(fields)}", where=str(line))
        row = {c: fields[i].strip() for i, c in enumerate(columns)}
        for c, v in row.items():
            if not v:
                raise InputError(str(path), f"empty {c}", where=str(line))
        yield line, row


def _number(text: str, path: Path, line: int, what: str, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(str(path), f"{what} {text!r} is not a number", where=str(line)) from None
    if not math.isfinite(value) or value < 0 or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        raise InputError(str(path), f"{what} {text!r} must be {kind} >= 0", where=str(line))
    return value


def load_catalogue(layout, inventory_dir: str, skus: int, seed: int) -> tuple[Inventory, dict[str, str]]:
    """The run's inventory and rack placement (location id -> rack id): imported from the CSV
    files in ``inventory_dir`` when given, else the seeded catalogue on the layout's racks.
    Every node calls this with the same arguments, so they all agree."""
    if inventory_dir:
        return load_inventory_csv(inventory_dir, layout)
    placement = {loc.id: loc.rack for loc in layout.storage if loc.rack}
    return seeded_inventory(sorted(placement.values()), skus, seed), placement

"""Stock promises: each pending order line counts on the units of one rack that can serve it.

An accepted order line waits in the pending pool until a rack visit *reserves* its units on a
rack (:meth:`~warehouse_core.ops.inventory.Inventory.reserve`). Until then it is *promised*: it
counts against one rack whose free stock (units on the rack minus reservations) covers it
together with every other line promised to that rack, since a visit takes a line from one rack.
An order is accepted only when all its lines can be promised this way (:meth:`StockPromises.plan`),
so the warehouse never promises units it does not have, nor units split over racks so that no
single visit can take them.

A promise is a witness that every pending line can be served, not a choice of rack: a visit may
take a line from another rack when the other promises still fit (moved to other racks if
needed, :meth:`StockPromises.move`); the assignment never takes a line in a way that leaves
another promised line without a rack, and a visit taking several lines keeps the ones it took
already on its rack while it makes room for the next. Invariant, per rack and SKU: units
reserved plus units promised <= units on the rack. Stock only grows outside reservations
(replenishment), a pick removes units reserved before, and a line given back (a failed visit) is
promised to the rack it was reserved on, so nothing else breaks it; after a replay of the
journal the promises are rebuilt (:meth:`StockPromises.rebuild`) to hold it again.

New lines go to the racks with the most room left; when they do not fit that way, every pending
line of the SKU is fitted anew, first-fit decreasing (largest lines first, racks in catalogue
order). Both are deterministic and exact in the common case of unit lines; they may refuse an
order a cleverer packing could take (rare, and only when stock is nearly gone), never accept one
they cannot place.
"""

from __future__ import annotations

from collections.abc import Collection

from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import PickLine

Key = tuple[str, int]  # an order line: (order_id, index)


class StockPromises:
    """The rack each pending line is promised to (see module docstring)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.rack_of: dict[Key, str] = {}  # pending line -> rack; "" = unpromised (see place)
        self._units: dict[tuple[str, str], int] = {}  # (rack, sku) -> units promised there
        self._lines: dict[str, dict[Key, int]] = {}  # sku -> pending line -> units
        self._sku: dict[Key, str] = {}  # pending line -> its SKU

    # -- reading -------------------------------------------------------------------------
    def promised(self, rack: str, sku: str) -> int:
        """Units of ``sku`` promised on ``rack``."""
        return self._units.get((rack, sku), 0)

    def slack(self, rack: str, sku: str) -> int:
        """Units of ``sku`` on ``rack`` neither reserved nor promised."""
        return self.inventory.available(rack, sku) - self.promised(rack, sku)

    def max_slack(self, sku: str) -> int:
        """The most units of ``sku`` one rack can still promise."""
        return max((self.slack(r, sku) for r in self.inventory.racks_by_sku.get(sku, ())), default=0)

    # -- new lines -----------------------------------------------------------------------
    def plan(self, lines: list[PickLine]) -> dict[Key, str] | None:
        """Racks for new ``lines`` (changing other promises if needed: the plan then names
        them too), or None if they cannot all be promised. Nothing changes until :meth:`apply`."""
        out: dict[Key, str] = {}
        by_sku: dict[str, list[PickLine]] = {}
        for line in lines:
            by_sku.setdefault(line.sku, []).append(line)
        for sku, new in by_sku.items():
            sizes = {p.key: p.quantity for p in new}
            fit = self._fit(sizes, {r: self.slack(r, sku) for r in self._racks(sku)}, spread=True)
            if fit is None:  # not in the room left: promise every pending line of the SKU anew
                sizes.update(self._promised_lines(sku))
                fit = self._fit(sizes, self._available(sku))
            if fit is None:
                return None
            out.update(fit)
        return out

    def add(self, line: PickLine, rack: str = "") -> None:
        """``line`` joins the pending pool promised to ``rack`` ("": unpromised until placed)."""
        self._lines.setdefault(line.sku, {})[line.key] = line.quantity
        self._sku[line.key] = line.sku
        self._set(line.key, rack)

    def apply(self, plan: dict[Key, str]) -> None:
        """Promise as :meth:`plan` said (its lines are in the pool already)."""
        for key, rack in plan.items():
            self._set(key, rack)

    def place(self, lines: list[PickLine]) -> bool:
        """Promise ``lines`` (in the pool already, unpromised) if they fit; False leaves them
        unpromised: taken without checks (a replay), served when stock allows."""
        fit = self.plan(lines)
        if fit is not None:
            self.apply(fit)
        return fit is not None

    # -- lines leaving or changing rack --------------------------------------------------
    def remove(self, line: PickLine) -> None:
        """``line`` left the pool (its units are reserved on a rack now)."""
        self._set(line.key, "")
        del self.rack_of[line.key]
        del self._sku[line.key]
        lines = self._lines[line.sku]
        del lines[line.key]
        if not lines:
            del self._lines[line.sku]

    def allows(self, line: PickLine, rack: str) -> bool:
        """Whether a visit of ``rack`` may take ``line`` and every other promise still be kept."""
        return self._moved(line, rack) is not None

    def move(self, line: PickLine, rack: str, keep: Collection[Key] = ()) -> bool:
        """Promise ``line`` to ``rack`` (about to take it), moving other promises of its SKU if
        needed but never those of the lines in ``keep`` (the lines a visit being drafted takes
        already: moving one off the rack would leave the visit counting on units promised to
        another line); False (nothing changed) if the other promises would not fit any more."""
        plan = self._moved(line, rack, keep)
        if plan is None:
            return False
        self.apply(plan)
        return True

    def rebuild(self) -> None:
        """Promise every pending line anew where that fits (after a replay: the replay took lines
        as the journal says, not through :meth:`move`). Where a SKU's lines do not all fit any
        more, the promises that still fit stay and the others are dropped (those lines wait
        unpromised, like lines :meth:`place` could not promise), so no rack keeps a promise of
        more than it has."""
        for sku, lines in self._lines.items():
            fit = self._fit(dict(lines), self._available(sku))
            self.apply(fit if fit is not None else self._kept(sku))

    def _kept(self, sku: str) -> dict[Key, str]:
        """The promises of ``sku`` that fit in their rack's free stock, in arrival order; the
        others unpromised ("")."""
        room = self._available(sku)
        out: dict[Key, str] = {}
        for key in self._lines[sku]:
            rack = self.rack_of.get(key, "")
            fits = bool(rack) and room.get(rack, 0) >= self._lines[sku][key]
            if fits:
                room[rack] -= self._lines[sku][key]
            out[key] = rack if fits else ""
        return out

    # -- internals -----------------------------------------------------------------------
    def _racks(self, sku: str) -> list[str]:
        return self.inventory.racks_by_sku.get(sku, [])

    def _available(self, sku: str) -> dict[str, int]:
        return {r: self.inventory.available(r, sku) for r in self._racks(sku)}

    def _promised_lines(self, sku: str) -> dict[Key, int]:
        return {k: q for k, q in self._lines.get(sku, {}).items() if self.rack_of.get(k)}

    def _moved(self, line: PickLine, rack: str, keep: Collection[Key] = ()) -> dict[Key, str] | None:
        """The promises to change so that ``line`` is promised to ``rack``, those of ``keep``
        unchanged (None: impossible)."""
        if self.rack_of.get(line.key) == rack:
            return {}
        if self.slack(rack, line.sku) >= line.quantity:
            return {line.key: rack}
        caps = self._available(line.sku)
        caps[rack] = caps.get(rack, 0) - line.quantity
        if caps[rack] < 0:
            return None
        others = self._promised_lines(line.sku)
        others.pop(line.key, None)
        fit = self._fit(others, caps)
        if fit is not None and any(fit[k] != self.rack_of[k] for k in keep if k in fit):
            fit = self._fit_around(others, caps, keep)
        return None if fit is None else {**fit, line.key: rack}

    def _fit_around(self, sizes: dict[Key, int], caps: dict[str, int], keep: Collection[Key]) -> dict[Key, str] | None:
        """:meth:`_fit` of ``sizes`` with the lines of ``keep`` fixed where they are promised
        (their units taken from ``caps`` first)."""
        sizes, caps = dict(sizes), dict(caps)
        fixed: dict[Key, str] = {}
        for key in keep:
            if key in sizes:
                fixed[key] = self.rack_of[key]
                caps[fixed[key]] -= sizes.pop(key)
        if any(caps[r] < 0 for r in fixed.values()):
            return None
        fit = self._fit(sizes, caps)
        return None if fit is None else {**fit, **fixed}

    @staticmethod
    def _fit(sizes: dict[Key, int], caps: dict[str, int], spread: bool = False) -> dict[Key, str] | None:
        """Largest lines first (``sizes``) into racks of capacity ``caps``, each in the first rack
        with room, or with ``spread`` in the rack with the most room (None: no fit). Spreading
        new lines keeps room on every rack, so a visit can mostly take a line from any rack
        without moving other promises."""
        room = dict(caps)
        out: dict[Key, str] = {}
        for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
            if spread:
                rack = max(room, key=room.__getitem__, default=None)
                rack = rack if rack is not None and room[rack] >= sizes[key] else None
            else:
                rack = next((r for r, c in room.items() if c >= sizes[key]), None)
            if rack is None:
                return None
            room[rack] -= sizes[key]
            out[key] = rack
        return out

    def _set(self, key: Key, rack: str) -> None:
        """Promise line ``key`` to ``rack`` ("": to none)."""
        sku = self._sku[key]
        quantity = self._lines[sku][key]
        old = self.rack_of.get(key, "")
        if old:
            self._units[(old, sku)] -= quantity
            if not self._units[(old, sku)]:
                del self._units[(old, sku)]
        if rack:
            self._units[(rack, sku)] = self._units.get((rack, sku), 0) + quantity
        self.rack_of[key] = rack

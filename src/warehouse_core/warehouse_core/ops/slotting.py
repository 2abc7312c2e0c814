"""Slotting: which racks count as fast movers, from forecast demand, and the A/B/C classes.

A rack's turnover is the forecast demand of the SKUs it holds, each SKU's demand shared over
the racks that hold it in proportion to their units (a unit on a rack is as likely to be
picked as any other unit of its SKU). Racks and storage locations are both put into classes
A/B/C (0/1/2): the top 20 % of racks by turnover and the 20 % of locations nearest the pick
stations are class A, the next 30 % class B, the rest class C. The allocator returns a rack
to the free location of its class nearest the station it leaves.
"""

from __future__ import annotations


def rack_turnover(stock: dict[str, dict[str, int]], demand: dict[str, float]) -> dict[str, float]:
    """Expected units picked per period from each rack (see module docstring)."""
    units: dict[str, int] = {}
    for items in stock.values():
        for sku, qty in items.items():
            units[sku] = units.get(sku, 0) + max(0, qty)
    out: dict[str, float] = {}
    for rack, items in stock.items():
        out[rack] = sum(demand.get(sku, 0.0) * max(0, qty) / units[sku]
                        for sku, qty in items.items() if units.get(sku))
    return out


def abc_classes(score: dict[str, float], shares: tuple[float, float] = (0.2, 0.3)) -> dict[str, int]:
    """Class 0 for the lowest ``shares[0]`` of scores, 1 for the next ``shares[1]``, 2 for the rest
    (ties broken by key, so the result is deterministic)."""
    order = sorted(score, key=lambda k: (score[k], k))
    n = len(order)
    a, b = shares[0] * n, (shares[0] + shares[1]) * n
    return {k: 0 if i < a else 1 if i < b else 2 for i, k in enumerate(order)}

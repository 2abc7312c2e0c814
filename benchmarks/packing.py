"""Right-sized packing against the sorted-dimensions rule, and container loading on
Bischoff & Ratcliff-style instances (issue 9).

    .venv/bin/python benchmarks/packing.py [--orders 400] [--seed 11] [--br-per-class 1] [--br-time 20]

Part 1, parcels: a seeded order set from the order model (catalogue popularity, 1.6 lines per
order, 1-2 units per line) over the seeded SKU sizes (``warehouse_core.items``) and the box
catalogue ``config/boxes.yaml``. Each order is one parcel. Ours: ``pack_parcel`` (CP-SAT, least
outer surface with a verified placement, orientation limits respected). Rule: the smallest-surface
box whose sorted inner dimensions fit the sorted extents of the items stacked in one column
(``stacked_rule_box``); the rule ignores "this side up". Prints total surface of both, the change,
the parcels the rule finds no box for, and solve times (p50/p95/max) for parcels of at most 10 items.

Part 2, container loading: instances in the style of Bischoff & Ratcliff (1995), classes BR1-BR7
with 3, 5, 8, 10, 12, 15, 20 box types in a 587 x 233 x 220 cm container (class structure as
published with the data in OR-Library, thpack1-7). The box dimensions and counts are drawn by this
script (ranges of our choosing, cargo volume about one container), not by the authors' seeded
generator, and "this side up" stands in for the per-dimension vertical-orientation flags.
``load_container`` (walls along the length, strips up each wall, each strip an exact bounded
knapsack solved by CP-SAT) gets ``--br-time`` seconds per instance; every loading is re-checked
here (inside the container, no overlaps, upright boxes upright).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from warehouse_core.boxes import load_boxes
from warehouse_core.inventory import seeded_inventory
from warehouse_core.items import ItemSpec, seeded_item_specs
from warehouse_core.orders import DemandModel
from warehouse_core.packing import load_container, pack_parcel, stacked_rule_box

ROOT = Path(__file__).resolve().parents[1]
BR_TYPES = {"BR1": 3, "BR2": 5, "BR3": 8, "BR4": 10, "BR5": 12, "BR6": 15, "BR7": 20}
CONTAINER = (5.87, 2.33, 2.20)


def parcels(args) -> None:
    boxes = load_boxes(ROOT / "config" / "boxes.yaml")
    inv = seeded_inventory([f"R{i:03d}" for i in range(245)], 500, args.seed)
    specs = seeded_item_specs(sorted(inv.popularity), args.seed)
    stream = DemandModel(600.0, inv.popularity).stream(args.seed)
    orders = stream.until(1e9 if args.orders <= 0 else args.orders * 6.0 + 3600.0)[:args.orders]
    pack_parcel([specs[orders[0].lines[0].sku]], boxes)  # warm-up: imports, first solver start
    ours = rule = ours_all = 0.0
    no_rule, times, optimal, n_items, split, rule_breaks = 0, [], 0, [], 0, 0
    for o in orders:
        items = [specs[line.sku] for line in o.lines for _ in range(line.quantity)]
        result = pack_parcel(items, boxes, time_limit_s=args.time_limit)
        ours_all += result.surface_m2
        split += len(result.boxes) > 1
        optimal += all(b.status == "optimal" for b in result.boxes)
        if len(items) <= 10:
            times.append(result.solve_s)
        n_items.append(len(items))
        box = stacked_rule_box(items, boxes)
        if box is None:
            no_rule += 1
            continue
        rule_breaks += any(it.upright for it in items) and not _column_upright_fits(items, box)
        ours += result.surface_m2
        rule += box.surface_m2
    t = np.array(times) * 1000
    print(f"Parcels: {len(orders)} orders (seed {args.seed}), {np.mean(n_items):.2f} items per parcel "
          f"(max {max(n_items)}), catalogue of {len(boxes)} boxes\n")
    print("| parcels compared | rule surface (m2) | ours (m2) | change (target <= -15 %) | rule finds no box "
          "| rule box breaks 'this side up' | ours split over boxes | proved optimal |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {len(orders) - no_rule} | {rule:.2f} | {ours:.2f} | {(ours - rule) / rule * 100:+.1f} % | {no_rule} "
          f"| {rule_breaks} | {split} | {optimal}/{len(orders)} |")
    print()
    print("| parcels <= 10 items | solve p50 (ms) | p95 (ms, target < 100) | max (ms) |")
    print("|---|---|---|---|")
    print(f"| {len(t)} | {np.percentile(t, 50):.1f} | {np.percentile(t, 95):.1f} | {t.max():.1f} |")


def _column_upright_fits(items: list[ItemSpec], box) -> bool:
    """Whether the rule's column stands in ``box`` with every upright item upright."""
    from warehouse_core.packing import _stacked_placement

    return _stacked_placement(items, box) is not None


def br_instance(types: int, rng: random.Random) -> list[ItemSpec]:
    volume = CONTAINER[0] * CONTAINER[1] * CONTAINER[2]
    items: list[ItemSpec] = []
    for k in range(types):
        dims = (rng.randint(30, 120) / 100, rng.randint(25, 100) / 100, rng.randint(20, 80) / 100)
        spec = ItemSpec(f"T{k + 1}", dims, 10.0, upright=rng.random() < 0.3)
        count = max(1, round(volume / types / spec.volume_m3))
        items.extend([spec] * count)
    return items


def assert_valid_loading(placed, items: list[ItemSpec]) -> None:
    """Every box inside the container, upright ones upright, none overlapping, none used twice."""
    specs = {it.sku: it for it in items}
    available = {sku: sum(1 for it in items if it.sku == sku) for sku in specs}
    eps = 1e-9
    for p in placed:
        available[p.sku] -= 1
        assert available[p.sku] >= 0, f"{p.sku} loaded more often than it exists"
        assert sorted(p.dims_m) == sorted(round(d, 3) for d in specs[p.sku].dims_m), p
        assert not specs[p.sku].upright or abs(p.dims_m[2] - specs[p.sku].dims_m[2]) < 1e-6, p
        assert all(p.position_m[a] >= -eps and p.position_m[a] + p.dims_m[a] <= CONTAINER[a] + eps
                   for a in range(3)), p
    lo = np.array([p.position_m for p in placed])
    hi = lo + np.array([p.dims_m for p in placed])
    for i in range(len(placed)):
        overlap = np.all((hi[i] > lo[i + 1:] + eps) & (hi[i + 1:] > lo[i] + eps), axis=1)
        assert not overlap.any(), f"box {i} overlaps"


def containers(args) -> None:
    print()
    print("| class | box types | instance | boxes | cargo / container volume | loaded volume utilisation "
          "| boxes loaded | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    means = {}
    for name, types in BR_TYPES.items():
        utils = []
        for k in range(args.br_per_class):
            rng = random.Random(f"{name}-{k}-{args.seed}")
            items = br_instance(types, rng)
            cargo = sum(it.volume_m3 for it in items) / (CONTAINER[0] * CONTAINER[1] * CONTAINER[2])
            t0 = time.perf_counter()
            placed, util = load_container(items, CONTAINER, args.br_time)
            elapsed = time.perf_counter() - t0
            assert_valid_loading(placed, items)
            utils.append(util)
            print(f"| {name} | {types} | {k + 1} | {len(items)} | {cargo:.2f} | {util * 100:.1f} % | "
                  f"{len(placed)} | {elapsed:.1f} |", flush=True)
        means[name] = float(np.mean(utils))
    print(f"\nMean loaded volume utilisation over BR1-BR7: {np.mean(list(means.values())) * 100:.1f} %")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--time-limit", type=float, default=1.0, help="CP-SAT limit per parcel (s)")
    ap.add_argument("--br-per-class", type=int, default=1)
    ap.add_argument("--br-time", type=float, default=20.0, help="CP-SAT limit per container instance (s)")
    ap.add_argument("--skip-br", action="store_true")
    args = ap.parse_args()
    parcels(args)
    if not args.skip_br:
        containers(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

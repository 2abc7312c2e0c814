"""Right-sized packing against the sorted-dimensions rule, and container loading on
Bischoff & Ratcliff instances.

    .venv/bin/python benchmarks/packing.py [--orders 400] [--seed 11] [--br original|generated]
        [--br-free-rotation] [--br-per-class 1] [--br-time 20] [--skip-parcels | --skip-br]

Part 1, parcels: a seeded order set from the order model (catalogue popularity, 1.6 lines per
order, 1-2 units per line) over the seeded SKU sizes (``warehouse_core.ops.items``) and the box
catalogue ``config/boxes.yaml``. Each order is one parcel. Ours: ``pack_parcel`` (CP-SAT, least
outer surface with a verified placement, orientation limits respected). Rule: the smallest-surface
box whose sorted inner dimensions fit the sorted extents of the items stacked in one column
(``stacked_rule_box``); the rule ignores "this side up". Prints total surface of both, the change,
the parcels the rule finds no box for, and solve times (p50/p95/max) for parcels of at most 10 items.

Part 2, container loading, classes BR1-BR7 of Bischoff & Ratcliff (1995) with 3, 5, 8, 10, 12,
15, 20 box types in a 587 x 233 x 220 cm container. ``--br original`` (the default when the file
is there) loads the original problems carried in ``benchmarks/data/bischoff_ratcliff.json`` (the
first 3 of each class of OR-Library thpack1-7, with their per-dimension vertical-orientation
flags; the file names its sources). ``--br generated`` draws instances in that style instead (box
dimensions and counts of our choosing, cargo volume about one container, "this side up" on 30 % of
the types), the figures recorded before the originals were imported. ``load_container`` (walls
along the length, strips up each wall, each strip an exact bounded knapsack solved by CP-SAT) gets
``--br-time`` seconds per instance; every loading is re-checked here (inside the container, no
overlaps, no box loaded more often than it exists, every box standing on a dimension allowed to be
vertical). Beside each original problem the script prints the utilisation published for it by
Baltacioglu (2001) for the EB-AFIT heuristic (carried in the data file with its source);
``--br-free-rotation`` drops the flags, the setting of that figure (all six orientations).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from warehouse_core.ops.boxes import load_boxes
from warehouse_core.ops.inventory import seeded_inventory
from warehouse_core.ops.items import ItemSpec, seeded_item_specs
from warehouse_core.ops.orders import DemandModel
from warehouse_core.ops.packing import load_container, pack_parcel, stacked_rule_box

ROOT = Path(__file__).resolve().parents[1]
BR_FILE = ROOT / "benchmarks" / "data" / "bischoff_ratcliff.json"
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
    from warehouse_core.ops.packing import _stacked_placement

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


def original_br_instances(path: Path, per_class: int, free_rotation: bool = False) -> tuple[
        tuple[float, float, float], list[tuple[str, int, list[ItemSpec], float | None]]]:
    """The container (m) and the first ``per_class`` original problems of each class in ``path``
    as (class, problem number, one ItemSpec per box with its vertical-orientation flags, published
    EB-AFIT utilisation in % or None). ``free_rotation`` drops the flags (all six orientations)."""
    data = json.loads(path.read_text())
    container = tuple(d / 100 for d in data["container_cm"])
    out = []
    for inst in data["instances"]:
        if inst["problem"] > per_class:
            continue
        items = []
        for k, (l, lv, w, wv, h, hv, count) in enumerate(inst["boxes"]):
            spec = ItemSpec(f"{inst['class']}-{inst['problem']}-T{k + 1}", (l / 100, w / 100, h / 100), 0.0,
                            vertical=None if free_rotation else (bool(lv), bool(wv), bool(hv)))
            items.extend([spec] * count)
        out.append((inst["class"], inst["problem"], items, inst.get("eb_afit_utilisation_pct")))
    have = {cls: sum(1 for c, *_rest in out if c == cls) for cls in BR_TYPES}
    if any(n < per_class for n in have.values()):
        raise SystemExit(f"{path} holds {min(have.values())} problems per class, fewer than --br-per-class "
                         f"{per_class}: lower --br-per-class or use --br generated")
    return container, out  # type: ignore[return-value]


def assert_valid_loading(placed, items: list[ItemSpec], container=CONTAINER) -> None:
    """Every box inside the container, standing on a dimension allowed to be vertical, none
    overlapping, none loaded more often than it exists."""
    specs = {it.sku: it for it in items}
    available = {sku: sum(1 for it in items if it.sku == sku) for sku in specs}
    eps = 1e-9
    for p in placed:
        available[p.sku] -= 1
        spec = specs[p.sku]
        assert available[p.sku] >= 0, f"{p.sku} loaded more often than it exists"
        assert sorted(p.dims_m) == sorted(round(d, 3) for d in spec.dims_m), p
        assert any(ok and abs(p.dims_m[2] - d) < 1e-6 for d, ok in zip(spec.dims_m, spec.vertical_ok)), \
            f"{p.sku} stands on a dimension that may not be vertical: {p}"
        assert all(p.position_m[a] >= -eps and p.position_m[a] + p.dims_m[a] <= container[a] + eps
                   for a in range(3)), p
    lo = np.array([p.position_m for p in placed])
    hi = lo + np.array([p.dims_m for p in placed])
    for i in range(len(placed)):
        overlap = np.all((hi[i] > lo[i + 1:] + eps) & (hi[i + 1:] > lo[i] + eps), axis=1)
        assert not overlap.any(), f"box {i} overlaps"


def containers(args) -> None:
    source = args.br or ("original" if BR_FILE.exists() else "generated")
    if source == "original" and not BR_FILE.exists():
        raise SystemExit(f"{BR_FILE} is missing: restore it from the repository or use --br generated")
    if source == "original":
        container, instances = original_br_instances(BR_FILE, args.br_per_class, args.br_free_rotation)
        print(f"\nContainer loading: original Bischoff & Ratcliff problems ({BR_FILE.relative_to(ROOT)}), "
              f"first {args.br_per_class} per class, "
              f"{'all six orientations (flags ignored)' if args.br_free_rotation else 'vertical-orientation flags'}, "
              f"{args.br_time:g} s per instance")
    else:
        container = CONTAINER
        instances = [(name, k + 1, br_instance(types, random.Random(f"{name}-{k}-{args.seed}")), None)
                     for name, types in BR_TYPES.items() for k in range(args.br_per_class)]
        print(f"\nContainer loading: generated BR-style instances (seed {args.seed}), {args.br_per_class} per "
              f"class, {args.br_time:g} s per instance")
    volume = container[0] * container[1] * container[2]
    print()
    print("| class | box types | instance | boxes | cargo / container volume | loaded volume utilisation "
          "| boxes loaded | time (s) | published (EB-AFIT) |")
    print("|---|---|---|---|---|---|---|---|---|")
    utils: dict[str, list[float]] = {}
    refs: dict[str, list[float]] = {}
    times: list[float] = []
    for name, k, items, ref in instances:
        cargo = sum(it.volume_m3 for it in items) / volume
        t0 = time.perf_counter()
        placed, util = load_container(items, container, args.br_time)
        elapsed = time.perf_counter() - t0
        assert_valid_loading(placed, items, container)
        utils.setdefault(name, []).append(util)
        if ref is not None:
            refs.setdefault(name, []).append(ref / 100)
        times.append(elapsed)
        print(f"| {name} | {len({it.sku for it in items})} | {k} | {len(items)} | {cargo:.2f} | {util * 100:.1f} % | "
              f"{len(placed)} | {elapsed:.1f} | {'-' if ref is None else f'{ref:.2f} %'} |", flush=True)
    print("\n| class | instances | mean loaded volume utilisation | published (EB-AFIT), same instances |")
    print("|---|---|---|---|")
    for name, u in utils.items():
        r = refs.get(name)
        print(f"| {name} | {len(u)} | {np.mean(u) * 100:.2f} % | {'-' if not r else f'{np.mean(r) * 100:.2f} %'} |")
    means = [float(np.mean(u)) for u in utils.values()]
    line = f"\nMean loaded volume utilisation over BR1-BR7 (mean of class means): {np.mean(means) * 100:.2f} %"
    if refs:
        published = np.mean([np.mean(r) for r in refs.values()])
        line += f" (published EB-AFIT on the same instances: {published * 100:.2f} %)"
    print(line + f"; every loading re-checked; time per instance mean {np.mean(times):.1f} s, max {max(times):.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--time-limit", type=float, default=1.0, help="CP-SAT limit per parcel (s)")
    ap.add_argument("--br", choices=("original", "generated"), default=None,
                    help="container-loading instances: the original BR problems in benchmarks/data (default when "
                         "the file is there) or generated BR-style ones")
    ap.add_argument("--br-free-rotation", action="store_true",
                    help="original instances: ignore their vertical-orientation flags (all six orientations)")
    ap.add_argument("--br-per-class", type=int, default=1)
    ap.add_argument("--br-time", type=float, default=20.0, help="CP-SAT limit per container instance (s)")
    ap.add_argument("--skip-br", action="store_true")
    ap.add_argument("--skip-parcels", action="store_true", help="run only the container-loading part")
    args = ap.parse_args()
    if not args.skip_parcels:
        parcels(args)
    if not args.skip_br:
        containers(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

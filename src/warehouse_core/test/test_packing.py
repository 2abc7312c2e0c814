"""Right-sized packing, verified by an independent placement checker written here."""

import itertools
import random
from pathlib import Path

import pytest

from warehouse_core.errors import InputError
from warehouse_core.ops.boxes import Box, load_boxes
from warehouse_core.ops.items import ItemSpec, seeded_item_specs
from warehouse_core.ops.packing import PackingError, pack_parcel, stacked_rule_box

CATALOGUE = Path(__file__).resolve().parents[3] / "config" / "boxes.yaml"
EPS = 1e-9


def check_placement(box_dims, items, placements):
    """Independent check: every item once, an allowed orientation, inside the box, no overlaps."""
    problems = []
    assert sorted(it.sku for it in items) == sorted(p.sku for p in placements)
    unused = list(items)
    for p in placements:
        # match the placement to an unused unit of its SKU whose allowed orientations include it
        match = None
        for it in unused:
            if it.sku != p.sku:
                continue
            # the same extents, and the vertical one is a dimension allowed to stand vertical
            ok = sorted(p.dims_m) == pytest.approx(sorted(it.dims_m), abs=1e-3) and \
                any(flag and abs(p.dims_m[2] - d) <= 1e-3 for d, flag in zip(it.dims_m, it.vertical_ok))
            if ok and all(pd >= d - EPS for pd, d in zip(sorted(p.dims_m), sorted(it.dims_m))):
                match = it
                break
        if match is None:
            problems.append(f"{p.sku}: dims {p.dims_m} are no allowed orientation")
            continue
        unused.remove(match)
        for a in range(3):
            if p.position_m[a] < -EPS or p.position_m[a] + p.dims_m[a] > box_dims[a] + EPS:
                problems.append(f"{p.sku}: outside the box on axis {a}")
    for p, q in itertools.combinations(placements, 2):
        if all(p.position_m[a] + p.dims_m[a] > q.position_m[a] + EPS and
               q.position_m[a] + q.dims_m[a] > p.position_m[a] + EPS for a in range(3)):
            problems.append(f"{p.sku} and {q.sku} overlap")
    return problems


def test_checker_catches_overlap_outside_and_wrong_orientation():
    from warehouse_core.ops.packing import Placement

    bottle = ItemSpec("B", (0.1, 0.1, 0.3), 1.0, upright=True)
    lying = [Placement("B", (0.3, 0.1, 0.1), (0, 0, 0))]
    assert any("orientation" in p for p in check_placement((0.4, 0.4, 0.4), [bottle], lying))
    cube = ItemSpec("C", (0.1, 0.1, 0.1), 1.0)
    two = [Placement("C", (0.1, 0.1, 0.1), (0, 0, 0)), Placement("C", (0.1, 0.1, 0.1), (0.05, 0, 0))]
    assert any("overlap" in p for p in check_placement((0.4, 0.4, 0.4), [cube, cube], two))
    out = [Placement("C", (0.1, 0.1, 0.1), (0.35, 0, 0))]
    assert any("outside" in p for p in check_placement((0.4, 0.4, 0.4), [cube], out))


def test_seeded_parcels_pack_validly_and_never_use_more_material_than_the_rule():
    boxes = load_boxes(CATALOGUE)
    specs = seeded_item_specs([f"SKU-{i:05d}" for i in range(200)], seed=5)
    rng = random.Random(5)
    skus = sorted(specs)
    for _ in range(25):
        items = [specs[s] for s in rng.choices(skus, k=rng.randint(1, 6))]
        result = pack_parcel(items, boxes, time_limit_s=2.0)
        packed = [p for b in result.boxes for p in b.placements]
        for b in result.boxes:
            assert check_placement(b.box.inner_dims_m, _items_of(b.placements, items), b.placements) == []
        assert sorted(p.sku for p in packed) == sorted(it.sku for it in items)
        rule = stacked_rule_box(items, boxes)
        if rule is not None and not any(it.upright for it in items) and len(result.boxes) == 1:
            assert result.surface_m2 <= rule.surface_m2 + 1e-12


def _items_of(placements, items):
    """The units of ``items`` that ``placements`` hold (by SKU count)."""
    left = list(items)
    out = []
    for p in placements:
        it = next(i for i in left if i.sku == p.sku)
        left.remove(it)
        out.append(it)
    return out


def test_side_by_side_beats_stacking_and_upright_is_respected():
    boxes = [Box("flat", (0.42, 0.22, 0.06), 1.0), Box("tall", (0.22, 0.22, 0.40), 1.0),
             Box("huge", (1.0, 1.0, 1.0), 1.0)]
    books = [ItemSpec("BOOK", (0.20, 0.20, 0.05), 0.5)] * 2
    result = pack_parcel(books, boxes)
    assert result.boxes[0].box.box_id == "flat"  # the rule stacks them: 0.20 x 0.20 x 0.10 -> "tall"
    assert stacked_rule_box(books, boxes).box_id == "tall"
    bottle = [ItemSpec("WINE", (0.08, 0.08, 0.38), 1.2, upright=True)]
    placed = pack_parcel(bottle, [Box("lying", (0.40, 0.10, 0.10), 1.0), Box("standing", (0.1, 0.1, 0.4), 2.0)])
    assert placed.boxes[0].box.box_id == "standing"
    assert check_placement((0.1, 0.1, 0.4), bottle, placed.boxes[0].placements) == []


def test_too_many_items_for_one_box_are_split_over_boxes():
    boxes = [Box("B", (0.3, 0.3, 0.3), 1.0)]
    cubes = [ItemSpec("C", (0.2, 0.2, 0.2), 1.0)] * 3
    result = pack_parcel(cubes, boxes)
    assert len(result.boxes) == 3
    with pytest.raises(PackingError, match="fits no box"):
        pack_parcel([ItemSpec("BIG", (0.5, 0.5, 0.5), 1.0)], boxes)


def test_catalogue_errors_name_file_and_line(tmp_path):
    f = tmp_path / "boxes.yaml"
    f.write_text("boxes:\n  - {id: A, inner_dims_m: [0.1, 0.1, 0.1], cost: 1}\n"
                 "  - {id: B, inner_dims_m: [0.1, -0.1, 0.1], cost: 1}\n")
    with pytest.raises(InputError, match=r"boxes.yaml:3: box B: inner_dims_m .* must be three positive"):
        load_boxes(f)
    f.write_text("boxes:\n  - {id: A, inner_dims_m: [0.1, 0.1, 0.1], cost: 1}\n"
                 "  - {id: A, inner_dims_m: [0.2, 0.1, 0.1], cost: 1}\n")
    with pytest.raises(InputError, match=r":3: duplicate box id 'A'"):
        load_boxes(f)
    f.write_text("boxes:\n  - {id: A, inner_dims_m: [0.1, 0.1, 0.1], cots: 1}\n")
    with pytest.raises(InputError, match=r":2: unknown key"):
        load_boxes(f)
    f.write_text("crates: []\n")
    with pytest.raises(InputError, match="no 'boxes:' list"):
        load_boxes(f)
    assert [b.box_id for b in load_boxes(CATALOGUE)][0] == "S1"


def test_container_loading_is_valid_and_dense_for_one_box_type():
    from warehouse_core.ops.packing import load_container

    cube = ItemSpec("C", (0.5, 0.5, 0.5), 1.0)
    bottle = ItemSpec("W", (0.2, 0.2, 0.6), 1.0, upright=True)
    items = [cube] * 20 + [bottle] * 10
    placed, util = load_container(items, (2.0, 1.0, 1.0), time_limit_s=5.0)
    assert util >= 0.95  # 16 cubes fill the container exactly
    assert check_placement((2.0, 1.0, 1.0), _items_of(placed, items), placed) == []



def test_vertical_flags_limit_orientations_and_are_validated():
    from warehouse_core.ops.items import orientations

    dims = (3, 2, 1)
    assert len(orientations(dims, False)) == 6
    assert orientations(dims, False, (False, False, True)) == orientations(dims, True)  # "upright" as flags
    two_up = orientations(dims, False, (True, False, True))  # length or height may stand vertical
    assert sorted(o[2] for o in two_up) == [1, 1, 3, 3]
    assert all(sorted(o) == [1, 2, 3] for o in two_up)
    assert ItemSpec("A", (0.3, 0.2, 0.1), 1.0, vertical=(True, False, True)).vertical_ok == (True, False, True)
    from_file = ItemSpec("A", (0.3, 0.2, 0.1), 1.0, vertical=[1, 0, 1])  # e.g. 0/1 flags read from a file
    assert from_file.vertical == (True, False, True) and hash(from_file) == hash(from_file)
    assert ItemSpec("U", (0.3, 0.2, 0.1), 1.0, upright=True).vertical_ok == (False, False, True)
    with pytest.raises(ValueError, match="at least one"):
        ItemSpec("X", (0.3, 0.2, 0.1), 1.0, vertical=(False, False, False))
    with pytest.raises(ValueError, match="upright"):
        ItemSpec("X", (0.3, 0.2, 0.1), 1.0, upright=True, vertical=(True, False, True))


def test_container_loading_respects_per_dimension_vertical_flags():
    from warehouse_core.ops.packing import load_container

    # a 0.1 x 0.1 x 0.3 m shaft holds three 0.3 x 0.1 x 0.1 m boxes only if their length stands vertical
    free = ItemSpec("F", (0.3, 0.1, 0.1), 1.0)
    flat = ItemSpec("L", (0.3, 0.1, 0.1), 1.0, vertical=(False, True, True))
    shaft = (0.1, 0.1, 0.3)
    placed, util = load_container([free], shaft, time_limit_s=5.0)
    assert len(placed) == 1 and placed[0].dims_m[2] == pytest.approx(0.3)
    assert check_placement(shaft, [free], placed) == []
    assert load_container([flat], shaft, time_limit_s=5.0) == ([], 0.0)
    # lying down in a 0.3 x 0.3 x 0.1 m tray all three fit, none standing on its end
    tray = (0.3, 0.3, 0.1)
    placed, util = load_container([flat] * 3, tray, time_limit_s=5.0)
    assert util == pytest.approx(1.0) and all(p.dims_m[2] == pytest.approx(0.1) for p in placed)
    assert check_placement(tray, [flat] * 3, placed) == []
    # the checker itself rejects a box standing on a dimension that may not be vertical
    from warehouse_core.ops.packing import Placement

    standing = [Placement("L", (0.1, 0.1, 0.3), (0, 0, 0))]
    assert any("orientation" in p for p in check_placement(shaft, [flat], standing))

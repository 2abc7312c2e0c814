"""Inventory CSV import: a good set loads, every kind of bad line is refused by file and line."""

from pathlib import Path

import pytest

from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_inventory_csv, seeded_inventory

LAYOUT = Path(__file__).resolve().parents[3] / "maps" / "warehouse_layout.yaml"


@pytest.fixture(scope="module")
def layout():
    return load_layout(LAYOUT)


def write(tmp_path, skus="sku,popularity\nA,5\nB,1\n", racks=None,
          stock="rack,sku,quantity\nR0001,A,10\nR0001,B,3\nR0002,A,7\n"):
    (tmp_path / "skus.csv").write_text(skus)
    (tmp_path / "stock.csv").write_text(stock)
    if racks is not None:
        (tmp_path / "racks.csv").write_text(racks)
    return tmp_path


def test_a_good_inventory_loads(tmp_path, layout):
    inv, placement = load_inventory_csv(write(tmp_path), layout)
    assert inv.available("R0001", "A") == 10 and inv.total_available("A") == 17
    assert inv.popularity == {"A": 5.0, "B": 1.0}
    assert placement["L0001"] == "R0001"


def test_rack_placement_can_be_imported(tmp_path, layout):
    inv, placement = load_inventory_csv(
        write(tmp_path, racks="rack,location\nR0001,L0007\nR0002,L0002\n"), layout)
    assert placement == {"L0007": "R0001", "L0002": "R0002"}


@pytest.mark.parametrize("kwargs,file,line,words", [
    ({"stock": "rack,sku,quantity\nR0001,ZZZ,1\n"}, "stock.csv", 2, "unknown sku"),
    ({"stock": "rack,sku,quantity\nR0001,A,-4\n"}, "stock.csv", 2, "must be a whole number"),
    ({"stock": "rack,sku,quantity\nR0001,A,1.5\n"}, "stock.csv", 2, "must be a whole number"),
    ({"stock": "rack,sku,quantity\nR0001,A,nan\n"}, "stock.csv", 2, ">= 0"),
    ({"stock": "rack,sku,quantity\nR9999,A,1\n"}, "stock.csv", 2, "unknown rack"),
    ({"skus": "sku,popularity\nA,1\nA,2\n"}, "skus.csv", 3, "duplicate sku"),
    ({"skus": "sku,popularity\nA,1\n" + "S" * 129 + ",2\n"}, "skus.csv", 3, "129 characters long"),
    ({"racks": "rack,location\nR1,L0001\nR1,L0002\n"}, "racks.csv", 3, "duplicate rack id"),
    ({"racks": "rack,location\nR1,NOPE\n"}, "racks.csv", 2, "not a storage location"),
    ({"stock": "quantity,sku,rack\n1,A,R0001\n"}, "stock.csv", 1, "header"),
    ({"stock": "rack,sku,quantity\nR0001,A\n"}, "stock.csv", 2, "expected 3 fields"),
])
def test_bad_lines_are_refused_with_file_and_line(tmp_path, layout, kwargs, file, line, words):
    with pytest.raises(InputError) as err:
        load_inventory_csv(write(tmp_path, **kwargs), layout)
    text = str(err.value)
    assert f"{file}:{line}" in text and words in text, text


def test_empty_and_missing_files_are_refused(tmp_path, layout):
    with pytest.raises(InputError, match="skus.csv"):
        load_inventory_csv(tmp_path, layout)
    with pytest.raises(InputError, match="header"):
        load_inventory_csv(write(tmp_path, stock=""), layout)


def test_seeded_catalogue_is_skewed(layout):
    inv = seeded_inventory(list(layout.rack_ids), 500, 1)
    pops = sorted(inv.popularity.values(), reverse=True)
    assert pops[0] > 50 * pops[-1]  # a few fast movers, a long tail
    assert all(inv.racks_by_sku[s] for s in inv.skus)  # every SKU is stocked somewhere


def test_every_node_gets_the_same_catalogue(tmp_path, layout):
    from warehouse_core.ops.inventory import load_catalogue

    a, pa = load_catalogue(layout, "", 300, 5)
    b, pb = load_catalogue(layout, "", 300, 5)
    assert a.stock == b.stock and pa == pb and set(pa.values()) == set(layout.rack_ids)
    c, pc = load_catalogue(layout, str(write(tmp_path, racks="rack,location\nR0001,L0007\nR0002,L0002\n")), 0, 0)
    assert pc == {"L0007": "R0001", "L0002": "R0002"} and c.available("R0001", "A") == 10

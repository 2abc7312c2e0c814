"""Layout loading and validation (small hand-made layouts written into tmp_path)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from warehouse_core.errors import InputError
from warehouse_core.maps.grid import Grid
from warehouse_core.maps.layout import Aisle, Charger, Layout, Station, StorageLocation, load_layout
from warehouse_core.maps.occupancy import write_pgm

# '#' wall, 'L' storage (with rack), 'l' storage (empty), 'P' pick cell of S1, 'q' queue of S1,
# 'C' charger, anything else free floor. Rows are listed top (row 0) first.
SMALL = [
    "##########",
    "#........#",
    "#.LLl.LL.#",
    "#.LL..Ll.#",
    "#........#",
    "#P......C#",
    "#q.......#",
    "##########",
]
RES = 0.5       # metres per pixel; cells are 1 m = 2 x 2 pixels


def write_nav2_map(dir_, rows, name="floor"):
    cells = np.array([[ch != "#" for ch in r] for r in rows])
    px = np.where(cells, 254, 0).astype(np.uint8)
    px = np.kron(px, np.ones((2, 2), dtype=np.uint8))
    write_pgm(dir_ / f"{name}.pgm", px)
    (dir_ / f"{name}.yaml").write_text(
        f"image: {name}.pgm\nresolution: {RES}\norigin: [10.0, -5.0, 0.0]\nnegate: 0\n"
        "occupied_thresh: 0.65\nfree_thresh: 0.196\n")
    return f"{name}.yaml"


def layout_doc(rows, map_name="floor.yaml"):
    storage, queue, chargers, pick = [], [], [], None
    for y, r in enumerate(rows):
        for x, ch in enumerate(r):
            if ch in "Ll":
                n = len(storage) + 1
                storage.append({"id": f"L{n:02d}", "cell": [x, y], "rack": f"R{n:02d}" if ch == "L" else None})
            elif ch == "P":
                pick = [x, y]
            elif ch == "q":
                queue.append([x, y])
            elif ch == "C":
                chargers.append({"id": f"C{len(chargers) + 1}", "cell": [x, y]})
    doc = {"layout": {"name": "test", "map": map_name, "cell_size": 1.0},
           "storage": storage, "chargers": chargers,
           "aisles": [{"id": "A1", "from": [1, 4], "to": [8, 4]}]}
    if pick is not None:
        doc["stations"] = [{"id": "S1", "pick_cell": pick, "queue": queue}]
    return doc


def write_case(tmp_path, rows=SMALL, doc=None, mutate=None):
    write_nav2_map(tmp_path, rows)
    doc = layout_doc(rows) if doc is None else doc
    if mutate:
        mutate(doc)
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(doc, default_flow_style=None, sort_keys=False))
    return path


def expect_error(path, *fragments):
    with pytest.raises(InputError) as e:
        load_layout(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return e.value


# -------------------------------------------------------------------------------- valid

def test_load_small_layout(tmp_path):
    path = write_case(tmp_path)
    lay = load_layout(path)
    assert isinstance(lay, Layout) and lay.name == "test" and lay.source == str(path)
    assert isinstance(lay.grid, Grid) and (lay.grid.width, lay.grid.height) == (10, 8)
    assert len(lay.storage) == 9
    assert lay.storage[0] == StorageLocation("L01", (2, 2), "R01")
    assert lay.storage_by_id["L03"].rack is None
    assert lay.storage_by_id["L09"] == StorageLocation("L09", (7, 3), None)
    assert lay.rack_ids == ("R01", "R02", "R04", "R05", "R06", "R07", "R08")
    assert lay.storage_by_rack["R08"].cell == (6, 3)
    assert lay.stations == (Station("S1", (1, 5), ((1, 6),)),)
    assert lay.chargers == (Charger("C1", (8, 5)),)
    assert lay.aisles[0] == Aisle("A1", tuple((x, 4) for x in range(1, 9)))
    mask = lay.storage_mask
    assert mask.dtype == np.bool_ and mask.sum() == 9 and mask[2, 2] and not mask[1, 1]
    assert np.array_equal(lay.loaded_passable, lay.grid.free & ~mask)
    assert lay.loaded_passable.sum() == lay.grid.free.sum() - 9
    # map origin (10, -5), 8 rows of 1 m: cell (0, 0) is the top-left cell
    assert lay.cell_to_world((0, 0)) == pytest.approx((10.5, 2.5))
    assert lay.cell_to_world((9, 7)) == pytest.approx((19.5, -4.5))
    assert lay.world_to_cell(*lay.cell_to_world((3, 4))) == (3, 4)


def test_movingai_map(tmp_path):
    rows = [r.replace("#", "@") for r in SMALL]
    text = "type octile\nheight 8\nwidth 10\nmap\n" + "\n".join(
        "".join("@" if ch == "@" else "." for ch in r) for r in rows) + "\n"
    (tmp_path / "floor.map").write_text(text)
    doc = layout_doc(SMALL, map_name="floor.map")
    doc["layout"]["cell_size"] = 2.0
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    lay = load_layout(path)
    assert (lay.grid.width, lay.grid.height) == (10, 8)
    assert lay.frame.origin_x == 0.0 and lay.frame.origin_y == 0.0 and lay.frame.cell_size == 2.0
    assert lay.cell_to_world((0, 7)) == pytest.approx((1.0, 1.0))
    assert len(lay.storage) == 9


# -------------------------------------------------------------------------------- errors

def test_missing_layout_file(tmp_path):
    with pytest.raises(InputError) as e:
        load_layout(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(e.value)


def test_missing_map_file(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["layout"].update(map="missing.yaml"))
    err = expect_error(path, "missing.yaml", "does not exist")
    assert err.where == "layout.map" and err.fix


def test_missing_image(tmp_path):
    path = write_case(tmp_path)
    (tmp_path / "floor.pgm").unlink()
    with pytest.raises(InputError) as e:
        load_layout(path)
    assert "floor.yaml" in str(e.value) and "floor.pgm" in str(e.value) and "image" in str(e.value)


def test_unknown_top_level_key(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d.update(robots=[]))
    expect_error(path, "unknown top-level key", "robots")


def test_unknown_element_key(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["storage"][1].update(shelf=3))
    expect_error(path, "L02", "shelf")


def test_rack_on_wall(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["storage"][3].update(cell=[0, 3]))
    err = expect_error(path, "L04", "R04", "[0, 3]", "wall")
    assert err.where == "storage[3]"


def test_cell_outside_map(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["chargers"][0].update(cell=[10, 2]))
    expect_error(path, "charger C1", "[10, 2]", "outside the map")


@pytest.mark.parametrize("section, index, fragment", [
    ("storage", 1, "duplicate storage id L01"),
    ("chargers", 0, "duplicate charger id C1"),
    ("stations", 0, "duplicate station id S1"),
])
def test_duplicate_ids(tmp_path, section, index, fragment):
    def mutate(d):
        if section == "storage":
            d["storage"][1]["id"] = "L01"
        elif section == "chargers":
            d["chargers"].append({"id": "C1", "cell": [8, 1]})
        else:
            d["stations"].append({"id": "S1", "pick_cell": [3, 6], "queue": []})
    path = write_case(tmp_path, mutate=mutate)
    expect_error(path, fragment)


def test_duplicate_rack(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["storage"][4].update(rack="R01"))
    expect_error(path, "duplicate rack id R01", "L01", "L05")


def test_pick_cell_on_storage(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["stations"][0].update(pick_cell=[2, 2]))
    expect_error(path, "station S1 pick cell", "[2, 2]", "storage location L01")


def test_queue_cell_on_storage(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["stations"][0]["queue"].append([7, 3]))
    expect_error(path, "station S1 queue cell 1", "[7, 3]", "storage location L09")


def test_no_station(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d.pop("stations"))
    expect_error(path, "no stations")


def test_unreachable_station_with_rack(tmp_path):
    # S2 sits in a pocket closed by a storage row: an unloaded robot gets in, a loaded one cannot
    rows = [
        "##########",
        "#........#",
        "#.LL..LL.#",
        "#........#",
        "#P.....l##",
        "#q.....l.#",
        "########.#",
        "##########",
    ]
    def mutate(d):
        d["aisles"] = []
        d["stations"].append({"id": "S3", "pick_cell": [8, 6], "queue": [[8, 5]]})
    path = write_case(tmp_path, rows=rows, mutate=mutate)
    expect_error(path, "station S3", "cannot be reached from station S1 with a rack")


def test_storage_too_deep_for_loaded_robot(tmp_path):
    # a column of 4 storage cells between walls: L02 (and L03) touch only storage and walls
    rows = [
        "#########",
        "#.......#",
        "#.L#....#",
        "##L#....#",
        "##L#....#",
        "#.L.....#",
        "#P......#",
        "#q......#",
        "#########",
    ]
    path = write_case(tmp_path, rows=rows, mutate=lambda d: d.update(aisles=[]))
    err = expect_error(path, "station S1 cannot be reached from storage L02", "with a rack")
    assert err.where == "storage[1]"


def test_unreachable_storage_unloaded(tmp_path):
    rows = [
        "##########",
        "#..#.....#",
        "#L.#..LL.#",
        "####.....#",
        "#........#",
        "#P......C#",
        "#q.......#",
        "##########",
    ]
    path = write_case(tmp_path, rows=rows, mutate=lambda d: d.update(aisles=[]))
    expect_error(path, "station S1 cannot be reached from storage L01", "even without a rack")


def test_unreachable_charger(tmp_path):
    rows = list(SMALL)
    rows[4] = "#.......##"
    rows[5] = "#P.....#C#"
    rows[6] = "#q......##"
    path = write_case(tmp_path, rows=rows, mutate=lambda d: d.update(aisles=[]))
    expect_error(path, "charger C1", "cannot be reached")


def test_aisle_on_storage(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["aisles"].append({"id": "A2", "from": [1, 3], "to": [3, 3]}))
    expect_error(path, "aisle A2", "[2, 3]", "storage location L06")


def test_cell_size_not_multiple(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["layout"].update(cell_size=0.75))
    expect_error(path, "cell_size", "multiple")


def test_bad_cell_value(tmp_path):
    path = write_case(tmp_path, mutate=lambda d: d["storage"][0].update(cell=[1.5, 2]))
    expect_error(path, "L01", "[x, y]")

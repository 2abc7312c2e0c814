"""Bad input, fuzzed (hypothesis): every parser loads a file or refuses it with an InputError
that names the file; no other exception escapes, whatever the bytes.

Valid sample files (layout YAML, Nav2 map YAML + PGM, MovingAI map and scenario, fault scenario
YAML, CSV catalogue, demand history CSV, box catalogue) are mutated: a line truncated, replaced or
duplicated, a value swapped for a hostile one (NaN, infinities, negative or huge numbers,
unicode, empty, YAML structures), the file cut short, random bytes. Orders are fuzzed
through the allocator's own intake (:meth:`WarehouseOps.submit`).
"""

import math
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse_core.errors import InputError
from warehouse_core.maps.grid import load_movingai_map, load_movingai_scen
from warehouse_core.maps.layout import load_layout
from warehouse_core.maps.occupancy import load_occupancy_map
from warehouse_core.ops.boxes import load_boxes
from warehouse_core.ops.forecast import load_demand_csv
from warehouse_core.ops.inventory import load_inventory_csv
from warehouse_core.ops.orders import Order, OrderLine

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from fuzz_helpers import mutated  # noqa: E402
from ops_helpers import ops_with  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

def loads_or_refuses(load, path: Path, name: str | None = None) -> None:
    """``load(path)`` returns, or raises an InputError naming the file (``name``) and a problem."""
    try:
        load(path)
    except InputError as exc:
        assert (name or path.name) in str(exc), str(exc)
        assert exc.problem.strip()


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@pytest.fixture(scope="module")
def small_layout_files(work):
    """A small valid layout (a slice of the default one) with its map, in ``work``."""
    for f in ("warehouse.yaml", "warehouse.pgm"):
        shutil.copy(ROOT / "maps" / f, work / f)
    text = (ROOT / "maps" / "warehouse_layout.yaml").read_text()
    head, _, rest = text.partition("storage:\n")
    storage = [line for line in rest.splitlines(keepends=True) if line.startswith("  - {id: L")]
    others = rest[rest.index(storage[-1]) + len(storage[-1]):]
    small = head + "storage:\n" + "".join(storage[:12]) + others
    (work / "layout.yaml").write_text(small)
    load_layout(work / "layout.yaml")  # the unmutated sample is valid
    return work


@FUZZ
@given(st.data())
def test_fuzzed_layout_yaml(small_layout_files, data):
    text = (small_layout_files / "layout.yaml").read_text()
    path = small_layout_files / "fuzz_layout.yaml"
    path.write_text(data.draw(mutated(text)))
    loads_or_refuses(load_layout, path)


@FUZZ
@given(st.data())
def test_fuzzed_nav2_map_yaml(small_layout_files, data):
    text = (small_layout_files / "warehouse.yaml").read_text()
    path = small_layout_files / "fuzz_map.yaml"
    path.write_text(data.draw(mutated(text)))
    loads_or_refuses(load_occupancy_map, path, "fuzz_map")


@FUZZ
@given(header=st.one_of(st.just("P5\n410 270\n255\n"), st.sampled_from(["P5\n", "P2\n3 3\n255\n", "P5\n-1 5\n255\n",
                                                                        "P5\n3 3\n0\n", "P5\n3 3\n70000\n",
                                                                        "P5\n99999999 99999999\n255\n",
                                                                        "P6\n3 3\n255\n", ""]),
                        st.text(max_size=30)),
       body=st.binary(max_size=200))
def test_fuzzed_pgm(small_layout_files, header, body):
    (small_layout_files / "fuzz.pgm").write_bytes(header.encode("utf-8", "replace") + body)
    yaml_text = (small_layout_files / "warehouse.yaml").read_text().replace("warehouse.pgm", "fuzz.pgm")
    path = small_layout_files / "fuzz_pgm.yaml"
    path.write_text(yaml_text)
    loads_or_refuses(load_occupancy_map, path, "fuzz")


def _map_rows(text: str) -> list[str]:
    """The rows of a MovingAI map text after its 'map' line, as a reader sees them."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "map") + 1
    return [line.rstrip() for line in lines[start:] if line.strip()]


@FUZZ
@given(st.data())
def test_fuzzed_movingai_map_and_scenario(work, data):
    m = work / "fuzz.map"
    m.write_text(data.draw(mutated((DATA / "warehouse-small.map").read_text())))
    loads_or_refuses(load_movingai_map, m)
    try:
        grid = load_movingai_map(m)
    except InputError:
        pass
    else:  # a map that loads is every row of the file, cell for cell: nothing cut, nothing padded
        rows = _map_rows(m.read_text())
        assert [len(r) for r in rows] == [grid.width] * grid.height
        assert all(grid.free[y, x] == (ch in ".GS") for y, r in enumerate(rows) for x, ch in enumerate(r))
    scen_lines = (DATA / "warehouse-small-random-1-100.scen").read_text().splitlines(keepends=True)[:12]
    s = work / "fuzz.scen"
    s.write_text(data.draw(mutated("".join(scen_lines))))
    grid = load_movingai_map(DATA / "warehouse-small.map")
    loads_or_refuses(lambda p: load_movingai_scen(p, grid), s)


@FUZZ
@given(st.data())
def test_fuzzed_scenario_yaml(work, data):
    """A mutated scenario loads or is refused naming the file; one that loads says what its file
    says: the same document gives the same scenario, and its faults are what the nodes get."""
    import yaml

    from warehouse_core.sim.scenario import faults_from_json, faults_to_json, load_scenario

    original_path = ROOT / "config" / "scenarios" / data.draw(st.sampled_from(
        ["robot_faults.yaml", "floor_and_link_faults.yaml", "rack_faults.yaml"]))
    text = data.draw(mutated(original_path.read_text()))
    path = work / "fuzz_scenario.yaml"
    path.write_text(text)
    loads_or_refuses(load_scenario, path)
    try:
        sc = load_scenario(path)
    except InputError:
        return
    assert faults_from_json(faults_to_json(sc.faults)) == list(sc.faults)
    assert all(math.isfinite(f.at) and f.at >= 0 and f.seconds >= 0 for f in sc.faults)
    if yaml.safe_load(text) == yaml.safe_load(original_path.read_text()):  # e.g. a comment changed
        assert sc.faults == load_scenario(original_path).faults and sc.params == load_scenario(original_path).params
    else:  # the change is in what was loaded, not dropped on the way
        doc = yaml.safe_load(text)
        assert len(sc.faults) == len(doc["faults"]) and sc.params == (doc.get("params") or {})


CATALOGUE = {"skus.csv": "sku,popularity\nA,1.0\nB,0.5\nC,0\n",
             "racks.csv": "rack,location\nR0001,L0001\nR0002,L0002\n",
             "stock.csv": "rack,sku,quantity\nR0001,A,5\nR0001,B,2\nR0002,C,7\n"}


@FUZZ
@given(st.data())
def test_fuzzed_inventory_csv(small_layout_files, data):
    layout = load_layout(small_layout_files / "layout.yaml")
    d = small_layout_files / "inventory"
    d.mkdir(exist_ok=True)
    target = data.draw(st.sampled_from(sorted(CATALOGUE)))
    for name, text in CATALOGUE.items():
        (d / name).write_text(data.draw(mutated(text)) if name == target else text)
    loads_or_refuses(lambda p: load_inventory_csv(p, layout), d, target)


@FUZZ
@given(st.data())
def test_fuzzed_demand_history_csv(work, data):
    text = "date,sku,quantity\n" + "".join(f"2026-01-{d:02d},A,{d % 4}\n2026-01-{d:02d},B,1\n" for d in range(1, 22))
    path = work / "demand.csv"
    path.write_text(data.draw(mutated(text)))
    loads_or_refuses(load_demand_csv, path)


@FUZZ
@given(st.data())
def test_fuzzed_box_catalogue(work, data):
    path = work / "boxes.yaml"
    path.write_text(data.draw(mutated((ROOT / "config" / "boxes.yaml").read_text())))
    loads_or_refuses(load_boxes, path)


def test_empty_and_binary_files_are_refused_by_name(small_layout_files):
    for name, load in [("layout.yaml", load_layout), ("map.yaml", load_occupancy_map),
                       ("grid.map", load_movingai_map), ("boxes.yaml", load_boxes), ("demand.csv", load_demand_csv)]:
        for content in (b"", b"\x00\xff\xfe" * 50, b"[]:\n  - 1\n"):
            path = small_layout_files / f"bad_{name}"
            path.write_bytes(content)
            with pytest.raises(InputError, match=re.escape(path.name)):
                load(path)


# -- orders --------------------------------------------------------------------------------
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**70, 2**70))
orders = st.builds(
    Order,
    order_id=st.one_of(st.just(""), st.text(max_size=20)),
    consumer_id=st.one_of(st.just(""), st.just("   "), st.text(max_size=20)),
    lines=st.lists(st.builds(OrderLine, sku=st.one_of(st.sampled_from(["A", "B", "C", "", "Ä"]), st.text(max_size=8)),
                             quantity=st.one_of(st.integers(-2**70, 2**70), st.integers(0, 12))),
                   max_size=4).map(tuple),
    created=numbers, deadline=numbers, service=st.integers(-3, 300))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(orders, min_size=1, max_size=5))
def test_fuzzed_orders_are_accepted_or_refused_with_a_reason(batch):
    ops = ops_with({"R1": {"A": 9, "B": 9}, "R2": {"A": 9}, "R3": {"C": 9}})
    for order in batch:
        accepted, order_id, reason = ops.submit(order, 0.0)
        if accepted:
            assert order_id and not reason
            lines = ops.orders[order_id].order.lines
            assert all(1 <= line.quantity <= 9 and line.sku in "ABC" for line in lines)
            assert math.isfinite(order.deadline) and order.deadline > order.created
        else:
            assert re.search(r"consumer_id|lines|deadline|created|service|order_id|stock|rack", reason), reason
    # whatever came before, a good order is still served
    assert ops.submit(Order("GOOD-1", "C1", (OrderLine("C", 1),), 0.0, 3600.0), 1.0)[0]

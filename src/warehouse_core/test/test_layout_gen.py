"""The G2P layout generator and the maps shipped in maps/."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from warehouse_core.maps.layout import load_layout
from warehouse_core.maps.layout_gen import PRESETS, generate, main, write_layout
from warehouse_core.maps.occupancy import load_occupancy_map

MAPS = Path(__file__).resolve().parents[3] / "maps"
needs_maps = pytest.mark.skipif(not (MAPS / "warehouse_layout.yaml").is_file(),
                                reason="maps/ not next to the source tree")

# preset -> (min storage, min stations, min chargers)
PROMISED = {"warehouse": (200, 4, 6), "warehouse_large": (1500, 12, 24)}


def check_layout(lay, min_storage, min_stations, min_chargers):
    assert len(lay.storage) >= min_storage
    assert len(lay.stations) >= min_stations
    assert len(lay.chargers) >= min_chargers
    # about 85 % of the locations hold a rack, so returns have free slots
    fill = len(lay.rack_ids) / len(lay.storage)
    assert 0.8 <= fill <= 0.9
    assert len(set(lay.rack_ids)) == len(lay.rack_ids)
    # every storage cell touches a cell a loaded robot may use
    lp = lay.loaded_passable
    for s in lay.storage:
        x, y = s.cell
        assert lp[y, x - 1] or lp[y, x + 1] or lp[y - 1, x] or lp[y + 1, x], s
    # stations: pick cell + 3-4 queue cells; chargers on free floor
    for st in lay.stations:
        assert 3 <= len(st.queue) <= 4
        assert lay.grid.is_free(st.pick_cell)
    # aisles never cover storage
    for a in lay.aisles:
        assert not any(lay.storage_mask[c[1], c[0]] for c in a.cells)
    # walls all around
    free = lay.grid.free
    assert not free[0].any() and not free[-1].any() and not free[:, 0].any() and not free[:, -1].any()


@needs_maps
@pytest.mark.parametrize("stem", ["warehouse", "warehouse_large"])
def test_shipped_maps(stem):
    lay = load_layout(MAPS / f"{stem}_layout.yaml")
    check_layout(lay, *PROMISED[stem])
    occ = load_occupancy_map(MAPS / f"{stem}.yaml")
    assert occ.resolution == pytest.approx(0.1)
    assert lay.frame.cell_size == pytest.approx(1.0)
    assert occ.free.shape == (lay.grid.height * 10, lay.grid.width * 10)


@needs_maps
def test_default_map_size_and_counts():
    lay = load_layout(MAPS / "warehouse_layout.yaml")
    assert 240 <= len(lay.storage) <= 300
    assert 35 <= lay.grid.width <= 45 and 24 <= lay.grid.height <= 34


@needs_maps
@pytest.mark.parametrize("preset", ["default", "large"])
def test_shipped_maps_are_up_to_date(tmp_path, preset):
    paths = write_layout(PRESETS[preset], tmp_path)
    for p in paths.values():
        assert p.read_bytes() == (MAPS / p.name).read_bytes(), \
            f"maps/{p.name} differs from the generator; run python -m warehouse_core.maps.layout_gen --preset {preset}"


def test_generator_is_seeded():
    a, b = generate(PRESETS["default"]), generate(PRESETS["default"])
    assert a.storage == b.storage and a.stations == b.stations and np.array_equal(a.walls, b.walls)
    c = generate(replace(PRESETS["default"], seed=123))
    assert [s[:2] for s in c.storage] == [s[:2] for s in a.storage]
    assert [s[2] is None for s in c.storage] != [s[2] is None for s in a.storage]


def test_cli_writes_loadable_files(tmp_path, capsys):
    assert main(["--preset", "default", "--out-dir", str(tmp_path), "--seed", "5", "--stem", "w"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["w.pgm", "w.yaml", "w_layout.yaml"]
    out = capsys.readouterr().out
    assert "storage locations" in out
    lay = load_layout(tmp_path / "w_layout.yaml")
    check_layout(lay, *PROMISED["warehouse"])
    text = (tmp_path / "w_layout.yaml").read_text()
    assert "  - {id: L0001, cell: [" in text          # compact flow style per element


def test_custom_params(tmp_path):
    params = replace(PRESETS["default"], stem="tiny", blocks_x=(2,), blocks_y=(2,), block_len=3,
                     stations=1, queue_len=3, chargers=2, highway=2)
    write_layout(params, tmp_path)
    lay = load_layout(tmp_path / "tiny_layout.yaml")
    assert len(lay.storage) == 2 * 2 * 2 * 3
    check_layout(lay, 12, 1, 2)


def test_too_many_stations_for_the_wall():
    with pytest.raises(ValueError, match="stations"):
        generate(replace(PRESETS["default"], stations=40))

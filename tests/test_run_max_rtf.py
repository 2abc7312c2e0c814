"""``./warehouse run --max-rtf``: the simulator's real-time-factor cap written into the params."""

from pathlib import Path

import pytest
import yaml

from warehouse_core.errors import InputError
from warehouse_nodes.run_params import RunOptions, write_params

ROOT = Path(__file__).resolve().parents[1]


def _params(tmp_path: Path, robots: int, max_rtf: float | None) -> dict:
    opts = RunOptions(robots, 60.0, 1, ROOT / "maps" / "warehouse_large_layout.yaml",
                      ROOT / "config" / "warehouse.yaml", tmp_path, ROOT, max_rtf=max_rtf)
    path, _doc = write_params(opts)
    return yaml.safe_load(path.read_text())["floor_simulator"]["ros__parameters"]


def test_default_cap_leaves_headroom_for_large_fleets_and_keeps_the_config_for_small_ones(tmp_path):
    configured = yaml.safe_load((ROOT / "config" / "warehouse.yaml").read_text())[
        "floor_simulator"]["ros__parameters"]["real_time_factor"]
    assert _params(tmp_path, 500, None)["real_time_factor"] == pytest.approx(1.5)
    assert _params(tmp_path, 100, None)["real_time_factor"] == pytest.approx(7.5)
    assert _params(tmp_path, 20, None)["real_time_factor"] == pytest.approx(configured)


def test_explicit_cap_and_no_cap(tmp_path):
    assert _params(tmp_path, 500, 3.0)["real_time_factor"] == 3.0
    assert _params(tmp_path, 500, 0.0)["real_time_factor"] == 0.0  # as fast as possible


def test_a_negative_cap_is_refused_with_the_fix(tmp_path):
    with pytest.raises(InputError, match="--max-rtf") as err:
        _params(tmp_path, 50, -1.0)
    assert "0 for as fast as possible" in str(err.value)


def test_a_config_without_the_factor_caps_at_the_simulators_default(tmp_path):
    """The runner's fallback is the node's typed default, not a number of its own."""
    from warehouse_nodes.configs import FloorSimConfig
    from warehouse_nodes.params import default_of

    doc = yaml.safe_load((ROOT / "config" / "warehouse.yaml").read_text())
    del doc["floor_simulator"]["ros__parameters"]["real_time_factor"]
    config = tmp_path / "no_rtf.yaml"
    config.write_text(yaml.safe_dump(doc))
    opts = RunOptions(20, 60.0, 1, ROOT / "maps" / "warehouse_layout.yaml", config, tmp_path, ROOT)
    _path, written = write_params(opts)
    assert written["floor_simulator"]["ros__parameters"]["real_time_factor"] == \
        pytest.approx(default_of(FloorSimConfig, "real_time_factor"))  # below 750 / 20 robots

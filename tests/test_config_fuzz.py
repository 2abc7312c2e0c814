"""Bad configs, fuzzed (hypothesis): the run's params YAML and node parameters of wrong type.

``./warehouse run --config FILE`` reads the file before starting anything: a mutated
``config/warehouse.yaml`` is refused with an InputError naming the file, or used whole: every key
a parameter of its node, passed on as written (no misspelt key silently ignored).
A node given a parameter of the wrong type, a non-finite number or a value outside the parameter's
range refuses it with an InputError naming the parameter (the process prints it and exits with code 2).
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core" / "test"))
from fuzz_helpers import mutated  # noqa: E402  (the core tests' mutation strategy)

from warehouse_core.errors import InputError  # noqa: E402
from warehouse_nodes.config_check import ROS_PARAMETERS  # noqa: E402
from warehouse_nodes.configs import NODE_CONFIGS  # noqa: E402
from warehouse_nodes.run_params import FORECASTER_KEYS, RUN_OVERRIDES, RunOptions, write_params  # noqa: E402


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_fuzzed_run_config_is_used_or_refused_by_name(data):
    text = data.draw(mutated((ROOT / "config" / "warehouse.yaml").read_text()))
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "fuzz_config.yaml"
        cfg.write_text(text)
        opts = RunOptions(robots=4, duration=10.0, seed=1, layout=ROOT / "maps" / "warehouse_layout.yaml",
                          config=cfg, out=Path(d), root=ROOT)
        try:
            path, _ = write_params(opts)
        except InputError as exc:
            assert "fuzz_config.yaml" in str(exc)
            return
        # accepted: every key of the file is a parameter of its node and reaches the nodes as written
        # (numbers as numbers), unless the runner overrides it (RUN_OVERRIDES)
        declared = {name: {f.name for f in dataclasses.fields(cls)} for name, cls in NODE_CONFIGS.items()}
        written = yaml.safe_load(path.read_text())
        for section, body in yaml.safe_load(text).items():
            for key, value in body["ros__parameters"].items():
                names = set().union(*declared.values()) if section == "/**" else declared[section]
                assert key in names | ROS_PARAMETERS or key in FORECASTER_KEYS, f"{section}.{key} accepted"
                if f"{section}.{key}" not in RUN_OVERRIDES and key not in FORECASTER_KEYS:
                    assert written[section]["ros__parameters"][key] == value, f"{section}.{key} changed"


@pytest.fixture(scope="module")
def ros(ros_env):  # noqa: ARG001 (sets the domain)
    import rclpy

    rclpy.init()
    yield
    rclpy.try_shutdown()


values = st.one_of(st.text(max_size=10), st.integers(-2**63, 2**63 - 1), st.floats(), st.booleans(),
                   st.lists(st.integers(-5, 5), min_size=1, max_size=3),
                   st.lists(st.text(max_size=3), min_size=1, max_size=3))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(name=st.sampled_from(["allocation_period", "robots", "policy", "seed", "state_store", "task_resend",
                             "max_lines_per_visit", "boxes"]), value=values)
def test_fuzzed_parameters_are_used_or_refused_by_name(ros, name, value):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from warehouse_nodes.configs import AllocatorConfig
    from warehouse_nodes.params import declare_config

    node = Node("fuzz_allocator", parameter_overrides=[Parameter(name, value=value)])
    try:
        declare_config(node, AllocatorConfig)
    except InputError as exc:
        assert f"fuzz_allocator.{name}" in str(exc)
    finally:
        node.destroy_node()

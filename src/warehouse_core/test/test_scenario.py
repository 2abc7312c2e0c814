"""Scenario files: the shipped ones load, bad ones are refused naming the file and the key."""

from pathlib import Path

import pytest

from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.scenario import Fault, faults_from_json, faults_to_json, load_scenario

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "config" / "scenarios").glob("*.yaml"))


def test_there_are_scenarios_for_every_fault_kind():
    kinds = {f.kind for path in SCENARIOS for f in load_scenario(path).faults}
    assert kinds == {"robot_fail", "robot_silent", "robot_stuck", "blocked_cell", "link_fault", "rack_jammed"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_load_and_fit_their_run(path):
    sc = load_scenario(path)
    assert sc.name and (sc.faults or path.name == "bases_shift.yaml")  # that one runs on vendor bases
    layout = load_layout(ROOT / (sc.map or "maps/warehouse_layout.yaml"))
    sc.check_run(sc.robots or 20, layout.grid, layout.rack_ids)
    assert faults_from_json(faults_to_json(sc.faults)) == list(sc.faults)  # what the nodes get


def _refused(tmp_path, text, *fragments):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        load_scenario(f)
    msg = str(exc.value)
    assert msg.startswith(str(f)), msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


@pytest.mark.parametrize("text, fragments", [
    ("faults: [{at: 10, kind: meteor}]", ("faults[0].kind", "meteor", "robot_stuck")),
    ("faults: [{at: -1, kind: robot_fail, robot: robot_1}]", ("faults[0].at", "at least 0")),
    ("faults: [{at: 5, kind: robot_stuck, robot: robot_1}]", ("faults[0]", "lacks", "seconds")),
    ("faults: [{at: 5, kind: robot_stuck, robot: robot_1, seconds: .nan}]", ("faults[0].seconds", "finite")),
    ("faults: [{at: 5, kind: robot_stuck, robot: robot_1, seconds: 3, colour: red}]", ("unknown key", "colour")),
    ("faults: [{at: 5, kind: blocked_cell, cell: [1.5, 2]}]", ("faults[0].cell", "[x, y]")),
    ("faults: [{at: 5, kind: link_fault, seconds: 9, loss: 1.5}]", ("faults[0].loss", "at most 0.9")),
    ("faults: [{at: 5, kind: robot_fail, robot: 7}]", ("faults[0].robot", "string")),
    ("faults: [{at: 5, kind: rack_jammed}]", ("faults[0]", "lacks", "rack")),
    ("faults: [{at: 5, kind: rack_jammed, rack: R1, seconds: -3}]", ("faults[0].seconds",)),
    ("robots: 0\nfaults: []", ("robots", "at least 1")),
    ("robot: 3\nfaults: []", ("unknown key", "robot")),
    ("faults: {at: 1}", ("'faults' must be a list",)),
    ("params: [1]\nfaults: []", ("params",)),
    ("description: x", ("lacks", "faults")),
    ("name: x\nfaults: [\n  {at: 1", (":3", "invalid YAML")),  # YAML error with its line
    ("", ("mapping",)),
])
def test_bad_scenarios_are_refused_naming_file_and_key(tmp_path, text, fragments):
    _refused(tmp_path, text, *fragments)


def test_faults_that_do_not_fit_the_run_are_refused(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("faults:\n  - {at: 5, kind: robot_fail, robot: robot_9}\n"
                 "  - {at: 5, kind: blocked_cell, cell: [0, 0]}\n")
    sc = load_scenario(f)
    grid = load_layout(ROOT / "maps" / "warehouse_layout.yaml").grid
    with pytest.raises(InputError, match=r"faults\[0\]\.robot.*robot_9"):
        sc.check_run(8, grid)
    with pytest.raises(InputError, match=r"faults\[1\]\.cell.*wall"):
        sc.check_run(10, grid)
    f.write_text("faults:\n  - {at: 5, kind: rack_jammed, rack: R9999}\n")
    layout = load_layout(ROOT / "maps" / "warehouse_layout.yaml")
    with pytest.raises(InputError, match=r"faults\[0\]\.rack.*R9999.*R0001"):
        load_scenario(f).check_run(8, grid, layout.rack_ids)


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="cannot read scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_a_binary_file_is_one_clear_error(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"faults: [\xff\xfe\x00]")
    with pytest.raises(InputError, match="cannot read scenario file: not UTF-8"):
        load_scenario(path)


def test_blocked_cell_without_seconds_round_trips():
    faults = [Fault("blocked_cell", 5.0, cell=(3, 4)), Fault("robot_silent", 1.0, robot="robot_0", tow_after=30.0)]
    assert faults_from_json(faults_to_json(faults)) == faults


def test_a_fault_due_at_or_after_the_end_of_the_run_is_refused_by_name(tmp_path):
    f = tmp_path / "late.yaml"
    f.write_text("faults:\n  - {at: 5, kind: robot_fail, robot: robot_1}\n"
                 "  - {at: 300, kind: link_fault, seconds: 9}\n")
    sc = load_scenario(f)
    grid = load_layout(ROOT / "maps" / "warehouse_layout.yaml").grid
    sc.check_run(8, grid, duration=300.5)  # every fault is before the end
    with pytest.raises(InputError, match=r"late.yaml:faults\[1\]\.at: link_fault fault at 300 s .*\(300 s\)"):
        sc.check_run(8, grid, duration=300.0)

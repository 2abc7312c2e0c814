"""Every subcommand of ``./warehouse`` refuses bad arguments the same way: exit code 2, one line
on stderr naming the input and the fix, no Python traceback, and nothing started.

Each case runs ``python -m warehouse_nodes.cli ARGS`` as a child process, as a user would; a bad
argument must be refused before any ROS process, bag or run directory exists, so a case takes about
a second.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "warehouse_core" / "test" / "data"
MAP = DATA / "warehouse-small.map"
SCEN = DATA / "warehouse-small-random-1-100.scen"
CONFIG = (ROOT / "config" / "warehouse.yaml").read_text()

# name -> file text, written into the test's directory (args refer to them as {name})
FILES = {
    "typo_section.yaml": CONFIG.replace("floor_simulator:\n", "floor_simulatr:\n"),
    "typo_key.yaml": CONFIG.replace("    seed: 42", "    sed: 42"),
    "negative_tick.yaml": CONFIG.replace("    tick: 0.2", "    tick: -0.2"),
    "string_tick.yaml": CONFIG.replace("    tick: 0.2", "    tick: fast"),
    "not_yaml.yaml": "/**: [\n",
    "typo_param.yaml": "params:\n  order_source: {stop_afer: 200.0}\nfaults: []\n",
    "wrong_type.yaml": "params:\n  order_source: {stop_after: soon}\nfaults: []\n",
    "unknown_node.yaml": "params:\n  order_sorce: {stop_after: 200.0}\nfaults: []\n",
    "late_fault.yaml": "duration: 100\nfaults:\n  - {at: 150, kind: robot_fail, robot: robot_1}\n",
    "no_robot.yaml": "faults:\n  - {at: 10, kind: robot_fail, robot: robot_5}\n",
    "empty.scen": "version 1\n",
    "short_header.map": MAP.read_text().replace("height 33", "height 32"),
    "tall_header.map": MAP.read_text().replace("height 33", "height 34"),
    "narrow_header.map": MAP.read_text().replace("width 57", "width 56"),
    "wide_header.map": MAP.read_text().replace("width 57", "width 58"),
    "a_file": "not a directory\n",
    "empty_token": "\n",
}
SOLVE = ["mapf", "solve", "--map", str(MAP), "--scen", str(SCEN), "--out", "{tmp}/plan.json"]

CASES = [  # (arguments, what the message must name)
    (["run", "--robots", "0"], "--robots"),
    (["run", "--robots", "many"], "--robots"),
    (["run", "--robots", "99999999999999999999"], "--robots"),
    (["run", "--robots", "100000"], "racks"),
    (["run", "--seed", "-1"], "--seed"),
    (["run", "--duration", "inf"], "--duration"),
    (["run", "--duration", "nan"], "--duration"),
    (["run", "--duration", "-5"], "--duration"),
    (["run", "--orders-per-hour", "1e9"], "--orders-per-hour"),
    (["run", "--orders-per-hour", "0"], "--orders-per-hour"),
    (["run", "--max-rtf", "-1"], "--max-rtf"),
    (["run", "--max-rtf", "nan"], "--max-rtf"),
    (["run", "--sample-every", "-5"], "--sample-every"),
    (["run", "--sample-every", "inf"], "--sample-every"),
    (["run", "--policy", "fastest"], "--policy"),
    (["run", "--bag-odom", "maybe"], "--bag-odom"),
    (["run", "--bases", "tracks"], "--bases"),
    (["run", "--bases", "nav2"], "--bases nav2"),
    (["run", "--frobnicate"], "--frobnicate"),
    (["run", "--map", "{tmp}/missing_layout.yaml"], "missing_layout.yaml"),
    (["run", "--config", "{tmp}/missing.yaml"], "missing.yaml"),
    (["run", "--config", "{tmp}/typo_section.yaml"], "floor_simulator'"),
    (["run", "--config", "{tmp}/typo_key.yaml"], "'seed'"),
    (["run", "--config", "{tmp}/negative_tick.yaml"], "negative_tick.yaml:floor_simulator.tick"),
    (["run", "--config", "{tmp}/string_tick.yaml"], "string_tick.yaml:floor_simulator.tick"),
    (["run", "--config", "{tmp}/not_yaml.yaml"], "not_yaml.yaml"),
    (["run", "--scenario", "{tmp}/typo_param.yaml"], "'stop_after'"),
    (["run", "--scenario", "{tmp}/wrong_type.yaml"], "wrong_type.yaml:params.order_source.stop_after"),
    (["run", "--scenario", "{tmp}/unknown_node.yaml"], "'order_source'"),
    (["run", "--scenario", "{tmp}/late_fault.yaml"], "late_fault.yaml:faults[0].at"),
    (["run", "--scenario", "{tmp}/no_robot.yaml", "--robots", "2"], "robot_5"),
    (["run", "--scenario", "{tmp}/missing_scenario.yaml"], "missing_scenario.yaml"),
    (["run", "--out", "{tmp}/a_file"], "a_file"),
    (["run", "--api", "--api-port", "0"], "--api-port"),
    (["run", "--api", "--api-port", "70000"], "--api-port"),
    (["run", "--api", "--api-host", "203.0.113.7"], "--api-host"),  # not an address of this machine
    (["run", "--api", "--api-token-file", "{tmp}/missing_token"], "missing_token"),
    (["run", "--api", "--api-token-file", "{tmp}/empty_token"], "empty_token"),
    (["mapf"], "command"),
    (["mapf", "plan"], "plan"),
    (["mapf", "solve", "--map", str(MAP)], "--scen"),
    ([*SOLVE, "--agents", "0"], "--agents"),
    ([*SOLVE, "--agents", "-3"], "--agents"),
    ([*SOLVE, "--agents", "101"], "101"),
    ([*SOLVE, "--time-limit", "nan"], "--time-limit"),
    ([*SOLVE, "--time-limit", "inf"], "--time-limit"),
    ([*SOLVE, "--time-limit", "0"], "--time-limit"),
    ([*SOLVE, "--seed", "-1"], "--seed"),
    ([*SOLVE, "--algorithm", "astar"], "--algorithm"),
    ([*SOLVE[:5], "{tmp}/empty.scen", *SOLVE[6:]], "empty.scen"),
    ([*SOLVE[:3], "{tmp}/missing.map", *SOLVE[4:]], "missing.map"),
    ([*SOLVE[:3], "{tmp}/short_header.map", *SOLVE[4:]], "short_header.map"),
    ([*SOLVE[:3], "{tmp}/tall_header.map", *SOLVE[4:]], "tall_header.map"),
    ([*SOLVE[:3], "{tmp}/narrow_header.map", *SOLVE[4:]], "narrow_header.map"),
    ([*SOLVE[:3], "{tmp}/wide_header.map", *SOLVE[4:]], "wide_header.map"),
    ([*SOLVE[:7], "{tmp}/a_file/plan.json"], "a_file"),
    (["gazebo", "world"], "--out"),
    (["gazebo", "world", "--out", "{tmp}/w", "--robots", "0"], "--robots"),
    (["gazebo", "world", "--out", "{tmp}/w", "--seed", "-3"], "--seed"),
    (["gazebo", "world", "--out", "{tmp}/w", "--distro", "humble"], "--distro"),
    (["gazebo", "world", "--out", "{tmp}/w", "--config", "{tmp}/typo_key.yaml"], "'seed'"),
    (["gazebo", "world", "--out", "{tmp}/w", "--hardware", "{tmp}/missing_hw.yaml"], "missing_hw.yaml"),
    (["gazebo", "world", "--out", "{tmp}/w", "--map", "{tmp}/missing_layout.yaml"], "missing_layout.yaml"),
    (["gazebo", "world", "--out", "{tmp}/a_file"], "a_file"),
    (["gazebo", "sky"], "sky"),
    (["analyze"], "BAG"),
    (["analyze", "{tmp}/no_bag"], "no_bag"),
    (["analyze", "{tmp}/a_file"], "a_file"),
    (["analyze", "{tmp}/no_bag", "--min-distance", "0"], "--min-distance"),
    (["analyze", "{tmp}/no_bag", "--min-distance", "nan"], "--min-distance"),
    (["replay"], "BAG"),
    (["replay", "{tmp}/no_bag"], "no_bag"),
    (["replay", "{tmp}/no_bag", "--rate", "0"], "--rate"),
    (["replay", "{tmp}/no_bag", "--rate", "nan"], "--rate"),
    (["replay", "{tmp}/no_bag", "--rate", "inf"], "--rate"),
    (["replay", "{tmp}/no_bag", "--rate", "-2"], "--rate"),
    (["replay", "{tmp}/no_bag", "--rate", "1e7"], "--rate"),
    (["replay", "{tmp}/no_bag", "--delay", "-1"], "--delay"),
    (["replay", "{tmp}/no_bag", "--reallocate", "--policy", "cheapest"], "--policy"),
    (["launch"], "launch"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_args")
    for name, text in FILES.items():
        (tmp / name).write_text(text)
    return tmp


@pytest.mark.parametrize("args, names", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_a_bad_argument_is_one_line_naming_it_and_the_fix(inputs, ros_env, tmp_path, args, names):
    out = tmp_path / "run"
    argv = [a.replace("{tmp}", str(inputs)) for a in args]
    if argv[0] == "run" and "--out" not in argv:
        argv += ["--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", *argv], cwd=ROOT,
                          env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, err, proc.stdout)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "(fix: " in err, err
    assert names in err, err
    assert not out.exists(), "a refused run must not start: its directory was made"
    assert not (inputs / "w").exists() and not (inputs / "plan.json").exists()


def test_without_a_command_the_usage_is_the_one_line(ros_env):
    proc = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli"], cwd=ROOT, env=ros_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("usage: ") and len(proc.stderr.splitlines()) == 1

"""`./warehouse gazebo world`: the generated SDF loads in libsdformat, counts match the layout.

libsdformat 12 (Debian ``libsdformat-dev``) is the parser Gazebo uses; scripts/setup.sh
installs it when running as root (CI). tools/sdf_check.cc is compiled on demand into
build/sdf_check/. Without the library the SDF tests skip (as non-root) or fail (as root,
where set-up should have installed it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from warehouse_core.maps.layout import load_layout

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = {"default": ROOT / "maps" / "warehouse_layout.yaml"}
# Loading the large world in libsdformat takes ~5.5 GB and ~90 s (2.3 MB per model): opt in.
if os.environ.get("WAREHOUSE_TEST_LARGE_WORLD") == "1":
    LAYOUTS["large"] = ROOT / "maps" / "warehouse_large_layout.yaml"


def _gazebo(*args: str) -> int:
    from warehouse_nodes.gazebo_cli import main
    return main(["world", *args])


@pytest.fixture(scope="session")
def sdf_check() -> Path:
    """Path of the compiled checker (build/sdf_check/sdf_check-<hash of the source>)."""
    have = shutil.which("pkg-config") and shutil.which("g++") and subprocess.run(
        ["pkg-config", "--exists", "sdformat12"]).returncode == 0
    if not have:
        msg = ("libsdformat 12 / pkg-config / g++ not installed (apt-get install libsdformat-dev "
               "pkg-config g++; scripts/setup.sh does it when run as root)")
        if os.geteuid() == 0:
            pytest.fail(msg + ": set-up runs as root here and should have installed it")
        pytest.skip(msg)
    src = ROOT / "tools" / "sdf_check.cc"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    exe = ROOT / "build" / "sdf_check" / f"sdf_check-{digest}"
    if not exe.exists():
        exe.parent.mkdir(parents=True, exist_ok=True)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "sdformat12"], check=True,
                               capture_output=True, text=True).stdout.split()
        tmp = exe.with_suffix(f".tmp{os.getpid()}")
        res = subprocess.run(["g++", "-O1", "-o", str(tmp), str(src), *flags], capture_output=True, text=True)
        assert res.returncode == 0, f"compiling {src} failed:\n{res.stderr}"
        tmp.replace(exe)
    return exe


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, layout in LAYOUTS.items():
        d = tmp_path_factory.mktemp(f"gz_{name}")
        assert _gazebo("--map", str(layout), "--out", str(d)) == 0
        out[name] = d
    return out


def _check(exe: Path, *files: Path) -> tuple[dict, str]:
    res = subprocess.run([str(exe), "--strict", *map(str, files)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"libsdformat errors:\n{res.stderr[-4000:]}"
    report: dict = {}
    current: dict = {}
    for line in res.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "file":
            current = report.setdefault(rest, {"models": {}, "plugins": [], "model_plugins": []})
        elif kind == "errors":
            current["errors"] = int(rest)
        elif kind == "world":
            current["world"] = rest.split()[0]
        elif kind == "plugin":
            current["plugins"].append(rest)
        elif kind == "model":
            parts = rest.split()
            current["models"][parts[0]] = dict(zip(parts[1::2], map(int, parts[2::2])))
        elif kind == "model_plugin":
            current["model_plugins"].append(rest.split()[1])
    return report, res.stderr


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_generated_sdf_loads_and_matches_the_layout(name, generated, sdf_check):
    d = generated[name]
    world, model = d / "warehouse.sdf", d / "models" / "amr" / "model.sdf"
    report, _ = _check(sdf_check, world, model)
    w, m = report[str(world)], report[str(model)]
    assert w["errors"] == 0 and m["errors"] == 0
    assert w["world"] == "warehouse"
    assert {"gz-sim-physics-system", "gz-sim-user-commands-system", "gz-sim-scene-broadcaster-system",
            "gz-sim-sensors-system"} <= set(w["plugins"])

    layout = load_layout(LAYOUTS[name])
    models = w["models"]
    racks = sorted(k[len("rack_"):] for k in models if k.startswith("rack_"))
    assert racks == sorted(layout.rack_ids)
    assert sorted(k for k in models if k.startswith("station_")) == sorted(f"station_{s.id}" for s in layout.stations)
    assert sorted(k for k in models if k.startswith("charger_")) == sorted(f"charger_{c.id}" for c in layout.chargers)
    assert {"ground_plane", "walls"} <= set(models)
    assert all(v["static"] == 1 for v in models.values())

    amr = m["models"]["amr"]
    assert (amr["links"], amr["joints"], amr["sensors"], amr["static"]) == (3, 2, 1, 0)
    assert set(m["model_plugins"]) == {"gz-sim-diff-drive-system", "gz-sim-joint-state-publisher-system"}


def test_rack_models_stand_at_their_storage_cells(generated):
    layout = load_layout(LAYOUTS["default"])
    root = ET.parse(generated["default"] / "warehouse.sdf").getroot()
    poses = {m.get("name"): [float(v) for v in m.find("pose").text.split()] for m in root.iter("model")
             if m.get("name").startswith("rack_")}
    for loc in layout.storage:
        if loc.rack is None:
            continue
        x, y = layout.cell_to_world(loc.cell)
        px, py = poses[f"rack_{loc.rack}"][:2]
        assert abs(px - x) < 1e-3 and abs(py - y) < 1e-3, loc
    assert root.get("version") == "1.9"


def test_amr_model_takes_its_limits_from_config(generated):
    cfg = yaml.safe_load((ROOT / "config" / "warehouse.yaml").read_text())["floor_simulator"]["ros__parameters"]
    hw = yaml.safe_load((ROOT / "config" / "robot_hardware.yaml").read_text())["/**/robot"]["ros__parameters"]
    root = ET.parse(generated["default"] / "models" / "amr" / "model.sdf").getroot()
    dd = next(p for p in root.iter("plugin") if p.get("filename") == "gz-sim-diff-drive-system")
    val = {c.tag: c.text for c in dd}
    assert float(val["max_linear_velocity"]) == pytest.approx(cfg["max_speed"])
    assert float(val["max_linear_acceleration"]) == pytest.approx(cfg["max_accel"])
    assert float(val["min_linear_acceleration"]) == pytest.approx(-cfg["max_accel"])
    assert float(val["max_angular_velocity"]) == pytest.approx(cfg["turn_rate"], abs=1e-4)
    assert float(val["wheel_separation"]) == pytest.approx(hw["wheel_separation"])
    assert float(val["wheel_radius"]) == pytest.approx(hw["wheel_radius"])
    assert (val["left_joint"], val["right_joint"]) == ("left_wheel_joint", "right_wheel_joint")
    config = ET.parse(generated["default"] / "models" / "amr" / "model.config").getroot()
    assert config.find("sdf").text == "model.sdf"


def _bridge(d: Path, i: int) -> dict[str, dict]:
    entries = yaml.safe_load((d / "bridge" / f"robot_{i}.yaml").read_text())
    return {e["ros_topic_name"]: e for e in entries}


def test_bridge_yaml_per_robot_and_cmd_vel_type_per_distro(generated, tmp_path):
    d = generated["default"]
    assert len(list((d / "bridge").glob("robot_*.yaml"))) == 20
    for i in (0, 7, 19):
        b = _bridge(d, i)
        assert (f"/robot_{i}/cmd_vel" in b and f"/robot_{i}/base/odom" in b and f"/robot_{i}/scan" in b
                and f"/robot_{i}/joint_states" in b and "/tf" in b)
        cmd = b[f"/robot_{i}/cmd_vel"]
        assert (cmd["gz_topic_name"], cmd["direction"]) == (f"/model/robot_{i}/cmd_vel", "ROS_TO_GZ")
        assert cmd["ros_type_name"] == "geometry_msgs/msg/Twist"
        assert b[f"/robot_{i}/base/odom"]["gz_topic_name"] == f"/model/robot_{i}/odometry"
        assert b["/tf"]["gz_topic_name"] == f"/model/robot_{i}/tf"
        assert f"/model/robot_{i}/" in b[f"/robot_{i}/scan"]["gz_topic_name"]
        assert ("/clock" in b) == (i == 0), "exactly one bridge carries /clock"
        assert all(e["direction"] in ("GZ_TO_ROS", "ROS_TO_GZ") for e in b.values())

    kilted = tmp_path / "kilted"
    assert _gazebo("--robots", "3", "--distro", "kilted", "--out", str(kilted)) == 0
    assert len(list((kilted / "bridge").glob("robot_*.yaml"))) == 3
    assert _bridge(kilted, 2)["/robot_2/cmd_vel"]["ros_type_name"] == "geometry_msgs/msg/TwistStamped"
    assert _gazebo("--robots", "2", "--distro", "kilted", "--cmd-vel-type", "twist", "--out", str(kilted)) == 0
    assert _bridge(kilted, 1)["/robot_1/cmd_vel"]["ros_type_name"] == "geometry_msgs/msg/Twist"
    assert not (kilted / "bridge" / "robot_2.yaml").exists(), "stale bridge files of a larger fleet remain"


def test_spawn_poses_are_the_floor_simulators_start_cells(generated):
    from warehouse_nodes.floor_sim_node import start_cells
    layout = load_layout(LAYOUTS["default"])
    doc = yaml.safe_load((generated["default"] / "spawn_poses.yaml").read_text())
    assert doc["world"] == "warehouse" and doc["frame_id"] == "map"
    robots = doc["robots"]
    assert [r["name"] for r in robots] == [f"robot_{i}" for i in range(20)]
    racks = sorted(loc.cell for loc in layout.storage if loc.rack)
    expected = start_cells(racks, 20, 42, layout.source)
    assert [tuple(r["cell"]) for r in robots] == [tuple(c) for c in expected]
    for r in robots:
        x, y = layout.cell_to_world(tuple(r["cell"]))
        assert (r["x"], r["y"]) == pytest.approx((x, y), abs=1e-3)


def test_bad_input_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "no_such_layout.yaml"
    assert _gazebo("--map", str(missing), "--out", str(tmp_path / "o")) == 2
    assert str(missing) in capsys.readouterr().err
    assert _gazebo("--robots", "100000", "--out", str(tmp_path / "o")) == 2
    assert "robots" in capsys.readouterr().err
    bad_hw = tmp_path / "hw.yaml"
    bad_hw.write_text("/**/robot:\n  ros__parameters:\n    wheel_radius: -1.0\n")
    assert _gazebo("--hardware", str(bad_hw), "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert str(bad_hw) in err and "wheel_radius" in err
    assert _gazebo("--distro", "humble", "--out", str(tmp_path / "o")) == 2  # one line, no usage dump
    assert "--distro" in capsys.readouterr().err

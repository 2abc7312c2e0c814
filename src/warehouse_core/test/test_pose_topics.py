"""Robot positions from bags of both layouts: odometry in ``map`` (old bags) and REP-105 bags
(odometry in ``<robot>/odom``, map poses on ``/<robot>/map_pose``, ``map -> odom`` on
``/<robot>/map_to_odom``): the analysis and the run report's tracks read both."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from warehouse_core.analysis.analyze import read_bag
from warehouse_core.analysis.bagio import read_odometry_tracks, typestore_with
from warehouse_core.analysis.pose_topics import MAP_POSE, TRANSFORM, stamped_xy
from warehouse_core.analysis.synthetic_bag import OdometryBagWriter

ROOT = Path(__file__).resolve().parents[3]
MSG_DIR = ROOT / "src" / "warehouse_interfaces" / "msg"
T0 = 1_700_000_000 * 10**9
ORIGIN = (5.0, 3.0, math.pi / 2)  # map -> robot_0/odom: odometry starts at (5, 3) facing +y


def _ns(t: float) -> int:
    return T0 + int(round(t * 1e9))


def _header(T, t: float, frame: str):
    ns = _ns(t)
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                    frame_id=frame)


def _map_pose(T, t: float, x: float, y: float):
    pose = T["geometry_msgs/msg/PoseWithCovariance"](
        pose=T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=x, y=y, z=0.0),
                                         orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
        covariance=np.zeros(36))
    return T[MAP_POSE](header=_header(T, t, "map"), pose=pose)


def _map_to_odom(T, t: float, c: tuple[float, float, float]):
    tr = T["geometry_msgs/msg/Transform"](
        translation=T["geometry_msgs/msg/Vector3"](x=c[0], y=c[1], z=0.0),
        rotation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=math.sin(c[2] / 2), w=math.cos(c[2] / 2)))
    return T[TRANSFORM](header=_header(T, t, "map"), child_frame_id="robot_0/odom", transform=tr)


def _write(path: Path, odom_frame: str, transform: bool, map_pose: bool) -> None:
    """robot_0 drives 10 m along its odometry's x (in map: north from (5, 3) to (5, 13)) in 10 s."""
    with OdometryBagWriter(path, "mcap", [MSG_DIR]) as w:
        T = w.store.types
        w.add_odometry("/robot_0/odom", child_frame="robot_0/base_link", frame=odom_frame)
        if transform:
            w.message("/robot_0/map_to_odom", TRANSFORM, _ns(0.0), _map_to_odom(T, 0.0, ORIGIN))
        for k in range(101):
            t = k / 10
            odom = (t, 0.0) if odom_frame != "map" else (ORIGIN[0], ORIGIN[1] + t)
            w.odometry("/robot_0/odom", _ns(t), *odom)
            if map_pose:
                w.message("/robot_0/map_pose", MAP_POSE, _ns(t), _map_pose(T, t, ORIGIN[0], ORIGIN[1] + t))


def _track(bag: Path) -> tuple[object, list[str]]:
    notes: list[str] = []
    got = read_bag(bag, [MSG_DIR], notes.append, progress=False)
    assert [tr.name for tr in got.tracks] == ["robot_0"]
    return got.tracks[0], notes


def _assert_north(track) -> None:
    assert track.x[0] == pytest.approx(5.0) and track.y[0] == pytest.approx(3.0)
    assert track.x[-1] == pytest.approx(5.0, abs=1e-9) and track.y[-1] == pytest.approx(13.0)


@pytest.mark.parametrize("case", ["old_odom_in_map", "odom_with_transform", "map_pose"])
def test_positions_in_map_from_either_layout(tmp_path, case):
    odom_frame = "map" if case == "old_odom_in_map" else "robot_0/odom"
    bag = tmp_path / "bag"
    _write(bag, odom_frame, transform=case != "old_odom_in_map", map_pose=case == "map_pose")
    track, notes = _track(bag)
    _assert_north(track)
    assert not [n for n in notes if "taken as in map" in n]
    # the run report's collision tracks agree
    (tr,) = read_odometry_tracks(bag)
    assert tr.name == "robot_0" and tr.y[-1] == pytest.approx(13.0) and tr.x[-1] == pytest.approx(5.0)


def test_odometry_in_odom_frame_without_transform_is_said(tmp_path):
    bag = tmp_path / "bag"
    _write(bag, "robot_0/odom", transform=False, map_pose=False)
    track, notes = _track(bag)
    assert track.x[-1] == pytest.approx(10.0)  # as it is: nothing tells where odom lies in map
    assert any("/robot_0/odom" in n and "'robot_0/odom'" in n for n in notes)


def test_stamped_xy_reads_frame_and_position(tmp_path):
    store = typestore_with([])
    T = store.types
    raw = bytes(store.serialize_cdr(_map_pose(T, 1.5, 2.25, -4.0), MAP_POSE))
    assert stamped_xy(raw, child_frame=False) == (_ns(1.5), "map", 2.25, -4.0)
    assert stamped_xy(raw[:20], child_frame=False) is None
    with OdometryBagWriter(tmp_path / "b", "mcap", [MSG_DIR]) as w:
        w.add_odometry("/r/odom", child_frame="r/base_link", frame="r/odom")
        odom_raw = bytes(w.templates["/r/odom"][0])
    got = stamped_xy(odom_raw, child_frame=True)
    assert got is not None and got[1] == "r/odom"

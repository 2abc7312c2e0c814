"""Path tracker against a simulated differential-drive base with latency, slip and noise."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from warehouse_core.robot.path_tracker import PathTracker, TrackerConfig, TrackWaypoint

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from diff_drive_plant import DiffDrivePlant, PlantConfig  # noqa: E402

CELL = 1.0
DT = 0.01  # plant step
CONTROL = 0.05  # 20 Hz control and odometry


def cells_to_path(cells, dwell=None):
    dwell = dwell or {}
    return [TrackWaypoint(float(cx) * CELL, float(cy) * CELL, dwell.get(i, 0.0))
            for i, (cx, cy) in enumerate(cells)]


L_SHAPE = [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1), (3, 2), (3, 3)]
ZIG_ZAG = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (2, 2), (3, 2), (3, 3), (4, 3), (5, 3), (5, 2)]


def seg_distance(px, py, a, b):
    dx, dy = b.x - a.x, b.y - a.y
    n = dx * dx + dy * dy
    s = 0.0 if n == 0 else max(0.0, min(1.0, ((px - a.x) * dx + (py - a.y) * dy) / n))
    return math.hypot(px - a.x - s * dx, py - a.y - s * dy)


def cross_track(px, py, path):
    return min(seg_distance(px, py, path[k], path[k + 1]) for k in range(len(path) - 1))


def in_cell(px, py, wp, margin=0.0):
    half = CELL / 2 - margin
    return abs(px - wp.x) < half and abs(py - wp.y) < half


def run(cells, releases, seed, duration, plant_cfg=None, dwell=None, odom_stop_at=None, latency=0.0):
    """Drive ``cells`` with ``releases`` = [(time, index)]; returns measurements."""
    path = cells_to_path(cells, dwell)
    start = path[0]
    yaw0 = math.atan2(path[1].y - start.y, path[1].x - start.x) + 0.3  # start a bit off heading
    plant = DiffDrivePlant(start.x, start.y, yaw0, plant_cfg or PlantConfig(seed=seed))
    tracker = PathTracker(TrackerConfig(latency=latency))
    tracker.set_path(path)
    pending = sorted(releases)
    released = 0
    out = {"max_xte": 0.0, "progress": [], "violations": [], "overshoot": 0.0, "plant": plant,
           "tracker": tracker, "released_at": []}
    t, next_control = 0.0, 0.0
    while t < duration:
        while pending and pending[0][0] <= t:
            released = max(released, pending.pop(0)[1])
            tracker.release(released)
        if t >= next_control - 1e-9:
            if odom_stop_at is None or t < odom_stop_at:
                tracker.update_pose(*plant.odometry(), t)
            cmd = tracker.control(t)
            plant.command(cmd.v, cmd.w)
            out["progress"].append((t, cmd.progress, cmd.stale))
            next_control += CONTROL
        plant.step(DT)
        t += DT
        x, y, _ = plant.pose
        out["max_xte"] = max(out["max_xte"], cross_track(x, y, path))
        # never in the cell of a waypoint beyond the released one (unless it is the same cell)
        for k in range(released + 1, len(path)):
            if any(abs(path[k].x - path[m].x) < 1e-9 and abs(path[k].y - path[m].y) < 1e-9
                   for m in range(released + 1)):
                continue
            if in_cell(x, y, path[k]):
                out["violations"].append((round(t, 2), k, released, (round(x, 3), round(y, 3))))
        r = path[released]
        if released + 1 < len(path):
            nxt = path[released + 1]
            dx, dy = nxt.x - r.x, nxt.y - r.y
            n = math.hypot(dx, dy)
            if n > 0:
                out["overshoot"] = max(out["overshoot"], ((x - r.x) * dx + (y - r.y) * dy) / n)
    return out


def staggered(n, first=0.0, gap=1.5):
    """Releases of one more waypoint every ``gap`` s, late compared with a free drive."""
    return [(first + gap * k, k + 1) for k in range(n)]


@pytest.mark.parametrize("cells", [L_SHAPE, ZIG_ZAG], ids=["L", "zigzag"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tracks_the_path_and_respects_releases(cells, seed):
    n = len(cells) - 1
    # releases in bursts, some late: the base has to stop and wait at the release point
    releases = [(0.0, 2), (4.0, 3), (9.0, 5), (11.0, 6), (20.0, n)]
    out = run(cells, releases, seed, duration=40.0)
    assert out["max_xte"] < 0.1, out["max_xte"]
    assert not out["violations"], out["violations"][:5]
    assert out["overshoot"] < 0.25, out["overshoot"]
    progress = [p for _, p, _ in out["progress"]]
    assert progress == sorted(progress), "progress went backwards"
    assert progress[-1] == n, progress[-1]
    seen = set(progress)
    path = cells_to_path(cells)
    for k in range(n + 1):  # every waypoint reported, except a wait passed in the same tick
        assert k in seen or (path[k].x, path[k].y) == (path[k + 1].x, path[k + 1].y), (k, seen)
    x, y, _ = out["plant"].pose
    assert math.hypot(x - cells[-1][0] * CELL, y - cells[-1][1] * CELL) < 0.1


@pytest.mark.parametrize("compensation", [0.0, 0.2])
@pytest.mark.parametrize("seed", [4, 5])
def test_one_cell_at_a_time_with_heavy_slip_and_latency(seed, compensation):
    cfg = PlantConfig(latency=0.2, slip=0.15, slip_noise=0.1, odom_noise=0.02, odom_yaw_noise=0.02,
                      seed=seed)
    out = run(ZIG_ZAG, staggered(len(ZIG_ZAG) - 1, gap=2.0), seed, duration=30.0, plant_cfg=cfg,
              latency=compensation)
    assert out["max_xte"] < (0.1 if compensation == 0.0 else 0.06), out["max_xte"]
    assert not out["violations"], out["violations"][:5]
    assert [p for _, p, _ in out["progress"]][-1] == len(ZIG_ZAG) - 1


def test_dwell_holds_the_base_at_an_operation():
    out = run(L_SHAPE, [(0.0, len(L_SHAPE) - 1)], 7, duration=20.0, dwell={3: 3.0})
    tracker = out["tracker"]
    assert tracker.progress == len(L_SHAPE) - 1
    # time between reaching waypoint 3 and 4 includes the 3 s operation
    t3 = next(t for t, p, _ in out["progress"] if p >= 3)
    t4 = next(t for t, p, _ in out["progress"] if p >= 4)
    assert t4 - t3 >= 3.0


def test_stops_on_stale_odometry():
    # odometry stops while the base drives at full speed along a long straight run
    cells = [(k, 0) for k in range(12)]
    out = run(cells, [(0.0, 11)], 9, duration=8.0, odom_stop_at=3.0)
    stale = [(t, s) for t, _, s in out["progress"] if s]
    assert stale and stale[0][0] <= 3.0 + TrackerConfig().odom_timeout + CONTROL + 1e-6
    plant = out["plant"]
    assert abs(plant.v) < 1e-9 and abs(plant.w) < 1e-9
    # stopped within: timeout at full speed + latency + braking at the plant's deceleration
    bound = 1.5 * (0.5 + 0.1 + CONTROL) + 1.5 ** 2 / (2 * 2.0)
    replay = run(cells, [(0.0, 11)], 9, duration=3.0)  # the same run up to the loss (same seed)
    travelled_after = plant.x - replay["plant"].x
    assert 0.0 <= travelled_after < bound, (travelled_after, bound)


def test_a_waypoint_passed_between_control_steps_counts_as_reached():
    """A late control step (a loaded machine) finds the base past a waypoint of a straight run,
    or past the run's end: it has reached them, and steers on from there instead of waiting for
    ever short of a waypoint it left behind."""
    tracker = PathTracker()
    tracker.set_path(cells_to_path([(0, 0), (1, 0), (2, 0), (3, 0), (3, 1)]))
    tracker.release(4)
    tracker.update_pose(0.0, 0.0, 0.0, 0.0)
    tracker.control(0.0)
    tracker.update_pose(2.4, 0.02, 0.0, 0.5)  # waypoints 1 and 2 went by unseen
    assert tracker.control(0.5).progress == 2
    tracker.update_pose(3.3, 0.03, 0.0, 1.0)  # 0.3 m past the corner at the run's end
    assert tracker.control(1.0).progress == 3
    tracker.update_pose(3.3, 1.1, 0.0, 1.5)  # past the next waypoint, but 0.3 m beside its run
    assert tracker.control(1.5).progress == 3


def test_no_path_no_pose_is_a_stopped_base():
    tracker = PathTracker()
    cmd = tracker.control(0.0)
    assert (cmd.v, cmd.w, cmd.stale, cmd.progress) == (0.0, 0.0, True, -1)
    tracker.update_pose(0.0, 0.0, 0.0, 0.0)
    cmd = tracker.control(0.1)
    assert (cmd.v, cmd.w, cmd.stale) == (0.0, 0.0, False)


def test_a_plan_that_keeps_growing_is_followed_in_bounded_memory():
    """Segments appended while the base drives (a lifelong plan): the waypoints behind the base
    are forgotten, and indices stay absolute."""
    cells = [(x, 0) for x in range(12)] + [(11, y) for y in range(1, 8)]
    path = cells_to_path(cells)
    plant = DiffDrivePlant(0.0, 0.0, 0.0, PlantConfig(seed=3))
    tracker = PathTracker()
    tracker.set_path(path[:3])
    t, held = 0.0, []
    while t < 40.0:
        given = len(tracker.waypoints)
        if given < len(path) and tracker.progress >= given - 3:
            tracker.extend(path[given:given + 3])  # the next segment
        tracker.release(len(tracker.waypoints) - 1)
        tracker.update_pose(*plant.odometry(), t)
        cmd = tracker.control(t)
        plant.command(cmd.v, cmd.w)
        held.append(len(tracker.waypoints.items))
        for _ in range(5):
            plant.step(DT)
        t += CONTROL
    assert tracker.progress == len(path) - 1 and len(tracker.waypoints) == len(path)
    assert max(held) <= 7 and tracker.waypoints.offset == len(path) - 1
    x, y, _ = plant.pose
    assert in_cell(x, y, path[-1], margin=0.3)

"""map -> odom from localisation readings over odometry (warehouse_core.robot.localisation)."""

import math

import pytest

from warehouse_core.robot.localisation import IDENTITY, Localiser, OdomHistory, compose, inverse, wrap


def close(a, b, tol=1e-9):
    return all(abs(x - y) <= tol for x, y in zip(a[:2], b[:2], strict=True)) and abs(wrap(a[2] - b[2])) <= tol


def test_compose_and_inverse():
    a = (1.0, 2.0, math.pi / 2)
    # one metre ahead of a robot facing +y is one metre further up
    assert close(compose(a, (1.0, 0.0, 0.0)), (1.0, 3.0, math.pi / 2))
    assert close(compose(a, inverse(a)), IDENTITY)
    assert close(compose(inverse(a), a), IDENTITY)
    b = (-0.5, 0.3, -2.0)
    c = (3.0, -1.0, 2.5)
    assert close(compose(compose(a, b), c), compose(a, compose(b, c)))


def test_history_interpolates_and_bounds_the_stamp():
    h = OdomHistory(length=2.0)
    h.add(0.0, (0.0, 0.0, 0.0))
    h.add(1.0, (1.0, 0.0, 0.2))
    assert close(h.at(0.25, 0.1), (0.25, 0.0, 0.05))
    assert close(h.at(1.05, 0.1), (1.0, 0.0, 0.2))  # just past the newest: nearest sample
    assert h.at(1.5, 0.1) is None  # too far ahead
    for t in range(2, 6):
        h.add(float(t), (float(t), 0.0, 0.0))
    assert h.at(0.5, 0.1) is None  # forgotten: older than the history length
    h.add(1.0, (9.0, 9.0, 0.0))  # the clock went back: the history starts over
    assert h.newest == (1.0, (9.0, 9.0, 0.0)) and h.at(4.0, 0.1) is None


def test_without_readings_the_initial_pose_is_the_correction():
    loc = Localiser(initial=(2.0, 3.0, math.pi / 2))
    assert close(loc.on_odom(0.0, (1.0, 0.0, 0.0)), (2.0, 4.0, math.pi / 2))
    text, bad = loc.status(10.0, 5.0)
    assert "initial pose" in text and not bad


def test_reading_matched_at_its_stamp_corrects_drift():
    """Odometry drifts 10 % long in x; a reading (the truth) taken at t=1 arrives late, at t=3: the
    correction must use the odometry at t=1, not the newest, so the map pose is right again."""
    loc = Localiser(initial=IDENTITY)
    truth = {t: (0.5 * t, 0.0, 0.0) for t in range(6)}
    for t in range(4):
        loc.on_odom(float(t), (0.55 * t, 0.0, 0.0))
    assert abs(loc.map_pose((0.55 * 3, 0.0, 0.0))[0] - truth[3][0]) > 0.1  # drifted before the reading
    assert loc.on_localised(1.0, truth[1])
    # at t=3: odom 1.65, drift since t=1 only 0.1 -> map pose 1.6 (truth 1.5); matched to the newest
    # sample instead the correction would have been 1.5-1.65 and the map pose wrong by the whole drift
    assert loc.map_pose((0.55 * 3, 0.0, 0.0))[0] == pytest.approx(1.6)
    assert loc.on_localised(3.0, truth[3])
    assert close(loc.map_pose((0.55 * 3, 0.0, 0.0)), truth[3])
    assert loc.correction.updates == 2 and loc.correction.localised
    # the correction holds between readings
    assert loc.on_odom(4.0, (0.55 * 4, 0.0, 0.0))[0] == pytest.approx(2.0 + 0.05)


def test_rotated_odom_frame():
    """The odom frame turned by 90 degrees: a reading fixes position and heading."""
    loc = Localiser()
    loc.on_odom(0.0, (1.0, 0.0, 0.0))
    assert loc.on_localised(0.0, (5.0, 5.0, math.pi / 2))
    assert close(loc.correction.map_to_odom, (5.0, 4.0, math.pi / 2))
    assert close(loc.map_pose((2.0, 0.0, 0.0)), (5.0, 6.0, math.pi / 2))


def test_unmatched_reading_keeps_the_correction():
    loc = Localiser(initial=(1.0, 1.0, 0.0), tolerance=0.2)
    loc.on_odom(10.0, (0.0, 0.0, 0.0))
    assert not loc.on_localised(5.0, (7.0, 7.0, 0.0))
    assert loc.correction.map_to_odom == (1.0, 1.0, 0.0) and loc.correction.rejected == 1
    loc.set_initial((2.0, 2.0, 0.0))
    assert loc.correction.map_to_odom == (2.0, 2.0, 0.0)
    assert loc.on_localised(10.1, (3.0, 0.0, 0.0))
    loc.set_initial((9.0, 9.0, 0.0))  # once localised the initial pose no longer applies
    assert loc.correction.map_to_odom == (3.0, 0.0, 0.0)
    assert loc.status(20.0, 5.0)[1] and not loc.status(11.0, 5.0)[1]


def test_a_reading_ahead_of_the_odometry_waits_for_it():
    """At start the first reading can arrive before any odometry: it is applied with the odometry
    that covers its stamp, not lost (the robot would report the odom origin as its map pose)."""
    loc = Localiser(tolerance=0.2)
    assert not loc.on_localised(1.0, (5.0, 3.0, 0.0))
    assert loc.correction.rejected == 0 and not loc.correction.localised
    assert close(loc.on_odom(1.0, (0.0, 0.0, 0.0)), (5.0, 3.0, 0.0))
    assert loc.correction.localised and loc.pending is None
    # a newer reading than the odometry (a late odometry sample) also waits for it
    assert not loc.on_localised(3.0, (6.0, 3.0, 0.0))
    assert close(loc.on_odom(2.0, (0.5, 0.0, 0.0)), (5.5, 3.0, 0.0))  # not covered yet: old correction
    assert close(loc.on_odom(3.0, (1.0, 0.0, 0.0)), (6.0, 3.0, 0.0))

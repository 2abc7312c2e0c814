"""Close encounters from pose samples, with interpolation between samples."""

import numpy as np

from warehouse_core.analysis.trajectory import Track, close_encounters, min_separation


def test_crossing_between_samples_is_found():
    # a goes east, b goes north; they cross (0, 0) at t = 1, between the samples 0 and 2
    a = Track("a", np.array([0.0, 2.0]), np.array([-1.0, 1.0]), np.array([0.0, 0.0]))
    b = Track("b", np.array([0.0, 2.0]), np.array([0.0, 0.0]), np.array([-1.0, 1.0]))
    (enc,) = close_encounters([a, b], 0.5)
    assert enc.robots == ("a", "b") and enc.min_distance < 1e-9
    assert enc.t_start == 0.0 and enc.t_end == 2.0


def test_far_apart_and_idle_robots_have_no_encounter():
    t = np.linspace(0, 10, 11)
    a = Track("a", t, t, np.zeros_like(t))
    b = Track("b", t, t, np.full_like(t, 1.0))
    c = Track("c", np.array([0.0]), np.array([50.0]), np.array([50.0]))
    assert close_encounters([a, b, c], 0.5) == []
    assert abs(min_separation([a, b, c]) - 1.0) < 1e-9
    assert abs(a.distance() - 10.0) < 1e-9


def test_robot_that_stopped_reporting_is_no_obstacle():
    # c stands at (5, 0) until t = 3 (towed away); a passes there at t = 5 (and b at t = 2 would hit it)
    t = np.linspace(0, 10, 11)
    a = Track("a", t, t, np.zeros_like(t))
    tc = np.linspace(0.0, 3.0, 7)
    c = Track("c", tc, np.full_like(tc, 5.0), np.zeros_like(tc))
    assert close_encounters([a, c], 0.5) == []
    b = Track("b", t, t + 3.0, np.zeros_like(t))
    (enc,) = close_encounters([b, c], 0.5)
    assert enc.robots == ("b", "c") and enc.t_start <= 2.0 <= enc.t_end


def test_a_long_gap_in_the_samples_is_not_judged_but_reported():
    from warehouse_core.analysis.trajectory import sample_gaps

    # both robots stand still, then (after a 30 s hole in the data) stand somewhere else:
    # a straight line across the hole would make them cross each other
    a = Track("a", np.array([0.0, 0.2, 30.2, 30.4]), np.array([0.0, 0.0, 10.0, 10.0]), np.zeros(4))
    b = Track("b", np.array([0.0, 0.2, 30.2, 30.4]), np.array([10.0, 10.0, 0.0, 0.0]), np.zeros(4))
    assert close_encounters([a, b], 0.5) == []
    assert sample_gaps([a, b], 2.0) == [("a", 0.2, 30.2), ("b", 0.2, 30.2)]
    # with the gap allowed, the invented crossing shows up
    assert len(close_encounters([a, b], 0.5, max_gap=60.0)) == 1

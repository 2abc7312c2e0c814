"""The simulated differential-drive bases: drift, localisation, battery, lift failures, stops, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from warehouse_core.robot import base_state
from warehouse_core.robot.localisation import Localiser, compose
from warehouse_core.sim import base_sim
from warehouse_core.sim.base_sim import BaseSim, BaseSimConfig
from warehouse_core.sim.floor_sim import Battery


def _drive_loops(sim: BaseSim, seconds: float, dt: float = 0.05):
    """Every base drives circles for ``seconds``; yields after each step with its report."""
    for i in range(sim.n):
        sim.command(i, 1.0, 0.25)
    for _ in range(round(seconds / dt)):
        yield sim.step(dt)


def test_drift_grows_and_localisation_bounds_it() -> None:
    """Odometry alone walks off; the robot side's Localiser fed with the readings stays near the truth."""
    spawns = [(float(i), 2.0 * i, 0.3 * i) for i in range(8)]
    sim = BaseSim(spawns, BaseSimConfig(seed=5, odom_bias_walk=0.001, loc_late_prob=0.2))
    localisers = [Localiser(spawn) for spawn in spawns]
    odom_err, loc_err, late = {}, [], 0
    for report in _drive_loops(sim, 400.0, dt=0.1):
        t = round(sim.time, 6)
        odom = [sim.odometry(i) for i in range(sim.n)]
        for i, loc in enumerate(localisers):
            loc.on_odom(t, odom[i])
        for r in report.readings:
            late += sim.time - r.stamp > 0.3
            assert localisers[r.index].on_localised(r.stamp, r.pose)
        if t in (40.0, 400.0):
            odom_err[round(t)] = np.mean([math.dist(compose(spawns[i], odom[i])[:2], sim.truth(i)[:2])
                                          for i in range(sim.n)])
        if t > 5.0:
            loc_err.extend(math.dist(loc.map_pose(odom[i])[:2], sim.truth(i)[:2]) for i, loc in enumerate(localisers))
    assert odom_err[400] > 1.0 and odom_err[400] > 4 * odom_err[40], odom_err
    assert max(loc_err) < 0.3 and np.mean(loc_err) < 0.1, (max(loc_err), np.mean(loc_err))
    assert late > 0  # some readings came late, and the correction still held


def test_localisation_rate_and_noise() -> None:
    sim = BaseSim([(0.0, 0.0, 0.0)] * 4, BaseSimConfig(seed=1, loc_rate=4.0, loc_noise=0.05, loc_late_prob=0.0))
    readings = [r for _ in range(200) for r in sim.step(0.1).readings]
    assert len(readings) == pytest.approx(4 * 4.0 * 20.0, abs=4)
    errs = np.array([r.pose[0] for r in readings])
    assert 0.03 < errs.std() < 0.07  # noisy, about the configured noise, never the exact pose


def test_battery_drains_more_when_driving_and_charges_docked_at_a_charger() -> None:
    bat = Battery(idle_per_s=0.0001, moving_per_s=0.001, lifting_per_s=0.002, charge_per_s=0.005)
    cfg = BaseSimConfig(seed=2, battery=bat, battery_start=0.5, op_time=1.0)
    sim = BaseSim([(0.0, 0.0, 0.0), (5.0, 0.0, 0.0)], cfg, chargers=[(5.0, 0.0)])
    sim.command(0, 1.0, 0.0)
    for _ in range(100):
        sim.step(0.1)
    assert sim.battery[0] < sim.battery[1] < 0.5  # driving costs more than standing
    assert sim.battery[0] == pytest.approx(0.5 - 10 * 0.0011, abs=0.002)
    # base 0 is far from the charger: its dock fails; base 1 docks and charges
    sim.command(0, 0.0, 0.0)
    assert sim.start_operation(0, base_sim.DOCK) is None and sim.start_operation(1, base_sim.DOCK) is None
    results = [r for _ in range(20) for r in sim.step(0.1).results]
    assert sorted((r.index, r.code) for r in results) == [(0, base_sim.FAILED), (1, base_sim.SUCCEEDED)]
    before = sim.battery[1]
    for _ in range(100):
        sim.step(0.1)
    assert sim.battery[1] == pytest.approx(before + 10 * (0.005 - 0.0001), abs=0.002)
    sim.command(1, 0.5, 0.0)  # driving off the charger undocks: charging ends
    sim.step(1.0)
    assert not sim.docked[1]


def test_lift_failures_at_about_the_configured_rate() -> None:
    sim = BaseSim([(0.0, 0.0, 0.0)] * 50, BaseSimConfig(seed=3, lift_failure_prob=0.1, op_time=1.0, substep=0.1))
    codes = []
    for _ in range(40):
        for i in range(sim.n):
            assert sim.start_operation(i, base_sim.LIFT) is None
        results = sim.step(1.0).results
        assert len(results) == sim.n
        codes += [(r.code, r.rack_present) for r in results]
        for i in range(sim.n):  # lower it again, so the next lift starts empty
            sim.start_operation(i, base_sim.DROP)
        sim.step(1.0)
    failed = sum(c == base_sim.FAILED for c, _ in codes)
    assert 150 <= failed <= 250, failed  # 2,000 lifts at 10 %: 200 +- 3.5 sigma
    assert all(rack == (code == base_sim.SUCCEEDED) for code, rack in codes)  # a failed lift holds no rack


def test_operations_refused_busy_or_stopped_aborted_by_a_stop_or_timed_out() -> None:
    sim = BaseSim([(0.0, 0.0, 0.0)], BaseSimConfig(seed=4, op_time=2.0, lift_failure_prob=0.0))
    assert sim.start_operation(0, base_sim.LIFT) is None
    assert sim.start_operation(0, base_sim.DROP).code == base_sim.REJECTED_BUSY
    sim.step(1.0)
    sim.set_stop(0, 3.0)
    (aborted,) = sim.step(0.1).results
    assert (aborted.code, aborted.rack_present) == (base_sim.REJECTED_STOPPED, False)
    assert sim.start_operation(0, base_sim.LIFT).code == base_sim.REJECTED_STOPPED
    sim.command(0, 1.0, 0.0)  # ignored while stopped
    sim.step(1.0)
    assert sim.v[0] == 0.0 and sim.truth(0)[0] == 0.0
    sim.step(3.0)  # the stop is over; a timeout shorter than the lift ends it, nothing lifted
    assert sim.start_operation(0, base_sim.LIFT, timeout=0.5) is None
    (timed_out,) = sim.step(1.0).results
    assert (timed_out.code, timed_out.rack_present, sim.rack[0]) == (base_sim.FAILED_TIMEOUT, False, False)


def test_protective_stops_at_the_configured_rate_and_hold_the_base() -> None:
    cfg = BaseSimConfig(seed=6, stops_per_hour=36.0, stop_s=5.0, substep=0.1, loc_rate=0.0)
    sim = BaseSim([(0.0, 0.0, 0.0)] * 100, cfg)
    started = cleared = 0
    for report in _drive_loops(sim, 1000.0, dt=0.5):
        started += len(report.stops_started)
        cleared += len(report.stops_cleared)
        for i in report.stops_started:
            assert sim.v[i] == 0.0 and sim.stopped(i)
    # 0.01 stops per second while not stopped, 5 s each: 1000 * 0.01 / 1.05 per base
    assert started == pytest.approx(100 * 10 / 1.05, rel=0.1), started
    assert started - 100 <= cleared <= started and int(sim.stops.sum()) == started


def test_deterministic_for_a_seed() -> None:
    def run(seed: int):
        sim = BaseSim([(0.0, 0.0, 0.0), (3.0, 1.0, 1.0)], BaseSimConfig(seed=seed, stops_per_hour=500.0,
                                                                        lift_failure_prob=0.5))
        out = []
        for k, report in enumerate(_drive_loops(sim, 20.0)):
            if k % 100 == 0:
                sim.start_operation(k % 2, base_sim.LIFT)
            out.append((sim.odometry(0), sim.odometry(1), [(r.index, r.stamp, r.pose) for r in report.readings],
                        [(r.index, r.code) for r in report.results], report.stops_started))
        return out, sim.truth(1), float(sim.battery[1])
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_operation_codes_match_the_robot_side() -> None:
    assert (base_sim.LIFT, base_sim.DROP, base_sim.DOCK, base_sim.UNDOCK) == (
        base_state.LIFT, base_state.DROP, base_state.DOCK, base_state.UNDOCK)
    assert (base_sim.SUCCEEDED, base_sim.FAILED, base_sim.REJECTED_STOPPED, base_sim.REJECTED_BUSY) == (
        base_state.SUCCEEDED, base_state.FAILED, base_state.REJECTED_STOPPED, base_state.REJECTED_BUSY)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="lift_failure_prob"):
        BaseSimConfig(lift_failure_prob=1.5)
    with pytest.raises(ValueError, match="max_speed"):
        BaseSimConfig(max_speed=0.0)

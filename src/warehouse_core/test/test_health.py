"""The level rules of the operators' health statuses (warehouse_core.fleet.health)."""

from __future__ import annotations

import pytest

from warehouse_core.fleet import health
from warehouse_core.fleet.health import ERROR, OK, WARN, Limits, LowLimits, RobotReport


@pytest.mark.parametrize(("value", "level"), [(0.0, OK), (0.99, OK), (1.0, WARN), (4.9, WARN), (5.0, ERROR)])
def test_high_limits(value, level):
    assert Limits(1.0, 5.0).level(value) == level


def test_a_zero_threshold_turns_its_level_off():
    assert Limits(0.0, 5.0).level(3.0) == OK
    assert Limits(1.0, 0.0).level(1e9) == WARN
    assert Limits().level(1e9) == OK


@pytest.mark.parametrize(("value", "level"), [(1.0, OK), (0.15, OK), (0.149, WARN), (0.05, WARN), (0.049, ERROR)])
def test_low_limits(value, level):
    assert LowLimits(0.15, 0.05).level(value) == level


def test_status_takes_the_worst_check_and_names_only_those_at_that_level():
    s = health.status("n: a", "hw", [(WARN, "slow"), (ERROR, "late"), (ERROR, "down"), (OK, "fine")], "all good",
                      {"x": 1.23456, "ok": True, "n": 3})
    assert (s.level, s.message) == (ERROR, "late; down")
    assert s.values == (("x", "1.235"), ("ok", "true"), ("n", "3"))
    assert health.status("n: a", "hw", [(OK, "x")], "all good", {}).message == "all good"


def test_round_watch_lag_and_longest_round_per_report():
    rounds = health.RoundWatch()
    assert rounds.lag(50.0) == 0.0  # no round yet: nothing is late
    rounds.record(10.0, 0.1)
    rounds.record(10.2, 0.4)
    rounds.record(10.4, 0.2)
    assert rounds.lag(13.4) == pytest.approx(3.0)
    assert rounds.take() == 0.4
    assert rounds.take() == 0.0  # a new interval
    assert rounds.last_s == 0.2 and rounds.rounds == 3


def test_planning_warns_on_lag_and_errs_on_a_slow_round():
    limits_round, limits_lag = Limits(0.5, 2.0), Limits(2.0, 10.0)
    rounds = health.RoundWatch()
    rounds.record(100.0, 0.01)
    ok = health.planning("mapf_planner", "h", rounds, 100.1, limits_round, limits_lag, 0, {"robots": 4})
    assert (ok.name, ok.level, ok.message) == ("mapf_planner: planning", OK, "planning")
    assert ok.value("robots") == "4" and ok.value("lag_s") == "0.100"
    rounds.record(100.2, 0.01)
    late = health.planning("mapf_planner", "h", rounds, 103.0, limits_round, limits_lag, 0, {})
    assert late.level == WARN and "2.8 s behind sim time" in late.message
    rounds.record(103.0, 2.5)
    slow = health.planning("mapf_planner", "h", rounds, 103.1, limits_round, limits_lag, 0, {})
    assert slow.level == ERROR and "took 2.50 s" in slow.message
    waiting = health.planning("mapf_planner", "h", health.RoundWatch(), 0.0, limits_round, limits_lag, 3, {})
    assert waiting.level == OK and "waiting for 3 robot(s)" in waiting.message


def test_allocation_backlog_levels():
    rounds = health.RoundWatch()
    rounds.record(10.0, 0.05)
    work = health.Backlog(open_orders=6000, pending_lines=40, tasks_in_flight=3, unanswered_tasks=1)
    s = health.allocation("task_allocator", "h", rounds, 11.0, work, Limits(5.0, 30.0), Limits(5000, 20000), {})
    assert s.level == WARN and s.message == "6000 open orders"
    assert (s.value("pending_lines"), s.value("tasks_in_flight"), s.value("unanswered_tasks")) == ("40", "3", "1")
    calm = health.Backlog(10, 0, 0, 0)
    assert health.allocation("a", "h", rounds, 11.0, calm, Limits(5.0, 30.0), Limits(5000, 20000), {}).level == OK
    assert health.allocation("a", "h", rounds, 50.0, calm, Limits(5.0, 30.0), Limits(5000, 20000), {}).level == ERROR


def test_clock_watch_real_time_factor_and_time_standing_still():
    clock = health.ClockWatch()
    assert clock.sample(100.0, 0.0) == (0.0, 0.0)
    assert clock.sample(101.0, 12.0) == (12.0, 0.0)
    assert clock.sample(102.0, 12.0) == (0.0, 1.0)  # stood still since the previous sample
    assert clock.sample(104.0, 12.0) == (0.0, 3.0)
    rtf, still = clock.sample(105.0, 14.0)
    assert (rtf, still) == (2.0, 0.0)


def test_simulation_levels_name_who_time_waited_for():
    stalls = health.StallCounts()
    assert stalls.since((5, 0, 1)) == (5, 0, 1)
    assert stalls.since((9, 0, 1)) == (4, 0, 0)
    still = Limits(5.0, 30.0)
    running = health.simulation("floor_simulator", "h", True, 11.8, 12.0, 0.0, (9, 0, 1), (0, 0, 0), still, 0.0)
    assert (running.level, running.message) == (OK, "running")
    held = health.simulation("floor_simulator", "h", True, 0.0, 12.0, 6.0, (9, 0, 1), (4, 0, 0), still, 0.0)
    assert held.level == WARN and "waiting for the planner" in held.message
    long_held = health.simulation("floor_simulator", "h", True, 0.0, 12.0, 31.0, (9, 0, 1), (0, 3, 0), still, 0.0)
    assert long_held.level == ERROR and "robot container" in long_held.message
    before = health.simulation("floor_simulator", "h", False, 0.0, 12.0, 99.0, (0, 0, 0), (0, 0, 0), still, 0.0)
    assert before.level == OK and "waiting for the other nodes" in before.message
    slow = health.simulation("floor_simulator", "h", True, 3.0, 12.0, 0.0, (0, 0, 0), (0, 0, 0), still, 6.0)
    assert slow.level == WARN and "real-time factor 3.0 below 6" in slow.message


def _fleet(**changes: RobotReport) -> dict[str, RobotReport]:
    robots = {f"robot_{i}": RobotReport(100.0, battery=0.8) for i in range(5)}
    robots.update(changes)
    return robots


def test_robot_links_worst_age_and_stale_count_per_container():
    limits = Limits(2.0, 20.0)
    ok = health.robot_links("robots_0", "robot_0..robot_4", _fleet(), limits)
    assert (ok.name, ok.level, ok.value("worst_link_age_s"), ok.value("stale_links")) == \
        ("robots_0: robot links", OK, "0.000", "0")
    lagging = health.robot_links("robots_0", "hw", _fleet(robot_3=RobotReport(97.0), robot_1=RobotReport(99.5)),
                                 limits)
    assert lagging.level == WARN and lagging.value("worst_robot") == "robot_3"
    assert lagging.value("stale_links") == "1" and "worst robot_3 3.0 s" in lagging.message
    gone = health.robot_links("robots_0", "hw", _fleet(robot_2=RobotReport(70.0, stopped=True)), limits)
    assert gone.level == ERROR and gone.value("stopped_nodes") == "1"
    failed = health.robot_links("robots_0", "hw", _fleet(robot_2=RobotReport(10.0, failed=True)), limits)
    assert failed.level == OK and failed.value("failed_bases") == "1"  # a failed base is the planner's news
    stopped_now = health.robot_links("robots_0", "hw", _fleet(robot_4=RobotReport(100.0, stopped=True)), limits)
    assert stopped_now.level == WARN and "stopped: robot_4" in stopped_now.message
    nothing = health.robot_links("robots_0", "hw", {"robot_0": RobotReport(None)}, limits)
    assert nothing.level == OK and nothing.message == "waiting for the first base state"


def test_battery_lowest_and_count_low():
    limits = LowLimits(0.15, 0.05)
    ok = health.battery("robots_0", "hw", _fleet(), limits)
    assert (ok.level, ok.value("lowest")) == (OK, "0.800")
    low = health.battery("robots_0", "hw", _fleet(robot_1=RobotReport(100.0, battery=0.1),
                                                  robot_2=RobotReport(100.0, battery=0.12)), limits)
    assert low.level == WARN and low.value("low") == "2" and low.value("lowest_robot") == "robot_1"
    empty = health.battery("robots_0", "hw", _fleet(robot_0=RobotReport(100.0, battery=0.01)), limits)
    assert empty.level == ERROR
    unmodelled = health.battery("robots_0", "hw", {"robot_0": RobotReport(100.0, battery=None)}, limits)
    assert unmodelled.level == OK and unmodelled.message == "no battery reported"


def test_forecast_warns_when_worse_than_seasonal_naive():
    good = health.forecast("forecaster", "h", {"mase": 0.878, "seasonal_naive_mase": 1.047, "model": "auto"}, 500)
    assert good.level == OK and good.message == "forecast of 500 SKUs published"
    bad = health.forecast("forecaster", "h", {"mase": 1.3, "seasonal_naive_mase": 1.047}, 500)
    assert bad.level == WARN


def test_order_intake_late_answers_and_service_down():
    wait = Limits(10.0, 60.0)
    ok = health.order_intake("order_source", "h", health.Submissions(0, 2, 0.5, 100, True), wait)
    assert ok.level == OK
    late = health.order_intake("order_source", "h", health.Submissions(0, 2, 12.0, 100, True), wait)
    assert late.level == WARN
    down = health.order_intake("order_source", "h", health.Submissions(7, 0, 0.0, 0, False), wait)
    assert down.level == WARN and "7 order(s) held" in down.message


def test_localisation_says_when_map_to_odom_is_the_initial_pose():
    none = health.localisation("robots_0", "hw", {"robot_0": (False, False), "robot_1": (True, False)})
    assert none.level == OK and "1 robot(s) without localisation" in none.message
    assert dict(none.values)["without_localisation"] == "1"
    stale = health.localisation("robots_0", "hw", {"robot_0": (True, True), "robot_1": (True, False)})
    assert stale.level != OK and "robot_0" in stale.message
    assert health.localisation("r", "hw", {"robot_0": (True, False)}).message == "1 robots localised"

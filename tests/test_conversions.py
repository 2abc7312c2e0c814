"""Message conversions that every node relies on (no DDS needed)."""

from __future__ import annotations

import pytest

from warehouse_interfaces.msg import RobotState
from warehouse_nodes import conversions as conv


@pytest.mark.parametrize("t", [0.0, 0.2, 35.999999999999, 36.0, 71.8, 1e6 + 0.4, 3599.9999999996])
def test_to_time_rounds_to_the_nearest_nanosecond(t):
    stamp = conv.to_time(t)
    assert 0 <= stamp.nanosec < 1_000_000_000
    assert conv.from_time(stamp) == pytest.approx(t, abs=1e-9)


def test_stamps_of_consecutive_ticks_increase():
    # the simulator's clock is a running float sum of ticks; stamps must never go backwards
    t, stamps = 0.0, []
    for _ in range(5000):
        t += 0.2
        stamps.append(conv.from_time(conv.to_time(t)))
    assert all(b > a for a, b in zip(stamps, stamps[1:]))


def test_fleet_state_entries_skip_nothing_and_keep_order():
    states = [RobotState(robot_id=f"robot_{i}", x=float(i), progress_index=i - 1) for i in range(5)]
    back = conv.fleet_state_entries(conv.fleet_state_msg(states, 3.0))
    assert [s.robot_id for s in back] == [s.robot_id for s in states]
    assert [s.progress_index for s in back] == [-1, 0, 1, 2, 3]


def test_unknown_fleet_transport_is_refused_with_the_choices():
    with pytest.raises(Exception) as err:
        conv.check_fleet_transport("multicast", "/mapf_planner")
    assert "fleet_transport" in str(err.value) and "per_robot" in str(err.value)


def test_demand_forecast_round_trip_and_malformed_forecasts_are_refused_by_name():
    from warehouse_core.errors import InputError

    msg = conv.forecast_to_msg({"S2": 0.5, "S1": 3.0}, "auto", 7, conv.to_time(1.0))
    assert list(msg.skus) == ["S1", "S2"] and msg.horizon == 7
    assert conv.forecast_from_msg(msg) == {"S1": 3.0, "S2": 0.5}
    msg.units_per_period = [1.0]
    with pytest.raises(InputError, match="/forecast/demand.*2 skus but 1"):
        conv.forecast_from_msg(msg)
    msg.units_per_period = [1.0, float("nan")]
    with pytest.raises(InputError, match="'S2'"):
        conv.forecast_from_msg(msg)

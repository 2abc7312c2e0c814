"""SilenceWatch: a robot is silent only when wall-clock and fleet time both moved on."""

from warehouse_core.fleet.silence import SilenceWatch


def test_a_node_silent_while_the_simulation_waits_for_it_is_not_failed():
    w = SilenceWatch(20.0)
    w.heard("robot_1", wall=100.0, fleet_time=50.0)
    w.heard("robot_2", wall=100.0, fleet_time=50.0)
    # 30 s of wall time pass but the simulator held time (it waits for the slow process)
    assert w.silent(wall=130.0, fleet_time=50.8) == []
    # robot_2 reports again; time moves on; robot_1 stays silent on both clocks
    w.heard("robot_2", wall=140.0, fleet_time=75.0)
    assert w.silent(wall=141.0, fleet_time=76.0) == [("robot_1", 41.0)]


def test_silence_needs_wall_clock_time_too_and_zero_disables():
    w = SilenceWatch(20.0)
    w.heard("r", wall=0.0, fleet_time=0.0)
    assert w.silent(wall=10.0, fleet_time=100.0) == []  # fast simulation, node still talking in wall time
    assert w.silent(wall=25.0, fleet_time=100.0) == [("r", 25.0)]
    assert SilenceWatch(0.0, {"r": (0.0, 0.0)}).silent(1e6, 1e6) == []

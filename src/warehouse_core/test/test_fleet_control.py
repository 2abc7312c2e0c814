"""Operator control: the rules of pause, e-stop and service, and the release they hold back."""

from __future__ import annotations

from warehouse_core.fleet.control import FleetControl, OperatorAction
from warehouse_core.fleet.execution import TrafficController
from warehouse_core.sim.floor_sim import FloorSim, Kinematics, Waypoint

W = 10


def act(command: str, zone=None, robot: str = "", requester: str = "test") -> OperatorAction:
    return OperatorAction(command, requester, 1.0, zone=zone, robot=robot)


def test_commands_are_refused_with_a_reason_and_change_nothing():
    c = FleetControl((W, 5))
    assert c.apply(act("resume")) == (False, "nothing is paused")
    assert c.apply(act("reset"))[0] is False
    ok, msg = c.apply(act("pause"))
    assert ok and "pause" in msg and "test" in msg
    assert c.apply(act("pause")) == (False, "the fleet is already paused")
    assert not c.apply(act("pause", zone=(3, 0, 2, 1)))[0]  # x0 > x1
    ok, msg = c.apply(act("pause", zone=(0, 0, 10, 1)))
    assert not ok and "x1 < 10" in msg
    assert not c.apply(act("estop", zone=(0, 0, 1, 1)))[0]
    assert "unknown command" in c.apply(act("halt"))[1]
    assert "unknown robot 'amr_9'" in c.apply(act("out_of_service", robot="amr_9"), robots=["amr_1"])[1]
    assert c.state.seq == 1 and c.state.paused and not c.state.zones
    assert c.apply(act("resume"))[0] and not c.state.paused and c.state.seq == 2


def test_estop_needs_a_reset_and_service_state_round_trips():
    c = FleetControl((W, 5))
    assert c.apply(act("estop"))[0] and c.state.halted
    assert c.apply(act("resume")) == (False, "nothing is paused")  # resume does not clear an e-stop
    assert c.state.estop
    assert c.apply(act("reset"))[0] and not c.state.halted
    assert c.apply(act("out_of_service", robot="forklift-3"), robots=["forklift-3"])[0]
    assert c.apply(act("out_of_service", robot="forklift-3"), robots=["forklift-3"]) == (
        False, "forklift-3 is already out of service")
    assert c.state.out_of_service == {"forklift-3"}
    # the journal's replay (actions as JSON) rebuilds the same state
    again = FleetControl((W, 5))
    for a in c.history:
        assert again.apply(OperatorAction.from_json(a.to_json()), robots=[a.robot])[0]
    assert again.state == c.state
    assert c.apply(act("in_service", robot="forklift-3"))[0] and not c.state.out_of_service


def straight(traffic: TrafficController, name: str, xs: list[int], y: int) -> None:
    traffic.commit(name, 1, [y * W + x for x in xs], 0)


def test_a_paused_fleet_gets_no_further_release_and_resume_goes_on():
    traffic = TrafficController(lookahead=100)
    straight(traffic, "a", list(range(0, 6)), 0)
    c = FleetControl((W, 3))
    assert traffic.release("a", 0)[0] == 5
    traffic.commit("a", 1, [x for x in range(0, 6)], 0)  # a fresh path: nothing released yet
    c.apply(act("pause"))
    idx, why = traffic.release("a", 0, c.gate(W))
    assert idx == 0 and why.kind == "paused"  # stays where it stands
    c.apply(act("resume"))
    assert c.gate(W) is None and traffic.release("a", 0, c.gate(W))[0] == 5


def test_a_paused_zone_holds_robots_inside_and_lets_none_in():
    traffic = TrafficController(lookahead=100)
    straight(traffic, "out", [0, 1, 2, 3, 4, 5], 0)  # crosses the zone x 3..4
    straight(traffic, "in", [3, 3, 4], 1)  # stands in the zone
    straight(traffic, "far", [7, 8, 9], 2)  # elsewhere
    c = FleetControl((W, 3))
    c.apply(act("pause", zone=(3, 0, 4, 1)))
    gate = c.gate(W)
    idx, why = traffic.release("out", 0, gate)
    assert idx == 2 and why.kind == "paused" and why.cell == 3  # waits at the zone's edge
    idx, why = traffic.release("in", 0, gate)
    assert why.kind == "paused"
    assert traffic.paths["in"].released <= 0
    assert traffic.release("far", 0, gate)[0] == 2  # unaffected


def test_the_floor_stands_still_in_an_emergency_stop():
    sim = FloorSim(Kinematics())
    sim.add_robot("r", (0, 0), *grid_centre(0))
    sim.command("r", 1, 0, [Waypoint(i, (i, 0), *grid_centre(i)) for i in range(6)])
    sim.step(1.0)
    x = sim.robots["r"].x
    assert x > grid_centre(0)[0]
    sim.estop = True
    for _ in range(5):
        sim.step(0.5)
    assert sim.robots["r"].x == x and sim.robots["r"].v == 0.0
    sim.estop = False
    sim.step(1.0)
    assert sim.robots["r"].x > x


def grid_centre(i: int) -> tuple[float, float]:
    return i + 0.5, 0.5


def test_alarms_are_raised_on_changes_only():
    from warehouse_core.fleet.alarms import AlarmLog

    log = AlarmLog(keep=3)
    for t in range(5):
        log.observe_robot(float(t), "amr_1", "moving", 0.9)
    assert log.after(0) == []
    log.observe_robot(5.0, "amr_1", "stopped", 0.9)
    log.observe_robot(6.0, "amr_1", "stopped", 0.15)
    log.observe_robot(7.0, "amr_1", "stopped", 0.1)
    assert [a.kind for a in log.after(0)] == ["stop", "battery"]
    log.add(8.0, "deadlock", "amr_2", "cycle")
    log.add(9.0, "operator", "", "pause")
    assert [a.id for a in log.after(0)] == [2, 3, 4]  # the oldest dropped (keep=3)
    assert [a.kind for a in log.after(3)] == ["operator"]

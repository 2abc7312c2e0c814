"""Simulated time waits for a robot container that falls behind, but not for ever: one that holds it
for the wall-clock limit is given up, and waited for again once it has caught up."""

from __future__ import annotations

from warehouse_core.sim.node_gate import NodeGate, container_robots


def test_time_waits_for_a_container_behind_and_not_for_one_within_the_lag():
    gate = NodeGate(max_lag=1.0, hold_limit=10.0)
    assert gate.holds(5.0, 0.0) == (False, [])  # no container reported yet: nothing to wait for
    gate.heard("robots_0", 4.2, 5.0)
    assert gate.holds(5.0, 0.0) == (False, [])
    assert gate.holds(5.4, 0.0) == (True, [])  # 1.2 s behind


def test_a_container_holding_time_for_the_limit_is_given_up_then_waited_for_again_once_caught_up():
    gate = NodeGate(max_lag=1.0, hold_limit=10.0)
    gate.heard("robots_0", 10.0, 10.0)
    gate.heard("robots_100", 10.0, 10.0)
    gate.heard("robots_100", 12.0, 12.0)  # the other one keeps up
    assert gate.holds(12.0, 100.0) == (True, [])
    assert gate.holds(12.0, 109.9) == (True, [])
    assert gate.holds(12.0, 110.0) == (False, ["robots_0"])
    assert gate.holds(12.0, 111.0) == (False, [])  # given up once, said once
    assert not gate.heard("robots_0", 11.0, 30.0)  # a message from its backlog: still far behind
    assert gate.holds(30.0, 112.0) == (True, [])  # ... but only robots_100 (at 12 s) holds now
    gate.heard("robots_100", 30.0, 30.0)
    assert gate.holds(30.0, 112.0) == (False, [])
    assert gate.heard("robots_0", 29.4, 30.0)  # back and caught up
    assert gate.given_up == set()
    assert gate.holds(31.0, 113.0) == (True, [])  # waited for like any other again
    # and its new hold is counted from when it began, not from the first one
    assert gate.holds(31.0, 122.9) == (True, [])
    assert gate.holds(31.0, 123.0) == (False, ["robots_0"])  # robots_100, 1.0 s behind, does not hold


def test_a_hold_that_ends_restarts_the_count():
    gate = NodeGate(max_lag=1.0, hold_limit=10.0)
    gate.heard("robots_0", 0.0, 0.0)
    assert gate.holds(2.0, 0.0) == (True, [])
    gate.heard("robots_0", 2.0, 2.0)  # a slow container catches up: no hold any more
    assert gate.holds(2.0, 9.0) == (False, [])
    assert gate.holds(3.5, 9.0) == (True, [])
    assert gate.holds(3.5, 18.9) == (True, [])  # 9.9 s since this hold began, not 18.9 s
    assert gate.holds(3.5, 19.0) == (False, ["robots_0"])


def test_without_a_limit_time_waits_for_ever():
    gate = NodeGate(max_lag=1.0, hold_limit=0.0)
    gate.heard("robots_0", 0.0, 0.0)
    assert gate.holds(5.0, 1e9) == (True, [])


def test_the_robots_of_a_container_follow_the_containers_firsts():
    robots = [f"robot_{i}" for i in range(250)]
    nodes = ["robots_0", "robots_100", "robots_200"]
    assert container_robots("robots_100", nodes, robots) == robots[100:200]
    assert container_robots("robots_200", nodes, robots) == robots[200:]
    assert container_robots("robots_0", ["robots_0"], robots[:5]) == robots[:5]
    assert container_robots("robot_3", nodes, robots) == []  # not a container's name

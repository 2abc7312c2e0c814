"""Floor simulator: drive commands are applied only where they continue the robot's queue."""

from __future__ import annotations

import math

from warehouse_core.sim.floor_sim import FloorSim, Kinematics, Waypoint


def _wps(first: int, last: int, y: int = 0) -> list[Waypoint]:
    """Waypoints ``first..last`` of a straight path along +x from cell (0, y), 1 m cells."""
    return [Waypoint(i, (i, y), i + 0.5, y + 0.5) for i in range(first, last + 1)]


def _sim() -> FloorSim:
    sim = FloorSim(Kinematics(1.5, 1.0, math.pi / 2))
    sim.add_robot("r", (0, 0), 0.5, 0.5)
    return sim


def _run(sim: FloorSim, seconds: float) -> list[tuple[float, float]]:
    poses = []
    for _ in range(round(seconds / 0.1)):
        sim.step(0.1)
        r = sim.robots["r"]
        poses.append((r.x, r.y))
    return poses


def test_a_lost_command_is_never_bridged_by_a_straight_line():
    sim = _sim()
    assert sim.command("r", 1, 1, _wps(1, 2))
    # the command for waypoints 3..4 is lost; 5..6 arrives: refused, the robot stops at 2
    assert not sim.command("r", 1, 5, _wps(5, 6))
    _run(sim, 10.0)
    assert sim.robots["r"].reached == 2 and sim.robots["r"].cell == (2, 0)
    # the robot node re-sends from the base's progress: the gap is closed, the robot goes on
    assert sim.command("r", 1, 3, _wps(3, 6))
    poses = _run(sim, 15.0)
    assert sim.robots["r"].reached == 6
    assert all(abs(y - 0.5) < 1e-9 for _x, y in poses)  # never left the row


def test_repeated_and_overlapping_commands_queue_each_waypoint_once():
    sim = _sim()
    assert sim.command("r", 1, 1, _wps(1, 3))
    assert sim.command("r", 1, 1, _wps(1, 3))  # a repeat: accepted, nothing added
    assert sim.command("r", 1, 2, _wps(2, 5))
    assert [w.index for w in sim.robots["r"].queue] == [1, 2, 3, 4, 5]


def test_a_new_plan_must_start_at_its_beginning():
    sim = _sim()
    assert sim.command("r", 1, 1, _wps(1, 2))
    _run(sim, 6.0)
    # plan 2 starts at the robot's cell (index 0); its first command (index 1..) was lost
    assert not sim.command("r", 2, 3, [Waypoint(3, (2, 3), 2.5, 3.5)])
    assert sim.robots["r"].plan_id == 1
    assert sim.command("r", 2, 1, [Waypoint(1, (2, 1), 2.5, 1.5), Waypoint(2, (2, 2), 2.5, 2.5)])
    _run(sim, 6.0)
    assert sim.robots["r"].plan_id == 2 and sim.robots["r"].cell == (2, 2)

"""Prioritized space-time planning (the test helper ``spacetime_planner.py``, fixture ``spacetime``)
+ dependency-gated execution on the kinematic floor sim.

The key property: whatever the delays, robots driving only as far as they are released keep
their centres at least one cell apart, and every robot keeps making progress.
"""

import math
import random

import numpy as np
import pytest

from warehouse_core.fleet.execution import TrafficController, WaitTracker
from warehouse_core.fleet.reservations import FOREVER, ReservationTable
from warehouse_core.maps.grid import Grid
from warehouse_core.sim.floor_sim import FloorSim, Kinematics, Waypoint


def grid_from(rows: list[str]) -> Grid:
    return Grid(np.array([[c != "@" for c in r] for r in rows], dtype=bool))


def world(g: Grid, c):
    return (c[0] + 0.5, g.height - c[1] - 0.5)


def test_reservations_keep_one_step_apart():
    t = ReservationTable()
    t.add_path("a", 1, [0, 1, 2], 10)
    assert not t.is_free(1, 11, "b")
    assert not t.is_free(1, 12, "b")  # would follow a into cell 1
    assert not t.is_free(1, 10, "b")  # a would follow b
    assert t.is_free(1, 13, "b")
    assert not t.free_from(2, 100, "b")  # a parks on 2 forever
    assert t.visits(2)[0].end == FOREVER


def test_corridor_needs_waiting_not_swapping(spacetime):
    g = grid_from(["....."])
    p = spacetime.SpaceTimePlanner(g)
    t = ReservationTable()
    first = p.plan(t, "a", (0, 0), 0, [spacetime.Target((4, 0))])
    t.add_path("a", 1, first.cells, 0)
    # b waits in the corridor's far end until a has passed, then goes the other way
    second = p.plan(t, "b", (1, 0), 20, [spacetime.Target((0, 0))])
    assert second is not None and second.cells[-1] == g.index((0, 0))


def test_loaded_robot_does_not_pass_under_racks(spacetime):
    g = grid_from(["....",
                   ".RR.",
                   "...."])
    racks = np.zeros_like(g.free)
    racks[1, 1] = racks[1, 2] = True
    p = spacetime.SpaceTimePlanner(g, racks)
    t = ReservationTable()
    res = p.plan(t, "a", (0, 1), 0, [spacetime.Target((3, 1), loaded=True)])
    cells = [g.coord(c) for c in res.cells]
    assert (1, 1) not in cells and (2, 1) not in cells
    assert len(cells) - 1 == 5  # around the rack block
    free = p.plan(ReservationTable(), "b", (0, 1), 0, [spacetime.Target((3, 1), loaded=False)])
    assert len(free.cells) - 1 == 3  # straight under the racks


def test_task_sequence_dwells_at_each_target(spacetime):
    g = grid_from(["......"])
    p = spacetime.SpaceTimePlanner(g)
    targets = [spacetime.Target((2, 0), dwell=3), spacetime.Target((5, 0), dwell=2)]
    res = p.plan(ReservationTable(), "a", (0, 0), 5, targets)
    assert res.arrivals == [2, 8]
    assert res.cells[2:6] == [g.index((2, 0))] * 4
    assert res.cells[-3:] == [g.index((5, 0))] * 3


@pytest.mark.parametrize("robots,seed", [(12, 1), (25, 2)])
def test_random_delays_cause_waits_never_collisions(robots, seed, spacetime):
    rows = ["..........",
            ".@@.@@.@@.",
            "..........",
            ".@@.@@.@@.",
            ".........."]
    g = grid_from(rows)
    rng = random.Random(seed)
    free = [g.coord(i) for i in range(g.size) if g.free.ravel()[i]]
    sim, tc, planner = FloorSim(Kinematics()), TrafficController(), spacetime.SpaceTimePlanner(g)
    names = [f"r{i}" for i in range(robots)]
    for n, c in zip(names, rng.sample(free, robots)):
        sim.add_robot(n, c, *world(g, c))
        tc.commit(n, 0, [g.index(c)], 0)
    sent = {n: 0 for n in names}
    plan_id = 0
    reached = {n: 0 for n in names}
    min_d = math.inf
    for _ in range(1500):  # 300 s
        now = int(sim.time)
        for n in names:
            r, path = sim.robots[n], tc.paths[n]
            if r.plan_id == path.plan_id:
                tc.report_progress(n, path.plan_id, r.reached)
            if path.finished and r.plan_id == path.plan_id and not r.queue:
                reached[n] += path.plan_id > 0
                goal = rng.choice(free)
                plan_id += 1
                res = spacetime.replan(tc, n, plan_id, lambda t, n=n, c=r.cell, s=now + tc.margin, g=goal:
                                       planner.plan(t, n, c, s, [spacetime.Target(g, 1)]))
                if res is not None:
                    sent[n] = 0
        for n, (idx, _why) in tc.release_all(now).items():
            path = tc.paths[n]
            if idx > sent[n] and rng.random() > 0.3:  # 30 % of releases arrive late
                wps = [Waypoint(i, g.coord(path.cells[i]), *world(g, g.coord(path.cells[i])))
                       for i in range(sent[n] + 1, idx + 1)]
                sim.command(n, path.plan_id, sent[n] + 1, wps)
                sent[n] = idx
        if rng.random() < 0.05:  # a robot stalls for a while
            victim = sim.robots[rng.choice(names)]
            victim.op_left = max(victim.op_left, 3.0)
        sim.step(0.2)
        pos = np.array([(r.x, r.y) for r in sim.robots.values()])
        d = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        min_d = min(min_d, float(d.min()))
    assert min_d >= 0.99
    assert all(v >= 2 for v in reached.values()), reached


def test_waits_are_explained_with_the_wait_for_chain(spacetime):
    g = grid_from(["......."])
    tc = TrafficController()
    planner = spacetime.SpaceTimePlanner(g)
    # a drives east through the corridor; b follows the same way; c follows b
    for k, name in enumerate(["a", "b", "c"]):
        tc.commit(name, 0, [g.index((2 - k, 0))], 0)
    for k, name in enumerate(["a", "b", "c"]):
        res = spacetime.replan(tc, name, 1, lambda t, n=name, k=k: planner.plan(
            t, n, (2 - k, 0), 3, [spacetime.Target((6 - k, 0))]))
        assert res is not None
    tracker = WaitTracker()
    # at step 10 nobody has reported progress yet: a may go; b must wait until a has left
    # the cell ahead of it, c until b has (a chain c -> b -> a)
    reasons = {n: why for n, (_i, why) in tc.release_all(10).items()}
    changed = {w.agent: w for w in tracker.update(3.0, tc, reasons, set(), set())}
    assert changed["a"].kind == "none"
    assert changed["b"].kind == "robot" and changed["b"].blocker == "a"
    assert changed["c"].chain == ("b", "a")
    assert tracker.update(3.5, tc, reasons, set(), set()) == []  # nothing changed
    assert tracker.current["c"].since == 3.0


def test_extending_a_path_keeps_indices_and_parks_at_the_new_end():
    tc = TrafficController()
    tc.commit("a", 7, [0, 1, 2], 10)
    tc.extend("a", [2, 2, 3, 4])
    path = tc.paths["a"]
    assert path.cells == [0, 1, 2, 2, 2, 3, 4] and path.end_step == 16
    (_, v2), = [(c, v) for c, v in tc.table.agent_visits("a") if c == 2]
    assert (v2.start, v2.end, v2.first, v2.last) == (12, 14, 2, 4)
    (_, v4), = [(c, v) for c, v in tc.table.agent_visits("a") if c == 4]
    assert v4.end == FOREVER and (v4.first, v4.last) == (6, 6)
    # another robot planned through cell 3 before a's arrival goes first
    tc.commit("b", 1, [5, 3, 6], 11)
    tc.report_progress("a", 7, 4)
    idx, why = tc.release("a", 20)
    assert idx == 4 and why.kind == "robot" and why.blocker == "b"
    tc.report_progress("b", 1, 2)
    assert tc.release("a", 20)[0] == 6

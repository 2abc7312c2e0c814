"""Deadlock watchdog: constructed wait-for cycles and blocked chains are detected with their chain,
queues behind a robot at work are not, and a stuck robot on the kinematic floor is resolved by
the fleet planner's re-plan (the others go on, nobody collides)."""

import math
import random
from pathlib import Path

from warehouse_core.fleet.deadlock_watch import DeadlockWatch, RobotProgress, resolutions, wait_chain
from warehouse_core.fleet.execution import WaitStatus, WaitTracker
from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.maps.layout import load_layout
from warehouse_core.sim.floor_sim import FloorSim, Kinematics
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_PICK, TaskStep

LAYOUT = Path(__file__).resolve().parents[3] / "maps" / "warehouse_layout.yaml"


def _still(task="T", cell=(0, 0), progress=3, operating=False):
    return RobotProgress(task, 1, progress, cell, operating)


def _waits(edges):
    return {a: WaitStatus(a, "robot", b) for a, b in edges.items()}


def test_a_constructed_wait_for_cycle_is_detected_with_its_chain_and_resolved():
    watch = DeadlockWatch(limit_s=30.0)
    robots = {n: _still(f"T{n}", (i, 0)) for i, n in enumerate("abc")}
    waits = _waits({"a": "b", "b": "c", "c": "a"})
    for t in range(0, 31, 5):
        act, _ = watch.observe(float(t), robots, waits)
        assert act == []  # not yet stalled for 30 s
    act, _ = watch.observe(31.0, robots, waits)
    assert [d.chain for d in act] == [("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b")]
    assert all(d.cycle for d in act) and "cycle a -> b -> c -> a" in act[0].reason
    assert watch.detected == 3 and watch.unresolved == 3
    # still stuck: asked again once per limit, not counted again
    act, _ = watch.observe(40.0, robots, waits)
    assert act == []
    act, _ = watch.observe(62.0, robots, waits)
    assert len(act) == 3 and all(d.attempts == 2 for d in act) and watch.detected == 3
    # the resolution (a re-plan) moves them on: resolved
    moved = {n: _still(f"T{n}", (i, 1), progress=0) for i, n in enumerate("abc")}
    act, resolved = watch.observe(63.0, moved, {})
    assert act == [] and sorted(d.chain[0] for d in resolved) == ["a", "b", "c"]
    assert watch.unresolved == 0 and all(d.resolved_at == 63.0 for d in resolved)


def test_a_queue_behind_a_robot_at_work_is_not_a_deadlock_but_a_dead_head_is():
    watch = DeadlockWatch(limit_s=30.0)
    waits = _waits({"q2": "q1", "q1": "picker"})
    for t in range(0, 100, 5):  # the picker picks (20 s per rack) at the head of the queue
        working = {"q1": _still("T1"), "q2": _still("T2"), "picker": _still(f"T{3 + t // 20}", operating=True)}
        act, _ = watch.observe(float(t), working, waits)
        assert act == []
    # the head stops too (its base stalled): the queue is now a blocked chain
    stalled = dict(working, picker=_still("T7", operating=False))
    for t in range(100, 130, 5):  # the picker stopped at t = 100
        act, _ = watch.observe(float(t), stalled, waits)
        assert act == []
    act, _ = watch.observe(131.0, stalled, waits)
    assert {d.chain for d in act} == {("q1", "picker"), ("q2", "q1", "picker"), ("picker",)}
    assert not any(d.cycle for d in act)
    assert "picker made no progress" in next(d for d in act if d.chain[0] == "q2").reason


def test_an_operation_that_overruns_is_a_stall_but_charging_is_not():
    watch = DeadlockWatch(limit_s=30.0)
    for t in range(0, 200, 5):
        act, _ = watch.observe(float(t), {"c": RobotProgress("C1", 1, 4, (1, 1), True, charging=True)}, {})
        assert act == []
    watch = DeadlockWatch(limit_s=30.0)
    stuck_lift = {"l": RobotProgress("T1", 1, 4, (1, 1), True)}
    assert watch.observe(0.0, stuck_lift, {})[0] == [] and watch.observe(30.0, stuck_lift, {})[0] == []
    assert [d.chain for d in watch.observe(31.0, stuck_lift, {})[0]] == [("l",)]


def test_idle_robots_and_progress_are_never_deadlocks():
    watch = DeadlockWatch(limit_s=10.0)
    for t in range(0, 100):
        act, _ = watch.observe(float(t), {"idle": _still(""), "mover": _still("T", cell=(t, 0), progress=t)}, {})
        assert act == []
    assert wait_chain("x", {}) == (("x",), False)


def test_a_stuck_robot_on_the_floor_is_resolved_by_a_replan_and_the_others_go_on(floor_drive):
    """A robot's base stalls for 150 s in the middle of traffic; the watchdog (30 s) detects the
    robots stuck behind it, the planner re-plans (freeze, the stuck robot suspended, the others
    re-rooted around it): tasks go on completing while it stands, nobody comes closer than a cell."""
    layout = load_layout(LAYOUT)
    rng = random.Random(2)
    racks = [s for s in layout.storage if s.rack]
    starts = {f"r{i}": s.cell for i, s in enumerate(rng.sample(racks, 10))}
    sim = FloorSim(Kinematics(), racks={s.cell: s.rack for s in racks})
    for n, c in starts.items():
        sim.add_robot(n, c, *layout.cell_to_world(c))
    fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 1, 1.0, window=5, seed=3)
    drive = floor_drive(fleet, sim, layout.cell_to_world)
    watch = DeadlockWatch(limit_s=30.0)
    storage = [s.cell for s in layout.storage]
    done: list[tuple[float, str]] = []
    stuck, stall_at = None, 60.0
    min_d, k = math.inf, 0
    waits = WaitTracker()
    for _tick in range(2000):  # 400 s
        now = sim.time
        step = math.floor(now)
        if stuck is None and now >= stall_at:
            moving = [n for n, r in sim.robots.items() if r.v > 0.1 and r.op_left <= 0 and n in drive.tasks]
            if moving:
                stuck, stall_at = sorted(moving)[0], now
                sim.stall(stuck, 150.0)
        done.extend((now, n) for n in drive.report())
        for n, r in sim.robots.items():
            if n not in drive.tasks and not fleet.busy(n):
                free = [c for c in storage if c not in sim.racks]
                src = r.cell if r.cell in sim.racks else rng.choice(sorted(sim.racks))
                st = layout.stations[k % len(layout.stations)]
                k += 1
                drive.request(n, f"T{k}", [TaskStep(src, OP_LIFT, 2.0), TaskStep(st.pick_cell, OP_PICK, 4.0),
                                           TaskStep(rng.choice(free), OP_DROP, 2.0)])
        drive.plan(step)
        results = drive.release(step)
        waits.update(now, fleet.traffic, {n: why for n, (_i, why) in results.items()}, set(),
                     {n for n, r in sim.robots.items() if r.op_left > 0})
        progress = {n: RobotProgress(drive.task_ids.get(n, ""), drive.plan_of[n], r.reached, r.cell, r.op_left > 0)
                    for n, r in sim.robots.items()}
        act, _ = watch.observe(now, progress, waits.current)
        light, heavy = resolutions(watch, act, waits.current, now, 15.0)
        fleet.prioritize(light)
        for d in heavy:
            fleet.replan(list(d.chain), d.reason)
        sim.step(0.2)
        min_d = min(min_d, drive.min_distance())
    assert min_d >= 0.99
    assert watch.detected >= 1 and any(stuck in d.chain for d in watch.history), [d.reason for d in watch.history]
    assert fleet.watchdog_replans >= 1
    during = [t for t, n in done if stall_at + 40 < t < stall_at + 150]
    assert len(during) >= 3, done  # the fleet kept going while the robot stood
    assert watch.unresolved == 0, [d.reason for d in watch.open.values()]  # resolved once it could move


def test_detections_are_all_counted_but_only_the_latest_kept():
    from collections import deque

    watch = DeadlockWatch(limit_s=30.0, history=deque(maxlen=4))
    waits = _waits({"a": "b", "b": "a"})
    t = 0.0
    for round_ in range(5):  # five times: a and b stall in a cycle, then move on
        robots = {n: _still(f"T{n}{round_}", (i, round_)) for i, n in enumerate("ab")}
        watch.observe(t, robots, waits)
        act, _ = watch.observe(t + 31.0, robots, waits)
        assert len(act) == 2
        t += 40.0
    assert watch.detected == 10 and len(watch.history) == 4
    assert [d.id for d in watch.history] == [7, 8, 9, 10]


def test_a_robot_held_in_place_by_its_plan_is_stalled_although_its_waypoints_advance():
    watch = DeadlockWatch(limit_s=30.0)
    act = []
    for t in range(0, 41, 5):  # a new waypoint every 5 s, all on the same cell
        act += watch.observe(float(t), {"held": _still(cell=(2, 2), progress=10 + t)}, {})[0]
    assert [d.chain for d in act] == [("held",)] and "its plan holds it" in act[0].reason


def test_station_lines_are_wait_for_chains():
    watch = DeadlockWatch(limit_s=30.0)
    ahead = {"second": "head", "third": "second"}
    line = {"second": _still("T1", (1, 2)), "third": _still("T2", (1, 3))}
    for t in range(0, 61, 5):  # behind a head at work (picking, then leaving, the next one coming in)
        act, _ = watch.observe(float(t), {**line, "head": _still("T0", (1, 1), operating=t % 10 == 0)}, {}, ahead)
        assert act == []
    # the head stands still too (it cannot reach the pick cell): the whole line is a deadlock
    act = []
    for t in range(65, 101, 5):
        act += watch.observe(float(t), {**line, "head": _still("T0", (2, 4))}, {}, ahead)[0]
    assert ("third", "second", "head") in [d.chain for d in act]
    # a robot waiting to enter a cell held by the robot behind it in its line: a cycle
    chain, cycle = wait_chain("head", {"head": WaitStatus("head", "robot", "second")}, {"second": "head"})
    assert chain == ("head", "second") and cycle


def test_a_robot_released_only_now_is_not_taken_for_stalled():
    """Its wait ended a moment ago (it is about to drive): no deadlock yet; if it still has not
    moved ``limit_s / 2`` later, its base is stuck, which only a re-plan resolves."""
    watch = DeadlockWatch(limit_s=30.0)
    robots = {"a": _still()}
    waiting = {"a": WaitStatus("a", "schedule", since=0.0)}
    for t in range(0, 30, 5):
        assert watch.observe(float(t), robots, waiting)[0] == []
    released = {"a": WaitStatus("a", "none", since=29.0)}
    for t in range(30, 44):
        assert watch.observe(float(t), robots, released)[0] == []
    act, _ = watch.observe(44.0, robots, released)
    assert [d.chain for d in act] == [("a",)]
    assert watch.needs_replan(act[0], released, 44.0)  # free to drive for 15 s and did not


def test_light_resolution_first_and_a_replan_only_where_it_cannot_help():
    watch = DeadlockWatch(limit_s=30.0)
    robots = {"q": _still(cell=(1, 1)), "h": _still(cell=(2, 1)), "c1": _still(cell=(5, 5)),
              "c2": _still(cell=(6, 5))}
    waits = {"q": WaitStatus("q", "robot", "h"), "h": WaitStatus("h", "schedule"),
             **_waits({"c1": "c2", "c2": "c1"})}
    for t in range(0, 31, 5):
        watch.observe(float(t), robots, waits)
    act, _ = watch.observe(31.0, robots, waits)
    light, heavy = resolutions(watch, act, waits, 31.0, 0.0)
    assert {d.chain[0] for d in heavy} == {"c1", "c2"} and all(d.cycle for d in heavy)  # a cycle: re-plan
    assert light == ["h", "q"]  # a chain held by its plan: priority first, no re-plan
    # still open one limit later: the second attempt re-plans
    act, _ = watch.observe(62.0, robots, waits)
    light, heavy = resolutions(watch, act, waits, 62.0, 15.0)
    assert {d.chain[0] for d in heavy} == {"c1", "c2", "h", "q"} and all(d.attempts == 2 for d in heavy)


def test_a_cycle_through_a_station_line_gets_the_light_resolution():
    """``b`` waits in its line behind ``a``, and ``a`` cannot reach its place because it waits for
    ``b`` to leave a cell: a jam next to the line, not a cycle of the plan's release order."""
    watch = DeadlockWatch(limit_s=30.0)
    robots = {"a": _still(cell=(1, 1)), "b": _still(cell=(2, 2))}
    waits = {"a": WaitStatus("a", "robot", "b"), "b": WaitStatus("b", "schedule")}
    for t in range(0, 31, 5):
        watch.observe(float(t), robots, waits, {"b": "a"})
    act, _ = watch.observe(31.0, robots, waits, {"b": "a"})
    assert act and all(d.cycle for d in act)
    light, heavy = resolutions(watch, act, waits, 31.0, 0.0)
    assert heavy == [] and set(light) == {"a", "b"}


def test_starving_robots_are_reported_once_per_stall_but_not_at_work_or_idle():
    watch = DeadlockWatch(limit_s=60.0)
    robots = {"s": _still(), "picker": _still(operating=True), "idle": _still("")}
    for t in range(0, 31):
        watch.observe(float(t), robots, {})
        starving = watch.starving(float(t), 20.0)
        assert starving == (["s"] if t == 21 else []), t
    moved = dict(robots, s=_still(cell=(1, 0)))  # progress: a new stall starts
    watch.observe(31.0, moved, {})
    assert [t for t in range(32, 60) if watch.observe(float(t), moved, {}) and watch.starving(float(t), 20.0)] == [52]
    watch.observe(61.0, {"s": _still(cell=(2, 0))}, {})
    for t in range(62, 90):  # behind another robot in its station line: its turn comes, it does not starve
        watch.observe(float(t), {"s": _still(cell=(2, 0))}, {})
        assert watch.starving(float(t), 20.0, {"s": "head"}) == []

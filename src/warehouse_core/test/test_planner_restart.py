"""A planner restarted mid-run (:mod:`warehouse_core.fleet.restart`): it waits for the robots to
settle, for a bounded time, plans above their plan ids, counts only the requests that describe what
is left to do, and a fleet rebuilt from where two robots stand drives them on without a shared cell;
a robot that does not settle in time is held (every cell it may reach blocked) and rejoins once it
stands still."""

from pathlib import Path

from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.fleet.restart import (
    PlannerRestart,
    Reported,
    marked_plan,
    reach,
    reach_moves,
    resume_marker,
    settled_again,
)
from warehouse_core.maps.layout import load_layout
from warehouse_core.tasks import OP_PICK, TaskStep

MAPS = Path(__file__).resolve().parents[3] / "maps"


def test_a_fresh_fleet_is_not_resumed_and_every_request_counts():
    restart = PlannerRestart()
    reports = {"a": Reported(0, True, "", 0.0), "b": Reported(0, True, "", 0.0)}
    assert not restart.under_way(reports)
    assert restart.start(reports, 1) == 1
    assert restart.active is False
    assert restart.counts("a", "T1", "", 0.0)


def test_a_restarted_planner_waits_for_moving_robots_and_plans_above_their_ids():
    restart = PlannerRestart()
    reports = {"a": Reported(7, False, "T1", 50.0), "b": Reported(4, True, "", 50.0)}
    assert restart.under_way(reports)
    assert restart.waiting_for(reports) == ["a"]
    reports["a"] = Reported(7, True, "T1", 52.0)
    assert restart.waiting_for(reports) == []
    assert restart.start(reports, 1) == 8
    assert restart.active


def test_only_requests_for_what_is_left_count_after_a_restart():
    restart = PlannerRestart()
    restart.start({"a": Reported(7, True, "T1", 52.0), "b": Reported(4, True, "", 52.0)}, 1)
    # a's latched request for its task in flight names steps done already: dropped
    assert not restart.counts("a", "T1", "map", 40.0)
    # ... an older task of a's, delivered again from the latched history: dropped
    assert not restart.counts("a", "T0", "map", 10.0)
    # a re-sent its request (the steps left) when it took a path of the new planner: counts
    assert restart.counts("a", "T1", resume_marker(8), 53.0)
    # ... but not one re-sent for a path of the dead planner
    assert not restart.counts("a", "T1", resume_marker(7), 51.0)
    # b was idle: a task begun since counts, its old idle request does not
    assert restart.counts("b", "T9", "map", 52.0)
    assert not restart.counts("b", "", "map", 30.0)
    assert marked_plan("map") == -1 and marked_plan(resume_marker(12)) == 12


def test_a_fleet_rebuilt_where_robots_stand_replaces_their_paths_and_drives_them_apart():
    layout = load_layout(MAPS / "warehouse_layout.yaml")
    free = layout.grid.free & ~layout.storage_mask
    aisle = sorted((int(x), int(y)) for y, x in zip(*free.nonzero()))
    starts = {"a": aisle[0], "b": aisle[40]}
    fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 11, 1.0, window=5, seed=1, plan_id=8)
    fleet.request("a", "T1", [TaskStep(aisle[40], OP_PICK, 1.0)])
    fleet.request("b", "T2", [TaskStep(aisle[0], OP_PICK, 1.0)])
    segments = fleet.plan(10)
    assert {s.plan_id for s in segments} == {8}
    assert all(s.first_index == 0 for s in segments)
    assert {s.robot: s.cells[0] for s in segments} == starts  # every path starts where its robot stands
    positions = dict(starts)
    for t in range(10, 200):
        fleet.plan(t)
        for n, (idx, _why) in fleet.release_all(t).items():
            fleet.report_progress(n, 8, idx)
            path = fleet.traffic.paths[n]
            positions[n] = layout.grid.coord(path.cell(path.progress))
        assert positions["a"] != positions["b"], t
    assert fleet.plan_id == 8  # no repair was needed


def _wait(restart: PlannerRestart, reports: dict[str, Reported], until: float) -> tuple[float, list[str]] | None:
    """Ask the restarted planner every planning round (0.2 s) from t=100 s whether it may start."""
    t = 100.0
    while t < until:
        held = restart.ready(reports, t)
        if held is not None:
            return t, held
        t += 0.2
    return None


def test_a_robot_that_never_settles_holds_the_restarted_planner_only_until_the_timeout():
    reports = {"a": Reported(5, True, "", 100.0), "b": Reported(5, False, "T1", 100.0)}  # b is stuck for ever
    assert _wait(PlannerRestart(), reports, 10_000.0) is None  # no bound: the fleet waits for ever
    started = _wait(PlannerRestart(settle_timeout=30.0), reports, 10_000.0)
    assert started is not None
    t, held = started
    assert 130.0 <= t < 130.3 and held == ["b"]
    # a planner that has not heard the clock yet (time zero) times its wait from the robots' reports
    restart = PlannerRestart(settle_timeout=30.0)
    assert restart.ready(reports, 0.0) is None and restart.ready(reports, 100.2) is None
    assert restart.ready(reports, 129.8) is None and restart.ready(reports, 130.0) == ["b"]
    # robots that settle in time are not held, and a fresh fleet does not wait at all
    settled = {"a": Reported(5, True, "", 100.0), "b": Reported(5, True, "T1", 101.0)}
    assert PlannerRestart(settle_timeout=30.0).ready(settled, 100.0) == []
    assert PlannerRestart(settle_timeout=30.0).ready({"a": Reported(0, False, "", 0.0)}, 0.0) == []
    assert settled_again(["b"], reports) == [] and settled_again(["b"], settled) == ["b"]


def test_a_held_robot_is_planned_around_where_it_may_drive_and_rejoins_with_its_task(grid_drive):
    """b did not settle: its base stands at (20, 13) with waypoints of the dead planner released that
    the new one does not know. a's way to its goal runs straight through b's cell. a is planned
    around every cell b may reach; b drives the old release to its end (east, along a's straight
    way), stands still and is planned again with the task it was given while held."""
    layout = load_layout(MAPS / "warehouse_layout.yaml")
    grid = layout.grid
    stuck, settled_at = (20, 13), (28, 13)
    starts = {"a": (10, 13), "b": stuck}
    restart = PlannerRestart(settle_timeout=30.0)
    reports = {"a": Reported(6, True, "", 100.0), "b": Reported(7, False, "T0", 100.0)}
    t, held = _wait(restart, reports, 1000.0)
    assert held == ["b"]
    step = int(t)
    plan_id = restart.start(reports, 1)
    fleet = FleetPlanner(grid, layout.storage_mask, starts, step + 1, 1.0, window=5, seed=1, plan_id=plan_id,
                         max_lead_steps=3)
    cells = reach(grid, stuck, reach_moves(5, 3))
    assert settled_at in cells and (29, 13) not in cells and (20, 5) in cells and (20, 4) not in cells
    assert fleet.hold("b", cells, "did not settle in 30 s") and not fleet.hold("b", cells, "again")
    assert fleet.freeze_timeouts == 1
    drive = grid_drive(fleet, starts)
    drive.request("a", "T1", [TaskStep((30, 13), OP_PICK, 1.0)])
    drive.request("b", "T2", [TaskStep((10, 13), OP_PICK, 1.0)])  # queued while b is held
    blocked = {grid.index(c) for c in cells}
    old_release = [(x, 13) for x in range(21, 29)]  # 8 moves: as far as the lead bound lets a release go
    done, rejoined = set(), None
    for now in range(step, step + 300):
        drive.plan(now)
        if "b" in fleet.held:
            assert not fleet.traffic.paths.get("b") or fleet.traffic.paths["b"].plan_id < plan_id + 1
            if now >= step + 10 and old_release:  # the stuck base frees itself and drives the old release
                drive.pos["b"] = grid.index(old_release.pop(0))
            elif not old_release:
                assert fleet.rejoin("b", settled_at) and not fleet.rejoin("b", settled_at)
                rejoined = now
        _, finished = drive.drive(now, lambda n, idx, progress: idx > progress)
        done.update(finished)
        if rejoined is None:
            assert drive.pos["a"] not in blocked, now  # never where b may drive
        if done == {"a", "b"}:
            break
    assert done == {"a", "b"}, (done, drive.pos)
    assert rejoined is not None and drive.new_plans[-1] == ("b", settled_at)
    assert {n for n, _ in drive.new_plans} == {"a", "b"}
    assert min(drive.plan_of.values()) > plan_id - 1 and fleet.resumes == 1 and not fleet.failed

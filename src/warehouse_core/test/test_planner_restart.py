"""A planner restarted mid-run (:mod:`warehouse_core.fleet.restart`): it waits for the robots to
settle, plans above their plan ids, counts only the requests that describe what is left to do,
and a fleet rebuilt from where two robots stand drives them on without a shared cell."""

from pathlib import Path

from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_core.fleet.restart import PlannerRestart, Reported, marked_plan, resume_marker
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

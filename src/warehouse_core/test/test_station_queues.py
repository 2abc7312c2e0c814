"""First-come-first-served station lines: the bookkeeping alone, then in the fleet planner."""

from pathlib import Path

from warehouse_core.fleet.fleet_planner import PLAN_ID, FleetPlanner
from warehouse_core.fleet.station_queues import StationQueues
from warehouse_core.maps.grid import Grid
from warehouse_core.maps.layout import load_layout
from warehouse_core.tasks import OP_PICK, TaskStep

MAPS = Path(__file__).resolve().parents[3] / "maps"


def _queues(radius: int | None = None) -> tuple[Grid, StationQueues]:
    import numpy as np

    grid = Grid(np.ones((12, 8), dtype=bool))
    return grid, StationQueues(grid, [((1, 1), ((1, 2), (1, 3)))], join_radius=radius)


def test_robots_join_in_arrival_order_and_move_up_when_the_head_leaves():
    grid, q = _queues()
    pick = grid.index((1, 1))
    assert q.update({"a": (pick, grid.index((5, 1)))}) == {"a": 0}  # 4 cells away: joins, head
    assert q.update({"a": (pick, grid.index((4, 1))), "b": (pick, grid.index((2, 2)))}) == {"b": 1}
    # c comes later although it stands nearer to the pick than a: it queues behind a; b, already
    # standing on its queue cell while a is still on its way, has arrived first and goes ahead
    assert q.update({"a": (pick, grid.index((3, 1))), "b": (pick, grid.index((1, 2))),
                     "c": (pick, grid.index((2, 1)))}) == {"b": 0, "a": 1, "c": 2}
    assert q.lines[pick] == ["b", "a", "c"]
    q.leave("b")  # the head picked and left the pick cell
    assert q.update({"a": (pick, grid.index((1, 1))), "c": (pick, grid.index((1, 3)))}) == {"a": 0, "c": 1}
    assert q.slot_cell(pick, 1) == grid.index((1, 2))


def test_same_step_joins_go_nearest_first_and_the_line_is_bounded():
    grid, q = _queues()
    pick = grid.index((1, 1))
    wants = {n: (pick, grid.index(c)) for n, c in
             {"far": (4, 2), "near": (2, 1), "mid": (3, 1), "extra": (4, 1)}.items()}
    changes = q.update(wants)
    assert q.lines[pick] == ["near", "mid", "extra"]  # 3 slots: pick + 2 queue cells
    assert changes == {"near": 0, "mid": 1, "extra": 2}
    assert "far" not in q.joined  # no room: it keeps heading for the station and joins later
    q.leave("near")
    del wants["near"]
    assert q.update(wants) == {"mid": 0, "extra": 1, "far": 2}


def test_far_robots_do_not_join_and_a_robot_with_another_goal_leaves():
    grid, q = _queues(radius=3)
    pick = grid.index((1, 1))
    assert q.update({"a": (pick, grid.index((1, 10)))}) == {}
    q.update({"a": (pick, grid.index((1, 4))), "b": (pick, grid.index((2, 2)))})
    assert q.lines[pick] == ["b", "a"]  # b is nearer in the same step
    assert q.update({"a": (pick, grid.index((1, 4)))}) == {"a": 0}  # b got another goal
    assert "b" not in q.joined


def test_fleet_planner_serves_a_station_first_come_first_served_and_lines_up_on_the_queue_cells(plan_follower):
    """Five robots for station S1 of the default layout, started at different distances and
    times; executed instantly. They reach the pick cell in the order they joined the line, and
    while one picks, the others wait on the station's queue cells, not in the aisle."""
    layout = load_layout(MAPS / "warehouse_layout.yaml")
    st = layout.stations[0]
    free = layout.grid.free & ~layout.storage_mask
    aisle = sorted(((int(x), int(y)) for y, x in zip(*free.nonzero())
                    if (int(x), int(y)) != st.pick_cell and (int(x), int(y)) not in st.queue),
                   key=lambda c: (abs(c[0] - st.pick_cell[0]) + abs(c[1] - st.pick_cell[1]), c))
    starts = {f"r{i}": aisle[3 + 4 * i] for i in range(5)}
    fleet = FleetPlanner(layout.grid, layout.storage_mask, starts, 1, 1.0, window=5, seed=2,
                         stations=[(s.pick_cell, s.queue) for s in layout.stations])
    pick = layout.grid.index(st.pick_cell)
    queue_cells = {layout.grid.index(c) for c in st.queue}
    arrivals: list[str] = []
    joined: list[str] = []
    waited_on_queue = 0
    update = fleet.queues.update

    def record_joins(wants):  # the line after every planned step, in joining order
        changes = update(wants)
        joined.extend(n for n in fleet.queues.lines[pick] if n not in joined)
        return changes

    fleet.queues.update = record_joins
    follower = plan_follower(fleet, list(starts))
    for t in range(1, 260):
        for k, n in enumerate(sorted(starts)):
            if t == 1 + 6 * k:
                follower.request(n, f"T{n}", [TaskStep(st.pick_cell, OP_PICK, 20.0)])
        for seg in follower.plan(t):
            for step in seg.ops.values():
                if step.op == OP_PICK:
                    arrivals.append(seg.robot)
        for n, (idx, _why) in fleet.release_all(t).items():
            follower.progress(n, idx, False)  # executed instantly
            p = fleet.traffic.paths[n]
            if p.cell(p.progress) in queue_cells and fleet.robots[n].current is not None:
                waited_on_queue += 1
    assert len(arrivals) == 5, arrivals
    assert arrivals == joined, (arrivals, joined)
    assert waited_on_queue > 50
    assert fleet.queues.lines[pick] == []
    assert follower.tasks == {} and set(follower.plan_of.values()) == {PLAN_ID}  # all picked, no re-plan


def test_robots_standing_on_the_line_in_reverse_order_swap_slots():
    """The CI deadlock (test_restarts, station S1): robot_9 joined first but came up the queue
    column and stood on the second queue cell behind robot_6, who had entered the first queue cell
    from the side; each was held to its slot, waiting for the other, for 260 s."""
    grid, q = _queues()
    pick = grid.index((1, 1))
    assert q.update({"first": (pick, grid.index((1, 5)))}) == {"first": 0}
    assert q.update({"first": (pick, grid.index((1, 4))), "second": (pick, grid.index((2, 2)))}) == {"second": 1}
    # first reaches the second queue cell, behind second standing on the first: second picks first
    assert q.update({"first": (pick, grid.index((1, 3))), "second": (pick, grid.index((1, 2)))}) == \
        {"second": 0, "first": 1}
    assert q.lines[pick] == ["second", "first"]
    assert q.ahead() == {"first": "second"}  # the watchdog's wait-for link along the line


def test_a_robot_on_the_line_goes_before_one_still_in_the_aisle():
    """The other CI deadlock (station S3): the head of the line still in the aisle beside it, head
    to head with a robot passing to the next station, while the robots held on the queue cells left
    neither of them a cell to give way to."""
    grid, q = _queues()
    pick = grid.index((1, 1))
    q.update({"aisle": (pick, grid.index((2, 4)))})
    assert q.update({"aisle": (pick, grid.index((2, 4))), "queued": (pick, grid.index((1, 2)))}) == \
        {"queued": 0, "aisle": 1}

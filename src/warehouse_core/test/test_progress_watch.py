"""ProgressWatch: robots with a task that stop making progress are counted once per episode."""

from warehouse_core.fleet.progress_watch import ProgressWatch


def test_a_robot_waiting_with_a_task_beyond_the_limit_is_one_stuck_episode():
    w = ProgressWatch(limit_s=60.0)
    for k in range(0, 200):  # 100 s at the same cell and waypoint, with a task
        w.update("r1", k * 0.5, "t1", (3, 4), 1, 7, operating=False)
    assert w.stuck_episodes == [("r1", 60.5)]
    assert w.longest() == 99.5


def test_waiting_waypoints_on_the_same_cell_are_not_progress():
    w = ProgressWatch(limit_s=60.0)
    for k in range(0, 200):  # its plan holds it: a new waypoint every second, all on one cell
        w.update("held", k * 0.5, "t1", (3, 4), 1, 7 + k, operating=False)
    assert w.stuck_episodes == [("held", 60.5)] and w.strict_episodes == [("held", 60.5)]


def test_moving_operating_or_idle_robots_are_never_stuck():
    w = ProgressWatch(limit_s=10.0)
    for k in range(100):
        t = float(k)
        w.update("mover", t, "t1", (k, 0), 1, k, operating=False)  # a new cell every second
        w.update("picker", t, "t2", (5, 5), 1, 3, operating=True)  # a long pick
        w.update("idle", t, "", (1, 1), 0, -1, operating=False)  # no task: waiting is fine
    assert w.stuck_episodes == []
    assert w.longest() <= 1.0


def test_progress_resets_the_clock():
    w = ProgressWatch(limit_s=10.0)
    for k in range(9):
        w.update("r", float(k), "t", (0, 0), 1, 2, operating=False)
    w.update("r", 9.0, "t", (0, 1), 1, 3, operating=False)
    for k in range(10, 19):
        w.update("r", float(k), "t", (0, 1), 1, 3, operating=False)
    assert w.stuck_episodes == [] and w.longest() == 9.0


STATION = [((1, 1), ((1, 2), (1, 3)))]  # pick cell, queue cells nearest first


def test_a_robot_in_a_station_line_behind_a_picking_station_is_not_stuck_but_strictly_it_is():
    w = ProgressWatch(limit_s=60.0, stations=STATION)
    for k in range(0, 200):  # 100 s: the picker picks (an operation), the line waits
        t = k * 0.5
        w.update("picker", t, "t0", (1, 1), 1, 5, operating=True)
        w.update("second", t, "t1", (1, 2), 1, 7, operating=False)
        w.update("third", t, "t2", (1, 3), 1, 4, operating=False)
    assert w.stuck_episodes == [] and w.longest() <= 0.5
    assert [r for r, _t in w.strict_episodes] == ["second", "third"]
    assert w.longest_strict() == 99.5


def test_a_line_whose_head_makes_no_progress_is_stuck_in_both_measures():
    w = ProgressWatch(limit_s=60.0, stations=STATION)
    for k in range(0, 200):  # the robot on the pick cell stands still without operating
        t = k * 0.5
        w.update("head", t, "t0", (1, 1), 1, 5, operating=False)
        w.update("second", t, "t1", (1, 2), 1, 7, operating=False)
        w.update("aisle", t, "t3", (2, 2), 1, 2, operating=False)  # not in the line
    assert sorted(r for r, _t in w.stuck_episodes) == ["aisle", "head", "second"]
    assert sorted(r for r, _t in w.strict_episodes) == ["aisle", "head", "second"]
    assert w.longest() == w.longest_strict() == 99.5


def test_a_robot_moving_up_the_line_restarts_the_clock_of_those_behind_only():
    w = ProgressWatch(limit_s=60.0, stations=STATION)
    for k in range(0, 100):  # 50 s of nothing, then the second robot moves onto the pick cell
        w.update("second", k * 0.5, "t1", (1, 2), 1, 7, operating=False)
        w.update("third", k * 0.5, "t2", (1, 3), 1, 4, operating=False)
    w.update("second", 50.0, "t1", (1, 1), 1, 8, operating=False)
    for k in range(101, 200):
        w.update("second", k * 0.5, "t1", (1, 1), 1, 8, operating=True)
        w.update("third", k * 0.5, "t2", (1, 3), 1, 4, operating=False)
    assert w.stuck_episodes == []
    assert w.strict_episodes == [("third", 60.5)]

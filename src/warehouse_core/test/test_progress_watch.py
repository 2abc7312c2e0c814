"""ProgressWatch: robots with a task that stop making progress are counted once per episode."""

from warehouse_core.progress_watch import ProgressWatch


def test_a_robot_waiting_with_a_task_beyond_the_limit_is_one_stuck_episode():
    w = ProgressWatch(limit_s=60.0)
    for k in range(0, 200):  # 100 s at the same cell and waypoint, with a task
        w.update("r1", k * 0.5, "t1", (3, 4), 1, 7, operating=False)
    assert w.stuck_episodes == [("r1", 60.5)]
    assert w.longest() == 99.5


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

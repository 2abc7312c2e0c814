"""The simulated Nav2 controller (FollowPath on a simulated base): follows, prunes, replaces, holds."""

import math

from warehouse_core.robot.path_tracker import TrackerConfig
from warehouse_core.sim.base_sim import BaseSim, BaseSimConfig
from warehouse_core.sim.follow_path import FollowPathControllers, nearest_ahead

STEP = 0.05


def _drive(sim: BaseSim, ctl: FollowPathControllers, seconds: float, held: bool = False) -> bool:
    """Step the base under its controller; True once the goal succeeded."""
    for _ in range(int(seconds / STEP)):
        v, w, done = ctl.command(0, sim.truth(0), sim.time, held)
        if done:
            return True
        sim.command(0, v, w)
        sim.step(STEP)
    return False


def _setup():
    sim = BaseSim([(0.0, 0.0, 0.0)], BaseSimConfig(loc_rate=0.0, seed=1))
    return sim, FollowPathControllers(1, TrackerConfig())


def test_a_goal_succeeds_within_the_tolerance_of_its_last_pose():
    sim, ctl = _setup()
    ctl.follow(0, [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0)], 0.05, sim.truth(0))
    assert _drive(sim, ctl, 20.0)
    x, y, _ = sim.truth(0)
    assert math.hypot(x - 2.0, y - 1.0) <= 0.05
    assert ctl.command(0, sim.truth(0), sim.time, False) == (0.0, 0.0, True)


def test_a_new_goal_is_followed_from_the_pose_nearest_the_base():
    assert nearest_ahead([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0)], 1.4, 0.02) == 2
    sim, ctl = _setup()
    ctl.follow(0, [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)], 0.05, sim.truth(0))
    _drive(sim, ctl, 1.6)
    x0 = sim.truth(0)[0]
    assert 0.3 < x0 < 2.0
    # the path extended: the base goes on, it is not sent back to the start of the new path
    ctl.follow(0, [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0)], 0.05, sim.truth(0))
    xs = []
    for _ in range(200):
        v, w, done = ctl.command(0, sim.truth(0), sim.time, False)
        if done:
            break
        sim.command(0, v, w)
        sim.step(STEP)
        xs.append(sim.truth(0)[0])
    assert min(xs) >= x0 - 0.01 and abs(sim.truth(0)[0] - 3.0) <= 0.05


def test_a_protective_stop_holds_the_base_and_the_goal_goes_on():
    sim, ctl = _setup()
    ctl.follow(0, [(0.0, 0.0), (3.0, 0.0)], 0.05, sim.truth(0))
    _drive(sim, ctl, 1.0)
    assert not _drive(sim, ctl, 3.0, held=True)
    assert ctl.command(0, sim.truth(0), sim.time, True)[:2] == (0.0, 0.0)
    assert _drive(sim, ctl, 20.0)


def test_a_stopped_goal_commands_nothing():
    sim, ctl = _setup()
    ctl.follow(0, [(0.0, 0.0), (3.0, 0.0)], 0.05, sim.truth(0))
    _drive(sim, ctl, 1.0)
    ctl.stop(0)
    assert ctl.command(0, sim.truth(0), sim.time, False) == (0.0, 0.0, False)

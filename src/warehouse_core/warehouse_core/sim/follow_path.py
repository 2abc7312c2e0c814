"""A simulated Nav2 controller server: ``FollowPath`` goals followed on the simulated bases.

``./warehouse run --bases nav2`` drives every robot through the ``nav2`` backend, which gives
Nav2's controller server the released cell path (``FollowPath``). Here no Nav2 runs, so the base
simulator plays the controller server of each of its bases (:mod:`warehouse_nodes.sim_controller`),
with the semantics the backend relies on:

* a goal's path is followed from the pose nearest the base (the poses behind it are pruned, as
  Nav2's controllers do), so an extended path does not send the base back;
* a goal arriving while one runs replaces its path; the old goal ends (aborted, no error code);
* a goal succeeds when the base stands within the goal checker's ``xy_goal_tolerance`` of the
  last pose, its motion done;
* cancelling a goal stops the base; a protective stop holds it (no command) without ending the goal.

The motion itself is the robot's own :class:`~warehouse_core.robot.path_tracker.PathTracker`
(turn in place, then drive with acceleration limits) on the base's true pose: a controller with
perfect localisation, every pose released at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from warehouse_core.robot.path_tracker import PathTracker, TrackerConfig, TrackWaypoint

Pose = tuple[float, float, float]  # x [m], y [m], yaw [rad] in map


@dataclass
class Goal:
    """The path one base follows, and the goal checker's tolerance it was sent with."""

    path: list[tuple[float, float]]
    tolerance: float
    tracker: PathTracker


def nearest_ahead(path: Sequence[tuple[float, float]], x: float, y: float) -> int:
    """Index of the first pose to drive to: the end of the path segment nearest ``(x, y)``."""
    best, best_d = 0, math.inf
    for i in range(len(path) - 1):
        (ax, ay), (bx, by) = path[i], path[i + 1]
        seg2 = (bx - ax) ** 2 + (by - ay) ** 2
        u = 0.0 if seg2 < 1e-12 else max(0.0, min(1.0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / seg2))
        d = math.hypot(ax + u * (bx - ax) - x, ay + u * (by - ay) - y)
        if d < best_d - 1e-9:
            best, best_d = i + 1, d
    return best


class FollowPathControllers:
    """One FollowPath controller per base (see the module docstring); ROS-free."""

    def __init__(self, bases: int, config: TrackerConfig) -> None:
        self.config = config
        self.goals: list[Goal | None] = [None] * bases

    def follow(self, i: int, path: Sequence[tuple[float, float]], tolerance: float, pose: Pose) -> None:
        """Base ``i`` follows ``path`` (x, y in map) from where it stands at ``pose``; replaces a goal running."""
        ahead = list(path[nearest_ahead(path, pose[0], pose[1]):]) if len(path) > 1 else list(path)
        tracker = PathTracker(replace(self.config, arrive_tolerance=min(self.config.arrive_tolerance, tolerance)))
        tracker.set_path([TrackWaypoint(pose[0], pose[1]), *(TrackWaypoint(x, y) for x, y in ahead)])
        tracker.release(len(ahead))
        self.goals[i] = Goal(list(path), tolerance, tracker)

    def stop(self, i: int) -> None:
        """Base ``i``'s goal ends (cancelled, aborted or done): no more commands for it."""
        self.goals[i] = None

    def command(self, i: int, pose: Pose, t: float, held: bool) -> tuple[float, float, bool]:
        """(v, w, arrived) of base ``i`` at time ``t``; ``held``: a protective stop (no motion,
        the goal goes on afterwards). Without a goal: (0, 0, False)."""
        goal = self.goals[i]
        if goal is None:
            return 0.0, 0.0, False
        goal.tracker.update_pose(*pose, t)
        if held:
            goal.tracker.v = goal.tracker.w = 0.0
            goal.tracker.control(t)  # keeps its clock: no jump in the motion profile afterwards
            goal.tracker.v = goal.tracker.w = 0.0
            return 0.0, 0.0, False
        cmd = goal.tracker.control(t)
        gx, gy = goal.path[-1]
        done = cmd.progress >= len(goal.tracker.waypoints) - 1 and not cmd.moving \
            and math.hypot(gx - pose[0], gy - pose[1]) <= goal.tolerance
        return (0.0, 0.0, True) if done else (cmd.v, cmd.w, False)

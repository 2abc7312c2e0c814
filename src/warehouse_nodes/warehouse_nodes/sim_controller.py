"""Simulated Nav2 controller servers, one per base, in the base simulator's process (``--bases nav2``).

``/<robot>/controller_server`` serves ``FollowPath`` on ``/<robot>/follow_path`` (the names a
robot node's ``nav2`` backend uses by default) and takes the goal checker's tolerance as Nav2's
controller server does: the parameter ``<goal_checker_id>.xy_goal_tolerance`` (any checker id,
set with ``ros2 param set`` or the backend's SetParameters; 0.25 m, Nav2's default, until set). The
goals are followed on the simulated base by :class:`warehouse_core.sim.follow_path.FollowPathControllers`
(see there: pruning, replacement, success, cancel, protective stop).

It needs ``nav2_msgs``: the distro's package (``ros-<distro>-nav2-msgs``); here, where it is not
on PyPI, the test interfaces package (``tests/nav2_test_interfaces.py`` builds it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from rclpy.task import Future

from warehouse_core.robot.path_tracker import TrackerConfig
from warehouse_core.sim.follow_path import FollowPathControllers

if TYPE_CHECKING:
    from warehouse_nodes.base_sim_node import BaseSimNode

DEFAULT_TOLERANCE = 0.25  # [m] Nav2's SimpleGoalChecker xy_goal_tolerance default
SUCCEEDED, SUPERSEDED, CANCELLED = "succeeded", "superseded", "cancelled"


class ControllerServer(Node):
    """The FollowPath server of base ``i`` of ``sim`` (see the module docstring)."""

    def __init__(self, sim: BaseSimNode, i: int, robot: str) -> None:
        super().__init__("controller_server", namespace=f"/{robot}", allow_undeclared_parameters=True)
        from nav2_msgs.action import FollowPath  # only where --bases nav2 runs

        self.sim, self.i = sim, i
        self.result_type = FollowPath.Result
        self.running: tuple[object, Future] | None = None  # (goal handle, its outcome)
        ActionServer(self, FollowPath, "follow_path", self.execute,
                     goal_callback=lambda goal: GoalResponse.ACCEPT if goal.path.poses else GoalResponse.REJECT,
                     cancel_callback=lambda _handle: CancelResponse.ACCEPT)

    def tolerance(self, checker: str) -> float:
        name = f"{checker}.xy_goal_tolerance"
        value = self.get_parameter(name).value if self.has_parameter(name) else None
        return float(value) if isinstance(value, (int, float)) else DEFAULT_TOLERANCE

    async def execute(self, handle):
        goal = handle.request
        path = [(p.pose.position.x, p.pose.position.y) for p in goal.path.poses]
        if self.running is not None and not self.running[1].done():
            self.running[1].set_result(SUPERSEDED)  # the new path replaces it, as Nav2 does
        outcome: Future = Future()
        self.running = (handle, outcome)
        self.sim.controllers.follow(self.i, path, self.tolerance(goal.goal_checker_id), self.sim.sim.truth(self.i))
        result = await outcome
        if result == SUCCEEDED:
            handle.succeed()
        elif result == CANCELLED:
            handle.canceled()
        else:
            handle.abort()
        return self.result_type()

    def step(self, controllers: FollowPathControllers, t: float) -> None:
        """Base ``i``'s command for this step from its goal, and the goal's end when it comes."""
        if self.running is None or self.running[1].done():
            return
        handle, outcome = self.running
        sim = self.sim.sim
        if handle.is_cancel_requested:
            controllers.stop(self.i)
            sim.command(self.i, 0.0, 0.0)
            outcome.set_result(CANCELLED)
            return
        v, w, arrived = controllers.command(self.i, sim.truth(self.i), t, sim.stopped(self.i))
        sim.command(self.i, v, w)
        if arrived:
            controllers.stop(self.i)
            outcome.set_result(SUCCEEDED)


def controller_servers(sim: BaseSimNode) -> list[ControllerServer]:
    """A controller server per base of ``sim``; ``sim.controllers`` follows their goals."""
    cfg = sim.cfg
    sim.controllers = FollowPathControllers(len(sim.names), TrackerConfig(
        max_speed=cfg.max_speed, max_accel=cfg.motor_accel / 2, turn_rate=cfg.turn_rate,
        max_angular_accel=cfg.motor_angular_accel / 2))
    return [ControllerServer(sim, i, name) for i, name in enumerate(sim.names)]

"""The planner's deadlock watchdog on the ROS side: detect, record and resolve deadlocks.

Each round the robots' progress goes to :class:`warehouse_core.fleet.deadlock_watch.DeadlockWatch`
(robots failed, held out of the plan, held by operators or waiting for one held by operators are
left out: they wait on purpose). A new deadlock is recorded on ``/planner/deadlocks``
(``DeadlockReport``, latched) and later its resolution; starving robots and deadlocks a priority
boost can clear go first in priority, the others get a re-plan of the fleet with their chains
first, at most once per ``deadlock_after``.
"""

from __future__ import annotations

import math

from rclpy.node import Node

from warehouse_core import topics
from warehouse_core.fleet.deadlock_watch import DeadlockWatch, RobotProgress, resolutions
from warehouse_core.fleet.execution import WaitStatus
from warehouse_core.fleet.fleet_planner import FleetPlanner
from warehouse_interfaces.msg import RobotState
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv

_NO_WAIT = WaitStatus("", "none")


class PlannerWatchdog:
    """Deadlocks of the fleet ``node`` plans (see the module docstring)."""

    def __init__(self, node: Node, deadlock_after: float, boost_after: float) -> None:
        self.node = node
        self.deadlock_after, self.boost_after = deadlock_after, boost_after
        self.deadlocks = DeadlockWatch(deadlock_after)
        self.last_replan = -math.inf  # [s, sim] of the last watchdog re-plan
        self.pub = channels.publisher(node, topics.PLANNER_DEADLOCKS)

    def round(self, now: float, fleet: FleetPlanner, states: dict[str, RobotState], failed: dict,
              waits: dict[str, WaitStatus]) -> None:
        if self.deadlock_after <= 0:
            return
        paused = {n for n, w in waits.items() if w.kind == "paused"}  # held by operators
        robots = {n: RobotProgress(s.task_id, s.plan_id, s.progress_index, (s.cell_x, s.cell_y),
                                   s.mode in conv.OPERATION_MODES, s.mode == RobotState.MODE_CHARGING)
                  for n, s in states.items() if n not in failed and n not in fleet.held
                  and n not in paused and not paused.intersection(waits.get(n, _NO_WAIT).chain)}
        ahead = fleet.queues.ahead() if fleet.queues is not None else {}
        act, resolved = self.deadlocks.observe(now, robots, waits, ahead)
        for d in act:
            if d.attempts == 1:
                self.pub.publish(conv.deadlock_detected_msg(d))
                self.node.get_logger().warning(f"deadlock {d.id}: {d.reason}")
        # light first: starving robots and deadlocks a priority boost can clear go first in
        # priority; a re-plan (it freezes everybody) at most once per deadlock_after, all chains first
        light, heavy = resolutions(self.deadlocks, act, waits, now, self.boost_after, ahead)
        if light:
            fleet.prioritize(light)
        if heavy and now - self.last_replan >= self.deadlock_after:
            first = list(dict.fromkeys(n for d in heavy for n in d.chain))
            if fleet.replan(first, f"{len(heavy)} deadlock(s), first: {heavy[0].reason}"):
                self.last_replan = now
        for d in resolved:
            self.pub.publish(conv.deadlock_resolved_msg(d, now))

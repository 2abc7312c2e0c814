"""Robots taken out of the running plan for a while, without failing them: held or stopped.

A *held* robot is one whose released waypoints the planner does not know (a restarted planner's
robot that did not settle in time, :mod:`warehouse_core.fleet.restart`): every cell it may still
reach is blocked for the others until it stands still again and rejoins. A *stopped* robot reports
a protective stop: it is suspended like a late robot (the cells released to it blocked, its task
kept) until the stop clears. Both keep their task steps, unlike a failed robot.

:class:`HeldRobots` is a mixin of :class:`~warehouse_core.fleet.freeze_reroot.FreezeAndReroot`
(the state lives in the planner: ``held``, ``stopped``, ``suspended``, ``_rejoining``,
``_queue_held``, ``failed``, ``traffic``, ``queues``, ``events``; ``_suspend`` is the repair's).
"""

from __future__ import annotations

import logging
from collections import deque

from warehouse_core.maps.grid import Coord, Grid


class HeldRobots:
    """Hold and rejoin robots with unknown releases; suspend robots under a protective stop."""

    grid: Grid
    _log: logging.Logger
    events: deque[str]

    def _note(self, event: str) -> None:
        """A repair event: kept in ``events`` (the planner reports them) and logged."""
        self.events.append(event)
        self._log.warning("fleet planner: %s", event)

    # -- robots whose releases are unknown: hold, rejoin ----------------------------------
    def hold(self, robot: str, cells: list[Coord], why: str) -> bool:
        """Take ``robot`` out of the plan without failing it: it may still drive waypoints released to it
        that this planner does not know, so ``cells`` (every cell it may reach) are blocked for the others,
        who are re-rooted around them (freeze first). It keeps its task: steps this planner has not
        planned yet stay queued, and requests for it are queued until :meth:`rejoin`. For robots this
        planner has planned nothing for (a restarted planner's). False if failed, held or unknown."""
        if robot not in self.robots or robot in self.failed or robot in self.held:
            return False
        self.held[robot] = {self.grid.index(c) for c in cells}
        self._rejoining.pop(robot, None)
        self.suspended.pop(robot, None)
        if self.queues is not None:
            self.queues.leave(robot)
        self._queue_held.discard(robot)
        self.freeze_timeouts += 1
        self.frozen = True
        event = f"{robot} {why}: held out of the plan, {len(cells)} cells it may reach blocked; re-planning the others"
        self._note(event)
        return True

    def rejoin(self, robot: str, cell: Coord) -> bool:
        """Held ``robot`` stands still at ``cell`` with nothing released left: plan it again from there
        (freeze, then re-root with its cells free). False if it is not held."""
        if self.held.pop(robot, None) is None:
            return False
        self._rejoining[robot] = self.grid.index(cell)
        self.resumes += 1
        self.frozen = True
        event = f"{robot} stands still at {tuple(cell)}: planned again"
        self._note(event)
        return True

    def protective_stop(self, robot: str, active: bool) -> bool:
        """``robot`` reports a protective stop (``active``) or no longer: while stopped it is suspended (the
        others re-planned around the cells released to it, its task kept); when the stop clears it drives
        what was released and is planned again as any suspended robot. True when this changed anything."""
        if not active:
            if robot not in self.stopped:
                return False
            self.stopped.discard(robot)
            return True
        if robot in self.stopped or robot in self.failed or robot in self.held or robot not in self.traffic.paths:
            return False
        self.stopped.add(robot)
        if robot not in self.suspended:
            self._suspend(robot, "reports a protective stop")
        return True

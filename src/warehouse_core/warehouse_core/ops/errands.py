"""Errands of idle robots: charging and parking.

* :class:`Charging`: an idle robot below ``charge_below`` (or marked as too low for any visit
  offered) goes to the nearest free charger, one robot per charger, and charges up to
  ``charge_to``.
* :class:`Parking`: a robot idle for ``park_after`` seconds goes to wait under a fast-moving rack
  (class A) standing in storage, where the next visit to it will need the robot
  (:mod:`warehouse_core.ops.parking`). Class returns only: with random returns, the baseline
  policy, or before the forecast is there, robots stay where they are.
"""

from __future__ import annotations

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.layout import Layout
from warehouse_core.ops.config import OpsConfig
from warehouse_core.ops.model import TASK_ACTIVE, TASK_ASSIGNED, TYPE_CHARGE, TYPE_PARK, Task
from warehouse_core.ops.parking import choose_parking
from warehouse_core.ops.rack_ledger import RackLedger
from warehouse_core.ops.task_board import TaskBoard
from warehouse_core.ops.travel import travel_steps


class Charging:
    """Chargers and the robots sent to them (see module docstring)."""

    def __init__(self, layout: Layout, dist: DistanceCache, config: OpsConfig, board: TaskBoard) -> None:
        self.layout = layout
        self.dist = dist
        self.config = config
        self.board = board
        self.charger_user: dict[str, str] = {}  # charger id -> robot charging or heading there
        self.charging_events = 0

    def send(self, now: float) -> list[Task]:
        """Idle robots low on charge go to the nearest free charger (one robot each); the lowest first."""
        cfg = self.config
        robots = self.board.robots
        out = []
        low = sorted((robots[r].battery, r) for r in self.board.idle_robots()
                     if robots[r].battery < cfg.charge_below or robots[r].needs_charge)
        for battery, robot in low:
            free = [c for c in self.layout.chargers if c.id not in self.charger_user]
            if not free:
                break
            here = self.layout.grid.index(robots[robot].cell)
            charger = min(free, key=lambda c, here=here: travel_steps(
                self.dist.distance(here, self.layout.grid.index(c.cell))))
            duration = max(1.0, (cfg.charge_to - battery) / cfg.charge_rate)
            task = Task.charge(self.board.new_task_id(), robot, charger, duration, now)
            self.charger_user[charger.id] = robot
            robots[robot].needs_charge = False
            self.board.give(task, now)
            out.append(task)
        return out

    def adopt(self, task: Task) -> None:
        """A charge reloaded from the durable store holds its charger."""
        if task.charger:
            self.charger_user[task.charger] = task.robot

    def finished(self, task: Task, success: bool) -> None:
        """``task`` ended: its charger (if any) is free; a successful charge counts."""
        if success and task.type == TYPE_CHARGE:
            self.charging_events += 1
        if task.charger:
            self.charger_user.pop(task.charger, None)


class Parking:
    """Idle robots parked under class-A racks (see module docstring)."""

    def __init__(self, layout: Layout, dist: DistanceCache, config: OpsConfig, racks: RackLedger,
                 board: TaskBoard) -> None:
        self.layout = layout
        self.dist = dist
        self.config = config
        self.racks = racks
        self.board = board
        self.park_tasks = 0
        self._idle_since: dict[str, float] = {}  # robot -> sim time it was last seen starting to idle

    def _ready(self, now: float) -> dict[str, int]:
        """Robots idle for ``park_after`` s and charged enough (name -> cell index); keeps the idle
        times up to date."""
        cfg = self.config
        idle = set(self.board.idle_robots())
        for robot in list(self._idle_since):
            if robot not in idle:
                del self._idle_since[robot]
        for robot in idle:
            self._idle_since.setdefault(robot, now)
        if cfg.park_after <= 0 or cfg.policy == "baseline" or cfg.returns != "class" or self.racks.forecast_pending:
            return {}
        robots = self.board.robots
        return {r: self.layout.grid.index(robots[r].cell) for r in sorted(idle)
                if now - self._idle_since[r] >= cfg.park_after and robots[r].battery >= cfg.charge_below}

    def park(self, now: float) -> list[Task]:
        """Park tasks for the robots idle long enough, to the free spots nearest to them."""
        ready = self._ready(now)
        if not ready:
            return []
        grid = self.layout.grid
        taken = {grid.index(s.cell) for s in self.board.robots.values()}
        taken |= {grid.index(t.steps[0].cell) for t in self.board.tasks.values()
                  if t.type == TYPE_PARK and t.state in (TASK_ASSIGNED, TASK_ACTIVE)}
        spots = [c for c in self.racks.parking_spots() if c not in taken or c in ready.values()]
        out = []
        for robot, cell in sorted(choose_parking(ready, spots, self.dist.distance).items()):
            task = Task.park(self.board.new_task_id(), robot, grid.coord(cell), now)
            self._idle_since.pop(robot, None)
            self.park_tasks += 1
            self.board.give(task, now)
            out.append(task)
        return out

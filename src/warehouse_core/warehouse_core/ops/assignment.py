"""Assignment policies: which pending lines make a rack visit, and which idle robot does each visit.

A visit is *drafted* from a rack and the lines it serves: the stock, the rack, a slot at the
least busy pick station and a return location are reserved for it. The policy drafts visits for
the idle robots that are charged enough, matches robots to drafts, and undoes the drafts left
over (their lines go back to the pending pool).

* :class:`DefaultPolicy` (``policy: default``): racks in order of how many pending lines one visit
  serves (pile-on), up to twice as many drafts as idle robots, and a minimum-cost assignment of
  travel steps plus weighted deadline slack (``scipy.optimize.linear_sum_assignment``).
* :class:`BaselinePolicy` (``policy: baseline``): the oldest pending line alone, from a random rack
  that holds it, to the nearest idle robot.

Both give a rack's visit to a robot parked under that rack, and mark a robot that can afford no
visit offered (battery) as needing a charge. Neither takes a line from a rack if that would leave
another pending line without a rack able to serve it (:mod:`warehouse_core.ops.promises`).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator

import numpy as np
from scipy.optimize import linear_sum_assignment

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.layout import Layout
from warehouse_core.ops.config import OpsConfig
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import PickLine, Task
from warehouse_core.ops.order_book import OrderBook
from warehouse_core.ops.rack_ledger import RackLedger
from warehouse_core.ops.task_board import TaskBoard
from warehouse_core.ops.travel import UNREACHABLE, travel_steps
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_PICK, TaskStep

NOT_UNDER_RACK = 10 * UNREACHABLE  # extra cost of a visit for every robot but the one parked under its rack
FORBIDDEN = UNREACHABLE * UNREACHABLE  # cost of a robot-visit pair that must not happen (battery)


class AssignmentPolicy:
    """Drafting and giving rack visits (see module docstring); subclasses choose racks and robots."""

    drafts_per_robot = 1

    def __init__(self, layout: Layout, inventory: Inventory, dist: DistanceCache, config: OpsConfig,
                 book: OrderBook, racks: RackLedger, board: TaskBoard, rng: random.Random) -> None:
        self.layout = layout
        self.inventory = inventory
        self.dist = dist
        self.config = config
        self.book = book
        self.racks = racks
        self.board = board
        self.rng = rng

    def assign(self, now: float) -> list[Task]:
        """Rack visits for the idle robots charged enough; returns the visits given."""
        idle = [r for r in self.board.idle_robots() if self.board.robots[r].battery >= self.config.charge_below]
        if not idle or not self.book.pending:
            return []
        want = self.drafts_per_robot * len(idle)
        drafts: list[Task] = []
        for rack, lines in self.candidates():
            task = self._draft(rack, lines, now)
            if task is not None:
                drafts.append(task)
            if len(drafts) >= want:
                break
        if not drafts:
            return []
        pairs = self.match(idle, drafts, now)
        chosen = {id(t) for _, t in pairs}
        for task in drafts:
            if id(task) not in chosen:
                self._undraft(task)
        for robot, task in pairs:
            task.robot = robot
            self.book.started(task, now)
            self.board.give(task, now)
        return [task for _, task in pairs]

    def candidates(self) -> Iterator[tuple[str, list[PickLine]]]:
        """(rack, lines one visit of it serves), best first; drafting between two items changes
        what the next one can be (lines taken, station slots filled)."""
        raise NotImplementedError

    def match(self, idle: list[str], drafts: list[Task], now: float) -> list[tuple[str, Task]]:
        """(robot, visit) pairs for the ``idle`` robots."""
        raise NotImplementedError

    # -- drafts --------------------------------------------------------------------------
    def _draft(self, rack: str, lines: list[PickLine], now: float) -> Task | None:
        """Reserve stock, the rack, a station slot and a return location for a visit of the
        ``lines`` the promises let it take (None: none of them)."""
        taken = []
        for line in lines:
            # the choice of the rack promised the line to it already (nothing to move); a line it
            # did not stays pending rather than break another line's promise
            if not self.book.promises.move(line, rack):
                continue
            self.inventory.reserve(rack, line.sku, line.quantity)
            line.rack = rack
            self.book.take_pending(line)
            taken.append(line)
        if not taken:
            return None
        task = self._visit(rack, taken, now)
        self.racks.hold(task)
        return task

    def _undraft(self, task: Task) -> None:
        for line in task.lines:
            self.inventory.unreserve(line.rack, line.sku, line.quantity)
            self.book.add_pending(line, promised_to=line.rack)
            line.rack = ""
        self.racks.release(task)

    def _visit(self, rack: str, lines: list[PickLine], now: float) -> Task:
        """Lift ``rack`` where it stands, present it at the least busy station, put it down at its
        return location."""
        cfg = self.config
        grid = self.layout.grid
        origin = self.racks.location_of[rack]
        rack_cell = self.layout.storage_by_id[origin].cell
        rack_idx = grid.index(rack_cell)
        station = self.racks.least_busy_station(rack_idx)
        ret = self.racks.return_location(rack, station.pick_cell, exclude=origin)
        pick_time = cfg.pick_base_time + cfg.pick_time_per_line * len(lines)
        steps = [TaskStep(rack_cell, OP_LIFT, cfg.lift_time),
                 TaskStep(station.pick_cell, OP_PICK, pick_time),
                 TaskStep(self.layout.storage_by_id[ret].cell, OP_DROP, cfg.drop_time)]
        station_idx = grid.index(station.pick_cell)
        length = max(0, self.dist.distance(rack_idx, station_idx, True)) + \
            max(0, self.dist.distance(station_idx, self.racks.cell_index[ret], True))
        return Task.visit(self.board.new_task_id(), rack=rack, station=station.id, lines=lines, steps=steps,
                          origin=origin, return_location=ret, created=now, length_steps=length)


class DefaultPolicy(AssignmentPolicy):
    """Pile-on rack choice and a minimum-cost assignment (see module docstring)."""

    drafts_per_robot = 2

    def candidates(self) -> Iterator[tuple[str, list[PickLine]]]:
        """Racks in order of how many pending lines one visit serves (lazy greedy).

        Lines are considered most urgent first; a rack's count is recomputed when it comes
        up, since lines taken by an earlier visit no longer count for it.
        """
        by_rack: dict[str, list[PickLine]] = {}
        for line in sorted(self.book.pending.values(), key=lambda p: (p.deadline, p.created)):
            for rack in self.inventory.racks_for(line.sku, line.quantity):
                if self.racks.rack_free(rack):
                    by_rack.setdefault(rack, []).append(line)
        taken: set[tuple[str, int]] = set()
        heap = [(-len(lines), lines[0].deadline, rack) for rack, lines in by_rack.items()]
        heapq.heapify(heap)
        while heap and self.racks.stations_open():
            neg, _, rack = heapq.heappop(heap)
            chosen = self._servable(rack, [p for p in by_rack[rack] if p.key not in taken])
            if not chosen:
                continue
            if len(chosen) < -neg:  # stale count: put it back where it belongs now
                heapq.heappush(heap, (-len(chosen), chosen[0].deadline, rack))
                continue
            taken.update(p.key for p in chosen)
            yield rack, chosen

    def _servable(self, rack: str, lines: list[PickLine]) -> list[PickLine]:
        """The lines (in the given order) one visit of ``rack`` can serve from its stock, each
        promised to ``rack`` and kept there (so the next line's check counts it and cannot move
        it away)."""
        chosen, used, keys = [], {}, set()
        for line in lines:
            need = used.get(line.sku, 0) + line.quantity
            if need <= self.inventory.available(rack, line.sku) and self.book.promises.move(line, rack, keep=keys):
                chosen.append(line)
                keys.add(line.key)
                used[line.sku] = need
                if len(chosen) >= self.config.max_lines_per_visit:
                    break
        return chosen

    def match(self, idle: list[str], drafts: list[Task], now: float) -> list[tuple[str, Task]]:
        """Minimum total of travel steps plus weighted deadline slack (Hungarian method)."""
        robots = self.board.robots
        cells = np.array([self.layout.grid.index(robots[r].cell) for r in idle])
        battery = np.array([robots[r].battery for r in idle])
        cfg = self.config
        cost = np.empty((len(idle), len(drafts)))
        for j, task in enumerate(drafts):
            target = self.racks.cell_index[task.origin]
            d = self.dist.table(target, False)[cells].astype(float)
            d[d < 0] = UNREACHABLE
            cost[:, j] = d + (task.deadline - now) * cfg.slack_weight
            # a robot parked under a rack must take that rack's visit: nobody else can get there
            sitting = cells == target
            if sitting.any():
                cost[~sitting, j] += NOT_UNDER_RACK
            cost[battery - (d + task.length_steps) * cfg.energy_per_step < 0.5 * cfg.charge_below, j] = FORBIDDEN
        rows, cols = linear_sum_assignment(cost)
        pairs = [(idle[i], drafts[j]) for i, j in zip(rows, cols) if cost[i, j] < FORBIDDEN]
        assigned = {r for r, _ in pairs}
        for i, robot in enumerate(idle):
            if robot not in assigned and (cost[i] >= FORBIDDEN).all():
                robots[robot].needs_charge = True
        return pairs


class BaselinePolicy(AssignmentPolicy):
    """First come, first served, one line per visit, nearest robot (see module docstring)."""

    def candidates(self) -> Iterator[tuple[str, list[PickLine]]]:
        """The oldest pending line alone, from a random rack that holds it."""
        for line in sorted(self.book.pending.values(), key=lambda p: p.created):
            if not self.racks.stations_open():
                return
            racks = [r for r in self.inventory.racks_for(line.sku, line.quantity)
                     if self.racks.rack_free(r) and self.book.promises.allows(line, r)]
            if racks:
                yield self.rng.choice(sorted(racks)), [line]

    def match(self, idle: list[str], drafts: list[Task], now: float) -> list[tuple[str, Task]]:
        """Each visit, oldest first, to the nearest robot still idle (and charged enough)."""
        free = list(idle)
        pairs = []
        for task in drafts:
            able = [r for r in free if self._affordable(r, task)]
            if not able:
                continue
            sitting = [r for r in able if self.board.robots[r].cell == self.layout.storage_by_id[task.origin].cell]
            robot = sitting[0] if sitting else min(able, key=lambda r: self._travel(r, task))
            free.remove(robot)
            pairs.append((robot, task))
        for robot in free:
            if drafts and not any(self._affordable(robot, t) for t in drafts):
                self.board.robots[robot].needs_charge = True
        return pairs

    def _travel(self, robot: str, task: Task) -> float:
        here = self.layout.grid.index(self.board.robots[robot].cell)
        return travel_steps(self.dist.distance(here, self.racks.cell_index[task.origin]))

    def _affordable(self, robot: str, task: Task) -> bool:
        """The robot can drive to the rack and finish the visit with a reserve to reach a charger."""
        cfg = self.config
        need = (self._travel(robot, task) + task.length_steps) * cfg.energy_per_step
        return self.board.robots[robot].battery - need >= 0.5 * cfg.charge_below


POLICY_CLASSES: dict[str, type[AssignmentPolicy]] = {"default": DefaultPolicy, "baseline": BaselinePolicy}

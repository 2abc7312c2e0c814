"""Execution feedback: what the robots report about their tasks, applied to orders, stock and racks.

:class:`ExecutionFeedback` follows each task as it runs: a rack lifted leaves its location, a
pick takes the units off the rack and completes order lines (a completed order goes to
dispatch), a rack dropped stands at its return location. It also handles what goes wrong: a
failed task gives its unpicked lines back to the pending pool; a rack a robot could not lift
(``lift_failed``) is out of service for ``rack_retry_after`` seconds, its lines served from
other racks holding the SKU or waiting for it; a failed robot gets no more tasks and its task
in progress fails (a rack it carried stays busy until :meth:`ExecutionFeedback.rack_recovered`).
Nothing accepted is ever dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from warehouse_core.ops.dispatch import Dispatch
from warehouse_core.ops.errands import Charging
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import TASK_ACTIVE, TASK_ASSIGNED, TASK_DONE, TASK_FAILED, TYPE_PICK, Task, TaskEvent
from warehouse_core.ops.order_book import OrderBook
from warehouse_core.ops.rack_ledger import RackLedger
from warehouse_core.ops.task_board import TaskBoard
from warehouse_core.tasks import OP_DROP, OP_LIFT, OP_PICK, TaskStep


class ExecutionFeedback:
    """Task progress and failures applied to the allocator's state (see module docstring)."""

    def __init__(self, inventory: Inventory, book: OrderBook, racks: RackLedger, board: TaskBoard,
                 charging: Charging, dispatch: Dispatch, emit: Callable[[TaskEvent], None]) -> None:
        self.inventory = inventory
        self.book = book
        self.racks = racks
        self.board = board
        self.charging = charging
        self.dispatch = dispatch
        self.emit = emit

    def step_done(self, task_id: str, step_index: int, now: float) -> None:
        """Steps ``< step_index`` of ``task_id`` are complete."""
        task = self.board.tasks.get(task_id)
        if task is None or step_index <= task.step_index + 1 or task.finished:
            return
        for k in range(task.step_index + 1, step_index):
            self._complete_step(task, task.steps[k], now)
        task.step_index = step_index - 1
        if task.state == TASK_ASSIGNED:
            task.state = TASK_ACTIVE
        self.emit(TaskEvent(task, TASK_ACTIVE, step_index, now))

    def _complete_step(self, task: Task, step: TaskStep, now: float) -> None:
        if step.op == OP_LIFT:
            self.racks.lifted(task)
        elif step.op == OP_PICK:
            for line in task.lines:
                if self.book.cancelled(line.order_id):  # cancelled while the rack was on its way
                    self.inventory.unreserve(line.rack, line.sku, line.quantity)
                    continue
                self.inventory.pick(line.rack, line.sku, line.quantity)
                if self.book.picked(line, now):
                    self.dispatch.completed(line.order_id, now)
            self.racks.station_done(task.station)
        elif step.op == OP_DROP:
            self.racks.dropped(task)

    def task_finished(self, task_id: str, success: bool, now: float, message: str = "") -> None:
        task = self.board.tasks.get(task_id)
        if task is None or task.finished:
            return
        holds_rack = False
        if success:
            self.step_done(task_id, len(task.steps), now)
            task.state = TASK_DONE
        else:
            task.state = TASK_FAILED
            if task.type == TYPE_PICK:
                self._requeue(task)
                holds_rack = task.rack in self.racks.busy_racks
        self.charging.finished(task, success)
        self.board.finished(task, holds_rack)
        self.emit(TaskEvent(task, task.state, task.step_index + 1, now, message))

    def _requeue(self, task: Task) -> None:
        """Give the unpicked lines of a failed visit back to the pending pool."""
        picked = any(s.op == OP_PICK for s in task.steps[:task.step_index + 1])
        if not picked:
            for line in task.lines:
                self.inventory.unreserve(line.rack, line.sku, line.quantity)
                if not self.book.cancelled(line.order_id):
                    self.book.add_pending(line, promised_to=line.rack)
                line.rack = ""
            self.racks.station_done(task.station)
        if task.step_index < 0:  # rack never lifted: it stays where it was
            self.racks.unhold_rack(task)

    def lift_failed(self, task_id: str, now: float, message: str = "") -> None:
        """The robot of ``task_id`` could not lift its rack (jammed, damaged, misplaced): the
        visit fails and the rack, still standing in its location, is out of service for a while."""
        task = self.board.tasks.get(task_id)
        if task is None or task.finished or task.type != TYPE_PICK:
            return
        self.racks.lift_failed(task.rack, now)
        self.task_finished(task_id, False, now, message or f"rack {task.rack} could not be lifted")

    def robot_failed(self, robot: str, now: float, reason: str) -> bool:
        """``robot`` is out of service; its task in progress fails. False if already known."""
        first, current = self.board.robot_failed(robot)
        if current:
            self.task_finished(current, False, now, reason)
        return first

    def rack_recovered(self, rack: str, location: str) -> None:
        """A rack a failed robot carried was put down at storage ``location`` by hand."""
        self.racks.put_down(rack, location)
        failed = self.board.rack_recovered(rack)
        if failed:  # the visit it was on: its return location is not needed any more
            self.racks.reserved_locations.discard(failed[-1].return_location)

    def adopt_task(self, task: Task) -> None:
        """Take ``task`` as given (reloaded from the durable store): reserve what the assignment
        reserved for it when it was created (stock, rack, station slot, return location or
        charger) and bind it to its robot."""
        if task.type == TYPE_PICK:
            lines = []
            for line in task.lines:
                mine = self.book.pending.get(line.key)
                if mine is None:
                    raise ValueError(f"task {task.task_id}: line {line.order_id}[{line.index}] is not pending")
                # as the visit's choice did; when the replayed promises differ from the live ones
                # (drafts undone are not journaled) and the others cannot make room, the visit
                # happened all the same: its units are reserved, and the promises are rebuilt at
                # the end of the replay (StockPromises.rebuild drops those no rack can keep)
                self.book.promises.move(mine, task.rack)
                self.inventory.reserve(task.rack, mine.sku, mine.quantity)
                mine.rack = task.rack
                self.book.take_pending(mine)
                lines.append(mine)
            task.lines = lines
            self.racks.hold(task)
        else:
            self.charging.adopt(task)
        self.board.adopt(task)
        self.book.started(task, task.created)

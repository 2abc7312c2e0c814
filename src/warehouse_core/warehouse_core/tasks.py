"""The operation codes a task step carries, shared by allocator, planner, robots and simulator.

A task is a sequence of steps; each step is a cell to reach and an operation to perform on
arrival for a duration. The codes are the values of ``TaskStep.op`` and ``TimedWaypoint.op``
in ``warehouse_interfaces``.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_core.maps.grid import Coord

OP_NONE = 0  # reach the cell, nothing to do there
OP_LIFT = 1  # lift the rack standing on the cell
OP_DROP = 2  # put the carried rack down on the cell
OP_PICK = 3  # present the carried rack at a station for picking
OP_CHARGE = 4  # charge on a charger cell


@dataclass(frozen=True)
class TaskStep:
    """Drive to ``cell`` and do ``op`` there for ``duration`` seconds.

    The one form of a task step in the core: the allocator builds tasks of them, the planner
    plans through them, and ``warehouse_nodes.conversions`` turns them into and out of
    ``warehouse_interfaces/TaskStep`` messages.
    """

    cell: Coord
    op: int = OP_NONE
    duration: float = 0.0  # [s]

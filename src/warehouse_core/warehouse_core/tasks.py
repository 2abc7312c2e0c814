"""Operation codes, robot modes and the task step, shared by allocator, planner, robots and simulator.

A task is a sequence of steps; each step is a cell to reach and an operation to perform on
arrival for a duration. The codes are the values of ``TaskStep.op``, ``TimedWaypoint.op`` and
``RobotState.mode`` in ``warehouse_interfaces`` (a test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_core.maps.grid import Coord

OP_NONE = 0  # reach the cell, nothing to do there
OP_LIFT = 1  # lift the rack standing on the cell
OP_DROP = 2  # put the carried rack down on the cell
OP_PICK = 3  # present the carried rack at a station for picking
OP_CHARGE = 4  # charge on a charger cell

# What a robot is doing (``RobotState.mode``); the four operation modes follow from OP_*.
MODE_IDLE, MODE_MOVING, MODE_WAITING, MODE_LIFTING, MODE_DROPPING, MODE_PICKING, \
    MODE_CHARGING, MODE_FAILED = range(8)
# The base reports a protective or emergency stop: the robot holds where it is and keeps its task; the
# fleet plans around it as around a failed robot and takes it back when the stop clears.
MODE_STOPPED = 8
MODE_OF_OP = {OP_LIFT: MODE_LIFTING, OP_DROP: MODE_DROPPING, OP_PICK: MODE_PICKING, OP_CHARGE: MODE_CHARGING}


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

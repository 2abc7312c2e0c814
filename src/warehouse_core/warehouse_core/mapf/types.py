"""Vocabulary of the one-shot MAPF solvers.

* Agents are numbered ``0 .. n-1`` in scenario order (agent ``i`` = the i-th agent line).
* Inside the solvers a cell is a *vertex id*: the index of the cell among the free cells of the
  grid in row-major order (see :class:`warehouse_core.mapf.pibt.Graph`). A ``Config`` is the tuple
  of every agent's vertex id at one time step.
* At the API boundary cells are :data:`~warehouse_core.maps.grid.Coord` ``(x, y)`` = ``(column, row)``
  and a solution is one :data:`~warehouse_core.maps.grid.Path` per agent (one cell per time step,
  from its start to its goal; an agent stays at its goal after its path ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_core.maps.grid import Coord, Path

Config = tuple[int, ...]
"""One vertex id per agent at one time step."""


@dataclass
class Solution:
    """Result of a one-shot solve.

    ``paths`` is empty unless ``solved``. ``runtime_s`` is the wall time of the whole call
    (including distance tables); ``first_solution_s`` the time the first solution was found.
    """

    solved: bool
    paths: list[Path]
    algorithm: str
    runtime_s: float = 0.0
    first_solution_s: float | None = None
    stats: dict[str, float | int | str] = field(default_factory=dict)


__all__ = ["Config", "Coord", "Path", "Solution"]

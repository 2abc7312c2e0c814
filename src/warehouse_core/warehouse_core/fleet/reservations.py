"""Space-time reservations of grid cells, stored as per-cell time intervals.

Each robot's committed path is kept as *visits*: the robot occupies cell ``c`` from global
time step ``start`` to ``end`` inclusive (``end`` is :data:`FOREVER` for the cell it parks
on). Two rules keep every committed plan executable under arbitrary delays:

* visits of different robots to one cell are at least one step apart ("no following"), so
  a robot never enters a cell in the step right after another left it; this forbids swaps
  and rotations, and makes the per-cell visit order a strict order in time;
* the visit order per cell is the execution order (see :mod:`warehouse_core.fleet.execution`):
  a robot may enter a cell only after every earlier visitor has left it.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field

FOREVER = 1 << 62


@dataclass(order=True)
class Visit:
    """One robot's stay on one cell: steps ``start..end`` = path indices ``first..last``."""

    start: int
    end: int
    agent: str = field(compare=False)
    plan_id: int = field(compare=False)
    first: int = field(compare=False)
    last: int = field(compare=False)


class ReservationTable:
    """Per-cell ordered visits of all committed paths (cells are flat indices)."""

    def __init__(self) -> None:
        self._by_cell: dict[int, list[Visit]] = {}
        self._by_agent: dict[str, list[tuple[int, Visit]]] = {}

    # -- queries -----------------------------------------------------------------------
    def visits(self, cell: int) -> list[Visit]:
        return self._by_cell.get(cell, [])

    def agent_visits(self, agent: str) -> list[tuple[int, Visit]]:
        return self._by_agent.get(agent, [])

    def is_free(self, cell: int, step: int, agent: str) -> bool:
        """True if ``agent`` may occupy ``cell`` at ``step`` (others clear of step +/- 1)."""
        for v in self._by_cell.get(cell, ()):
            if v.agent != agent and v.start <= step + 1 and v.end >= step - 1:
                return False
        return True

    def free_from(self, cell: int, step: int, agent: str) -> bool:
        """True if ``agent`` may stay on ``cell`` from ``step`` on forever."""
        for v in self._by_cell.get(cell, ()):
            if v.agent != agent and v.end >= step - 1:
                return False
        return True

    def next_busy(self, cell: int, step: int, agent: str) -> int:
        """First step >= ``step`` at which ``cell`` is unavailable to ``agent`` (FOREVER if none)."""
        best = FOREVER
        for v in self._by_cell.get(cell, ()):
            if v.agent != agent and v.end >= step - 1:
                best = min(best, max(step, v.start - 1))
        return best

    # -- updates -----------------------------------------------------------------------
    def add_path(self, agent: str, plan_id: int, cells: list[int], start_step: int,
                 park: bool = True, first_index: int = 0) -> None:
        """Commit ``cells`` (one per step from ``start_step``); the last cell is kept forever.

        ``cells[0]`` is path index ``first_index`` (used when a path is extended).
        """
        i = 0
        n = len(cells)
        while i < n:
            j = i
            while j + 1 < n and cells[j + 1] == cells[i]:
                j += 1
            end = FOREVER if (park and j == n - 1) else start_step + j
            self._insert(cells[i], Visit(start_step + i, end, agent, plan_id,
                                         first_index + i, first_index + j))
            i = j + 1

    def extend_path(self, agent: str, plan_id: int, cells: list[int], start_step: int,
                    first_index: int) -> None:
        """Append ``cells`` (path indices from ``first_index``) to ``agent``'s parked path."""
        if not cells:
            return
        parked = [(c, v) for c, v in self._by_agent.get(agent, []) if v.end == FOREVER]
        k = 0
        for cell, visit in parked:
            while k < len(cells) and cells[k] == cell:
                k += 1  # the robot stays where it parked: lengthen that visit
            self._by_cell[cell].remove(visit)
            self._by_agent[agent].remove((cell, visit))
            last = first_index + k - 1
            self._insert(cell, Visit(visit.start, start_step + last - first_index
                                     if k < len(cells) else FOREVER, agent, plan_id,
                                     visit.first, last if k else visit.last))
        if k < len(cells):
            self.add_path(agent, plan_id, cells[k:], start_step + k, park=True,
                          first_index=first_index + k)

    def _insert(self, cell: int, visit: Visit) -> None:
        insort(self._by_cell.setdefault(cell, []), visit)
        self._by_agent.setdefault(visit.agent, []).append((cell, visit))

    def restore(self, agent: str, visits: list[tuple[int, Visit]]) -> None:
        """Put back visits previously returned by :meth:`agent_visits` (after a failed replan)."""
        for cell, visit in visits:
            self._insert(cell, visit)

    def remove_agent(self, agent: str) -> None:
        for cell, visit in self._by_agent.pop(agent, []):
            lst = self._by_cell[cell]
            lst.remove(visit)
            if not lst:
                del self._by_cell[cell]

    def trim_before(self, agent: str, plan_id: int, index: int) -> None:
        """Forget ``agent``'s visits that ended before path index ``index`` (already executed)."""
        keep = []
        for cell, visit in self._by_agent.get(agent, []):
            if visit.plan_id == plan_id and visit.last < index:
                lst = self._by_cell[cell]
                lst.remove(visit)
                if not lst:
                    del self._by_cell[cell]
            else:
                keep.append((cell, visit))
        self._by_agent[agent] = keep

"""First-come-first-served queues at the pick stations, for the fleet planner.

A station has a pick cell and a line of queue cells (``queue`` in the layout, nearest
first): slot 0 is the pick cell, slot ``k`` the ``k``-th queue cell. A robot whose current
goal is a station's pick joins that station's line when it comes within ``join_radius``
cells (Manhattan) of the pick cell, behind everybody who joined before (robots joining in
the same planned step: nearer first, then by name). The ``k``-th robot of the line is sent
to slot ``k`` and waits there; when the head has picked and left the pick cell it leaves the
line and everybody moves up one slot. No later robot overtakes: only the head targets the pick
cell, and every other robot targets its own slot. Arrival counts on the line's cells: robots
standing on cells of their line come first, in the order of those cells, then the robots still
on their way, in the order they joined. Otherwise a robot that joined first but is still in
the aisle, or came in along the queue cells, waits for a robot standing on the line ahead of
it, held to its slot and waiting for it in turn: two deadlocks seen in CI runs (a robot behind
another on the queue cells; a robot in the aisle beside the line, head to head with a robot
passing to the next station, with no cell to give way to). The line holds at most as many robots as
there are slots; further robots (admission should prevent them) keep heading for the pick
cell as before and join when there is room.
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_core.maps.grid import Coord, Grid


class StationQueues:
    """The lines at every station; :meth:`update` says which robot should target which slot."""

    def __init__(self, grid: Grid, stations: Sequence[tuple[Coord, Sequence[Coord]]],
                 join_radius: int | None = None) -> None:
        self.grid = grid
        self.slots: dict[int, list[int]] = {
            grid.index(pick): [grid.index(pick), *(grid.index(c) for c in queue)] for pick, queue in stations}
        self._slot_at = {p: {c: k for k, c in enumerate(cells)} for p, cells in self.slots.items()}
        longest = max((len(s) for s in self.slots.values()), default=1)
        self.join_radius = longest + 2 if join_radius is None else join_radius
        self.lines: dict[int, list[str]] = {p: [] for p in self.slots}
        self.joined: dict[str, int] = {}  # robot -> pick cell of the line it is in
        self.slot_of: dict[str, int] = {}  # robot -> slot it was last sent to

    def is_station(self, cell: int) -> bool:
        return cell in self.slots

    def slot_cell(self, pick: int, slot: int) -> int:
        return self.slots[pick][slot]

    def clear(self) -> None:
        """Forget every line (a re-root: robots join again from where they stand)."""
        for line in self.lines.values():
            line.clear()
        self.joined.clear()
        self.slot_of.clear()

    def leave(self, robot: str) -> None:
        """``robot`` leaves its line (it left the pick cell, failed or got another goal)."""
        pick = self.joined.pop(robot, None)
        self.slot_of.pop(robot, None)
        if pick is not None:
            self.lines[pick].remove(robot)

    def ahead(self) -> dict[str, str]:
        """Robot -> the robot ahead of it in its line (the head has none)."""
        return {line[k]: line[k - 1] for line in self.lines.values() for k in range(1, len(line))}

    def _order_by_cells(self, pick: int, line: list[str], wants: dict[str, tuple[int, int]]) -> None:
        """Robots of ``line`` standing on its cells first, nearest the pick first; then the
        others in the order they joined."""
        slot_at = self._slot_at[pick]
        on = sorted((r for r in line if wants[r][1] in slot_at), key=lambda r: slot_at[wants[r][1]])
        line[:] = on + [r for r in line if wants[r][1] not in slot_at]

    def _distance(self, a: int, b: int) -> int:
        w = self.grid.width
        return abs(a % w - b % w) + abs(a // w - b // w)

    def update(self, wants: dict[str, tuple[int, int]]) -> dict[str, int]:
        """One planned step. ``wants``: every robot whose current goal is a station's pick, or
        that still stands on the pick cell of its line -> (pick cell, the robot's cell); a robot
        of a line missing from it leaves the line. Returns robot -> slot for every robot whose
        slot changed."""
        for robot in [r for r, pick in self.joined.items() if wants.get(r, (-1, -1))[0] != pick]:
            self.leave(robot)
        near = sorted((self._distance(cell, pick), robot) for robot, (pick, cell) in wants.items()
                      if robot not in self.joined and self._distance(cell, pick) <= self.join_radius)
        for _d, robot in near:
            pick = wants[robot][0]
            line = self.lines[pick]
            if len(line) < len(self.slots[pick]):
                line.append(robot)
                self.joined[robot] = pick
        changes = {}
        for pick, line in self.lines.items():
            self._order_by_cells(pick, line, wants)
            for k, robot in enumerate(line):
                if self.slot_of.get(robot) != k:
                    self.slot_of[robot] = k
                    changes[robot] = k
        return changes

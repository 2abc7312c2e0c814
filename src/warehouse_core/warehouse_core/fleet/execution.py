"""Delay-robust execution of committed paths: dependency-gated releases (ADG-style).

A robot may drive into the next cell of its path only when

1. every robot whose visit to that cell comes earlier (in the committed plans) has already
   left it and reached its own next cell, and
2. the plan time of the departure has come (``start_step + j - 1 <= now_step + lookahead``),
   so that no robot runs ahead of schedule and new plans can always be placed after
   everything already released.

Because visits of different robots to a cell are separated by at least one step (see
:mod:`warehouse_core.fleet.reservations`), every dependency points to an earlier time step: the
dependency graph is acyclic, so delays make robots wait but never deadlock or collide.
The traffic controller also explains every wait (who or what a robot waits for).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_core.fleet.control import ReleaseGate
from warehouse_core.fleet.reservations import ReservationTable


@dataclass
class CommittedPath:
    """A path being executed by one robot.

    Indices are absolute path indices; ``cells`` holds indices ``base`` onwards, so that the
    executed part of a long (lifelong) path can be dropped with :meth:`compact`.
    """

    agent: str
    plan_id: int
    cells: list[int]
    start_step: int
    progress: int = 0  # index of the last waypoint reached
    released: int = 0  # highest waypoint index released so far
    base: int = 0  # path index of cells[0]

    def cell(self, index: int) -> int:
        return self.cells[index - self.base]

    @property
    def length(self) -> int:
        """Number of path indices (last index + 1)."""
        return self.base + len(self.cells)

    @property
    def end_step(self) -> int:
        return self.start_step + self.length - 1

    @property
    def finished(self) -> bool:
        return self.progress >= self.length - 1

    @property
    def can_move(self) -> bool:
        """True if a released waypoint lies in another cell than the robot's."""
        here = self.cell(self.progress)
        return any(self.cell(i) != here for i in range(self.progress + 1, self.released + 1))

    def compact(self) -> None:
        """Forget the cells before the last one reached."""
        drop = self.progress - self.base
        if drop > 0:
            del self.cells[:drop]
            self.base += drop


@dataclass(frozen=True)
class WaitReason:
    """Why a robot cannot enter the next cell of its path."""

    agent: str
    cell: int  # flat index of the cell it wants to enter (-1 for none)
    kind: str  # "robot" (an earlier visitor has not left), "schedule", "paused" (operators), "done"
    blocker: str = ""  # the robot it waits for when kind == "robot"


@dataclass
class TrafficController:
    """Holds the committed paths and computes how far each robot may drive."""

    table: ReservationTable = field(default_factory=ReservationTable)
    paths: dict[str, CommittedPath] = field(default_factory=dict)
    lookahead: int = 1

    @property
    def margin(self) -> int:
        """Steps after ``now`` at which a new path may start without overtaking releases."""
        return self.lookahead + 2

    def commit(self, agent: str, plan_id: int, cells: list[int], start_step: int) -> CommittedPath:
        """Replace ``agent``'s committed path; its last cell is kept reserved forever."""
        self.table.remove_agent(agent)
        self.table.add_path(agent, plan_id, cells, start_step, park=True)
        path = CommittedPath(agent, plan_id, list(cells), start_step)
        self.paths[agent] = path
        return path

    def extend(self, agent: str, cells: list[int]) -> CommittedPath:
        """Append ``cells`` to ``agent``'s committed path (windowed planning, same plan id).

        The first appended cell is planned for the step after the current last one and must
        be the last cell or one of its neighbours.
        """
        path = self.paths[agent]
        first = path.length
        self.table.extend_path(agent, path.plan_id, cells, path.start_step + first, first)
        path.cells.extend(cells)
        return path

    def report_progress(self, agent: str, plan_id: int, index: int) -> bool:
        """Record that ``agent`` reached waypoint ``index`` of ``plan_id``; False if stale."""
        path = self.paths.get(agent)
        if path is None or path.plan_id != plan_id or index <= path.progress:
            return False
        path.progress = min(index, path.length - 1)
        self.table.trim_before(agent, plan_id, path.progress)
        if path.progress - path.base > 256:
            path.compact()
        return True

    def _visit_done(self, agent: str, plan_id: int, last: int) -> bool:
        other = self.paths.get(agent)
        return other is None or other.plan_id != plan_id or other.progress > last

    def release(self, agent: str, now_step: int, gate: ReleaseGate | None = None) -> tuple[int, WaitReason]:
        """Highest waypoint index ``agent`` may drive to now, and why it may not go further.
        ``gate``: what operators hold back (a pause): no release from a held cell or into a closed one."""
        path = self.paths[agent]
        j = max(path.released, path.progress) + 1
        reason = WaitReason(agent, -1, "done")
        if gate is not None and j < path.length and gate.holds(path.cell(path.progress)):
            return path.released, WaitReason(agent, path.cell(path.progress), "paused")
        while j < path.length:
            cell = path.cell(j)
            if gate is not None and cell != path.cell(j - 1) and gate.closed(cell):
                reason = WaitReason(agent, cell, "paused")
                break
            if path.start_step + j - 1 > now_step + self.lookahead:
                reason = WaitReason(agent, cell, "schedule")
                break
            if cell != path.cell(j - 1):
                blocker = self._earlier_visitor(agent, path, cell, j)
                if blocker:
                    reason = WaitReason(agent, cell, "robot", blocker)
                    break
            j += 1
        path.released = max(path.released, j - 1)
        return path.released, reason

    def _earlier_visitor(self, agent: str, path: CommittedPath, cell: int, index: int) -> str:
        mine = None
        for v in self.table.visits(cell):
            if v.agent == agent and v.plan_id == path.plan_id and v.first == index:
                mine = v
                break
        if mine is None:
            return ""
        for v in self.table.visits(cell):
            if v.start >= mine.start:
                break
            if v.agent != agent and not self._visit_done(v.agent, v.plan_id, v.last):
                return v.agent
        return ""

    def release_all(self, now_step: int, gate: ReleaseGate | None = None) -> dict[str, tuple[int, WaitReason]]:
        return {agent: self.release(agent, now_step, gate) for agent in self.paths}


@dataclass(frozen=True)
class WaitStatus:
    """A robot's current wait, with the chain of robots it transitively waits for."""

    agent: str
    kind: str  # "none", "robot", "schedule", "planning", "operation"
    blocker: str = ""
    cell: int = -1
    since: float = 0.0
    chain: tuple[str, ...] = ()


class WaitTracker:
    """Turns release results into explainable waits and reports only what changed."""

    def __init__(self) -> None:
        self.current: dict[str, WaitStatus] = {}

    def update(self, now: float, traffic: TrafficController,
               reasons: dict[str, WaitReason], planning: set[str],
               operating: set[str]) -> list[WaitStatus]:
        fresh: dict[str, tuple[str, str, int]] = {}
        for agent, path in traffic.paths.items():
            reason = reasons.get(agent)
            if agent in planning:
                fresh[agent] = ("planning", "", -1)
            elif agent in operating:
                fresh[agent] = ("operation", "", path.cell(path.progress))
            elif path.finished or reason is None or reason.kind == "done" or path.can_move:
                fresh[agent] = ("none", "", -1)
            else:
                fresh[agent] = (reason.kind, reason.blocker, reason.cell)
        changed = []
        for agent, (kind, blocker, cell) in fresh.items():
            chain = self._chain(agent, fresh) if kind == "robot" else ()
            old = self.current.get(agent)
            if old is not None and (old.kind, old.blocker, old.cell, old.chain) == (kind, blocker, cell, chain):
                continue
            since = old.since if old is not None and (old.kind, old.blocker) == (kind, blocker) else now
            status = WaitStatus(agent, kind, blocker, cell, since, chain)
            self.current[agent] = status
            changed.append(status)
        return changed

    @staticmethod
    def _chain(agent: str, fresh: dict[str, tuple[str, str, int]]) -> tuple[str, ...]:
        chain, seen = [], {agent}
        kind, blocker, _ = fresh[agent]
        while kind == "robot" and blocker and blocker not in seen:
            chain.append(blocker)
            seen.add(blocker)
            kind, blocker, _ = fresh.get(blocker, ("none", "", -1))
        return tuple(chain)

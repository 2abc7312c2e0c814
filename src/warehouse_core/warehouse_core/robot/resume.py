"""A robot node that replaces one that died mid-run: what it learns, and from where.

The robot's node keeps its task progress and its plan only in memory; its base (the floor
simulator, a real robot) keeps driving what was commanded and then stands. A node started in
its place learns:

* where the base stands and on which plan (its first state: a plan id above 0 shows that the
  fleet was under way, so this node takes a robot over mid-run);
* its plan from the planner's latched path segments. The first segment of the plan may be gone
  from that history (it keeps the last segments only), so :class:`PathPieces` collects the
  segments of each plan and yields the contiguous run that covers where the base stands;
  waypoints before it were driven past and are never needed;
* its task from the allocator, which repeats a task its robot stopped reporting, and the steps
  done from the allocator's ``/task_status`` events (:class:`TaskBook`). A step the dead node
  completed whose report was lost is found again: its waypoint lies at most
  :data:`RESUME_LOOKBACK` cell moves behind where the base stood when the new node took over (the
  base drives about a second past a dead node before the simulator holds time; waits in place
  are passed at once and do not count), so the steps not reported are bound to waypoints from
  there on (:func:`lookback_start`) and complete as the base's progress shows.

A task may also be sent again to a node that is alive (its answer was lost, or the sender could not
tell the node from its successor): :class:`Outcomes` keeps the last tasks' outcomes to answer it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from warehouse_core.maps.grid import Coord

T = TypeVar("T")

# Cell moves behind the base's last waypoint within which a step the dead node completed but did
# not report may lie: with one-second steps the base moves about two cells before time is held.
RESUME_LOOKBACK = 4
KEEP_BEHIND = 64  # waypoints kept behind the base until the lookback is done (waits included)
MAX_PIECES = 400  # path segments kept while the base's plan is not known yet (latched history: 100)


def lookback_start(cells: Sequence[Coord], anchor: int, first: int, moves: int = RESUME_LOOKBACK) -> int:
    """The first waypoint to search a step not reported from: back from waypoint ``anchor`` over at
    most ``moves`` cell changes (waits in place do not count), not before ``first``, the first
    waypoint held (``cells[0]`` is waypoint ``first``)."""
    i = min(anchor, first + len(cells) - 1)
    changes = 0
    while i > first:
        if cells[i - 1 - first] != cells[i - first]:
            changes += 1
            if changes > moves:
                break
        i -= 1
    return max(i, first)


@dataclass(frozen=True)
class TaskNote:
    """What the allocator last said about a task: still open, how many steps are done, and the
    sim time of its first word on it (a task given before a node took its robot over was maybe
    begun by the node before it)."""

    open: bool
    steps_done: int
    since: float = 0.0


class TaskBook:
    """The allocator's last word on each task of some robots (``/task_status``), open ones kept.

    Finished tasks are kept too (a repeated one is answered, not started again), the oldest
    dropped beyond ``keep`` entries; open tasks are never dropped (a robot has at most two).
    """

    def __init__(self, robots: set[str], keep: int = 0) -> None:
        self.robots = set(robots)
        self.keep = keep or 8 * max(len(self.robots), 1)
        self.tasks: OrderedDict[str, TaskNote] = OrderedDict()

    def record(self, task_id: str, robot: str, open_: bool, steps_done: int, stamp: float) -> None:
        if robot not in self.robots:
            return
        old = self.tasks.get(task_id)
        if old is not None:
            stamp = min(stamp, old.since)
            if old.open and open_:  # events may come twice (a restarted allocator)
                steps_done = max(steps_done, old.steps_done)
        self.tasks[task_id] = TaskNote(open_, max(steps_done, 0), stamp)
        self.tasks.move_to_end(task_id)
        if len(self.tasks) > self.keep:
            for tid in [t for t, note in self.tasks.items() if not note.open][:len(self.tasks) - self.keep]:
                del self.tasks[tid]

    def lookup(self, task_id: str) -> TaskNote | None:
        """None if the allocator has said nothing about ``task_id`` (yet)."""
        return self.tasks.get(task_id)


class Outcomes(Generic[T]):
    """The outcomes of the last ``keep`` tasks a robot node finished, by task id: a task sent again
    (its outcome was lost on the way, or it was sent again by a sender unsure it arrived) is answered
    with the outcome it had, never run twice."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.outcomes: OrderedDict[str, T] = OrderedDict()

    def __contains__(self, task_id: str) -> bool:
        return task_id in self.outcomes

    def record(self, task_id: str, outcome: T) -> None:
        self.outcomes[task_id] = outcome
        self.outcomes.move_to_end(task_id)
        while len(self.outcomes) > self.keep:
            self.outcomes.popitem(last=False)

    def get(self, task_id: str) -> T | None:
        return self.outcomes.get(task_id)


class PathPieces(Generic[T]):
    """Segments ``(plan id, first index, waypoints)`` of a robot's plans received mid-plan."""

    def __init__(self, limit: int = MAX_PIECES) -> None:
        self.limit = limit
        self.plans: dict[int, list[tuple[int, list[T]]]] = {}

    def __len__(self) -> int:
        return sum(len(p) for p in self.plans.values())

    def add(self, plan_id: int, first_index: int, waypoints: list[T]) -> None:
        self.plans.setdefault(plan_id, []).append((first_index, list(waypoints)))
        while len(self) > self.limit and len(self.plans) > 1:
            del self.plans[min(self.plans)]
        pieces = self.plans[plan_id]
        if len(pieces) > self.limit:
            del pieces[0]

    def clear(self) -> None:
        self.plans.clear()

    def covering(self, plan_id: int, reached: int) -> tuple[int, list[T]] | None:
        """The contiguous waypoints of plan ``plan_id`` from some index up to the newest, as
        ``(first index, waypoints)``, if they include waypoint ``reached + 1`` or end just before
        it (the base's next waypoint, or the next segment's first); None if there is a gap there."""
        start, run = -1, []
        for first, wps in sorted(self.plans.get(plan_id, []), key=lambda p: p[0]):
            end = start + len(run)
            if run and first <= end:  # overlaps what is there: only its new tail counts
                run.extend(wps[end - first:])
            elif run and start <= reached + 1 <= end:
                break  # a gap after the part that covers the base: newer segments come live
            else:
                start, run = first, list(wps)
        if not run or not start <= reached + 1 <= start + len(run):
            return None
        return start, run

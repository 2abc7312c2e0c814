"""A planner restarted mid-run: when it may plan again, with which plan id, which requests count.

The robots keep driving what the dead planner released to them: those releases were made
together, their dependencies held when they were made, so they are safe with each other. The new
planner knows neither those releases nor the paths, so it does what a freeze does
(:mod:`warehouse_core.fleet.freeze_reroot`) without knowing them: it plans nothing until every
robot reports it stands still at the end of what was released to it (a robot node reports
``MODE_MOVING`` while it has released waypoints left, even when its base waits), then starts every
robot's path at the cell it stands on, with a plan id above every id the robots hold, so that they
take the new paths as replacements. No robot then has a released waypoint of an old plan left, and
every cell a robot enters afterwards was released to it by the new plan.

Tasks in flight: a robot that takes a path of a higher plan id sends its request again with the
steps it has not done, marked with that plan id (:func:`resume_marker`). The restarted planner
counts a request only if it is such a re-sent request for one of its plans, or a request for
another task than the robot had when the planner started, made no earlier than that robot's
state (a task begun since). Older requests, delivered again from the robots' latched history,
name steps already done and are dropped. Which request counts never depends on arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_MARK = "resume plan "


def resume_marker(plan_id: int) -> str:
    """The ``header.frame_id`` of a request re-sent with the steps left for plan ``plan_id``."""
    return f"{_MARK}{plan_id}"


def marked_plan(frame_id: str) -> int:
    """The plan id of a re-sent request's marker; -1 for any other frame id."""
    if not frame_id.startswith(_MARK):
        return -1
    try:
        return int(frame_id[len(_MARK):])
    except ValueError:
        return -1


@dataclass(frozen=True)
class Reported:
    """What a robot reported last: its plan id, whether it stands still at the end of what was
    released to it (or failed), its task and the sim time of the report."""

    plan_id: int
    settled: bool
    task_id: str
    stamp: float


@dataclass
class PlannerRestart:
    """The resume rules of a planner that may have been restarted (see module docstring).

    ``active`` is None until the planner starts, then whether it resumed a fleet already under way.
    """

    active: bool | None = None
    plan_id: int = 0  # the first plan id of the restarted planner
    at_start: dict[str, Reported] = field(default_factory=dict)

    @staticmethod
    def under_way(reports: dict[str, Reported]) -> bool:
        """Some robot holds a plan: an earlier planner ran this fleet."""
        return any(r.plan_id > 0 for r in reports.values())

    @staticmethod
    def waiting_for(reports: dict[str, Reported]) -> list[str]:
        """Robots still driving (or operating on) what an earlier planner released."""
        return sorted(n for n, r in reports.items() if not r.settled)

    def start(self, reports: dict[str, Reported], first_plan_id: int) -> int:
        """The planner starts now; returns the first plan id to use."""
        self.active = self.under_way(reports)
        if not self.active:
            return first_plan_id
        self.at_start = dict(reports)
        self.plan_id = max(first_plan_id, 1 + max(r.plan_id for r in reports.values()))
        return self.plan_id

    def counts(self, robot: str, task_id: str, frame_id: str, stamp: float) -> bool:
        """Whether a request of ``robot`` is to be planned (always, unless the planner resumed)."""
        if not self.active:
            return True
        if marked_plan(frame_id) >= self.plan_id:
            return True
        before = self.at_start.get(robot)
        return before is None or (task_id != before.task_id and stamp >= before.stamp)

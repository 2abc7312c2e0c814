"""Operator control of the fleet: pause and resume (the whole fleet or a zone of cells), emergency
stop and its reset, robots out of service and back.

:class:`FleetControl` holds what the operators asked and refuses, with a reason, what cannot be
done (resume when nothing is paused, an unknown robot, a zone off the floor...). Every accepted
:class:`OperatorAction` is journaled by its owner (the allocator's durable store) and replayed
after a restart with :meth:`FleetControl.apply`, so the same rules rebuild the same state.

How the fleet obeys (:class:`ReleaseGate`, read by the planner's release): a paused or e-stopped
fleet gets no release beyond what each robot already has, so every robot stops at the end of its
released cells, which the plan reserved for it alone: no robot stops inside a cell another one is
released into. A zone pause holds the robots inside the zone and releases no robot into it;
robots elsewhere go on (a robot whose plan crosses the zone waits at its edge). Holding a robot is
a delay as far as the plan is concerned, so the release order keeps every robot clear of it, and
resume continues the same plan (no re-plan). An emergency stop also stops every robot where it is
(zero velocity: the simulators and robot nodes read the latched control state); only ``reset``
releases it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Zone = tuple[int, int, int, int]  # cells x0, y0, x1, y1, corners included

PAUSE, RESUME, ESTOP, RESET = "pause", "resume", "estop", "reset"
OUT_OF_SERVICE, IN_SERVICE = "out_of_service", "in_service"
FLEET_COMMANDS = (PAUSE, RESUME, ESTOP, RESET)
ROBOT_COMMANDS = (OUT_OF_SERVICE, IN_SERVICE)


@dataclass(frozen=True)
class OperatorAction:
    """One operator request: ``command`` (one of :data:`FLEET_COMMANDS` / :data:`ROBOT_COMMANDS`),
    who asked (``requester``: a user, a client, a node) and when (sim ``time``)."""

    command: str
    requester: str
    time: float
    zone: Zone | None = None
    robot: str = ""

    def to_json(self) -> dict:
        return {"command": self.command, "requester": self.requester, "time": self.time,
                "zone": list(self.zone) if self.zone is not None else None, "robot": self.robot}

    @staticmethod
    def from_json(d: dict) -> OperatorAction:
        zone = d.get("zone")
        return OperatorAction(str(d["command"]), str(d.get("requester", "")), float(d.get("time", 0.0)),
                              tuple(int(v) for v in zone) if zone else None, str(d.get("robot", "")))


@dataclass
class ControlState:
    """What the fleet obeys now; ``seq`` counts accepted actions (a newer state has a higher one)."""

    paused: bool = False
    estop: bool = False
    zones: list[Zone] = field(default_factory=list)
    out_of_service: set[str] = field(default_factory=set)
    seq: int = 0

    @property
    def halted(self) -> bool:
        """No robot gets any further release (a fleet pause or an emergency stop)."""
        return self.paused or self.estop


class FleetControl:
    """The operators' requests and their rules (see the module docstring). ``size``: the floor's
    (width, height) in cells, for zones."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.state = ControlState()
        self.history: list[OperatorAction] = []

    def apply(self, action: OperatorAction, robots: Iterable[str] = ()) -> tuple[bool, str]:
        """Apply ``action`` if it can be done: (True, what changed) or (False, why not). ``robots``:
        the robots of the fleet now (an out-of-service request must name one)."""
        reason = self._refusal(action, set(robots))
        if reason:
            return False, reason
        s = self.state
        c = action.command
        if c == PAUSE and action.zone is None:
            s.paused = True
        elif c == PAUSE:
            s.zones.append(action.zone)
        elif c == RESUME and action.zone is None:
            s.paused, s.zones = False, []
        elif c == RESUME:
            s.zones.remove(action.zone)
        elif c == ESTOP:
            s.estop = True
        elif c == RESET:
            s.estop = False
        elif c == OUT_OF_SERVICE:
            s.out_of_service.add(action.robot)
        else:
            s.out_of_service.discard(action.robot)
        s.seq += 1
        self.history.append(action)
        return True, describe(action)

    def _refusal(self, a: OperatorAction, robots: set[str]) -> str:
        s = self.state
        c = a.command
        if c not in FLEET_COMMANDS + ROBOT_COMMANDS:
            return f"unknown command {c!r}: one of {', '.join(FLEET_COMMANDS + ROBOT_COMMANDS)}"
        if a.zone is not None:
            if c not in (PAUSE, RESUME):
                return f"{c} takes no zone (only pause and resume do)"
            x0, y0, x1, y1 = a.zone
            w, h = self.size
            if not (0 <= x0 <= x1 < w and 0 <= y0 <= y1 < h):
                return (f"zone {list(a.zone)} is not a rectangle of cells on the floor: give [x0, y0, x1, y1] "
                        f"with 0 <= x0 <= x1 < {w} and 0 <= y0 <= y1 < {h}")
        if c == PAUSE and a.zone is None and s.paused:
            return "the fleet is already paused"
        if c == PAUSE and a.zone in s.zones:
            return f"zone {list(a.zone)} is already paused"
        if c == RESUME and a.zone is None and not (s.paused or s.zones):
            return "nothing is paused"
        if c == RESUME and a.zone is not None and a.zone not in s.zones:
            return f"zone {list(a.zone)} is not paused (paused zones: {[list(z) for z in s.zones]})"
        if c == ESTOP and s.estop:
            return "the emergency stop is already on"
        if c == RESET and not s.estop:
            return "there is no emergency stop to reset"
        if c in ROBOT_COMMANDS:
            if not a.robot:
                return f"{c} needs a robot id"
            if a.robot not in robots and a.robot not in s.out_of_service:
                return f"unknown robot {a.robot!r}: the fleet has {len(robots)} robots"
            if c == OUT_OF_SERVICE and a.robot in s.out_of_service:
                return f"{a.robot} is already out of service"
            if c == IN_SERVICE and a.robot not in s.out_of_service:
                return f"{a.robot} is in service already"
        return ""

    def gate(self, width: int) -> ReleaseGate | None:
        """What the planner's release must hold back now; None when nothing is held."""
        return release_gate(self.state, width)


def release_gate(state: ControlState, width: int) -> ReleaseGate | None:
    """What a planner's release must hold back in ``state`` (flat cells on a grid ``width`` wide);
    None when nothing is held."""
    if not (state.halted or state.zones):
        return None
    return ReleaseGate(state.halted, zone_cells(state.zones, width))


def describe(a: OperatorAction) -> str:
    what = a.command.replace("_", " ")
    if a.zone is not None:
        what += f" zone {list(a.zone)}"
    if a.robot:
        what = f"{a.robot} {what}"
    return f"{what} (asked by {a.requester or 'an unnamed client'} at {a.time:.1f} s)"


def zone_cells(zones: Iterable[Zone], width: int) -> frozenset[int]:
    """Flat indices (``y * width + x``) of every cell of ``zones``."""
    return frozenset(y * width + x for x0, y0, x1, y1 in zones
                     for y in range(y0, y1 + 1) for x in range(x0, x1 + 1))


@dataclass(frozen=True)
class ReleaseGate:
    """The release held back by operators: ``all`` robots (a fleet pause, an emergency stop), or
    the robots inside ``cells`` and any robot entering them."""

    all: bool
    cells: frozenset[int] = frozenset()

    def holds(self, cell: int) -> bool:
        """A robot standing on flat ``cell`` gets no further release."""
        return self.all or cell in self.cells

    def closed(self, cell: int) -> bool:
        """No robot is released into flat ``cell``."""
        return self.all or cell in self.cells

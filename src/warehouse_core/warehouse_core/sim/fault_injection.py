"""Scheduled faults on the simulated floor: what the floor simulator does at each fault's time.

:class:`FloorFaults` takes the scenario faults the simulator executes (``robot_fail``,
``robot_stuck``, ``blocked_cell``, ``rack_jammed``, and the towing of a ``robot_silent``
robot) and, each step, applies those that are due to a :class:`~warehouse_core.sim.floor_sim.FloorSim`. It returns
announcements (JSON-able dicts, ``{"event": "fault_injected" | "fault_cleared", "kind", ...}``)
for the node to publish, and robot failures for the node to handle like any other (towing,
events). An obstacle (``blocked_cell``) is placed only once no robot stands on the cell or
drives into it (a real obstacle would stop a robot on it; here it waits so that nothing is
placed under a robot); the simulator then never drives a robot into it until it is cleared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from warehouse_core.sim.floor_sim import FloorSim
from warehouse_core.sim.scenario import Fault, faults_from_json, faults_to_json

SIM_KINDS = ("robot_fail", "robot_stuck", "blocked_cell", "robot_silent", "rack_jammed")


@dataclass
class FloorFaults:
    """Faults not yet applied, and obstacles to clear (see module docstring)."""

    faults: list[Fault]
    pending: list[Fault] = field(init=False)
    clear_at: list[tuple[float, tuple[int, int]]] = field(default_factory=list)
    unjam_at: list[tuple[float, str]] = field(default_factory=list)  # (sim time, rack)
    tows: list[tuple[float, str]] = field(default_factory=list)  # (sim time, silent robot to tow)

    def __post_init__(self) -> None:
        self.pending = sorted((f for f in self.faults if f.kind in SIM_KINDS), key=lambda f: f.at)

    def snapshot(self) -> dict:
        """What is left to do, JSON-able (a restarted simulator goes on from it)."""
        return {"pending": json.loads(faults_to_json(self.pending)),
                "clear_at": [[t, list(cell)] for t, cell in self.clear_at],
                "unjam_at": [list(u) for u in self.unjam_at], "tows": [list(w) for w in self.tows]}

    def restore(self, data: dict) -> None:
        """Inverse of :meth:`snapshot`."""
        self.pending = faults_from_json(json.dumps(data["pending"]), "floor snapshot")
        self.clear_at = [(t, (x, y)) for t, (x, y) in data["clear_at"]]
        self.unjam_at = [(t, rack) for t, rack in data["unjam_at"]]
        self.tows = [(t, robot) for t, robot in data["tows"]]

    def step(self, sim: FloorSim) -> tuple[list[dict], list[tuple[str, str]]]:
        """Apply what is due at ``sim.time``: (announcements, [(robot, reason) to fail])."""
        now = sim.time
        notes: list[dict] = []
        fail: list[tuple[str, str]] = []
        for t, cell in [c for c in self.clear_at if c[0] <= now]:
            self.clear_at.remove((t, cell))
            sim.obstacles.discard(cell)
            notes.append(_note("fault_cleared", "blocked_cell", now, cell=list(cell)))
        for t, rack in [u for u in self.unjam_at if u[0] <= now]:
            self.unjam_at.remove((t, rack))
            sim.jammed.discard(rack)
            notes.append(_note("fault_cleared", "rack_jammed", now, rack=rack))
        for t, robot in [w for w in self.tows if w[0] <= now]:
            self.tows.remove((t, robot))
            if robot in sim.robots:  # an operator finds the dead robot and tows it away
                fail.append((robot, "its node went silent: towed away"))
        keep = []
        for f in self.pending:
            if f.at > now:
                keep.append(f)
                continue
            if f.kind == "blocked_cell":
                if not self._place(sim, f, now, notes):
                    keep.append(f)  # a robot is on or entering the cell: try again next step
                continue
            if f.kind == "rack_jammed":
                sim.jammed.add(f.rack)
                if f.seconds > 0:
                    self.unjam_at.append((now + f.seconds, f.rack))
                notes.append(_note("fault_injected", f.kind, now, rack=f.rack, seconds=f.seconds))
                continue
            if f.robot not in sim.robots:
                notes.append(_note("fault_skipped", f.kind, now, robot=f.robot, why="robot no longer on the floor"))
                continue
            if f.kind == "robot_stuck":
                sim.stall(f.robot, f.seconds)
                notes.append(_note("fault_injected", f.kind, now, robot=f.robot, seconds=f.seconds))
            elif f.kind == "robot_fail":
                notes.append(_note("fault_injected", f.kind, now, robot=f.robot))
                fail.append((f.robot, f"scenario fault robot_fail at t={now:.0f} s"))
            elif f.kind == "robot_silent":  # its robot container stops the node at f.at
                notes.append(_note("fault_injected", f.kind, now, robot=f.robot, tow_after=f.tow_after))
                self.tows.append((f.at + f.tow_after, f.robot))
        self.pending = keep
        return notes, fail

    def _place(self, sim: FloorSim, f: Fault, now: float, notes: list[dict]) -> bool:
        cell = f.cell
        for r in sim.robots.values():
            if r.cell == cell or (r.queue and r.queue[0].cell == cell):
                return False
        sim.obstacles.add(cell)
        if f.seconds > 0:
            self.clear_at.append((now + f.seconds, cell))
        notes.append(_note("fault_injected", f.kind, now, cell=list(cell), seconds=f.seconds,
                           delayed_s=round(now - f.at, 3)))
        return True


def _note(event: str, kind: str, now: float, **fields) -> dict:
    return {"event": event, "kind": kind, "time": round(now, 3), **fields}

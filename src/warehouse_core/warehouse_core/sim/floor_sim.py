"""Kinematic floor simulator: robots drive along released waypoints like real AMR bases.

Each robot is a differential-drive base that moves only along straight grid edges between
cell centres: it accelerates and brakes within ``max_accel``, never exceeds ``max_speed``,
stops before every turn and turns in place at ``turn_rate``, and stops at the last waypoint
it has been given. Operations on arrival (lift, drop, pick, charge) take their duration.
Racks are simulated too: a lift takes the rack standing on the cell, a drop puts it down; a
jammed rack (``jammed``) stays on the floor and the lift fails.
The simulator is deterministic for a given sequence of commands and time steps, and its whole
state is a JSON-able snapshot (:meth:`FloorSim.snapshot` / :meth:`FloorSim.restore`): a restarted
simulator restores one and replays the commands and steps that followed it
(:mod:`warehouse_core.sim.floor_journal`) to stand exactly where the dead one stood.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from warehouse_core.maps.grid import Coord
from warehouse_core.tasks import (
    MODE_FAILED,
    MODE_IDLE,
    MODE_MOVING,
    MODE_OF_OP,
    MODE_WAITING,
    OP_CHARGE,
    OP_DROP,
    OP_LIFT,
    OP_NONE,
    OP_PICK,
)


@dataclass(frozen=True)
class Kinematics:
    """Limits of one robot base (REP-103 units)."""

    max_speed: float = 1.5  # m/s
    max_accel: float = 1.0  # m/s^2
    turn_rate: float = math.pi / 2  # rad/s (turn in place)
    substep: float = 0.05  # s, integration step

    def __post_init__(self) -> None:
        for name in ("max_speed", "max_accel", "turn_rate", "substep"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Kinematics.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class Battery:
    """Linear consumption model: state of charge lost per second in each activity."""

    idle_per_s: float = 0.00002
    moving_per_s: float = 0.0002
    lifting_per_s: float = 0.0005
    charge_per_s: float = 0.002


@dataclass
class Waypoint:
    """A waypoint of a drive command: path index, cell and centre, operation on arrival."""

    index: int
    cell: Coord
    x: float
    y: float
    op: int = OP_NONE
    op_duration: float = 0.0


@dataclass(frozen=True)
class SimEvent:
    """Something that happened in a step: an operation done, or a fault."""

    robot: str
    kind: str  # "lifted", "dropped", "picked", "charged", "lift_failed", "drop_failed"
    index: int
    rack: str = ""


@dataclass
class SimRobot:
    """Kinematic state of one robot."""

    name: str
    cell: Coord
    x: float
    y: float
    theta: float = 0.0
    v: float = 0.0
    battery: float = 1.0
    carrying: str = ""
    plan_id: int = 0
    reached: int = -1
    mode: int = MODE_IDLE
    failed: bool = False
    odometer: float = 0.0
    queue: deque[Waypoint] = field(default_factory=deque)
    op: int = OP_NONE
    op_left: float = 0.0
    op_index: int = -1
    stall_left: float = 0.0
    stalls: int = 0


_ROBOT_FIELDS = ("name", "x", "y", "theta", "v", "battery", "carrying", "plan_id", "reached", "mode", "failed",
                 "odometer", "op", "op_left", "op_index", "stall_left", "stalls")


def waypoint_to_json(wp: Waypoint) -> list:
    return [wp.index, wp.cell[0], wp.cell[1], wp.x, wp.y, wp.op, wp.op_duration]


def waypoint_from_json(data: list) -> Waypoint:
    index, cx, cy, x, y, op, duration = data
    return Waypoint(index, (cx, cy), x, y, op, duration)


def robot_to_json(r: SimRobot) -> dict:
    """One robot's whole kinematic state (cells as lists: JSON has no tuples)."""
    return {**{k: getattr(r, k) for k in _ROBOT_FIELDS}, "cell": list(r.cell),
            "queue": [waypoint_to_json(wp) for wp in r.queue]}


def robot_from_json(data: dict) -> SimRobot:
    """Inverse of :func:`robot_to_json` (cells back to tuples: they are compared with ``==``)."""
    robot = SimRobot(data["name"], tuple(data["cell"]), data["x"], data["y"])
    for k in _ROBOT_FIELDS[1:]:
        setattr(robot, k, data[k])
    robot.queue = deque(waypoint_from_json(wp) for wp in data["queue"])
    return robot


class FloorSim:
    """All robots and racks on one floor, stepped in fixed time increments."""

    def __init__(self, kinematics: Kinematics, battery: Battery | None = None,
                 racks: dict[Coord, str] | None = None) -> None:
        self.kin = kinematics
        self.battery = battery or Battery()
        self.racks: dict[Coord, str] = dict(racks or {})
        self.robots: dict[str, SimRobot] = {}
        self.removed: dict[str, SimRobot] = {}  # failed robots towed off the floor
        self.obstacles: set[Coord] = set()  # cells no robot is driven into (blocked at run time)
        self.jammed: set[str] = set()  # racks that do not come up when a robot lifts them
        self.estop = False  # an operator's emergency stop: every robot stands still, operations halt
        self.time = 0.0

    def snapshot(self) -> dict:
        """The whole floor as JSON-able data (robots in their order: stepping follows it)."""
        return {"time": self.time, "racks": [[*cell, rack] for cell, rack in self.racks.items()],
                "robots": [robot_to_json(r) for r in self.robots.values()],
                "removed": [robot_to_json(r) for r in self.removed.values()],
                "obstacles": sorted(list(c) for c in self.obstacles), "jammed": sorted(self.jammed)}

    def restore(self, data: dict) -> None:
        """Put the floor back as :meth:`snapshot` saw it (the kinematics and battery model stay)."""
        self.time = float(data["time"])
        self.racks = {(x, y): rack for x, y, rack in data["racks"]}
        self.robots = {r.name: r for r in map(robot_from_json, data["robots"])}
        self.removed = {r.name: r for r in map(robot_from_json, data["removed"])}
        self.obstacles = {(x, y) for x, y in data["obstacles"]}
        self.jammed = set(data["jammed"])

    def add_robot(self, name: str, cell: Coord, x: float, y: float, theta: float = 0.0) -> None:
        if name in self.robots:
            raise ValueError(f"robot {name} added twice")
        self.robots[name] = SimRobot(name, cell, x, y, theta)

    def command(self, name: str, plan_id: int, first_index: int, waypoints: list[Waypoint]) -> bool:
        """Drive ``name`` along ``waypoints`` (path indices from ``first_index``).

        A command for a new plan replaces the queue (the robot stops at its current
        waypoint first: new plans start where the last one ended, at index 0, so the command
        must start at index 1 or earlier). A command for the current plan only adds the
        waypoints that continue the queue without a gap; repeats are harmless. Waypoints
        after a gap (a lost command) are refused, never driven to in a straight line.
        Returns False for a stale, unknown or discontinuous command (nothing was queued).
        """
        robot = self.robots.get(name)
        if robot is None or robot.failed or plan_id < robot.plan_id:
            return False
        if plan_id > robot.plan_id:
            if first_index > 1:
                return False  # the start of the new plan was lost: wait for it
            robot.plan_id = plan_id
            robot.queue.clear()
            robot.reached = 0
        last = robot.queue[-1].index if robot.queue else robot.reached
        added = False
        for wp in waypoints:
            if wp.index == last + 1:
                robot.queue.append(wp)
                last = wp.index
                added = True
            elif wp.index > last + 1:
                break
        return added or all(wp.index <= last for wp in waypoints)

    def stall(self, name: str, seconds: float) -> None:
        """Hold a robot still for ``seconds`` (a late base, a person in the way, a slip)."""
        robot = self.robots[name]
        robot.stall_left = max(robot.stall_left, seconds)
        robot.stalls += 1

    def fail(self, name: str) -> bool:
        """Take a robot out of service: it stops where it is (an operation in progress is
        abandoned: a rack being lifted stays on the floor, one being dropped stays on the
        robot). Returns False if it was already failed."""
        robot = self.robots[name]
        if robot.failed:
            return False
        robot.failed = True
        robot.queue.clear()
        robot.v = 0.0
        robot.op, robot.op_left = OP_NONE, 0.0
        robot.mode = MODE_FAILED
        return True

    def remove(self, name: str, storage: list[Coord], avoid: set[Coord] = frozenset()
               ) -> tuple[str, Coord | None]:
        """Tow a failed robot off the floor; the rack it carried is put down by hand.

        The rack goes to the free storage cell (no rack, no robot, not in ``avoid``, e.g.
        cells robots are about to drop racks on) nearest to the robot (Manhattan distance,
        ties by cell). Returns ``(rack, cell)`` (``("", None)`` without a rack, or when no
        cell is free: the rack then stays with the robot, off the floor).
        """
        robot = self.robots[name]
        if not robot.failed:
            raise ValueError(f"{name} has not failed")
        del self.robots[name]
        self.removed[name] = robot
        if not robot.carrying:
            return "", None
        taken = set(self.racks) | {r.cell for r in self.robots.values()} | set(avoid)
        free = [c for c in storage if c not in taken]
        if not free:
            return robot.carrying, None
        cell = min(free, key=lambda c: (abs(c[0] - robot.cell[0]) + abs(c[1] - robot.cell[1]), c))
        self.racks[cell] = robot.carrying
        rack, robot.carrying = robot.carrying, ""
        return rack, cell

    def step(self, dt: float) -> list[SimEvent]:
        """Advance the floor by ``dt`` seconds; returns the events of the step."""
        events: list[SimEvent] = []
        h = self.kin.substep
        n = max(1, round(dt / h))
        h = dt / n
        if self.estop:  # braked at once; time goes on, nothing moves or operates until the reset
            for robot in self.robots.values():
                robot.v = 0.0
            n = 0
        for _ in range(n):
            for robot in self.robots.values():
                if not robot.failed:
                    self._advance(robot, h, events)
        self.time += dt
        return events

    # -- one robot, one substep ---------------------------------------------------------
    def _advance(self, r: SimRobot, h: float, events: list[SimEvent]) -> None:
        bat = self.battery
        if r.stall_left > 0.0:
            r.stall_left -= h
            r.v = 0.0
            return
        if r.op_left > 0.0:
            r.op_left -= h
            r.battery = max(0.0, r.battery - (bat.lifting_per_s if r.op in (OP_LIFT, OP_DROP)
                                              else bat.idle_per_s) * h)
            if r.op == OP_CHARGE:
                r.battery = min(1.0, r.battery + bat.charge_per_s * h)
            if r.op_left <= 0.0:
                self._finish_op(r, events)
            return
        # skip waypoints that do not move the robot (waits)
        while r.queue and r.queue[0].cell == r.cell:
            self._arrive(r, r.queue.popleft(), events)
            if r.op_left > 0.0:
                return
        if not r.queue:
            r.v = 0.0
            r.mode = MODE_WAITING if r.plan_id and r.mode != MODE_IDLE else r.mode
            r.battery = max(0.0, r.battery - bat.idle_per_s * h)
            return
        nxt = r.queue[0]
        if nxt.cell in self.obstacles:  # never drive into an obstacle: stand at the cell before it
            r.v = 0.0
            r.mode = MODE_WAITING
            return
        dx, dy = nxt.x - r.x, nxt.y - r.y
        heading = math.atan2(dy, dx)
        err = (heading - r.theta + math.pi) % (2 * math.pi) - math.pi
        r.mode = MODE_MOVING
        r.battery = max(0.0, r.battery - bat.moving_per_s * h)
        if abs(err) > 1e-6 and r.v <= 1e-9:
            turn = self.kin.turn_rate * h
            r.theta = heading if abs(err) <= turn else r.theta + math.copysign(turn, err)
            return
        stop = self._stop_distance(r, heading)
        v_cap = min(self.kin.max_speed, math.sqrt(2.0 * self.kin.max_accel * stop))
        r.v = min(v_cap, r.v + self.kin.max_accel * h)
        travel = min(r.v * h, stop)
        self._move(r, travel, events)

    def _stop_distance(self, r: SimRobot, heading: float) -> float:
        """Distance along the current straight run to where the robot must stand still."""
        dist = 0.0
        px, py = r.x, r.y
        for wp in r.queue:
            if wp.cell in self.obstacles:
                break
            seg = math.hypot(wp.x - px, wp.y - py)
            if seg > 1e-9:
                if abs((math.atan2(wp.y - py, wp.x - px) - heading + math.pi) % (2 * math.pi)
                       - math.pi) > 1e-6:
                    break
                dist += seg
            if wp.op != OP_NONE:
                break
            px, py = wp.x, wp.y
        return dist

    def _move(self, r: SimRobot, travel: float, events: list[SimEvent]) -> None:
        while travel > 1e-12 and r.queue:
            wp = r.queue[0]
            d = math.hypot(wp.x - r.x, wp.y - r.y)
            if d <= travel + 1e-9:
                r.odometer += d
                travel -= d
                r.x, r.y = wp.x, wp.y
                r.queue.popleft()
                self._arrive(r, wp, events)
                if r.op_left > 0.0 or (r.queue and math.hypot(
                        r.queue[0].x - r.x, r.queue[0].y - r.y) > 1e-9 and abs(
                        (math.atan2(r.queue[0].y - r.y, r.queue[0].x - r.x) - r.theta + math.pi)
                        % (2 * math.pi) - math.pi) > 1e-6):
                    r.v = 0.0
                    return
            else:
                r.x += (wp.x - r.x) * travel / d
                r.y += (wp.y - r.y) * travel / d
                r.odometer += travel
                travel = 0.0
        if not r.queue:
            r.v = 0.0

    def _arrive(self, r: SimRobot, wp: Waypoint, events: list[SimEvent]) -> None:
        r.cell = wp.cell
        r.reached = wp.index
        if wp.op != OP_NONE:
            r.op, r.op_left, r.op_index = wp.op, max(wp.op_duration, 1e-6), wp.index
            r.mode = MODE_OF_OP.get(wp.op, MODE_WAITING)
            r.v = 0.0

    def _finish_op(self, r: SimRobot, events: list[SimEvent]) -> None:
        op, r.op, r.op_left = r.op, OP_NONE, 0.0
        r.mode = MODE_WAITING
        if op == OP_LIFT:
            rack = self.racks.pop(r.cell, "")
            if rack and not r.carrying and rack not in self.jammed:
                r.carrying = rack
                events.append(SimEvent(r.name, "lifted", r.op_index, rack))
            else:
                if rack:
                    self.racks[r.cell] = rack
                events.append(SimEvent(r.name, "lift_failed", r.op_index, rack))
        elif op == OP_DROP:
            if r.carrying and r.cell not in self.racks:
                self.racks[r.cell] = r.carrying
                events.append(SimEvent(r.name, "dropped", r.op_index, r.carrying))
                r.carrying = ""
            else:
                events.append(SimEvent(r.name, "drop_failed", r.op_index, r.carrying))
        elif op == OP_PICK:
            events.append(SimEvent(r.name, "picked", r.op_index, r.carrying))
        elif op == OP_CHARGE:
            events.append(SimEvent(r.name, "charged", r.op_index))


@dataclass
class DelayInjector:
    """Seeded random stalls: each robot stalls ``rate_per_hour`` times per hour on average,
    for a duration drawn uniformly from ``duration_s``."""

    rate_per_hour: float
    duration_s: tuple[float, float]
    seed: int

    def __post_init__(self) -> None:
        import random
        self.rng = random.Random(self.seed)

    def state(self) -> list:
        """The generator's state, JSON-able (a restarted simulator draws on from it)."""
        version, internal, gauss = self.rng.getstate()
        return [version, list(internal), gauss]

    def set_state(self, state: list) -> None:
        version, internal, gauss = state
        self.rng.setstate((version, tuple(internal), gauss))

    def apply(self, sim: FloorSim, dt: float) -> list[str]:
        """Stall some robots for this step of ``dt`` seconds; returns their names."""
        if self.rate_per_hour <= 0:
            return []
        p = self.rate_per_hour * dt / 3600.0
        hit = [name for name in sim.robots if self.rng.random() < p]
        for name in hit:
            sim.stall(name, self.rng.uniform(*self.duration_s))
        return hit

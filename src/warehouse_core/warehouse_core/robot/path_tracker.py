"""Path tracker for a differential-drive base that follows released plan waypoints.

ROS-free core of the robot node's ``cmd_vel``/``odom`` drive backend (Gazebo and real bases).
It drives like the floor simulator: straight runs between cell centres, a stop and a turn in
place at every corner, a stop at every waypoint with an operation (which is then held for
its duration), and a planned stop at the last *released* waypoint, so the base never drives
into the cell of a waypoint the planner has not released yet.

* Speed: trapezoidal within ``max_speed`` / ``max_accel``; the speed cap
  ``sqrt(2 * max_accel * distance_to_stop)`` always leaves room to brake at the run's end.
* Cross-track: while driving, the heading reference is the segment heading minus
  ``atan(k_lateral * e)`` (``e``: signed lateral error, left positive), so the base steers back
  onto the line; the angular rate is ``k_heading`` times the heading error, limited.
* Turns in place: angular rate within ``turn_rate`` and ``max_angular_accel``, with a braking
  profile and a proportional end (``k_turn``) so latency does not make it overshoot; the
  last ``heading_tolerance`` is corrected while driving.
* Progress: index of the last waypoint reached (within ``arrive_tolerance`` of its centre
  along the run, and passed); waits (a waypoint on the same spot) count when released.
* Latency: with ``latency`` > 0 the pose is first predicted that far ahead with the last
  command, so the feedback acts on where the base will be when the command takes effect.
* Stale odometry: without a pose for ``odom_timeout`` s, :meth:`PathTracker.control`
  returns a zero command and ``stale=True``.

Units: metres, seconds, radians; poses in one fixed frame (the node uses ``map``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from warehouse_core.robot.waypoint_window import WaypointWindow


def wrap(a: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True)
class TrackerConfig:
    """Limits and gains of the tracker."""

    max_speed: float = 1.5  # m/s
    max_accel: float = 1.0  # m/s^2 (also used to brake)
    turn_rate: float = math.pi / 2  # rad/s
    max_angular_accel: float = 3.0  # rad/s^2
    k_lateral: float = 2.0  # rad of heading correction per m of lateral error (through atan)
    k_heading: float = 2.5  # 1/s: angular rate per rad of heading error while driving
    arrive_tolerance: float = 0.05  # m: a waypoint counts as reached this close (along the run)
    heading_tolerance: float = 0.06  # rad: a turn in place ends within this
    k_turn: float = 2.5  # 1/s: angular rate per rad of heading error near the end of a turn
    turn_threshold: float = 0.4  # rad: a larger heading error stops the base to turn in place
    min_speed: float = 0.05  # m/s: creep speed for the last centimetres of a run
    odom_timeout: float = 0.5  # s without odometry: stop, stale
    latency: float = 0.0  # s: predict the pose this far ahead with the last command (actuation delay)


@dataclass(frozen=True)
class TrackWaypoint:
    """One waypoint of the plan: its centre, and how long to stand there on arrival."""

    x: float
    y: float
    dwell: float = 0.0  # s: an operation (lift, drop, pick, charge) held on arrival; forces a stop


_PASSED = TrackWaypoint(math.nan, math.nan, 0.0)  # what a forgotten waypoint reads as


@dataclass(frozen=True)
class Command:
    """Velocity command for the base and the tracker's status."""

    v: float  # m/s forward
    w: float  # rad/s, counter-clockwise
    progress: int  # index of the last waypoint reached (-1: no path)
    stale: bool = False  # odometry timed out: the command is zero
    dwelling: bool = False  # holding at ``progress`` for its operation
    moving: bool = False  # driving or turning towards a released waypoint


class PathTracker:
    """Follows the released part of a waypoint path; see the module docstring."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.cfg = config or TrackerConfig()
        # waypoints by absolute path index; those before ``progress`` are forgotten (a plan can
        # grow for hours while the base follows it)
        self.waypoints: WaypointWindow[TrackWaypoint] = WaypointWindow([], _PASSED)
        self.released = -1
        self.progress = -1
        self.pose: tuple[float, float, float] | None = None
        self.pose_time = -math.inf
        self.v = 0.0  # last commanded speeds
        self.w = 0.0
        self.turning = False
        self.dwell_until = -math.inf
        self._last_t: float | None = None

    # -- inputs --------------------------------------------------------------------------
    def set_path(self, waypoints: Sequence[TrackWaypoint]) -> None:
        """A new path; its first waypoint is where the base stands (reached, released)."""
        self.waypoints = WaypointWindow(waypoints, _PASSED)
        self.progress = 0 if self.waypoints else -1
        self.released = self.progress
        self.turning = False
        self.dwell_until = -math.inf

    def extend(self, waypoints: Sequence[TrackWaypoint]) -> None:
        """Append the next segment of the current path."""
        self.waypoints.extend(waypoints)

    def release(self, index: int) -> None:
        """The base may drive up to and including waypoint ``index`` (never lowered)."""
        self.released = max(self.released, min(index, len(self.waypoints) - 1))

    def update_pose(self, x: float, y: float, yaw: float, t: float) -> None:
        """Latest odometry pose and its time."""
        self.pose = (x, y, yaw)
        self.pose_time = t

    # -- control -------------------------------------------------------------------------
    def control(self, t: float) -> Command:
        """The command at time ``t`` (call at a fixed rate)."""
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        if self.pose is None or t - self.pose_time > self.cfg.odom_timeout:
            self.v = self.w = 0.0
            self.turning = False
            return Command(0.0, 0.0, self.progress, stale=True)
        if t < self.dwell_until:
            return self._stop(dwelling=True)
        measured = self.pose
        if self.cfg.latency > 0.0:
            self.pose = self._predict(self.pose, self.cfg.latency)
        try:
            return self._control(t, dt)
        finally:
            self.pose = measured

    def _predict(self, pose: tuple[float, float, float], h: float) -> tuple[float, float, float]:
        """Where the last command takes the base in ``h`` s (it acts that much later)."""
        x, y, yaw = pose
        mid = yaw + 0.5 * self.w * h
        return x + self.v * h * math.cos(mid), y + self.v * h * math.sin(mid), wrap(yaw + self.w * h)

    def _control(self, t: float, dt: float) -> Command:
        self._advance_progress(t)
        if t < self.dwell_until:
            return self._stop(dwelling=True)
        j = self._next_target()
        if j is None:
            return self._stop()
        return self._drive(j, dt)

    # -- internals -----------------------------------------------------------------------
    def _stop(self, dwelling: bool = False) -> Command:
        self.v = self.w = 0.0
        self.turning = False
        return Command(0.0, 0.0, self.progress, dwelling=dwelling)

    def _same_spot(self, a: TrackWaypoint, b: TrackWaypoint) -> bool:
        return math.hypot(a.x - b.x, a.y - b.y) < 1e-6

    def _arrive(self, i: int, t: float) -> None:
        self.progress = i
        self.waypoints.forget_before(i)  # steering only looks at progress and after
        if self.waypoints[i].dwell > 0.0:
            self.dwell_until = t + self.waypoints[i].dwell

    def _advance_progress(self, t: float) -> None:
        """Mark released waypoints reached: waits on the spot, and the target when passed."""
        assert self.pose is not None
        x, y, _ = self.pose
        while self.progress + 1 <= self.released:
            a, b = self.waypoints[self.progress], self.waypoints[self.progress + 1]
            if not self._same_spot(a, b):
                seg = math.hypot(b.x - a.x, b.y - a.y)
                along = ((x - a.x) * (b.x - a.x) + (y - a.y) * (b.y - a.y)) / seg
                # passed along the run, and on its line: a base that went past the waypoint (a
                # late control step, an overshoot) has reached it, however far past it went
                lateral = abs((y - a.y) * (b.x - a.x) - (x - a.x) * (b.y - a.y)) / seg
                if along < seg - self.cfg.arrive_tolerance or lateral > 3.0 * self.cfg.arrive_tolerance + 0.1:
                    return
            self._arrive(self.progress + 1, t)
            if t < self.dwell_until:
                return

    def _next_target(self) -> int | None:
        j = self.progress + 1
        return j if j <= self.released else None

    def _run_end(self, j: int) -> float:
        """Distance from waypoint ``j - 1`` to where the straight run through ``j`` must stop."""
        a, b = self.waypoints[j - 1], self.waypoints[j]
        heading = math.atan2(b.y - a.y, b.x - a.x)
        dist = math.hypot(b.x - a.x, b.y - a.y)
        k = j
        while k + 1 <= self.released and self.waypoints[k].dwell <= 0.0:
            p, q = self.waypoints[k], self.waypoints[k + 1]
            if self._same_spot(p, q):
                break  # a wait: the plan holds the base here
            if abs(wrap(math.atan2(q.y - p.y, q.x - p.x) - heading)) > 1e-3:
                break  # a corner
            dist += math.hypot(q.x - p.x, q.y - p.y)
            k += 1
        return dist

    def _drive(self, j: int, dt: float) -> Command:
        assert self.pose is not None
        cfg = self.cfg
        x, y, yaw = self.pose
        a, b = self.waypoints[j - 1], self.waypoints[j]
        seg = math.hypot(b.x - a.x, b.y - a.y)
        heading = math.atan2(b.y - a.y, b.x - a.x)
        ux, uy = (b.x - a.x) / seg, (b.y - a.y) / seg
        along = (x - a.x) * ux + (y - a.y) * uy
        lateral = -(x - a.x) * uy + (y - a.y) * ux  # left of the line positive
        err = wrap(heading - yaw)
        if not self.turning and abs(err) > cfg.turn_threshold and self.v < 0.05:
            self.turning = True
        if self.turning:
            if abs(err) <= cfg.heading_tolerance:
                self.turning = False
            else:
                # angular rate that can still brake to zero at the target heading
                w_cap = min(cfg.turn_rate, math.sqrt(2.0 * cfg.max_angular_accel * abs(err)),
                            cfg.k_turn * abs(err))
                w_want = math.copysign(w_cap, err)
                dw = cfg.max_angular_accel * dt
                self.w = min(max(w_want, self.w - dw), self.w + dw)
                self.v = 0.0
                return Command(0.0, self.w, self.progress, moving=True)
        stop = self._run_end(j) - along
        if stop > cfg.arrive_tolerance * 0.5:
            v_cap = max(cfg.min_speed, math.sqrt(2.0 * cfg.max_accel * stop))
        else:
            v_cap = 0.0
        v_want = min(cfg.max_speed, v_cap)
        if abs(err) > cfg.turn_threshold:
            v_want = 0.0  # knocked off heading: stop and turn
        v = min(v_want, self.v + cfg.max_accel * dt)
        self.v = max(v, 0.0)
        ref = wrap(heading - math.atan(cfg.k_lateral * lateral))
        w = cfg.k_heading * wrap(ref - yaw)
        self.w = max(-cfg.turn_rate, min(cfg.turn_rate, w))
        if self.v <= 0.0:
            self.w = max(-cfg.turn_rate, min(cfg.turn_rate, cfg.k_heading * err))
        return Command(self.v, self.w, self.progress, moving=True)

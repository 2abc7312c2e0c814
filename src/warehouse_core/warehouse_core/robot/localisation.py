"""A robot's frames after REP-105: ``map -> odom`` from a localisation source, ``odom -> base_link``
from its odometry.

Odometry is continuous but drifts; a localisation source (AMCL's ``amcl_pose``, a fiducial or
grid-code reader) says now and then where the robot is in ``map``. Each such reading, stamped
``t``, sets the correction ``map -> odom`` to the localised pose composed with the inverse of the
odometry pose at ``t`` (taken from a short history of odometry, interpolated between the two
samples around ``t``: the reading describes the robot when it was taken, not when it arrived).
Between readings the last correction holds; before the first one it is the configured initial
pose. A reading newer than the odometry history (it can overtake the first odometry at start) waits
for the odometry that covers its stamp instead of being lost. The map pose of the robot is the
correction composed with its newest odometry pose.

Poses are planar ``(x, y, yaw)`` tuples; nothing here depends on ROS.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

Pose = tuple[float, float, float]

IDENTITY: Pose = (0.0, 0.0, 0.0)


def wrap(a: float) -> float:
    """``a`` in [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def compose(a: Pose, b: Pose) -> Pose:
    """``a * b``: pose ``b`` given in frame ``a``, expressed in ``a``'s parent frame."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1], wrap(a[2] + b[2])


def inverse(a: Pose) -> Pose:
    """The pose ``i`` with ``compose(a, i) == IDENTITY``."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return -c * a[0] - s * a[1], s * a[0] - c * a[1], wrap(-a[2])


def interpolate(a: Pose, b: Pose, f: float) -> Pose:
    """The pose a fraction ``f`` of the way from ``a`` to ``b`` (yaw along the shorter turn)."""
    return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), wrap(a[2] + f * wrap(b[2] - a[2]))


class OdomHistory:
    """The last ``length`` seconds of odometry poses, to find the pose at a reading's stamp."""

    def __init__(self, length: float = 2.0, max_samples: int = 200) -> None:
        self.length = length
        self.times: deque[float] = deque(maxlen=max_samples)
        self.poses: deque[Pose] = deque(maxlen=max_samples)

    def add(self, t: float, pose: Pose) -> None:
        """Append a sample; an older stamp than the newest (a reset clock) starts the history over."""
        if self.times and t < self.times[-1]:
            self.times.clear()
            self.poses.clear()
        self.times.append(t)
        self.poses.append(pose)
        while len(self.times) > 1 and self.times[0] < t - self.length:
            self.times.popleft()
            self.poses.popleft()

    @property
    def newest(self) -> tuple[float, Pose] | None:
        return (self.times[-1], self.poses[-1]) if self.times else None

    def at(self, t: float, tolerance: float) -> Pose | None:
        """The odometry pose at time ``t``: interpolated between the samples around it, the nearest
        sample when ``t`` is off either end by at most ``tolerance`` s; None when it is farther."""
        if not self.times:
            return None
        times = list(self.times)
        i = bisect.bisect_left(times, t)
        if i == 0:
            return self.poses[0] if times[0] - t <= tolerance else None
        if i == len(times):
            return self.poses[-1] if t - times[-1] <= tolerance else None
        t0, t1 = times[i - 1], times[i]
        f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        return interpolate(self.poses[i - 1], self.poses[i], f)


@dataclass
class Correction:
    """The current ``map -> odom`` and where it comes from."""

    map_to_odom: Pose
    localised: bool = False  # False: the configured initial pose
    stamp: float | None = None  # of the reading it comes from
    updates: int = 0
    rejected: int = 0  # readings whose stamp the odometry history does not cover


class Localiser:
    """``map -> odom`` from localisation readings over odometry (see the module docstring).

    ``tolerance``: how far (s) a reading's stamp may lie outside the odometry history and still be
    matched to its nearest sample; readings farther off are rejected (counted), the correction kept.
    """

    def __init__(self, initial: Pose = IDENTITY, history: float = 2.0, tolerance: float = 0.5) -> None:
        self.correction = Correction(tuple(initial))  # type: ignore[arg-type]
        self.history = OdomHistory(history)
        self.tolerance = tolerance
        self.pending: tuple[float, Pose] | None = None  # a reading ahead of the odometry history

    def on_odom(self, t: float, odom_pose: Pose) -> Pose:
        """Record an odometry pose (in ``odom``); returns the robot's pose in ``map`` now."""
        self.history.add(t, odom_pose)
        if self.pending is not None and (t >= self.pending[0] or self.pending[0] - t <= self.tolerance):
            stamp, map_pose = self.pending
            self.pending = None
            self._apply(stamp, map_pose)
        return compose(self.correction.map_to_odom, odom_pose)

    def on_localised(self, t: float, map_pose: Pose) -> bool:
        """A localisation reading stamped ``t``: the robot stood at ``map_pose`` in ``map``. True
        when it updated the correction; False when no odometry matches its stamp yet (a reading
        newer than the odometry waits for it, see :attr:`pending`) or any more (counted rejected)."""
        newest = self.history.newest
        if newest is None or t > newest[0] + self.tolerance:
            self.pending = (t, map_pose)  # the odometry of its time has not arrived yet
            return False
        return self._apply(t, map_pose)

    def _apply(self, t: float, map_pose: Pose) -> bool:
        odom_pose = self.history.at(t, self.tolerance)
        if odom_pose is None:
            self.correction.rejected += 1
            return False
        c = self.correction
        c.map_to_odom = compose(map_pose, inverse(odom_pose))
        c.localised, c.stamp, c.updates = True, t, c.updates + 1
        return True

    def set_initial(self, map_to_odom: Pose) -> None:
        """Set the correction before any reading (a base whose initial pose is learnt at start)."""
        if not self.correction.localised:
            self.correction.map_to_odom = tuple(map_to_odom)  # type: ignore[assignment]

    def map_pose(self, odom_pose: Pose) -> Pose:
        """``odom_pose`` (in ``odom``) in ``map`` with the current correction."""
        return compose(self.correction.map_to_odom, odom_pose)

    def status(self, now: float, stale_after: float) -> tuple[str, bool]:
        """(what the correction comes from, whether that is a problem) at sim time ``now``."""
        c = self.correction
        if not c.localised:
            return "no localisation reading: map -> odom is the configured initial pose", False
        age = now - (c.stamp or 0.0)
        if stale_after > 0 and age > stale_after:
            return f"last localisation reading {age:.1f} s old", True
        return f"localised {age:.1f} s ago ({c.updates} readings, {c.rejected} unmatched)", False

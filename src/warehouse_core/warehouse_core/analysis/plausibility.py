"""Which robot positions read from a bag are physically possible: damage that still deserialises.

sqlite3 storage has no checksums, so a changed byte inside a float or a stamp of a message reaches
the analysis as a value (an MCAP chunk written without its CRC likewise). Nothing tells such a
value from a true one except physics, so what is excluded is what no robot can do:

* a position that is not finite (NaN/inf);
* a time outside the bag's span (the declared start and duration, :data:`SPAN_SLACK_S` either side);
* a position farther outside the map recorded in the bag than the map's own size (odometry frames
  may be offset from the map frame, but not by more than the floor);
* a robot id of a batched message that only that one or two messages of a long stream list;
* a lone spike: reaching a sample from the robot's previous one, and the next one from it, takes
  more than :data:`MAX_SPEED_MPS` (plus :data:`JUMP_M` for a localisation correction) or time going
  back, while the previous and the next samples fit each other.

A jump to a place the robot then stays at is kept (the robot is there: a relocalisation, a robot
carried away), and so is a clock that goes back and runs on; both are said in a warning. Every
excluded sample is counted per topic and reason with the time span it covered, so that the
warnings name what was left out of the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_SPEED_MPS = 50.0  # no warehouse robot drives 180 km/h
JUMP_M = 5.0  # a localisation correction may move a pose this far at once
TIME_SLACK_S = 1.0  # stamps of one robot may go back this much (publishers, recorders)
SPAN_SLACK_S = 10.0  # samples this far outside the bag's declared span are still its own
FEW_LISTINGS, LONG_STREAM = 2, 50  # an id listed this rarely in a stream this long is not a robot

NOT_FINITE = "position not finite (NaN/inf)"
OFF_SPAN = "time outside the bag's span"
SPIKE = f"position jump faster than {MAX_SPEED_MPS:g} m/s away from the robot's track and back"
OUT_OF_ORDER = "time out of order (before the robot's previous sample or after its next)"


@dataclass
class Excluded:
    """Samples of one topic left out for one reason: how many and the bag time they span."""

    label: str
    reason: str
    count: int = 0
    first: float = math.inf
    last: float = -math.inf

    def add(self, t: np.ndarray) -> None:
        self.count += len(t)
        self.first, self.last = min(self.first, float(t.min())), max(self.last, float(t.max()))

    def text(self) -> str:
        span = f"{self.first:.1f}" if self.first == self.last else f"{self.first:.1f}-{self.last:.1f}"
        return f"{self.label}: {self.count} message(s) excluded from the metrics (bag time {span} s): {self.reason}"


class PlausibilityScreen:
    """Screens each robot's samples (see module docstring); times in seconds since the bag start."""

    def __init__(self, span_s: float) -> None:
        self.lo, self.hi = -SPAN_SLACK_S, max(span_s, 0.0) + SPAN_SLACK_S
        self.bounds: tuple[float, float, float, float] | None = None
        self.outside = ""
        self.excluded: dict[tuple[str, str], Excluded] = {}
        self.jumps: list[str] = []

    def set_map(self, extent: tuple[float, float, float, float], source: str) -> None:
        """Positions farther outside ``extent`` (xmin, xmax, ymin, ymax) than its size are absurd."""
        x0, x1, y0, y1 = extent
        margin = max(x1 - x0, y1 - y0, 1.0)
        self.bounds = (x0 - margin, x1 + margin, y0 - margin, y1 + margin)
        self.outside = f"position more than {margin:.0f} m outside the map ({source})"

    def exclude(self, label: str, reason: str, t: np.ndarray) -> None:
        if len(t):
            self.excluded.setdefault((label, reason), Excluded(label, reason)).add(np.asarray(t, dtype=float))

    def screen(self, label: str, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mask of the samples (recording order) that stay; the others are counted."""
        keep = (t >= self.lo) & (t <= self.hi)
        self.exclude(label, OFF_SPAN, t[~keep])
        if self.bounds is not None:
            x0, x1, y0, y1 = self.bounds
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            self.exclude(label, self.outside, t[keep & ~inside])
            keep &= inside
        idx = np.flatnonzero(keep)
        ti, xi, yi = t[idx], x[idx], y[idx]
        if len(idx) > 1 and not _fits(ti[:-1], xi[:-1], yi[:-1], ti[1:], xi[1:], yi[1:]).all():
            bad, jumps = _spikes(ti, xi, yi)
            for reason, sel in ((OUT_OF_ORDER, bad == 2), (SPIKE, bad == 1)):
                self.exclude(label, reason, ti[sel])
            keep[idx[bad > 0]] = False
            self.jumps += [_jump(label, ti[a], ti[k], math.hypot(xi[k] - xi[a], yi[k] - yi[a])) for k, a in jumps]
        return keep

    def warnings(self) -> list[str]:
        return [e.text() for e in self.excluded.values()] + self.jumps


def _jump(label: str, ta: float, tb: float, metres: float) -> str:
    if tb < ta - TIME_SLACK_S:
        return (f"{label}: time goes back {ta - tb:.1f} s at bag time {ta:.1f} s (a restarted clock?); the samples "
                "after it are kept, in time order")
    return (f"{label}: a jump of {metres:.1f} m in {tb - ta:.1f} s at bag time {tb:.1f} s (faster than "
            f"{MAX_SPEED_MPS:g} m/s) is kept: the robot stayed where it jumped to")


def _fits(ta, xa, ya, tb, xb, yb):
    """Whether a robot can go from sample a to sample b (elementwise)."""
    dt = tb - ta
    return (dt >= -TIME_SLACK_S) & (np.hypot(xb - xa, yb - ya) <= MAX_SPEED_MPS * np.maximum(dt, 0.0) + JUMP_M)


def _spikes(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Per sample 0 (kept), 1 (position spike) or 2 (time out of order), and the kept jumps
    ``(sample, previous kept sample)``: one pass with one sample of look-ahead, kept whole as the
    documented rule of the module docstring."""
    n = len(t)
    bad = np.zeros(n, dtype=np.int8)
    jumps: list[tuple[int, int]] = []

    def fits(a: int, b: int) -> bool:
        return bool(_fits(t[a], x[a], y[a], t[b], x[b], y[b]))

    a = -1  # the last kept sample
    for k in range(n):
        nxt = k + 1 if k + 1 < n else -1
        if a < 0:
            if nxt >= 0 and k + 2 < n and not fits(k, nxt) and fits(nxt, k + 2):
                bad[k] = _why(t, a, k, nxt)
                continue
        elif fits(a, k):
            if nxt >= 0 and not fits(k, nxt) and fits(a, nxt):
                bad[k] = _why(t, a, k, nxt)
                continue
        elif nxt < 0 or fits(a, nxt) or not fits(k, nxt):
            bad[k] = _why(t, a, k, nxt)
            continue
        else:
            jumps.append((k, a))
        a = k
    return bad, jumps


def _why(t: np.ndarray, a: int, k: int, nxt: int) -> int:
    back = (a >= 0 and t[k] < t[a] - TIME_SLACK_S) or (nxt >= 0 and t[k] > t[nxt] + TIME_SLACK_S)
    return 2 if back else 1


def rare_ids(listed: dict[str, int], messages: int) -> dict[str, int]:
    """Robot ids of a batched stream of ``messages`` messages that too few of them list."""
    if messages < LONG_STREAM:
        return {}
    return {name: n for name, n in listed.items() if n <= FEW_LISTINGS}


__all__ = ["MAX_SPEED_MPS", "Excluded", "PlausibilityScreen", "rare_ids"]

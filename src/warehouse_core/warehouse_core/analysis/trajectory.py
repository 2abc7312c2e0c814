"""Robot trajectories from timestamped pose samples: distances and close encounters.

Positions between samples are interpolated linearly. Every robot is resampled on the union
of all sample times; between two consecutive times both robots move linearly, so the
minimum distance of a pair in that interval is found exactly (a quadratic in time).
Candidate pairs come from a KD-tree, so hundreds of robots stay cheap.

A robot is on the floor from the start of the recording until its last sample: a robot
that stops reporting (a failed robot towed away) is not an obstacle afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

# [s] stamps are sums of float ticks: samples one period apart may differ by 2.0000000000000004 s,
# which must not count as longer than a period of 2 s
GAP_SLACK = 1e-6


@dataclass
class Track:
    """Samples of one robot: times [s] and positions [m], sorted by time."""

    name: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @staticmethod
    def from_samples(name: str, samples: list[tuple[float, float, float]]) -> "Track":
        arr = np.asarray(sorted(samples), dtype=float).reshape(-1, 3)
        return Track(name, arr[:, 0], arr[:, 1], arr[:, 2])

    def distance(self) -> float:
        return float(np.hypot(np.diff(self.x), np.diff(self.y)).sum())


@dataclass(frozen=True)
class Encounter:
    """Two robots closer than the threshold from ``t_start`` to ``t_end``."""

    robots: tuple[str, str]
    t_start: float
    t_end: float
    min_distance: float


_AWAY = 1e9  # where a robot no longer on the floor is put (far apart from each other)


def _resample(tracks: list[Track], extra: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    times = np.unique(np.concatenate([tr.t for tr in tracks] + [np.asarray(extra, dtype=float)]))
    xs = np.empty((len(times), len(tracks)))
    ys = np.empty_like(xs)
    present = np.empty(xs.shape, dtype=bool)
    for k, tr in enumerate(tracks):
        xs[:, k] = np.interp(times, tr.t, tr.x)
        ys[:, k] = np.interp(times, tr.t, tr.y)
        present[:, k] = times <= tr.t[-1]
        xs[~present[:, k], k] = _AWAY * (k + 1)
    return times, xs, ys, present


def _known(tracks: list[Track], times: np.ndarray, max_gap: float) -> np.ndarray:
    """``known[k, r]``: robot r has samples at most ``max_gap`` apart around interval k."""
    known = np.ones((max(len(times) - 1, 0), len(tracks)), dtype=bool)
    if len(times) < 2:
        return known
    for r, tr in enumerate(tracks):
        j = np.searchsorted(tr.t, times[:-1], side="right") - 1  # last sample at or before t0
        nxt = np.minimum(j + 1, len(tr.t) - 1)
        inside = (j >= 0) & (j + 1 < len(tr.t))
        gap = np.where(inside, tr.t[nxt] - tr.t[np.maximum(j, 0)], 0.0)
        known[:, r] = gap <= max_gap + GAP_SLACK
    return known


def sample_gaps(tracks: list[Track], max_gap: float) -> list[tuple[str, float, float]]:
    """Every stretch longer than ``max_gap`` seconds without a sample: (robot, start, end)."""
    out = []
    for tr in tracks:
        d = np.diff(tr.t)
        for k in np.nonzero(d > max_gap + GAP_SLACK)[0]:
            out.append((tr.name, float(tr.t[k]), float(tr.t[k + 1])))
    return out


def close_encounters(tracks: list[Track], threshold: float, max_gap: float = 2.0,
                     window: tuple[float, float] | None = None) -> list[Encounter]:
    """Every maximal time span in which two robots are closer than ``threshold`` metres.

    With ``window=(a, b)`` only the time from ``a`` to ``b`` is judged (the tracks may hold
    samples around it for interpolation): a long recording is judged window by window.

    Between two samples more than ``max_gap`` seconds apart a robot's position is unknown (a
    straight line across a long gap would invent a path): such stretches are not judged;
    :func:`sample_gaps` lists them so that a report can say how much was not seen.
    """
    tracks = [tr for tr in tracks if len(tr.t)]
    if len(tracks) < 2:
        return []
    times, xs, ys, present = _resample(tracks, window or ())  # window ends split the intervals
    known = _known(tracks, times, max_gap)
    both = present[:-1] & present[1:] & known  # on the floor and seen for the whole interval
    if window is not None:
        both &= ((times[:-1] >= window[0]) & (times[1:] <= window[1]))[:, None]
    step = np.where(both, np.hypot(np.diff(xs, axis=0), np.diff(ys, axis=0)), 0.0)
    reach = threshold + (2.0 * float(step.max()) if step.size else 0.0)
    open_: dict[tuple[int, int], list[float]] = {}
    found: list[Encounter] = []
    n = len(times)
    for k in range(max(1, n - 1)):
        pts = np.column_stack((xs[k], ys[k]))
        pairs = cKDTree(pts).query_pairs(reach, output_type="ndarray")
        hits: dict[tuple[int, int], float] = {}
        if len(pairs):
            k1 = min(k + 1, n - 1)
            on = present[k1, pairs[:, 0]] & present[k1, pairs[:, 1]] & \
                both[k, pairs[:, 0]] & both[k, pairs[:, 1]]
            pairs = pairs[on]
            i, j = pairs[:, 0], pairs[:, 1]
            p0x, p0y = xs[k, i] - xs[k, j], ys[k, i] - ys[k, j]
            dx, dy = (xs[k1, i] - xs[k1, j]) - p0x, (ys[k1, i] - ys[k1, j]) - p0y
            dd = dx * dx + dy * dy
            s = np.where(dd > 0, np.clip(-(p0x * dx + p0y * dy) / np.where(dd > 0, dd, 1), 0, 1), 0)
            dmin = np.hypot(p0x + s * dx, p0y + s * dy)
            for a, b, d in zip(i[dmin < threshold], j[dmin < threshold], dmin[dmin < threshold]):
                hits[(int(a), int(b))] = float(d)
        t0, t1 = times[k], times[min(k + 1, n - 1)]
        for key, d in hits.items():
            if key in open_:
                span = open_[key]
                span[1] = t1
                span[2] = min(span[2], d)
            else:
                open_[key] = [t0, t1, d]
        for key in [kk for kk in open_ if kk not in hits]:
            t_s, t_e, d = open_.pop(key)
            found.append(Encounter((tracks[key[0]].name, tracks[key[1]].name), t_s, t_e, d))
    for key, (t_s, t_e, d) in open_.items():
        found.append(Encounter((tracks[key[0]].name, tracks[key[1]].name), t_s, t_e, d))
    return sorted(found, key=lambda e: (e.t_start, e.robots))


def min_separation(tracks: list[Track], cap: float = 2.0) -> float:
    """Smallest distance between any two robots over the whole run (capped at ``cap``)."""
    enc = close_encounters(tracks, cap)
    return min((e.min_distance for e in enc), default=cap)

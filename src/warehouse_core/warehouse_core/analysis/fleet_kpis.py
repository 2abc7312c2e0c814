"""Fleet KPIs from odometry and events: per-robot motion, close encounters, tasks, waits.

* Motion (per robot, from its odometry samples): ``distance_m`` is the length of the sampled
  path; ``idle_fraction`` is the share of observed time in which the robot moved slower than
  ``idle_speed`` (stretches longer than ``max_gap`` without a sample are not observed);
  ``mean_speed_mps`` is distance over the time from the first to the last sample.
* Close encounters: :func:`warehouse_core.analysis.trajectory.close_encounters` (positions interpolated
  between samples, gaps not judged), run window by window so that memory stays bounded on
  long recordings of large fleets; spans cut by a window boundary are joined again.
* Tasks and orders (when the bag has our event topics): completed tasks, throughput, task and
  order cycle-time percentiles, and the run KPIs of :mod:`warehouse_core.analysis.metrics`.
* Waits (when the bag has ``/fleet/waits``): per robot, seconds waiting by cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from warehouse_core.analysis.fleet_record import FleetRecord
from warehouse_core.analysis.metrics import operations_kpis, order_kpis, percentile
from warehouse_core.analysis.trajectory import Encounter, Track, close_encounters, sample_gaps
from warehouse_core.ops.model import TASK_DONE

CELLS_PER_WINDOW = 1_000_000  # resampled (time x robot) cells judged at once


@dataclass(frozen=True)
class MotionSettings:
    """Thresholds of the motion KPIs."""

    idle_speed: float = 0.05  # m/s: slower counts as idle
    max_gap: float = 2.0  # s: longer stretches without odometry are not judged


def robot_motion(track: Track, s: MotionSettings) -> dict:
    """``{name, distance_m, idle_fraction, mean_speed_mps, samples}`` of one robot."""
    n = len(track.t)
    dist = track.distance() if n > 1 else 0.0
    dt = np.diff(track.t)
    seen = (dt > 0) & (dt <= s.max_gap)
    observed = float(dt[seen].sum())
    if observed > 0:
        speed = np.hypot(np.diff(track.x), np.diff(track.y))[seen] / dt[seen]
        idle = float(dt[seen][speed < s.idle_speed].sum()) / observed
    else:
        idle = 1.0
    span = float(track.t[-1] - track.t[0]) if n > 1 else 0.0
    return {"name": track.name, "distance_m": round(dist, 3), "idle_fraction": round(idle, 4),
            "mean_speed_mps": round(dist / span, 4) if span > 0 else 0.0, "samples": n}


def windowed_encounters(tracks: list[Track], threshold: float, max_gap: float,
                        cells: int = CELLS_PER_WINDOW) -> list[Encounter]:
    """:func:`close_encounters` over consecutive time windows, spans across windows joined.

    Within a window only robots that can meet are judged together: robots whose sample
    bounding boxes (which hold every interpolated position of the window) come within
    ``threshold`` of each other form groups, and each group of two or more is judged on its
    own. Robots alone are skipped, so unsynchronised clocks (every sample a new time) cost
    in proportion to the samples of robots that are near others, not of the whole fleet.
    """
    tracks = [tr for tr in tracks if len(tr.t)]
    if len(tracks) < 2:
        return []
    times = np.unique(np.concatenate([tr.t for tr in tracks]))
    per = max(2, cells // len(tracks))
    found: list[Encounter] = []
    for k in range(0, max(1, len(times) - 1), per - 1):
        a, b = float(times[k]), float(times[min(k + per - 1, len(times) - 1)])
        sub = []
        for tr in tracks:
            if tr.t[-1] < a:
                continue  # off the floor before this window
            i0 = max(int(np.searchsorted(tr.t, a, side="right")) - 1, 0)  # last sample <= a
            i1 = int(np.searchsorted(tr.t, b, side="left")) + 1  # first sample >= b
            sub.append(Track(tr.name, tr.t[i0:i1], tr.x[i0:i1], tr.y[i0:i1]))
        for group in _groups(sub, threshold):
            found.extend(close_encounters(group, threshold, max_gap, window=(a, b)))
    return _join(found)


def _groups(sub: list[Track], threshold: float) -> list[list[Track]]:
    """Connected groups of robots whose bounding boxes come within ``threshold``."""
    if len(sub) < 2:
        return []
    box = np.array([(tr.x.min(), tr.x.max(), tr.y.min(), tr.y.max()) for tr in sub])
    near = (box[:, None, 0] <= box[None, :, 1] + threshold) & (box[None, :, 0] <= box[:, None, 1] + threshold) & \
        (box[:, None, 2] <= box[None, :, 3] + threshold) & (box[None, :, 2] <= box[:, None, 3] + threshold)
    np.fill_diagonal(near, False)
    if not near.any():
        return []
    count, label = connected_components(csr_matrix(near), directed=False)
    sizes = np.bincount(label, minlength=count)
    return [[sub[i] for i in np.nonzero(label == g)[0]] for g in np.nonzero(sizes >= 2)[0]]


def _join(found: list[Encounter]) -> list[Encounter]:
    """Spans of one pair that touch (a window boundary) become one."""
    by_pair: dict[tuple[str, str], list[Encounter]] = {}
    for e in sorted(found, key=lambda e: (e.robots, e.t_start)):
        spans = by_pair.setdefault(e.robots, [])
        if spans and e.t_start <= spans[-1].t_end + 1e-9:
            last = spans[-1]
            spans[-1] = Encounter(e.robots, last.t_start, max(last.t_end, e.t_end),
                                  min(last.min_distance, e.min_distance))
        else:
            spans.append(e)
    return sorted((e for spans in by_pair.values() for e in spans), key=lambda e: (e.t_start, e.robots))


def encounter_dicts(found: list[Encounter]) -> list[dict]:
    return [{"robots": list(e.robots), "t_start_s": round(float(e.t_start), 3),
             "t_end_s": round(float(e.t_end), 3), "min_distance_m": round(float(e.min_distance), 4)}
            for e in found]


def gap_dicts(tracks: list[Track], max_gap: float) -> list[dict]:
    return [{"robot": r, "t_start_s": round(a, 3), "t_end_s": round(b, 3)} for r, a, b in sample_gaps(tracks, max_gap)]


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    return {"count": len(values), "mean": round(float(np.mean(values)), 2),
            **{f"p{q}": round(percentile(values, q), 2) for q in (50, 90, 95, 99)}}


def task_kpis(rec: FleetRecord, duration_s: float, robots: int) -> dict:
    """Task and order KPIs; empty when the bag has no task events."""
    if not rec.tasks_seen and not rec.run.order_created:
        return {}
    run = rec.run
    done = [t for t, st in rec.task_state.items() if st == TASK_DONE]
    cycles = [run.task_busy[t][1] - run.task_busy[t][0] for t in done
              if t in run.task_busy and np.isfinite(run.task_busy[t][1])]
    order_cycles = [run.order_completed[o] - run.order_created[o]
                    for o in run.order_completed if o in run.order_created]
    hours = duration_s / 3600.0
    out = {
        "tasks_completed": len(done),
        "throughput_per_hour": round(len(done) / hours, 2) if hours > 0 else 0.0,
        "task_cycle_s": _percentiles(cycles),
        "order_cycle_s": _percentiles(order_cycles),
    }
    out.update(order_kpis(run, duration_s))
    out.update(operations_kpis(run, duration_s, robots))
    return out


def busy_intervals(rec: FleetRecord, end_t: float) -> dict[str, list[tuple[float, float]]]:
    """Per robot, the spans in which it had a task (assigned to finished)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for tid, (start, end) in rec.run.task_busy.items():
        robot = rec.task_robot.get(tid)
        if robot:
            out.setdefault(robot, []).append((start, min(end, end_t)))
    return out


def waiting(rec: FleetRecord) -> dict[str, dict]:
    """Per robot: ``{waiting_s, wait_causes: [{cause, blocker, seconds, count}]}``, longest first."""
    out = {}
    for robot, causes in rec.wait_causes.items():
        items = sorted(causes.values(), key=lambda c: -c.seconds)
        out[robot] = {"waiting_s": round(sum(c.seconds for c in items), 2),
                      "wait_causes": [{"cause": c.kind, "blocker": c.blocker, "seconds": round(c.seconds, 2),
                                       "count": c.count} for c in items]}
    return out

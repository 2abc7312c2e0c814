"""Key performance indicators of a run, computed from its recorded events.

The inputs are plain records (what the bag holds), so the same code serves a live run
(``./warehouse run``) and the analysis of a recorded one.

Per-message series (planner timings) are kept as :class:`BoundedSample`, and parcel manifests
as a running :class:`PackagingTally`, so a long run's recorder does not grow with every plan
and every box.
"""

from __future__ import annotations

import random
import sys
from array import array
from dataclasses import dataclass, field

import numpy as np

from warehouse_core.ops.model import (
    ORDER_ACCEPTED,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_REJECTED,
    TASK_ASSIGNED,
    TASK_CANCELLED,
    TASK_DONE,
    TASK_FAILED,
)


class BoundedSample:
    """A series of floats in bounded memory: every value while there are at most ``capacity``
    (8 bytes each; percentiles are exact), then a uniform random sample of that size
    (reservoir sampling, Vitter's algorithm R, seeded), so percentiles are estimates only past
    ``capacity`` values. The default holds a day of plans at two a second."""

    def __init__(self, capacity: int = 1 << 18, seed: int = 0) -> None:
        self.capacity = capacity
        self.seen = 0
        self._values = array("d")
        self._rng = random.Random(seed)

    def append(self, value: float) -> None:
        self.seen += 1
        if len(self._values) < self.capacity:
            self._values.append(value)
        else:
            k = self._rng.randrange(self.seen)
            if k < self.capacity:
                self._values[k] = value

    def __len__(self) -> int:
        return len(self._values)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.array(self._values, dtype=dtype if dtype is not None else float)


@dataclass
class PackagingTally:
    """Running totals of shipped boxes (from manifest records, one per box): see :func:`packaging_kpis`."""

    boxes: int = 0
    surface_m2: float = 0.0
    utilisation_sum: float = 0.0

    def add(self, manifest: dict) -> None:
        self.boxes += 1
        self.surface_m2 += manifest["box"]["surface_m2"]
        self.utilisation_sum += manifest["utilisation"]

    def kpis(self) -> dict[str, float | int]:
        return {
            "boxes_shipped": self.boxes,
            "packaging_surface_m2": round(self.surface_m2, 3),
            "mean_box_utilisation": round(self.utilisation_sum / self.boxes, 4) if self.boxes else 0.0,
        }


@dataclass
class RunRecord:
    """What happened in a run: order and task events, planner timings.

    Held for a whole run (24 simulated hours in the soak), so what a finished order or task no
    longer needs is dropped when it finishes (its deadline, its lines and pick step) and ids are
    interned (one string shared by the dicts that key on it).
    """

    order_created: dict[str, float] = field(default_factory=dict)  # accepted orders
    order_completed: dict[str, float] = field(default_factory=dict)
    order_cancelled: dict[str, float] = field(default_factory=dict)  # by operators
    orders_rejected: int = 0
    visits: dict[str, int] = field(default_factory=dict)  # task -> lines picked at the station
    task_lines: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (lines, pick step)
    planner_times_s: BoundedSample = field(default_factory=BoundedSample)
    planner_cpu_s: BoundedSample = field(default_factory=BoundedSample)
    order_deadline: dict[str, float] = field(default_factory=dict)  # orders not completed
    parcels: int = 0
    parcel_orders: int = 0
    late_orders: int = 0
    task_busy: dict[str, list[float]] = field(default_factory=dict)  # task -> [start, end]
    charge_tasks: set[str] = field(default_factory=set)
    charging_events: int = 0
    tasks_failed: int = 0
    min_battery: float = 1.0

    def on_battery(self, level: float) -> None:
        self.min_battery = min(self.min_battery, level)

    def on_order(self, order_id: str, deadline: float) -> None:
        if order_id not in self.order_completed:
            self.order_deadline[sys.intern(order_id)] = deadline

    def on_parcel(self, order_ids: list[str], late: bool) -> None:
        self.parcels += 1
        self.parcel_orders += len(order_ids)
        self.late_orders += len(order_ids) if late else 0

    def on_order_status(self, order_id: str, state: int, lines_total: int, t: float) -> None:
        order_id = sys.intern(order_id)
        if state == ORDER_ACCEPTED:
            self.order_created.setdefault(order_id, t)
        elif state == ORDER_REJECTED:
            self.orders_rejected += 1
        elif state == ORDER_COMPLETED:
            self.order_completed[order_id] = t
            self.order_deadline.pop(order_id, None)  # only open orders can still be overdue
        elif state == ORDER_CANCELLED:
            self.order_cancelled[order_id] = t
            self.order_deadline.pop(order_id, None)

    def on_task(self, task_id: str, lines: int, pick_step: int, charge: bool = False) -> None:
        """A new task: for a rack visit, its lines are picked when step ``pick_step`` is complete."""
        task_id = sys.intern(task_id)
        self.task_lines[task_id] = (lines, pick_step)
        if charge:
            self.charge_tasks.add(task_id)

    def on_task_status(self, task_id: str, state: int, steps_done: int, t: float = 0.0) -> None:
        task_id = sys.intern(task_id)
        ended = state in (TASK_DONE, TASK_FAILED, TASK_CANCELLED)
        if state == TASK_ASSIGNED:
            self.task_busy[task_id] = [t, float("inf")]
        elif ended and task_id in self.task_busy:
            self.task_busy[task_id][1] = t
            self.charging_events += state == TASK_DONE and task_id in self.charge_tasks
            self.tasks_failed += state == TASK_FAILED
        lines, pick_step = self.task_lines.get(task_id, (0, -1))
        if pick_step >= 0 and (steps_done > pick_step or state == TASK_DONE):
            self.visits[task_id] = lines
        if ended:  # a repeated end changes nothing more (and a charge is counted once)
            self.task_lines.pop(task_id, None)
            self.charge_tasks.discard(task_id)


def percentile(values: list[float] | BoundedSample, q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def operations_kpis(rec: RunRecord, sim_duration_s: float, robots: int) -> dict[str, float | int]:
    """Parcels, consolidation, deadlines and utilisation."""
    busy = sum(min(end, sim_duration_s) - start for start, end in rec.task_busy.values())
    overdue_open = sum(1 for o, d in rec.order_deadline.items()
                       if d < sim_duration_s and o not in rec.order_completed and o in rec.order_created)
    visits = len(rec.visits)
    completed = len(rec.order_completed)
    return {
        "parcels_shipped": rec.parcels,
        "consolidation_ratio": round(rec.parcel_orders / rec.parcels, 3) if rec.parcels else 0.0,
        "rack_visits_per_order": round(visits / completed, 3) if completed else 0.0,
        "deadline_misses": rec.late_orders + overdue_open,
        "robot_utilization": round(busy / (robots * sim_duration_s), 3) if robots and sim_duration_s > 0 else 0.0,
        "charging_events": rec.charging_events,
        "tasks_reallocated": rec.tasks_failed,
        "min_battery": round(rec.min_battery, 3),
    }


def order_kpis(rec: RunRecord, sim_duration_s: float) -> dict[str, float | int]:
    """Order, pick and rack-visit KPIs (definitions: docs/running.md, report.json)."""
    cycles = [rec.order_completed[o] - rec.order_created[o]
              for o in rec.order_completed if o in rec.order_created]
    lines_in_visits = sum(rec.visits.values())
    visits = len(rec.visits)
    hours = sim_duration_s / 3600.0 if sim_duration_s > 0 else float("nan")
    return {
        "orders_received": len(rec.order_created) + rec.orders_rejected,
        "orders_rejected": rec.orders_rejected,
        "orders_completed": len(rec.order_completed),
        "order_lines_picked": lines_in_visits,
        "throughput_lines_per_hour": round(lines_in_visits / hours, 1) if visits else 0.0,
        "mean_order_cycle_s": round(float(np.mean(cycles)), 2) if cycles else 0.0,
        "p95_order_cycle_s": round(percentile(cycles, 95), 2),
        "rack_visits": visits,
        "picks_per_rack_visit": round(lines_in_visits / visits, 3) if visits else 0.0,
        "planner_p99_ms": round(percentile(rec.planner_times_s, 99) * 1000.0, 2),
        "planner_p50_ms": round(percentile(rec.planner_times_s, 50) * 1000.0, 2),
        "planner_cpu_p99_ms": round(percentile(rec.planner_cpu_s, 99) * 1000.0, 2),
    }


def packaging_kpis(manifests: list[dict]) -> dict[str, float | int]:
    """Boxes shipped, their total outer surface (packaging material) and mean volume utilisation,
    from ``parcels.jsonl`` records."""
    tally = PackagingTally()
    for m in manifests:
        tally.add(m)
    return tally.kpis()

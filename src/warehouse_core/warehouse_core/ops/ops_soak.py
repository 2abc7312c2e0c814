"""Allocator soak in-process: :class:`~warehouse_core.ops.durable_ops.JournaledOps` driven for many
simulated hours by seeded orders, with the Python heap it holds sampled as it goes (issue 8).

No ROS, planner or floor: every rack visit takes a fixed time and then reports its steps done
and its success, and the robot stands where the visit ended; a replenishment shift refills the
racks to their starting stock every sample period (``OpsConfig.replenish_every``; without it,
stock runs out and orders are refused after a few hours). The heap is ``tracemalloc``'s, after a
garbage collection. Used by ``benchmarks/soak_core.py`` and by the test that the allocator's
memory stays bounded.
"""

from __future__ import annotations

import gc
import heapq
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from warehouse_core.maps.layout import load_layout
from warehouse_core.ops import operations
from warehouse_core.ops.durable_ops import JournaledOps
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.ops.operations import OpsConfig
from warehouse_core.ops.orders import DemandModel
from warehouse_core.ops.store import StateStore


@dataclass
class HourSample:
    """The allocator's state at the end of one simulated hour."""

    hour: float
    heap_bytes: int
    distance_bytes: int  # of the heap: distance tables (a cache bounded by the layout, warms up for hours)
    orders_held: int
    tasks_held: int
    accepted: int
    completed: int


def drive(hours: float, robots: int, orders_per_hour: float, layout_path: str, seed: int,
          store_dir: str | None, visit_s: float = 120.0, round_s: float = 5.0,
          sample_every: float = 3600.0) -> list[HourSample]:
    """Run the allocator for ``hours`` simulated hours; one sample per ``sample_every`` s
    (the first at 0 s, before any order). ``store_dir``: journal there (None: no store)."""
    layout = load_layout(layout_path)
    inventory, placement = load_catalogue(layout, "", 500, seed)
    store = StateStore(Path(store_dir) / "state.db") if store_dir else None
    ops = JournaledOps(layout, inventory, OpsConfig(seed=seed, replenish_every=sample_every), placement=placement,
                       store=store)
    stream = DemandModel(orders_per_hour, inventory.popularity).stream(seed + 7)
    ys, xs = layout.loaded_passable.nonzero()
    for i, (x, y) in enumerate(zip(xs[:robots].tolist(), ys[:robots].tolist())):
        ops.update_robot(f"robot_{i}", (x, y))
    due: list[tuple[float, str, str]] = []  # (finish time, task id, robot)
    accepted = completed = 0
    samples: list[HourSample] = []
    tracemalloc.start()
    now, next_sample = 0.0, 0.0
    while now <= hours * 3600.0 + 1e-9:
        if now >= next_sample - 1e-9:
            gc.collect()
            samples.append(HourSample(now / 3600.0, tracemalloc.get_traced_memory()[0], ops.dist.nbytes,
                                      len(ops.orders), len(ops.tasks), accepted, completed))
            next_sample += sample_every
        for order in stream.until(now):
            accepted += ops.submit(order, now)[0]
        while due and due[0][0] <= now:
            t, tid, robot = heapq.heappop(due)
            task = ops.tasks[tid]
            ops.step_done(tid, len(task.steps), t)
            ops.task_finished(tid, True, t)
            ops.update_robot(robot, task.steps[-1].cell)
        ops.tick(now)
        for task in ops.assign(now):
            heapq.heappush(due, (now + visit_s, task.task_id, task.robot))
        for ev in ops.drain_events():
            completed += isinstance(ev, operations.OrderEvent) and ev.state == operations.ORDER_COMPLETED
        now += round_s
    tracemalloc.stop()
    if store is not None:
        store.close()
    return samples


def growth_per_hour(samples: list[HourSample], from_hour: float = 1.0) -> tuple[float, float]:
    """Heap bytes per hour from the sample at ``from_hour`` to the last one: all of it, and
    without the distance tables."""
    base = next(s for s in samples if s.hour >= from_hour - 1e-9)
    last = samples[-1]
    hours = max(1e-9, last.hour - base.hour)
    return ((last.heap_bytes - base.heap_bytes) / hours,
            (last.heap_bytes - last.distance_bytes - base.heap_bytes + base.distance_bytes) / hours)

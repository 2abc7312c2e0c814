"""Core soak: the allocator's decision state over many simulated hours, in-process.

    .venv/bin/python benchmarks/soak_core.py [--hours 24] [--robots 100] [--orders-per-hour 720]
                                             [--map maps/warehouse_large_layout.yaml] [--seed 42] [--no-store]

Drives the allocator's decision state (journaled to a SQLite file in a temporary directory, as
``./warehouse run`` does) with the order source's seeded demand model, without ROS, planner or
floor: every rack visit takes ``--visit-s`` and then reports its steps done and its success, the
robot standing where the visit ended; a replenishment shift refills the racks to their starting
stock every hour (``OpsConfig.replenish_every``; without it, stock runs out and orders are refused
after a few hours). Every simulated hour it prints the Python heap the run holds (``tracemalloc``,
after a garbage collection), the orders and tasks held in memory and what was accepted /
completed so far, and at the end the heap growth per hour after the first hour. A
memory-bounded allocator shows a flat heap; one that keeps every order and task grows by
the hour. About a minute of CPU per 24 simulated hours at the defaults.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import sys
import tempfile
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core"))

from warehouse_core.maps.layout import load_layout  # noqa: E402
from warehouse_core.ops.durable_ops import JournaledOps  # noqa: E402
from warehouse_core.ops.inventory import load_catalogue  # noqa: E402
from warehouse_core.ops.model import ORDER_COMPLETED, OrderEvent  # noqa: E402
from warehouse_core.ops.operations import OpsConfig  # noqa: E402
from warehouse_core.ops.orders import DemandModel  # noqa: E402
from warehouse_core.ops.store import StateStore  # noqa: E402


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
            completed += isinstance(ev, OrderEvent) and ev.state == ORDER_COMPLETED
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--robots", type=int, default=100)
    p.add_argument("--orders-per-hour", type=float, default=720.0)
    p.add_argument("--map", default=str(ROOT / "maps" / "warehouse_large_layout.yaml"))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--visit-s", type=float, default=120.0, help="simulated seconds a rack visit takes")
    p.add_argument("--no-store", action="store_true", help="no durable store (state in memory only)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        samples = drive(a.hours, a.robots, a.orders_per_hour, a.map, a.seed, None if a.no_store else tmp,
                        a.visit_s)
    print("| sim time [h] | Python heap [MB] | of it distance tables [MB] | orders held | tasks held | "
          "orders accepted | orders completed |")
    print("|---|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s.hour:.0f} | {s.heap_bytes / 1e6:.2f} | {s.distance_bytes / 1e6:.2f} | {s.orders_held:,} | "
              f"{s.tasks_held:,} | {s.accepted:,} | {s.completed:,} |")
    if a.hours >= 2:
        total, rest = growth_per_hour(samples)
        print(f"\nheap growth per hour after the first hour: {total / 1e3:+,.1f} kB/h, "
              f"{rest / 1e3:+,.1f} kB/h without the distance tables (a cache bounded by the layout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Core soak: the allocator's decision state over many simulated hours, in-process (issue 8).

    .venv/bin/python benchmarks/soak_core.py [--hours 24] [--robots 100] [--orders-per-hour 720]
                                             [--map maps/warehouse_large_layout.yaml] [--seed 42] [--no-store]

Drives :class:`~warehouse_core.durable_ops.JournaledOps` (journaled to a SQLite file in a
temporary directory, as ``./warehouse run`` does) with the order source's seeded demand model,
without ROS, planner or floor: every rack visit takes a fixed time (``--visit-s``) and then
reports its steps done and its success, and the robot stands where the visit ended; the racks
are refilled to their starting stock at every sample (without it, stock runs out and orders
are refused after a few hours). Every
simulated hour it prints the Python heap the run holds (``tracemalloc``, after a garbage
collection), the orders and tasks held in memory and what was accepted / completed so far, and
at the end the heap growth per hour after the first hour. A memory-bounded allocator shows a
flat heap; one that keeps every order and task shows a steady growth per hour. Runs in about a
minute per 24 simulated hours at the defaults (CPU time; wall time on a shared machine more).
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

from warehouse_core import operations  # noqa: E402
from warehouse_core.durable_ops import JournaledOps  # noqa: E402
from warehouse_core.inventory import load_catalogue  # noqa: E402
from warehouse_core.layout import load_layout  # noqa: E402
from warehouse_core.operations import OpsConfig  # noqa: E402
from warehouse_core.orders import DemandModel  # noqa: E402
from warehouse_core.store import StateStore  # noqa: E402


@dataclass
class HourSample:
    """The allocator's state at the end of one simulated hour."""

    hour: float
    heap_bytes: int
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
    ops = JournaledOps(layout, inventory, OpsConfig(seed=seed), placement=placement, store=store)
    stream = DemandModel(orders_per_hour, inventory.popularity).stream(seed + 7)
    ys, xs = layout.loaded_passable.nonzero()
    for i, (x, y) in enumerate(zip(xs[:robots].tolist(), ys[:robots].tolist())):
        ops.update_robot(f"robot_{i}", (x, y))
    full_stock = {rack: dict(items) for rack, items in inventory.stock.items()}
    due: list[tuple[float, str, str]] = []  # (finish time, task id, robot)
    accepted = completed = 0
    samples: list[HourSample] = []
    tracemalloc.start()
    now, next_sample = 0.0, 0.0
    while now <= hours * 3600.0 + 1e-9:
        if now >= next_sample - 1e-9:
            gc.collect()
            samples.append(HourSample(now / 3600.0, tracemalloc.get_traced_memory()[0], len(ops.orders),
                                      len(ops.tasks), accepted, completed))
            next_sample += sample_every
            for rack, items in full_stock.items():  # a replenishment shift: racks full again
                inventory.stock[rack].update(items)
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


def growth_per_hour(samples: list[HourSample]) -> float:
    """Heap bytes per hour from the sample at 1 h to the last one."""
    base = next(s for s in samples if s.hour >= 1.0 - 1e-9)
    last = samples[-1]
    return (last.heap_bytes - base.heap_bytes) / max(1e-9, last.hour - base.hour)


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
    print("| sim time [h] | Python heap [MB] | orders held | tasks held | orders accepted | orders completed |")
    print("|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s.hour:.0f} | {s.heap_bytes / 1e6:.2f} | {s.orders_held:,} | {s.tasks_held:,} | "
              f"{s.accepted:,} | {s.completed:,} |")
    if a.hours >= 2:
        g = growth_per_hour(samples)
        base = next(s for s in samples if s.hour >= 1.0 - 1e-9)
        print(f"\nheap growth after the first hour: {g / 1e6:+.3f} MB/h "
              f"({(samples[-1].heap_bytes - base.heap_bytes) / base.heap_bytes * 100:+.1f} % from 1 h to "
              f"{samples[-1].hour:.0f} h)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

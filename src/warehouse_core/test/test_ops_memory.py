"""The allocator's memory is bounded over long runs: shipped orders and finished tasks leave
memory (the durable store keeps them), so what it holds follows the backlog, not the run length."""

import gc
import heapq
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.durable_ops import JournaledOps
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.ops.operations import ORDER_COMPLETED, OpsConfig, OrderEvent
from warehouse_core.ops.orders import DemandModel
from warehouse_core.ops.store import StateStore

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from ops_helpers import journaled, order  # noqa: E402

LAYOUT = Path(__file__).resolve().parents[3] / "maps" / "warehouse_layout.yaml"


def soak(hours: int, robots: int, orders_per_hour: float, store: StateStore) -> dict[int, tuple]:
    """The journaled allocator fed seeded orders, every rack visit done 120 s after it is given;
    per simulated hour: (heap bytes, of it distance tables, orders held, tasks held, orders completed)."""
    layout = load_layout(str(LAYOUT))
    inventory, placement = load_catalogue(layout, "", 500, 3)
    ops = JournaledOps(layout, inventory, OpsConfig(seed=3, replenish_every=3600.0), placement=placement,
                       store=store)  # refilled hourly: a long run would otherwise sell out and refuse orders
    stream = DemandModel(orders_per_hour, inventory.popularity).stream(10)
    ys, xs = layout.loaded_passable.nonzero()
    for i in range(robots):
        ops.update_robot(f"robot_{i}", (int(xs[i]), int(ys[i])))
    due: list[tuple[float, str]] = []
    samples, completed = {}, 0
    tracemalloc.start()
    for now in np.arange(0.0, hours * 3600.0 + 1.0, 5.0).tolist():
        if now % 3600.0 == 0.0:
            gc.collect()
            samples[round(now / 3600.0)] = (tracemalloc.get_traced_memory()[0], ops.dist.nbytes, len(ops.orders),
                                            len(ops.tasks), completed)
        for o in stream.until(now):
            ops.submit(o, now)
        while due and due[0][0] <= now:
            task = ops.tasks[heapq.heappop(due)[1]]
            ops.task_finished(task.task_id, True, now)
            ops.update_robot(task.robot, task.steps[-1].cell)
        ops.tick(now)
        for task in ops.assign(now):
            heapq.heappush(due, (now + 120.0, task.task_id))
        completed += sum(isinstance(e, OrderEvent) and e.state == ORDER_COMPLETED for e in ops.drain_events())
    tracemalloc.stop()
    store.close()
    return samples


def test_orders_tasks_and_heap_stay_flat_over_simulated_hours(tmp_path):
    by_hour = soak(hours=6, robots=8, orders_per_hour=150, store=StateStore(tmp_path / "state.db"))
    assert by_hour[6][4] > 600  # the run did work: about 150 orders an hour went through
    # held: only the backlog (open orders, visits in flight), not everything ever accepted
    assert max(s[2] for s in by_hour.values()) < 100
    assert max(s[3] for s in by_hour.values()) < 40
    # the heap after warm-up, without the distance cache (bounded by the layout, it fills for hours):
    # under 60 kB from 2 h to 6 h (measured ~5 kB/h); keeping every order and task was ~300 kB/h here
    rest = {h: s[0] - s[1] for h, s in by_hour.items()}
    assert rest[6] - rest[2] < 60_000, [round(v / 1e3) for v in rest.values()]


def test_distance_cache_keeps_at_most_max_tables_and_recomputes_the_same():
    layout = load_layout(str(LAYOUT))
    free = np.flatnonzero(layout.grid.free.ravel())[:40].tolist()
    bounded = DistanceCache(layout.grid, layout.storage_mask, max_tables=8)
    full = DistanceCache(layout.grid, layout.storage_mask)
    for _ in range(2):  # the second round recomputes the tables dropped in the first
        for target in free:
            for loaded in (False, True):
                assert np.array_equal(bounded.table(target, loaded), full.table(target, loaded))
                assert len(bounded) <= 8
    assert len(full) == 80
    hot = free[0]
    for target in free[1:20]:  # a table in use is kept: least recently used ones go first
        bounded.table(hot, False)
        bounded.table(target, False)
    assert (hot, False) in bounded._tables and bounded.nbytes < full.nbytes / 5
    with pytest.raises(ValueError, match="max_tables 0"):
        DistanceCache(layout.grid, max_tables=0)


def test_a_retired_order_repeated_is_acknowledged_not_added(tmp_path):
    """After the order is shipped and retired, its repeat is recognised from the store row."""
    ops = journaled(tmp_path / "state.db")
    o = order("O1", ("C", 1))
    assert ops.submit(o, 0) == (True, "O1", "")
    ops.update_robot("robot_0", (0, 0))
    (task,) = ops.assign(1.0)
    ops.task_finished(task.task_id, True, 5.0)
    assert ops.orders["O1"].state == ORDER_COMPLETED
    ops.tick(6.0)
    assert "O1" not in ops.orders and task.task_id not in ops.tasks
    assert ops.submit(o, 7.0) == (True, "O1", "")  # a repeat: same answer, nothing added
    assert not ops.pending and "O1" not in ops.orders
    assert not ops.submit(order("O1", ("C", 2)), 8.0)[0]  # same id, other content: refused
    assert sum(1 for e in ops.store.journal() if e.kind == "order") == 1

"""The allocator's memory is bounded over long runs: shipped orders and finished tasks leave
memory (the durable store keeps them), so what it holds follows the backlog, not the run length."""

import sys
from pathlib import Path

import numpy as np
import pytest

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.operations import ORDER_COMPLETED
from warehouse_core.ops.ops_soak import drive

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from test_operations import order  # noqa: E402
from test_store import journaled  # noqa: E402

LAYOUT = Path(__file__).resolve().parents[3] / "maps" / "warehouse_layout.yaml"


def test_orders_tasks_and_heap_stay_flat_over_simulated_hours(tmp_path):
    samples = drive(hours=6, robots=8, orders_per_hour=150, layout_path=str(LAYOUT), seed=3,
                    store_dir=str(tmp_path))
    by_hour = {round(s.hour): s for s in samples}
    assert by_hour[6].completed > 600  # the run did work: about 150 orders an hour went through
    # held: only the backlog (open orders, visits in flight), not everything ever accepted
    assert max(s.orders_held for s in samples) < 100
    assert max(s.tasks_held for s in samples) < 40
    # the heap after warm-up, without the distance cache (bounded by the layout, it fills for hours):
    # under 60 kB from 2 h to 6 h (measured ~5 kB/h); keeping every order and task was ~300 kB/h here
    rest = {h: s.heap_bytes - s.distance_bytes for h, s in by_hour.items()}
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

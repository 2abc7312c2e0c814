"""The run recorder's per-message series stay bounded: planner timings in a BoundedSample (exact
percentiles up to its capacity, a uniform sample after), manifests as running packaging totals."""

import numpy as np
import pytest

from warehouse_core.analysis.metrics import (
    BoundedSample,
    PackagingTally,
    RunRecord,
    order_kpis,
    packaging_kpis,
    percentile,
)


def test_bounded_sample_is_exact_below_capacity_and_bounded_above():
    rng = np.random.default_rng(1)
    values = rng.gamma(2.0, 0.01, size=5000)
    exact = BoundedSample(capacity=5000)
    for v in values:
        exact.append(float(v))
    assert percentile(exact, 99) == percentile(list(values), 99)  # every value kept: same figure
    small = BoundedSample(capacity=1000, seed=2)
    for v in values:
        small.append(float(v))
    assert len(small) == 1000 and small.seen == 5000
    assert percentile(small, 50) == pytest.approx(np.percentile(values, 50), rel=0.1)  # an estimate past capacity
    assert percentile(small, 99) == pytest.approx(np.percentile(values, 99), rel=0.2)


def test_run_record_planner_percentiles_unchanged():
    rec = RunRecord()
    times = [0.001 * (i % 97) for i in range(3000)]
    for t in times:
        rec.planner_times_s.append(t)
        rec.planner_cpu_s.append(t / 2)
    k = order_kpis(rec, 3600.0)
    assert k["planner_p99_ms"] == round(float(np.percentile(times, 99)) * 1000.0, 2)
    assert k["planner_cpu_p99_ms"] == round(float(np.percentile(times, 99)) * 500.0, 2)


def test_packaging_tally_matches_the_manifest_list():
    manifests = [{"box": {"surface_m2": 0.1 + 0.01 * i}, "utilisation": 0.3 + 0.05 * (i % 7)} for i in range(50)]
    tally = PackagingTally()
    for m in manifests:
        tally.add(m)
    assert tally.kpis() == packaging_kpis(manifests)
    assert tally.kpis()["boxes_shipped"] == 50
    assert tally.kpis()["mean_box_utilisation"] == round(float(np.mean([m["utilisation"] for m in manifests])), 4)
    assert PackagingTally().kpis() == {"boxes_shipped": 0, "packaging_surface_m2": 0.0, "mean_box_utilisation": 0.0}


def test_run_record_drops_what_finished_orders_and_tasks_no_longer_need():
    from warehouse_core.analysis.metrics import operations_kpis
    from warehouse_core.ops.operations import ORDER_ACCEPTED, ORDER_COMPLETED, TASK_ASSIGNED, TASK_DONE, TASK_FAILED
    rec = RunRecord()
    for i in range(200):
        o, task = f"O{i}", f"T{i}"
        rec.on_order(o, 100.0 + i)
        rec.on_order_status(o, ORDER_ACCEPTED, 2, float(i))
        rec.on_task(task, 2, 1, charge=i % 50 == 0)
        rec.on_task_status(task, TASK_ASSIGNED, 0, float(i))
        if i < 150:  # 150 finish (every 10th fails after its pick), 50 stay open
            rec.on_task_status(task, TASK_FAILED if i % 10 == 9 else TASK_DONE, 3, i + 30.0)
            rec.on_task_status(task, TASK_DONE, 3, i + 31.0)  # a repeated end counts nothing twice
            rec.on_order_status(o, ORDER_COMPLETED, 2, i + 40.0)
            rec.on_order(o, 100.0 + i)  # a late copy of the order does not bring its deadline back
    assert len(rec.order_deadline) == 50 and len(rec.task_lines) == 50
    assert len(rec.visits) == 150 and sum(rec.visits.values()) == 300
    assert rec.charging_events == 3 and rec.tasks_failed == 15  # charges of tasks 0, 50, 100
    # open orders with a deadline before the end still count as misses: 150..199 due at 250..299 s
    assert operations_kpis(rec, 280.0, 4)["deadline_misses"] == 30
    assert order_kpis(rec, 3600.0)["orders_completed"] == 150

"""The run recorder's per-message series stay bounded: planner timings in a BoundedSample (exact
percentiles up to its capacity, a uniform sample after), manifests as running packaging totals."""

import numpy as np
import pytest

from warehouse_core.metrics import BoundedSample, PackagingTally, RunRecord, order_kpis, packaging_kpis, percentile


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

"""Demand forecasting: seeded history, CSV import, models and rolling-origin MASE."""

import math

import numpy as np
import pytest

from warehouse_core.errors import InputError
from warehouse_core.ops.forecast import (
    DemandHistory,
    ForecastConfig,
    forecast_demand,
    is_intermittent,
    load_demand_csv,
    mase,
    model_for,
    rolling_origin,
    seeded_history,
)


def test_mase_against_hand_computed_value():
    train = np.array([1.0, 2, 3, 4, 5, 6])
    # seasonal lag 2: |3-1|, |4-2|, |5-3|, |6-4| -> scale 2
    assert mase(np.array([7.0, 8]), np.array([6.0, 10]), train, 2) == pytest.approx((1 + 2) / 2 / 2)
    assert math.isnan(mase(np.array([1.0]), np.array([1.0]), np.array([3.0, 3, 3]), 1))


def test_seeded_history_is_seeded_weekly_and_skewed():
    pop = {f"S{i}": 1.0 / (i + 1) ** 1.1 for i in range(500)}
    a, b = seeded_history(pop, 28, 2000, seed=1), seeded_history(pop, 28, 2000, seed=1)
    assert np.array_equal(a.demand, b.demand)
    assert not np.array_equal(a.demand, seeded_history(pop, 28, 2000, seed=2).demand)
    weekday = a.demand.sum(axis=0).reshape(4, 7).mean(axis=0)
    assert weekday[0] > weekday[6] * 1.2  # Monday busier than Sunday
    assert a.demand[0].sum() > 10 * a.demand[-1].sum()  # fast mover vs long tail
    assert is_intermittent(a.demand[-1]) and not is_intermittent(a.demand[0])


def test_auto_model_beats_seasonal_naive_on_a_weekly_panel():
    pop = {f"S{i}": 1.0 / (i + 1) for i in range(30)}
    history = seeded_history(pop, 56, 3000, seed=3)
    auto = rolling_origin(history, ForecastConfig("auto", ets_model="ANA", smooth=("ets",)), folds=2)
    naive = rolling_origin(history, ForecastConfig("seasonal_naive"), folds=2)
    assert auto.scored == naive.scored == 60
    assert auto.mase < 0.9 * naive.mase


def test_auto_picks_tsb_for_intermittent_series_and_forecasts_are_non_negative():
    config = ForecastConfig("auto", ets_model="ANA", smooth=("ets",))
    sparse = np.array([0, 0, 3, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0.0] * 2)
    assert model_for(sparse, 7, config) == "tsb"
    history = DemandHistory(("a", "b"), np.vstack([sparse, np.full(28, 5.0)]))
    out = forecast_demand(history, config)
    assert 0 < out["a"] < 2 and out["b"] == pytest.approx(5.0)


def test_airpassengers_ships_with_statsforecast_and_auto_beats_naive():
    from statsforecast.utils import AirPassengers

    history = DemandHistory(("air",), np.asarray(AirPassengers, dtype=float)[None, :], 12)
    auto = rolling_origin(history, ForecastConfig("auto", horizon=12), folds=3)
    naive = rolling_origin(history, ForecastConfig("seasonal_naive", horizon=12), folds=3)
    assert auto.mase < 0.9 * naive.mase


def test_config_and_fold_errors_are_clear():
    with pytest.raises(ValueError, match="unknown"):
        ForecastConfig("prophet")
    with pytest.raises(ValueError, match="three letters"):
        ForecastConfig(ets_model="XYZ")
    with pytest.raises(ValueError, match="too few"):
        rolling_origin(DemandHistory(("a",), np.ones((1, 10))), ForecastConfig(), folds=2)


def test_demand_csv_import_and_errors(tmp_path):
    f = tmp_path / "history.csv"
    f.write_text("date,sku,quantity\n2026-01-01,A,2\n2026-01-03,A,1\n2026-01-03,B,4\n2026-01-03,A,1\n")
    h = load_demand_csv(f)
    assert h.skus == ("A", "B") and h.periods == 3
    assert h.demand.tolist() == [[2, 0, 2], [0, 0, 4]]
    f.write_text("date,sku,quantity\n2026-01-01,A,2\n2026-13-01,A,1\n")
    with pytest.raises(InputError, match=r"history.csv:3: date '2026-13-01' is not an ISO date"):
        load_demand_csv(f)
    f.write_text("date,sku,quantity\n2026-01-01,A,-2\n")
    with pytest.raises(InputError, match=r":2: quantity '-2' must be a whole number"):
        load_demand_csv(f)
    f.write_text("day,sku,qty\n")
    with pytest.raises(InputError, match="header must start with date,sku,quantity"):
        load_demand_csv(f)

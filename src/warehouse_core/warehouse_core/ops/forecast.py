"""Per-SKU demand forecasting from order history, and its rolling-origin evaluation (MASE).

The models come from ``statsforecast`` (Nixtla): seasonal naive, ETS (``AutoETS``), Theta
(``AutoTheta``), seasonal exponential smoothing (``seasonal_es``: one smoothed level per day of
the season; ~100x faster than ETS) and TSB (Teunter-Syntetos-Babai) for intermittent demand. The ``auto`` model
picks one per series: TSB when the average inter-demand interval (ADI) exceeds 1.32 (the
Syntetos-Boylan cut-off between smooth and intermittent demand); otherwise the smooth model
(of ``ForecastConfig.smooth``) with the lowest error on the last horizon of the training
window (a hold-out inside the training data, so the choice never sees the scored future).

History is a :class:`DemandHistory` (units per SKU per day): either seeded from the catalogue
popularity with a weekly profile (:func:`seeded_history`), or imported from a CSV of dated
order lines (:func:`load_demand_csv`).

MASE (mean absolute scaled error, Hyndman & Koehler 2006) divides a forecast's mean absolute
error by the in-sample mean absolute error of the one-season naive forecast of the same
training window; a rolling-origin evaluation averages it over several forecast origins.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warehouse_core.errors import InputError
from warehouse_core.ops.inventory import csv_rows

MODELS = ("seasonal_naive", "ets", "theta", "seasonal_es", "tsb", "auto")
SMOOTH_MODELS = ("ets", "theta", "seasonal_es")
ADI_CUTOFF = 1.32  # Syntetos & Boylan: ADI above this = intermittent demand
WEEKLY_PROFILE = (1.15, 1.1, 1.0, 1.0, 1.1, 0.9, 0.75)  # Mon..Sun demand relative to the mean


@dataclass(frozen=True)
class DemandHistory:
    """Units demanded per SKU and period; ``demand[i, t]`` is SKU ``skus[i]`` in period ``t``."""

    skus: tuple[str, ...]
    demand: np.ndarray
    season_length: int = 7

    @property
    def periods(self) -> int:
        return int(self.demand.shape[1])


@dataclass(frozen=True)
class ForecastConfig:
    """What to forecast with: ``model`` one of :data:`MODELS`; ``ets_model`` the statsforecast
    ETS spec (``ZZZ`` = automatic choice of error/trend/season, ``ANA`` = additive season, no
    trend: ~15x faster); ``smooth``: the candidates ``auto`` chooses from for smooth series;
    TSB smoothing constants for intermittent series."""

    model: str = "auto"
    horizon: int = 7
    ets_model: str = "ZZZ"
    smooth: tuple[str, ...] = ("ets", "theta")
    tsb_alpha_d: float = 0.1
    tsb_alpha_p: float = 0.1

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"forecast model {self.model!r} is unknown; use one of {', '.join(MODELS)}")
        if self.horizon < 1:
            raise ValueError(f"forecast horizon {self.horizon} must be at least 1 period")
        bad = [m for m in self.smooth if m not in SMOOTH_MODELS]
        if bad or not self.smooth:
            raise ValueError(f"smooth models {list(self.smooth)} must be a non-empty subset of {list(SMOOTH_MODELS)}")
        if len(self.ets_model) != 3 or self.ets_model[0] not in "AMZ" or self.ets_model[1] not in "ANMZ" \
                or self.ets_model[2] not in "ANMZ":
            raise ValueError(f"ets_model {self.ets_model!r} must be three letters: error A|M|Z, "
                             "trend A|N|M|Z, season A|N|M|Z (e.g. ZZZ or ANA)")


def seeded_history(popularity: dict[str, float], days: int, orders_per_day: float, seed: int,
                   mean_lines: float = 1.6, mean_quantity: float = 1.5,
                   profile: tuple[float, ...] = WEEKLY_PROFILE) -> DemandHistory:
    """Daily demand of each SKU over ``days`` days ending the day before the run.

    A SKU's expected units per day are its share of the catalogue popularity times the lines
    and units of ``orders_per_day`` orders, times the day-of-week factor; each SKU has its own
    seasonal amplitude (0.5..1.5 of ``profile``'s swing). Units are Poisson draws, so the
    long tail is intermittent.
    """
    if days < 1:
        raise ValueError(f"history days {days} must be at least 1")
    rng = np.random.default_rng(seed)
    skus = tuple(popularity)
    weights = np.array([popularity[s] for s in skus], dtype=float)
    share = weights / weights.sum() if weights.sum() > 0 else np.full(len(skus), 1.0 / max(1, len(skus)))
    rate = share * orders_per_day * mean_lines * mean_quantity
    swing = np.asarray(profile, dtype=float) / np.mean(profile) - 1.0
    amplitude = rng.uniform(0.5, 1.5, size=len(skus))
    day_of_week = np.arange(days) % len(profile)
    factor = np.clip(1.0 + amplitude[:, None] * swing[None, day_of_week], 0.05, None)
    demand = rng.poisson(rate[:, None] * factor).astype(float)
    return DemandHistory(skus, demand, len(profile))


def load_demand_csv(path: str | Path, season_length: int = 7) -> DemandHistory:
    """Order history from a CSV ``date,sku,quantity`` (ISO dates, whole quantities >= 0).

    Lines of the same SKU and date add up; days without a line count as zero demand. Every
    problem is an :class:`InputError` naming the file and line.
    """
    path = Path(path)
    rows: list[tuple[dt.date, str, float]] = []
    for line, row in csv_rows(path, ("date", "sku", "quantity")):
        try:
            day = dt.date.fromisoformat(row["date"])
        except ValueError:
            raise InputError(str(path), f"date {row['date']!r} is not an ISO date", where=str(line),
                             fix="write dates as YYYY-MM-DD") from None
        try:
            qty = float(row["quantity"])
        except ValueError:
            qty = math.nan
        if not math.isfinite(qty) or qty < 0 or qty != int(qty):
            raise InputError(str(path), f"quantity {row['quantity']!r} must be a whole number >= 0", where=str(line))
        rows.append((day, row["sku"], qty))
    if not rows:
        raise InputError(str(path), "no order lines", fix="add lines date,sku,quantity")
    first = min(r[0] for r in rows)
    days = (max(r[0] for r in rows) - first).days + 1
    skus = tuple(sorted({r[1] for r in rows}))
    index = {s: i for i, s in enumerate(skus)}
    demand = np.zeros((len(skus), days))
    for day, sku, qty in rows:
        demand[index[sku], (day - first).days] += qty
    return DemandHistory(skus, demand, season_length)


def preload() -> None:
    """Import the forecasting library now (1.5-5 s), e.g. before a node starts its threads."""
    import statsforecast.models  # noqa: F401


def is_intermittent(y: np.ndarray) -> bool:
    """True when the average interval between non-zero periods exceeds :data:`ADI_CUTOFF`."""
    nonzero = int(np.count_nonzero(y))
    return nonzero == 0 or len(y) / nonzero > ADI_CUTOFF


def model_for(y: np.ndarray, season_length: int, config: ForecastConfig) -> str:
    """The concrete model ``config.model`` means for series ``y`` (``auto`` resolved)."""
    if config.model != "auto":
        return config.model
    if is_intermittent(y):
        return "tsb"
    h = config.horizon
    if len(config.smooth) == 1 or len(y) < h + 2 * season_length + 2:
        return config.smooth[0]
    train, hold = y[:-h], y[-h:]

    def holdout_error(kind: str) -> float:
        return float(np.mean(np.abs(_fit_forecast(train, season_length, kind, config) - hold)))

    return min(config.smooth, key=holdout_error)


def forecast_series(y: np.ndarray, season_length: int, config: ForecastConfig) -> np.ndarray:
    """``config.horizon`` future values of ``y`` (non-negative)."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return np.zeros(config.horizon)
    return _fit_forecast(y, season_length, model_for(y, season_length, config), config)


def _fit_forecast(y: np.ndarray, season_length: int, kind: str, config: ForecastConfig) -> np.ndarray:
    from statsforecast.models import (
        TSB,
        AutoETS,
        AutoTheta,
        SeasonalExponentialSmoothingOptimized,
        SeasonalNaive,
    )

    h = config.horizon
    m = season_length if len(y) >= season_length else 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "seasonal_naive":
                out = SeasonalNaive(season_length=m).forecast(y, h=h)["mean"]
            elif kind == "tsb":
                out = TSB(alpha_d=config.tsb_alpha_d, alpha_p=config.tsb_alpha_p).forecast(y, h=h)["mean"]
            elif len(y) < 2 * season_length + 2 or np.ptp(y) == 0:
                out = np.full(h, float(np.mean(y[-m:])))  # too short or flat to fit a smooth model
            elif kind == "seasonal_es":
                out = SeasonalExponentialSmoothingOptimized(season_length=season_length).forecast(y, h=h)["mean"]
            elif kind == "theta":
                out = AutoTheta(season_length=season_length).forecast(y, h=h)["mean"]
            else:
                out = AutoETS(season_length=season_length, model=config.ets_model).forecast(y, h=h)["mean"]
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
        out = np.full(h, float(np.mean(y[-m:])))
    out = np.asarray(out, dtype=float)
    out[~np.isfinite(out)] = float(np.mean(y[-m:]))
    return np.clip(out, 0.0, None)


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, season_length: int) -> float:
    """Mean absolute scaled error; NaN when the training window has no naive error to scale by.

    The scale is the in-sample MAE of the seasonal naive forecast (lag ``season_length``),
    or of the one-step naive forecast when the window is shorter than two seasons or the
    seasonal differences are all zero.
    """
    train = np.asarray(train, dtype=float)
    scale = 0.0
    if len(train) > season_length:
        scale = float(np.mean(np.abs(train[season_length:] - train[:-season_length])))
    if scale == 0.0 and len(train) > 1:
        scale = float(np.mean(np.abs(np.diff(train))))
    if scale == 0.0:
        return math.nan
    return float(np.mean(np.abs(np.asarray(actual, dtype=float) - np.asarray(predicted, dtype=float))) / scale)


@dataclass(frozen=True)
class Evaluation:
    """Rolling-origin MASE of one model over a panel: mean over series and origins."""

    model: str
    mase: float
    scored: int  # (series, origin) pairs with a finite MASE
    skipped: int  # pairs without a scale (constant training window)


def rolling_origin(history: DemandHistory, config: ForecastConfig, folds: int,
                   rows: list[int] | None = None) -> Evaluation:
    """Evaluate ``config`` at ``folds`` origins, ``config.horizon`` periods apart, ending at the
    last period: each origin trains on everything before it and scores the next horizon."""
    h = config.horizon
    n = history.periods
    if folds < 1 or n - folds * h < max(2, history.season_length + 1):
        raise ValueError(f"{n} periods are too few for {folds} folds of horizon {h} "
                         f"(need more than {folds * h + history.season_length})")
    scores: list[float] = []
    skipped = 0
    for i in rows if rows is not None else range(len(history.skus)):
        y = history.demand[i]
        for k in range(folds, 0, -1):
            origin = n - k * h
            train, test = y[:origin], y[origin:origin + h]
            value = mase(test, forecast_series(train, history.season_length, config), train,
                         history.season_length)
            if math.isfinite(value):
                scores.append(value)
            else:
                skipped += 1
    return Evaluation(config.model, float(np.mean(scores)) if scores else math.nan, len(scores), skipped)


def forecast_demand(history: DemandHistory, config: ForecastConfig) -> dict[str, float]:
    """Mean forecast units per period over the next ``config.horizon`` periods, per SKU."""
    return {sku: float(np.mean(forecast_series(history.demand[i], history.season_length, config)))
            for i, sku in enumerate(history.skus)}


def forecast_skus(history: DemandHistory, config: ForecastConfig, skus: list[str]) -> dict[str, float]:
    """The forecast of every SKU in ``skus`` (0 for a SKU without history)."""
    demand = forecast_demand(history, config)
    return {s: demand.get(s, 0.0) for s in skus}


def evaluation_summary(history: DemandHistory, config: ForecastConfig, folds: int, source: str) -> dict:
    """The rolling-origin evaluation of ``config`` against seasonal naive, as the forecaster node
    publishes it: ``mase``, ``seasonal_naive_mase``, the settings, ``computed_in_s``."""
    started = time.monotonic()
    chosen = rolling_origin(history, config, folds)
    naive = rolling_origin(history, ForecastConfig("seasonal_naive", config.horizon), folds)
    return {"model": config.model, "ets_model": config.ets_model, "mase": round(chosen.mase, 4),
            "seasonal_naive_mase": round(naive.mase, 4), "series": len(history.skus),
            "periods": history.periods, "folds": folds, "horizon": config.horizon, "source": source,
            "computed_in_s": round(time.monotonic() - started, 2)}

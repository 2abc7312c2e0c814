"""Demand forecasting: rolling-origin MASE of each model against seasonal naive.

    .venv/bin/python benchmarks/forecasting.py [--skus 300] [--days 84] [--folds 4] [--seed 7]

Two data sets: a synthetic SKU panel (``warehouse_core.ops.forecast.seeded_history``: the seeded
catalogue's Zipf popularity, weekly seasonality with a per-SKU amplitude, Poisson units, so the
long tail is intermittent; horizon 7 days) and AirPassengers (monthly, 1949-1960, shipped in the
``statsforecast`` package as ``statsforecast.utils.AirPassengers``; horizon 12 months, 3 origins).
Prints one markdown table: MASE per model (mean over series and origins) and its ratio to the
seasonal naive MASE (target for the chosen model, ``auto``: at most 0.9).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from warehouse_core.ops.forecast import DemandHistory, ForecastConfig, rolling_origin, seeded_history
from warehouse_core.ops.inventory import seeded_inventory

MODELS = (("seasonal_naive", ForecastConfig("seasonal_naive")),
          ("ets (AutoETS ZZZ)", ForecastConfig("ets")),
          ("theta (AutoTheta)", ForecastConfig("theta")),
          ("tsb", ForecastConfig("tsb")),
          ("auto: TSB if intermittent, else ETS/Theta by hold-out", ForecastConfig("auto")),
          ("seasonal_es (SeasonalExponentialSmoothingOptimized)", ForecastConfig("seasonal_es")),
          ("auto: TSB / ETS ANA", ForecastConfig("auto", ets_model="ANA", smooth=("ets",))),
          ("auto, run config: TSB / seasonal_es", ForecastConfig("auto", smooth=("seasonal_es",))))


def with_horizon(config: ForecastConfig, h: int) -> ForecastConfig:
    return ForecastConfig(config.model, h, config.ets_model, config.smooth, config.tsb_alpha_d, config.tsb_alpha_p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skus", type=int, default=300)
    ap.add_argument("--days", type=int, default=84)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--orders-per-day", type=float, default=3000.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    from statsforecast.utils import AirPassengers

    inv = seeded_inventory([f"R{i:03d}" for i in range(245)], args.skus, args.seed)
    panel = seeded_history(inv.popularity, args.days, args.orders_per_day, args.seed)
    air = DemandHistory(("AirPassengers",), np.asarray(AirPassengers, dtype=float)[None, :], 12)
    sets = ((f"synthetic panel ({args.skus} SKUs x {args.days} days, weekly season, h=7, {args.folds} origins)",
             panel, 7, args.folds), ("AirPassengers (144 months, season 12, h=12, 3 origins)", air, 12, 3))
    print("| data set | model | MASE | MASE / seasonal naive | series x origins scored | time (s) |")
    print("|---|---|---|---|---|---|")
    for name, history, h, folds in sets:
        naive = None
        for label, config in MODELS:
            t0 = time.perf_counter()
            ev = rolling_origin(history, with_horizon(config, h), folds)
            dt = time.perf_counter() - t0
            naive = naive if naive is not None else ev.mase
            print(f"| {name} | {label} | {ev.mase:.3f} | {ev.mase / naive:.3f} | {ev.scored} | {dt:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Forecaster node: per-SKU demand forecast from the order history, published once, latched.

Reads the order history (seeded from the catalogue popularity, the same catalogue as the
allocator: layout, seed, SKU count; or ``demand_history_csv``), forecasts every SKU with
:mod:`warehouse_core.ops.forecast` and publishes, both latched (reliable, transient local) so a late
subscriber still gets them:

* ``/forecast/demand`` (``DemandForecast``): forecast units per SKU and period; the task
  allocator classes racks by it (A/B/C turnover) for rack returns and idle-robot parking;
* ``/forecast/summary`` (``ForecastSummary``): the rolling-origin evaluation (MASE of the
  chosen model and of seasonal naive), recorded in ``report.json`` as ``forecast_mase``.

A managed lifecycle node: the forecast is computed when it is configured (its own process, so the
allocator and the rest of the stack start without waiting for it) and published when it is
activated; after publishing, the node only keeps the latched messages available.
"""

from __future__ import annotations

import time

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops import forecast
from warehouse_core.ops.inventory import load_catalogue
from warehouse_nodes import channels, diagnostics
from warehouse_nodes import conversions as conv
from warehouse_nodes.configs import ForecasterConfig
from warehouse_nodes.managed import ManagedNode
from warehouse_nodes.runtime import run_node


def load_history(cfg: ForecasterConfig, popularity: dict[str, float],
                 where: str) -> tuple[forecast.DemandHistory, forecast.ForecastConfig]:
    """The order history to forecast from and the forecast settings, checked (errors name ``where``)."""
    try:
        config = forecast.ForecastConfig(
            model=cfg.forecast_model, horizon=cfg.forecast_horizon, ets_model=cfg.forecast_ets_model,
            smooth=tuple(m.strip() for m in cfg.forecast_smooth.split(",") if m.strip()))
    except ValueError as exc:
        raise InputError(f"parameters {where}.forecast_*", str(exc)) from None
    if cfg.demand_history_csv:
        history = forecast.load_demand_csv(cfg.demand_history_csv)
    else:
        history = forecast.seeded_history(popularity, cfg.history_days, cfg.history_orders_per_day, cfg.seed + 2)
    need = cfg.forecast_folds * config.horizon + history.season_length + 1
    if cfg.forecast_folds < 1 or history.periods < need:
        raise InputError(f"parameters {where}.history_days / forecast_folds",
                         f"{history.periods} days of history are too few for {cfg.forecast_folds} folds of "
                         f"{config.horizon} days", fix=f"give at least {need} days or fewer folds")
    return history, config


class ForecasterNode(ManagedNode):
    """Forecasts demand once and publishes it latched (see module docstring)."""

    def __init__(self) -> None:
        super().__init__("forecaster", ForecasterConfig)

    def configure_node(self) -> None:
        cfg = self.cfg
        layout = load_layout(cfg.layout)
        inventory, _ = load_catalogue(layout, cfg.inventory_dir, cfg.skus, cfg.seed)
        history, config = load_history(cfg, inventory.popularity, self.get_fully_qualified_name())
        self.demand_pub = channels.publisher(self, topics.FORECAST_DEMAND)
        self.summary_pub = channels.publisher(self, topics.FORECAST_SUMMARY)
        started = time.monotonic()
        self.config = config
        self.demand = forecast.forecast_skus(history, config, sorted(inventory.skus))
        summary = forecast.evaluation_summary(history, config, cfg.forecast_folds, cfg.demand_history_csv or "seeded")
        summary["computed_in_s"] = round(time.monotonic() - started, 2)  # forecast and evaluation
        self.summary = summary
        self.published = False
        self.diagnostics = diagnostics.forecaster(self, summary, len(self.demand))

    def on_active(self) -> None:
        """Publish the forecast (once per configuration: both latched, a late subscriber still gets them)."""
        if self.published:
            return
        self.published = True
        # the forecast first (the allocator waits for it), then its evaluation
        self.demand_pub.publish(conv.forecast_to_msg(self.demand, self.config.model, self.config.horizon,
                                                     self.get_clock().now().to_msg()))
        self.summary_pub.publish(conv.forecast_summary_msg(self.summary, self.get_clock().now().to_msg()))
        summary = self.summary
        self.get_logger().info(f"forecast of {len(self.demand)} SKUs published on {topics.FORECAST_DEMAND.name} "
                               f"(MASE {summary['mase']}, seasonal naive {summary['seasonal_naive_mase']}, "
                               f"{summary['computed_in_s']} s)")

def main(args: list[str] | None = None) -> None:
    run_node(ForecasterNode, args)


if __name__ == "__main__":
    main()

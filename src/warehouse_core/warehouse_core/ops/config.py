"""The allocator's operation times, limits and policy choices (:class:`OpsConfig`), and the policies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpsConfig:
    """Operation times and limits (seconds)."""

    lift_time: float = 2.0
    drop_time: float = 2.0
    pick_base_time: float = 3.0
    pick_time_per_line: float = 4.0
    max_lines_per_visit: int = 10
    station_queue_limit: int = 3
    policy: str = "default"  # "default" or "baseline"
    pack_time: float = 60.0  # s, packing a parcel
    slack_weight: float = 0.2  # travel steps one second of deadline slack is worth
    seed: int = 0
    charge_below: float = 0.3  # state of charge that sends an idle robot to a charger
    charge_to: float = 0.9  # state of charge a charge ends at
    charge_rate: float = 0.002  # state of charge gained per second on a charger
    energy_per_step: float = 0.0003  # state of charge a move of one cell costs (with margin)
    returns: str = "class"  # rack returns: "class" (A/B/C turnover class near the station) or "random"
    dispatch_time: float = 0.0  # s from packed to handed to the carrier
    park_after: float = 0.0  # s idle before a robot parks under a class-A rack (0 = never; class returns only)
    rack_retry_after: float = 600.0  # s a rack that could not be lifted is left alone before it is tried again
    replenish_every: float = 0.0  # s between replenishment shifts that refill every rack (0 = never)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r} is unknown; use one of {sorted(POLICIES)}")
        if self.returns not in ("class", "random"):
            raise ValueError(f"returns {self.returns!r} is unknown; use class or random")
        if self.park_after < 0:
            raise ValueError(f"park_after {self.park_after} must be >= 0 (0 = robots never park)")
        if not self.rack_retry_after > 0:
            raise ValueError(f"rack_retry_after {self.rack_retry_after} must be > 0 (seconds before a rack "
                             "that could not be lifted is tried again)")
        if not self.replenish_every >= 0:
            raise ValueError(f"replenish_every {self.replenish_every} must be >= 0 (seconds between "
                             "replenishment shifts; 0 = never)")


POLICIES = {
    "default": "pile-on rack choice, min-cost assignment weighted by deadline slack, "
               "returns by turnover class, consumer consolidation",
    "baseline": "first-come-first-served lines, nearest idle robot, one line per rack visit, "
                "random return location, one parcel per order",
}

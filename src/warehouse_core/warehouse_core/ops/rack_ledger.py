"""The rack ledger: where each rack stands, what is reserved for visits, and the A/B/C classes.

:class:`RackLedger` owns the rack positions (location -> rack and back), the racks on a visit
(busy), the storage locations promised to a returning rack, the visits queued at each pick
station, the racks out of service after a failed lift (``rack_retry_after`` seconds), and the
turnover classes of racks and locations (:mod:`warehouse_core.ops.slotting`): a rack returns to
the free location of its class nearest the station it leaves.
"""

from __future__ import annotations

import random

from warehouse_core.maps.distances import DistanceCache
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Layout, Station
from warehouse_core.ops.config import OpsConfig
from warehouse_core.ops.inventory import Inventory
from warehouse_core.ops.model import Task
from warehouse_core.ops.slotting import abc_classes, rack_turnover
from warehouse_core.ops.travel import UNREACHABLE, travel_steps

CLASS_A, CLASS_C = 0, 2


class RackLedger:
    """Rack positions, reservations and classes (see module docstring)."""

    def __init__(self, layout: Layout, inventory: Inventory, dist: DistanceCache, config: OpsConfig,
                 rng: random.Random, placement: dict[str, str] | None, demand: dict[str, float] | None,
                 forecast_pending: bool) -> None:
        self.layout = layout
        self.inventory = inventory
        self.dist = dist
        self.config = config
        self.rng = rng  # shared with the baseline's rack choice: one seeded sequence
        self.rack_at: dict[str, str] = dict(placement) if placement is not None else \
            {s.id: s.rack for s in layout.storage if s.rack}
        self.location_of: dict[str, str] = {rack: loc for loc, rack in self.rack_at.items()}
        self.busy_racks: set[str] = set()
        self.reserved_locations: set[str] = set()
        self.station_load: dict[str, int] = {s.id: 0 for s in layout.stations}
        self.out_of_service: dict[str, float] = {}  # rack that could not be lifted -> sim time it is tried again
        self.lift_failures = 0
        self.cell_index = {s.id: layout.grid.index(s.cell) for s in layout.storage}
        self.demand = demand  # forecast units per SKU and period; None: catalogue popularity
        self.forecast_pending = forecast_pending  # True: return racks at random until set_demand
        self._location_class = self._classify_locations()
        self._rack_class = self._classify_racks()

    # -- classes -------------------------------------------------------------------------
    def set_demand(self, demand: dict[str, float]) -> None:
        """Class racks by this forecast demand (units per SKU and period) from now on."""
        self.demand = demand
        self.forecast_pending = False
        self._rack_class = self._classify_racks()

    def rack_class(self, rack: str) -> int:
        """0/1/2 for A/B/C (a rack the classes do not know counts as C)."""
        return self._rack_class.get(rack, CLASS_C)

    def _classify_locations(self) -> dict[str, int]:
        """A/B/C (0/1/2) by loaded distance to the nearest station: nearest 20 %, next 30 %, rest."""
        near = {}
        for loc in self.layout.storage:
            ds = [self.dist.distance(self.cell_index[loc.id], self.layout.grid.index(s.pick_cell), True)
                  for s in self.layout.stations]
            near[loc.id] = min((d for d in ds if d >= 0), default=UNREACHABLE)
        return abc_classes(near)

    def _classify_racks(self) -> dict[str, int]:
        """A/B/C by turnover: the forecast demand of the SKUs a rack holds (``demand``), or their
        catalogue popularity when no forecast is given."""
        turnover = rack_turnover(self.inventory.stock, self.demand or self.inventory.popularity)
        return abc_classes({r: -v for r, v in turnover.items()})

    def parking_spots(self) -> list[int]:
        """Cells under the class-A racks standing in storage, not on a visit."""
        return [self.cell_index[loc] for loc, rack in self.rack_at.items()
                if self.rack_class(rack) == CLASS_A and rack not in self.busy_racks]

    # -- choices for a visit -------------------------------------------------------------
    def rack_free(self, rack: str) -> bool:
        """In its storage location, on no visit, and not out of service."""
        return rack not in self.busy_racks and rack in self.location_of and rack not in self.out_of_service

    def stations_open(self) -> bool:
        return any(load < self.config.station_queue_limit for load in self.station_load.values())

    def least_busy_station(self, rack_cell: int) -> Station:
        """The open station with the fewest visits queued, the nearest to ``rack_cell`` of those."""
        open_stations = [s for s in self.layout.stations
                         if self.station_load[s.id] < self.config.station_queue_limit]
        return min(open_stations, key=lambda s: (
            self.station_load[s.id], self.dist.distance(rack_cell, self.layout.grid.index(s.pick_cell), True)))

    def return_location(self, rack: str, near: Coord, exclude: str) -> str:
        """Where the rack goes after the pick.

        Baseline (or ``returns: random``, or class returns while the forecast is pending): a random
        free location. Default: the free location nearest to the station within the rack's turnover
        class (A: fast movers, closest to the stations), falling back to the nearest free location
        of any class.
        """
        free = [loc.id for loc in self.layout.storage if loc.id not in self.rack_at
                and loc.id not in self.reserved_locations and loc.id != exclude]
        if not free:
            return exclude
        if self.config.policy == "baseline" or self.config.returns == "random" or self.forecast_pending:
            return self.rng.choice(free)
        target = self.layout.grid.index(near)
        want = self.rack_class(rack)

        def key(loc: str) -> tuple[bool, float]:
            return (self._location_class[loc] != want,
                    travel_steps(self.dist.distance(self.cell_index[loc], target, True)))

        return min(free, key=key)

    # -- reservations and moves ----------------------------------------------------------
    def hold(self, task: Task) -> None:
        """Reserve the rack, a station slot and the return location of a visit."""
        self.busy_racks.add(task.rack)
        self.station_load[task.station] += 1
        self.reserved_locations.add(task.return_location)

    def release(self, task: Task) -> None:
        """Undo :meth:`hold` (a visit drafted but not given)."""
        self.station_done(task.station)
        self.unhold_rack(task)

    def unhold_rack(self, task: Task) -> None:
        """The rack of a visit that never lifted it stays where it is; its return location is free."""
        self.busy_racks.discard(task.rack)
        self.reserved_locations.discard(task.return_location)

    def lifted(self, task: Task) -> None:
        self.rack_at.pop(task.origin, None)
        self.location_of.pop(task.rack, None)

    def station_done(self, station: str) -> None:
        self.station_load[station] -= 1

    def dropped(self, task: Task) -> None:
        self.rack_at[task.return_location] = task.rack
        self.location_of[task.rack] = task.return_location
        self.reserved_locations.discard(task.return_location)
        self.busy_racks.discard(task.rack)

    def put_down(self, rack: str, location: str) -> None:
        """``rack`` stands at ``location`` now, put there by hand."""
        stale = self.location_of.get(rack)  # the lift was done but not yet reported
        if stale is not None and self.rack_at.get(stale) == rack:
            del self.rack_at[stale]
        self.rack_at[location] = rack
        self.location_of[rack] = location
        self.busy_racks.discard(rack)

    def lift_failed(self, rack: str, now: float) -> None:
        """``rack`` could not be lifted: out of service for ``rack_retry_after`` seconds."""
        self.lift_failures += 1
        self.out_of_service[rack] = now + self.config.rack_retry_after

    def back_in_service(self, now: float) -> None:
        for rack in [r for r, t in self.out_of_service.items() if t <= now]:
            del self.out_of_service[rack]

"""Travel costs in the allocator's decisions, and the one value for "cannot get there".

Distance tables (:class:`~warehouse_core.maps.distances.DistanceCache`) answer a negative number
for a cell no path reaches. The decisions that rank or add up travel (visit assignment, parking,
charger and return-location choice) count such a cell as :data:`UNREACHABLE` steps: finite, so a
minimum-cost assignment stays solvable, and more than any path through a warehouse layout, so a
reachable choice always ranks first.
"""

from __future__ import annotations

UNREACHABLE = 1e6  # steps: more than any path in a layout


def travel_steps(distance: int) -> float:
    """``distance`` from a distance table, or :data:`UNREACHABLE` when it is negative."""
    return float(distance) if distance >= 0 else UNREACHABLE

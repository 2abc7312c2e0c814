"""Idle-robot parking near forecast demand.

A robot that has had nothing to do for a while is sent to wait where forecast demand will need
it: under a fast-moving rack (forecast turnover class A) standing in storage. An unloaded robot
may stand under a rack (storage cells are free floor for it); a robot under a rack takes that
rack's next visit with no travel to fetch it (the allocator gives the visit to the robot sitting
there); and loaded robots never pass storage cells, so a robot waiting there blocks no rack
traffic in the aisles or the station approaches.

:func:`choose_parking` is the pure decision: robots already on a parking spot stay, the others
are matched to the free spots by minimum total travel (Hungarian method), nearer spots first
when there are more spots than robots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

from warehouse_core.ops.travel import UNREACHABLE, travel_steps


def choose_parking(robots: dict[str, int], spots: Iterable[int],
                   travel: Callable[[int, int], int]) -> dict[str, int]:
    """Where each robot in ``robots`` (name -> cell index) should go to park.

    ``spots``: cell indices where a robot may park (e.g. under the class-A racks at rest);
    ``travel(from_cell, to_cell)``: steps between two cells, negative when unreachable.
    Returns name -> spot cell for the robots that should move; robots already on a spot, and
    robots that can reach no free spot, are left out (they stay where they are)."""
    spot_set = set(spots)
    movers = sorted(name for name, cell in robots.items() if cell not in spot_set)
    free = sorted(spot_set - set(robots.values()))
    if not movers or not free:
        return {}
    cost = np.empty((len(movers), len(free)))
    for i, name in enumerate(movers):
        for j, spot in enumerate(free):
            cost[i, j] = travel_steps(travel(robots[name], spot))
    rows, cols = linear_sum_assignment(cost)
    return {movers[i]: free[j] for i, j in zip(rows, cols) if cost[i, j] < UNREACHABLE}

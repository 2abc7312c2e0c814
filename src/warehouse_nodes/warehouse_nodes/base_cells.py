"""The grid cell a hardware base stands on, for a robot node's state before it has a path.

A hardware backend reports its cell from the path it follows (the waypoint reached). Before the
first path there is none, yet the planner and the allocator start every robot from the cell in
its first states: the cell under the localised map pose, on the grid of the ``layout``
parameter (the planner's). The layout is read once per process, when a robot first needs it
(a container hosts many robots of one layout).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from warehouse_core.maps.layout import load_layout
from warehouse_core.maps.occupancy import GridFrame
from warehouse_nodes.share import user_path


@lru_cache(maxsize=4)
def _frame(layout: str) -> GridFrame:
    # a relative path (the parameter's default) is found here, else in the bringup share
    return load_layout(user_path(layout, Path.cwd())).frame


def cell_under(layout: str, x: float, y: float) -> tuple[int, int]:
    """The cell of ``layout``'s grid that holds map point (``x``, ``y``); an InputError names a
    layout that cannot be read."""
    return _frame(layout).world_to_cell(x, y)

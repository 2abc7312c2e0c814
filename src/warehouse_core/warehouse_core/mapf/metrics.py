"""Cost measures of one-shot MAPF solutions (MovingAI definitions)."""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_core.maps.grid import Coord, Grid


def arrival_time(path: Sequence[Sequence[int]], goal: Coord) -> int:
    """Last time the agent reaches its goal and stays there (0 if it starts there and stays)."""
    g = (goal[0], goal[1])
    t = len(path) - 1
    while t >= 0 and (path[t][0], path[t][1]) == g:
        t -= 1
    return t + 1


def sum_of_costs(paths: Sequence[Sequence[Sequence[int]]], goals: Sequence[Coord]) -> int:
    """Sum over agents of :func:`arrival_time`."""
    return sum(arrival_time(p, g) for p, g in zip(paths, goals))


def makespan(paths: Sequence[Sequence[Sequence[int]]], goals: Sequence[Coord]) -> int:
    """Largest :func:`arrival_time` (0 for no agents)."""
    return max((arrival_time(p, g) for p, g in zip(paths, goals)), default=0)


def lower_bound(grid: Grid, starts: Sequence[Coord], goals: Sequence[Coord]) -> int:
    """Sum of BFS (4-connected) distances start -> goal; -1 if some goal is unreachable."""
    from warehouse_core.mapf.pibt import Graph

    graph = Graph(grid)
    total = 0
    for s, g in zip(starts, goals):
        d = graph.distance_from(graph.vid(g))[graph.vid(s)]
        if d >= graph.unreachable:
            return -1
        total += int(d)
    return total

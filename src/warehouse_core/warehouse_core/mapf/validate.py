"""The one validator of one-shot MAPF solutions (tests, CLI and benchmarks all use it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from warehouse_core.maps.grid import Coord, Grid

MAX_REPORTED = 20


def validate_solution(grid: Grid, starts: Sequence[Coord], goals: Sequence[Coord],
                      paths: Sequence[Sequence[Sequence[int]]]) -> list[str]:
    """Human-readable violations of ``paths``; empty when the solution is valid.

    Model (MovingAI): 4-connected grid; per step an agent moves to a free neighbour or waits;
    no two agents in one cell at one step (vertex conflict); no two agents swapping cells in one
    step (swap conflict); following into a cell vacated in the same step is allowed. Each path
    starts at the agent's start and ends at its goal, where the agent stays afterwards (and must
    not be hit by anybody). One pass over the steps checks every rule, kept whole on purpose so
    that each rule reads next to the others.
    """
    errors: list[str] = []
    n = len(starts)
    if len(goals) != n:
        return [f"{n} starts but {len(goals)} goals"]
    if len(paths) != n:
        return [f"{len(paths)} paths for {n} agents"]
    w = grid.width
    horizon = max((len(p) for p in paths), default=0)
    if horizon == 0:
        return []
    pos = np.empty((n, horizon), dtype=np.int64)
    broken = False
    for i, path in enumerate(paths):
        if len(path) == 0:
            errors.append(f"agent {i}: empty path")
            broken = True
            continue
        cells = [(int(c[0]), int(c[1])) for c in path]
        if cells[0] != tuple(starts[i]):
            errors.append(f"agent {i}: path starts at {cells[0]}, not at its start {tuple(starts[i])}")
        if cells[-1] != tuple(goals[i]):
            errors.append(f"agent {i}: path ends at {cells[-1]}, not at its goal {tuple(goals[i])}")
        bad = False
        for t, c in enumerate(cells):
            if not grid.is_free(c):
                errors.append(f"agent {i}: t={t} cell {c} is blocked or outside the map")
                bad = True
                break
            if t and abs(c[0] - cells[t - 1][0]) + abs(c[1] - cells[t - 1][1]) > 1:
                errors.append(f"agent {i}: t={t - 1}->{t} jumps from {cells[t - 1]} to {c}")
                bad = True
        if bad:
            broken = True
            continue
        flat = [c[1] * w + c[0] for c in cells]
        pos[i, :len(flat)] = flat
        pos[i, len(flat):] = flat[-1]
    if broken:
        return errors[:MAX_REPORTED] + _more(errors)
    size = grid.size
    t_idx = np.broadcast_to(np.arange(horizon, dtype=np.int64), (n, horizon))
    # vertex conflicts: two agents with the same (t, cell)
    key = (t_idx * size + pos).ravel()
    order = np.argsort(key, kind="stable")
    sk = key[order]
    dup = np.nonzero(sk[1:] == sk[:-1])[0]
    agent_of = np.repeat(np.arange(n), horizon)[order]
    for k in dup.tolist():
        t, cell = divmod(int(sk[k]), size)
        a, b = sorted((int(agent_of[k]), int(agent_of[k + 1])))
        errors.append(f"vertex conflict: agents {a} and {b} both at {(cell % w, cell // w)} at t={t}")
    # swap conflicts: a goes u->v while b goes v->u in the same step
    if horizon > 1:
        frm, to = pos[:, :-1], pos[:, 1:]
        moving = frm != to
        ts = t_idx[:, :-1][moving]
        fm, tm = frm[moving], to[moving]
        agents = np.broadcast_to(np.arange(n)[:, None], frm.shape)[moving]
        fwd = (ts * size + fm) * size + tm
        rev = (ts * size + tm) * size + fm
        hit = np.isin(fwd, rev)
        seen: set[tuple[int, int, int]] = set()
        lookup = {int(k): int(a) for k, a in zip(fwd[hit].tolist(), agents[hit].tolist())}
        for r, a, t, u, v in zip(rev[hit].tolist(), agents[hit].tolist(),
                                 ts[hit].tolist(), fm[hit].tolist(), tm[hit].tolist()):
            b = lookup.get(int(r), -1)
            pair = (min(a, b), max(a, b), t)
            if pair in seen:
                continue
            seen.add(pair)
            errors.append(f"swap conflict: agents {pair[0]} and {pair[1]} swap "
                          f"{(u % w, u // w)} <-> {(v % w, v // w)} at t={t}->{t + 1}")
    return errors[:MAX_REPORTED] + _more(errors)


def _more(errors: list[str]) -> list[str]:
    extra = len(errors) - MAX_REPORTED
    return [f"... and {extra} more violations"] if extra > 0 else []

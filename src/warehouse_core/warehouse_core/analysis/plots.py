"""PNG plots of an analysed bag: trajectories over the map, congestion heat map, utilisation.

* ``trajectories.png``: every robot's path over the map (occupied cells dark), close
  encounters marked.
* ``congestion.png``: where robots stood still: robot-seconds spent slower than the idle
  speed per square metre (queues, blocked aisles and parking spots show up).
* ``utilisation.png``: share of the fleet moving over time (and with a task, when the bag has
  task events) above a per-robot timeline of the moving share.

Matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from warehouse_core.analysis.fleet_record import MapImage  # noqa: E402
from warehouse_core.analysis.trajectory import Encounter, Track  # noqa: E402

MAX_POINTS_PER_TRACK = 2000


def bounds(tracks: list[Track], map_image: MapImage | None) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) covering the map and every sample, with a margin."""
    if map_image is not None:
        xmin, xmax, ymin, ymax = map_image.extent
    else:
        xmin = ymin = np.inf
        xmax = ymax = -np.inf
    for tr in tracks:
        if len(tr.t):
            xmin, xmax = min(xmin, float(tr.x.min())), max(xmax, float(tr.x.max()))
            ymin, ymax = min(ymin, float(tr.y.min())), max(ymax, float(tr.y.max()))
    if not np.isfinite(xmin):
        return (0.0, 1.0, 0.0, 1.0)
    pad = 0.5
    return (xmin - pad, xmax + pad, ymin - pad, ymax + pad)


def _thin(tr: Track) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, len(tr.t) // MAX_POINTS_PER_TRACK)
    return tr.x[::step], tr.y[::step]


def _map_background(ax, map_image: MapImage | None) -> None:
    if map_image is not None:
        ax.imshow(map_image.occupied, cmap="Greys", vmin=0, vmax=1.6, extent=map_image.extent,
                  origin="upper", interpolation="nearest", zorder=0)


def trajectories(path: Path, tracks: list[Track], map_image: MapImage | None,
                 encounters: list[Encounter]) -> None:
    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    _map_background(ax, map_image)
    cmap = plt.get_cmap("tab20")
    segs, colors = [], []
    for i, tr in enumerate(tracks):
        x, y = _thin(tr)
        if len(x) > 1:
            segs.append(np.column_stack((x, y)))
            colors.append(cmap(i % 20))
    ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.8, alpha=0.8, zorder=1))
    for tr in tracks:
        if len(tr.t):
            ax.plot(tr.x[-1], tr.y[-1], "o", ms=3, color="black", zorder=2)
    if encounters:
        by_name = {tr.name: tr for tr in tracks}
        pts = []
        for e in encounters[:2000]:
            tr = by_name.get(e.robots[0])
            if tr is not None:
                tm = 0.5 * (e.t_start + e.t_end)
                pts.append((np.interp(tm, tr.t, tr.x), np.interp(tm, tr.t, tr.y)))
        if pts:
            p = np.asarray(pts)
            ax.plot(p[:, 0], p[:, 1], "x", color="red", ms=7, mew=2, zorder=3,
                    label=f"close encounters ({len(encounters)})")
            ax.legend(loc="upper right")
    xmin, xmax, ymin, ymax = bounds(tracks, map_image)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(f"Trajectories of {len(tracks)} robots (dot: last position)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def congestion(path: Path, tracks: list[Track], map_image: MapImage | None,
               idle_speed: float, max_gap: float, cell: float = 1.0) -> None:
    xmin, xmax, ymin, ymax = bounds(tracks, map_image)
    nx, ny = max(1, int(np.ceil((xmax - xmin) / cell))), max(1, int(np.ceil((ymax - ymin) / cell)))
    heat = np.zeros((ny, nx))
    for tr in tracks:
        if len(tr.t) < 2:
            continue
        dt = np.diff(tr.t)
        speed = np.hypot(np.diff(tr.x), np.diff(tr.y)) / np.where(dt > 0, dt, np.inf)
        still = (dt > 0) & (dt <= max_gap) & (speed < idle_speed)
        h, _, _ = np.histogram2d(tr.y[:-1][still], tr.x[:-1][still], bins=(ny, nx),
                                 range=((ymin, ymin + ny * cell), (xmin, xmin + nx * cell)),
                                 weights=dt[still])
        heat += h
    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    _map_background(ax, map_image)
    masked = np.ma.masked_where(heat <= 0, heat / (cell * cell))
    im = ax.imshow(masked, origin="lower", extent=(xmin, xmin + nx * cell, ymin, ymin + ny * cell),
                   cmap="inferno_r", alpha=0.85, zorder=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="robot-seconds stopped per m²")
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(f"Congestion: where robots stood still (< {idle_speed} m/s)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def moving_matrix(tracks: list[Track], edges: np.ndarray, idle_speed: float, max_gap: float) -> np.ndarray:
    """``m[r, k]``: share of time bin k in which robot r moved (NaN where not observed)."""
    out = np.full((len(tracks), len(edges) - 1), np.nan)
    for r, tr in enumerate(tracks):
        if len(tr.t) < 2:
            continue
        dt = np.diff(tr.t)
        seen = (dt > 0) & (dt <= max_gap)
        speed = np.hypot(np.diff(tr.x), np.diff(tr.y)) / np.where(dt > 0, dt, np.inf)
        mid = tr.t[:-1] + dt / 2
        obs, _ = np.histogram(mid[seen], bins=edges, weights=dt[seen])
        mov, _ = np.histogram(mid[seen & (speed >= idle_speed)], bins=edges, weights=dt[seen & (speed >= idle_speed)])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[r] = np.where(obs > 0, mov / obs, np.nan)
    return out


def utilisation(path: Path, tracks: list[Track], duration: float, idle_speed: float, max_gap: float,
                busy: dict[str, list[tuple[float, float]]] | None = None, bins: int = 120) -> None:
    edges = np.linspace(0.0, max(duration, 1e-3), bins + 1)
    m = moving_matrix(tracks, edges, idle_speed, max_gap)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), dpi=100, sharex=True,
                                   gridspec_kw={"height_ratios": [1, 2]})
    centres = 0.5 * (edges[:-1] + edges[1:])
    seen = np.isfinite(m)
    fleet = np.where(seen.any(axis=0), np.nansum(m, axis=0) / np.maximum(seen.sum(axis=0), 1), 0.0)
    ax1.plot(centres, 100 * np.nan_to_num(fleet), label="moving")
    if busy:
        share = np.zeros(bins)
        width = edges[1] - edges[0]
        for spans in busy.values():
            for a, b in spans:
                lo, hi = np.clip(edges[:-1], a, b), np.clip(edges[1:], a, b)
                share += (hi - lo) / width
        ax1.plot(centres, 100 * share / max(1, len(tracks)), label="with a task")
    ax1.set_ylabel("fleet share [%]")
    ax1.set_ylim(0, 105)
    ax1.legend(loc="upper right")
    ax1.set_title("Utilisation over time")
    im = ax2.imshow(m, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1,
                    extent=(0, edges[-1], -0.5, len(tracks) - 0.5), interpolation="nearest")
    if len(tracks) <= 40:
        ax2.set_yticks(range(len(tracks)))
        ax2.set_yticklabels([tr.name for tr in tracks], fontsize=7)
    ax2.set_ylabel("robot")
    ax2.set_xlabel("time since bag start [s]")
    fig.colorbar(im, ax=[ax1, ax2], label="share of time moving", shrink=0.6)
    fig.savefig(path)
    plt.close(fig)

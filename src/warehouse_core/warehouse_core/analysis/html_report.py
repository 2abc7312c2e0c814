"""``report.html``: one self-contained file (no network) with the KPIs, the plots and an
animated replay of the robots over the map with a time slider.

The plots are embedded as base64 PNGs; the replay data (robot positions on a common frame
grid, in centimetres, and the close encounters) as JSON read by a small script that draws on
a ``<canvas>``. After each frame the script writes what it drew into the page
(``#replay-status`` and ``data-robots-drawn`` on the canvas), so a headless browser can
check that the replay works.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from warehouse_core.analysis.fleet_record import MapImage  # noqa: E402
from warehouse_core.analysis.plots import bounds  # noqa: E402
from warehouse_core.analysis.trajectory import Track  # noqa: E402

REPLAY_POINT_BUDGET = 400_000  # robot positions embedded in the page
ABSENT = -2**31 + 1


def replay_frames(tracks: list[Track], duration: float, budget: int = REPLAY_POINT_BUDGET) -> tuple[np.ndarray, list]:
    """Frame times and, per robot, positions in cm per frame (ABSENT once off the floor)."""
    frames = int(np.clip(budget // max(1, len(tracks)), 2, 1200))
    times = np.linspace(0.0, max(duration, 0.0), frames)
    out = []
    for tr in tracks:
        x = np.round(np.interp(times, tr.t, tr.x) * 100).astype(np.int64)
        y = np.round(np.interp(times, tr.t, tr.y) * 100).astype(np.int64)
        gone = times > tr.t[-1] + 1e-9
        x[gone] = ABSENT
        y[gone] = ABSENT
        out.append(np.column_stack((x, y)).ravel().tolist())
    return times, out


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _map_data_uri(map_image: MapImage | None) -> str:
    if map_image is None:
        return ""
    buf = io.BytesIO()
    plt.imsave(buf, map_image.occupied.astype(float), cmap="Greys", vmin=0, vmax=1.6, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _kv_table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _table(header: list[str], rows: list[list[object]], limit: int = 200) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows[:limit])
    more = f"<p class='note'>{len(rows) - limit} more rows in analysis.json</p>" if len(rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def write_report(path: Path, analysis: dict, tracks: list[Track], map_image: MapImage | None,
                 plots: dict[str, Path]) -> None:
    a = analysis
    times, positions = replay_frames(tracks, a["duration_s"])
    xmin, xmax, ymin, ymax = bounds(tracks, map_image)
    data = {
        "times": [round(float(t), 3) for t in times],
        "names": [tr.name for tr in tracks],
        "pos": positions,
        "absent": ABSENT,
        "bounds": [xmin, xmax, ymin, ymax],
        "map": _map_data_uri(map_image),
        "mapExtent": list(map_image.extent) if map_image is not None else None,
        "encounters": [[e["robots"][0], e["robots"][1], e["t_start_s"], e["t_end_s"]]
                       for e in a["close_encounters"][:5000]],
    }
    summary = [("bag", a["bag"]), ("storage", a["storage"]), ("duration [s]", a["duration_s"]),
               ("robots", len(a["robots"])), ("close encounters (< %s m)" % a["min_distance_m"],
                                              len(a["close_encounters"])),
               ("odometry gaps not judged", len(a["odom_gaps"]))]
    for key in ("tasks_completed", "throughput_per_hour", "orders_completed", "throughput_lines_per_hour",
                "robot_utilization"):
        if key in a:
            summary.append((key, a[key]))
    for key in ("task_cycle_s", "order_cycle_s"):
        if key in a and a[key].get("count"):
            c = a[key]
            summary.append((key, f"p50 {c['p50']}  p90 {c['p90']}  p95 {c['p95']}  p99 {c['p99']}  "
                                 f"(n={c['count']})"))
    robot_rows = [[r["name"], r["distance_m"], f"{r['idle_fraction'] * 100:.1f} %", r["mean_speed_mps"],
                   r["samples"], r.get("waiting_s", "")] for r in a["robots"]]
    enc_rows = [[" / ".join(e["robots"]), e["t_start_s"], e["t_end_s"], e["min_distance_m"]]
                for e in a["close_encounters"]]
    wait_rows = []
    for r in a["robots"]:
        for c in r.get("wait_causes", [])[:3]:
            wait_rows.append([r["name"], c["cause"], c["blocker"], c["seconds"], c["count"]])
    wait_rows.sort(key=lambda row: -row[3])
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in a["warnings"])
    imgs = "".join(f"<figure><img alt='{html.escape(k)}' src='{_png_data_uri(p)}'>"
                   f"<figcaption>{html.escape(k)}</figcaption></figure>" for k, p in plots.items())
    doc = _TEMPLATE.format(
        title=html.escape(f"Fleet analysis: {Path(a['bag']).name}"),
        warnings=f"<h2>Warnings</h2><ul class='warn'>{warn}</ul>" if warn else "",
        summary=_kv_table(summary),
        robots=_table(["robot", "distance [m]", "idle", "mean speed [m/s]", "samples", "waiting [s]"], robot_rows),
        encounters=_table(["robots", "from [s]", "to [s]", "min distance [m]"], enc_rows) if enc_rows
        else "<p>none</p>",
        waits=("<h2>Waiting, by cause</h2>" + _table(["robot", "cause", "waiting for", "seconds", "times"], wait_rows))
        if wait_rows else "",
        plots=imgs,
        data=json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
        script=_SCRIPT,
    )
    path.write_text(doc)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
table.kv th {{ background: #f3f3f3; }}
.warn li {{ color: #a40; }}
.note {{ color: #666; font-size: 0.85em; }}
figure {{ display: inline-block; margin: 0.5em; }} figure img {{ max-width: 640px; border: 1px solid #ddd; }}
#replay canvas {{ border: 1px solid #999; background: #fff; }}
#controls {{ margin: 0.4em 0; }} #slider {{ width: 640px; }}
</style></head>
<body>
<h1>{title}</h1>
{warnings}
<h2>Summary</h2>
{summary}
<h2>Replay</h2>
<div id="replay">
<canvas id="floor" width="800" height="600"></canvas>
<div id="controls"><button id="play">play</button>
<input id="slider" type="range" min="0" max="0" value="0" step="1">
<span id="replay-status">replay not drawn (JavaScript disabled?)</span></div>
</div>
<h2>Plots</h2>
{plots}
<h2>Robots</h2>
{robots}
<h2>Close encounters</h2>
{encounters}
{waits}
<script id="replay-data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""

_SCRIPT = r"""
(function () {
  const D = JSON.parse(document.getElementById('replay-data').textContent);
  const canvas = document.getElementById('floor');
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  const slider = document.getElementById('slider');
  const status = document.getElementById('replay-status');
  const [xmin, xmax, ymin, ymax] = D.bounds;
  const scale = Math.min(canvas.width / (xmax - xmin), canvas.height / (ymax - ymin));
  const px = (x) => (x - xmin) * scale;
  const py = (y) => canvas.height - (y - ymin) * scale;
  const index = {};
  D.names.forEach((n, i) => { index[n] = i; });
  let mapImg = null;
  if (D.map) { mapImg = new Image(); mapImg.src = D.map; mapImg.onload = () => draw(+slider.value); }
  slider.max = String(D.times.length - 1);
  const radius = Math.min(12, Math.max(2, 0.35 * scale));
  function draw(k) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (mapImg && mapImg.complete && D.mapExtent) {
      const [a, b, c, d] = D.mapExtent;
      ctx.drawImage(mapImg, px(a), py(d), (b - a) * scale, (d - c) * scale);
    }
    const t = D.times[k];
    const close = new Set();
    for (const e of D.encounters) {
      if (e[2] <= t && t <= e[3]) { close.add(e[0]); close.add(e[1]); }
    }
    let drawn = 0;
    D.pos.forEach((p, i) => {
      const x = p[2 * k], y = p[2 * k + 1];
      if (x === D.absent) return;
      const name = D.names[i];
      ctx.beginPath();
      ctx.arc(px(x / 100), py(y / 100), radius, 0, 2 * Math.PI);
      ctx.fillStyle = close.has(name) ? '#d00' : `hsl(${(200 + i * 47) % 300}, 70%, 45%)`;
      ctx.fill();
      if (D.names.length <= 30) {
        ctx.fillStyle = '#000'; ctx.font = '10px sans-serif';
        ctx.fillText(name, px(x / 100) + radius + 1, py(y / 100) - radius);
      }
      drawn += 1;
    });
    canvas.dataset.robotsDrawn = String(drawn);
    canvas.dataset.frame = String(k);
    status.textContent = `t = ${t.toFixed(1)} s   robots drawn: ${drawn}   close: ${close.size}`;
  }
  let timer = null;
  document.getElementById('play').addEventListener('click', (ev) => {
    if (timer) { clearInterval(timer); timer = null; ev.target.textContent = 'play'; return; }
    ev.target.textContent = 'pause';
    timer = setInterval(() => {
      let k = +slider.value + 1;
      if (k >= D.times.length) k = 0;
      slider.value = String(k); draw(k);
    }, 50);
  });
  slider.addEventListener('input', () => draw(+slider.value));
  draw(0);
})();
"""

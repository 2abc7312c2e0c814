"""``./warehouse analyze``: a bag in, ``analysis.json``, plots and ``report.html`` out.

One streaming pass over the bag (:mod:`.bag_source`) fills a
:class:`.fleet_record.FleetRecord`; the KPIs (:mod:`.fleet_kpis`), plots (:mod:`.plots`) and
the report (:mod:`.html_report`) are computed from it. Every robot's ``map_pose`` topic, else
its ``nav_msgs/msg/Odometry`` topic (in ``map``, or put there: :mod:`.pose_topics`), is one robot,
named from its namespace (a bag without odometry, ``./warehouse run --bag-odom
off``: the robots of the simulator's ground truth on ``/sim/fleet_state``); our task, order and
wait topics are used when present, and so are the side channels (faults, simulator events,
deadlock reports, status counters: ``side_channels`` in ``analysis.json``), typed or, in bags
recorded before they were typed, ``std_msgs/String``. The map comes from an
``nav_msgs/msg/OccupancyGrid`` topic in the bag, else ``map_path`` (a layout or Nav2 map YAML),
else the layout named in a ``params.yaml`` next to the bag (our runs write one).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from warehouse_core import topics
from warehouse_core.analysis import fleet_kpis as kpis
from warehouse_core.analysis import html_report, plots
from warehouse_core.analysis.bag_source import BagSource, StampChooser
from warehouse_core.analysis.fleet_record import OCCUPANCY_GRID, OWN_TOPICS, FleetRecord, MapImage
from warehouse_core.analysis.pose_topics import PoseTopics
from warehouse_core.analysis.side_channels import is_side_channel
from warehouse_core.errors import InputError


@dataclass
class AnalyzeOptions:
    """What to analyse and how."""

    bag: Path
    out: Path
    min_distance: float = 0.5
    map_path: Path | None = None
    msg_dirs: list[Path] = field(default_factory=list)
    motion: kpis.MotionSettings = field(default_factory=kpis.MotionSettings)
    progress: bool = True
    plots: bool = True


class ProgressBar:
    """Progress over bag time on stderr: a bar on a terminal, a line per 10 % otherwise."""

    def __init__(self, total_s: float, enabled: bool) -> None:
        self.total, self.enabled = total_s, enabled and total_s > 0
        self.tty = sys.stderr.isatty()
        self.last = -1
        self.last_draw = 0.0
        self.t0 = time.monotonic()

    def show(self, t: float, messages: int) -> None:
        if not self.enabled:
            return
        frac = min(1.0, max(0.0, t / self.total))
        now = time.monotonic()
        if self.tty:
            if now - self.last_draw < 0.2 and frac < 1.0:
                return
            self.last_draw = now
            sys.stderr.write(f"\r[{'#' * int(frac * 30):<30}] {frac * 100:3.0f}%  "
                             f"{messages} messages, {now - self.t0:.0f} s")
            sys.stderr.flush()
        elif int(frac * 10) > self.last:
            self.last = int(frac * 10)
            print(f"reading {frac * 100:3.0f}%  {messages} messages", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def load_map(path: Path) -> MapImage:
    """A layout YAML (``map:`` + cells) or a Nav2 map YAML as an occupancy image."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(str(path), f"cannot read map: {exc}",
                         fix="pass a layout or Nav2 map YAML with --map") from None
    if isinstance(doc, dict) and "image" in doc:
        from warehouse_core.maps.occupancy import load_occupancy_map
        m = load_occupancy_map(path)
        ox, oy = float(m.origin[0]), float(m.origin[1])
        extent = (ox, ox + m.width * m.resolution, oy, oy + m.height * m.resolution)
        return MapImage((~m.free).astype(float), extent, str(path))
    from warehouse_core.maps.layout import load_layout
    lay = load_layout(path)
    f, free = lay.frame, lay.grid.free
    h, w = free.shape
    shade = (~free).astype(float)
    shade[lay.storage_mask] = 0.25  # storage locations, light grey
    return MapImage(shade, (f.origin_x, f.origin_x + w * f.cell_size, f.origin_y, f.origin_y + h * f.cell_size),
                    str(path))


def _map_from_params(bag: Path, warn: Callable[[str], None]) -> MapImage | None:
    params = bag.parent / "params.yaml"
    if not params.is_file():
        return None
    try:
        layout = yaml.safe_load(params.read_text())["/**"]["ros__parameters"]["layout"]
        return load_map(Path(layout))
    except (KeyError, TypeError, yaml.YAMLError, InputError, OSError) as exc:
        warn(f"{params}: the layout it names cannot be drawn ({exc}); no map behind the plots")
        return None


@dataclass
class BagRead:
    """The outcome of one streaming pass over a bag."""

    record: FleetRecord
    tracks: list
    storage: str
    truncated: bool
    topics: dict
    messages: int
    duration: float
    complete: bool = True


def read_bag(bag: Path, msg_dirs: list[Path], note: Callable[[str], None], progress: bool = True) -> BagRead:
    """Stream the odometry, map and our event topics of ``bag`` into a :class:`FleetRecord`."""
    with BagSource(bag, msg_dirs, note) as src:
        poses = PoseTopics({t.name: t.msgtype for t in src.topics.values() if t.decodable}, note)
        odom = poses.topics  # map poses, else odometry (put into map by its frame)
        truth = set() if odom else ground_truth_topics(src)
        if not odom and not truth:
            raise InputError(str(bag), "no nav_msgs/msg/Odometry topic: nothing tells where robots were "
                             f"(topics: {', '.join(sorted(src.topics)[:8]) or 'none'})",
                             fix="record the robots' odometry, e.g. `ros2 bag record /robot_0/odom ...`")
        if truth:
            note(f"{bag}: no odometry topic; robot positions are the floor simulator's ground truth on "
                 f"{', '.join(sorted(truth))} (a run with --bag-odom off)")
        own = {t for t, ty in OWN_TOPICS.items() if t in src.topics and src.topics[t].msgtype == ty
               and src.topics[t].decodable}
        maps = set(src.topics_of_type(OCCUPANCY_GRID))
        side = {t.name for t in src.topics.values() if t.decodable and is_side_channel(t.name, t.msgtype)}
        rec = FleetRecord(src.start_ns, note, src.declared_end_ns)
        stamp = StampChooser(note, src.start_ns)
        duration_hint = (src.end_ns - src.start_ns) * 1e-9
        bar = ProgressBar(duration_hint, progress)
        count = 0
        for m in src.messages(odom | truth | own | maps | side | poses.transforms, raw=odom):
            count += 1
            if m.topic in truth:
                rec.on_batch(m.topic, stamp(m), m.msg.robot_ids, m.msg.x.tolist(), m.msg.y.tolist())
            elif m.topic in odom:
                pose = poses.pose_raw(m.topic, m.msg)
                if pose is None:
                    msg = src.decode(m.topic, poses.msgtype(m.topic), m.msg)
                    if msg is None:
                        continue
                    pose = poses.pose_msg(m.topic, msg)
                rec.on_pose(m.topic, stamp(m, pose[0]), pose[1], pose[2])
            elif m.topic in poses.transforms:
                poses.on_transform(m.topic, m.msg)
            elif m.topic in maps:
                rec.on_map(m.topic, m.msg)
            elif m.topic in side:
                rec.on_side_channel(m.topic, m.msgtype, m.log_time_ns, m.msg)
            else:
                rec.on_event(m.topic, stamp(m), m.msg)
            if count % 2000 == 0:
                bar.show(rec.rel(m.log_time_ns), count)
        bar.show(duration_hint, count)
        bar.end()
        stamp.report(odom | truth)
        problems = src.problems()
        topics = {t.name: {"type": t.msgtype, "messages": t.count, "decoded": t.decoded,
                           "undecodable": t.failed, "known_type": t.decodable} for t in src.topics.values()}
        storage, truncated, complete = src.storage, src.truncated, not src.unchecked and not problems
    tracks = rec.tracks()
    if not tracks:  # nothing usable: refuse, saying what could not be read
        raise InputError(str(bag), "no robot position could be read"
                         + (f": {'; '.join(problems[:3])}" if problems else " (the odometry topics hold no message)"),
                         fix="check the recording (`ros2 bag info`); see docs/analysis.md for damaged bags")
    for text in problems:
        note(text)
    duration = max(float(max(tr.t[-1] for tr in tracks)), rec.last_t, 0.0)
    rec.finish(duration)  # says what the plausibility screen left out
    return BagRead(rec, tracks, storage, truncated, topics, count, duration, complete and not rec.excluded)


def ground_truth_topics(src: BagSource) -> set[str]:
    """The floor simulator's ground-truth topic (batched FleetState, every robot every tick) when
    the bag has it and it decodes: the robots' positions in a bag recorded without odometry."""
    truth = topics.SIM_FLEET_STATE
    info = src.topics.get(truth.name)
    return {truth.name} if info is not None and info.msgtype == truth.msgtype and info.decodable else set()


def analyze_bag(opts: AnalyzeOptions, warn: Callable[[str], None] | None = None) -> dict:
    """Analyse ``opts.bag`` into ``opts.out``; returns the ``analysis.json`` content."""
    if not opts.min_distance > 0:
        raise InputError("--min-distance", f"{opts.min_distance} is not a positive distance", fix="e.g. 0.5")
    warnings: list[str] = []

    def note(text: str) -> None:
        warnings.append(text)
        if warn is not None:
            warn(text)

    t_wall = time.monotonic()
    got = read_bag(opts.bag, opts.msg_dirs, note, opts.progress)
    rec, tracks, count = got.record, got.tracks, got.messages
    duration = got.duration
    timings = {"read_s": round(time.monotonic() - t_wall, 2)}
    s = opts.motion
    robots = [kpis.robot_motion(tr, s) for tr in tracks]
    waits = kpis.waiting(rec)
    for r in robots:
        r.update(waits.get(r["name"], {}))
    t0 = time.monotonic()
    encounters = kpis.windowed_encounters(tracks, opts.min_distance, s.max_gap)
    timings["encounters_s"] = round(time.monotonic() - t0, 2)
    result = {
        "bag": str(opts.bag),
        "storage": got.storage,
        "truncated": got.truncated,
        "complete": got.complete,
        "duration_s": round(duration, 3),
        "min_distance_m": opts.min_distance,
        "robots": robots,
        "close_encounters": kpis.encounter_dicts(encounters),
        "odom_gaps": kpis.gap_dicts(tracks, s.max_gap),
        "idle_speed_mps": s.idle_speed,
        "max_gap_s": s.max_gap,
    }
    result.update(kpis.task_kpis(rec, duration, len(tracks)))
    if rec.waits_seen:
        result["waiting_s_total"] = round(sum(w["waiting_s"] for w in waits.values()), 2)
    if rec.side.forms:
        result["side_channels"] = rec.side.summary()
    result["topics"] = got.topics
    result["messages_read"] = count
    map_image = _map_image(rec.map, opts, note)
    result["map"] = map_image.source if map_image is not None else ""
    result["warnings"] = warnings
    opts.out.mkdir(parents=True, exist_ok=True)
    timings.update(_write_figures(opts, result, got, map_image, encounters))
    result["timings"] = timings
    result["analysis_wall_s"] = round(time.monotonic() - t_wall, 2)
    (opts.out / "analysis.json").write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    return result


def _map_image(recorded: MapImage | None, opts: AnalyzeOptions, note: Callable[[str], None]) -> MapImage | None:
    """The map to draw on: the bag's own, else ``--map``, else the layout of the run's params.yaml."""
    if recorded is not None:
        return recorded
    if opts.map_path is not None:
        return load_map(opts.map_path)
    return _map_from_params(Path(opts.bag), note)


def _write_figures(opts: AnalyzeOptions, result: dict, got, map_image: MapImage | None,
                   encounters: list) -> dict[str, float]:
    """The plots (unless ``--no-plots``) and the HTML report; their wall times."""
    rec, tracks, duration, s = got.record, got.tracks, got.duration, opts.motion
    written = {}
    t0 = time.monotonic()
    if opts.plots:
        written = {"trajectories": opts.out / "trajectories.png", "congestion": opts.out / "congestion.png",
                   "utilisation": opts.out / "utilisation.png"}
        plots.trajectories(written["trajectories"], tracks, map_image, encounters)
        plots.congestion(written["congestion"], tracks, map_image, s.idle_speed, s.max_gap)
        busy = kpis.busy_intervals(rec, duration) if rec.tasks_seen else None
        plots.utilisation(written["utilisation"], tracks, duration, s.idle_speed, s.max_gap, busy)
    timings = {"plots_s": round(time.monotonic() - t0, 2)}
    t0 = time.monotonic()
    html_report.write_report(opts.out / "report.html", result, tracks, map_image, written)
    timings["report_s"] = round(time.monotonic() - t0, 2)
    return timings


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def summary(a: dict, out: Path) -> str:
    """A few lines for the terminal."""
    lines = [f"Bag analysis: {len(a['robots'])} robots, {a['duration_s']:.0f} s ({a['storage']}), "
             f"{a['messages_read']} messages read in {a['analysis_wall_s']:.1f} s"]
    if not a["complete"]:
        lines.append("  INCOMPLETE  the bag was not read whole: the warnings say what was skipped")
    dist = sum(r["distance_m"] for r in a["robots"])
    idle = np.mean([r["idle_fraction"] for r in a["robots"]]) if a["robots"] else 0.0
    lines.append(f"  motion      {dist:.0f} m driven, mean idle {idle * 100:.0f} %")
    lines.append(f"  safety      {len(a['close_encounters'])} close encounters (< {a['min_distance_m']} m), "
                 f"{len(a['odom_gaps'])} odometry gaps not judged")
    if "tasks_completed" in a:
        c = a["task_cycle_s"]
        lines.append(f"  tasks       {a['tasks_completed']} completed ({a['throughput_per_hour']:.0f}/h)"
                     + (f", cycle p50 {c['p50']:.0f} s, p95 {c['p95']:.0f} s" if c.get("count") else ""))
    if "waiting_s_total" in a:
        lines.append(f"  waiting     {a['waiting_s_total']:.0f} robot-seconds (causes per robot in analysis.json)")
    if a["warnings"]:
        lines.append(f"  warnings    {len(a['warnings'])} (first: {a['warnings'][0]})")
    lines.append(f"  written     {out / 'analysis.json'}, {out / 'report.html'} and plots")
    return "\n".join(lines)

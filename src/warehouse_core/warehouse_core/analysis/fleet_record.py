"""What a bag says about a fleet, gathered message by message in compact form.

:class:`FleetRecord` takes deserialised messages (see :mod:`.bag_source`) and keeps only what
the analysis needs: per robot the odometry samples as packed float arrays (24 bytes a sample,
whatever the message size), the task and order events in a :class:`~warehouse_core.analysis.metrics.RunRecord`,
task start and end per robot, wait spans with their cause from ``/fleet/waits``, the recorded
orders (for a what-if re-run), the last occupancy grid seen (the map) and the side channels
(faults, simulator events, deadlock reports, status counters) counted, from bags of either form.
Times are seconds since the start of the bag. Positions no robot can have and times outside the
bag's span are left out of every metric and counted (:mod:`.plausibility`): :attr:`FleetRecord.excluded`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from warehouse_core import topics
from warehouse_core.analysis import plausibility, side_channels
from warehouse_core.analysis.bagio import robot_name_from_topic
from warehouse_core.analysis.metrics import RunRecord
from warehouse_core.analysis.trajectory import Track
from warehouse_core.ops.model import TYPE_CHARGE
from warehouse_core.tasks import OP_PICK

WAIT_ROBOT, WAIT_SCHEDULE, WAIT_PLANNING = 1, 2, 3  # WaitStatus.KIND_*
WAIT_CAUSES = {WAIT_ROBOT: "robot", WAIT_SCHEDULE: "schedule", WAIT_PLANNING: "planning"}

OWN_TOPICS = {t.name: t.msgtype for t in (topics.TASKS, topics.TASK_STATUS, topics.ORDERS, topics.ORDER_STATUS,
                                          topics.PARCELS, topics.FLEET_WAITS)}
OCCUPANCY_GRID = "nav_msgs/msg/OccupancyGrid"


@dataclass
class Samples:
    """Odometry samples of one robot: packed arrays of time [s], x and y [m]."""

    topic: str
    listed: bool = False  # named by an id in a batched message (not by its own topic)
    t: array = field(default_factory=lambda: array("d"))
    x: array = field(default_factory=lambda: array("d"))
    y: array = field(default_factory=lambda: array("d"))

    def add(self, t: float, x: float, y: float) -> None:
        self.t.append(t)
        self.x.append(x)
        self.y.append(y)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Time, x and y in recording order (views of the packed arrays)."""
        return (np.frombuffer(self.t, dtype=float), np.frombuffer(self.x, dtype=float),
                np.frombuffer(self.y, dtype=float))

    def track(self, name: str, keep: np.ndarray | None = None) -> Track:
        """The samples (those of the mask ``keep``) in time order."""
        t, x, y = self.arrays()
        if keep is not None and not keep.all():
            t, x, y = t[keep], x[keep], y[keep]
        order = np.argsort(t, kind="stable")
        if np.all(order == np.arange(len(t))):
            return Track(name, t.copy(), x.copy(), y.copy())
        return Track(name, t[order], x[order], y[order])


@dataclass
class WaitCause:
    """Time one robot spent waiting for one reason (``kind``: robot, schedule, planning)."""

    kind: str
    blocker: str = ""
    seconds: float = 0.0
    count: int = 0


@dataclass
class MapImage:
    """An occupancy image in the map frame: ``occupied[row, col]`` from 0 (free) to 1 (occupied;
    storage locations of a layout in between), row 0 at the top, covering
    ``extent = (xmin, xmax, ymin, ymax)`` metres."""

    occupied: np.ndarray
    extent: tuple[float, float, float, float]
    source: str


@dataclass
class RecordedOrder:
    """An order as recorded on ``/orders`` (for a what-if re-run of the allocator)."""

    order_id: str
    consumer_id: str
    lines: list[tuple[str, int]]
    created: float
    deadline: float
    service: int


class FleetRecord:
    """Accumulates a bag's messages (see module docstring)."""

    def __init__(self, start_ns: int, warn: Callable[[str], None], end_ns: int | None = None) -> None:
        self.start_ns = start_ns
        self.screen = plausibility.PlausibilityScreen(math.inf if end_ns is None else self.rel(end_ns))
        self.batches = 0  # batched position messages (robots named by id)
        self._tracks: list[Track] | None = None
        self.warn = warn
        self.robots: dict[str, Samples] = {}
        self._name_of: dict[str, str] = {}
        self.run = RunRecord()
        self.tasks_seen = False
        self.task_robot: dict[str, str] = {}
        self.task_state: dict[str, int] = {}
        self.orders: list[RecordedOrder] = []
        self.waits_seen = False
        self._wait_now: dict[str, tuple[int, str, float]] = {}  # robot -> (kind, blocker, since)
        self.wait_causes: dict[str, dict[tuple[str, str], WaitCause]] = {}
        self.map: MapImage | None = None
        self.last_t = 0.0
        self.side = side_channels.SideChannelTally()
        self.side_unreadable: dict[str, int] = {}  # side channel -> String messages that do not parse

    def rel(self, t_ns: int) -> float:
        return (t_ns - self.start_ns) * 1e-9

    # -- odometry ---------------------------------------------------------------------
    def robot_for(self, topic: str, robot: str | None = None) -> str:
        """The robot whose poses come on ``topic`` (named from its namespace unless ``robot`` names it)."""
        name = self._name_of.get(topic)
        if name is None:
            name = robot or robot_name_from_topic(topic)
            if name in self.robots:
                alt = topic.strip("/").replace("/", "_")
                self.warn(f"{topic}: robot name {name!r} is taken by {self.robots[name].topic}; "
                          f"this one is called {alt!r}")
                name = alt
            self._name_of[topic] = name
            self.robots[name] = Samples(topic, listed=robot is not None)
        return name

    def on_odometry(self, topic: str, t_ns: int, msg) -> None:
        p = msg.pose.pose.position
        self.on_pose(topic, t_ns, float(p.x), float(p.y))

    def on_pose(self, topic: str, t_ns: int, x: float, y: float, robot: str | None = None) -> None:
        t = self.rel(t_ns)
        name = self.robot_for(topic, robot)
        if not (math.isfinite(x) and math.isfinite(y)):
            self.screen.exclude(self.robots[name].topic, plausibility.NOT_FINITE, np.array([t]))
            return
        self.robots[name].add(t, x, y)  # the end of the run is that of the tracks kept (see tracks)

    def on_batch(self, topic: str, t_ns: int, names, xs, ys) -> None:
        """A batched message of positions (parallel arrays): one sample per robot it lists."""
        self.batches += 1
        for name, x, y in zip(names, xs, ys):
            self.on_pose(f"{topic}/{name}", t_ns, x, y, name)

    def tracks(self) -> list[Track]:
        """Each robot's plausible samples in time order (screened once, on the first call)."""
        if self._tracks is None:
            if self.map is not None:
                self.screen.set_map(self.map.extent, self.map.source)
            listed = {name: len(s.t) for name, s in self.robots.items() if s.listed}
            rare = plausibility.rare_ids(listed, self.batches)
            self._tracks = []
            for name, s in sorted(self.robots.items()):
                t, x, y = s.arrays()
                if name in rare:
                    self.screen.exclude(s.topic, f"robot id {name!r} listed in only {rare[name]} of "
                                                 f"{self.batches} messages: not a robot of the fleet", t)
                    continue
                keep = self.screen.screen(s.topic, t, x, y)
                if keep.any():
                    self._tracks.append(s.track(name, keep))
        return self._tracks

    @property
    def excluded(self) -> bool:
        """Whether any message was left out for an implausible value (see :mod:`.plausibility`)."""
        return bool(self.screen.excluded)

    def _in_span(self, topic: str, t: float) -> bool:
        """Whether an event at ``t`` lies in the bag's span; one that does not is counted and left out."""
        if self.screen.lo <= t <= self.screen.hi:
            return True
        self.screen.exclude(topic, plausibility.OFF_SPAN, np.array([t]))
        return False

    # -- our event topics -------------------------------------------------------------
    def on_event(self, topic: str, t_ns: int, msg) -> None:
        t = self.rel(t_ns)
        if not self._in_span(topic, t):
            return
        self.last_t = max(self.last_t, t)
        run = self.run
        if topic == topics.TASK_STATUS.name:
            self.tasks_seen = True
            if msg.robot_id:
                self.task_robot[msg.task_id] = msg.robot_id
            self.task_state[msg.task_id] = int(msg.state)
            run.on_task_status(msg.task_id, int(msg.state), int(msg.step_index), t)
        elif topic == topics.TASKS.name:
            self.tasks_seen = True
            pick = next((i for i, s in enumerate(msg.steps) if s.op == OP_PICK), -1)
            run.on_task(msg.task_id, len(msg.lines), pick, msg.type == TYPE_CHARGE)
            if msg.robot_id:
                self.task_robot.setdefault(msg.task_id, msg.robot_id)
        elif topic == topics.ORDER_STATUS.name:
            run.on_order_status(msg.order_id, int(msg.state), int(msg.lines_total), t)
        elif topic == topics.ORDERS.name:
            created = self.rel(msg.created.sec * 10**9 + msg.created.nanosec)
            deadline = self.rel(msg.deadline.sec * 10**9 + msg.deadline.nanosec)
            run.on_order(msg.order_id, deadline)
            self.orders.append(RecordedOrder(msg.order_id, msg.consumer_id,
                                             [(line.sku, int(line.quantity)) for line in msg.lines],
                                             created, deadline, int(msg.service)))
        elif topic == topics.PARCELS.name:
            run.on_parcel(list(msg.order_ids), bool(msg.late))
        elif topic == topics.FLEET_WAITS.name:
            self._waits(msg, t)

    def on_side_channel(self, topic: str, msgtype: str, t_ns: int, msg) -> None:
        """A side-channel message in either form (see :mod:`.side_channels`); one whose text does
        not parse is counted in ``side_unreadable``."""
        if not self._in_span(topic, self.rel(t_ns)):
            return
        self.last_t = max(self.last_t, self.rel(t_ns))
        rec = side_channels.record(topic, msg)
        if rec is None:
            self.side_unreadable[topic] = self.side_unreadable.get(topic, 0) + 1
            return
        self.side.add(topic, msgtype, rec)

    def _waits(self, msg, t: float) -> None:
        self.waits_seen = True
        for w in msg.waits:
            self._close_wait(w.robot_id, t)
            self._wait_now[w.robot_id] = (int(w.kind), str(w.blocker), t)

    def _close_wait(self, robot: str, t: float) -> None:
        cur = self._wait_now.pop(robot, None)
        if cur is None or cur[0] not in WAIT_CAUSES:
            return
        kind, blocker, since = cur
        key = (WAIT_CAUSES[kind], blocker if kind == WAIT_ROBOT else "")
        cause = self.wait_causes.setdefault(robot, {}).setdefault(key, WaitCause(*key))
        cause.seconds += max(0.0, t - since)
        cause.count += 1

    def finish(self, end_t: float) -> None:
        """Close what is still open at the end of the bag."""
        for text in self.screen.warnings():
            self.warn(text)
        for topic, n in sorted(self.side_unreadable.items()):
            self.warn(f"{topic}: {n} std_msgs/String message(s) that are not the expected JSON skipped")
        for robot in list(self._wait_now):
            self._close_wait(robot, end_t)

    # -- map --------------------------------------------------------------------------
    def on_map(self, topic: str, msg) -> None:
        info = msg.info
        w, h, res = int(info.width), int(info.height), float(info.resolution)
        data = np.asarray(msg.data, dtype=np.int16)
        if w <= 0 or h <= 0 or data.size != w * h:
            self.warn(f"{topic}: OccupancyGrid of {w} x {h} cells has {data.size} values; map not used")
            return
        occ = (data.reshape(h, w) >= 50)[::-1].astype(float)  # message row 0 is the bottom row
        ox, oy = float(info.origin.position.x), float(info.origin.position.y)
        self.map = MapImage(occ, (ox, ox + w * res, oy, oy + h * res), topic)

"""The side channels of a run as records, from either form a bag holds them in.

Simulator events (``/sim/events``), faults (``/sim/faults``), deadlock reports
(``/planner/deadlocks``), the allocator's open orders (``/allocator/open_orders``), the status
counters (``/sim/status``, ``/planner/status``) and the forecast evaluation
(``/forecast/summary``) are typed messages of ``warehouse_interfaces``; bags recorded before
those messages existed hold them as ``std_msgs/String`` (JSON, or ``k=v`` text for the status
lines). :func:`record` turns a message of either form into the same record, a dict with the keys
the JSON had (``{"event": "lift_failed", "robot": ..., "rack": ..., "waypoint": ..., "time": ...}``),
so the run report and the bag analysis read old and new bags alike. It reads fields by name only,
so it takes messages deserialised by ``rosbags`` or by rclpy.

The numeric codes below are the ``EVENT_*`` / ``PHASE_*`` constants of the messages (a test
checks they agree); :mod:`warehouse_nodes.conversions` builds the messages from the same names.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from warehouse_core import topics

SIM_EVENTS = {1: "robot_failed", 2: "robot_removed", 3: "lift_failed", 4: "drop_failed"}  # SimEvent.EVENT_*
FAULT_EVENTS = {1: "fault_injected", 2: "fault_cleared", 3: "fault_skipped"}  # FaultEvent.EVENT_*
DEADLOCK_EVENTS = {1: "detected", 2: "resolved"}  # DeadlockReport.EVENT_*
SIM_PHASES = {1: "started", 2: "running", 3: "stopped"}  # SimStatus.PHASE_*
PLANNER_COUNTERS = ("plan_repairs", "robot_failures", "lag_repairs", "freeze_timeouts", "deadlocks",
                    "unresolved_deadlocks", "priority_boosts", "watchdog_replans")
SIM_COUNTERS = ("stalls", "node_stalls", "allocator_stalls", "injected_delays", "robot_failures")
FORECAST_FIELDS = ("model", "ets_model", "mase", "seasonal_naive_mase", "series", "periods", "folds", "horizon",
                   "source", "computed_in_s")


def _time(msg) -> float:
    st = msg.header.stamp
    return round(int(st.sec) + int(st.nanosec) * 1e-9, 3)


def _sim_event(msg) -> dict:
    event = SIM_EVENTS.get(int(msg.event), str(msg.event))
    out: dict = {"event": event, "robot": msg.robot_id}
    if event == "robot_failed":
        out["reason"] = msg.reason
    elif event == "robot_removed":
        out.update(rack=msg.rack_id, location=msg.location_id)
    else:
        out.update(rack=msg.rack_id, waypoint=int(msg.waypoint))
    return {**out, "time": _time(msg)}


def _fault(msg) -> dict:
    """Strings when set, the cell when there is one, every number (0 where it does not apply)."""
    out: dict = {"event": FAULT_EVENTS.get(int(msg.event), str(msg.event)), "kind": msg.kind, "time": _time(msg)}
    for key, value in (("robot", msg.robot_id), ("rack", msg.rack_id), ("why", msg.reason)):
        if value:
            out[key] = value
    if msg.has_cell:
        out["cell"] = [int(msg.cell_x), int(msg.cell_y)]
    for key in ("seconds", "delayed_s", "tow_after", "delay", "loss"):
        out[key] = float(getattr(msg, key))
    for key in ("states_dropped", "states_delayed", "releases_dropped"):
        out[key] = int(getattr(msg, key))
    return out


def _deadlock(msg) -> dict:
    event = DEADLOCK_EVENTS.get(int(msg.event), str(msg.event))
    out: dict = {"event": event, "id": int(msg.deadlock_id), "time": _time(msg)}
    if event == "detected":
        out.update(robot=msg.robot_id, chain=list(msg.chain), cycle=bool(msg.cycle), reason=msg.reason)
    else:
        out["after_s"] = round(float(msg.after_s), 3)
    return out


def _open_orders(msg) -> dict:
    return {"time": _time(msg), "open": list(msg.order_ids)}


def _planner_status(msg) -> dict:
    return {k: int(getattr(msg, k)) for k in PLANNER_COUNTERS}


def _sim_status(msg) -> dict:
    return {"phase": SIM_PHASES.get(int(msg.phase), str(msg.phase)), "t": _time(msg),
            **{k: int(getattr(msg, k)) for k in SIM_COUNTERS}}


def _forecast(msg) -> dict:
    return {k: (v if isinstance(v, str) else float(v) if isinstance(v, float) else int(v))
            for k, v in ((k, getattr(msg, k)) for k in FORECAST_FIELDS)}


_TYPED = {topics.SIM_EVENTS.name: _sim_event, topics.SIM_FAULTS.name: _fault,
          topics.PLANNER_DEADLOCKS.name: _deadlock, topics.ALLOCATOR_OPEN_ORDERS.name: _open_orders,
          topics.PLANNER_STATUS.name: _planner_status, topics.SIM_STATUS.name: _sim_status,
          topics.FORECAST_SUMMARY.name: _forecast}
_STATUS_LINES = {topics.PLANNER_STATUS.name, topics.SIM_STATUS.name}


def status_line(text: str) -> dict:
    """A ``[phase] k=v k=v`` status line as a dict (integers where they are; ``t`` in seconds)."""
    out: dict = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if not sep:
            out["phase"] = word
            continue
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def record(topic: str, msg) -> dict | None:
    """The record of a side-channel message of ``topic`` in either form (see module docstring);
    None for a topic that is not a side channel or a String whose text does not parse."""
    data = getattr(msg, "data", None)
    if isinstance(data, str):  # std_msgs/String: a bag recorded before the typed messages
        if topic in _STATUS_LINES:
            return status_line(data)
        try:
            doc = json.loads(data)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    convert = _TYPED.get(topic)
    return convert(msg) if convert is not None else None


def is_side_channel(topic: str, msgtype: str) -> bool:
    """Whether ``topic`` is a side channel in one of its two forms."""
    t = topics.by_name(topic)
    return t in topics.SIDE_CHANNELS and msgtype in (t.msgtype, topics.LEGACY_STRING)


@dataclass
class SideChannelTally:
    """What the side channels of a bag say, counted (the ``side_channels`` of ``analysis.json``)."""

    faults: Counter = field(default_factory=Counter)  # (event, kind) -> announcements
    sim_events: Counter = field(default_factory=Counter)  # event -> count
    deadlocks_detected: int = 0
    open_deadlocks: set = field(default_factory=set)
    last: dict[str, dict] = field(default_factory=dict)  # topic -> its last record (status, open orders)
    forms: dict[str, str] = field(default_factory=dict)  # topic -> "typed" or "string"

    def add(self, topic: str, msgtype: str, rec: dict) -> None:
        self.forms[topic] = "string" if msgtype == topics.LEGACY_STRING else "typed"
        event = rec.get("event")
        if topic == topics.SIM_FAULTS.name:
            self.faults[(str(event), str(rec.get("kind")))] += 1
        elif topic == topics.SIM_EVENTS.name:
            self.sim_events[str(event)] += 1
        elif topic == topics.PLANNER_DEADLOCKS.name:
            if event == "detected":
                self.deadlocks_detected += 1
                self.open_deadlocks.add(rec.get("id"))
            elif event == "resolved":
                self.open_deadlocks.discard(rec.get("id"))
        else:
            self.last[topic] = rec

    def summary(self) -> dict:
        open_orders = self.last.get(topics.ALLOCATOR_OPEN_ORDERS.name)
        return {
            "forms": dict(sorted(self.forms.items())),
            "faults_injected": _by_kind(self.faults, "fault_injected"),
            "faults_cleared": _by_kind(self.faults, "fault_cleared"),
            "sim_events": dict(sorted(self.sim_events.items())),
            "deadlocks_detected": self.deadlocks_detected,
            "unresolved_deadlocks": len(self.open_deadlocks),
            "open_orders_at_end": len(open_orders["open"]) if open_orders else None,
            "planner_status": self.last.get(topics.PLANNER_STATUS.name, {}),
            "sim_status": self.last.get(topics.SIM_STATUS.name, {}),
            "forecast": self.last.get(topics.FORECAST_SUMMARY.name, {}),
        }


def _by_kind(faults: Counter, event: str) -> dict[str, int]:
    return dict(sorted((kind, n) for (ev, kind), n in faults.items() if ev == event))

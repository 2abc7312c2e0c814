"""What the operators' API reads: the fleet and the orders followed from the ROS graph.

:class:`GraphFollower` subscribes, on the API node, to the robots' states (``/fleet/states``), the
operators' control state (``/fleet/control``), the waits (``/fleet/waits``), the orders
(``/orders``, ``/order_status``), deadlocks (``/planner/deadlocks``) and the simulator's events
(``/sim/events``), and answers the API's reads from what it heard last.

Reads are cheap at fleet scale: the order counts, the open orders and the units ordered per SKU
are kept up to date as events arrive (no read walks every order), and the fleet's JSON (what
``GET /fleet`` and the live stream send) is built at most once per ``refresh`` seconds, and only
when something changed, however many clients ask. Callbacks run on the ROS executor's thread and
only replace entries; the reads copy before they iterate.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import NamedTuple

from rclpy.node import Node

from warehouse_core import topics
from warehouse_core.fleet.alarms import AlarmLog
from warehouse_core.maps.layout import Layout
from warehouse_interfaces.msg import (
    DeadlockReport,
    FleetControl,
    FleetState,
    FleetWaits,
    Order,
    OrderStatus,
    RobotState,
    SimEvent,
)
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv
from warehouse_nodes.api_app import OrderView, RobotView, SkuView

MODE_NAMES = {v: k[len("MODE_"):].lower() for k, v in vars(RobotState).items() if k.startswith("MODE_")}
ORDER_STATES = {OrderStatus.STATE_ACCEPTED: "accepted", OrderStatus.STATE_REJECTED: "rejected",
                OrderStatus.STATE_IN_PROGRESS: "in_progress", OrderStatus.STATE_COMPLETED: "completed",
                OrderStatus.STATE_CANCELLED: "cancelled"}
CLOSED = (OrderStatus.STATE_COMPLETED, OrderStatus.STATE_REJECTED, OrderStatus.STATE_CANCELLED)
SIM_EVENTS = {SimEvent.EVENT_ROBOT_FAILED: ("failure", "failed"),
              SimEvent.EVENT_ROBOT_REMOVED: ("failure", "towed away"),
              SimEvent.EVENT_LIFT_FAILED: ("failure", "could not lift its rack"),
              SimEvent.EVENT_DROP_FAILED: ("failure", "could not put its rack down")}


class Robot(NamedTuple):
    """A robot as the API shows it (from its last state)."""

    x: float
    y: float
    theta: float
    mode: str
    task_id: str
    battery: float


class GraphFollower:
    """The API's picture of the graph (see the module docstring); ``stock``: units per SKU at start;
    ``refresh``: [s, wall] the fleet's JSON is at most this old."""

    def __init__(self, node: Node, stock: dict[str, int], refresh: float = 0.2) -> None:
        self.node, self.stock, self.refresh = node, stock, refresh
        self.robots: dict[str, Robot] = {}
        self.control = FleetControl()
        self.waits: dict[str, list[str]] = {}
        self.orders: dict[str, OrderStatus] = {}
        self.open: dict[str, None] = {}  # open order ids in arrival order (an ordered set)
        self.counts: Counter = Counter()  # orders by state
        self.lines_picked = 0
        self.units: dict[str, dict[str, int]] = {}  # order id -> sku -> units (from /orders)
        self.taken: Counter = Counter()  # units of the accepted, not cancelled orders per SKU
        self.counted: set[str] = set()  # orders whose units are in ``taken``
        self.alarms = AlarmLog()
        self.changed = True
        self._fleet: tuple[float, bytes, list] = (-1.0, b"", [])  # (built at, JSON, compact rows)
        for topic, callback in ((topics.FLEET_STATES, self.on_states), (topics.FLEET_CONTROL, self.on_control),
                                (topics.FLEET_WAITS, self.on_waits), (topics.ORDERS, self.on_order),
                                (topics.ORDER_STATUS, self.on_order_status),
                                (topics.PLANNER_DEADLOCKS, self.on_deadlock), (topics.SIM_EVENTS, self.on_sim_event)):
            channels.subscription(node, topic, callback)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    # -- callbacks (executor thread) -------------------------------------------------------------
    def on_states(self, msg: FleetState) -> None:
        t = conv.from_time(msg.header.stamp)
        tasks = msg.task_ids if len(msg.task_ids) == len(msg.robot_ids) else [""] * len(msg.robot_ids)
        for rid, x, y, theta, mode, task, battery in zip(msg.robot_ids, msg.x, msg.y, msg.theta, msg.modes, tasks,
                                                         msg.battery, strict=False):
            name = MODE_NAMES.get(mode, str(mode))
            self.robots[rid] = Robot(float(x), float(y), float(theta), name, task, float(battery))
            self.alarms.observe_robot(t, rid, name, float(battery))
        self.changed = True

    def on_control(self, msg: FleetControl) -> None:
        if msg.seq > self.control.seq and msg.last_action:
            self.alarms.add(conv.from_time(msg.header.stamp), "operator", "", msg.last_action)
        if msg.seq >= self.control.seq:
            self.control = msg
            self.changed = True

    def on_waits(self, msg: FleetWaits) -> None:
        for w in msg.waits:
            self.waits[w.robot_id] = list(w.chain) if w.chain else ([w.blocker] if w.blocker else [])
        self.changed = True

    def on_order(self, msg: Order) -> None:
        units: dict[str, int] = {}
        for line in msg.lines:
            units[line.sku] = units.get(line.sku, 0) + int(line.quantity)
        self.units[msg.order_id] = units
        self._count_units(msg.order_id)

    def on_order_status(self, msg: OrderStatus) -> None:
        oid = msg.order_id
        old = self.orders.get(oid)
        if old is not None and msg.state < old.state and msg.state != OrderStatus.STATE_REJECTED:
            return  # an older event (latched history) after a newer one
        if old is not None:
            self.counts[old.state] -= 1
            self.lines_picked -= old.lines_picked
        self.orders[oid] = msg
        self.counts[msg.state] += 1
        self.lines_picked += msg.lines_picked
        if msg.state in CLOSED:
            self.open.pop(oid, None)
        else:
            self.open.setdefault(oid, None)
        self._count_units(oid)

    def _count_units(self, oid: str) -> None:
        """Units of an accepted order count as taken once both its lines and its status are known;
        a rejected or cancelled order's do not (any more)."""
        status, units = self.orders.get(oid), self.units.get(oid)
        if status is None or units is None:
            return
        live = status.state not in (OrderStatus.STATE_REJECTED, OrderStatus.STATE_CANCELLED)
        if live and oid not in self.counted:
            self.taken.update(units)
            self.counted.add(oid)
        elif not live and oid in self.counted:
            self.taken.subtract(units)
            self.counted.discard(oid)

    def on_deadlock(self, msg: DeadlockReport) -> None:
        t = conv.from_time(msg.header.stamp)
        if msg.event == DeadlockReport.EVENT_DETECTED:
            self.alarms.add(t, "deadlock", msg.robot_id, f"deadlock {msg.deadlock_id}: {msg.reason} "
                                                         f"({' -> '.join(msg.chain)})")
        else:
            self.alarms.add(t, "deadlock", msg.robot_id,
                            f"deadlock {msg.deadlock_id} resolved after {msg.after_s:.0f} s")

    def on_sim_event(self, msg: SimEvent) -> None:
        kind, what = SIM_EVENTS.get(msg.event, ("failure", f"event {msg.event}"))
        detail = f": {msg.reason}" if msg.reason else ""
        self.alarms.add(conv.from_time(msg.header.stamp), kind, msg.robot_id, f"{msg.robot_id} {what}{detail}")

    # -- reads (the API's thread) ----------------------------------------------------------------
    def robot(self, name: str) -> RobotView | None:
        r = self.robots.get(name)
        if r is None:
            return None
        return RobotView(id=name, x=r.x, y=r.y, theta=r.theta, mode=r.mode, task_id=r.task_id, battery=r.battery,
                         in_service=name not in set(self.control.out_of_service), waiting_for=self.waits.get(name, []))

    def _snapshot(self) -> tuple[bytes, list]:
        """The fleet as JSON (``GET /fleet``) and as compact rows (the stream), rebuilt only when
        something changed and the last build is ``refresh`` s old."""
        built, body, rows = self._fleet
        wall = time.monotonic()
        if body and (not self.changed or wall - built < self.refresh):
            return body, rows
        self.changed = False
        c = self.control
        out = set(c.out_of_service)
        zones = [list(z) for z in conv.control_from_msg(c).zones]
        robots, rows = [], []
        for n, r in sorted(dict(self.robots).items()):
            robots.append({"id": n, "x": r.x, "y": r.y, "theta": r.theta, "mode": r.mode, "in_service": n not in out,
                           "task_id": r.task_id, "battery": r.battery, "waiting_for": self.waits.get(n, [])})
            rows.append([n, round(r.x, 3), round(r.y, 3), round(r.theta, 3), r.mode, n not in out, r.task_id,
                         round(r.battery, 3)])
        body = json.dumps({"paused": c.paused, "estop": c.estop, "zones": zones, "robots": robots},
                          separators=(",", ":")).encode()
        self._fleet = (wall, body, rows)
        return body, rows

    def invalidate(self) -> None:
        """The next read rebuilds the fleet's JSON (a command was just applied)."""
        self.changed = True
        self._fleet = (-1.0, *self._fleet[1:])

    def fleet_json(self) -> bytes:
        """``GET /fleet``'s body (:class:`~warehouse_nodes.api_app.FleetView`)."""
        return self._snapshot()[0]

    def frame(self, last_alarm: int) -> dict:
        """One message of the live stream: the fleet in compact rows, the KPIs, the alarms after ``last_alarm``."""
        c = self.control
        return {"t": self.now(), "paused": c.paused, "estop": c.estop,
                "zones": [list(z) for z in conv.control_from_msg(c).zones],
                "robots": self._snapshot()[1], "kpis": self.kpis(),
                "alarms": [a.to_json() for a in self.alarms.after(last_alarm)]}

    def order(self, order_id: str) -> OrderView | None:
        s = self.orders.get(order_id)
        if s is None:
            return None
        return OrderView(order_id=order_id, status=ORDER_STATES.get(s.state, str(s.state)),
                         lines_total=s.lines_total, lines_picked=s.lines_picked, reason=s.reason)

    def open_orders(self, limit: int) -> list[OrderView]:
        """Orders neither completed, rejected nor cancelled, the oldest ``limit`` first (the queue)."""
        ids = []
        for oid in list(self.open):
            ids.append(oid)
            if len(ids) == limit:
                break
        return [v for v in (self.order(o) for o in ids) if v is not None]

    def skus(self) -> list[SkuView]:
        """Stock at start less the units of the accepted orders seen (not counting refills)."""
        taken = dict(self.taken)
        return [SkuView(sku=k, available=max(0, v - taken.get(k, 0))) for k, v in self.stock.items()]

    def kpis(self) -> dict[str, float]:
        n = self.counts
        return {"sim_time_s": round(self.now(), 2), "robots": len(self.robots),
                "orders_received": sum(n.values()),
                "orders_rejected": n[OrderStatus.STATE_REJECTED],
                "orders_completed": n[OrderStatus.STATE_COMPLETED],
                "orders_cancelled": n[OrderStatus.STATE_CANCELLED],
                "order_lines_picked": self.lines_picked,
                "robots_out_of_service": len(self.control.out_of_service)}


def layout_view(layout: Layout) -> dict:
    """The floor for the console, in map-frame metres: cell size, bounds, and the centres of walls,
    storage locations (with their rack at start), station pick and queue cells and chargers."""
    grid, frame = layout.grid, layout.frame

    def xy(cell) -> list[float]:
        x, y = frame.cell_to_world(cell)
        return [round(x, 3), round(y, 3)]

    walls = [xy((c, r)) for r in range(grid.height) for c in range(grid.width) if not grid.is_free((c, r))]
    corners = [xy((0, grid.height - 1)), xy((grid.width - 1, 0))]
    half = frame.cell_size / 2
    return {"cell_size": frame.cell_size, "width": grid.width, "height": grid.height,
            "origin": [frame.origin_x, frame.origin_y], "rows": frame.rows,
            "bounds": [min(p[0] for p in corners) - half, min(p[1] for p in corners) - half,
                       max(p[0] for p in corners) + half, max(p[1] for p in corners) + half],
            "walls": walls,
            "storage": [xy(s.cell) + [s.rack or ""] for s in layout.storage],
            "stations": [{"id": s.id, "pick": xy(s.pick_cell), "queue": [xy(q) for q in s.queue]}
                         for s in layout.stations],
            "chargers": [xy(c.cell) for c in layout.chargers]}

"""What the operators' API reads: the fleet and the orders followed from the ROS graph.

:class:`GraphFollower` subscribes, on the API node, to the robots' states (``/fleet/states``), the
operators' control state (``/fleet/control``), the waits (``/fleet/waits``), the orders
(``/orders``, ``/order_status``), deadlocks (``/planner/deadlocks``) and the simulator's events
(``/sim/events``), and answers the API's reads from what it heard last. Callbacks run on the ROS
executor's thread and only replace entries of dicts; the reads copy before they iterate.
"""

from __future__ import annotations

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
from warehouse_nodes.api_app import FleetView, OrderView, RobotView, SkuView

MODE_NAMES = {v: k[len("MODE_"):].lower() for k, v in vars(RobotState).items() if k.startswith("MODE_")}
ORDER_STATES = {OrderStatus.STATE_ACCEPTED: "accepted", OrderStatus.STATE_REJECTED: "rejected",
                OrderStatus.STATE_IN_PROGRESS: "in_progress", OrderStatus.STATE_COMPLETED: "completed",
                OrderStatus.STATE_CANCELLED: "cancelled"}
SIM_EVENTS = {SimEvent.EVENT_ROBOT_FAILED: ("failure", "failed"),
              SimEvent.EVENT_ROBOT_REMOVED: ("failure", "towed away"),
              SimEvent.EVENT_LIFT_FAILED: ("failure", "could not lift its rack"),
              SimEvent.EVENT_DROP_FAILED: ("failure", "could not put its rack down")}


class GraphFollower:
    """The API's picture of the graph (see the module docstring); ``stock``: units per SKU at start."""

    def __init__(self, node: Node, stock: dict[str, int]) -> None:
        self.node = node
        self.stock = stock
        self.ordered: dict[str, dict[str, int]] = {}  # order id -> sku -> units (from /orders)
        self.robots: dict[str, RobotState] = {}
        self.control = FleetControl()
        self.waits: dict[str, list[str]] = {}
        self.orders: dict[str, OrderStatus] = {}
        self.alarms = AlarmLog()
        channels.subscription(node, topics.FLEET_STATES, self.on_states)
        channels.subscription(node, topics.FLEET_CONTROL, self.on_control)
        channels.subscription(node, topics.FLEET_WAITS, self.on_waits)
        channels.subscription(node, topics.ORDERS, self.on_order)
        channels.subscription(node, topics.ORDER_STATUS, self.on_order_status)
        channels.subscription(node, topics.PLANNER_DEADLOCKS, self.on_deadlock)
        channels.subscription(node, topics.SIM_EVENTS, self.on_sim_event)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    # -- callbacks (executor thread) -------------------------------------------------------------
    def on_states(self, msg: FleetState) -> None:
        t = conv.from_time(msg.header.stamp)
        for state in conv.fleet_state_entries(msg):
            self.robots[state.robot_id] = state
            self.alarms.observe_robot(t, state.robot_id, MODE_NAMES.get(state.mode, ""), float(state.battery))

    def on_control(self, msg: FleetControl) -> None:
        if msg.seq > self.control.seq and msg.last_action:
            self.alarms.add(conv.from_time(msg.header.stamp), "operator", "", msg.last_action)
        if msg.seq >= self.control.seq:
            self.control = msg

    def on_waits(self, msg: FleetWaits) -> None:
        for w in msg.waits:
            self.waits[w.robot_id] = list(w.chain) if w.chain else ([w.blocker] if w.blocker else [])

    def on_order(self, msg: Order) -> None:
        units: dict[str, int] = {}
        for line in msg.lines:
            units[line.sku] = units.get(line.sku, 0) + int(line.quantity)
        self.ordered[msg.order_id] = units

    def on_order_status(self, msg: OrderStatus) -> None:
        old = self.orders.get(msg.order_id)
        if old is None or msg.state >= old.state or msg.state == OrderStatus.STATE_REJECTED:  # cancelled: 4
            self.orders[msg.order_id] = msg

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
        s = self.robots.get(name)
        if s is None:
            return None
        return RobotView(id=name, x=s.x, y=s.y, theta=s.theta, mode=MODE_NAMES.get(s.mode, str(s.mode)),
                         in_service=name not in set(self.control.out_of_service), task_id=s.task_id,
                         battery=float(s.battery), waiting_for=self.waits.get(name, []))

    def fleet(self) -> FleetView:
        c = self.control
        robots = [self.robot(n) for n in sorted(list(self.robots))]
        return FleetView(paused=c.paused, estop=c.estop, zones=[list(z) for z in conv.control_from_msg(c).zones],
                         robots=[r for r in robots if r is not None])

    def frame(self, last_alarm: int) -> dict:
        """One message of the live stream: the fleet in compact rows, the KPIs, the alarms after ``last_alarm``."""
        c = self.control
        out = set(c.out_of_service)
        rows = [[n, round(s.x, 3), round(s.y, 3), round(s.theta, 3), MODE_NAMES.get(s.mode, ""), n not in out,
                 s.task_id, round(float(s.battery), 3)] for n, s in sorted(dict(self.robots).items())]
        return {"t": self.now(), "paused": c.paused, "estop": c.estop,
                "zones": [list(z) for z in conv.control_from_msg(c).zones],
                "robots": rows, "kpis": self.kpis(), "alarms": [a.to_json() for a in self.alarms.after(last_alarm)]}

    def order(self, order_id: str) -> OrderView | None:
        s = self.orders.get(order_id)
        if s is None:
            return None
        return OrderView(order_id=order_id, status=ORDER_STATES.get(s.state, str(s.state)),
                         lines_total=s.lines_total, lines_picked=s.lines_picked, reason=s.reason)

    def open_orders(self, limit: int) -> list[OrderView]:
        """Orders neither completed, rejected nor cancelled, the oldest ``limit`` first (the queue)."""
        done = (OrderStatus.STATE_COMPLETED, OrderStatus.STATE_REJECTED, OrderStatus.STATE_CANCELLED)
        ids = [o for o, s in list(self.orders.items()) if s.state not in done][:limit]
        return [v for v in (self.order(o) for o in ids) if v is not None]

    def skus(self) -> list[SkuView]:
        """Stock at start less the units of every accepted order seen (not counting refills)."""
        taken: dict[str, int] = {}
        for oid, units in list(self.ordered.items()):
            st = self.orders.get(oid)
            if st is not None and st.state != OrderStatus.STATE_REJECTED:
                for sku, n in units.items():
                    taken[sku] = taken.get(sku, 0) + n
        return [SkuView(sku=k, available=max(0, v - taken.get(k, 0))) for k, v in self.stock.items()]

    def kpis(self) -> dict[str, float]:
        orders = list(self.orders.values())
        states = [s.state for s in orders]
        return {"sim_time_s": round(self.now(), 2), "robots": len(self.robots),
                "orders_received": len(states),
                "orders_rejected": states.count(OrderStatus.STATE_REJECTED),
                "orders_completed": states.count(OrderStatus.STATE_COMPLETED),
                "orders_cancelled": states.count(OrderStatus.STATE_CANCELLED),
                "order_lines_picked": sum(s.lines_picked for s in orders),
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

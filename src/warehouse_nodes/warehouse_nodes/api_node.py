"""``fleet_api`` node: the operators' HTTP API (:mod:`warehouse_nodes.api_app`) on the ROS graph.

It follows the fleet (``/fleet/states``, ``/fleet/control``, ``/fleet/waits``) and the orders
(``/orders``, ``/order_status``) into a snapshot the HTTP reads answer from, and turns writes into
the graph's services: ``/fleet/command`` and ``/fleet/robot_service`` (the allocator's operator
desk, which journals them) and ``/submit_order``. The HTTP server (uvicorn) runs on the main
thread's asyncio loop; the ROS executor spins in one named thread beside it, and a service answer
is handed back to the waiting request through the loop (``call_soon_threadsafe``). The bearer
token comes from ``token_file`` or ``WAREHOUSE_API_TOKEN``; without either the node refuses to
start (writes would be open).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

import rclpy
import uvicorn
from fastapi import HTTPException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_catalogue
from warehouse_interfaces.msg import FleetControl, FleetState, FleetWaits, Order, OrderStatus, RobotState
from warehouse_interfaces.srv import FleetCommand, SetRobotService, SubmitOrder
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv
from warehouse_nodes.api_app import Answer, FleetView, OrderBody, OrderView, RobotView, SkuView, create_app
from warehouse_nodes.configs import ApiConfig
from warehouse_nodes.params import declare_config
from warehouse_nodes.share import user_path

MODE_NAMES = {v: k[len("MODE_"):].lower() for k, v in vars(RobotState).items() if k.startswith("MODE_")}
ORDER_STATES = {OrderStatus.STATE_ACCEPTED: "accepted", OrderStatus.STATE_REJECTED: "rejected",
                OrderStatus.STATE_IN_PROGRESS: "in_progress", OrderStatus.STATE_COMPLETED: "completed"}
TOKEN_ENV = "WAREHOUSE_API_TOKEN"


def read_token(token_file: str) -> str:
    """The bearer token from ``token_file`` (first line) or the environment; an InputError without one."""
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise InputError(f"parameter fleet_api.token_file {token_file!r}", f"cannot be read: {exc}",
                             fix="name a readable file holding the token") from None
        if not token:
            raise InputError(f"parameter fleet_api.token_file {token_file!r}", "is empty",
                             fix="write the token into it")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise InputError("the API's write token", f"neither fleet_api.token_file nor {TOKEN_ENV} is set",
                         fix=f"export {TOKEN_ENV}=<token> or pass -p token_file:=FILE")
    return token


class ApiNode(Node):
    """Follows the graph for the API and calls its services (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__("fleet_api")
        self.cfg = declare_config(self, ApiConfig)
        layout = load_layout(user_path(self.cfg.layout, Path.cwd()))
        inventory, _ = load_catalogue(layout, self.cfg.inventory_dir, self.cfg.skus, self.cfg.seed)
        self.stock = {sku: inventory.total_available(sku) for sku in sorted(inventory.skus)}
        self.ordered: dict[str, dict[str, int]] = {}  # order id -> sku -> units (from /orders)
        self.robots: dict[str, RobotState] = {}
        self.control = FleetControl()
        self.waits: dict[str, list[str]] = {}
        self.orders: dict[str, OrderStatus] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_requested = False
        channels.subscription(self, topics.FLEET_STATES, self.on_states)
        channels.subscription(self, topics.FLEET_CONTROL, self.on_control)
        channels.subscription(self, topics.FLEET_WAITS, self.on_waits)
        channels.subscription(self, topics.ORDERS, self.on_order)
        channels.subscription(self, topics.ORDER_STATUS, self.on_order_status)
        self.command_client = channels.client(self, topics.FLEET_COMMAND)
        self.service_client = channels.client(self, topics.FLEET_ROBOT_SERVICE)
        self.submit_client = channels.client(self, topics.SUBMIT_ORDER)

    # -- following the graph (executor thread) ---------------------------------------------------
    def on_states(self, msg: FleetState) -> None:
        for state in conv.fleet_state_entries(msg):
            self.robots[state.robot_id] = state

    def on_control(self, msg: FleetControl) -> None:
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
        if old is None or msg.state >= old.state or msg.state == OrderStatus.STATE_REJECTED:
            self.orders[msg.order_id] = msg

    # -- the API's bridge (asyncio thread) -------------------------------------------------------
    def fleet(self) -> FleetView:
        c = self.control
        out = set(c.out_of_service)
        robots = [RobotView(id=n, x=s.x, y=s.y, theta=s.theta, mode=MODE_NAMES.get(s.mode, str(s.mode)),
                            in_service=n not in out, task_id=s.task_id, battery=float(s.battery),
                            waiting_for=self.waits.get(n, []))
                  for n, s in sorted(dict(self.robots).items())]
        zones = conv.control_from_msg(c).zones
        return FleetView(paused=c.paused, estop=c.estop, zones=[list(z) for z in zones], robots=robots)

    async def _call(self, client, request, what: str):
        if not client.service_is_ready():
            raise HTTPException(503, f"{client.srv_name} is not available: is the {what} running?")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()

        def settle(f) -> None:
            if not answer.done():
                answer.set_result(f.result()) if f.exception() is None else answer.set_exception(f.exception())

        client.call_async(request).add_done_callback(lambda f: loop.call_soon_threadsafe(settle, f))
        try:
            return await asyncio.wait_for(answer, self.cfg.call_timeout)
        except TimeoutError:
            raise HTTPException(504, f"{client.srv_name} did not answer within {self.cfg.call_timeout:g} s; "
                                     "the request may still be applied: read the state again") from None

    async def fleet_command(self, command: str, zone: list[int] | None, requester: str) -> Answer:
        r = await self._call(self.command_client, FleetCommand.Request(command=command, zone=zone or [],
                                                                         requester=requester), "task allocator")
        return Answer(accepted=r.accepted, message=r.message)

    async def robot_service(self, robot: str, in_service: bool, requester: str) -> Answer:
        r = await self._call(self.service_client, SetRobotService.Request(robot_id=robot, in_service=in_service,
                                                                            requester=requester), "task allocator")
        return Answer(accepted=r.accepted, message=r.message)

    async def submit_order(self, order: OrderBody) -> tuple[bool, str, str]:
        now = self.get_clock().now().nanoseconds * 1e-9
        msg = Order(order_id=order.order_id, consumer_id=order.consumer_id,
                    lines=[conv.OrderLineMsg(sku=l.sku, quantity=l.quantity) for l in order.lines],
                    created=conv.to_time(now), deadline=conv.to_time(now + order.deadline_s),
                    service=Order.SERVICE_NEXT_DAY if order.service == "next_day" else Order.SERVICE_TWO_DAY)
        r = await self._call(self.submit_client, SubmitOrder.Request(order=msg), "task allocator")
        return r.accepted, r.order_id, r.reason

    def order(self, order_id: str) -> OrderView | None:
        s = self.orders.get(order_id)
        if s is None:
            return None
        return OrderView(order_id=order_id, status=ORDER_STATES.get(s.state, str(s.state)),
                         lines_total=s.lines_total, lines_picked=s.lines_picked, reason=s.reason)

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
        states = [s.state for s in list(self.orders.values())]
        return {"sim_time_s": self.get_clock().now().nanoseconds * 1e-9, "robots": len(self.robots),
                "orders_received": len(states),
                "orders_rejected": states.count(OrderStatus.STATE_REJECTED),
                "orders_completed": states.count(OrderStatus.STATE_COMPLETED),
                "order_lines_picked": sum(s.lines_picked for s in list(self.orders.values())),
                "robots_out_of_service": len(self.control.out_of_service)}

    def shutdown(self) -> bool:
        return False  # ends nothing: this node does not own the run


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    try:
        node = ApiNode()
        token = read_token(node.cfg.token_file)
    except InputError as exc:
        print(f"fleet_api: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        sys.exit(2)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    ros = threading.Thread(target=_spin, args=(executor,), name="ros-executor", daemon=True)
    ros.start()
    server = uvicorn.Server(uvicorn.Config(create_app(node, token), host=node.cfg.host, port=node.cfg.port,
                                           log_level="warning", ws="none"))
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # SIGINT / SIGTERM: uvicorn closed the server gracefully, then raised the signal again
    finally:
        rclpy.try_shutdown()  # ends the executor's spin; then the thread, then the node
        ros.join(10.0)
        node.destroy_node()


def _spin(executor: SingleThreadedExecutor) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:
        pass


if __name__ == "__main__":
    main()

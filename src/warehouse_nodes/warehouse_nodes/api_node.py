"""``fleet_api`` node: the operators' HTTP API (:mod:`warehouse_nodes.api_app`) on the ROS graph.

It follows the fleet and the orders (:mod:`warehouse_nodes.api_follow`) for the HTTP reads, the
live stream and the web console (``console/``, served at ``/``), and turns writes into the
graph's services: ``/fleet/command``, ``/fleet/robot_service``, ``/orders/cancel`` and ``/orders/update`` (the
allocator's operator desk, which journals them), ``/submit_order``, and ``/run/end`` (the run
monitor of ``./warehouse run``). The HTTP server (uvicorn) runs on the main
thread's asyncio loop; the ROS executor spins in one named thread beside it, and a service answer
is handed back to the waiting request through the loop (``call_soon_threadsafe``). The bearer
token comes from ``token_file`` or ``WAREHOUSE_API_TOKEN``; without either the node refuses to
start (writes would be open).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time
from importlib import resources
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
from warehouse_interfaces.msg import Order
from warehouse_interfaces.srv import CancelOrder, EndRun, FleetCommand, SetRobotService, SubmitOrder, UpdateOrder
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv
from warehouse_nodes.api_app import Answer, OrderBody, OrderView, RobotView, SkuView, create_app
from warehouse_nodes.api_follow import GraphFollower, layout_view
from warehouse_nodes.configs import ApiConfig
from warehouse_nodes.params import declare_config
from warehouse_nodes.share import user_path

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
        self.follow = GraphFollower(self, {sku: inventory.total_available(sku) for sku in sorted(inventory.skus)})
        self.layout_json = layout_view(layout)
        self.command_client = channels.client(self, topics.FLEET_COMMAND)
        self.service_client = channels.client(self, topics.FLEET_ROBOT_SERVICE)
        self.submit_client = channels.client(self, topics.SUBMIT_ORDER)
        self.end_client = channels.client(self, topics.RUN_END)
        self.cancel_client = channels.client(self, topics.ORDER_CANCEL)
        self.update_client = channels.client(self, topics.ORDER_UPDATE)

    # -- the API's bridge (asyncio thread) -------------------------------------------------------
    def fleet_json(self) -> bytes:
        return self.follow.fleet_json()

    def robot(self, name: str) -> RobotView | None:
        return self.follow.robot(name)

    def frame(self, last_alarm: int) -> dict:
        return self.follow.frame(last_alarm)

    def layout(self) -> dict:
        return self.layout_json

    async def cancel_order(self, order_id: str, requester: str) -> Answer:
        r = await self._call(self.cancel_client, CancelOrder.Request(order_id=order_id, requester=requester),
                             "task allocator")
        return Answer(accepted=r.accepted, message=r.message)

    async def set_deadline(self, order_id: str, deadline_s: float, requester: str) -> Answer:
        deadline = conv.to_time(self.get_clock().now().nanoseconds * 1e-9 + deadline_s)
        r = await self._call(self.update_client, UpdateOrder.Request(order_id=order_id, deadline=deadline,
                                                                       requester=requester), "task allocator")
        return Answer(accepted=r.accepted, message=r.message)

    def order(self, order_id: str) -> OrderView | None:
        return self.follow.order(order_id)

    def open_orders(self, limit: int) -> list[OrderView]:
        return self.follow.open_orders(limit)

    def skus(self) -> list[SkuView]:
        return self.follow.skus()

    def kpis(self) -> dict[str, float]:
        return self.follow.kpis()

    async def _call(self, client, request, what: str):
        if not client.service_is_ready():
            raise HTTPException(503, f"{client.srv_name} is not available: is the {what} running?")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()

        def settle(f) -> None:
            if answer.done():  # timed out meanwhile
                return
            if f.exception() is not None:
                answer.set_exception(f.exception())
            else:
                answer.set_result(f.result())

        client.call_async(request).add_done_callback(lambda f: loop.call_soon_threadsafe(settle, f))
        try:
            return await asyncio.wait_for(answer, self.cfg.call_timeout)
        except TimeoutError:
            raise HTTPException(504, f"{client.srv_name} did not answer within {self.cfg.call_timeout:g} s; "
                                     "the request may still be applied: read the state again") from None

    async def fleet_command(self, command: str, zone: list[int] | None, requester: str) -> Answer:
        seq = self.follow.control.seq
        r = await self._call(self.command_client, FleetCommand.Request(command=command, zone=zone or [],
                                                                         requester=requester), "task allocator")
        return await self._seen(seq, Answer(accepted=r.accepted, message=r.message))

    async def robot_service(self, robot: str, in_service: bool, requester: str) -> Answer:
        seq = self.follow.control.seq
        r = await self._call(self.service_client, SetRobotService.Request(robot_id=robot, in_service=in_service,
                                                                            requester=requester), "task allocator")
        return await self._seen(seq, Answer(accepted=r.accepted, message=r.message))

    async def _seen(self, seq: int, answer: Answer) -> Answer:
        """Answer an accepted command once its control state (``/fleet/control``, a newer ``seq``) has
        arrived here, so that a read right after it shows it (at most ``call_timeout``)."""
        end = time.monotonic() + self.cfg.call_timeout
        while answer.accepted and self.follow.control.seq <= seq and time.monotonic() < end:
            await asyncio.sleep(0.01)
        self.follow.invalidate()
        return answer

    async def submit_order(self, order: OrderBody) -> tuple[bool, str, str]:
        now = self.get_clock().now().nanoseconds * 1e-9
        msg = Order(order_id=order.order_id, consumer_id=order.consumer_id,
                    lines=[conv.OrderLineMsg(sku=l.sku, quantity=l.quantity) for l in order.lines],
                    created=conv.to_time(now), deadline=conv.to_time(now + order.deadline_s),
                    service=Order.SERVICE_NEXT_DAY if order.service == "next_day" else Order.SERVICE_TWO_DAY)
        r = await self._call(self.submit_client, SubmitOrder.Request(order=msg), "task allocator")
        return r.accepted, r.order_id, r.reason

    async def shutdown(self, requester: str) -> Answer:
        """End the run through its monitor's /run/end (503 when no ./warehouse run serves it)."""
        r = await self._call(self.end_client, EndRun.Request(requester=requester), "./warehouse run")
        return Answer(accepted=r.accepted, message=r.message)


def check_address(host: str, port: int) -> None:
    """An InputError when the server could not listen on ``host``:``port`` (taken, or not an address here)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        raise InputError(f"parameters fleet_api.host / port {host}:{port}", f"cannot listen there: {exc.strerror}",
                         fix="give a free port (./warehouse run --api-port) or an address of this machine") from None


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    try:
        node = ApiNode()
        token = read_token(node.cfg.token_file)
        check_address(node.cfg.host, node.cfg.port)
    except InputError as exc:
        print(f"fleet_api: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        sys.exit(2)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    ros = threading.Thread(target=_spin, args=(executor,), name="ros-executor", daemon=True)
    ros.start()
    app = create_app(node, token, node.cfg.stream_period, Path(str(resources.files("warehouse_nodes") / "console")))
    server = uvicorn.Server(uvicorn.Config(app, host=node.cfg.host, port=node.cfg.port, log_level="warning",
                                           ws="websockets-sansio"))
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

"""The operators' HTTP API, versioned under ``/api/v1`` (FastAPI; request and response models validated).

Every route is a coroutine on the server's event loop: reads answer from the follower's memory
(no thread hand-off), writes await the graph's service. Reads are open (the server binds to
127.0.0.1 by default); every write needs
``Authorization: Bearer <token>``. A refused command answers 409 with the reason, an unknown
robot or order 404, a malformed body 422 naming the field. The app talks to the ROS graph only
through a :class:`Bridge` (:mod:`warehouse_nodes.api_node` is the real one), so nothing here
imports rclpy.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

PREFIX = "/api/v1"
ORDERS = "/api/v1/orders"  # its own router (a path written whole: "/orders" alone is a ROS topic's name)


class RobotView(BaseModel):
    id: str
    x: float = Field(description="[m] map frame")
    y: float = Field(description="[m] map frame")
    theta: float = Field(description="[rad] map frame")
    mode: str
    in_service: bool
    task_id: str
    battery: float = Field(description="state of charge, 0..1")
    waiting_for: list[str] = Field(description="wait-for chain: the robot it waits for, the one that waits for")


class FleetView(BaseModel):
    paused: bool
    estop: bool
    zones: list[list[int]] = Field(description="paused zones, [x0, y0, x1, y1] in cells")
    robots: list[RobotView]


class ZoneBody(BaseModel):
    zone: list[int] | None = Field(None, min_length=4, max_length=4, description="[x0, y0, x1, y1] in cells")


class Answer(BaseModel):
    accepted: bool
    message: str


class OrderLineBody(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class OrderBody(BaseModel):
    consumer_id: str = Field(min_length=1)
    lines: list[OrderLineBody] = Field(min_length=1)
    deadline_s: float = Field(gt=0, description="[s, sim] dispatch deadline, from submission")
    service: Literal["next_day", "two_day"] = "next_day"
    order_id: str = ""


class OrderChange(BaseModel):
    """What an operator may change of an open order: its dispatch deadline (the policies serve lines
    by their slack, so an earlier deadline is a higher priority)."""

    model_config = ConfigDict(extra="forbid")
    deadline_s: float = Field(gt=0, description="[s, sim] the new dispatch deadline, from now")


class OrderCreated(BaseModel):
    order_id: str
    status: str


class OrderView(BaseModel):
    order_id: str
    status: str
    lines_total: int
    lines_picked: int
    reason: str = ""


class SkuView(BaseModel):
    sku: str
    available: int


class Bridge(Protocol):
    """What the API needs from the ROS graph (see :mod:`warehouse_nodes.api_node`)."""

    def fleet_json(self) -> bytes: ...

    def robot(self, name: str) -> RobotView | None: ...

    def frame(self, last_alarm: int) -> dict: ...

    def layout(self) -> dict: ...

    def open_orders(self, limit: int) -> list[OrderView]: ...

    async def fleet_command(self, command: str, zone: list[int] | None, requester: str) -> Answer: ...

    async def robot_service(self, robot: str, in_service: bool, requester: str) -> Answer: ...

    async def submit_order(self, order: OrderBody) -> tuple[bool, str, str]: ...

    async def cancel_order(self, order_id: str, requester: str) -> Answer: ...

    async def set_deadline(self, order_id: str, deadline_s: float, requester: str) -> Answer: ...

    def order(self, order_id: str) -> OrderView | None: ...

    def skus(self) -> list[SkuView]: ...

    def kpis(self) -> dict[str, float]: ...

    async def shutdown(self, requester: str) -> Answer: ...


def create_app(bridge: Bridge, token: str, stream_period: float = 0.5, console: Path | None = None) -> FastAPI:
    """The app over ``bridge``; writes need ``token``; the live stream sends a frame every
    ``stream_period`` seconds; ``console``: the web console's directory, served at ``/``."""
    app = FastAPI(title="warehouse fleet API", version="1.0", openapi_url=f"{PREFIX}/openapi.json",
                  docs_url=f"{PREFIX}/docs", redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"] if p != "body") + ": " + e["msg"] for e in exc.errors()]
        return JSONResponse({"detail": fields}, status_code=422)

    writer = bearer(token)
    app.include_router(fleet_routes(bridge, writer, stream_period))
    app.include_router(order_routes(bridge, writer))
    if console is not None:  # last: it answers every path the API does not
        app.mount("/", StaticFiles(directory=console, html=True), name="console")
    return app


def bearer(token: str):
    """The dependency of every write: checks the bearer token; returns the requester journaled (the
    client's address)."""
    def writer(request: Request) -> str:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), token):
            raise HTTPException(401, "writes need 'Authorization: Bearer <token>' (WAREHOUSE_API_TOKEN or "
                                     "the file --api-token-file names)", headers={"WWW-Authenticate": "Bearer"})
        host = request.client.host if request.client else "unknown"
        return f"api:{host}"
    return writer


def answered(a: Answer) -> Answer:
    """A refused command as an HTTP error: 404 for an unknown robot or order, else 409 with the reason."""
    if not a.accepted:
        raise HTTPException(404 if a.message.startswith(("unknown robot", "unknown order")) else 409, a.message)
    return a


def fleet_routes(bridge: Bridge, writer, stream_period: float) -> APIRouter:
    """The fleet, its robots, the floor, the live stream, the KPIs, the SKUs and the run's end."""
    api = APIRouter(prefix=PREFIX)

    @api.get("/fleet", response_model=FleetView)
    async def fleet() -> Response:
        """Every robot (metres, radians, map frame) and the operators' state; at most ``refresh`` s old."""
        return Response(bridge.fleet_json(), media_type="application/json")  # built once for every client

    for command in ("pause", "resume", "estop", "reset"):
        api.add_api_route(f"/fleet/{command}", _fleet_handler(bridge, writer, command), methods=["POST"],
                          response_model=Answer,
                          summary=f"{command} the fleet" + (" (or a zone)" if command in ("pause", "resume") else ""))

    @api.get("/robots/{robot_id}", response_model=RobotView)
    async def robot(robot_id: str) -> RobotView:
        view = bridge.robot(robot_id)
        if view is None:
            raise HTTPException(404, f"unknown robot {robot_id!r}")
        return view

    @api.post("/robots/{robot_id}/out_of_service", response_model=Answer)
    async def out_of_service(robot_id: str, who: str = Depends(writer)) -> Answer:
        return answered(await bridge.robot_service(robot_id, False, who))

    @api.post("/robots/{robot_id}/in_service", response_model=Answer)
    async def in_service(robot_id: str, who: str = Depends(writer)) -> Answer:
        return answered(await bridge.robot_service(robot_id, True, who))

    @api.get("/layout")
    async def layout() -> dict:
        """The floor in map-frame metres (walls, storage, stations, chargers), for drawing it."""
        return bridge.layout()

    @api.websocket("/stream")
    async def stream(ws: WebSocket) -> None:
        """The fleet (compact rows: id, x, y, theta, mode, in service, task, battery), the KPIs and new
        alarms, every ``stream_period`` seconds."""
        await ws.accept()
        last = 0
        try:
            while True:
                frame = bridge.frame(last)
                if frame["alarms"]:
                    last = frame["alarms"][-1]["id"]
                await ws.send_text(json.dumps(frame, separators=(",", ":")))
                await asyncio.sleep(stream_period)
        except (WebSocketDisconnect, RuntimeError):
            return  # the client went away

    @api.get("/kpis")
    async def kpis() -> dict[str, float]:
        return bridge.kpis()

    @api.get("/skus", response_model=list[SkuView])
    async def skus() -> list[SkuView]:
        """What an order may name, and how many units are not promised yet."""
        return bridge.skus()

    @api.post("/shutdown", response_model=Answer)
    async def shutdown(who: str = Depends(writer)) -> Answer:
        """End the run (``./warehouse run``, e.g. started with ``--duration 0``): it writes its report."""
        return answered(await bridge.shutdown(who))

    return api


def order_routes(bridge: Bridge, writer) -> APIRouter:
    """Orders in, followed, cancelled."""
    orders = APIRouter(prefix=ORDERS)

    @orders.post("", response_model=OrderCreated, status_code=201)
    async def submit(order: OrderBody, _who: str = Depends(writer)) -> OrderCreated:
        accepted, order_id, reason = await bridge.submit_order(order)
        if not accepted:
            raise HTTPException(409, f"order refused: {reason}")
        return OrderCreated(order_id=order_id, status="accepted")

    @orders.get("", response_model=list[OrderView])
    async def queue(limit: int = Query(100, ge=1, le=5000)) -> list[OrderView]:
        """Open orders (neither completed, rejected nor cancelled), oldest first."""
        return bridge.open_orders(limit)

    @orders.get("/{order_id}", response_model=OrderView)
    async def order(order_id: str) -> OrderView:
        view = bridge.order(order_id)
        if view is None:
            raise HTTPException(404, f"unknown order {order_id!r}")
        return view

    @orders.patch("/{order_id}", response_model=Answer)
    async def change(order_id: str, body: OrderChange, who: str = Depends(writer)) -> Answer:
        """Move an open order's deadline (``priority`` is not a field: an earlier deadline serves it sooner)."""
        return answered(await bridge.set_deadline(order_id, body.deadline_s, who))

    @orders.delete("/{order_id}", response_model=Answer)
    async def cancel(order_id: str, who: str = Depends(writer)) -> Answer:
        """Cancel an order: lines waiting for a rack are dropped, a rack on its way finishes its visit."""
        return answered(await bridge.cancel_order(order_id, who))

    return orders


def _fleet_handler(bridge: Bridge, writer, command: str):
    """``POST /fleet/<command>``: a handler per command (its body, a zone, optional)."""
    async def handler(body: ZoneBody | None = None, who: str = Depends(writer)) -> Answer:
        zone = body.zone if body is not None else None
        if zone is not None and command not in ("pause", "resume"):
            raise HTTPException(422, f"{command} takes no zone")
        return answered(await bridge.fleet_command(command, zone, who))
    return handler

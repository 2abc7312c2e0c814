"""The operators' HTTP API, versioned under ``/api/v1`` (FastAPI; request and response models validated).

Reads are open (the server binds to 127.0.0.1 by default); every write needs
``Authorization: Bearer <token>``. A refused command answers 409 with the reason, an unknown
robot or order 404, a malformed body 422 naming the field. The app talks to the ROS graph only
through a :class:`Bridge` (:mod:`warehouse_nodes.api_node` is the real one), so nothing here
imports rclpy.
"""

from __future__ import annotations

import secrets
from typing import Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

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

    def fleet(self) -> FleetView: ...

    async def fleet_command(self, command: str, zone: list[int] | None, requester: str) -> Answer: ...

    async def robot_service(self, robot: str, in_service: bool, requester: str) -> Answer: ...

    async def submit_order(self, order: OrderBody) -> tuple[bool, str, str]: ...

    def order(self, order_id: str) -> OrderView | None: ...

    def skus(self) -> list[SkuView]: ...

    def kpis(self) -> dict[str, float]: ...

    def shutdown(self) -> bool: ...


def create_app(bridge: Bridge, token: str) -> FastAPI:
    """The app over ``bridge``; writes need ``token``."""
    app = FastAPI(title="warehouse fleet API", version="1.0", openapi_url=f"{PREFIX}/openapi.json",
                  docs_url=f"{PREFIX}/docs", redoc_url=None)

    def writer(request: Request) -> str:
        """The bearer token's check; the requester journaled is the client's address."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), token):
            raise HTTPException(401, "writes need 'Authorization: Bearer <token>' (WAREHOUSE_API_TOKEN or "
                                     "the file --api-token-file names)", headers={"WWW-Authenticate": "Bearer"})
        host = request.client.host if request.client else "unknown"
        return f"api:{host}"

    @app.exception_handler(RequestValidationError)
    async def bad_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e["loc"] if p != "body") + ": " + e["msg"] for e in exc.errors()]
        return JSONResponse({"detail": fields}, status_code=422)

    api = APIRouter(prefix=PREFIX)

    def answered(a: Answer) -> Answer:
        if not a.accepted:
            raise HTTPException(404 if a.message.startswith("unknown robot") else 409, a.message)
        return a

    @api.get("/fleet", response_model=FleetView)
    def fleet() -> FleetView:
        return bridge.fleet()

    for command in ("pause", "resume", "estop", "reset"):
        api.add_api_route(f"/fleet/{command}", _fleet_handler(bridge, writer, answered, command), methods=["POST"],
                          response_model=Answer,
                          summary=f"{command} the fleet" + (" (or a zone)" if command in ("pause", "resume") else ""))

    @api.post("/robots/{robot_id}/out_of_service", response_model=Answer)
    async def out_of_service(robot_id: str, who: str = Depends(writer)) -> Answer:
        return answered(await bridge.robot_service(robot_id, False, who))

    @api.post("/robots/{robot_id}/in_service", response_model=Answer)
    async def in_service(robot_id: str, who: str = Depends(writer)) -> Answer:
        return answered(await bridge.robot_service(robot_id, True, who))

    orders = APIRouter(prefix=ORDERS)

    @orders.post("", response_model=OrderCreated, status_code=201)
    async def submit(order: OrderBody, _who: str = Depends(writer)) -> OrderCreated:
        accepted, order_id, reason = await bridge.submit_order(order)
        if not accepted:
            raise HTTPException(409, f"order refused: {reason}")
        return OrderCreated(order_id=order_id, status="accepted")

    @orders.get("/{order_id}", response_model=OrderView)
    def order(order_id: str) -> OrderView:
        view = bridge.order(order_id)
        if view is None:
            raise HTTPException(404, f"unknown order {order_id!r}")
        return view

    @api.get("/skus", response_model=list[SkuView])
    def skus() -> list[SkuView]:
        return bridge.skus()

    @api.get("/kpis")
    def kpis() -> dict[str, float]:
        return bridge.kpis()

    @api.post("/shutdown", response_model=Answer)
    def shutdown(_who: str = Depends(writer)) -> Answer:
        if not bridge.shutdown():
            raise HTTPException(409, "this API does not run the graph: stop the run that started it")
        return Answer(accepted=True, message="shutting down: the run writes its report")

    app.include_router(api)
    app.include_router(orders)
    return app


def _fleet_handler(bridge: Bridge, writer, answered, command: str):
    """``POST /fleet/<command>``: a handler per command (its body, a zone, optional)."""
    async def handler(body: ZoneBody | None = None, who: str = Depends(writer)) -> Answer:
        zone = body.zone if body is not None else None
        if zone is not None and command not in ("pause", "resume"):
            raise HTTPException(422, f"{command} takes no zone")
        return answered(await bridge.fleet_command(command, zone, who))
    return handler

"""Operator control through the HTTP API against a live run: pause stops every robot and resume
restarts them, the emergency stop holds them at once until a reset, robots go out of service and
back, orders are submitted and followed; writes need the token, bad input is answered with the
field or the reason; every accepted action is journaled with who asked; no collision throughout."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-1234"
ROBOTS = 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = TOKEN
             ) -> tuple[int, dict | list]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def poses(self) -> dict[str, tuple[float, float]]:
        _, fleet = self.call("GET", "/fleet")
        return {r["id"]: (r["x"], r["y"]) for r in fleet["robots"]}


def wait_for(what: str, check, timeout: float, period: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"timed out waiting for {what}")


def moved(a: dict, b: dict, tol: float = 0.01) -> set[str]:
    return {n for n in a if n in b and abs(a[n][0] - b[n][0]) + abs(a[n][1] - b[n][1]) > tol}


def test_operators_control_a_live_run_through_the_api(tmp_path, ros_env):
    """``./warehouse run --api``: the fleet_api node starts with the graph, its token from the environment."""
    out = tmp_path / "run"
    port = free_port()
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(ROBOTS),
                            "--duration", "180", "--seed", "7", "--max-rtf", "3", "--out", str(out), "--quiet",
                            "--api", "--api-port", str(port)],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT), "WAREHOUSE_API_TOKEN": TOKEN},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    c = Client(port)
    try:
        def fleet_up():
            try:
                return len(c.poses()) == ROBOTS
            except (urllib.error.URLError, ConnectionError):
                return False
        wait_for("the fleet in the API", fleet_up, 90)
        wait_for("robots driving", lambda: moved(c.poses(), (time.sleep(1.0), c.poses())[1]) or None, 60, 0)

        # writes need the token; bad bodies name the field
        assert c.call("POST", "/fleet/pause", token=None)[0] == 401
        assert c.call("POST", "/fleet/pause", token="wrong")[0] == 401
        status, body = c.call("POST", "/fleet/pause", {"zone": [1, 2, 3]})
        assert status == 422 and "zone" in json.dumps(body), body
        status, body = c.call("POST", "/fleet/pause", {"zone": [0, 0, 500, 1]})
        assert status == 409 and "not a rectangle of cells on the floor" in body["detail"], body

        # pause: every robot comes to a stand (at the end of its released cells) and stays there
        assert c.call("POST", "/fleet/pause")[0] == 200
        status, body = c.call("POST", "/fleet/pause")
        assert status == 409 and body["detail"] == "the fleet is already paused"
        assert c.call("GET", "/fleet")[1]["paused"] is True

        def standing():
            a = c.poses()
            time.sleep(3.0)
            return not moved(a, c.poses())
        wait_for("every robot standing", standing, 40, 0)
        still = c.poses()
        time.sleep(3.0)
        assert not moved(still, c.poses())
        assert c.call("POST", "/fleet/resume")[0] == 200
        wait_for("robots driving again", lambda: moved(still, c.poses()) or None, 30, 0.5)

        # emergency stop: held at once (within a second); resume does not release it, reset does
        assert c.call("POST", "/fleet/estop")[0] == 200
        time.sleep(1.0)
        held = c.poses()
        time.sleep(3.0)
        assert not moved(held, c.poses())
        assert c.call("POST", "/fleet/resume")[0] == 409
        assert c.call("POST", "/fleet/reset")[0] == 200
        wait_for("robots driving after the reset", lambda: moved(held, c.poses()) or None, 30, 0.5)

        # robots out of service and back
        status, body = c.call("POST", "/robots/amr_99/out_of_service")
        assert status == 404 and "unknown robot" in body["detail"]
        assert c.call("POST", "/robots/robot_1/out_of_service")[0] == 200
        assert c.call("POST", "/robots/robot_1/out_of_service")[0] == 409
        fleet = c.call("GET", "/fleet")[1]
        assert [r["in_service"] for r in fleet["robots"] if r["id"] == "robot_1"] == [False]
        assert c.call("POST", "/robots/robot_1/in_service")[0] == 200

        # orders: what /skus offers can be ordered and followed
        status, skus = c.call("GET", "/skus")
        sku = next(s["sku"] for s in skus if s["available"] >= 2)
        status, body = c.call("POST", "/orders", {"consumer_id": "C-api", "lines": [{"sku": sku, "quantity": 0}],
                                                  "deadline_s": 3600})
        assert status == 422 and "lines.0.quantity" in json.dumps(body), body
        status, body = c.call("POST", "/orders", {"consumer_id": "C-api", "lines": [{"sku": "NOPE", "quantity": 1}],
                                                  "deadline_s": 3600})
        assert status == 409 and "NOPE" in body["detail"], body
        status, body = c.call("POST", "/orders", {"consumer_id": "C-api", "lines": [{"sku": sku, "quantity": 1}],
                                                  "deadline_s": 3600}, )
        assert status == 201, body
        order_id = body["order_id"]
        view = wait_for("the order's status", lambda: (lambda r: r[1] if r[0] == 200 else None)(
            c.call("GET", f"/orders/{order_id}")), 20)
        assert view["status"] in ("accepted", "in_progress", "completed") and view["lines_total"] == 1
        assert c.call("GET", "/orders/nope")[0] == 404
        kpis = c.call("GET", "/kpis")[1]
        assert kpis["robots"] == ROBOTS and kpis["orders_received"] >= 1
        paths = c.call("GET", "/openapi.json")[1]["paths"]
        assert {"/api/v1/fleet", "/api/v1/fleet/pause", "/api/v1/orders", "/api/v1/skus"} <= set(paths)
        assert c.call("POST", "/shutdown")[0] == 409  # this API does not own the run

        assert run.wait(400) == 0, run.stdout.read()[-3000:]
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(60)
    report = json.loads((out / "report.json").read_text())
    assert report["collisions"] == 0 and report["orders_lost"] == 0, report
    with sqlite3.connect(out / "state.db") as db:
        journal = [json.loads(d) for (d,) in db.execute("SELECT data FROM journal WHERE kind = 'operator'")]
    assert [j["command"] for j in journal] == ["pause", "resume", "estop", "reset", "out_of_service", "in_service"]
    assert all(j["requester"] == "api:127.0.0.1" for j in journal)
    log = (out / "logs" / "fleet_api.log").read_text()
    assert "Traceback" not in log and "terminate called" not in log, log[-2000:]
    assert not (out / "api_token").exists()  # the token came from the environment

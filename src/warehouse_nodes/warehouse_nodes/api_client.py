"""A small client of the operators' HTTP API (:mod:`warehouse_nodes.api_app`), on the standard
library: for scripts, the benchmarks and the tests.

    client = ApiClient("http://127.0.0.1:8080", token)
    status, fleet = client.call("GET", "/fleet")
    client.call("POST", "/fleet/pause", {"zone": [0, 0, 10, 5]})
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

from warehouse_nodes.api_app import PREFIX

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (for a server started next)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Callable[[], T], timeout: float, period: float = 0.2) -> T:
    """``check()``'s first true value within ``timeout`` wall seconds (polled every ``period``); a
    TimeoutError naming ``what`` after that."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(period)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


class ApiClient:
    """Calls ``/api/v1`` of the server at ``url``; writes carry ``token``."""

    def __init__(self, url: str, token: str = "", timeout: float = 15.0) -> None:
        self.root = url.rstrip("/")
        self.base = self.root + PREFIX
        self.token, self.timeout = token, timeout

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None
             ) -> tuple[int, dict | list | None]:
        """(HTTP status, decoded JSON answer); ``token``: another token than the client's ("" for none)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        token = self.token if token is None else token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def poses(self) -> dict[str, tuple[float, float]]:
        """Every robot's map position from ``GET /fleet``."""
        _, fleet = self.call("GET", "/fleet")
        return {r["id"]: (r["x"], r["y"]) for r in fleet["robots"]}

"""Operator control at fleet scale: how long a pause takes to stand the fleet still, the HTTP API's
latency under load, and the web console's frame rate and stream bandwidth, during one run.

    .venv/bin/python benchmarks/operator_control.py [--robots 500] [--rate 50] [--seconds 30] [--out DIR]

Starts ``./warehouse run --map maps/warehouse_large_layout.yaml --robots N --api --duration 0``
(default speed cap), waits until the fleet drives, then, one after the other:

1. the API under ``--rate`` requests per second for ``--seconds`` (GET /fleet, /kpis, /skus,
   /orders and a POST /orders every tenth request, paced from a small client pool): latency
   percentiles and errors;
2. the console in headless Chromium (when chromium and chromedriver are installed) for 20 s on
   the same machine as the run: frames per second drawn, stream frames and bytes per second;
3. pause: POST /fleet/pause, then the simulator's ground truth (``/sim/fleet_state``) says when
   every robot stood still (held 5 s); sim and wall seconds from the request; then resume.

Ends the run with POST /api/v1/shutdown and prints one markdown table (with the run's
collisions).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import rclpy

from warehouse_nodes.api_client import ApiClient, free_port, wait_for
from warehouse_nodes.motion_watch import MotionWatch, stood_still_from

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = "maps/warehouse_large_layout.yaml"


def load(client: ApiClient, rate: float, seconds: float, sku: str) -> dict:
    """``rate`` requests per second for ``seconds``: latency percentiles [ms] and errors."""
    paths = ["/fleet", "/kpis", "/orders?limit=50", "/skus", "/fleet", "/kpis", "/fleet", "/kpis", "/fleet"]
    order = {"consumer_id": "C-bench", "lines": [{"sku": sku, "quantity": 1}], "deadline_s": 7200}

    def one(i: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        status, _ = client.call("POST", "/orders", order) if i % 10 == 9 else client.call("GET", paths[i % 9])
        return (time.perf_counter() - t0) * 1e3, status

    latencies, errors = [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futures = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
            futures.append(pool.submit(one, i))
        for f in futures:
            ms, status = f.result()
            latencies.append(ms)
            errors += status >= 400 and status != 409  # a refused order (stock) is an answer
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "p50_ms": q[49], "p95_ms": q[94], "p99_ms": q[98],
            "max_ms": max(latencies), "errors": errors}


def console(url: str, seconds: float) -> dict | None:
    """Frames per second the console draws and its stream's rate, in headless Chromium."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1600,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        driver.get(url)
        stats = lambda: driver.execute_script("return window.consoleStats")  # noqa: E731
        wait_for("the console's stream", lambda: stats()["robots"] > 0, 60)
        a, t0 = stats(), time.monotonic()
        time.sleep(seconds)
        b, t1 = stats(), time.monotonic()
        dt = t1 - t0
        return {"fps": (b["frames"] - a["frames"]) / dt, "stream_hz": (b["streamFrames"] - a["streamFrames"]) / dt,
                "stream_kb_s": (b["streamBytes"] - a["streamBytes"]) / dt / 1e3, "robots": b["robots"]}
    finally:
        driver.quit()


def pause(client: ApiClient, watch: MotionWatch) -> dict:
    watch.spin(1.0)
    sim0, wall0 = watch.now, time.monotonic()
    status, body = client.call("POST", "/fleet/pause")
    if status != 200:
        raise SystemExit(f"pause refused: {status} {body}")
    stood = None
    while stood is None and time.monotonic() - wall0 < 120:
        watch.spin(0.5)
        stood = stood_still_from(watch.samples, sim0, 5.0)
    if stood is None:
        raise SystemExit("the fleet did not stand still within 120 s of the pause")
    sim_s = stood - sim0
    rtf = (watch.now - sim0) / max(1e-9, time.monotonic() - wall0)  # over the pause: sim -> wall seconds
    client.call("POST", "/fleet/resume")
    return {"pause_sim_s": sim_s, "pause_wall_s": sim_s / rtf if rtf > 0 else float("nan")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robots", type=int, default=500)
    p.add_argument("--rate", type=float, default=50.0, help="API requests per second")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the API load")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "operator_control")
    a = p.parse_args()
    port, token = free_port(), secrets.token_urlsafe(16)
    env = dict(os.environ) | {"WAREHOUSE_API_TOKEN": token}
    if a.out.exists():
        shutil.rmtree(a.out)
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--map", LAYOUT, "--robots",
                            str(a.robots), "--duration", "0", "--api", "--api-port", str(port), "--quiet",
                            "--out", str(a.out)], cwd=ROOT, env=env)
    client = ApiClient(f"http://127.0.0.1:{port}", token, timeout=30.0)
    rclpy.init()
    watch = MotionWatch()
    try:
        def driving():
            try:
                return len(client.poses()) == a.robots
            except OSError:
                return False
        wait_for(f"{a.robots} robots in the API", driving, 300)
        watch.spin(20.0)  # the fleet gets going
        sku = max(client.call("GET", "/skus")[1], key=lambda s: s["available"])["sku"]  # orders of 1 unit
        api = load(client, a.rate, a.seconds, sku)
        view = console(client.root + "/", 20.0)
        stop = pause(client, watch)
        status, _ = client.call("POST", "/shutdown")
        run.wait(300)
    finally:
        watch.destroy_node()
        rclpy.try_shutdown()
        if run.poll() is None:
            run.terminate()
            run.wait(60)
    report = json.loads((a.out / "report.json").read_text())
    print("| robots | API req/s | p50 [ms] | p95 [ms] | p99 [ms] | max [ms] | errors | console fps | stream "
          "[Hz] | stream [kB/s] | pause to stand [s sim] | [s wall] | RTF | collisions |")
    print("|" + "---|" * 14)
    v = view or {"fps": float("nan"), "stream_hz": float("nan"), "stream_kb_s": float("nan")}
    print(f"| {a.robots} | {a.rate:g} | {api['p50_ms']:.1f} | {api['p95_ms']:.1f} | {api['p99_ms']:.1f} | "
          f"{api['max_ms']:.0f} | {api['errors']} | {v['fps']:.1f} | {v['stream_hz']:.1f} | {v['stream_kb_s']:.1f} | "
          f"{stop['pause_sim_s']:.1f} | {stop['pause_wall_s']:.1f} | {report['real_time_factor']} | "
          f"{report['collisions']} |")


if __name__ == "__main__":
    main()

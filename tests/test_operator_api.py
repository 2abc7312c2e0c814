"""Operator control of one live run (``./warehouse run --api``), through the HTTP API and through the
web console in headless Chromium: pause stops every robot and resume restarts them, the emergency
stop holds them at once until a reset, robots go out of service and back, orders are submitted and
followed; writes need the token, bad input is answered with the field or the reason; every accepted
action is journaled with who asked; no collision throughout. The tests share the run, in file order."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import rclpy

from warehouse_nodes.api_client import ApiClient, free_port, wait_for
from warehouse_nodes.motion_watch import MotionWatch, stood_still_from

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-1234"
ROBOTS = 6
PAUSE_BOUND_S = 15.0  # [s, sim] a pause stands the fleet still within this (released cells only)


def moved(a: dict, b: dict, tol: float = 0.01) -> set[str]:
    return {n for n in a if n in b and abs(a[n][0] - b[n][0]) + abs(a[n][1] - b[n][1]) > tol}


@pytest.fixture(scope="module")
def live(tmp_path_factory, ros_env):
    """A run with the API (token from the environment): (its output directory, process, API client)."""
    out = tmp_path_factory.mktemp("operator") / "run"
    port = free_port()
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(ROBOTS),
                            "--duration", "0", "--seed", "7", "--max-rtf", "3", "--out", str(out),
                            "--quiet", "--api", "--api-port", str(port)],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT), "WAREHOUSE_API_TOKEN": TOKEN},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    c = ApiClient(f"http://127.0.0.1:{port}", TOKEN)

    def fleet_up():
        try:
            return len(c.poses()) == ROBOTS
        except (urllib.error.URLError, ConnectionError):
            assert run.poll() is None, run.stdout.read()[-3000:]
            return False
    try:
        wait_for("the fleet in the API", fleet_up, 90)
        yield out, run, c
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(60)


def test_operators_control_a_live_run_through_the_api(live):
    """The API's endpoints, auth and bad input, and what the fleet does on each command."""
    _out, _run, c = live
    wait_for("robots driving", lambda: moved(c.poses(), (time.sleep(1.0), c.poses())[1]) or None, 60, 0)

    # writes need the token; bad bodies name the field
    assert c.call("POST", "/fleet/pause", token="")[0] == 401
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

    # a zone: refused twice, listed, resumed on its own
    assert c.call("POST", "/fleet/pause", {"zone": [0, 0, 9, 9]})[0] == 200
    assert c.call("GET", "/fleet")[1]["zones"] == [[0, 0, 9, 9]]
    assert c.call("POST", "/fleet/pause", {"zone": [0, 0, 9, 9]})[0] == 409
    assert c.call("POST", "/fleet/resume", {"zone": [0, 0, 9, 9]})[0] == 200
    assert c.call("GET", "/fleet")[1]["zones"] == []

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
    # an order's deadline moves (an earlier one serves it sooner); priority is no field
    status, body = c.call("PATCH", f"/orders/{order_id}", {"priority": 5})
    assert status == 422 and "priority" in json.dumps(body), body
    assert c.call("PATCH", "/orders/nope", {"deadline_s": 60})[0] == 404
    status, body = c.call("PATCH", f"/orders/{order_id}", {"deadline_s": 600})
    assert status in (200, 409), body  # 409: picked in full already
    # cancel: an order waiting for its rack is dropped; again, or an unknown one, is refused
    status, body = c.call("POST", "/orders", {"consumer_id": "C-cancel", "lines": [{"sku": sku, "quantity": 1}],
                                              "deadline_s": 7200})
    cancel_id = body["order_id"]
    assert c.call("DELETE", f"/orders/{cancel_id}", token="")[0] == 401
    status, body = c.call("DELETE", f"/orders/{cancel_id}")
    assert status == 200 and "cancelled" in body["message"], body
    assert c.call("DELETE", f"/orders/{cancel_id}")[0] == 409
    assert c.call("DELETE", "/orders/nope")[0] == 404
    wait_for("the cancelled status", lambda: c.call("GET", f"/orders/{cancel_id}")[1]["status"] == "cancelled", 10)
    assert cancel_id not in {o["order_id"] for o in c.call("GET", "/orders?limit=5000")[1]}
    kpis = c.call("GET", "/kpis")[1]
    assert kpis["robots"] == ROBOTS and kpis["orders_received"] >= 1
    paths = c.call("GET", "/openapi.json")[1]["paths"]
    assert {"/api/v1/fleet", "/api/v1/fleet/pause", "/api/v1/orders", "/api/v1/skus"} <= set(paths)




def test_operators_use_the_web_console(live):
    """The console in headless Chromium: the robots drawn move; its pause stands every robot still
    (judged on the simulator's ground truth) within PAUSE_BOUND_S and resume starts them again; a
    robot clicked on the floor shows its task and goes out of service and back; an order typed in
    completes."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("needs chromium and chromium-driver (./warehouse setup installs them when run as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _out, _run, c = live
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    rclpy.init()
    truth = MotionWatch()
    try:
        driver.get(c.root + "/")
        stats = lambda: driver.execute_script("return window.consoleStats")  # noqa: E731
        wait_for("the console's live stream", lambda: stats()["robots"] == ROBOTS, 30)
        shot = lambda: driver.execute_script("return document.getElementById('floor').toDataURL()")  # noqa: E731
        first = shot()
        wait_for("the robots drawn moving", lambda: shot() != first, 10)
        wait_for("at least 5 frames drawn a second", lambda: stats()["fps"] >= 5, 5)

        driver.find_element(By.ID, "token").send_keys(TOKEN)
        wait_for("the simulator's ground truth here", lambda: truth.spin(0.2) or truth.samples, 30, 0)
        asked = truth.samples[-1][0]
        driver.find_element(By.ID, "pause").click()
        wait_for("the pause answered", lambda: "pause" in driver.find_element(By.ID, "message").text, 10)
        wait_for("every robot standing", lambda: truth.spin(0.5) or stood_still_from(truth.samples, asked, 5.0), 40, 0)
        stood = stood_still_from(truth.samples, asked, 5.0)
        assert stood - asked <= PAUSE_BOUND_S, (asked, stood)
        assert wait_for("the badge", lambda: driver.find_element(By.ID, "state").text == "PAUSED", 5)
        driver.find_element(By.ID, "resume").click()
        resumed = truth.samples[-1][0]
        wait_for("robots driving again", lambda: truth.spin(0.5) or any(
            v > 0.05 for t, v in truth.samples if t > resumed), 30, 0)

        canvas = driver.find_element(By.ID, "floor")
        x, y = driver.execute_script("return window.consoleLocate('robot_2')")
        ActionChains(driver).move_to_element_with_offset(canvas, x - canvas.size["width"] / 2,
                                                         y - canvas.size["height"] / 2).click().perform()
        wait_for("robot_2's panel", lambda: "robot_2" in driver.find_element(By.ID, "robot").text, 10)
        assert "task" in driver.find_element(By.ID, "robot").text
        driver.find_element(By.ID, "out-of-service").click()
        wait_for("robot_2 out of service", lambda: c.call("GET", "/robots/robot_2")[1]["in_service"] is False, 10)
        driver.find_element(By.ID, "in-service").click()
        wait_for("robot_2 in service", lambda: c.call("GET", "/robots/robot_2")[1]["in_service"] is True, 10)

        sku = next(s["sku"] for s in c.call("GET", "/skus")[1] if s["available"] >= 5)
        driver.find_element(By.ID, "order-sku").send_keys(sku)
        driver.find_element(By.ID, "order-submit").click()
        result = driver.find_element(By.ID, "order-result")
        order_id = wait_for("the order's id", lambda: result.get_attribute("data-order-id"), 10)
        wait_for(f"order {order_id} completed", lambda: c.call("GET", f"/orders/{order_id}")[1]["status"]
                 == "completed", 150, 1.0)
    finally:
        driver.quit()
        truth.destroy_node()
        rclpy.try_shutdown()

def test_the_api_ends_the_run_with_every_action_journaled_and_no_collision(live):
    """``--duration 0`` runs until ``POST /api/v1/shutdown``, which ends it with its report."""
    out, run, c = live
    wait_for("an order completed", lambda: c.call("GET", "/kpis")[1]["orders_completed"] >= 1, 180, 1.0)
    assert c.call("POST", "/shutdown", token="")[0] == 401
    status, body = c.call("POST", "/shutdown")
    assert status == 200 and "api:127.0.0.1" in body["message"], body
    assert run.wait(120) == 0, run.stdout.read()[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["ended_by"] == "api:127.0.0.1" and not report["interrupted"], report
    assert report["sim_duration_s"] > 30 and report["orders_completed"] >= 1, report
    assert report["collisions"] == 0 and report["orders_lost"] == 0, report
    assert report["orders_cancelled"] >= 1, report
    with sqlite3.connect(out / "state.db") as db:
        journal = [json.loads(d) for (d,) in db.execute("SELECT data FROM journal WHERE kind = 'operator'")]
        cancels = [json.loads(d) for (d,) in db.execute("SELECT data FROM journal WHERE kind = 'cancel_order'")]
    assert cancels and cancels[0]["requester"] == "api:127.0.0.1"
    api = [j["command"] for j in journal if j["requester"] == "api:127.0.0.1"]
    assert api[:8] == ["pause", "resume", "pause", "resume", "estop", "reset", "out_of_service", "in_service"], journal
    assert journal[2]["zone"] == [0, 0, 9, 9]
    log = (out / "logs" / "fleet_api.log").read_text()
    assert "Traceback" not in log and "terminate called" not in log, log[-2000:]
    assert not (out / "api_token").exists()  # the token came from the environment

"""Robot containers over real processes: one down for long, and one killed under ``per_robot``.

A robot container that is down and not started again (here: stopped with SIGSTOP, a hung process
the supervisor cannot see die) must not hold simulated time for ever: after ``node_hold_limit`` wall
seconds the simulator goes on without it, the fleet treats its robots as silent, and the run ends with
its report, no collision and no order lost. With ``fleet_transport: per_robot`` a killed container is
started again and its robots resume their tasks (sent again as new ExecuteTask goals) at the steps done.
"""

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

from warehouse_core.ops.operations import ORDER_COMPLETED, TASK_DONE
from warehouse_core.tasks import OP_PICK
from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the restart helpers: a helper module, not a test
from restart_helpers import in_flight, sim_time  # noqa: E402

ORDERS_PER_HOUR = 720.0
REAL_TIME_FACTOR = 5.0  # restarts take seconds of wall time: a slower simulation keeps them inside the run
CONTAINER = "warehouse_nodes.robot_container"


def _start_run(tmp_path: Path, ros_env: dict, robots: int, duration: float, seed: int, **sections) -> tuple:
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"].update(stop_after=90.0, orders_per_hour=ORDERS_PER_HOUR)
    config["floor_simulator"]["ros__parameters"]["real_time_factor"] = REAL_TIME_FACTOR
    for section, values in sections.items():
        config[section]["ros__parameters"].update(values)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(robots),
                            "--duration", str(duration), "--seed", str(seed), "--config", str(cfg), "--out", str(out),
                            "--quiet", "--sample-every", "2"],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    return run, out


def _container(run: subprocess.Popen, deadline: float) -> psutil.Process:
    parent = psutil.Process(run.pid)
    while True:
        assert run.poll() is None and time.monotonic() < deadline, "no robot container process"
        for child in parent.children(recursive=True):
            try:
                if CONTAINER in " ".join(child.cmdline()):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.1)


def _picked_once(db: sqlite3.Connection) -> None:
    """Every order line was picked by at most one rack visit, and every completed order's lines by one."""
    tasks = [(state, step, json.loads(data)) for state, step, data in
             db.execute("SELECT state, step_index, data FROM tasks")]
    orders = {oid: (state, json.loads(data)) for oid, state, data in
              db.execute("SELECT order_id, state, data FROM orders")}
    picked_by: dict[tuple, int] = {}
    for state, step_index, task in tasks:
        pick = next((i for i, (_, _, op, _) in enumerate(task["steps"]) if op == OP_PICK), None)
        if pick is not None and (state == TASK_DONE or step_index >= pick):
            for order_id, index, *_ in task["lines"]:
                picked_by[(order_id, index)] = picked_by.get((order_id, index), 0) + 1
    completed = {(oid, i) for oid, (state, d) in orders.items() if state == ORDER_COMPLETED
                 for i in range(len(d["lines"]))}
    assert completed <= set(picked_by)
    assert all(n == 1 for n in picked_by.values()), {k: n for k, n in picked_by.items() if n > 1}


def test_a_robot_container_down_for_long_no_longer_holds_time_and_the_run_ends(tmp_path, ros_env):
    """Stop the only robot container (SIGSTOP: it neither works nor dies, so nothing restarts it) for
    longer than the fleet's stale limit: time waits ``node_hold_limit`` wall seconds, then goes on
    (the simulator names the robots it gave up), the planner and the allocator treat the silent
    robots as failed, their tasks' lines go back to the pending pool. The container then comes back
    and time waits for it again. The run reaches its end with its report: no collision, no order lost
    (those not completed are listed open)."""
    run, out = _start_run(tmp_path, ros_env, 4, 200, 17, floor_simulator={"node_hold_limit": 4.0})
    log = out / "logs" / "floor_simulator.log"
    proc = None
    try:
        deadline = time.monotonic() + 180
        while sim_time(out) < 40.0 or not in_flight(out / "state.db"):
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.3)
        proc = _container(run, deadline)
        proc.suspend()  # SIGSTOP
        stopped_wall, stopped_at = time.monotonic(), sim_time(out)
        # held for the limit, then time goes on without the container (without the limit: held for ever)
        while sim_time(out) < stopped_at + 30.0:
            assert run.poll() is None and time.monotonic() < stopped_wall + 60.0, \
                f"sim time held at {sim_time(out)} s since the container stopped at {stopped_at} s"
            time.sleep(0.3)
        text = log.read_text()
        assert "robots_0 has held time" in text and "robot_0, robot_1, robot_2, robot_3" in text, text[-2000:]
        # down for longer than the fleet's stale limit (20 s of wall and sim time): its robots are silent
        while time.monotonic() < stopped_wall + 25.0:
            assert run.poll() is None, "the run ended while the container was stopped"
            time.sleep(0.3)
        back_at = sim_time(out)
        proc.resume()  # SIGCONT: the container comes back
        proc = None
        stdout, stderr = run.communicate(timeout=400)
    finally:
        if proc is not None:
            proc.resume()
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr + stdout
    assert back_at < 190.0, "the run was over before the container came back"
    report = json.loads((out / "report.json").read_text())
    assert report["node_restarts"] == 0
    assert report["collisions"] == 0
    assert report["orders_lost"] == 0
    assert sim_time(out) >= 198.0
    assert "robots_0 reports again" in log.read_text()
    assert "treated as failed" in (out / "logs" / "mapf_planner.log").read_text()  # silent: out of service
    db = sqlite3.connect(out / "state.db")
    states = [state for (state,) in db.execute("SELECT state FROM orders")]
    assert states and any(state != ORDER_COMPLETED for state in states)  # pending, and not lost
    _picked_once(db)


def test_a_killed_robot_container_resumes_its_robots_tasks_over_the_per_robot_action(tmp_path, ros_env):
    """``fleet_transport: per_robot``: SIGKILL the robot container mid-task. It is started again; its
    robots take up their plans where their bases stand; the allocator, hearing a robot report no
    task, sends the task in flight again as a new goal, and the new node resumes it at the steps done.
    The tasks in flight at the kill are completed, not started over; no order lost, no collision,
    every line picked by at most one rack visit, and work goes on after the restart."""
    run, out = _start_run(tmp_path, ros_env, 4, 300, 19, **{"/**": {"fleet_transport": "per_robot"}})
    log = out / "logs" / "robots_0.log"
    try:
        deadline = time.monotonic() + 240
        while sim_time(out) < 60.0 or not in_flight(out / "state.db", started=True):
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.3)
        proc = _container(run, deadline)
        proc.kill()  # SIGKILL
        busy = in_flight(out / "state.db")
        killed_at = sim_time(out)
        while log.read_text().count("process started") < 2:
            assert run.poll() is None and time.monotonic() < deadline, "the robot container was not restarted"
            time.sleep(0.2)
        stdout, stderr = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr + stdout
    report = json.loads((out / "report.json").read_text())
    assert report["node_restarts_by_node"] == {"robots_0": 1}
    assert report["collisions"] == 0
    assert report["orders_lost"] == 0
    text = log.read_text()
    assert "over mid-run" in text and "resumed task" in text, text[-3000:]
    # sent again only to the restarted robots, only their tasks in flight at the kill
    resent = set(re.findall(r"reports no task (\S+) ", (out / "logs" / "task_allocator.log").read_text()))
    assert resent and resent <= set(busy), (resent, busy)
    db = sqlite3.connect(out / "state.db")
    tasks = {tid: (state, json.loads(data))
             for tid, state, data in db.execute("SELECT task_id, state, data FROM tasks")}
    assert busy and all(tasks[t][0] == TASK_DONE for t in busy), {t: tasks[t][0] for t in busy}
    assert any(t["created"] > killed_at + 5.0 and s == TASK_DONE for s, t in tasks.values()), "nothing done after"
    assert report["orders_completed"] > 0
    _picked_once(db)

"""Durable state over real processes: SIGKILL the allocator and the order source mid-run.

``./warehouse run`` respawns them; they resume from the run's ``state.db``. The run has a
bounded order stream (``stop_after``) so that every order can finish; afterwards no order of
the stream is missing, every accepted order is completed, every order line was picked by
exactly one completed rack visit, robots never collided, and ``node_restarts`` counts the kills.
"""

import json
import math
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

from warehouse_core.maps.layout import load_layout
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.ops.operations import ORDER_COMPLETED, TASK_DONE
from warehouse_core.ops.orders import DemandModel
from warehouse_core.tasks import OP_PICK
from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the restart helpers: a helper module, not a test
from restart_helpers import in_flight, sim_time  # noqa: E402

MODULES = {"task_allocator": "warehouse_nodes.allocator_node", "order_source": "warehouse_nodes.order_source_node"}
STOP_AFTER = 100.0  # [s, sim] orders come until then
ORDERS_PER_HOUR = 720.0
# a restarted allocator takes seconds of wall time to serve again (imports, catalogue), while
# simulated time goes on: a slower simulation keeps the kills inside the ordering window
REAL_TIME_FACTOR = 5.0
KILL_AFTER = 120.0  # [s, sim] the robot container is killed after this (PATH_HISTORY segments, 1 a second)


def node_process(run: psutil.Process, name: str) -> psutil.Process | None:
    for child in run.children(recursive=True):
        try:
            if MODULES[name] in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def expected_order_ids(seed: int) -> list[str]:
    layout = load_layout(ROOT / "maps" / "warehouse_layout.yaml")
    inventory, _ = load_catalogue(layout, "", 500, seed)
    model = DemandModel(ORDERS_PER_HOUR, inventory.popularity, mean_lines=1.6, consumers=400)
    return [o.order_id for o in model.stream(seed + 1).until(STOP_AFTER)]


def test_killed_allocator_and_order_source_resume_without_losing_or_redoing_orders(tmp_path, ros_env):
    seed = 5
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"].update(stop_after=STOP_AFTER, orders_per_hour=ORDERS_PER_HOUR)
    config["floor_simulator"]["ros__parameters"]["real_time_factor"] = REAL_TIME_FACTOR
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "10", "--duration", "480",
                            "--seed", str(seed), "--config", str(cfg), "--out", str(out), "--quiet"],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    rng = random.Random(seed)
    kills = []
    try:
        parent = psutil.Process(run.pid)
        deadline = time.monotonic() + 120
        while not (out / "state.db").exists() or not _count(out / "state.db", "orders"):
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.5)
        # five kills at seeded moments while the node works (after a restart: once it has
        # resumed): the allocator three times, the order source twice
        for name in rng.sample(["task_allocator"] * 3 + ["order_source"] * 2, 5):
            log = out / "logs" / f"{name}.log"
            while log.read_text().count("resumed from") < kills.count(name):
                assert run.poll() is None and time.monotonic() < deadline + 300, f"{name} did not resume"
                time.sleep(0.2)
            time.sleep(rng.uniform(1.0, 4.0))
            proc = None
            while proc is None and run.poll() is None:
                proc = node_process(parent, name)
                time.sleep(0.1)
            assert proc is not None, name
            proc.kill()  # SIGKILL
            kills.append(name)
            while proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                time.sleep(0.05)
        stdout, stderr = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr + stdout
    report = json.loads((out / "report.json").read_text())
    assert report["node_restarts"] == len(kills) == 5
    assert report["collisions"] == 0
    db = sqlite3.connect(out / "state.db")
    # the order source lost nothing: every order of the seeded stream got an answer, all accepted
    answers = dict(db.execute("SELECT order_id, accepted FROM submissions"))
    assert sorted(answers) == expected_order_ids(seed)
    assert all(answers.values())
    # every accepted order is in the allocator's store and completed
    orders = {oid: (state, picked, json.loads(data)) for oid, state, picked, data in
              db.execute("SELECT order_id, state, lines_picked, data FROM orders")}
    assert sorted(orders) == sorted(answers)
    assert all(state == ORDER_COMPLETED and picked == len(d["lines"]) for state, picked, d in orders.values())
    # no line was picked twice: each line is in exactly one rack visit that got past its pick
    # (done, or still returning its rack when the run ended)
    picked_by = {}
    for tid, state, step_index, data in db.execute("SELECT task_id, state, step_index, data FROM tasks"):
        task = json.loads(data)
        pick = next((i for i, (_, _, op, _) in enumerate(task["steps"]) if op == OP_PICK), None)
        if pick is not None and (state == TASK_DONE or step_index >= pick):
            for order_id, index, *_ in task["lines"]:
                picked_by.setdefault((order_id, index), []).append(tid)
    lines = {(oid, i) for oid, (_, _, d) in orders.items() for i in range(len(d["lines"]))}
    assert set(picked_by) == lines
    assert all(len(t) == 1 for t in picked_by.values()), {k: v for k, v in picked_by.items() if len(v) > 1}
    assert report["orders_completed"] == len(orders)
    for name in MODULES:
        log = (out / "logs" / f"{name}.log").read_text()
        assert log.count("process started") == 1 + kills.count(name)
        assert log.count("resumed from") == kills.count(name)


def test_first_progress_of_a_restarted_allocator_reaches_the_simulator(ros_env):
    """A restarted allocator publishes its first round's ``/allocator/progress`` once, as soon as
    it has the (held) sim time, maybe before its new DDS participant has discovered the
    simulator's reader; time stays held until the next round, so a lost message held it for
    ever (the CI hang). The message is latched: the simulator gets it once it matches."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from warehouse_core import topics
    from warehouse_nodes import channels
    from warehouse_nodes import conversions as conv

    sim = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.floor_sim_node", "--ros-args", "-p", "robots:=2",
                            "-p", "real_time_factor:=10.0", "-p", "max_allocator_lag:=2.0", "--log-level", "warn"],
                           cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    contexts = []

    def allocator() -> tuple[Node, SingleThreadedExecutor]:
        """A stand-in for a (re)started allocator process: its own context, so its own participant."""
        context = rclpy.Context()
        rclpy.init(context=context)
        contexts.append(context)
        node = Node("task_allocator", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        return node, executor

    try:
        clock = [-1.0]
        first, executor = allocator()
        channels.subscription(first, topics.CLOCK, lambda m: clock.__setitem__(0, conv.from_time(m.clock)))
        progress = channels.publisher(first, topics.ALLOCATOR_PROGRESS)

        def spin_until(condition, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and sim.poll() is None:
                executor.spin_once(timeout_sec=0.05)
                if condition():
                    return True
            return False

        assert spin_until(lambda: progress.get_subscription_count() > 0 and clock[0] >= 0.0, 30.0), \
            "the simulator did not come up"
        progress.publish(conv.header(0.0, "task_allocator"))  # a round at t=0: time waits from 2 s on
        assert spin_until(lambda: clock[0] >= 2.0, 10.0), clock
        spin_until(lambda: False, 1.0)
        held = clock[0]
        spin_until(lambda: False, 1.0)
        assert clock[0] == held, f"time did not wait for the allocator: {held} s, then {clock[0]} s"
        # the allocator dies; its successor, a new participant, does its first round at once
        first.destroy_publisher(progress)
        second, _ = allocator()
        channels.publisher(second, topics.ALLOCATOR_PROGRESS).publish(conv.header(held, "task_allocator"))
        assert spin_until(lambda: clock[0] >= held + 1.0, 15.0), \
            f"sim time stayed at {clock[0]} s: the restarted allocator's progress at {held} s was lost"
    finally:
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
        for context in contexts:
            rclpy.try_shutdown(context=context)


def _count(db_path: Path, table: str) -> int:
    try:
        db = sqlite3.connect(db_path, timeout=1.0)
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_killed_forecaster_and_planner_are_restarted_and_the_fleet_resumes(tmp_path, ros_env):
    """SIGKILL the forecaster, then the planner, mid-run: both come back, the new planner waits for
    the robots to stand at the end of what was released to them and plans on from there; the run
    completes with its report, no order lost, no collision (judged on the simulator's ground truth)."""
    seed = 7
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"].update(stop_after=90.0, orders_per_hour=ORDERS_PER_HOUR)
    config["floor_simulator"]["ros__parameters"]["real_time_factor"] = REAL_TIME_FACTOR
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "6", "--duration", "300",
                            "--seed", str(seed), "--config", str(cfg), "--out", str(out), "--quiet",
                            "--sample-every", "2"],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    modules = {"forecaster": "warehouse_nodes.forecaster_node", "mapf_planner": "warehouse_nodes.planner_node"}
    killed_at = {}  # node -> sim time of the last timeline sample before its kill
    try:
        parent = psutil.Process(run.pid)
        deadline = time.monotonic() + 180
        while not (out / "state.db").exists() or _count(out / "state.db", "tasks") < 3:
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.5)
        for name, module in modules.items():
            proc = None
            while proc is None:
                assert run.poll() is None and time.monotonic() < deadline, f"no {name} process"
                proc = next((c for c in parent.children(recursive=True) if _runs(c, module)), None)
                time.sleep(0.1)
            proc.kill()  # SIGKILL
            killed_at[name] = json.loads((out / "timeline.jsonl").read_text().splitlines()[-1])["sim_s"]
            log = out / "logs" / f"{name}.log"
            while log.read_text().count("process started") < 2:
                assert run.poll() is None and time.monotonic() < deadline, f"{name} was not restarted"
                time.sleep(0.2)
            time.sleep(3.0)
        stdout, stderr = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr + stdout
    report = json.loads((out / "report.json").read_text())
    assert report["node_restarts_by_node"] == {"forecaster": 1, "mapf_planner": 1}
    assert report["node_restarts"] == 2
    assert report["collisions"] == 0
    assert report["orders_lost"] == 0
    assert "resumed the fleet from where it stands" in (out / "logs" / "mapf_planner.log").read_text()
    # the tasks in flight when the planner died were finished under the new one, and it planned new ones
    db = sqlite3.connect(out / "state.db")
    tasks = [(json.loads(data)["created"], state) for state, data in db.execute("SELECT state, data FROM tasks")]
    before = [state for created, state in tasks if created <= killed_at["mapf_planner"]]
    after = [state for created, state in tasks if created > killed_at["mapf_planner"] + 5.0]
    assert before and all(state == TASK_DONE for state in before), tasks
    assert TASK_DONE in after, tasks
    assert report["orders_completed"] > 0


def _runs(proc: psutil.Process, module: str) -> bool:
    try:
        return module in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def test_a_killed_simulator_resumes_the_floor_where_it_stood(tmp_path, ros_env):
    """SIGKILL the floor simulator mid-run (after its first periodic snapshot, with a failed robot
    waiting to be towed): it is started again, restores its floor from the run's state store (last
    snapshot and the steps journaled after it) and time goes on from where it stood. Judged on the
    recorded ground truth: sim time never goes back, no robot moves faster than it can (none is put
    where it was not) nor changes its charge at a jump, the failed robot stays failed and is towed
    when it was due, the run completes with no order lost and no collision, and orders are completed
    after the restart."""
    from rosbags.rosbag2 import Reader

    from warehouse_core.analysis import bagio

    seed = 11
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"].update(stop_after=90.0, orders_per_hour=ORDERS_PER_HOUR)
    config["floor_simulator"]["ros__parameters"].update(real_time_factor=REAL_TIME_FACTOR, fault_robots=["robot_5"],
                                                        fault_times=[20.0], recovery_time=40.0)
    max_speed = float(config["/**"]["ros__parameters"].get("max_speed", 1.5))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "6", "--duration", "300",
                            "--seed", str(seed), "--config", str(cfg), "--out", str(out), "--quiet",
                            "--sample-every", "2"],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    log = out / "logs" / "floor_simulator.log"
    try:
        parent = psutil.Process(run.pid)
        deadline = time.monotonic() + 180
        # after the snapshot at 30 s (150 steps of 0.2 s), before robot_5 is towed at 60 s
        while not (out / "state.db").exists() or _count(out / "state.db", "tasks") < 3 \
                or json.loads((out / "timeline.jsonl").read_text().splitlines()[-1])["sim_s"] < 36.0:
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.2)
        proc = None
        while proc is None:
            assert run.poll() is None and time.monotonic() < deadline, "no floor_simulator process"
            proc = next((c for c in parent.children(recursive=True)
                         if _runs(c, "warehouse_nodes.floor_sim_node")), None)
            time.sleep(0.1)
        proc.kill()  # SIGKILL
        killed_at = json.loads((out / "timeline.jsonl").read_text().splitlines()[-1])["sim_s"]
        while log.read_text().count("resumed the floor") < 1:
            assert run.poll() is None and time.monotonic() < deadline, "the simulator did not resume"
            time.sleep(0.2)
        stdout, stderr = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr + stdout
    report = json.loads((out / "report.json").read_text())
    assert report["node_restarts_by_node"] == {"floor_simulator": 1}
    assert report["collisions"] == 0
    assert report["orders_lost"] == 0
    assert log.read_text().count("process started") == 2
    assert int(re.search(r"snapshot of journal entry (\d+)", log.read_text()).group(1)) >= 150
    store = bagio.typestore_with([ROOT / "src" / "warehouse_interfaces" / "msg"])
    last: dict[str, tuple[float, float, float, float]] = {}  # robot -> (stamp, x, y, charge) in its last state
    stamps, done_after = [], 0
    with Reader(out / "bag") as reader:
        conns = [c for c in reader.connections if c.topic in ("/sim/fleet_state", "/order_status")]
        for conn, _t, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            if conn.topic == "/order_status":
                done_after += msg.state == 3 and stamp > killed_at + 5.0  # ORDER_COMPLETED after the restart
                continue
            stamps.append(stamp)
            for name, mode, x, y, charge in zip(msg.robot_ids, msg.modes.tolist(), msg.x.tolist(), msg.y.tolist(),
                                                msg.battery.tolist(), strict=True):
                if name in last:
                    t0, x0, y0, c0 = last[name]
                    assert math.hypot(x - x0, y - y0) <= max_speed * (stamp - t0) + 1e-6, (name, t0, stamp)
                    assert abs(charge - c0) <= 0.003 * (stamp - t0) + 1e-3, (name, t0, stamp, c0, charge)
                assert name != "robot_5" or stamp < 20.5 or mode == 7, stamp  # MODE_FAILED from its fault on
                last[name] = (stamp, x, y, charge)
    assert stamps and all(b >= a for a, b in zip(stamps, stamps[1:])), "sim time went backwards"
    assert stamps[-1] >= 299.0 and len(last) == 6
    assert 59.5 <= last["robot_5"][0] <= 61.0  # towed away when due, though the simulator died meanwhile
    assert all(t >= 299.0 for name, (t, *_) in last.items() if name != "robot_5")
    assert done_after >= 1, "no order was completed after the restart"


def test_a_killed_robot_container_is_restarted_and_its_robots_resume_their_tasks(tmp_path, ros_env):
    """SIGKILL the robot container mid-task: it is started again, its robots take up their plans where
    their bases stand and their tasks at the steps done (the allocator sends a task again to a robot
    that reports it no more). The tasks in flight at the kill are completed, not started over: the
    run completes with no order lost, no collision, every line picked by exactly one rack visit, and
    orders are completed after the restart."""
    seed = 13
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"].update(stop_after=90.0, orders_per_hour=ORDERS_PER_HOUR)
    config["floor_simulator"]["ros__parameters"]["real_time_factor"] = REAL_TIME_FACTOR
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "5", "--duration", "300",
                            "--seed", str(seed), "--config", str(cfg), "--out", str(out), "--quiet",
                            "--sample-every", "2"],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    log = out / "logs" / "robots_0.log"
    try:
        parent = psutil.Process(run.pid)
        deadline = time.monotonic() + 240
        # kill while rack visits are under way (some task has steps done and is not finished), late
        # enough that the first segments of the robots' plans are gone from the planner's latched history
        while sim_time(out) < KILL_AFTER or not in_flight(out / "state.db", started=True):
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.3)
        proc = None
        while proc is None:
            assert run.poll() is None and time.monotonic() < deadline, "no robot container process"
            proc = next((c for c in parent.children(recursive=True)
                         if _runs(c, "warehouse_nodes.robot_container")), None)
            time.sleep(0.1)
        proc.kill()  # SIGKILL
        busy = in_flight(out / "state.db")
        killed_at = json.loads((out / "timeline.jsonl").read_text().splitlines()[-1])["sim_s"]
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
    assert "over mid-run" in log.read_text() and "resumed task" in log.read_text()
    db = sqlite3.connect(out / "state.db")
    tasks = {tid: (state, step, json.loads(data)) for tid, state, step, data in
             db.execute("SELECT task_id, state, step_index, data FROM tasks")}
    # the tasks in flight at the kill were resumed and completed
    assert busy and all(tasks[t][0] == TASK_DONE for t in busy), {t: tasks[t][:2] for t in busy}
    assert any(t["created"] > killed_at + 5.0 and s == TASK_DONE for s, _, t in tasks.values()), "nothing done after"
    orders = {oid: (state, json.loads(data))
              for oid, state, data in db.execute("SELECT order_id, state, data FROM orders")}
    # (a few robots for a few minutes: the last orders may still be open, but none is lost)
    assert report["orders_completed"] > 0 and any(state == ORDER_COMPLETED for state, _ in orders.values())
    picked_by = {}
    for tid, (state, step_index, task) in tasks.items():
        pick = next((i for i, (_, _, op, _) in enumerate(task["steps"]) if op == OP_PICK), None)
        if pick is not None and (state == TASK_DONE or step_index >= pick):
            for order_id, index, *_ in task["lines"]:
                picked_by.setdefault((order_id, index), []).append(tid)
    lines = {(oid, i) for oid, (_, d) in orders.items() for i in range(len(d["lines"]))}
    completed = {(oid, i) for oid, (state, d) in orders.items() if state == ORDER_COMPLETED
                 for i in range(len(d["lines"]))}
    assert completed <= set(picked_by) <= lines
    assert all(len(t) == 1 for t in picked_by.values()), {k: v for k, v in picked_by.items() if len(v) > 1}


def test_planner_and_robot_container_killed_together_resume_the_fleet(tmp_path, ros_env):
    """SIGKILL the planner and the robot container at the same moment, mid-task: both are started
    again; the robots are taken over where their bases stand and the new planner plans from there.
    Its wait for the robots to stand still is cut short (``restart_settle_timeout`` 1 s), so robots
    still driving then are held (planned around) and rejoin once they stand. The run completes with
    its report, no order lost, no collision, and orders completed after the restart."""
    seed = 17
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"].update(stop_after=90.0, orders_per_hour=ORDERS_PER_HOUR)
    config["floor_simulator"]["ros__parameters"]["real_time_factor"] = REAL_TIME_FACTOR
    config["mapf_planner"]["ros__parameters"]["restart_settle_timeout"] = 1.0
    # the copy lives elsewhere: its file paths, absolute, mean the same wherever they are resolved from
    config["/**"]["ros__parameters"]["layout"] = str(ROOT / "maps" / "warehouse_layout.yaml")
    config["task_allocator"]["ros__parameters"]["boxes"] = str(ROOT / "config" / "boxes.yaml")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "4", "--duration", "240",
                            "--seed", str(seed), "--config", str(cfg), "--out", str(out), "--quiet",
                            "--sample-every", "2"],
                           cwd=ROOT, env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    modules = {"mapf_planner": "warehouse_nodes.planner_node", "robots_0": "warehouse_nodes.robot_container"}
    logs = {name: out / "logs" / f"{name}.log" for name in modules}
    try:
        parent = psutil.Process(run.pid)
        deadline = time.monotonic() + 240
        while sim_time(out) < 40.0 or not in_flight(out / "state.db", started=True):
            assert run.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.3)
        procs = {}
        while len(procs) < len(modules):
            assert run.poll() is None and time.monotonic() < deadline, f"no {set(modules) - set(procs)} process"
            procs = {name: c for c in parent.children(recursive=True) for name, module in modules.items()
                     if _runs(c, module)}
            time.sleep(0.1)
        for proc in procs.values():
            proc.kill()  # SIGKILL, both at once
        killed_at = sim_time(out)
        for name, log in logs.items():
            while log.read_text().count("process started") < 2:
                assert run.poll() is None and time.monotonic() < deadline, f"{name} was not restarted"
                time.sleep(0.2)
        stdout, stderr = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr + stdout
    report = json.loads((out / "report.json").read_text())
    assert report["node_restarts_by_node"] == {"mapf_planner": 1, "robots_0": 1}
    assert report["collisions"] == 0
    assert report["orders_lost"] == 0
    planner_log = logs["mapf_planner"].read_text()
    assert "resumed the fleet from where it stands" in planner_log
    assert "over mid-run" in logs["robots_0"].read_text()
    # robots held out of the first plan (if any still drove after 1 s) were planned again
    held = [name for names in re.findall(r"did not stand still within \S+ s of the restart: ([^;]+);", planner_log)
            for name in names.split(", ")]
    assert all(f"{name} stands still at" in planner_log for name in held), held
    db = sqlite3.connect(out / "state.db")
    orders = [state for (state,) in db.execute("SELECT state FROM orders")]
    assert report["orders_completed"] > 0 and ORDER_COMPLETED in orders
    done_after = [data for (data,) in db.execute("SELECT data FROM tasks WHERE state = ?", (TASK_DONE,))
                  if json.loads(data)["created"] > killed_at + 5.0]
    assert done_after, "nothing done after the restart"

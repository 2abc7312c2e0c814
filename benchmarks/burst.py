"""Burst load: 10,000 orders in one second through /submit_order while the fleet runs.

Starts ``./warehouse run`` (its order source keeps submitting its own orders too), waits until
simulated time runs, fires the burst (:mod:`warehouse_nodes.burst`), and when the run is over
counts the burst orders completed (from the run's durable store ``state.db``). A second table
gives the cost of the durable store per accepted order, measured on the allocator's core
(:class:`warehouse_core.ops.durable_ops.JournaledOps`) without ROS.

    python benchmarks/burst.py [--orders 10000] [--robots 20] [--duration 1800] [--seed 42]
    python benchmarks/burst.py --standalone   # the allocator alone (no fleet): answers and CPU per order

Wall-clock figures depend on the machine and its load (the shared CI machine is slower than a
dedicated one); simulated-time figures do not.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "maps" / "warehouse_layout.yaml"


def fleet_burst(args) -> tuple[dict, dict]:
    import json

    import rclpy

    from warehouse_nodes.burst import BurstClient, burst_orders

    out = Path(args.out or tempfile.mkdtemp(prefix="burst_"))
    run = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(args.robots),
                            "--duration", str(args.duration), "--seed", str(args.seed), "--out", str(out / "run"),
                            "--quiet"], cwd=ROOT, env=dict(os.environ, WAREHOUSE_ROOT=str(ROOT)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rclpy.init()
    try:
        client = BurstClient(use_sim_time=True)
        orders = burst_orders(str(LAYOUT), args.orders, args.seed)
        while client.get_clock().now().nanoseconds < 30e9:  # 30 s simulated: the fleet is at work
            rclpy.spin_once(client, timeout_sec=0.1)
            if run.poll() is not None:
                raise RuntimeError(run.stderr.read())
        burst_at = client.get_clock().now().nanoseconds * 1e-9
        result = client.fire(orders, spread_s=1.0, answer_timeout_s=600.0)
        client.destroy_node()
    finally:
        rclpy.try_shutdown()
    stdout, stderr = run.communicate()
    if run.returncode != 0:
        raise RuntimeError(stderr + stdout)
    report = json.loads((out / "run" / "report.json").read_text())
    db = sqlite3.connect(out / "run" / "state.db")
    done = db.execute("SELECT COUNT(*) FROM orders WHERE order_id LIKE 'B%' AND state = 3").fetchone()[0]
    stored = db.execute("SELECT COUNT(*) FROM orders WHERE order_id LIKE 'B%'").fetchone()[0]
    return {"result": result, "burst_at": burst_at, "completed": done, "stored": stored}, report


def standalone_burst(args) -> tuple[object, float]:
    """The burst against an allocator process alone (durable store on); returns the result and
    the allocator's CPU seconds spent while answering it."""
    import psutil
    import rclpy

    from warehouse_nodes.burst import BurstClient, burst_orders

    out = Path(args.out or tempfile.mkdtemp(prefix="burst_"))
    out.mkdir(parents=True, exist_ok=True)
    params = out / "params.yaml"  # the config's paths are relative to it: a copy with them absolute
    params.write_text(yaml.safe_dump(load_relocatable(ROOT / "config" / "warehouse.yaml")))
    proc = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.allocator_node", "--ros-args", "--params-file",
                             str(params), "-p", "use_sim_time:=false", "-p", f"layout:={LAYOUT}",
                             "-p", f"state_store:={out / 'state.db'}", "--log-level", "error"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    try:
        client = BurstClient()
        orders = burst_orders(str(LAYOUT), args.orders, args.seed)
        while not client.client.wait_for_service(timeout_sec=1.0):
            pass
        time.sleep(15.0)  # let the start-up forecast (a thread) finish: it is not the intake's cost
        cpu = psutil.Process(proc.pid).cpu_times()
        result = client.fire(orders, spread_s=1.0, answer_timeout_s=1800.0)
        after = psutil.Process(proc.pid).cpu_times()
        client.destroy_node()
    finally:
        rclpy.try_shutdown()
        proc.terminate()
        proc.wait(30)
    return result, (after.user + after.system) - (cpu.user + cpu.system)


def store_cost(n: int, seed: int) -> list[tuple[str, float]]:
    """Wall µs per accepted order: core intake alone, and with the durable store (sync modes)."""
    from warehouse_core.maps.layout import load_layout
    from warehouse_core.ops.durable_ops import JournaledOps
    from warehouse_core.ops.inventory import load_catalogue
    from warehouse_core.ops.operations import OpsConfig
    from warehouse_core.ops.store import StateStore
    from warehouse_nodes.burst import burst_orders

    layout = load_layout(LAYOUT)
    orders = burst_orders(str(LAYOUT), n, seed)
    rows = []
    for label, sync in [("in memory (no store)", None), ("store, synchronous=normal", "normal"),
                        ("store, synchronous=full", "full")]:
        inventory, placement = load_catalogue(layout, "", 500, seed)
        with tempfile.TemporaryDirectory() as d:
            store = StateStore(Path(d) / "state.db", sync) if sync else None
            ops = JournaledOps(layout, inventory, OpsConfig(), placement=placement, store=store)
            t0 = time.perf_counter()
            accepted = sum(ops.submit(o, 0.0)[0] for o in orders)
            rows.append((label, (time.perf_counter() - t0) / max(1, accepted) * 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--robots", type=int, default=20)
    parser.add_argument("--duration", type=float, default=1800.0, help="simulated seconds of the run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="", help="directory for the run (default: a temporary one)")
    parser.add_argument("--store-only", action="store_true", help="only the store cost table")
    parser.add_argument("--standalone", action="store_true", help="burst an allocator alone (no fleet, no run)")
    args = parser.parse_args()
    if args.standalone:
        r, cpu = standalone_burst(args)
        print(f"Burst of {r.sent} orders at an allocator alone (durable store on), seed {args.seed}\n")
        print("| sent | send time | accepted | rejected | dropped | latency p50 | latency p99 | max | all answered "
              "after | allocator CPU per order |\n|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {r.sent} | {r.send_s:.2f} s | {r.accepted} | {sum(r.rejected.values())} | {r.dropped} | "
              f"{r.latency_ms(50):.0f} ms | {r.latency_ms(99):.0f} ms | {r.latency_ms(100):.0f} ms | "
              f"{r.answered_s:.1f} s | {cpu / r.sent * 1000:.2f} ms |")
        print("\n| rejected because | orders |\n|---|---|")
        for kind, count in r.rejected.most_common():
            print(f"| {kind} | {count} |")
    elif not args.store_only:
        fleet, report = fleet_burst(args)
        r = fleet["result"]
        after = args.duration - fleet["burst_at"]
        print(f"Burst of {r.sent} orders at sim {fleet['burst_at']:.0f} s, {args.robots} robots, seed {args.seed}\n")
        print("| sent | send time | accepted | rejected | unanswered when the run ended | latency p50 | latency p99 "
              f"| max | all answered after | burst orders completed {after:.0f} sim s later | stored |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {r.sent} | {r.send_s:.2f} s | {r.accepted} | {sum(r.rejected.values())} | {r.dropped} | "
              f"{r.latency_ms(50):.0f} ms | {r.latency_ms(99):.0f} ms | {r.latency_ms(100):.0f} ms | "
              f"{r.answered_s:.1f} s | {fleet['completed']} | {fleet['stored']} |")
        print("\n| rejected because | orders |\n|---|---|")
        for kind, count in r.rejected.most_common():
            print(f"| {kind} | {count} |")
        print(f"\nrun: {report['orders_completed']} orders completed in total, {report['collisions']} collisions, "
              f"{report['node_restarts']} node restarts, real-time factor {report['real_time_factor']}")
    if args.standalone:
        return
    print("\n| allocator intake (core, 10,000 orders) | µs per accepted order |\n|---|---|")
    for label, us in store_cost(args.orders, args.seed):
        print(f"| {label} | {us:.0f} |")


if __name__ == "__main__":
    main()

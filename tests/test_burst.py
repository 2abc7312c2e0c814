"""Burst load on a running allocator over DDS: 1,000 orders in one second, none dropped.

The allocator runs as its own process with a durable store; every request is answered
(accepted, or refused with a reason), and every accepted order is in the store.
(``benchmarks/burst.py`` does the same with 10,000 orders and a working fleet.)
"""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "maps" / "warehouse_layout.yaml"


def test_thousand_orders_in_one_second_none_dropped(tmp_path, ros_env):
    import rclpy

    from warehouse_nodes.burst import BurstClient, burst_orders

    store = tmp_path / "state.db"
    params = tmp_path / "params.yaml"  # the config's paths are relative to it: a copy with them absolute
    params.write_text(yaml.safe_dump(load_relocatable(ROOT / "config" / "warehouse.yaml")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse_nodes.allocator_node", "--ros-args",
         "--params-file", str(params), "-p", "use_sim_time:=false",
         "-p", f"layout:={LAYOUT}", "-p", f"state_store:={store}"],
        cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    try:
        client = BurstClient()
        orders = burst_orders(str(LAYOUT), 1000, seed=42)
        started = time.monotonic()
        result = client.fire(orders, spread_s=1.0, answer_timeout_s=120.0)
        assert proc.poll() is None, proc.stdout.read()
        assert result.send_s < 2.0  # the burst really came within about a second
        assert result.dropped == 0
        assert result.accepted + sum(result.rejected.values()) == 1000
        assert result.accepted > 500, result.rejected
        assert all(kind for kind in result.rejected)  # every refusal has a reason
        assert len(result.latencies_s) == 1000 and time.monotonic() - started < 130
        # what was acknowledged is in the durable store
        db = sqlite3.connect(store)
        assert db.execute("SELECT COUNT(*) FROM orders WHERE order_id LIKE 'B%'").fetchone()[0] == result.accepted
    finally:
        rclpy.try_shutdown()
        proc.terminate()
        proc.wait(10)

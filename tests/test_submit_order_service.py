"""The allocator's /submit_order service over DDS: bad orders get a reason, good ones an id."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.node import Node

from warehouse_interfaces.msg import Order, OrderLine
from warehouse_interfaces.srv import SubmitOrder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def allocator(ros_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse_nodes.allocator_node", "--ros-args",
         "--params-file", str(ROOT / "config" / "warehouse.yaml"),
         "-p", "use_sim_time:=false", "-p", f"layout:={ROOT / 'maps' / 'warehouse_layout.yaml'}"],
        cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = Node("order_test_client")
    client = node.create_client(SubmitOrder, "/submit_order")
    try:
        deadline = time.monotonic() + 30
        while not client.wait_for_service(timeout_sec=0.5):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "allocator service did not come up"
        yield node, client
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        proc.terminate()
        proc.wait(10)


def call(node, client, order):
    future = client.call_async(SubmitOrder.Request(order=order))
    rclpy.spin_until_future_complete(node, future, timeout_sec=10)
    assert future.done()
    return future.result()


def make(sku="SKU-00000", qty=1, consumer="C1", deadline=3600):
    o = Order(consumer_id=consumer, lines=[OrderLine(sku=sku, quantity=qty)])
    o.deadline.sec = deadline
    return o


def test_orders_are_accepted_or_refused_with_a_reason(allocator):
    node, client = allocator
    ok = call(node, client, make())
    assert ok.accepted and ok.order_id
    for bad, words in [(make(sku="NOPE"), "not in the catalogue"),
                       (make(qty=0), "quantity"),
                       (make(consumer=""), "consumer_id"),
                       (make(deadline=0), "deadline"),
                       (Order(consumer_id="C1"), "lines")]:
        res = call(node, client, bad)
        assert not res.accepted
        assert words in res.reason, res.reason

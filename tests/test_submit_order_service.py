"""The allocator's /submit_order service over DDS: bad orders get a reason and an /order_status
event, good ones an id. The allocator runs on the wall clock here: deadlines are set from it."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.node import Node

from warehouse_core import topics
from warehouse_interfaces.msg import Order, OrderLine, OrderStatus
from warehouse_interfaces.srv import SubmitOrder
from warehouse_nodes import channels
from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def allocator(ros_env, tmp_path):
    params = tmp_path / "params.yaml"  # the config's paths are relative to it: a copy with them absolute
    params.write_text(yaml.safe_dump(load_relocatable(ROOT / "config" / "warehouse.yaml")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse_nodes.allocator_node", "--ros-args",
         "--params-file", str(params),
         "-p", "use_sim_time:=false", "-p", f"layout:={ROOT / 'maps' / 'warehouse_layout.yaml'}"],
        cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = Node("order_test_client")
    client = channels.client(node, topics.SUBMIT_ORDER)
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


def ahead(seconds: int = 3600) -> int:
    """A deadline ``seconds`` from now on the allocator's (wall) clock."""
    return int(time.time()) + seconds


def make(sku="SKU-00000", qty=1, consumer="C1", deadline=None):
    o = Order(consumer_id=consumer, lines=[OrderLine(sku=sku, quantity=qty)])
    o.deadline.sec = ahead() if deadline is None else deadline
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


def test_malformed_requests_are_refused_by_field_and_the_node_keeps_serving(allocator):
    """Hostile requests over real DDS (what the message types let through: NaN and negative
    quantities cannot be encoded in uint32, so their nearest: 0 and 2**32-1)."""
    node, client = allocator
    many = Order(consumer_id="C1", lines=[OrderLine(sku="SKU-00000", quantity=1)] * 201)
    many.deadline.sec = ahead()
    late = make()
    late.created.sec, late.deadline.sec = 2**31 - 1, 5
    odd_time = make()
    odd_time.deadline.nanosec = 4_000_000_000  # not a valid Time: nanosec >= 1e9
    huge_id = make()
    huge_id.order_id = "x" * 1_000_000
    service = make()
    service.service = 255
    cases = [(make(qty=2**32 - 1), "lines[0].quantity"),
             (make(qty=0), "lines[0].quantity"),
             (make(sku=""), "lines[0].sku"),
             (make(sku="SKU-ÄÖÜ-🙂\u202e"), "not in the catalogue"),
             (make(sku="x" * 100_000), "lines[0].sku"),
             (make(consumer=" \t "), "consumer_id"),
             (make(consumer="顧客"), None),  # unicode consumer ids are fine
             (many, "lines"),
             (late, "deadline"),
             (make(deadline=ahead(-60)), "already passed"),
             (huge_id, "order_id is 1000000 characters"),
             (service, "service"),
             (odd_time, None)]
    for order, field in cases:
        res = call(node, client, order)
        if field is None:
            assert res.accepted or res.reason, res
        else:
            assert not res.accepted and field in res.reason, (field, res.reason[:200])
    first = make()
    first.order_id = "DUP-1"
    assert call(node, client, first).accepted
    assert call(node, client, first).accepted  # a repeat (lost answer): acknowledged again
    other = make(qty=2)
    other.order_id = "DUP-1"
    res = call(node, client, other)
    assert not res.accepted and "order_id 'DUP-1'" in res.reason
    assert call(node, client, make()).accepted  # still serving


def test_fuzzed_requests_never_break_the_service(allocator):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    node, client = allocator
    text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
    lines = st.lists(st.builds(OrderLine, sku=st.one_of(st.sampled_from(["SKU-00000", "SKU-00001", ""]), text),
                               quantity=st.one_of(st.integers(0, 3), st.integers(0, 2**32 - 1))), max_size=5)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(order_id=st.one_of(st.just(""), text), consumer=st.one_of(st.just(""), text), lines=lines,
           created=st.integers(-2**31, 2**31 - 1), deadline=st.integers(-2**31, 2**31 - 1),
           service=st.integers(0, 255))
    def check(order_id, consumer, lines, created, deadline, service):
        order = Order(order_id=order_id, consumer_id=consumer, lines=lines, service=service)
        order.created.sec, order.deadline.sec = created, deadline
        res = call(node, client, order)
        assert res.accepted or res.reason

    check()
    assert call(node, client, make()).accepted


def test_every_refusal_is_an_order_status_event_and_orders_are_checked_whole(allocator):
    from warehouse_core.maps.layout import load_layout
    from warehouse_core.ops.inventory import load_catalogue

    node, client = allocator
    events = []
    channels.subscription(node, topics.ORDER_STATUS, events.append)
    layout = load_layout(str(ROOT / "maps" / "warehouse_layout.yaml"))
    shared = yaml.safe_load((ROOT / "config" / "warehouse.yaml").read_text())["/**"]["ros__parameters"]
    inventory, _ = load_catalogue(layout, shared["inventory_dir"], shared["skus"], shared["seed"])
    free = inventory.total_available("SKU-00000")
    each = free // 2 + 1  # each line alone fits, the two together do not
    whole = Order(consumer_id="C1", lines=[OrderLine(sku="SKU-00000", quantity=each)] * 2)
    whole.deadline.sec = ahead()
    refused = [(Order(consumer_id="C1"), "no lines"), (whole, f"{2 * each} units, {free} are free"),
               (make(deadline=ahead(-60)), "already passed")]
    answers = []
    for order, words in refused:
        res = call(node, client, order)
        assert not res.accepted and words in res.reason, res.reason
        answers.append((res.order_id, res.reason))
    assert call(node, client, make()).accepted  # nothing of the refused orders was promised
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(events) < len(refused) + 1:
        rclpy.spin_once(node, timeout_sec=0.2)
    rejected = [(e.order_id, e.reason) for e in events if e.state == OrderStatus.STATE_REJECTED]
    assert rejected == answers

"""Every topic is declared once (:mod:`warehouse_core.topics`) and the nodes use the declaration:
types that exist, QoS that match between the two sides, no name or QoS of a node's own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from warehouse_core import topics
from warehouse_nodes import channels

ROOT = Path(__file__).resolve().parents[1]
NODES = ROOT / "src" / "warehouse_nodes" / "warehouse_nodes"
# modules that create entities other than through channels, and why: the recorder subscribes raw
# (bytes to the bag), the replay republishes whatever a bag holds, the drive backends talk to a
# base whose topics are parameters (Gazebo, Nav2), channels is the one place that creates them
DIRECT_OK = {"channels.py", "run.py", "bag_replay.py", "drive_backends.py"}
CREATES = {"create_publisher", "create_subscription", "create_service", "create_client"}


def declared() -> list:
    return [v for v in vars(topics).values() if isinstance(v, (topics.Topic, topics.Service))]


@pytest.mark.parametrize("entry", declared(), ids=lambda e: e.name)
def test_every_declared_type_is_installed(entry):
    msgtype = entry.msgtype if isinstance(entry, topics.Topic) else entry.srvtype
    if entry is topics.TF and channels.message_class(msgtype) is None:
        pytest.skip("tf2_msgs is not a dependency: /tf is published only where it is installed")
    assert channels.message_class(msgtype) is not None, f"{entry.name}: {msgtype} is not installed"


def test_readers_never_ask_for_a_history_the_writer_does_not_keep():
    """A transient-local reader does not match a volatile writer (DDS): such a reader would get nothing."""
    bad = [t.name for t in topics.all_topics() if t.reader.latched and not t.qos.latched]
    assert bad == []


def test_names_are_unique():
    names = [e.name for e in declared()]
    assert len(names) == len(set(names))


def test_nodes_create_their_entities_only_through_the_declarations():
    names = {e.name for e in declared()}
    bad = []
    for path in sorted(NODES.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CREATES \
                    and path.name not in DIRECT_OK:
                bad.append(f"{path.name}:{node.lineno}: {node.func.attr}")
            if isinstance(node, ast.Constant) and node.value in names:
                bad.append(f"{path.name}:{node.lineno}: topic name {node.value!r} written out")
    assert bad == [], "\n".join(bad)


def test_no_side_channel_is_text_any_more():
    """The side channels were std_msgs/String; now every node publishes typed messages."""
    users = [p.name for p in NODES.glob("*.py") if "from std_msgs.msg import" in p.read_text()
             and "String" in p.read_text().split("from std_msgs.msg import", 1)[1].splitlines()[0]]
    assert users == []


def test_by_name_finds_robot_topics_from_their_template():
    assert topics.by_name("/robot_12/path") is topics.ROBOT_PATH
    assert topics.by_name("/sim/faults") is topics.SIM_FAULTS
    assert topics.by_name("/a/b/path") is None and topics.by_name("/unknown") is None
    assert topics.ROBOT_ODOM.of("robot_3") == "/robot_3/odom" and topics.ROBOT_ODOM.relative == "odom"


def test_profiles_follow_the_declaration():
    events = channels.profile(topics.SIM_EVENTS.qos)
    assert events.depth == topics.SIDE_HISTORY and events.durability.name == "TRANSIENT_LOCAL"
    tasks_reader = channels.profile(topics.TASKS.reader)
    assert tasks_reader.durability.name == "VOLATILE"  # a restarted robot must not replay old tasks
    recorded = channels.recording_profile(topics.TASKS)
    assert recorded.depth == topics.EVENT_HISTORY and recorded.durability.name == "TRANSIENT_LOCAL"
    assert channels.recording_profile(topics.FLEET_PLAN).depth == topics.RECORD_DEPTH

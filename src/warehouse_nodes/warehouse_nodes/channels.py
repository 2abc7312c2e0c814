"""Publishers, subscriptions, services and clients of the topics of :mod:`warehouse_core.topics`,
created with their declared QoS: a node names the topic, never a QoS of its own."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from warehouse_core.topics import EVENT_HISTORY, RECORD_DEPTH, Qos, Service, Topic


def profile(qos: Qos) -> QoSProfile:
    """The rclpy profile of a declared QoS (reliable, keep last ``depth``, volatile or transient local)."""
    reliability = ReliabilityPolicy.BEST_EFFORT if qos.best_effort else ReliabilityPolicy.RELIABLE
    return QoSProfile(depth=qos.depth, history=HistoryPolicy.KEEP_LAST, reliability=reliability,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.latched else DurabilityPolicy.VOLATILE)


def recording_profile(topic: Topic) -> QoSProfile:
    """What a recorder or a replay uses: the writer's durability with a queue deep enough for a
    burst (a latched stream's whole history, so that a late recorder still gets every event)."""
    return profile(topic.qos.deeper(EVENT_HISTORY if topic.qos.latched else RECORD_DEPTH))


def message_class(msgtype: str):
    """``pkg/msg/Name`` -> the Python class, or None when the package is not installed."""
    pkg, kind, name = (msgtype.split("/") + ["", ""])[:3]
    try:
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ImportError, AttributeError, ValueError):
        return None


def _cls(msgtype: str):
    cls = message_class(msgtype)
    if cls is None:
        raise ImportError(f"message type {msgtype} is not installed (rebuild warehouse_interfaces)")
    return cls


def publisher(node: Node, topic: Topic, name: str | None = None, **kwargs):
    """A publisher on ``topic`` (``name``: a robot's topic of a template) with the writer QoS."""
    return node.create_publisher(_cls(topic.msgtype), name or topic.name, profile(topic.qos), **kwargs)


def subscription(node: Node, topic: Topic, callback: Callable, name: str | None = None, **kwargs):
    """A subscription to ``topic`` with the reader QoS."""
    return node.create_subscription(_cls(topic.msgtype), name or topic.name, callback, profile(topic.reader),
                                    **kwargs)


def _service_qos(service: Service) -> dict:
    return {"qos_profile": QoSProfile(depth=service.depth, reliability=ReliabilityPolicy.RELIABLE)} \
        if service.depth else {}


def service(node: Node, srv: Service, callback: Callable):
    """The server of ``srv`` (its declared queue, else rclpy's default)."""
    return node.create_service(_cls(srv.srvtype), srv.name, callback, **_service_qos(srv))


def client(node: Node, srv: Service, name: str | None = None):
    """A client of ``srv`` (``name``: one node's service of a template) with the same queue as the server."""
    return node.create_client(_cls(srv.srvtype), name or srv.name, **_service_qos(srv))

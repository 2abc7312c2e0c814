"""``./warehouse replay BAG [--rate R]``: republish a bag's topics with ``/clock``.

Every topic whose message type this installation knows (a Python message package that
imports: the standard ones and ours) is republished as recorded (the CDR bytes unchanged) at
``rate`` times the recorded pace, and ``/clock`` follows the bag's recording time, so live
tools and our nodes (``use_sim_time``) consume a recorded run as if it were running. Our
topics keep their declared QoS (:mod:`warehouse_core.topics`: event streams latched as the live
graph latches them, with a recorder's history); others are reliable with a queue of 100.
Topics of unknown types are named and skipped. A bag recorded before the side channels were
typed replays them as it holds them (``std_msgs/String``). A damaged bag replays what is
readable (MCAP chunk by chunk, like ``analyze``); what was skipped is warned about and returned
in :attr:`Replayed.problems`, so that the command line can say the replay was incomplete.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rosgraph_msgs.msg import Clock

from warehouse_core import topics
from warehouse_core.analysis.bag_source import BagSource
from warehouse_core.analysis.bagio import interfaces_msg_dir
from warehouse_nodes import channels
from warehouse_nodes.channels import message_class

OTHER_TOPICS = topics.Qos(100)  # a topic not of this stack

CLOCK_PERIOD_S = 0.01  # wall seconds between /clock messages while waiting for the next message


@dataclass(frozen=True)
class ReplayOptions:
    """What to replay, how fast, and after how long a wait for subscribers."""

    bag: Path
    rate: float = 1.0
    root: Path = Path(".")
    quiet: bool = False
    delay: float = 1.0  # wall seconds between advertising the topics and the first message



@dataclass
class Replayed:
    """What a replay published per topic, and what of the bag it had to skip (empty: nothing)."""

    published: dict[str, int]
    problems: list[str] = field(default_factory=list)
    complete: bool = True


def replay(opts: ReplayOptions) -> Replayed:
    """Publish the bag; returns messages published per topic and what was skipped."""
    if not (math.isfinite(opts.rate) and opts.rate > 0):  # the command line refuses it first, naming the flag
        raise ValueError(f"replay rate {opts.rate} is not a positive finite factor")
    warn = (lambda text: None) if opts.quiet else (lambda text: print(f"warning: {text}", file=sys.stderr))
    published: dict[str, int] = {}
    with BagSource(opts.bag, [interfaces_msg_dir(opts.root)], warn) as src:
        rclpy.init(args=["--ros-args", "--log-level", "warn"])
        try:
            node = Node("bag_replay")
            clock_pub = channels.publisher(node, topics.CLOCK)
            pubs = {}
            for name, info in sorted(src.topics.items()):
                cls = message_class(info.msgtype)
                if cls is None or name == topics.CLOCK.name:
                    if name != topics.CLOCK.name:
                        warn(f"{name}: message type {info.msgtype} is not installed here; not republished")
                    continue
                declared = topics.by_name(name)
                qos = channels.recording_profile(declared) if declared else channels.profile(OTHER_TOPICS)
                pubs[name] = node.create_publisher(cls, name, qos)
                published[name] = 0
            time.sleep(max(0.0, opts.delay))  # let subscribers match (DDS discovery) before the first message
            start_ns = src.start_ns
            wall0 = time.monotonic()
            last_clock = -1.0
            for m in src.messages(set(pubs), raw=True):
                due = wall0 + (m.log_time_ns - start_ns) * 1e-9 / opts.rate
                while True:
                    now = time.monotonic()
                    bag_ns = start_ns + int((now - wall0) * opts.rate * 1e9)
                    if now - last_clock >= CLOCK_PERIOD_S or now >= due:
                        clock_pub.publish(Clock(clock=_time(min(bag_ns, m.log_time_ns))))
                        last_clock = now
                    if now >= due:
                        break
                    time.sleep(min(CLOCK_PERIOD_S, due - now))
                pubs[m.topic].publish(m.msg)
                published[m.topic] += 1
            clock_pub.publish(Clock(clock=_time(src.end_ns)))
            time.sleep(0.2)  # let the last messages leave
            node.destroy_node()
        finally:
            rclpy.try_shutdown()
        problems = src.problems()
        complete = not src.unchecked and not problems
    for text in problems:  # said even with --quiet: a replay that skipped part of the bag must not look whole
        print(f"warning: {text}", file=sys.stderr)
    return Replayed(published, problems, complete)


def _time(ns: int) -> Time:
    return Time(sec=int(ns // 10**9), nanosec=int(ns % 10**9))

"""Where a bag says the robots were, in ``map``: map pose topics, or odometry with its frame.

Robot nodes publish (REP-105) odometry in ``<robot>/odom`` on ``/<robot>/odom`` and their map pose
(``geometry_msgs/PoseWithCovarianceStamped`` in ``map``) on ``/<robot>/map_pose``; bags recorded
before that have odometry in ``map``. :class:`PoseTopics` picks, per robot, its ``map_pose`` topic
when the bag has one, else its odometry: in ``map`` as it is (told apart by the header's
``frame_id``); in another frame put into ``map`` with the latest recorded ``map -> odom``
(``/<robot>/map_to_odom``, ``geometry_msgs/TransformStamped``) or, when the bag has none (a
third-party recording of a base's odometry), as it is, said once per topic.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

ODOMETRY = "nav_msgs/msg/Odometry"
MAP_POSE = "geometry_msgs/msg/PoseWithCovarianceStamped"
TRANSFORM = "geometry_msgs/msg/TransformStamped"
MAP_FRAMES = ("map", "/map")

_HEAD = struct.Struct("<iII")
_U32 = struct.Struct("<I")
_XY = struct.Struct("<dd")


def stamped_xy(raw: bytes, child_frame: bool) -> tuple[int, str, float, float] | None:
    """``(header stamp ns, frame_id, x, y)`` straight from a little-endian CDR message that starts
    with a header and, after a ``child_frame_id`` string when ``child_frame`` (Odometry), a pose
    (PoseWithCovarianceStamped). None when the bytes are not laid out as expected (big-endian, cut
    short): the caller deserialises such a message the normal way."""
    if len(raw) < 16 or raw[1] != 1:  # encapsulation: CDR little-endian
        return None
    body = memoryview(raw)[4:]
    try:
        sec, nsec, flen = _HEAD.unpack_from(body, 0)
        if flen > 4096:
            return None
        frame = bytes(body[12:12 + max(flen - 1, 0)]).decode("utf-8", "replace")
        p = 12 + flen
        if child_frame:
            p += -p % 4
            (clen,) = _U32.unpack_from(body, p)
            if clen > 4096:
                return None
            p += 4 + clen
        p += -p % 8
        x, y = _XY.unpack_from(body, p)
    except struct.error:
        return None
    return sec * 10**9 + nsec, frame, x, y


def namespace(topic: str) -> str:
    """``/robot_3/odom`` -> ``/robot_3`` (the robot's topics share it)."""
    return topic.rsplit("/", 1)[0]


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class PoseTopics:
    """The topics that give each robot's map position, and their conversion (module docstring).

    ``topics``: name -> type of every bag topic (decodable ones); ``note``: says things once.
    """

    def __init__(self, topics: dict[str, str], note: Callable[[str], None]) -> None:
        self.note = note
        self.map_pose = {t for t, ty in topics.items() if ty == MAP_POSE and t.endswith("/map_pose")}
        with_map_pose = {namespace(t) for t in self.map_pose}
        # a base driver's own odometry (/<robot>/base/odom) is that robot's too: its map pose stands for it
        self.odometry = {t for t, ty in topics.items() if ty == ODOMETRY and namespace(t) not in with_map_pose
                         and not (t.count("/") > 2 and namespace(namespace(t)) in with_map_pose)}
        self.transforms = {t for t, ty in topics.items() if ty == TRANSFORM and t.endswith("/map_to_odom")}
        self.correction: dict[str, tuple[float, float, float]] = {}  # namespace -> latest map -> odom
        self.noted: set[str] = set()

    @property
    def topics(self) -> set[str]:
        """The position topics (map poses and odometry), one robot each."""
        return self.map_pose | self.odometry

    def msgtype(self, topic: str) -> str:
        return MAP_POSE if topic in self.map_pose else ODOMETRY

    def on_transform(self, topic: str, msg) -> None:
        """A recorded ``map -> <robot>/odom`` (deserialised TransformStamped)."""
        if msg.header.frame_id not in MAP_FRAMES:
            return
        tr = msg.transform
        self.correction[namespace(topic)] = (float(tr.translation.x), float(tr.translation.y),
                                                         _yaw(tr.rotation))

    def pose_raw(self, topic: str, raw: bytes) -> tuple[int, float, float] | None:
        """``(stamp ns, x, y)`` in map from a raw message of ``topic``; None: deserialise it instead."""
        got = stamped_xy(raw, topic in self.odometry)
        if got is None:
            return None
        stamp, frame, x, y = got
        return (stamp, *self.in_map(topic, frame, x, y))

    def pose_msg(self, topic: str, msg) -> tuple[int, float, float]:
        """``(stamp ns, x, y)`` in map from a deserialised message of ``topic``."""
        st, p = msg.header.stamp, msg.pose.pose.position
        return (int(st.sec) * 10**9 + int(st.nanosec), *self.in_map(topic, msg.header.frame_id, float(p.x), float(p.y)))

    def in_map(self, topic: str, frame: str, x: float, y: float) -> tuple[float, float]:
        if topic in self.map_pose or frame in MAP_FRAMES:
            return x, y
        c = self.correction.get(namespace(topic))
        if c is None:
            if topic not in self.noted:
                self.noted.add(topic)
                self.note(f"{topic}: odometry in frame {frame!r} and no map -> odom recorded "
                          f"(/<robot>/map_to_odom) nor a map pose topic: its positions are taken as in map")
            return x, y
        cos, sin = math.cos(c[2]), math.sin(c[2])
        return c[0] + cos * x - sin * y, c[1] + sin * x + cos * y

"""Writing bags of known content fast: for tests with ground truth and for benchmarks.

:class:`OdometryBagWriter` writes ``nav_msgs/msg/Odometry`` messages by patching the stamp and
position into one serialised template per topic (serialising millions of messages one by one
would dominate a benchmark), and any other message through the type store. Bags are written
with ``rosbags`` in MCAP or sqlite3 storage, like ``ros2 bag record`` would.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from warehouse_core.analysis.bagio import BagWriter, typestore_with

ODOMETRY = "nav_msgs/msg/Odometry"
_MARK_X, _MARK_Y, _MARK_SEC, _MARK_NSEC = 1234.56789, -9876.54321, 0x5A5A5A5A, 0x3C3C3C3C


class OdometryBagWriter:
    """A new bag at ``path`` (must not exist); close it (or use ``with``) to finish it."""

    def __init__(self, path: Path, storage: str = "mcap", msg_dirs: list[Path] | None = None) -> None:
        self.store = typestore_with(msg_dirs or [])
        self.bag = BagWriter(Path(path), self.store, storage)
        self.templates: dict[str, tuple[bytearray, int, int, int]] = {}

    def __enter__(self) -> OdometryBagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add_odometry(self, topic: str, child_frame: str = "base_link", frame: str = "map") -> None:
        T = self.store.types
        hdr = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=_MARK_SEC, nanosec=_MARK_NSEC),
                                       frame_id=frame)
        pose = T["geometry_msgs/msg/PoseWithCovariance"](
            pose=T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=_MARK_X, y=_MARK_Y, z=0.0),
                                             orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36))
        twist = T["geometry_msgs/msg/TwistWithCovariance"](
            twist=T["geometry_msgs/msg/Twist"](linear=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
                                               angular=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)),
            covariance=np.zeros(36))
        msg = T[ODOMETRY](header=hdr, child_frame_id=child_frame, pose=pose, twist=twist)
        raw = bytearray(self.store.serialize_cdr(msg, ODOMETRY))
        offs = (raw.find(struct.pack("<I", _MARK_SEC)), raw.find(struct.pack("<d", _MARK_X)),
                raw.find(struct.pack("<d", _MARK_Y)))
        if min(offs) < 0:
            raise RuntimeError("odometry template: marker not found (unexpected CDR layout)")
        self.templates[topic] = (raw, *offs)
        self.bag.add_topic(topic, ODOMETRY)

    def odometry(self, topic: str, t_ns: int, x: float, y: float, header_ns: int | None = None) -> None:
        raw, o_sec, o_x, o_y = self.templates[topic]
        h = t_ns if header_ns is None else header_ns
        struct.pack_into("<iI", raw, o_sec, h // 10**9, h % 10**9)
        struct.pack_into("<d", raw, o_x, x)
        struct.pack_into("<d", raw, o_y, y)
        self.bag.write(topic, t_ns, bytes(raw))

    def message(self, topic: str, msgtype: str, t_ns: int, msg) -> None:
        self.bag.add_topic(topic, msgtype)
        self.bag.write(topic, t_ns, self.store.serialize_cdr(msg, msgtype))

    def close(self) -> None:
        self.bag.close()

"""Reading and writing rosbag2 bags (MCAP or sqlite3) with the pure-Python ``rosbags`` library.

No ROS installation is needed: message definitions of our own interfaces are registered
from their ``.msg`` files, standard ones come with ``rosbags``' Kilted type store. A bag
written here opens in ``ros2 bag`` on a distro and in Foxglove. Its MCAP chunks carry their
CRC-32 checksums, as ``ros2 bag record`` writes them (``rosbags`` leaves them 0), so that a reader
can tell a damaged chunk from a good one.
"""

from __future__ import annotations

import os
import struct
from binascii import crc32
from pathlib import Path

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import DECOMPRESSORS, McapReader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from warehouse_core import topics
from warehouse_core.analysis.pose_topics import PoseTopics
from warehouse_core.analysis.trajectory import Track

ODOMETRY = "nav_msgs/msg/Odometry"


def interfaces_msg_dir(root: Path) -> Path:
    """Where our ``.msg`` files are: the installed share directory, else the source tree."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        d = Path(prefix) / "share" / "warehouse_interfaces" / "msg"
        if d.is_dir():
            return d
    return root / "src" / "warehouse_interfaces" / "msg"


def typestore_with(msg_dirs: list[Path]):
    """Kilted type store plus every ``<pkg>/msg/*.msg`` found in ``msg_dirs``."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for d in msg_dirs:
        pkg = d.parent.name
        for f in sorted(d.glob("*.msg")):
            types.update(get_types_from_msg(f.read_text(), f"{pkg}/msg/{f.stem}"))
    store.register(types)
    return store


class BagWriter:
    """Writes already-serialized (CDR) messages to a new bag directory."""

    def __init__(self, path: Path, typestore, storage: str = "mcap") -> None:
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.typestore = typestore
        self.path, self.storage = Path(path), storage
        self.writer = Writer(path, version=9, storage_plugin=plugin)
        self.writer.open()
        self.connections: dict[str, object] = {}

    def add_topic(self, topic: str, msgtype: str) -> None:
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msgtype,
                                                                  typestore=self.typestore)

    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        self.writer.write(self.connections[topic], stamp_ns, data)

    def close(self) -> None:
        self.writer.close()
        if self.storage == "mcap":
            for f in sorted(self.path.glob("*.mcap")):
                try:
                    add_chunk_crcs(f)
                except Exception:  # noqa: BLE001 - checksums are an extra: without them the bag is still whole
                    continue


# Chunk record: opcode (1) + length (8), then message start, end, uncompressed size (3 x 8), CRC (4).
_CHUNK_CRC_AT = 9 + 24


def add_chunk_crcs(path: Path) -> int:
    """Fill in the CRC-32 of every chunk of the MCAP file ``path`` whose checksum is 0 (not
    recorded), finding the chunks through ``rosbags``' own index reader; returns how many."""
    reader = McapReader(path)
    reader.open()
    try:
        chunks = list(reader.chunks)
    finally:
        reader.close()
    done = 0
    with open(path, "r+b") as f:
        for ch in chunks:
            f.seek(ch.chunk_start_offset + _CHUNK_CRC_AT)
            if struct.unpack("<I", f.read(4))[0]:
                continue
            f.seek(ch.chunk_start_offset + _CHUNK_CRC_AT + 4 + 4 + len(ch.compression) + 8)
            raw = DECOMPRESSORS[ch.compression](f.read(ch.compressed_size), ch.uncompressed_size)
            f.seek(ch.chunk_start_offset + _CHUNK_CRC_AT)
            f.write(struct.pack("<I", crc32(raw)))
            done += 1
    return done


def robot_name_from_topic(topic: str) -> str:
    """``/amr_7/odom`` -> ``amr_7``; a bare ``/odom`` -> ``odom``."""
    parts = [p for p in topic.split("/") if p]
    return parts[-2] if len(parts) >= 2 else (parts[0] if parts else topic)


def read_odometry_tracks(bag: Path, typestore=None) -> list[Track]:
    """One :class:`Track` per robot from the header stamps (seconds): its map pose topic, else its
    odometry (in ``map``, or put there: :mod:`warehouse_core.analysis.pose_topics`)."""
    store = typestore or get_typestore(Stores.ROS2_KILTED)
    samples: dict[str, list[tuple[float, float, float]]] = {}
    with Reader(bag) as reader:
        poses = PoseTopics({c.topic: c.msgtype for c in reader.connections}, lambda _text: None)
        conns = [c for c in reader.connections if c.topic in poses.topics | poses.transforms]
        for conn, _ts, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            if conn.topic in poses.transforms:
                poses.on_transform(conn.topic, msg)
                continue
            stamp, x, y = poses.pose_msg(conn.topic, msg)
            samples.setdefault(robot_name_from_topic(conn.topic), []).append((stamp * 1e-9, x, y))
    return [Track.from_samples(name, s) for name, s in sorted(samples.items())]


def read_fleet_state_tracks(bag: Path, typestore, topic: str = topics.SIM_FLEET_STATE.name) -> list[Track]:
    """One :class:`Track` per robot from batched FleetState messages (parallel arrays) on
    ``topic``: the floor simulator's ground truth, every tick. A robot's track ends with the
    last message that lists it (a robot towed off the floor)."""
    samples: dict[str, list[tuple[float, float, float]]] = {}
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic == topic and c.msgtype == topics.SIM_FLEET_STATE.msgtype]
        for conn, _ts, raw in reader.messages(connections=conns):
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            for name, x, y in zip(msg.robot_ids, msg.x.tolist(), msg.y.tolist(), strict=True):
                samples.setdefault(name, []).append((t, x, y))
    return [Track.from_samples(name, s) for name, s in sorted(samples.items())]

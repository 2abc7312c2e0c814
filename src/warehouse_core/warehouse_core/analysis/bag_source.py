"""Streaming access to a rosbag2 bag (MCAP or sqlite3) of any ROS 2 distro.

:class:`BagSource` opens a bag directory (or a lone ``.mcap`` / ``.db3`` file, e.g. a
recording whose ``metadata.yaml`` was never written), lists its topics and yields the
messages of chosen topics one at a time, deserialised, in recording order: memory does not
grow with the bag. Message types are resolved from the bag's own embedded definitions
first, then ROS 2 Kilted's standard types, then our ``.msg`` files; a topic whose type is
known nowhere is reported and skipped, never guessed. A message that does not deserialise
is counted and skipped. MCAP chunks are read one by one, so a chunk that does not decode
costs its own messages only; storage that breaks off ends that file's stream. An MCAP file whose
summary or footer is damaged is read front to back instead (:mod:`.mcap_linear`), with a warning. What was read is
checked against what the bag declares (:mod:`.bag_integrity`): :meth:`BagSource.problems` says
exactly what was skipped, and :attr:`BagSource.complete` is true only when every message of the
topics read that ``metadata.yaml`` lists was read and decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.interfaces import MessageDefinitionFormat
from rosbags.rosbag2 import Reader
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

from warehouse_core.analysis.bag_integrity import (
    BreakOff,
    Declared,
    ReadTally,
    mcap_chunk_messages,
    one_line,
    read_metadata,
)
from warehouse_core.analysis.mcap_linear import LinearMcapReader
from warehouse_core.errors import InputError

ODOMETRY = "nav_msgs/msg/Odometry"
HEADER_CLOCK_TOLERANCE_NS = 10 * 10**9  # header stamps this far off the bag clock are not used


@dataclass
class TopicInfo:
    """One topic of the bag: type, message count from the index, and whether it decodes."""

    name: str
    msgtype: str
    count: int
    decodable: bool = True
    decoded: int = 0
    failed: int = 0


@dataclass
class Message:
    """A deserialised message with its recording time (ns since the epoch of the bag clock)."""

    topic: str
    msgtype: str
    log_time_ns: int
    msg: object


@dataclass
class BagSource:
    """An open bag (see module docstring). Use as a context manager."""

    path: Path
    msg_dirs: list[Path] = field(default_factory=list)
    warn: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.reader: Reader | None = None
        self.topics: dict[str, TopicInfo] = {}
        self.storage = ""
        self.truncated = False
        self.declared: Declared | None = None
        self.unchecked = ""  # why completeness cannot be judged against metadata.yaml ("" when it can)
        self.tally = ReadTally()
        self.requested: set[str] = set()

    # -- opening ----------------------------------------------------------------------
    def __enter__(self) -> BagSource:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        target = self._storage_target()
        try:
            self.reader = Reader(target)
            self.reader.open()
        except Exception as exc:  # rosbags raises ReaderError, KeyError, struct errors...
            self.reader = None
            if _is_sqlite(target) or not self._open_linear(target, exc):
                raise InputError(str(target), _open_problem(target, exc), fix=_fix_for(target, exc)) from None
        self.storage = "sqlite3" if _is_sqlite(target) else "mcap"
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        ours = self._own_types()
        for conn in self.reader.connections:
            info = self.topics.get(conn.topic)
            if info is None:
                self.topics[conn.topic] = info = TopicInfo(conn.topic, conn.msgtype, 0)
            info.count += conn.msgcount
        known: dict[str, bool] = {}
        for info in self.topics.values():
            if info.msgtype not in known:
                known[info.msgtype] = self._register(info.msgtype, ours)
            info.decodable = known[info.msgtype]
        unknown = sorted(t.name for t in self.topics.values() if not t.decodable)
        if unknown:
            self.warn(f"{self.path}: {len(unknown)} topic(s) of unknown message types skipped "
                      f"(no definition in the bag or here): {', '.join(unknown[:5])}"
                      + (" ..." if len(unknown) > 5 else ""))

    def _open_linear(self, target: Path, exc: BaseException) -> bool:
        """Open the MCAP storage without its summary (:mod:`.mcap_linear`) after ``exc``; False when
        that finds no message either (the bag is refused with the first problem)."""
        reader = Reader(target)
        if target.is_file():
            reader.storage = LinearMcapReader(target)
        else:  # the directory reader's storage plugin, for this reader only
            reader.storage.STORAGE_PLUGINS = {"mcap": LinearMcapReader}
        try:
            reader.open()
        except Exception:  # noqa: BLE001 - the header itself is damaged: refused with the first problem
            return False
        parts = getattr(reader.storage, "storages", [reader.storage])
        if not any(p.metadata.message_count for p in parts):
            reader.close()
            return False
        self.reader = reader
        for part in parts:
            self.tally.chunks.extend(part.failures)
            if part.cut:
                self.tally.breaks.append(BreakOff(Path(part.path).name, part.metadata.end_time - 1, part.cut))
        names = ", ".join(Path(p.path).name for p in parts)
        self.warn(f"{names}: the MCAP summary or footer (the index at the end of the file) is damaged "
                  f"({one_line(exc)}); the data section was read record by record instead")
        return True

    @property
    def declared_end_ns(self) -> int:
        """The end of the bag by metadata.yaml, else by the storage's index."""
        return self.declared.start_ns + self.declared.duration_ns if self.declared is not None else self.end_ns

    def close(self) -> None:
        if self.reader is not None:
            try:
                self.reader.close()
            finally:
                self.reader = None

    def _storage_target(self) -> Path:
        """The bag directory, or its single storage file when ``metadata.yaml`` is missing."""
        p = self.path
        if not p.exists():
            raise InputError(str(p), "no such bag", fix="pass a rosbag2 directory (the one holding metadata.yaml)")
        if p.is_file():
            if p.suffix not in (".mcap", ".db3"):
                raise InputError(str(p), "not a bag: expected a rosbag2 directory, a .mcap or a .db3 file",
                                 fix="pass the directory `ros2 bag record` wrote")
            return p
        meta = p / "metadata.yaml"
        if meta.exists():
            self.declared, problem = read_metadata(meta)
            if self.declared is not None:
                return p
            why = f"metadata.yaml {problem}"
        else:
            why = "no metadata.yaml (recording not closed?)"
        files = sorted(p.glob("*.mcap")) + sorted(p.glob("*.db3"))
        fix = f"run `ros2 bag reindex {p}` to rebuild metadata.yaml"
        if len(files) == 1:
            self.unchecked = f"{why}: whether the recording is whole cannot be checked"
            self.warn(f"{p}: {why}; reading {files[0].name} directly, {self.unchecked.split(': ')[-1]}")
            return files[0]
        if not files:
            raise InputError(str(p), f"{why} and no .mcap/.db3 file: not a rosbag2 bag",
                             fix="pass the directory `ros2 bag record` wrote")
        raise InputError(str(p), f"{why} and {len(files)} storage files", fix=fix)

    # -- types ------------------------------------------------------------------------
    def _own_types(self) -> dict:
        types: dict = {}
        for d in self.msg_dirs:
            pkg = d.parent.name
            for f in sorted(d.glob("*.msg")):
                try:
                    types.update(get_types_from_msg(f.read_text(), f"{pkg}/msg/{f.stem}"))
                except Exception:  # a broken .msg of ours is a build problem, not the bag's
                    continue
        return types

    def _register(self, msgtype: str, ours: dict) -> bool:
        """Make ``msgtype`` known: bag definition, else standard, else ours. False if unknown."""
        conn = next(c for c in self.reader.connections if c.msgtype == msgtype)
        fmt, text = conn.msgdef.format, conn.msgdef.data
        if text and fmt in (MessageDefinitionFormat.MSG, MessageDefinitionFormat.IDL):
            try:
                types = get_types_from_msg(text, msgtype) if fmt == MessageDefinitionFormat.MSG \
                    else get_types_from_idl(text)
                fresh = {k: v for k, v in types.items() if k not in self.typestore.fielddefs}
                self.typestore.register(fresh)
            except Exception as exc:
                self.warn(f"{self.path}: the bag's definition of {msgtype} does not parse ({one_line(exc)})")
        if msgtype not in self.typestore.fielddefs and msgtype in ours:
            self.typestore.register({k: v for k, v in ours.items() if k not in self.typestore.fielddefs})
        return msgtype in self.typestore.fielddefs

    # -- reading ----------------------------------------------------------------------
    @property
    def start_ns(self) -> int:
        return int(self.reader.start_time) if self.reader and self.reader.message_count else 0

    @property
    def end_ns(self) -> int:
        return int(self.reader.end_time) if self.reader and self.reader.message_count else 0

    def topics_of_type(self, msgtype: str) -> list[str]:
        return sorted(t.name for t in self.topics.values() if t.msgtype == msgtype and t.decodable)

    def messages(self, topics: set[str], raw: bool | set[str] = False) -> Iterator[Message]:
        """Deserialised messages of ``topics`` (decodable ones), in recording order.

        With ``raw=True`` (or for the topics in a set ``raw``) the CDR bytes are passed on as
        they are (``msg`` is ``bytes``).
        """
        conns = [c for c in self.reader.connections if c.topic in topics and self.topics[c.topic].decodable]
        self.requested |= {c.topic for c in conns}
        for conn, stamp, raw_data in self._stream(conns):
            self.tally.on_message(conn.topic, int(stamp))
            info = self.topics[conn.topic]
            if raw is True or (raw and conn.topic in raw):
                info.decoded += 1
                yield Message(conn.topic, conn.msgtype, int(stamp), bytes(raw_data))
                continue
            msg = self.decode(conn.topic, conn.msgtype, raw_data)
            if msg is None:
                continue
            yield Message(conn.topic, conn.msgtype, int(stamp), msg)

    def _stream(self, conns: list) -> Iterator[tuple]:
        """``(connection, stamp, raw)`` of ``conns``, file by file, MCAP chunk by chunk: a chunk
        that does not decode, or storage that breaks off, is recorded in :attr:`tally`."""
        storage = self.reader.storage
        parts = getattr(storage, "storages", None)
        if parts is None:  # a lone storage file: its connections are the reader's
            parts, mapped = [storage], False
        elif storage.metadata.compression_mode:  # compressed files or messages: rosbags' own stream
            parts, mapped = [], False
            yield from self._guard(self.reader.messages(connections=conns), self.path.name)
        else:
            mapped = True
        wanted = {(c.topic, c.msgtype): c for c in conns}
        for part in parts:
            own = [c for c in part.connections if (c.topic, c.msgtype) in wanted]
            if not own:
                continue
            name = Path(part.path).name
            if isinstance(part, McapReader) and part.chunks:
                stream = mcap_chunk_messages(part, own, name, self.tally)
            else:
                stream = self._guard(part.messages(own), name)
            for conn, stamp, raw_data in stream:
                yield (wanted[(conn.topic, conn.msgtype)] if mapped else conn), stamp, raw_data

    def _guard(self, stream: Iterator[tuple], name: str) -> Iterator[tuple]:
        last = None
        try:
            for item in stream:
                last = int(item[1])
                yield item
        except Exception as exc:  # storage breaks off: keep what was read, say where it stopped
            self.truncated = True
            self.tally.breaks.append(BreakOff(name, last, one_line(exc)))

    @property
    def complete(self) -> bool:
        """Every declared message of the topics read was read and decoded (see module docstring)."""
        return not self.unchecked and not self.problems()

    def problems(self) -> list[str]:
        """What the pass over the topics read so far skipped, against metadata.yaml (else the
        storage's own index); empty when nothing was."""
        if self.declared is not None:
            source, counts = "metadata.yaml", self.declared.counts
            start, end = self.declared.start_ns, self.declared.start_ns + self.declared.duration_ns
        else:
            source, counts = f"the {self.storage} index", {t: i.count for t, i in self.topics.items()}
            start, end = self.start_ns, self.end_ns
        wanted = {t: n for t, n in counts.items() if t in self.requested}
        undecodable = {t: self.topics[t].failed for t in self.requested}
        found = self.tally.problems(wanted, source, start, end, undecodable)
        if self.tally.chunks:
            self.truncated = True
        return found

    def decode(self, topic: str, msgtype: str, raw_data: bytes):
        """Deserialise one message; None (counted, warned once per topic) when it does not."""
        info = self.topics[topic]
        try:
            msg = self.typestore.deserialize_cdr(raw_data, msgtype)
        except Exception as exc:
            info.failed += 1
            if info.failed == 1:
                self.warn(f"{self.path}: topic {topic} ({msgtype}): a message does not "
                          f"deserialise ({one_line(exc)}); such messages are skipped and counted")
            return None
        info.decoded += 1
        return msg


def odometry_pose(raw: bytes) -> tuple[int, float, float] | None:
    """``(header stamp ns, x, y)`` straight from a little-endian CDR ``nav_msgs/msg/Odometry``.

    Reading three fields at their computed offsets is much faster than deserialising the whole
    message (two 36-element covariances). None when the bytes are not laid out as expected
    (big-endian, cut short): the caller deserialises such a message the normal way.
    """
    if len(raw) < 16 or raw[1] != 1:  # encapsulation: CDR little-endian
        return None
    body = memoryview(raw)[4:]
    try:
        sec, nsec, flen = _HEAD.unpack_from(body, 0)
        p = 12 + flen
        p += -p % 4
        (clen,) = _U32.unpack_from(body, p)
        p += 4 + clen
        p += -p % 8
        x, y = _XY.unpack_from(body, p)
    except struct.error:
        return None
    if flen > 4096 or clen > 4096:
        return None
    return sec * 10**9 + nsec, x, y


_HEAD = struct.Struct("<iII")
_U32 = struct.Struct("<I")
_XY = struct.Struct("<dd")


def stamp_ns(msg: object) -> int:
    """``header.stamp`` of a message in ns (0 when it has none)."""
    header = getattr(msg, "header", None)
    st = getattr(header, "stamp", None)
    return int(st.sec) * 10**9 + int(st.nanosec) if st is not None else 0


class StampChooser:
    """Message time: the header stamp when it is on the bag clock, else the recording time.

    Odometry of a simulation recorded on sim time, or of robots with synchronised clocks, has
    header stamps on the bag clock; a driver that leaves stamps at zero, or stamps on another
    clock, does not: such messages take their recording time. A stamp is on the bag clock when it
    lies within :data:`HEADER_CLOCK_TOLERANCE_NS` of its recording time, or between the bag's start
    (``start_ns``) and its recording time: a recorder that falls behind records messages late, and
    their stamps still tell when they happened (the recording time would put them out of order).
    :meth:`report` warns once per odometry topic where the recording time was used.
    """

    def __init__(self, warn: Callable[[str], None], start_ns: int | None = None) -> None:
        self.warn = warn
        self.start_ns = start_ns
        self.fallbacks: dict[str, int] = {}

    def __call__(self, m: Message, header: int | None = None) -> int:
        header = stamp_ns(m.msg) if header is None else header
        if abs(header - m.log_time_ns) <= HEADER_CLOCK_TOLERANCE_NS:  # zero is fine on a sim clock near 0
            return header
        if self.start_ns is not None and self.start_ns - HEADER_CLOCK_TOLERANCE_NS <= header <= m.log_time_ns:
            return header  # recorded late
        self.fallbacks[m.topic] = self.fallbacks.get(m.topic, 0) + 1
        return m.log_time_ns

    def report(self, topics: set[str]) -> None:
        for topic in sorted(topics & set(self.fallbacks)):
            self.warn(f"{topic}: {self.fallbacks[topic]} message(s) with header stamps zero or more than "
                      f"{HEADER_CLOCK_TOLERANCE_NS // 10**9} s off the bag clock; their recording time was used")


def _is_sqlite(target: Path) -> bool:
    if target.is_file():
        return target.suffix == ".db3"
    return any(target.glob("*.db3"))


def _open_problem(target: Path, exc: BaseException) -> str:
    """Which part of the bag does not open, in words, with the reader's own message."""
    text = one_line(exc)
    if "end magic" in text or "footer" in text:
        what = "the end of the MCAP file (footer) is missing or corrupt: a truncated recording or a damaged end"
    elif "magic" in text or "Profile" in text or "Unexpected record" in text:
        what = "the start of the MCAP file (header) is corrupt"
    elif "database" in text or "apsw" in text or "sqlite" in text.lower():
        what = "the sqlite3 storage file does not open (damaged or not a database)"
    elif _is_sqlite(target):
        what = "the sqlite3 storage file does not open"
    else:
        what = "the MCAP index (summary at the end of the file) is corrupt"
    return f"not a readable rosbag2 bag: {what} ({text})"


def _fix_for(target: Path, exc: BaseException) -> str:
    if not _is_sqlite(target):
        return ("recover the readable chunks with `mcap recover IN.mcap -o OUT.mcap` (mcap CLI), then "
                "`ros2 bag reindex` the directory")
    return (f"the storage itself is damaged: try `sqlite3 FILE.db3 .recover` into a new file, then "
            f"`ros2 bag reindex {target}`")


__all__ = ["ODOMETRY", "BagSource", "Message", "StampChooser", "TopicInfo", "stamp_ns"]

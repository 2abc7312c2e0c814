"""Whether a bag was read whole: what it declares against what could be read.

A rosbag2 bag declares its content twice: ``metadata.yaml`` (per topic ``message_count``, the
bag's ``starting_time`` and ``duration``) and the storage's own index (the MCAP summary: chunk
index and statistics; the sqlite3 tables). :func:`read_metadata` checks ``metadata.yaml`` field
by field, so that an unreadable one is named as such (and the storage can still be read on its
own). :class:`ReadTally` follows one streaming pass: per topic the messages read, every MCAP
chunk that did not decode (its place, time span and message count from the index), and where
storage broke off. :meth:`ReadTally.problems` turns the difference into sentences that say
exactly what was skipped; no problem means every declared message was read.

MCAP chunks are read one by one with ``rosbags``' own chunk reader, each guarded on its own
(:func:`mcap_chunk_messages`), so that one bad chunk costs its own messages only; a chunk whose
checksum is recorded (``ros2 bag record``, and our :class:`~warehouse_core.analysis.bagio.BagWriter`)
fails as a whole when any byte of it changed. sqlite3 storage has no checksums: a changed byte
inside a message's payload is found only when the message no longer deserialises.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rosbags.rosbag2.storage_mcap import McapReader, msgsrc

STORAGES = ("mcap", "sqlite3")


@dataclass
class Declared:
    """What ``metadata.yaml`` says the bag holds (times in ns on the bag clock)."""

    counts: dict[str, int]
    start_ns: int
    duration_ns: int
    total: int
    storage: str


def read_metadata(path: Path) -> tuple[Declared | None, str]:
    """``metadata.yaml`` at ``path`` as :class:`Declared`, or None and the precise problem."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({type(exc).__name__}: {exc})"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return None, f"is not valid YAML{where} ({getattr(exc, 'problem', None) or 'syntax error'})"
    info = doc.get("rosbag2_bagfile_information") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        return None, "has no rosbag2_bagfile_information mapping"
    try:
        counts: dict[str, int] = {}
        for entry in info["topics_with_message_count"]:
            name = entry["topic_metadata"]["name"]
            if not isinstance(name, str) or not isinstance(entry["topic_metadata"]["type"], str):
                raise ValueError("a topic name or type is not a string")
            counts[name] = counts.get(name, 0) + _count(entry["message_count"], f"message_count of {name}")
        declared = Declared(counts, _count(info["starting_time"]["nanoseconds_since_epoch"], "starting_time"),
                            _count(info["duration"]["nanoseconds"], "duration"),
                            _count(info["message_count"], "message_count"), str(info["storage_identifier"]))
        version = info["version"]
        files = info["relative_file_paths"]
    except KeyError as exc:
        return None, f"lacks the key {exc.args[0]!r}"
    except (TypeError, ValueError, AttributeError) as exc:
        return None, f"has an invalid field ({exc})"
    if not isinstance(version, int) or not 1 <= version <= 9:
        return None, f"has version {version!r} (1 to 9 are known)"
    if declared.storage not in STORAGES:
        return None, f"names storage {declared.storage!r} (mcap or sqlite3 are known)"
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        return None, "relative_file_paths is not a list of file names"
    missing = [f for f in files if not (path.parent / Path(f).name).is_file()]
    if missing:
        return None, f"lists storage file(s) that do not exist: {', '.join(missing[:3])}"
    return declared, ""


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is {value!r}, not a count")
    return value


@dataclass
class ChunkFailure:
    """An MCAP chunk that did not decode: where it is, what it held by the index, and why."""

    file: str
    index: int
    of: int
    offset: int
    start_ns: int
    end_ns: int
    messages: int  # -1: not known (no index)
    error: str


@dataclass
class BreakOff:
    """Storage that stopped answering: after which message time, and why."""

    file: str
    after_ns: int | None
    error: str


@dataclass
class ReadTally:
    """Messages read per topic, failed chunks and break-offs of one streaming pass."""

    read: dict[str, int] = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None
    chunks: list[ChunkFailure] = field(default_factory=list)
    breaks: list[BreakOff] = field(default_factory=list)

    def on_message(self, topic: str, t_ns: int) -> None:
        self.read[topic] = self.read.get(topic, 0) + 1
        if self.first_ns is None or t_ns < self.first_ns:
            self.first_ns = t_ns
        if self.last_ns is None or t_ns > self.last_ns:
            self.last_ns = t_ns

    def problems(self, declared: dict[str, int], source: str, start_ns: int, end_ns: int,
                 undecodable: dict[str, int]) -> list[str]:
        """What was not read (or not decoded) of ``declared`` (topic -> count by ``source``); the
        times are seconds since ``start_ns``, the declared span ending at ``end_ns``."""
        rel = _Rel(start_ns)
        out = [f"{c.file}: chunk {c.index + 1} of {c.of} (file offset {c.offset}, bag time {rel(c.start_ns)}-"
               f"{rel(c.end_ns)} s, " + (f"{c.messages} messages of the topics read by the index"
                                        if c.messages >= 0 else "its message count unknown without the summary")
               + f") does not decode ({c.error}); its messages are skipped" for c in self.chunks]
        for b in self.breaks:
            after = "before its first message" if b.after_ns is None else f"after bag time {rel(b.after_ns)} s"
            out.append(f"{b.file}: the storage breaks off {after} ({b.error}); the rest up to "
                       f"{rel(end_ns)} s is unread")
        for topic in sorted(declared):
            want, got = declared[topic], self.read.get(topic, 0)
            if got != want:
                out.append(f"{topic}: {got} of the {want} messages {source} lists were read"
                           + (" (more than listed: the bag and its metadata disagree)" if got > want else ""))
        for topic, n in sorted(undecodable.items()):
            if n:
                out.append(f"{topic}: {n} message(s) do not deserialise and are skipped")
        short = any(self.read.get(t, 0) < n for t, n in declared.items())
        if short and self.first_ns is not None:
            out.append(f"the messages read span bag time {rel(self.first_ns)}-{rel(self.last_ns)} s "
                       f"of the {rel(start_ns)}-{rel(end_ns)} s {source} declares")
        return out


class _Rel:
    """Seconds since the bag start, to 0.1 s, as text."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns

    def __call__(self, t_ns: int | None) -> str:
        return "?" if t_ns is None else f"{(t_ns - self.start_ns) * 1e-9:.1f}"


def mcap_chunk_messages(storage: McapReader, conns: list, name: str, tally: ReadTally) -> Iterator[tuple]:
    """``(connection, log time ns, raw bytes)`` of ``conns`` from an indexed MCAP, in time order,
    every chunk read and guarded on its own: a chunk that fails is recorded in ``tally``."""
    cmap = {c.id: c for c in conns}
    chunks = storage.chunks
    guarded = [_guarded(msgsrc(ch, cmap, ch.message_start_time, ch.message_end_time + 1, storage.bio),
                        ChunkFailure(name, i, len(chunks), ch.chunk_start_offset, ch.message_start_time,
                                     ch.message_end_time, sum(ch.channel_count.get(cid, 0) for cid in cmap), ""),
                        tally)
               for i, ch in enumerate(chunks) if any(ch.channel_count.get(cid, 0) for cid in cmap)]
    for t_ns, offset, conn, data in heapq.merge(*guarded):
        if offset:  # offset 0: the chunk's start marker, not a message
            yield conn, t_ns, data


def _guarded(source: Iterator, failure: ChunkFailure, tally: ReadTally) -> Iterator:
    try:
        yield from source
    except Exception as exc:  # any decode error of this chunk (ReaderError, struct, zstd...)
        failure.error = one_line(exc)
        tally.chunks.append(failure)


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


__all__ = ["BreakOff", "ChunkFailure", "Declared", "ReadTally", "mcap_chunk_messages", "one_line", "read_metadata"]

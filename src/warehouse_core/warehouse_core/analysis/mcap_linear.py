"""Reading an MCAP file front to back when its summary (the index at the end) is damaged.

An MCAP file keeps its messages in chunks in the data section; the summary after it (chunk index,
channels, statistics) and the footer pointing at it only make reading faster. When they are
damaged or missing, :class:`LinearMcapReader` (a drop-in ``rosbags`` storage) walks the data
section record by record from the header: schemas and channels are taken where they are written,
every chunk is decompressed (its CRC checked when recorded) and counted, and a chunk that does not
decode is recorded as a :class:`~.bag_integrity.ChunkFailure` with what its own header says (file
offset, time span); its messages cannot be counted without the index. The walk stops at the data
end record, or where a record runs past the end of the file (:attr:`LinearMcapReader.cut`).

The records are parsed by the ``mcap`` library (:class:`mcap.stream_reader.StreamReader` for the
magic, the header and each record, :func:`mcap.stream_reader.breakup_chunk` for a chunk's
decompression, CRC check and contents). Only the walk itself, the 9-byte frame (opcode, length)
at the start of each record, is read here, because the library's stream reader cannot do what a
damaged file needs: it is a generator that ends for good at the first error (no way to go on
after a bad chunk), it reads a record's fields from the file without bounding them by the
record's length (a damaged length inside a chunk header would misalign every record after it),
and it does not say where a record starts (the file offset a skipped chunk is named by). Each
record is therefore cut out by its frame first and handed to the library whole.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Collection, Iterator
from io import BytesIO

from mcap.data_stream import ReadDataStream
from mcap.exceptions import McapError
from mcap.opcode import Opcode
from mcap.records import Channel as McapChannel
from mcap.records import Chunk, Header, McapRecord, Message
from mcap.records import Schema as McapSchema
from mcap.stream_reader import StreamReader, breakup_chunk
from rosbags.interfaces import Connection, ConnectionExtRosbag2
from rosbags.rosbag2.errors import ReaderError
from rosbags.rosbag2.metadata import parse_qos
from rosbags.rosbag2.storage_mcap import Channel, McapReader, Schema, Statistics, get_msgdef

from warehouse_core.analysis.bag_integrity import ChunkFailure, one_line

_FRAME = struct.Struct("<BQ")  # what every MCAP record starts with: opcode, length of the rest
_PARSED = (Opcode.SCHEMA, Opcode.CHANNEL, Opcode.MESSAGE, Opcode.CHUNK)  # the others are skipped
_NOT_PARSED = (ReaderError, McapError, struct.error, UnicodeDecodeError, ValueError, KeyError)


class LinearMcapReader(McapReader):
    """A ``rosbags`` MCAP storage that ignores the summary (see module docstring)."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.failures: list[ChunkFailure] = []
        self.cut = ""  # why the walk stopped before the data end record ("" when it did not)
        self._records: list[int] = []  # file offsets of the readable chunk and message records

    def _open(self) -> None:
        bio = self.bio
        header = next(StreamReader(bio, emit_chunks=True).records)  # checks the magic first
        if not isinstance(header, Header) or header.profile != "ros2":
            raise ReaderError("Unexpected record or profile at the start.")
        self.data_start = bio.tell()
        size = bio.seek(0, 2)
        counts: dict[int, int] = defaultdict(int)
        times: list[int] = []
        pos, nchunks = self.data_start, 0
        while pos + _FRAME.size <= size:
            bio.seek(pos)
            frame = bio.read(_FRAME.size)
            op, length = _FRAME.unpack(frame)
            if op in (Opcode.DATA_END, Opcode.FOOTER):
                break
            if pos + _FRAME.size + length > size:
                self.cut = f"a record at file offset {pos} runs past the end of the file"
                break
            if op in _PARSED:
                raw = frame + bio.read(length)
                try:
                    if op == Opcode.CHUNK:
                        nchunks += 1
                        self._chunk(pos, raw, nchunks - 1, counts, times)
                    else:
                        self._take(_record(raw), counts, times)
                        if op == Opcode.MESSAGE:
                            self._records.append(pos)
                except _NOT_PARSED as exc:
                    self.cut = f"the record at file offset {pos} does not parse ({one_line(exc)})"
                    break
            pos += _FRAME.size + length
        self.data_end = pos
        for f in self.failures:
            f.of = nchunks
        total = sum(counts.values())
        self.statistics = Statistics(total, len(self.schemas), len(self.channels), 0, 0, nchunks,
                                     min(times, default=0), max(times, default=0), dict(counts))
        self.connections = [c._replace(msgcount=counts.get(c.id, 0)) for c in self.connections]
        self.metadata = self.metadata._replace(duration=max(times) - min(times) + 1 if total else 0,
                                               start_time=min(times) if total else 2**63 - 1,
                                               end_time=max(times) + 1 if total else 0, message_count=total)

    def _chunk(self, pos: int, raw: bytes, index: int, counts: dict[int, int], times: list[int]) -> None:
        try:
            for rec in breakup_chunk(_record(raw), validate_crc=True):  # a list: the whole chunk before counting
                self._take(rec, counts, times)
        except Exception as exc:  # noqa: BLE001 - any decode error of this chunk costs its messages only
            start, end = _chunk_span(raw)
            self.failures.append(ChunkFailure(self.path.name, index, 0, pos, start, end, -1, one_line(exc)))
            return
        self._records.append(pos)

    def _take(self, rec: McapRecord, counts: dict[int, int], times: list[int]) -> None:
        """Keep a schema or channel as ``rosbags`` does; count a message."""
        if isinstance(rec, McapSchema):
            self.schemas[rec.id] = Schema(rec.id, rec.name, rec.encoding, rec.data.decode())
        elif isinstance(rec, McapChannel):
            schema = self.schemas.get(rec.schema_id)
            name = schema.name if schema else "__schemaless__"
            if rec.id not in self.channels:
                qos = rec.metadata.get("offered_qos_profiles")
                self.connections.append(Connection(rec.id, rec.topic, name, get_msgdef(schema), "", 0,
                                                   ConnectionExtRosbag2(rec.message_encoding,
                                                                        parse_qos(qos) if qos else []),
                                                   self))
            # the metadata map (the QoS) is read above; rosbags' own readers, which would parse its
            # raw bytes again, are not used by this storage
            self.channels[rec.id] = Channel(rec.id, name, rec.topic, rec.message_encoding, b"")
        elif isinstance(rec, Message):
            counts[rec.channel_id] += 1
            if not times:
                times.extend((rec.log_time, rec.log_time))
            times[0], times[1] = min(times[0], rec.log_time), max(times[1], rec.log_time)

    def messages(self, connections: Collection[Connection], start: int | None = None,
                 stop: int | None = None) -> Iterator[tuple[Connection, int, bytes]]:
        """Messages of ``connections`` chunk by chunk (each in time order) as the walk found them."""
        cmap = {c.id: c for c in connections}
        lo, hi = (0 if start is None else start), (2**63 if stop is None else stop)
        for pos in self._records:
            self.bio.seek(pos)
            frame = self.bio.read(_FRAME.size)
            rec = _record(frame + self.bio.read(_FRAME.unpack(frame)[1]))
            found = [(m.log_time, m.channel_id, m.data)
                     for m in (breakup_chunk(rec, validate_crc=True) if isinstance(rec, Chunk) else [rec])
                     if isinstance(m, Message) and m.channel_id in cmap and lo <= m.log_time < hi]
            for log_time, cid, data in sorted(found, key=lambda m: m[0]):
                yield cmap[cid], log_time, data


def _record(raw: bytes) -> McapRecord:
    """The record framed by ``raw`` (its opcode, length and body), parsed by the ``mcap`` library."""
    rec = next(iter(StreamReader(BytesIO(raw), skip_magic=True, emit_chunks=True).records), None)
    if rec is None:
        raise ReaderError("Record does not parse.")
    return rec


def _chunk_span(raw: bytes) -> tuple[int, int]:
    """The message time span a chunk record's first two fields give, also when the rest of it does
    not parse; ``(0, 0)`` when even they are cut short."""
    head = ReadDataStream(BytesIO(raw[_FRAME.size:]))
    try:
        return head.read8(), head.read8()
    except (McapError, struct.error):
        return 0, 0


__all__ = ["LinearMcapReader"]

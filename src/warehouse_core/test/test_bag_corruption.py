"""Damaged bags are refused or analysed with warnings that say exactly what was skipped.

Bags of four robots, 60 s at 10 Hz (601 odometry messages each; an MCAP of two 1 MB chunks),
written with ``rosbags`` in both storages, are damaged at the start, in the middle, at the end
and in ``metadata.yaml``. Each damage gives either an :class:`InputError` (the CLI's exit 2,
one line naming the bag) or results with ``complete: false`` and warnings giving the skipped
chunk, its time span and the messages read against the metadata's count. An MCAP file whose
summary or footer is damaged is read front to back. Values no robot can have (a payload changed
in place that still deserialises, a position 1e6 m away) are excluded from the metrics and named.
A seeded fuzzer overwrites random bytes at random offsets and judges every outcome against the
undamaged bag.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader
from rosbags.rosbag2.storage_mcap import McapReader

from warehouse_core.analysis.analyze import AnalyzeOptions, analyze_bag
from warehouse_core.analysis.fleet_record import FleetRecord, MapImage
from warehouse_core.analysis.plausibility import OUT_OF_ORDER, SPIKE, PlausibilityScreen
from warehouse_core.analysis.synthetic_bag import OdometryBagWriter
from warehouse_core.errors import InputError

T0 = 1_700_000_000 * 10**9
HZ, SECONDS = 10, 60.0
PER_ROBOT = int(SECONDS * HZ) + 1
TOPICS = [f"/amr_{r}/odom" for r in range(1, 5)]


def write_bag(path: Path, storage: str, absurd: tuple[int, float] | None = None) -> None:
    """Robot r drives along y = 2 r at 0.5 m/s; ``absurd = (k, x)``: amr_1's sample k is at x."""
    with OdometryBagWriter(path, storage) as w:
        for topic in TOPICS:
            w.add_odometry(topic)
        for k in range(PER_ROBOT):
            for r, topic in enumerate(TOPICS):
                x = absurd[1] if absurd is not None and (r, k) == (0, absurd[0]) else 0.5 * k / HZ
                w.odometry(topic, T0 + k * 10**9 // HZ, x, 2.0 * r)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clean")
    bags = {}
    for storage in ("mcap", "sqlite3"):
        write_bag(root / storage, storage)
        bags[storage] = root / storage
    return bags


def copy(clean: dict[str, Path], storage: str, dst: Path) -> tuple[Path, Path]:
    shutil.copytree(clean[storage], dst)
    (f,) = [p for p in dst.iterdir() if p.suffix in (".mcap", ".db3")]
    return dst, f


def analyse(bag: Path, out: Path) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    a = analyze_bag(AnalyzeOptions(bag, out, progress=False, plots=False), warnings.append)
    return a, warnings


def chunks_of(f: Path) -> list:
    r = McapReader(f)
    r.open()
    try:
        return list(r.chunks)
    finally:
        r.close()


def overwrite(f: Path, offset: int, data: bytes) -> None:
    raw = bytearray(f.read_bytes())
    raw[offset:offset + len(data)] = data
    f.write_bytes(bytes(raw))


def test_clean_bags_are_complete(clean, tmp_path):
    for storage, bag in clean.items():
        a, warnings = analyse(bag, tmp_path / storage)
        assert a["complete"] is True and warnings == [] and a["messages_read"] == 4 * PER_ROBOT


@pytest.mark.parametrize("which", [0, 1])
def test_mcap_damaged_chunk_is_named_with_its_span_and_counts(clean, tmp_path, which):
    """Chunk 1 is the start of the data, chunk 2 its end; 100 bytes in the middle of one."""
    bag, f = copy(clean, "mcap", tmp_path / "bag")
    chunks = chunks_of(f)
    assert len(chunks) == 2
    ch = chunks[which]
    overwrite(f, ch.chunk_start_offset + ch.chunk_length // 2, b"\xa5" * 100)
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False and a["truncated"] is True
    rel = [(c.message_start_time - T0) * 1e-9 for c in chunks] + [SECONDS]
    lost = {cid: n for cid, n in ch.channel_count.items()}
    assert warnings[0] == (f"{f.name}: chunk {which + 1} of 2 (file offset {ch.chunk_start_offset}, bag time "
                           f"{(ch.message_start_time - T0) * 1e-9:.1f}-{(ch.message_end_time - T0) * 1e-9:.1f} s, "
                           f"{sum(lost.values())} messages of the topics read by the index) does not decode "
                           "(ReaderError: Chunk checksum mismatch.); its messages are skipped")
    robots = {r["name"]: r for r in a["robots"]}
    for topic in TOPICS:
        read = robots[topic.split("/")[1]]["samples"]
        assert read < PER_ROBOT
        assert f"{topic}: {read} of the {PER_ROBOT} messages metadata.yaml lists were read" in warnings
    assert sum(r["samples"] for r in a["robots"]) == 4 * PER_ROBOT - sum(lost.values())
    span = (f"{rel[1]:.1f}-{SECONDS:.1f}" if which == 0 else f"0.0-{(chunks[0].message_end_time - T0) * 1e-9:.1f}")
    assert warnings[-1] == f"the messages read span bag time {span} s of the 0.0-60.0 s metadata.yaml declares"


@pytest.mark.parametrize("storage, where", [("mcap", "start"), ("sqlite3", "start"), ("sqlite3", "end")])
def test_damaged_file_start_or_end_is_refused_naming_the_part(clean, tmp_path, storage, where):
    bag, f = copy(clean, storage, tmp_path / "bag")
    n = 4096 if storage == "sqlite3" else 40  # sqlite3: the last page (the last 40 bytes are free space)
    overwrite(f, 0 if where == "start" else f.stat().st_size - n, b"\xff" * n)
    with pytest.raises(InputError) as err:
        analyse(bag, tmp_path / "out")
    text = str(err.value)
    assert text.startswith(f"{bag}: not a readable rosbag2 bag: ") and "\n" not in text and "(fix: " in text
    part = {("mcap", "start"): "the start of the MCAP file (header) is corrupt",
            ("mcap", "end"): "the end of the MCAP file (footer) is missing or corrupt",
            ("sqlite3", "start"): "the sqlite3 storage file does not open",
            ("sqlite3", "end"): "the sqlite3 storage file does not open"}[(storage, where)]
    assert part in text


def test_sqlite_damaged_in_the_middle_is_refused(clean, tmp_path):
    bag, f = copy(clean, "sqlite3", tmp_path / "bag")
    overwrite(f, f.stat().st_size // 2 // 4096 * 4096, b"\xff" * 4096)  # one whole page
    with pytest.raises(InputError, match=r"the sqlite3 storage file does not open .*malformed"):
        analyse(bag, tmp_path / "out")


def test_sqlite_message_that_no_longer_deserialises_is_counted(clean, tmp_path):
    """sqlite3 has no checksums: a damaged payload shows only when it no longer deserialises."""
    bag, f = copy(clean, "sqlite3", tmp_path / "bag")
    t = T0 + 30 * 10**9  # amr_1's message at 30 s: its header stamp, then frame_id's length
    stamp = struct.pack("<iI", t // 10**9, t % 10**9)
    raw = f.read_bytes()
    at = raw.index(stamp)
    overwrite(f, at + 8, struct.pack("<I", 0xFFFFFFF0))
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False
    damaged = [w for w in warnings if "do not deserialise and are skipped" in w]
    assert len(damaged) == 1 and damaged[0].endswith(": 1 message(s) do not deserialise and are skipped")
    assert sum(r["samples"] for r in a["robots"]) == 4 * PER_ROBOT - 1


# -- values that deserialise but no robot can have --------------------------------------------
def robots_of(a: dict) -> dict[str, dict]:
    return {r["name"]: r for r in a["robots"]}


def excluded(reason: str, at: str) -> str:
    return f"/amr_1/odom: 1 message(s) excluded from the metrics (bag time {at} s): {reason}"


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_position_1e6_m_away_is_excluded_and_named(tmp_path, storage):
    write_bag(tmp_path / "bag", storage, absurd=(300, 1e6))
    a, warnings = analyse(tmp_path / "bag", tmp_path / "out")
    assert a["complete"] is False
    assert warnings == [excluded(SPIKE, "30.0")]
    robots = robots_of(a)
    assert robots["amr_1"]["samples"] == PER_ROBOT - 1  # the straight line without one point: still 30 m
    for r in robots.values():
        assert r["distance_m"] == pytest.approx(0.5 * SECONDS) and r["mean_speed_mps"] == pytest.approx(0.5)
    assert a["close_encounters"] == []


@pytest.mark.parametrize("field, reason, at", [("x", SPIKE, "30.0"), ("stamp", OUT_OF_ORDER, "36.0")])
def test_sqlite_payload_changed_in_place_that_still_deserialises_is_excluded(clean, tmp_path, field, reason, at):
    """amr_1's message at 30 s (x = 15 m): the high byte of x flipped (15 m -> about 1e305 m), or
    its header stamp moved 6 s ahead (within the bag, out of the robot's order)."""
    bag, f = copy(clean, "sqlite3", tmp_path / "bag")
    t = T0 + 30 * 10**9
    raw = f.read_bytes()
    at_x = raw.index(struct.pack("<dd", 15.0, 0.0))  # amr_1 drives along y = 0
    at_stamp = raw.rindex(struct.pack("<iI", t // 10**9, t % 10**9), 0, at_x)
    if field == "x":
        overwrite(f, at_x + 7, bytes([raw[at_x + 7] ^ 0x3F]))
    else:
        overwrite(f, at_stamp, struct.pack("<i", t // 10**9 + 6))
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False and a["messages_read"] == 4 * PER_ROBOT  # every message read ...
    assert warnings == [excluded(reason, at)]  # ... one left out of the metrics, named
    robots = robots_of(a)
    assert robots["amr_1"]["samples"] == PER_ROBOT - 1
    assert robots["amr_1"]["distance_m"] == pytest.approx(0.5 * SECONDS)
    assert robots["amr_1"]["idle_fraction"] == 0.0  # no backwards step or standstill invented


def test_rare_robot_ids_positions_off_the_map_and_times_off_the_bag_are_excluded():
    """Batched ground truth: one message lists a damaged id, one a position 1e4 m off a 10 m map;
    an odometry message 1e6 s after the 60 s bag."""
    warnings: list[str] = []
    rec = FleetRecord(T0, warnings.append, T0 + 60 * 10**9)
    for k in range(60):
        names = ["robot_0", "robXt_1" if k == 20 else "robot_1"]
        rec.on_batch("/sim/fleet_state", T0 + k * 10**9, names, [1e4 if k == 40 else 1.0, 2.0], [1.0, 2.0])
    rec.on_pose("/amr_9/odom", T0 + 10**15, 1.0, 1.0)
    rec.map = MapImage(np.zeros((10, 10)), (0.0, 10.0, 0.0, 10.0), "/map")
    tracks = {tr.name: tr for tr in rec.tracks()}
    rec.finish(60.0)
    assert sorted(tracks) == ["robot_0", "robot_1"] and rec.excluded
    assert len(tracks["robot_0"].t) == 59 and len(tracks["robot_1"].t) == 59
    assert sorted(warnings) == [
        "/amr_9/odom: 1 message(s) excluded from the metrics (bag time 1000000.0 s): time outside the bag's span",
        "/sim/fleet_state/robXt_1: 1 message(s) excluded from the metrics (bag time 20.0 s): robot id 'robXt_1' "
        "listed in only 1 of 60 messages: not a robot of the fleet",
        "/sim/fleet_state/robot_0: 1 message(s) excluded from the metrics (bag time 40.0 s): position more than "
        "10 m outside the map (/map)"]


def test_a_jump_the_robot_stays_at_is_kept_and_said():
    screen = PlausibilityScreen(10.0)
    t = np.arange(10.0)
    x = np.where(t < 5, 0.0, 1000.0)
    keep = screen.screen("/amr_1/odom", t, x, np.zeros(10))
    assert keep.all() and not screen.excluded
    assert screen.warnings() == ["/amr_1/odom: a jump of 1000.0 m in 1.0 s at bag time 5.0 s (faster than 50 m/s) "
                                 "is kept: the robot stayed where it jumped to"]


# -- MCAP summary or footer damaged -------------------------------------------------------------
def summary_start(f: Path) -> int:
    raw = f.read_bytes()
    return struct.unpack_from("<Q", raw, len(raw) - 37 + 9)[0]


@pytest.mark.parametrize("damage", ["footer", "summary offset", "summary"])
def test_mcap_damaged_summary_reads_the_intact_chunks(clean, tmp_path, damage):
    bag, f = copy(clean, "mcap", tmp_path / "bag")
    size, start = f.stat().st_size, summary_start(f)
    if damage == "footer":
        overwrite(f, size - 40, b"\xff" * 40)
    elif damage == "summary offset":
        overwrite(f, size - 37 + 9, struct.pack("<Q", size * 3))
    else:
        overwrite(f, start, b"\xa5" * 200)
    want, _ = analyse(clean["mcap"], tmp_path / "clean")
    a, warnings = analyse(bag, tmp_path / "out")
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{f.name}: the MCAP summary or footer (the index at the end of the file) is "
                                  "damaged (")  # then the reader's own error
    assert warnings[0].endswith("); the data section was read record by record instead")
    assert a["complete"] is True  # every message metadata.yaml lists was found in the chunks
    assert _key(a) == _key(want)


def test_mcap_damaged_summary_and_chunk_reads_the_other_chunk(clean, tmp_path):
    bag, f = copy(clean, "mcap", tmp_path / "bag")
    ch = chunks_of(f)[1]
    overwrite(f, ch.chunk_start_offset + ch.chunk_length // 2, b"\xa5" * 100)
    overwrite(f, f.stat().st_size - 40, b"\xff" * 40)
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False and a["truncated"] is True
    assert "the data section was read record by record instead" in warnings[0]
    assert re.fullmatch(re.escape(f"{f.name}: chunk 2 of 2 (file offset {ch.chunk_start_offset}, bag time "
                                  f"{(ch.message_start_time - T0) * 1e-9:.1f}-"
                                  f"{(ch.message_end_time - T0) * 1e-9:.1f} s, its message count unknown without "
                                  "the summary) does not decode (CRCValidationError: crc validation failed in "
                                  "Chunk, expected: ") + r"\d+, calculated: \d+\); its messages are skipped",
                        warnings[1]), warnings[1]  # the mcap library's error gives both checksums
    assert sum(r["samples"] for r in a["robots"]) == 4 * PER_ROBOT - sum(ch.channel_count.values())
    for topic in TOPICS:
        read = robots_of(a)[topic.split("/")[1]]["samples"]
        assert f"{topic}: {read} of the {PER_ROBOT} messages metadata.yaml lists were read" in warnings


def test_mcap_damaged_summary_and_chunk_header_skips_that_chunk_only(clean, tmp_path):
    """Chunk 2's compression name length (after opcode, length, span, size and CRC) made huge: the
    chunk does not parse, yet its span is named from its header and the walk goes on by the
    record's own length to the end of the data (no break-off)."""
    bag, f = copy(clean, "mcap", tmp_path / "bag")
    first, second = chunks_of(f)
    overwrite(f, second.chunk_start_offset + 9 + 28, struct.pack("<I", 0xFFFFFF))
    overwrite(f, f.stat().st_size - 40, b"\xff" * 40)
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False
    assert warnings[1].startswith(f"{f.name}: chunk 2 of 2 (file offset {second.chunk_start_offset}, bag time "
                                  f"{(second.message_start_time - T0) * 1e-9:.1f}-60.0 s, its message count unknown")
    assert not [w for w in warnings if "break" in w or "unread" in w], warnings
    assert a["messages_read"] == sum(first.channel_count.values()) > 0


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_garbage_metadata_reads_the_storage_and_says_it_cannot_check(clean, tmp_path, storage):
    bag, f = copy(clean, storage, tmp_path / "bag")
    (bag / "metadata.yaml").write_bytes(b"\x00\xffgarbage: [\n")
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False and a["messages_read"] == 4 * PER_ROBOT  # the storage itself is fine
    assert warnings[0].startswith(f"{bag}: metadata.yaml ")
    assert "MCAP" not in warnings[0]  # not blamed on a truncated MCAP
    assert warnings[0].endswith(f"; reading {f.name} directly, whether the recording is whole cannot be checked")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_metadata_count_beyond_the_storage_is_reported(clean, tmp_path, storage):
    bag, _ = copy(clean, storage, tmp_path / "bag")
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    entry = next(e for e in info["topics_with_message_count"] if e["topic_metadata"]["name"] == TOPICS[2])
    entry["message_count"] = PER_ROBOT + 99
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    a, warnings = analyse(bag, tmp_path / "out")
    assert a["complete"] is False
    assert f"{TOPICS[2]}: {PER_ROBOT} of the {PER_ROBOT + 99} messages metadata.yaml lists were read" in warnings
    assert "the messages read span bag time 0.0-60.0 s of the 0.0-60.0 s metadata.yaml declares" in warnings


def test_metadata_naming_a_missing_file_is_refused_without_a_storage(tmp_path):
    bag = tmp_path / "junk"
    bag.mkdir()
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9}\n")
    with pytest.raises(InputError, match=r"metadata.yaml lacks the key 'topics_with_message_count' and no "
                                         r"\.mcap/\.db3 file: not a rosbag2 bag"):
        analyse(bag, tmp_path / "out")


# -- fuzzing ----------------------------------------------------------------------------------
FUZZ_CASES = 40  # per storage
CASE_TIMEOUT_S = 30  # a case taking longer hangs


def _key(a: dict) -> tuple:
    """What an analysis says, to compare a damaged bag's with the undamaged one's."""
    return (a["duration_s"], a["messages_read"], [(r["name"], r["samples"], r["distance_m"]) for r in a["robots"]],
            a["close_encounters"])


def _stored(bag: Path) -> list[tuple[str, int]]:
    """(topic, time) of every message as the storage hands it out (rosbags directly)."""
    with Reader(bag) as r:
        return [(c.topic, t) for c, t, _ in r.messages()]


class _Hang(Exception):
    pass


def _alarm(_sig, _frame):
    raise _Hang


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_fuzzed_bags_never_crash_hang_or_pass_silently(clean, tmp_path, storage):
    """Random bytes (1 B to 20 KB) at random offsets of the storage file or of metadata.yaml.

    Judge: an InputError (one line naming the bag), or ``complete: false`` with warnings, or
    results identical to the undamaged bag's (the bytes did not matter). sqlite3 has no
    checksums, so a changed payload that still deserialises is accepted only when the storage
    still hands out every message at its time (nothing was skipped, its content changed).
    """
    want, _ = analyse(clean[storage], tmp_path / "clean")
    stored = _stored(clean[storage])
    rng = random.Random(19)
    seen = {"refused": 0, "incomplete": 0, "identical": 0, "payload": 0}
    old = signal.signal(signal.SIGALRM, _alarm)
    t_start = time.monotonic()
    try:
        for case in range(FUZZ_CASES):
            bag, f = copy(clean, storage, tmp_path / f"c{case}")
            target = bag / "metadata.yaml" if rng.random() < 0.15 else f
            size = target.stat().st_size
            n = min(size, int(10 ** rng.uniform(0, 4.3)))
            offset = rng.randrange(size - n + 1)
            overwrite(target, offset, rng.randbytes(n))
            what = f"case {case}: {n} bytes at {offset} of {target.name}"
            signal.alarm(CASE_TIMEOUT_S)
            try:
                got, warnings = analyse(bag, tmp_path / f"o{case}")
            except InputError as exc:
                assert str(bag) in str(exc) and "\n" not in str(exc) and "(fix: " in str(exc), what
                seen["refused"] += 1
                continue
            except _Hang:
                pytest.fail(f"{what}: no answer in {CASE_TIMEOUT_S} s")
            finally:
                signal.alarm(0)
            if not got["complete"]:
                assert warnings, what
                seen["incomplete"] += 1
            elif _key(got) == _key(want):
                seen["identical"] += 1
            else:
                assert storage == "sqlite3" and _stored(bag) == stored, f"{what}: results changed silently"
                seen["payload"] += 1
    finally:
        signal.signal(signal.SIGALRM, old)
    assert seen["refused"] + seen["incomplete"] > 0, seen  # the fuzzer does damage bags
    assert time.monotonic() - t_start < FUZZ_CASES * CASE_TIMEOUT_S

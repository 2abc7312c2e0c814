"""Durable run state: an embedded transactional store (SQLite, write-ahead log) in one file.

The task allocator writes every change of its decision state (an accepted order, a new task,
a completed step, a finished task, a failed robot, a recovered rack, a shipped parcel) as one
transaction *before* it answers or sends anything that depends on it; on start it replays the
journal to get back exactly where it was. The order source records each answer it got, so
that after a restart it neither submits an answered order again nor forgets an unanswered one.

Tables (schema version :data:`SCHEMA_VERSION`, in ``meta``):

* ``journal(seq, kind, time, data)``: the allocator's changes in order (``data`` is JSON);
* ``orders(order_id, consumer_id, state, lines_picked, data)`` and
  ``tasks(task_id, robot, state, step_index, data)``: the current state of every accepted
  order and every task (for people and tools; recovery replays the journal);
* ``submissions(order_id, accepted, reason)``: the order source's answered submissions.

A file written by another schema version is refused with an :class:`~warehouse_core.errors.InputError`
naming the file and both versions. ``sync`` is SQLite's ``synchronous`` setting: ``normal``
(default) survives the death of any process (the case here: SIGKILL, crashes); ``full`` also
survives a power cut, at the price of an fsync per transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from warehouse_core.errors import InputError

SCHEMA_VERSION = 1
SYNC_MODES = ("off", "normal", "full")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
                                    time REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, consumer_id TEXT NOT NULL, state INTEGER NOT NULL,
                                   lines_picked INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (task_id TEXT PRIMARY KEY, robot TEXT NOT NULL, state INTEGER NOT NULL,
                                  step_index INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (order_id TEXT PRIMARY KEY, accepted INTEGER NOT NULL, reason TEXT NOT NULL);
"""


@dataclass(frozen=True)
class JournalEntry:
    """One change of the allocator's state: ``kind`` at sim ``time`` with its ``data``."""

    kind: str
    time: float
    data: dict


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    consumer_id: str
    state: int
    lines_picked: int
    data: dict


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    robot: str
    state: int
    step_index: int
    data: dict


def connect_wal(path: Path, busy_timeout_s: float, sync: str = "normal") -> sqlite3.Connection:
    """A connection to the state file in write-ahead-log mode. When a run starts several processes
    open the file at once, and switching a new file to WAL needs an exclusive lock that SQLite may
    refuse at once ("database is locked", without its busy wait): that step is tried again until
    ``busy_timeout_s`` has passed."""
    deadline = time.monotonic() + busy_timeout_s
    db = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None)
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(0.05)  # once, at start: another process is switching the same file
    db.execute(f"PRAGMA synchronous={sync.upper()}")
    return db


class StateStore:
    """The run's state file (see module docstring). Several processes may open the same file:
    SQLite serialises their transactions (``busy_timeout``)."""

    def __init__(self, path: str | Path, sync: str = "normal", busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        if sync not in SYNC_MODES:
            raise InputError("parameter state_store_sync", f"{sync!r} is not a synchronous mode",
                             fix=f"use one of {', '.join(SYNC_MODES)}")
        try:
            self.db = connect_wal(self.path, busy_timeout_s, sync)
            self._create()
        except sqlite3.DatabaseError as exc:
            raise InputError(str(self.path), f"not a usable state store: {exc}",
                             fix="remove the file or choose another run directory") from None

    def _create(self) -> None:
        """Create the tables of a new file; check the schema version of an existing one."""
        with self._transaction():
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.db.execute(statement)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise InputError(str(self.path), f"state store has schema version {row[0]}, this build reads "
                                 f"version {SCHEMA_VERSION}", fix="finish that run with the build that wrote it, "
                                 "or start a new run directory")

    def _transaction(self):
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # -- allocator ---------------------------------------------------------------------------
    def write(self, entries: Iterable[JournalEntry], orders: Iterable[OrderRow] = (),
              tasks: Iterable[TaskRow] = ()) -> None:
        """Append ``entries`` to the journal and upsert the order and task rows, atomically."""
        with self._transaction():
            self.db.executemany("INSERT INTO journal (kind, time, data) VALUES (?, ?, ?)",
                                [(e.kind, e.time, json.dumps(e.data, separators=(",", ":"))) for e in entries])
            self.db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?)",
                                [(o.order_id, o.consumer_id, o.state, o.lines_picked,
                                  json.dumps(o.data, separators=(",", ":"))) for o in orders])
            self.db.executemany("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?)",
                                [(t.task_id, t.robot, t.state, t.step_index,
                                  json.dumps(t.data, separators=(",", ":"))) for t in tasks])

    def journal(self) -> Iterator[JournalEntry]:
        """Every journal entry, oldest first."""
        for kind, stamp, data in self.db.execute("SELECT kind, time, data FROM journal ORDER BY seq"):
            yield JournalEntry(kind, stamp, json.loads(data))

    def orders(self) -> list[OrderRow]:
        return [OrderRow(r[0], r[1], r[2], r[3], json.loads(r[4]))
                for r in self.db.execute("SELECT * FROM orders ORDER BY order_id")]

    def order(self, order_id: str) -> OrderRow | None:
        """The row of accepted order ``order_id`` (None if there is none)."""
        r = self.db.execute("SELECT * FROM orders WHERE order_id=?", (order_id,)).fetchone()
        return None if r is None else OrderRow(r[0], r[1], r[2], r[3], json.loads(r[4]))

    def tasks(self) -> list[TaskRow]:
        return [TaskRow(r[0], r[1], r[2], r[3], json.loads(r[4]))
                for r in self.db.execute("SELECT * FROM tasks ORDER BY task_id")]

    # -- order source ------------------------------------------------------------------------
    def record_answer(self, order_id: str, accepted: bool, reason: str) -> None:
        """The allocator answered the submission of ``order_id``."""
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO submissions VALUES (?, ?, ?)", (order_id, int(accepted), reason))

    def answered(self) -> dict[str, bool]:
        """Order id -> accepted, for every submission that got an answer."""
        return {r[0]: bool(r[1]) for r in self.db.execute("SELECT order_id, accepted FROM submissions")}


class _Transaction:
    """``with``: BEGIN IMMEDIATE ... COMMIT, ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")

"""The simulated floor made durable: snapshots and a journal of inputs in the run's state store.

A floor simulator that is killed mid-run is started again; it must stand exactly where the dead
one stood (robots never put where they were not, time never going backwards). Writing the whole
floor each tick would cost too much with hundreds of robots, so the simulator writes

* ``sim_ticks(tick, data)``: numbered entries, one before each step (write-ahead) and one per
  timer period in which inputs arrived while time waited (``held``: no step follows): the inputs
  received since the previous entry in their order (drive commands, racks robots will drop on,
  failures asked for by service) and the time-gating state (``data`` is JSON), small;
* ``sim_snapshot(tick, data)``: every :data:`SNAPSHOT_TICKS` entries, at the start and after a
  resume, the whole state after that entry (the floor, its fault schedules, the random stall
  generator); the journal up to it is then dropped.

The simulator is deterministic for a given sequence of inputs and steps, so the last snapshot and
the steps journaled after it (:meth:`FloorJournal.resume`) give back the state after the last
journaled step: the one the dead process had published, or at most one step beyond it (a step
journaled but killed before its clock went out). Both tables live next to the allocator's in the
same SQLite file (write-ahead log; ``synchronous=normal`` survives the death of a process).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from warehouse_core.errors import InputError
from warehouse_core.ops.store import connect_wal

SNAPSHOT_TICKS = 150  # journal entries between snapshots: at most this many are replayed by a restart

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sim_snapshot (tick INTEGER PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sim_ticks (tick INTEGER PRIMARY KEY, data TEXT NOT NULL)",
)


@dataclass(frozen=True)
class Resume:
    """Where a restarted simulator goes on from: the snapshot after entry ``tick``, then the
    journal entries after it (``(tick, data)``, oldest first)."""

    tick: int
    snapshot: dict
    steps: list[tuple[int, dict]]


class FloorJournal:
    """The simulator's two tables in the run's state file (see the module docstring)."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        try:
            self.db = connect_wal(self.path, busy_timeout_s)
            for statement in _SCHEMA:
                self.db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise InputError(str(self.path), f"not a usable state store: {exc}",
                             fix="remove the file or choose another run directory") from None

    def close(self) -> None:
        self.db.close()

    def resume(self) -> Resume | None:
        """The last snapshot and the entries after it; None in a new run (no snapshot yet)."""
        row = self.db.execute("SELECT tick, data FROM sim_snapshot ORDER BY tick DESC LIMIT 1").fetchone()
        if row is None:
            return None
        steps = [(tick, json.loads(data)) for tick, data in
                 self.db.execute("SELECT tick, data FROM sim_ticks WHERE tick > ? ORDER BY tick", (row[0],))]
        for expected, (tick, _) in enumerate(steps, start=row[0] + 1):
            if tick != expected:  # written one by one in order: a gap is a damaged file
                raise InputError(str(self.path), f"floor journal misses entry {expected} (next: {tick})",
                                 fix="start a new run directory")
        return Resume(row[0], json.loads(row[1]), steps)

    def step(self, tick: int, data: dict) -> None:
        """Entry ``tick``: the inputs since the last one, written before the step they precede."""
        self.db.execute("INSERT OR REPLACE INTO sim_ticks VALUES (?, ?)", (tick, _dumps(data)))

    def snapshot(self, tick: int, data: dict) -> None:
        """The whole state after entry ``tick``; what came before it is no longer needed."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR REPLACE INTO sim_snapshot VALUES (?, ?)", (tick, _dumps(data)))
            self.db.execute("DELETE FROM sim_snapshot WHERE tick < ?", (tick,))
            self.db.execute("DELETE FROM sim_ticks WHERE tick <= ?", (tick,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise


def _dumps(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"))

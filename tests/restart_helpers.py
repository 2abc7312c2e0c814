"""Helpers of the restart tests (not a test module): what a run under test shows from outside.

``sim_time``: the run's last sampled simulated time; ``in_flight``: the tasks its durable store
holds as assigned and not finished.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from warehouse_core.ops.operations import TASK_ACTIVE, TASK_ASSIGNED


def sim_time(out: Path) -> float:
    try:
        return json.loads((out / "timeline.jsonl").read_text().splitlines()[-1])["sim_s"]
    except (OSError, IndexError, ValueError, KeyError):
        return -1.0


def in_flight(db_path: Path, started: bool = False) -> list[str]:
    """Tasks assigned and not finished (``started``: with a step done) in the run's store."""
    try:
        db = sqlite3.connect(db_path, timeout=1.0)
        try:
            rows = db.execute("SELECT task_id, state, step_index FROM tasks").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return []
    return [t for t, state, step in rows if state in (TASK_ASSIGNED, TASK_ACTIVE) and (step >= 0 or not started)]

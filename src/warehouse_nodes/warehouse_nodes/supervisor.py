"""Process supervision for ``./warehouse run``: a central node that dies is started again.

Which processes respawn is the graph description's (:mod:`warehouse_nodes.graph`: with a state
store, every central node and robot container; the launch files set launch's ``respawn=True`` from
the same description). The allocator and the order source keep their state in the
run's durable store (:mod:`warehouse_core.ops.store`), so a new process resumes where the dead one
stopped. The forecaster computes the same seeded forecast again and publishes it (latched). The
planner resumes the fleet from the robots' reported states (:mod:`warehouse_core.fleet.restart`).
The simulator resumes the floor from its snapshot and journal in the same store
(:mod:`warehouse_core.sim.floor_journal`). A robot container's new robot nodes take their
robots over where the bases stand (:mod:`warehouse_nodes.robot_resume`). Every restart is counted
(``node_restarts`` in ``report.json``, by node in ``node_restarts_by_node``); each start is marked in
the node's log.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from warehouse_nodes.graph import RESPAWN_DELAY_S

MAX_RESTARTS = 50  # per node: a node that keeps dying (bad input, a bug) ends the run


class Supervisor:
    """Starts node processes with ``start(name)`` and restarts those in ``respawn`` when they die."""

    def __init__(self, start: Callable[[str], subprocess.Popen], respawn: frozenset[str]) -> None:
        self.start = start
        self.respawn = respawn
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self._died: dict[str, float] = {}  # name -> wall time its death was seen

    def launch(self, names: list[str]) -> dict[str, subprocess.Popen]:
        for name in names:
            self.procs[name] = self.start(name)
        return self.procs

    @property
    def total_restarts(self) -> int:
        return sum(self.restarts.values())

    def check(self) -> str:
        """Restart dead respawnable nodes (after a short delay); a reason to end the run if
        another node died or one died too often, else empty."""
        now = time.monotonic()
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is None:
                continue
            if name not in self.respawn or code == 2:  # exit code 2: bad input, a restart would not help
                return f"node process {name} exited with code {code}"
            if self.restarts.get(name, 0) >= MAX_RESTARTS:
                return f"node process {name} died {MAX_RESTARTS + 1} times (last exit code {code})"
            first_seen = self._died.setdefault(name, now)
            if now - first_seen >= RESPAWN_DELAY_S:
                del self._died[name]
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.procs[name] = self.start(name)
        return ""

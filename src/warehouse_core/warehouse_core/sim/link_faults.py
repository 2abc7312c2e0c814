"""Message delay and loss between the robots and the planner (scenario fault ``link_fault``).

While a ``link_fault`` is active (from its ``at`` for ``seconds`` of sim time), every robot
state message the planner receives is dropped with probability ``loss`` and otherwise held
back ``delay`` seconds (delivered in order), and every release the planner sends is dropped
with probability ``loss``. Seeded, so a run is repeatable for a given message sequence. The
planner is built for this: a lost or late state only delays releases (robots wait), a lost
release is superseded by the next round's.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from warehouse_core.sim.scenario import Fault


@dataclass
class LinkFaults:
    """The active link fault at a time, the held-back messages, and counts."""

    faults: list[Fault]
    seed: int = 0
    held: deque = field(default_factory=deque)  # (due time, message), in arrival order
    dropped_in: int = 0
    delayed_in: int = 0
    dropped_out: int = 0
    announced: set[int] = field(default_factory=set)  # indices of faults announced as started
    ended: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.faults = sorted((f for f in self.faults if f.kind == "link_fault"), key=lambda f: f.at)
        self.rng = random.Random(self.seed)

    def active(self, t: float) -> Fault | None:
        return next((f for f in self.faults if f.at <= t < f.at + f.seconds), None)

    def admit(self, t: float, msg: Any) -> bool:
        """An inbound message at ``t``: True to handle it now; False if dropped or held back
        (then :meth:`due` hands it over later)."""
        f = self.active(t)
        if f is None:
            if not self.held:
                return True
            self.held.append((t, msg))  # keep the order behind what is still held
            return False
        if self.rng.random() < f.loss:
            self.dropped_in += 1
            return False
        if f.delay > 0 or self.held:
            self.delayed_in += f.delay > 0
            self.held.append((t + f.delay, msg))
            return False
        return True

    def due(self, t: float) -> list[Any]:
        """Held-back messages whose delay is over, in arrival order."""
        out = []
        while self.held and self.held[0][0] <= t:
            out.append(self.held.popleft()[1])
        return out

    def drop_outbound(self, t: float) -> bool:
        """True if an outbound message sent at ``t`` is lost."""
        f = self.active(t)
        if f is None or f.loss <= 0 or self.rng.random() >= f.loss:
            return False
        self.dropped_out += 1
        return True

    def announcements(self, t: float) -> list[dict]:
        """Start and end records of the link faults (once each), for ``/sim/faults``."""
        notes = []
        for i, f in enumerate(self.faults):
            if i not in self.announced and f.at <= t:
                self.announced.add(i)
                notes.append({"event": "fault_injected", "kind": "link_fault", "time": round(t, 3),
                              "seconds": f.seconds, "delay": f.delay, "loss": f.loss})
            if i in self.announced and i not in self.ended and t >= f.at + f.seconds:
                self.ended.add(i)
                notes.append({"event": "fault_cleared", "kind": "link_fault", "time": round(t, 3),
                              "states_dropped": self.dropped_in, "states_delayed": self.delayed_in,
                              "releases_dropped": self.dropped_out})
        return notes

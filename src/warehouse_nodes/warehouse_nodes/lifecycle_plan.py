"""The lifecycle manager's decisions, ROS-free: which node to take through which transition, when.

The central nodes are managed lifecycle nodes (:mod:`warehouse_nodes.managed`); the lifecycle
manager (:mod:`warehouse_nodes.lifecycle_manager`) polls their states and asks :class:`BringUp`
what to do. Rules:

* a node seen *unconfigured* (a new process: at start, or respawned after a death) is driven to
  *active* (with ``autostart``): configured at once, activated only when every node before it in
  the bring-up order has been active (its inputs are there). Configuring does not wait for the
  nodes before it: each node loads its own files in its own process, so a sequential configure
  would add their load times (the forecaster's model fits) to the start-up;
* a node seen *inactive* that the manager did not configure was deactivated by an operator
  (``ros2 lifecycle set /mapf_planner deactivate``): it is left alone until it is activated again;
  a *finalized* node (shut down) too;
* one transition per node at a time; a refused or failed transition is tried again on a later
  poll, at most ``max_attempts`` times in a row (then the node is given up and reported).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from warehouse_core.fleet import health

UNKNOWN = "unknown"  # not heard of (not started, or dead)
UNCONFIGURED = "unconfigured"
INACTIVE = "inactive"
ACTIVE = "active"
FINALIZED = "finalized"
TRANSITIONING = "transitioning"  # a transition is under way in the node
CONFIGURE = "configure"
ACTIVATE = "activate"
MAX_ATTEMPTS = 5
LOG_LENGTH = 100  # transitions kept for the status (a node respawned again and again)


@dataclass
class BringUp:
    """Brings ``order``'s nodes up in order and back up after a restart (see module docstring)."""

    order: tuple[str, ...]
    autostart: bool = True
    max_attempts: int = MAX_ATTEMPTS
    states: dict[str, str] = field(default_factory=dict)  # last observed state by node
    pending: set[str] = field(default_factory=set)  # a transition was asked and not answered yet
    driving: set[str] = field(default_factory=set)  # nodes the manager is taking to active
    up_once: set[str] = field(default_factory=set)  # nodes that have been active (their outputs exist)
    failures: dict[str, int] = field(default_factory=dict)  # failed transitions in a row by node
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LENGTH))  # (node, transition) asked, in order

    def __post_init__(self) -> None:
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"node_names {list(self.order)} name a node twice")

    def observe(self, node: str, state: str) -> None:
        """``node`` reported ``state`` (UNKNOWN: it could not be asked)."""
        if node in self.pending:
            return  # the answer of the transition under way says more
        self.states[node] = state
        if state == ACTIVE:
            self.up_once.add(node)
            self.driving.discard(node)
        elif state == UNCONFIGURED and self.autostart and node not in self.given_up():
            self.driving.add(node)  # a new process (or one cleaned up): bring it back
        elif state in (UNKNOWN, FINALIZED):
            self.driving.discard(node)

    def answered(self, node: str, transition: str, ok: bool, state: str) -> None:
        """The transition asked of ``node`` ended: ``ok`` or not, leaving it in ``state``."""
        self.pending.discard(node)
        self.failures[node] = 0 if ok else self.failures.get(node, 0) + 1
        self.observe(node, state)

    def lost(self, node: str) -> None:
        """``node`` went away (its process died) with a transition or a question under way: its
        answer never comes; a new process is seen unconfigured and brought up again."""
        self.pending.discard(node)
        self.observe(node, UNKNOWN)

    def given_up(self) -> set[str]:
        """Nodes whose transitions failed ``max_attempts`` times in a row."""
        return {n for n, count in self.failures.items() if count >= self.max_attempts}

    def actions(self) -> list[tuple[str, str]]:
        """The transitions to ask now, in bring-up order; each is marked pending until answered."""
        out = []
        skip = self.pending | self.given_up()
        for i, node in enumerate(self.order):
            state = self.states.get(node, UNKNOWN)
            if node in skip or node not in self.driving:
                continue
            if state == UNCONFIGURED:
                out.append((node, CONFIGURE))
            elif state == INACTIVE and all(n in self.up_once for n in self.order[:i]):
                out.append((node, ACTIVATE))
        for node, transition in out:
            self.pending.add(node)
            self.log.append((node, transition))
        return out

    def all_active(self) -> bool:
        return all(self.states.get(n) == ACTIVE for n in self.order)

    def status(self, name: str, hardware_id: str) -> health.Status:
        """The ``/diagnostics`` status: OK when every node is active, WARN while one is not (coming up,
        down, or deactivated by an operator), ERROR when one was given up; each node's state and the
        transitions asked, oldest first."""
        given_up = self.given_up()
        not_active = [n for n in self.order if self.states.get(n) != ACTIVE]
        if given_up:
            level, message = health.ERROR, f"given up: {', '.join(sorted(given_up))}"
        elif not_active:
            level, message = health.WARN, f"not active: {', '.join(not_active)}"
        else:
            level, message = health.OK, "all active"
        values = tuple((n, self.states.get(n, UNKNOWN)) for n in self.order)
        transitions = ", ".join(f"{n} {t}" for n, t in self.log)
        return health.Status(name, level, message, hardware_id, values + (("transitions", transitions),))

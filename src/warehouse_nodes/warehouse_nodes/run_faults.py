"""What ``./warehouse run --scenario FILE`` adds to a run: fault parameters for the nodes, and
the fault, deadlock and lost-order figures of ``report.json``.

The scenario's ``params`` override the config file's node parameters; its faults go to the
nodes that inject them as the JSON string parameter ``scenario_faults`` (floor simulator:
``robot_fail``, ``robot_stuck``, ``blocked_cell``, ``rack_jammed``, the towing of a ``robot_silent`` robot;
planner: ``link_fault``), and ``robot_silent`` faults to the robot container hosting the
robot (``--silence ROBOT@T``). Every injected fault is announced on ``/sim/faults``
(``FaultEvent``, latched), recorded in the bag and counted in ``faults_injected``. :class:`FaultLog`
counts the side channels' records (:func:`warehouse_core.analysis.side_channels.record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_core.sim.scenario import Scenario, faults_to_json

_PLANNER_KINDS = ("link_fault",)


def apply_scenario(doc: dict, scenario: Scenario) -> None:
    """Put the scenario's parameter overrides and faults into a params file document."""
    for node, params in scenario.params.items():
        doc.setdefault(node, {}).setdefault("ros__parameters", {}).update(params)
    sim = [f for f in scenario.faults if f.kind not in _PLANNER_KINDS]
    planner = [f for f in scenario.faults if f.kind in _PLANNER_KINDS]
    doc.setdefault("floor_simulator", {}).setdefault("ros__parameters", {})["scenario_faults"] = faults_to_json(sim)
    doc.setdefault("mapf_planner", {}).setdefault("ros__parameters", {})["scenario_faults"] = faults_to_json(planner)


def silence_args(scenario: Scenario | None, first: int, count: int) -> list[str]:
    """``--silence ROBOT@T`` for the robot_silent faults of robots ``first`` .. ``first + count - 1``."""
    if scenario is None:
        return []
    mine = {f"robot_{i}" for i in range(first, first + count)}
    out: list[str] = []
    for f in scenario.faults:
        if f.kind == "robot_silent" and f.robot in mine:
            out += ["--silence", f"{f.robot}@{f.at}"]
    return out


@dataclass
class FaultLog:
    """Fault and deadlock announcements of a run, counted, and the allocator's last list of open orders.

    A run of many hours can have thousands of deadlock detections (1,495 in a 2-hour soak): the
    announcements are counted as they come instead of kept (a detection's id is kept while it is
    open, a resolution's id for good: a few dozen bytes, not the whole record).
    """

    faults_injected: int = 0
    lift_failures: int = 0
    deadlocks_detected: int = 0
    open_deadlocks: dict[object, int] = field(default_factory=dict)  # id -> detections not resolved (yet)
    resolved_deadlocks: set = field(default_factory=set)  # ids of resolved deadlocks
    open_orders: set[str] | None = None  # None: the allocator never said
    open_orders_time: float = -1.0  # [s, sim] of the allocator's last list

    def on_fault(self, doc: dict) -> None:
        self.faults_injected += doc.get("event") == "fault_injected"

    def on_event(self, doc: dict) -> None:
        self.lift_failures += doc.get("event") == "lift_failed"

    def on_deadlock(self, doc: dict) -> None:
        if doc.get("event") == "detected":
            self.deadlocks_detected += 1
            if doc["id"] not in self.resolved_deadlocks:
                self.open_deadlocks[doc["id"]] = self.open_deadlocks.get(doc["id"], 0) + 1
        elif doc.get("event") == "resolved":
            self.resolved_deadlocks.add(doc["id"])
            self.open_deadlocks.pop(doc["id"], None)

    def on_open_orders(self, doc: dict) -> None:
        self.open_orders = set(doc.get("open", []))
        self.open_orders_time = float(doc.get("time", -1.0))

    def kpis(self, accepted: dict[str, float], completed: set[str]) -> dict:
        """``faults_injected``, ``orders_lost``, ``deadlocks_detected``, ``unresolved_deadlocks``,
        ``lift_failures`` (lifts the simulator announced as failed on ``/sim/events``).

        ``accepted``: order -> sim time it was accepted. ``orders_lost``: orders accepted by the
        time (strictly before) of the allocator's last ``/allocator/open_orders`` that were neither completed nor in
        that list (if the allocator never published one, every accepted order not completed).
        ``unresolved_deadlocks``: deadlocks detected and not resolved by the end of the run.
        """
        open_now = self.open_orders or set()
        if self.open_orders is not None:
            # strictly before: an order accepted by the service between the list's round and the
            # next tick of the allocator's clock carries the list's own stamp but is not in it
            accepted = {o: t for o, t in accepted.items() if t < self.open_orders_time}
        return {
            "faults_injected": self.faults_injected,
            "orders_lost": len(set(accepted) - completed - open_now),
            "deadlocks_detected": self.deadlocks_detected,
            "unresolved_deadlocks": sum(self.open_deadlocks.values()),
            "lift_failures": self.lift_failures,
        }

"""Lifecycle manager: brings the central nodes up in order and back up after a restart.

Like ``nav2_lifecycle_manager``: parameters ``node_names`` (in bring-up order, given by the
graph description :mod:`warehouse_nodes.graph`) and ``autostart``. Every ``poll_period`` wall
seconds it asks each node for its state (``/<node>/get_state``) and takes it through the
transitions :class:`warehouse_nodes.lifecycle_plan.BringUp` decides (``/<node>/change_state``):
a new process (also one the supervisor or launch respawned) is configured and activated, after
the nodes before it; a node an operator deactivated stays inactive. Polling, not the nodes'
transition events: a respawned node announces nothing until it changes state. A call to a
node that dies before answering is never answered (a SIGKILLed process's services stay
discovered until its DDS lease ends): a question is asked again after ``ASK_AGAIN_S``, and a
transition under way is taken for lost when the node's services are gone or it reports
*unconfigured* that long after it was asked (a new process). Its
``/diagnostics`` status (``lifecycle_manager: bring-up``) gives every node's state and the
transitions it asked, in order. A plain node (robots stay plain nodes: lean at 500 robots).
"""

from __future__ import annotations

import socket

from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from warehouse_core import topics
from warehouse_nodes import channels, diagnostics
from warehouse_nodes.configs import LifecycleManagerConfig
from warehouse_nodes.lifecycle_plan import (
    ACTIVATE,
    ACTIVE,
    CONFIGURE,
    FINALIZED,
    INACTIVE,
    TRANSITIONING,
    UNCONFIGURED,
    UNKNOWN,
    BringUp,
)
from warehouse_nodes.params import declare_config
from warehouse_nodes.runtime import run_node

STATES = {State.PRIMARY_STATE_UNCONFIGURED: UNCONFIGURED, State.PRIMARY_STATE_INACTIVE: INACTIVE,
          State.PRIMARY_STATE_ACTIVE: ACTIVE, State.PRIMARY_STATE_FINALIZED: FINALIZED}
HOST = socket.gethostname()
ASK_AGAIN_S = 5.0  # [s, wall] a node answers get_state within ms unless busy (a long round, a configure)
TRANSITIONS = {CONFIGURE: Transition.TRANSITION_CONFIGURE, ACTIVATE: Transition.TRANSITION_ACTIVATE}


def state_name(state_id: int) -> str:
    return STATES.get(state_id, TRANSITIONING)


class LifecycleManager(Node):
    """Polls the managed nodes and drives them (see module docstring)."""

    def __init__(self) -> None:
        super().__init__("lifecycle_manager")
        self.cfg = declare_config(self, LifecycleManagerConfig)
        self.plan = BringUp(tuple(self.cfg.node_names), self.cfg.autostart)
        self.get_clients = {n: channels.client(self, topics.LIFECYCLE_GET_STATE, topics.LIFECYCLE_GET_STATE.of(n))
                            for n in self.plan.order}
        self.change_clients = {n: channels.client(self, topics.LIFECYCLE_CHANGE_STATE,
                                                  topics.LIFECYCLE_CHANGE_STATE.of(n)) for n in self.plan.order}
        self.asking: dict[str, float] = {}  # node -> wall time its get_state call was made
        self.changing: dict[str, float] = {}  # node -> wall time its change_state call was made
        self.wall = Clock(clock_type=ClockType.STEADY_TIME)
        self.reported_up = False
        self.diagnostics = diagnostics.Diagnostics(
            self, self.cfg.diagnostics_period, lambda: [self.plan.status("lifecycle_manager: bring-up", HOST)])
        # wall time: the simulator's clock stands until the nodes are up
        self.create_timer(self.cfg.poll_period, self.poll, clock=self.wall)

    def now(self) -> float:
        return self.wall.now().nanoseconds * 1e-9

    def poll(self) -> None:
        now = self.now()
        for node in self.plan.order:
            if now - self.asking.get(node, -ASK_AGAIN_S) < ASK_AGAIN_S:
                continue  # asked recently
            if node in self.plan.pending and now - self.changing.get(node, now) < ASK_AGAIN_S:
                continue
            if not self.get_clients[node].service_is_ready():
                if node in self.plan.pending:
                    self._lost(node)
                self.plan.observe(node, UNKNOWN)
                continue
            self.asking[node] = now
            self.get_clients[node].call_async(GetState.Request()).add_done_callback(
                lambda f, n=node: self.on_state(n, f))
        self.act()

    def _lost(self, node: str) -> None:
        self.get_logger().warning(f"/{node} went away before answering its transition")
        self.changing.pop(node, None)
        self.plan.lost(node)

    def on_state(self, node: str, future) -> None:
        self.asking.pop(node, None)
        response = future.result()
        state = state_name(response.current_state.id) if response is not None else UNKNOWN
        if node in self.plan.pending and state == UNCONFIGURED \
                and self.now() - self.changing.get(node, self.now()) >= ASK_AGAIN_S:
            self._lost(node)  # a new process: the transition asked of the old one is lost
        self.plan.observe(node, state)
        self.act()

    def act(self) -> None:
        for node, transition in self.plan.actions():
            request = ChangeState.Request(transition=Transition(id=TRANSITIONS[transition]))
            self.changing[node] = self.now()
            future = self.change_clients[node].call_async(request)
            future.add_done_callback(lambda f, n=node, t=transition: self.on_changed(n, t, f))
        if self.plan.all_active() and not self.reported_up:
            self.reported_up = True
            self.get_logger().info(f"all managed nodes active: {', '.join(self.plan.order)}")

    def on_changed(self, node: str, transition: str, future) -> None:
        if self.changing.pop(node, None) is None:
            return  # dropped meanwhile (the node was taken for gone)
        response = future.result()
        ok = response is not None and response.success
        state = {CONFIGURE: INACTIVE, ACTIVATE: ACTIVE}[transition] if ok else UNKNOWN
        self.plan.answered(node, transition, ok, state)
        if ok:
            self.get_logger().info(f"{transition} /{node}: {state}")
        else:
            self.get_logger().warning(f"{transition} /{node} failed (attempt {self.plan.failures[node]})")
            if node in self.plan.given_up():
                self.get_logger().error(f"/{node} given up after {self.plan.failures[node]} failed transitions")
        self.act()


def main(args: list[str] | None = None) -> None:
    run_node(LifecycleManager, args)


if __name__ == "__main__":
    main()

"""The central nodes as managed lifecycle nodes (``rclpy.lifecycle``), the ROS part kept thin.

A :class:`ManagedNode` declares its parameters when built (``ros2 param describe`` works in
every state) and does the rest in the lifecycle transitions, so a deployment brings the graph up
in order (:mod:`warehouse_nodes.lifecycle_manager`) and takes one node down cleanly. With
``managed`` false (the default: a node run alone, a test, a benchmark) it takes itself through
configure and activate when built, as a plain node would start; the graph description sets
``managed`` true wherever it starts the manager.

* ``configure``: :meth:`ManagedNode.configure_node` (the node's own: read files, build its core
  objects, create publishers, subscriptions, services and timers). Its timers are held, so nothing
  is published yet (the ``/diagnostics`` timer excepted: an operator sees an inactive node too);
* ``activate``: the held timers run (:meth:`ManagedNode.on_active` for what a node publishes once).
  Once simulated time has moved (a respawned process, a re-activation) each held sim-time timer
  also runs once right away: reset, it would first run a period later by a clock that stands until
  this node reports (the simulator waits for the allocator's rounds), so time would stand for ever.
  A plain node's timers, created before its first ``/clock``, run at once when it arrives, as here;
* ``deactivate``: every running timer but the diagnostics' stops, so the node's periodic outputs
  stop (the planner releases nothing more: robots hold at their released cells; the simulator's
  clock stands); it still listens, so it resumes where the fleet stands when activated again.
  Timers registered with :meth:`ManagedNode.while_inactive` run only between a deactivation and
  the next activation (the planner's empty releases that let sim time go on while it is down);
* ``cleanup`` / ``shutdown``: every entity ``configure`` created is destroyed.

A bad input found while configuring ends the process with exit code 2 and one line naming the
input (as before: ``./warehouse run`` ends the run, a respawn would not help); rclpy would
otherwise turn it into a failed transition that the manager retries. Built unmanaged, the node's
constructor raises the :class:`InputError` instead, as a plain node's does.
"""

from __future__ import annotations

import sys

from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from warehouse_core.errors import InputError
from warehouse_nodes.params import declare_config

SUCCESS = TransitionCallbackReturn.SUCCESS


class ManagedNode(LifecycleNode):
    """A lifecycle node whose timers follow its state (see module docstring)."""

    def __init__(self, node_name: str, config: type, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.cfg = declare_config(self, config)
        self.is_active = False
        self._held: list = []  # timers to start on activation
        self._configured: list[tuple[str, object]] = []  # (kind, entity) created by configure
        self._bad_input: InputError | None = None  # found while configuring itself (unmanaged)
        self._inactive_timers: list = []  # run only while deactivated
        if not self.cfg.managed:
            self.trigger_configure()
            if self._bad_input is not None:
                raise self._bad_input
            self.trigger_activate()

    @property
    def configured(self) -> bool:
        """Configured (inactive or active): the entities ``configure`` created exist."""
        return bool(self._configured)

    def configure_node(self) -> None:
        """Read files and create the node's entities (the node's own work)."""
        raise NotImplementedError

    def on_active(self) -> None:
        """Called after each activation (what a node publishes once it is active)."""

    def while_inactive(self, timer):
        """Register ``timer`` (created by configure) to run only after a deactivation, until the next activation."""
        self._inactive_timers.append(timer)
        return timer

    def _entities(self) -> set:
        return {("publisher", e) for e in self.publishers} | {("subscription", e) for e in self.subscriptions} \
            | {("service", e) for e in self.services} | {("client", e) for e in self.clients} \
            | {("timer", e) for e in self.timers}

    def _ungated(self) -> set:
        """Timers activation does not start: the /diagnostics one (always runs), the while-inactive ones."""
        diag = getattr(self, "diagnostics", None)
        always = {diag.timer} if diag is not None and getattr(diag, "timer", None) is not None else set()
        return always | set(self._inactive_timers)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        before = self._entities()
        try:
            self.configure_node()
        except InputError as exc:
            if not self.cfg.managed:
                self._bad_input = exc  # raised by the constructor
                return TransitionCallbackReturn.FAILURE
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None  # through the executor: a bad input ends the process
        self._configured = [e for e in self._entities() if e not in before]
        ungated = self._ungated()
        self._held = [t for kind, t in self._configured if kind == "timer" and t not in ungated]
        for timer in self._held + self._inactive_timers:
            timer.cancel()
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        for timer in self._held:
            timer.reset()
        for timer in self._inactive_timers:
            timer.cancel()
        late = [t for t in self._held if _sim_time_moved(t.clock)]
        self._held = []
        self.is_active = True
        self.on_active()
        if late:
            self._run_once(late)
        return super().on_activate(state)

    def _run_once(self, timers: list) -> None:
        """Run ``timers``' callbacks once, from the executor (an error ends the process as a timer's
        would, rather than failing the transition), as soon as the activation is answered."""
        def fire() -> None:
            self.destroy_timer(once)
            for timer in timers:
                if self.is_active and not timer.is_canceled():
                    timer.callback()
        once = self.create_timer(0.0, fire, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.is_active = False
        ungated = self._ungated()
        self._held = [t for t in self.timers if t not in ungated and not t.is_canceled()]
        for timer in self._held:
            timer.cancel()
        for timer in self._inactive_timers:
            timer.reset()
        return super().on_deactivate(state)

    def _destroy_configured(self) -> None:
        destroy = {"publisher": self.destroy_publisher, "subscription": self.destroy_subscription,
                   "service": self.destroy_service, "client": self.destroy_client, "timer": self.destroy_timer}
        for kind, entity in self._configured:
            destroy[kind](entity)
        self._configured, self._held, self._inactive_timers, self.is_active = [], [], [], False

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_configured()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_configured()
        return SUCCESS


def _sim_time_moved(clock: Clock) -> bool:
    """Whether ``clock`` follows ``/clock`` (sim time) and that has moved past zero."""
    return clock.clock_type == ClockType.ROS_TIME and getattr(clock, "ros_time_is_active", False) \
        and clock.now().nanoseconds > 0

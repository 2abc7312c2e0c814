"""The hardware I/O of one robot's base, for the robot node's hardware backends.

What a base driver provides beyond ``odom``/``cmd_vel`` (parameter ``base_inputs``; every name is
robot-relative and remappable, declared in :mod:`warehouse_core.topics`):

* ``battery``: ``sensor_msgs/BatteryState`` on ``battery_topic`` (read best effort, so a sensor-data
  writer matches as well as a reliable one); ``percentage``, else ``charge / capacity``.
* ``rack``: rack presence, ``std_msgs/Bool`` on ``rack_topic``.
* ``stop``: protective or emergency stop active, ``std_msgs/Bool`` on ``stop_topic``.
* ``operations``: the ``BaseOperation`` action at ``base_operation`` (lift, drop, dock, undock).

:class:`BaseIO` is the ROS side; :class:`BaseSession` adds what the answers mean for the task
(:mod:`warehouse_core.robot.base_state`): operations held until the base answers, a failed lift
reported as the floor simulator's (no rack on the base), a protective stop held as ``MODE_STOPPED``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rclpy.action import ActionClient
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.robot.base_state import (
    FAILED_TIMEOUT,
    INPUTS,
    REJECTED_STOPPED,
    OperationHold,
    StopWatch,
    battery_fraction,
)
from warehouse_interfaces.action import BaseOperation
from warehouse_interfaces.msg import TaskFeedback
from warehouse_nodes import channels

if TYPE_CHECKING:
    from rclpy.node import Node

Done = Callable[[int, bool, str], None]  # (code, rack_present, message)


def parse_inputs(node: Node, text: str) -> frozenset[str]:
    """The ``base_inputs`` parameter as a set; an unknown name is refused with the list of known ones."""
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - set(INPUTS))
    if unknown:
        raise InputError(f"parameter {node.get_fully_qualified_name()}.base_inputs",
                         f"unknown base input(s) {', '.join(unknown)}", fix="any of " + ", ".join(INPUTS))
    return names


class BaseIO:
    """Subscriptions to the base's battery, rack and stop topics and the ``BaseOperation`` client."""

    def __init__(self, node: Node) -> None:
        cfg = node.cfg
        self.node = node
        self.inputs = parse_inputs(node, cfg.base_inputs)
        self.battery: float | None = None  # 0..1, None until known
        self.rack: bool | None = None  # the rack sensor, None until it reports
        self.stop = False
        if "battery" in self.inputs:
            channels.subscription(node, topics.BASE_BATTERY, self._on_battery, cfg.battery_topic)
        if "rack" in self.inputs:
            channels.subscription(node, topics.BASE_RACK_PRESENT, self._on_rack, cfg.rack_topic)
        if "stop" in self.inputs:
            channels.subscription(node, topics.BASE_PROTECTIVE_STOP, self._on_stop, cfg.stop_topic)
        self.client = ActionClient(node, BaseOperation, topics.BASE_OPERATION.relative) \
            if "operations" in self.inputs else None
        self._call: tuple[int, int, float, Done] | None = None  # (token, operation, deadline, done)
        self._sent = False
        self._token = 0

    @property
    def senses_racks(self) -> bool:
        """The base tells whether it carries a rack (a sensor, or the operations' answers)."""
        return bool(self.inputs & {"rack", "operations"})

    def _on_battery(self, msg: BatteryState) -> None:
        level = battery_fraction(msg.percentage, msg.charge, msg.capacity)
        if level is not None:
            self.battery = level

    def _on_rack(self, msg: Bool) -> None:
        self.rack = bool(msg.data)

    def _on_stop(self, msg: Bool) -> None:
        self.stop = bool(msg.data)

    # -- operations ------------------------------------------------------------------------
    def request(self, operation: int, now: float, done: Done) -> None:
        """Ask the base for ``operation``; ``done`` gets the answer, or FAILED_TIMEOUT after the timeout."""
        timeout = self.node.cfg.base_operation_timeout
        self._token += 1
        self._call = (self._token, operation, now + timeout + 1.0, done)  # the base's own timeout first
        self._sent = False
        self.poll(now)

    def poll(self, now: float) -> None:
        """Send a call the server was not ready for; time out a call not answered."""
        if self._call is None:
            return
        token, operation, deadline, done = self._call
        if now > deadline:
            self._call = None
            done(FAILED_TIMEOUT, bool(self.rack), f"no answer from {self.node.resolve_topic_name('base_operation')}")
            return
        if not self._sent and self.client is not None and self.client.server_is_ready():
            self._sent = True
            goal = BaseOperation.Goal(operation=operation, timeout=float(self.node.cfg.base_operation_timeout))
            self.client.send_goal_async(goal).add_done_callback(lambda f: self._accepted(token, f))

    def _accepted(self, token: int, future) -> None:
        handle = future.result()
        if not handle.accepted:
            self._answer(token, BaseOperation.Result.REJECTED_BUSY, bool(self.rack), "goal not accepted")
            return
        handle.get_result_async().add_done_callback(
            lambda f: self._answer(token, f.result().result.code, f.result().result.rack_present,
                                   f.result().result.message))

    def _answer(self, token: int, code: int, rack_present: bool, message: str) -> None:
        if self._call is None or self._call[0] != token:
            return  # timed out already
        done = self._call[3]
        self._call = None
        done(int(code), bool(rack_present), message)


class BaseSession:
    """What the base's inputs mean for the robot's task (one per hardware backend).

    :meth:`holds` runs the base operations of the waypoint the robot dwells at and says whether it
    must stay; :meth:`carrying` is the rack the base really carries; :meth:`stopped` tracks the
    protective stop (a stop outlasting ``stop_timeout`` gives the task back, failed).
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.io = BaseIO(node)
        self.hold: OperationHold | None = None
        self.watch = StopWatch(node.cfg.stop_timeout)
        self.rack_id = ""  # the rack lifted last (a sensor says only whether one is there)
        self.present = False  # a rack on the base, by the operations' answers when there is no sensor

    @property
    def senses_racks(self) -> bool:
        return self.io.senses_racks

    @property
    def reports_battery(self) -> bool:
        """The robot state's battery is the base's (the diagnostics watch it), not a placeholder 1.0."""
        return "battery" in self.io.inputs

    def battery(self) -> float:
        return 1.0 if self.io.battery is None else self.io.battery

    def carrying(self, planned: bool, task_rack: str) -> str:
        """The rack on the base: the plan's when the base cannot tell, else what it reports."""
        if not self.senses_racks:
            return task_rack if planned else ""
        present = self.io.rack if self.io.rack is not None and "rack" in self.io.inputs else self.present
        return self.rack_id if present else ""

    def stopped(self, now: float) -> bool:
        """The base is in a protective stop, or the fleet in an operator's emergency stop (held until the
        reset: no stop timeout, the task kept); past ``stop_timeout`` of a protective stop the task fails."""
        if self.node.fleet_estop:
            return True
        self.watch.update(self.io.stop, now)
        if self.watch.expired(now) and self.node.task_msg is not None:
            self._fail_task(f"protective stop for more than {self.watch.timeout:g} s")
        return self.watch.stopped

    def postpone(self, seconds: float) -> None:
        """A protective stop while an operation runs: its time stands still."""
        if self.hold is not None:
            self.hold.postpone(seconds)

    def holds(self, key: tuple[int, int], op: int, dwelling: bool, dwell_end: float, now: float,
              task_rack: str) -> bool:
        """At waypoint ``key`` (plan id, index) with operation ``op``: ask the base, True while it must stay."""
        self.io.poll(now)
        if "operations" not in self.io.inputs:
            return False
        if self.hold is None or self.hold.key != key:
            if not dwelling:
                return False
            self.hold = OperationHold.of(key, op, dwell_end)
            if self.hold is None:
                return False
        hold = self.hold
        operation = hold.next_now(now)
        if operation is not None:
            self.io.request(operation, now, lambda code, rack, text: self._answered(hold, task_rack, code, rack, text))
        return hold.holding(now)

    def _answered(self, hold: OperationHold, task_rack: str, code: int, rack: bool, text: str) -> None:
        out = hold.answered(code, rack, text)
        if out.rack is not None:
            # the answer is the rack sensor after the operation: the sensor's next message may come
            # after the robot counted the lift done, and must not make a good lift look failed
            self.present = out.rack
            if self.io.rack is not None:
                self.io.rack = out.rack
            if out.rack:
                self.rack_id = task_rack
        if not out.ok or code == REJECTED_STOPPED:
            self.node.get_logger().warning(f"{self.node.robot_id}: base {out.message}")
        if out.fail_task:
            self._fail_task(f"base {out.message}")

    def _fail_task(self, message: str) -> None:
        # the same end as a base fault in the simulator: the task fails, the robot stays in service
        self.node.fail_task(f"{self.node.robot_id}: {message}", TaskFeedback.FAILURE_BASE)

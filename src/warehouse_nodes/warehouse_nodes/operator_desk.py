"""The operators' desk of the task allocator: fleet commands and robot service, journaled.

Serves ``/fleet/command`` (FleetCommand: pause / resume the fleet or a zone, emergency stop and
reset), ``/fleet/robot_service`` (SetRobotService: a robot out of service and back) and
``/orders/cancel`` and ``/orders/update`` (CancelOrder, UpdateOrder: the allocator's operations
cancel an order or move its deadline, and journal it), applies
them with the rules of :class:`warehouse_core.fleet.control.FleetControl` (a refusal says why and
changes nothing), writes every accepted action to the allocator's durable state store before it
answers (kind ``operator``: the command, who asked, when), and latches the resulting state on
``/fleet/control`` (FleetControl), which the planner, the simulators and the robot nodes obey.
A restarted allocator replays the journaled actions and latches the same state again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rclpy.node import Node

from warehouse_core import topics
from warehouse_core.fleet.control import FleetControl, OperatorAction
from warehouse_core.ops.store import JournalEntry, StateStore
from warehouse_interfaces.srv import CancelOrder, FleetCommand, SetRobotService, UpdateOrder
from warehouse_nodes import channels
from warehouse_nodes import conversions as conv

JOURNAL_KIND = "operator"


class OperatorDesk:
    """Fleet commands and robot service on ``node`` (see the module docstring); ``robots`` lists
    the fleet's robots now, ``now`` the sim time."""

    def __init__(self, node: Node, size: tuple[int, int], store: StateStore | None,
                 robots: Callable[[], Iterable[str]], now: Callable[[], float],
                 cancel_order: Callable[[str, str], str], set_deadline: Callable[[str, float, str], str]) -> None:
        self.node, self.store, self.robots, self.now = node, store, robots, now
        # (order id, [deadline,] requester) -> why not, or "" (the allocator's operations journal them)
        self.cancel_order, self.set_deadline = cancel_order, set_deadline
        self.control = FleetControl(size)
        self.replayed = 0
        if store is not None:
            for entry in store.journal():
                if entry.kind == JOURNAL_KIND:
                    self.control.apply(OperatorAction.from_json(entry.data), robots=[entry.data.get("robot", "")])
                    self.replayed += 1
        self.pub = channels.publisher(node, topics.FLEET_CONTROL)
        channels.service(node, topics.FLEET_COMMAND, self.on_command)
        channels.service(node, topics.FLEET_ROBOT_SERVICE, self.on_robot_service)
        channels.service(node, topics.ORDER_CANCEL, self.on_cancel)
        channels.service(node, topics.ORDER_UPDATE, self.on_update)

    @property
    def out_of_service(self) -> set[str]:
        return self.control.state.out_of_service

    def publish(self, last_action: str = "") -> None:
        self.pub.publish(conv.control_to_msg(self.control.state, self.now(), last_action))

    def on_command(self, request: FleetCommand.Request, response: FleetCommand.Response):
        zone = tuple(int(v) for v in request.zone)
        if zone and len(zone) != 4:
            response.accepted, response.message = False, (f"zone {list(zone)} has {len(zone)} numbers: give "
                                                          "x0, y0, x1, y1 (cells), or none for the whole fleet")
            return response
        action = OperatorAction(request.command.strip().lower(), request.requester, self.now(),
                                zone=zone if zone else None)  # type: ignore[arg-type]
        response.accepted, response.message = self.submit(action)
        return response

    def on_robot_service(self, request: SetRobotService.Request, response: SetRobotService.Response):
        command = "in_service" if request.in_service else "out_of_service"
        action = OperatorAction(command, request.requester, self.now(), robot=request.robot_id)
        response.accepted, response.message = self.submit(action)
        return response

    def on_cancel(self, request: CancelOrder.Request, response: CancelOrder.Response):
        reason = self.cancel_order(request.order_id, request.requester)
        response.accepted = not reason
        who = request.requester or "an unnamed client"
        response.message = reason or f"order {request.order_id} cancelled (asked by {who})"
        self.node.get_logger().warning(f"operator: {response.message}")
        return response

    def on_update(self, request: UpdateOrder.Request, response: UpdateOrder.Response):
        deadline = conv.from_time(request.deadline)
        reason = self.set_deadline(request.order_id, deadline, request.requester)
        who = request.requester or "an unnamed client"
        response.accepted = not reason
        response.message = reason or f"order {request.order_id}: deadline {deadline:.0f} s (asked by {who})"
        self.node.get_logger().warning(f"operator: {response.message}")
        return response

    def submit(self, action: OperatorAction) -> tuple[bool, str]:
        """Apply, journal, latch; or refuse (nothing changes)."""
        accepted, message = self.control.apply(action, self.robots())
        if not accepted:
            self.node.get_logger().warning(f"operator request {action.command} refused: {message}")
            return False, message
        if self.store is not None:
            self.store.write([JournalEntry(JOURNAL_KIND, action.time, action.to_json())])
        self.node.get_logger().warning(f"operator: {message}")
        self.publish(message)
        return True, message


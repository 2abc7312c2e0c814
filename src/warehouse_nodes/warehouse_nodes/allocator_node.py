"""Task allocator node: orders in, rack visits out to robots, progress back to orders.

* Service ``/submit_order`` (SubmitOrder): validates against catalogue and stock, accepts or
  refuses with a reason (never silently drops); every refusal is an ``/order_status`` event too.
* Every ``allocation_period`` it turns pending order lines into rack visits and assigns them
  to idle robots (:class:`warehouse_core.ops.operations.WarehouseOps`). With ``fleet_transport``
  ``per_robot`` each task is an ``ExecuteTask`` action goal to ``/<robot>/execute_task`` and
  robot states come from ``/<robot>/state``; with ``batched`` the task on ``/tasks`` is the
  order to the robot (repeated every ``task_resend`` seconds until the robot answers on
  ``/fleet/task_feedback``) and states come from ``/fleet/states``.
* Publishes every order and task event on ``/order_status`` and ``/task_status``, and each
  new task on ``/tasks``.
* Racks go back to storage by forecast turnover class (A/B/C) once the per-SKU forecast of the
  ``forecaster`` node arrives on ``/forecast/demand`` (latched); until then (a few seconds at
  start) return locations are random. Robots idle for ``park_after`` seconds park under a
  class-A rack (forecast fast mover) at rest.
* Each parcel is packed into the box of least material (``boxes`` catalogue, CP-SAT); its
  manifest goes to ``/parcels/manifests`` and its tracking events (picked, packed, dispatched)
  to ``/parcels/tracking``.
* A robot reporting MODE_FAILED, or sending no state for ``stale_after`` seconds, is out of
  service: its task fails and its unpicked lines go back to the pending pool. When the
  simulator announces on ``/sim/events`` where a failed robot's rack was put down, the rack
  is available again there.
* Operator commands (``/fleet/command``, ``/fleet/robot_service``, ``/orders/cancel``,
  ``/orders/update``; :mod:`warehouse_nodes.operator_desk`): pause, emergency stop, robots out of
  service, order cancel and deadline, journaled in the state store; the fleet's control state is
  latched on ``/fleet/control``; a robot out of service gets no new task.
* A robot that could not lift its rack answers ``FAILURE_LIFT``: the visit fails, its lines go
  back to the pending pool, and the rack is left alone for ``rack_retry_after`` seconds.
* With ``state_store`` (a file; ``./warehouse run`` puts ``state.db`` in the run directory)
  every accepted order and every task change is written to the durable store
  (:mod:`warehouse_core.ops.store`) before it is acknowledged or sent; a restarted allocator
  reloads it, re-publishes the current order and task states and repeats the tasks in flight
  to their robots, which answer with where they are (batched transport).
* A robot whose state, newer than its last answer on a task in flight, names no task or another
  one (its robot container died and was started again) gets that task again (on ``/tasks``, or
  with ``per_robot`` as a new goal: the old one's result died with the old node); its new node
  resumes it at the steps done (:mod:`warehouse_nodes.robot_resume`).
"""

from __future__ import annotations

from rclpy.action import ActionClient
from rclpy.clock import Clock, ClockType
from std_msgs.msg import Header

from warehouse_core import topics
from warehouse_core.errors import InputError
from warehouse_core.fleet.silence import SilenceWatch
from warehouse_core.maps.layout import load_layout
from warehouse_core.ops import operations
from warehouse_core.ops.boxes import load_boxes
from warehouse_core.ops.durable_ops import JournaledOps
from warehouse_core.ops.inventory import load_catalogue
from warehouse_core.ops.items import seeded_item_specs
from warehouse_core.ops.orders import Order
from warehouse_core.ops.shipping import ShippingDesk
from warehouse_core.ops.shipping import TrackingEvent as TrackingEventCore
from warehouse_core.ops.store import StateStore
from warehouse_interfaces.action import ExecuteTask
from warehouse_interfaces.msg import (
    DemandForecast,
    FleetState,
    RobotState,
    SimEvent,
    TaskFeedback,
)
from warehouse_interfaces.msg import Task as TaskMsg
from warehouse_interfaces.srv import SubmitOrder
from warehouse_nodes import channels, diagnostics
from warehouse_nodes import conversions as conv
from warehouse_nodes.configs import AllocatorConfig
from warehouse_nodes.managed import ManagedNode
from warehouse_nodes.operator_desk import OperatorDesk
from warehouse_nodes.params import shared_fields
from warehouse_nodes.runtime import run_node

# [s, sim] a robot names no task, or another, after answering for one: it lost it (a restarted node)
TASK_LOST_AFTER = 2.0


class AllocatorNode(ManagedNode):
    """Order intake and task allocation (see module docstring); a managed lifecycle node: inactive, it
    still takes orders and follows the robots but allocates nothing."""

    def __init__(self) -> None:
        super().__init__("task_allocator", AllocatorConfig)

    def configure_node(self) -> None:
        cfg = self.cfg
        layout = load_layout(cfg.layout)
        inventory, placement = load_catalogue(layout, cfg.inventory_dir, cfg.skus, cfg.seed)
        try:
            # every OpsConfig field is a parameter of this node (same name): none falls back to a core default
            ops_cfg = operations.OpsConfig(**shared_fields(cfg, operations.OpsConfig))
        except ValueError as exc:
            raise InputError("parameters task_allocator.policy / returns / park_after / rack_retry_after / "
                             "replenish_every",
                             str(exc)) from None
        desk = ShippingDesk(seeded_item_specs(sorted(inventory.skus), cfg.seed), load_boxes(cfg.boxes),
                            cfg.packing_time_limit, cfg.seed)
        store = StateStore(cfg.state_store, cfg.state_store_sync) if cfg.state_store else None
        # random returns until the forecaster's forecast arrives (on_forecast)
        self.ops = JournaledOps(layout, inventory, ops_cfg, placement=placement, shipping=desk, store=store,
                                forecast_pending=True)
        channels.subscription(self, topics.FORECAST_DEMAND, self.on_forecast)
        self.batched = conv.check_fleet_transport(cfg.fleet_transport, self.get_fully_qualified_name())
        self.task_clients: dict[str, ActionClient] = {}
        self.servers_up: set[str] = set()
        self.unanswered: dict[str, tuple[TaskMsg, float]] = {}  # task -> (message, wall time sent)
        # robot -> (task in flight, sim time of its last answer, of its first later state naming no such task)
        self.answered: dict[str, tuple[str, float, float | None]] = {}
        if self.batched:
            channels.subscription(self, topics.FLEET_STATES, self.on_fleet_states)
            channels.subscription(self, topics.TASK_FEEDBACK, self.on_task_feedback)
        for i in range(cfg.robots if not self.batched else 0):
            name = conv.robot_name(i)
            self.task_clients[name] = ActionClient(self, ExecuteTask, topics.ROBOT_EXECUTE_TASK.of(name))
            channels.subscription(self, topics.ROBOT_STATE, self.on_state, topics.ROBOT_STATE.of(name),
                                  event_callbacks=conv.no_sub_events())
        self.order_pub = channels.publisher(self, topics.ORDER_STATUS)
        self.task_pub = channels.publisher(self, topics.TASK_STATUS)
        self.new_task_pub = channels.publisher(self, topics.TASKS)
        self.parcel_pub = channels.publisher(self, topics.PARCELS)
        self.manifest_pub = channels.publisher(self, topics.PARCEL_MANIFESTS)
        self.tracking_pub = channels.publisher(self, topics.PARCEL_TRACKING)
        self.open_orders_pub = channels.publisher(self, topics.ALLOCATOR_OPEN_ORDERS)
        self.progress_pub = channels.publisher(self, topics.ALLOCATOR_PROGRESS)  # sim waits for it
        channels.service(self, topics.SUBMIT_ORDER, self.on_submit)
        self.silence = SilenceWatch(cfg.stale_after)  # robots gone quiet (wall and sim time)
        self.wall_clock = Clock(clock_type=ClockType.STEADY_TIME)
        channels.subscription(self, topics.SIM_EVENTS, self.on_sim_event)
        self.diagnostics = diagnostics.allocator(self)  # /diagnostics: round lag and backlog
        self.create_timer(cfg.allocation_period, self.diagnostics.timed(self.on_timer))
        # operator commands (pause, e-stop, out of service), journaled in the same store
        self.desk = OperatorDesk(self, (layout.grid.width, layout.grid.height), store,
                                 lambda: self.ops.board.robots.keys(), self.now, self._cancel_order,
                                 lambda oid, deadline, who: self.ops.set_deadline(oid, deadline, self.now(), who))
        self._resume()

    def _resume(self) -> None:
        """Reload the durable store (a restart): the current states (published on activation), the tasks in flight."""
        report = self.ops.recover()
        if not report.entries:
            return
        self.get_logger().warning(f"resumed from {self.cfg.state_store}: {report.orders} orders "
                                  f"({report.open_orders} open), {len(report.tasks_in_flight)} tasks in flight")
        for task in report.tasks_in_flight:
            if self.batched:  # the robot answers a repeated task with its progress, never starts it twice
                self.unanswered[task.task_id] = (conv.task_to_msg(task), float("-inf"))

    def on_active(self) -> None:
        self._publish_events()  # what the store held (a restart), now that the node may publish
        self.desk.publish("replayed from the state store" if self.desk.replayed else "")

    def on_forecast(self, msg: DemandForecast) -> None:
        """The forecaster's per-SKU forecast: racks are classed by it from now on."""
        try:
            demand = conv.forecast_from_msg(msg)
        except InputError as exc:
            self.get_logger().error(f"forecast ignored, rack returns stay as they are: {exc}")
            return
        self.ops.set_demand(demand)
        self.get_logger().info(f"forecast of {len(demand)} SKUs received at sim time {self.now():.0f} s: "
                               "rack returns by forecast class from now (random until now)")

    def wall_now(self) -> float:
        """Steady wall-clock seconds: a robot is stale when its node is silent in real time,
        whatever the simulation speed."""
        return self.wall_clock.now().nanoseconds * 1e-9

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_state(self, msg: RobotState) -> None:
        self.silence.heard(msg.robot_id, self.wall_now(), conv.from_time(msg.header.stamp))
        if msg.robot_id in self.answered:
            self._check_task_held(msg)
        if msg.mode == RobotState.MODE_FAILED and msg.robot_id not in self.ops.failed_robots:
            self.ops.robot_failed(msg.robot_id, self.now(), f"{msg.robot_id} failed")
            self._publish_events()
        available = msg.mode not in (RobotState.MODE_FAILED, RobotState.MODE_STOPPED) \
            and msg.robot_id not in self.desk.out_of_service and self._server_ready(msg.robot_id)
        self.ops.update_robot(msg.robot_id, (msg.cell_x, msg.cell_y), available, float(msg.battery))

    def _check_task_held(self, msg: RobotState) -> None:
        """A robot that answered for a task in flight and now, later, names no task or another, for
        ``TASK_LOST_AFTER`` simulated seconds (its answer that the task ended may be on its way): its
        node was started again without it. The task goes to it again (it resumes it)."""
        task_id, answered, missing = self.answered[msg.robot_id]
        stamp = conv.from_time(msg.header.stamp)
        if msg.task_id == task_id or stamp <= answered or task_id in self.unanswered:
            return
        if missing is None or stamp - missing < TASK_LOST_AFTER:
            self.answered[msg.robot_id] = (task_id, answered, stamp if missing is None else missing)
            return
        del self.answered[msg.robot_id]
        task = self.ops.tasks.get(task_id)
        if task is None or task.finished:
            return
        self.get_logger().warning(f"{msg.robot_id} reports no task {task_id} (its node was started again?): "
                                  "sending it again")
        if self.batched:
            self.unanswered[task_id] = (conv.task_to_msg(task), float("-inf"))
        else:  # a new goal (the old one's result died with the old node); again if this one is lost too:
            self.answered[msg.robot_id] = (task_id, stamp, None)  # the robot answers a repeat, never redoes it
            self._send_goal(conv.task_to_msg(task))

    def _server_ready(self, robot: str) -> bool:
        """Whether the robot's task action server is up; a graph query, so asked until the
        first yes only (a robot that goes away later is caught by the stale-state check)."""
        if self.batched:
            return True
        if robot not in self.servers_up and self.task_clients[robot].server_is_ready():
            self.servers_up.add(robot)
        return robot in self.servers_up

    def on_submit(self, request: SubmitOrder.Request, response: SubmitOrder.Response):
        try:
            order = conv.order_from_msg(request.order)
        except (InputError, ValueError, TypeError) as exc:  # refused like any order: with its event
            unread = Order(request.order.order_id, request.order.consumer_id, (), 0.0, 0.0)
            response.accepted, response.order_id, response.reason = self.ops.refuse(unread, str(exc), self.now())
        else:
            response.accepted, response.order_id, response.reason = self.ops.submit(order, self.now())
        self._publish_events()
        return response

    def _cancel_order(self, order_id: str, requester: str) -> str:
        reason = self.ops.cancel_order(order_id, self.now(), requester)
        self._publish_events()
        return reason

    def on_sim_event(self, msg: SimEvent) -> None:
        if msg.event == SimEvent.EVENT_ROBOT_REMOVED and msg.rack_id and msg.location_id:
            self.ops.rack_recovered(msg.rack_id, msg.location_id, self.now())
        elif msg.event == SimEvent.EVENT_ROBOT_FAILED:
            self.ops.robot_failed(msg.robot_id, self.now(), f"{msg.robot_id}: {msg.reason}")
        self._publish_events()

    def on_timer(self) -> None:
        now = self.now()
        wall = self.wall_now()
        for name, quiet in self.silence.silent(wall, now):
            if name not in self.ops.failed_robots:
                self.ops.robot_failed(name, now, f"{name}: no state for {quiet:.0f} s (wall clock and sim time)")
        shifts = self.ops.replenishments
        self.ops.tick(self.now())
        if self.ops.replenishments != shifts:
            self.get_logger().info(f"replenishment shift at sim time {now:.0f} s: racks refilled "
                                   f"({self.ops.units_replenished} units so far)")
        for task_id, (msg, sent) in list(self.unanswered.items()):
            if wall - sent >= self.cfg.task_resend:
                self.new_task_pub.publish(msg)
                self.unanswered[task_id] = (msg, wall)
        for task in self.ops.assign(self.now()):
            msg = conv.task_to_msg(task)
            self.new_task_pub.publish(msg)
            if self.batched:
                self.unanswered[task.task_id] = (msg, wall)
                continue
            self._send_goal(msg)
        self._publish_events()
        self._publish_open_orders()
        self.progress_pub.publish(Header(stamp=conv.to_time(now), frame_id=self.get_name()))

    def _publish_open_orders(self) -> None:
        """Accepted orders not yet completed, on ``/allocator/open_orders`` (latched) every round:
        a run's ``orders_lost`` counts accepted orders neither completed, cancelled nor in the last list."""
        open_ids = [o for o, rec in self.ops.orders.items() if rec.open]
        self.open_orders_pub.publish(conv.open_orders_msg(open_ids, self.now()))

    def on_fleet_states(self, msg: FleetState) -> None:
        for state in conv.fleet_state_entries(msg):
            self.on_state(state)

    def on_task_feedback(self, msg: TaskFeedback) -> None:
        """A robot's answer to a task on /tasks (batched transport); repeats are harmless."""
        task = self.ops.tasks.get(msg.task_id)
        if task is not None and task.robot != msg.robot_id:  # only the robot the task is for answers it
            self.get_logger().warning(f"ignored feedback on {msg.task_id} from {msg.robot_id!r}: it is "
                                      f"{task.robot}'s task", throttle_duration_sec=10.0)
            return
        now = self.now()
        if msg.event != TaskFeedback.EVENT_STEP_DONE:
            self.unanswered.pop(msg.task_id, None)
        if msg.event in (TaskFeedback.EVENT_ACCEPTED, TaskFeedback.EVENT_STEP_DONE):
            self.answered[msg.robot_id] = (msg.task_id, conv.from_time(msg.header.stamp), None)
        elif self.answered.get(msg.robot_id, ("",))[0] == msg.task_id:
            del self.answered[msg.robot_id]
        if msg.event == TaskFeedback.EVENT_REJECTED:
            self.ops.task_finished(msg.task_id, False, now, f"robot refused the task: {msg.message}")
        elif msg.event == TaskFeedback.EVENT_STEP_DONE:
            self.ops.step_done(msg.task_id, msg.step_index, now)
        elif msg.event in (TaskFeedback.EVENT_SUCCEEDED, TaskFeedback.EVENT_FAILED):
            self._finished(msg.task_id, msg.event == TaskFeedback.EVENT_SUCCEEDED, msg.failure, msg.message)
        self._publish_events()

    def _send_goal(self, msg: TaskMsg) -> None:
        """The task as an ExecuteTask goal to its robot (per_robot transport)."""
        future = self.task_clients[msg.robot_id].send_goal_async(
            ExecuteTask.Goal(task=msg), feedback_callback=lambda fb, tid=msg.task_id: self.on_feedback(tid, fb))
        future.add_done_callback(lambda f, tid=msg.task_id: self.on_goal_response(tid, f))

    def _goal_answered(self, task_id: str, done: bool = False) -> None:
        """A robot's answer on its goal (per_robot): a robot that later names no such task lost it
        (:meth:`_check_task_held`)."""
        task = self.ops.tasks.get(task_id)
        if task is not None and not done:
            self.answered[task.robot] = (task_id, self.now(), None)
        elif task is not None and self.answered.get(task.robot, ("",))[0] == task_id:
            del self.answered[task.robot]

    def on_feedback(self, task_id: str, feedback) -> None:
        self._goal_answered(task_id)
        self.ops.step_done(task_id, feedback.feedback.step_index, self.now())
        self._publish_events()

    def on_goal_response(self, task_id: str, future) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.ops.task_finished(task_id, False, self.now(), "robot refused the task")
            self._publish_events()
            return
        self._goal_answered(task_id)
        handle.get_result_async().add_done_callback(lambda f: self.on_result(task_id, f))

    def on_result(self, task_id: str, future) -> None:
        self._goal_answered(task_id, done=True)
        result = future.result().result
        self._finished(task_id, result.success, result.failure, result.message)
        self._publish_events()

    def _finished(self, task_id: str, success: bool, failure: int, message: str) -> None:
        """A robot's final answer on a task (topic or action result)."""
        if not success and failure == TaskFeedback.FAILURE_LIFT:
            self.ops.lift_failed(task_id, self.now(), message)
        else:
            self.ops.task_finished(task_id, success, self.now(), message)

    def _publish_events(self) -> None:
        for ev in self.ops.drain_events():
            if isinstance(ev, operations.OrderEvent):
                self.order_pub.publish(conv.order_event_to_msg(ev))
            elif isinstance(ev, operations.ParcelEvent):
                self.parcel_pub.publish(conv.parcel_to_msg(ev.parcel))
            elif isinstance(ev, operations.ManifestEvent):
                self.manifest_pub.publish(conv.manifest_to_msg(ev.manifest))
            elif isinstance(ev, TrackingEventCore):
                self.tracking_pub.publish(conv.tracking_to_msg(ev))
            else:
                self.task_pub.publish(conv.task_event_to_msg(ev))


def main(args: list[str] | None = None) -> None:
    run_node(AllocatorNode, args)


if __name__ == "__main__":
    main()

"""All conversions between ROS messages and :mod:`warehouse_core` types, in one place."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Quaternion
from nav_msgs.msg import Odometry
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from warehouse_core import tasks, topics
from warehouse_core.analysis import side_channels
from warehouse_core.errors import InputError
from warehouse_core.fleet import deadlock_watch, execution
from warehouse_core.fleet.control import ControlState
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Layout
from warehouse_core.ops import operations, shipping
from warehouse_core.ops.orders import Order, OrderLine
from warehouse_core.ops.packing import Placement
from warehouse_core.sim import floor_sim
from warehouse_interfaces.msg import (
    DeadlockReport,
    DemandForecast,
    DriveCommand,
    FaultEvent,
    FleetControl,
    FleetRelease,
    FleetState,
    ForecastSummary,
    OpenOrders,
    OrderStatus,
    PackedItem,
    Parcel,
    ParcelManifest,
    PlannerStatus,
    RobotState,
    SimEvent,
    SimStatus,
    TaskStatus,
    TaskStep,
    TimedPath,
    TimedWaypoint,
    TrackingEvent,
    WaitStatus,
)
from warehouse_interfaces.msg import (
    Order as OrderMsg,
)
from warehouse_interfaces.msg import (
    OrderLine as OrderLineMsg,
)
from warehouse_interfaces.msg import (
    Task as TaskMsg,
)

MAP_FRAME = "map"


OPERATION_MODES = frozenset({RobotState.MODE_LIFTING, RobotState.MODE_DROPPING,
                             RobotState.MODE_PICKING, RobotState.MODE_CHARGING})
_WAIT_KINDS = {"none": WaitStatus.KIND_NONE, "robot": WaitStatus.KIND_ROBOT,
               "schedule": WaitStatus.KIND_SCHEDULE, "planning": WaitStatus.KIND_PLANNING,
               "operation": WaitStatus.KIND_OPERATION, "paused": WaitStatus.KIND_PAUSED}


def no_pub_events() -> PublisherEventCallbacks:
    """No QoS event handlers on a publisher. rclpy's default ones are waitables the executor
    scans on every spin (quadratic in their number): with hundreds of robot entities in one
    process they cost more than the messages. Used on the per-robot entities."""
    return PublisherEventCallbacks(use_default_callbacks=False)


def no_sub_events() -> SubscriptionEventCallbacks:
    """No QoS event handlers on a subscription (see :func:`no_pub_events`)."""
    return SubscriptionEventCallbacks(use_default_callbacks=False)


# -- fleet transport: how central nodes and robot nodes exchange tasks and states ----------
# "per_robot": ExecuteTask action per robot and /<robot>/state subscriptions (every robot a
#   separate DDS endpoint set: what tools expect of one robot, costly for hundreds);
# "batched": tasks on /tasks, answers on /fleet/task_feedback, states on /fleet/states
#   (robot containers send one FleetState for all their robots).
FLEET_TRANSPORTS = ("batched", "per_robot")


def check_fleet_transport(value: str, node: str) -> bool:
    """True for "batched"; a clear error for anything but the two transports."""
    if value not in FLEET_TRANSPORTS:
        raise InputError(f"parameter {node}.fleet_transport", f"unknown transport {value!r}",
                         fix=f"use one of {', '.join(FLEET_TRANSPORTS)}")
    return value == "batched"


def robot_name(i: int) -> str:
    return f"robot_{i}"


# -- time --------------------------------------------------------------------------------
def to_time(t: float) -> Time:
    """Seconds as a Time; rounded to the nanosecond, so 35.9999999999 is 36 s, not 35 s."""
    sec, nanosec = divmod(int(round(t * 1e9)), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def from_time(msg: Time) -> float:
    return msg.sec + msg.nanosec * 1e-9


def header(t: float, frame: str = MAP_FRAME) -> Header:
    return Header(stamp=to_time(t), frame_id=frame)


# -- orders ------------------------------------------------------------------------------
def order_from_msg(msg: OrderMsg) -> Order:
    """Core order from a submitted message, as it is: the allocator's checks refuse what is wrong
    (an empty order, oversized fields) with a reason and an event."""
    lines = [OrderLine(str(line.sku), int(line.quantity)) for line in msg.lines]
    created, deadline = from_time(msg.created), from_time(msg.deadline)
    return Order(str(msg.order_id), str(msg.consumer_id), tuple(lines), created, deadline,
                 int(msg.service))


def order_to_msg(order: Order) -> OrderMsg:
    return OrderMsg(order_id=order.order_id, consumer_id=order.consumer_id,
                    lines=[OrderLineMsg(sku=l.sku, quantity=l.quantity) for l in order.lines],
                    created=to_time(order.created), deadline=to_time(order.deadline),
                    service=order.service)


def order_event_to_msg(ev: operations.OrderEvent) -> OrderStatus:
    return OrderStatus(header=header(ev.time, ""), order_id=ev.order_id,
                       consumer_id=ev.consumer_id, state=ev.state, lines_total=ev.lines_total,
                       lines_picked=ev.lines_picked, reason=ev.reason)


def parcel_to_msg(p) -> Parcel:
    return Parcel(header=header(p.shipped_at, ""), parcel_id=p.parcel_id, consumer_id=p.consumer_id,
                  order_ids=list(p.order_ids), deadline=to_time(p.deadline), late=p.late)


def manifest_to_msg(m: shipping.Manifest) -> ParcelManifest:
    return ParcelManifest(
        header=header(m.shipped_at, ""), parcel_id=m.parcel_id, tracking_id=m.tracking_id,
        consumer_id=m.consumer_id, order_ids=list(m.order_ids), box_id=m.box.box_id,
        box_inner_dims=[float(d) for d in m.box.inner_dims_m], dims=[float(d) for d in m.box.outer_dims_m],
        box_surface=float(m.box.surface_m2), weight=float(m.weight_kg), utilisation=float(m.utilisation),
        solve_time=float(m.solve_s),
        items=[PackedItem(sku=p.sku, dims=[float(d) for d in p.dims_m], position=[float(v) for v in p.position_m],
                          weight=float(p.weight_kg)) for p in m.items])


def manifest_json(msg: ParcelManifest) -> dict:
    """The ``parcels.jsonl`` record of a manifest message (:func:`warehouse_core.ops.shipping.parcel_record`)."""
    return shipping.parcel_record(
        parcel_id=msg.parcel_id, tracking_id=msg.tracking_id, consumer_id=msg.consumer_id, order_ids=msg.order_ids,
        box_id=msg.box_id, inner_dims_m=msg.box_inner_dims, outer_dims_m=msg.dims, surface_m2=msg.box_surface,
        items=[Placement(it.sku, tuple(it.dims), tuple(it.position), it.weight) for it in msg.items],
        weight_kg=msg.weight, utilisation=msg.utilisation, shipped_at=from_time(msg.header.stamp))


_STAGES = {"picked": TrackingEvent.STAGE_PICKED, "packed": TrackingEvent.STAGE_PACKED,
           "dispatched": TrackingEvent.STAGE_DISPATCHED}


def tracking_to_msg(ev: shipping.TrackingEvent) -> TrackingEvent:
    return TrackingEvent(header=header(ev.time, ""), tracking_id=ev.tracking_id, parcel_id=ev.parcel_id,
                         stage=_STAGES[ev.stage])


# -- tasks -------------------------------------------------------------------------------
def task_to_msg(task: operations.Task) -> TaskMsg:
    return TaskMsg(
        task_id=task.task_id, type=task.type, robot_id=task.robot, rack_id=task.rack,
        station_id=task.station, order_ids=task.order_ids,
        lines=[OrderLineMsg(sku=l.sku, quantity=l.quantity) for l in task.lines],
        steps=[TaskStep(cell_x=s.cell[0], cell_y=s.cell[1], op=s.op, duration=float(s.duration))
               for s in task.steps],
        created=to_time(task.created), deadline=to_time(task.deadline))


def steps_from_msg(steps: list[TaskStep]) -> list[tasks.TaskStep]:
    return [tasks.TaskStep((int(s.cell_x), int(s.cell_y)), int(s.op), float(s.duration))
            for s in steps]


def task_event_to_msg(ev: operations.TaskEvent) -> TaskStatus:
    t = ev.task
    return TaskStatus(header=header(ev.time, ""), task_id=t.task_id, robot_id=t.robot,
                      state=ev.state, step_index=ev.step_index, rack_id=t.rack,
                      station_id=t.station, order_ids=t.order_ids, message=ev.message)


# -- paths -------------------------------------------------------------------------------
def segment_to_msg(layout: Layout, seg, start_step: int, step_duration: float, now: float) -> TimedPath:
    """A :class:`warehouse_core.fleet.fleet_planner.Segment` as a ``TimedPath`` (``first_index`` set)."""
    xs, ys = layout.frame.cells_to_world([c[0] for c in seg.cells], [c[1] for c in seg.cells])
    wps = []
    for k, c in enumerate(seg.cells):
        i = seg.first_index + k
        op, dur = seg.op_at(i)
        wps.append(TimedWaypoint(x=float(xs[k]), y=float(ys[k]), cell_x=c[0], cell_y=c[1],
                                 stamp=to_time((start_step + i) * step_duration), op=op,
                                 op_duration=float(dur), carrying=seg.carrying[k]))
    return TimedPath(header=header(now), robot_id=seg.robot, task_id=seg.task_id, plan_id=seg.plan_id,
                     step_duration=step_duration, start_step=start_step, first_index=seg.first_index,
                     waypoints=wps)


def sim_waypoints(path: TimedPath, first: int, last: int) -> list[floor_sim.Waypoint]:
    return [floor_sim.Waypoint(i, (w.cell_x, w.cell_y), w.x, w.y, w.op, w.op_duration)
            for i, w in enumerate(path.waypoints[first:last + 1], start=first)]


def drive_command(path: TimedPath, first: int, last: int, now: float) -> DriveCommand:
    return DriveCommand(header=header(now), robot_id=path.robot_id, plan_id=path.plan_id,
                        first_index=first, waypoints=list(path.waypoints[first:last + 1]))


def drive_from_msg(msg: DriveCommand) -> list[floor_sim.Waypoint]:
    return [floor_sim.Waypoint(i, (w.cell_x, w.cell_y), w.x, w.y, w.op, w.op_duration)
            for i, w in enumerate(msg.waypoints, start=msg.first_index)]


def release_msg(releases: dict[str, tuple[int, int]], now: float) -> FleetRelease:
    names = sorted(releases)
    return FleetRelease(header=header(now), robot_ids=names,
                        plan_ids=[releases[n][0] for n in names],
                        release_indices=[releases[n][1] for n in names])


def wait_to_msg(w: execution.WaitStatus, grid) -> WaitStatus:
    cx, cy = grid.coord(w.cell) if w.cell >= 0 else (-1, -1)
    return WaitStatus(robot_id=w.agent, kind=_WAIT_KINDS[w.kind], blocker=w.blocker,
                      cell_x=cx, cell_y=cy, since=to_time(w.since), chain=list(w.chain))


# -- robots ------------------------------------------------------------------------------
def yaw_to_quaternion(yaw: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def odometry(state: RobotState) -> Odometry:
    """Odometry as a base would report it; poses are in the ``map`` frame (perfect localisation)."""
    msg = Odometry()
    msg.header = Header(stamp=state.header.stamp, frame_id=MAP_FRAME)
    msg.child_frame_id = f"{state.robot_id}/base_link"
    msg.pose.pose.position.x = state.x
    msg.pose.pose.position.y = state.y
    msg.pose.pose.orientation = yaw_to_quaternion(state.theta)
    msg.twist.twist.linear.x = state.linear_velocity
    return msg


# -- visualisation -----------------------------------------------------------------------
_COLORS = {"robot": (0.1, 0.4, 0.9, 1.0), "rack": (0.6, 0.45, 0.2, 0.8),
           "station": (0.1, 0.7, 0.2, 0.9), "charger": (0.9, 0.8, 0.1, 0.9),
           "path": (0.9, 0.2, 0.2, 0.8)}


def _marker(ns: str, mid: int, mtype: int, now: float, scale: float) -> Marker:
    m = Marker(header=header(now), ns=ns, id=mid, type=mtype, action=Marker.ADD)
    m.pose.orientation.w = 1.0
    m.scale.x = m.scale.y = m.scale.z = scale
    m.color = ColorRGBA(r=_COLORS[ns][0], g=_COLORS[ns][1], b=_COLORS[ns][2], a=_COLORS[ns][3])
    return m


def fleet_markers(layout: Layout, robots: dict[str, tuple[float, float]],
                  rack_cells: list[Coord], paths: dict[str, list[Coord]], now: float,
                  floor_points: dict[Coord, Point] | None = None) -> MarkerArray:
    """Robots (spheres), racks, stations and chargers (cube lists) and planned paths (lines).

    ``floor_points`` caches the cube centres by cell between calls (thousands of racks)."""
    cache = {} if floor_points is None else floor_points

    def floor_point(cell: Coord) -> Point:
        if cell not in cache:
            x, y = layout.cell_to_world(cell)
            cache[cell] = Point(x=x, y=y, z=0.0)
        return cache[cell]

    out = MarkerArray()
    m = _marker("robot", 0, Marker.SPHERE_LIST, now, 0.6)
    m.points = [Point(x=x, y=y, z=0.3) for x, y in robots.values()]
    out.markers.append(m)
    for ns, cells in (("rack", rack_cells), ("station", [s.pick_cell for s in layout.stations]),
                      ("charger", [c.cell for c in layout.chargers])):
        m = _marker(ns, 0, Marker.CUBE_LIST, now, 0.8 * layout.frame.cell_size)
        m.points = [floor_point(c) for c in cells]
        out.markers.append(m)
    for i, (_name, cells) in enumerate(sorted(paths.items())):
        m = _marker("path", i, Marker.LINE_STRIP, now, 0.08)
        m.points = [Point(x=x, y=y, z=0.05) for x, y in map(layout.cell_to_world, cells)]
        out.markers.append(m)
    return out


# -- batched fleet state (parallel arrays) ------------------------------------------------
def fleet_state_msg(states: list[RobotState], now: float) -> FleetState:
    """Many robots' states as one FleetState (parallel arrays)."""
    return FleetState(
        header=header(now), robot_ids=[s.robot_id for s in states], modes=bytes(s.mode for s in states),
        x=[s.x for s in states], y=[s.y for s in states], theta=[s.theta for s in states],
        linear_velocity=[s.linear_velocity for s in states], cell_x=[s.cell_x for s in states],
        cell_y=[s.cell_y for s in states], carrying_rack=[s.carrying_rack for s in states],
        battery=[s.battery for s in states], task_ids=[s.task_id for s in states],
        plan_ids=[s.plan_id for s in states], progress_index=[s.progress_index for s in states])


def sim_fleet_state(robots: list[floor_sim.SimRobot], now: float) -> FleetState:
    """The floor simulator's robots as one FleetState (no task ids: the base does not know them)."""
    return FleetState(
        header=header(now), robot_ids=[r.name for r in robots], modes=bytes(r.mode for r in robots),
        x=[r.x for r in robots], y=[r.y for r in robots], theta=[r.theta for r in robots],
        linear_velocity=[r.v for r in robots], cell_x=[r.cell[0] for r in robots],
        cell_y=[r.cell[1] for r in robots], carrying_rack=[r.carrying for r in robots],
        battery=[float(r.battery) for r in robots], plan_ids=[r.plan_id for r in robots],
        progress_index=[r.reached for r in robots])


def fleet_state_entry(msg: FleetState, i: int) -> RobotState:
    """Entry ``i`` of a FleetState as a RobotState."""
    return RobotState(
        header=msg.header, robot_id=msg.robot_ids[i], mode=msg.modes[i], x=float(msg.x[i]),
        y=float(msg.y[i]), theta=float(msg.theta[i]), linear_velocity=float(msg.linear_velocity[i]),
        cell_x=int(msg.cell_x[i]), cell_y=int(msg.cell_y[i]), carrying_rack=msg.carrying_rack[i],
        battery=float(msg.battery[i]), task_id=msg.task_ids[i] if len(msg.task_ids) > i else "",
        plan_id=int(msg.plan_ids[i]), progress_index=int(msg.progress_index[i]))


def fleet_state_entries(msg: FleetState) -> list[RobotState]:
    return [fleet_state_entry(msg, i) for i in range(len(msg.robot_ids))]


def forecast_to_msg(demand: dict[str, float], model: str, horizon: int, stamp: Time) -> DemandForecast:
    """Units per SKU and period as a DemandForecast (its evaluation goes on /forecast/summary)."""
    skus = sorted(demand)
    return DemandForecast(header=Header(stamp=stamp), model=model, horizon=horizon, skus=skus,
                          units_per_period=[float(demand[s]) for s in skus])


def forecast_from_msg(msg: DemandForecast) -> dict[str, float]:
    """Units per SKU and period; a malformed forecast is an InputError naming the topic."""
    units = list(msg.units_per_period)
    if len(units) != len(msg.skus):
        raise InputError(topics.FORECAST_DEMAND.name, f"{len(msg.skus)} skus but {len(units)} units_per_period",
                         fix="publish one forecast value per SKU")
    bad = [s for s, u in zip(msg.skus, units) if not (math.isfinite(u) and u >= 0)]
    if bad:
        raise InputError(topics.FORECAST_DEMAND.name, f"forecast of {bad[0]!r} (and {len(bad) - 1} more) is "
                         "not a finite number >= 0", fix="publish finite non-negative units per period")
    return dict(zip(msg.skus, units))



# -- side channels: simulator events, faults, deadlock reports, open orders, status, forecast --
# (their records, and the codes by name: warehouse_core.analysis.side_channels)
def _codes(names: dict[int, str]) -> dict[str, int]:
    return {name: code for code, name in names.items()}


_SIM_EVENT_CODES = _codes(side_channels.SIM_EVENTS)
_FAULT_CODES = _codes(side_channels.FAULT_EVENTS)
_SIM_PHASE_CODES = _codes(side_channels.SIM_PHASES)


def sim_event_msg(event: str, robot: str, now: float, reason: str = "", rack: str | None = "",
                  location: str = "", waypoint: int = -1) -> SimEvent:
    """A floor simulator event (``event``: robot_failed, robot_removed, lift_failed, drop_failed)."""
    return SimEvent(header=header(now, ""), event=_SIM_EVENT_CODES[event], robot_id=robot, reason=reason,
                    rack_id=rack or "", location_id=location or "", waypoint=int(waypoint))


def fault_event_msg(note: dict, now: float) -> FaultEvent:
    """A fault announcement of the core (:class:`~warehouse_core.sim.fault_injection.FloorFaults`,
    :class:`~warehouse_core.sim.link_faults.LinkFaults`) as a FaultEvent."""
    cell = note.get("cell")
    return FaultEvent(
        header=header(now, ""), event=_FAULT_CODES[note["event"]], kind=note["kind"],
        robot_id=note.get("robot", ""), rack_id=note.get("rack", ""), has_cell=cell is not None,
        cell_x=int(cell[0]) if cell is not None else 0, cell_y=int(cell[1]) if cell is not None else 0,
        seconds=float(note.get("seconds", 0.0)), delayed_s=float(note.get("delayed_s", 0.0)),
        tow_after=float(note.get("tow_after", 0.0)), delay=float(note.get("delay", 0.0)),
        loss=float(note.get("loss", 0.0)), states_dropped=int(note.get("states_dropped", 0)),
        states_delayed=int(note.get("states_delayed", 0)), releases_dropped=int(note.get("releases_dropped", 0)),
        reason=note.get("why", ""))


def deadlock_detected_msg(d: deadlock_watch.Deadlock) -> DeadlockReport:
    return DeadlockReport(header=header(d.detected_at, ""), event=DeadlockReport.EVENT_DETECTED, deadlock_id=d.id,
                          robot_id=d.chain[0], chain=list(d.chain), cycle=d.cycle, reason=d.reason)


def deadlock_resolved_msg(d: deadlock_watch.Deadlock, now: float) -> DeadlockReport:
    return DeadlockReport(header=header(now, ""), event=DeadlockReport.EVENT_RESOLVED, deadlock_id=d.id,
                          after_s=float(now - d.detected_at))


def open_orders_msg(order_ids: list[str], now: float) -> OpenOrders:
    return OpenOrders(header=header(now, ""), order_ids=sorted(order_ids))


def planner_status_msg(counters: dict[str, int], now: float) -> PlannerStatus:
    """The planner's counters (keys: :data:`~warehouse_core.analysis.side_channels.PLANNER_COUNTERS`)."""
    return PlannerStatus(header=header(now, ""), **{k: int(counters[k]) for k in side_channels.PLANNER_COUNTERS})


def sim_status_msg(phase: str, counters: dict[str, int], now: float) -> SimStatus:
    """The simulator's counters (keys: :data:`~warehouse_core.analysis.side_channels.SIM_COUNTERS`)."""
    return SimStatus(header=header(now, ""), phase=_SIM_PHASE_CODES[phase],
                     **{k: int(counters[k]) for k in side_channels.SIM_COUNTERS})


def forecast_summary_msg(summary: dict, stamp: Time) -> ForecastSummary:
    """:func:`warehouse_core.ops.forecast.evaluation_summary` (with ``computed_in_s``) as a message."""
    return ForecastSummary(header=Header(stamp=stamp), model=str(summary["model"]),
                           ets_model=str(summary["ets_model"]), mase=float(summary["mase"]),
                           seasonal_naive_mase=float(summary["seasonal_naive_mase"]), series=int(summary["series"]),
                           periods=int(summary["periods"]), folds=int(summary["folds"]),
                           horizon=int(summary["horizon"]), source=str(summary["source"]),
                           computed_in_s=float(summary["computed_in_s"]))


def control_to_msg(state: ControlState, now: float, last_action: str = "") -> FleetControl:
    """The operators' control state (:mod:`warehouse_core.fleet.control`) as latched on /fleet/control."""
    return FleetControl(header=header(now), seq=state.seq, paused=state.paused, estop=state.estop,
                        zones=[int(v) for z in state.zones for v in z], out_of_service=sorted(state.out_of_service),
                        last_action=last_action)


def control_from_msg(msg: FleetControl) -> ControlState:
    """/fleet/control -> the control state (zones from their flat x0, y0, x1, y1 list)."""
    v = [int(x) for x in msg.zones]
    zones = [tuple(v[i:i + 4]) for i in range(0, len(v) - len(v) % 4, 4)]
    return ControlState(bool(msg.paused), bool(msg.estop), zones, set(msg.out_of_service), int(msg.seq))

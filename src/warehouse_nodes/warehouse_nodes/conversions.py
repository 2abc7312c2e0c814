"""All conversions between ROS messages and :mod:`warehouse_core` types, in one place."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Quaternion
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from warehouse_core import execution, floor_sim, operations, shipping
from warehouse_core.errors import InputError
from warehouse_core.grid import Coord
from warehouse_core.layout import Layout
from warehouse_core.orders import Order, OrderLine
from warehouse_interfaces.msg import (
    DriveCommand,
    FleetRelease,
    OrderStatus,
    PackedItem,
    Parcel,
    ParcelManifest,
    RobotState,
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
               "operation": WaitStatus.KIND_OPERATION}


# Event streams are latched with this much history, so that a subscriber that matches late
# (the run monitor, a dashboard) still receives every event of a normal run.
EVENT_TOPICS = frozenset({"/order_status", "/task_status", "/tasks", "/parcels", "/orders",
                          "/parcels/manifests", "/parcels/tracking", "/forecast/summary"})
EVENT_HISTORY = 5000
PATH_HISTORY = 1000  # path segments the planner keeps per robot for late joiners


def latched_qos(depth: int = 1) -> QoSProfile:
    """Reliable, transient-local: late joiners get the last ``depth`` messages of each writer."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def robot_name(i: int) -> str:
    return f"robot_{i}"


# -- time --------------------------------------------------------------------------------
def to_time(t: float) -> Time:
    sec = math.floor(t)
    return Time(sec=int(sec), nanosec=int(round((t - sec) * 1e9)) % 1_000_000_000)


def from_time(msg: Time) -> float:
    return msg.sec + msg.nanosec * 1e-9


def header(t: float, frame: str = MAP_FRAME) -> Header:
    return Header(stamp=to_time(t), frame_id=frame)


# -- orders ------------------------------------------------------------------------------
def order_from_msg(msg: OrderMsg) -> Order:
    """Core order from a submitted message; malformed fields raise InputError."""
    lines = [OrderLine(str(line.sku), int(line.quantity)) for line in msg.lines]
    created, deadline = from_time(msg.created), from_time(msg.deadline)
    if not msg.lines:
        raise InputError("SubmitOrder.order", "lines is empty", fix="add at least one line")
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
    """The ``parcels.jsonl`` record of a manifest message (field names are a contract)."""
    def r(v) -> list[float]:
        return [round(float(x), 6) for x in v]
    return {
        "parcel_id": msg.parcel_id, "tracking_id": msg.tracking_id, "consumer_id": msg.consumer_id,
        "order_ids": list(msg.order_ids),
        "box": {"id": msg.box_id, "inner_dims_m": r(msg.box_inner_dims), "outer_dims_m": r(msg.dims),
                "surface_m2": round(msg.box_surface, 6)},
        "items": [{"sku": it.sku, "dims_m": r(it.dims), "position_m": r(it.position),
                   "weight_kg": round(it.weight, 4)} for it in msg.items],
        "weight_kg": round(msg.weight, 4), "dims_m": r(msg.dims), "utilisation": round(msg.utilisation, 4),
        "shipped_at_s": round(from_time(msg.header.stamp), 3),
    }


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


def steps_from_msg(steps: list[TaskStep]) -> list[operations.Step]:
    return [operations.Step((int(s.cell_x), int(s.cell_y)), int(s.op), float(s.duration))
            for s in steps]


def task_event_to_msg(ev: operations.TaskEvent) -> TaskStatus:
    t = ev.task
    return TaskStatus(header=header(ev.time, ""), task_id=t.task_id, robot_id=t.robot,
                      state=ev.state, step_index=ev.step_index, rack_id=t.rack,
                      station_id=t.station, order_ids=t.order_ids, message=ev.message)


# -- paths -------------------------------------------------------------------------------
def segment_to_msg(layout: Layout, seg, start_step: int, step_duration: float, now: float) -> TimedPath:
    """A :class:`warehouse_core.fleet_planner.Segment` as a ``TimedPath`` (``first_index`` set)."""
    xs, ys = layout.frame.cells_to_world([c[0] for c in seg.cells], [c[1] for c in seg.cells])
    wps = []
    for k, c in enumerate(seg.cells):
        i = seg.first_index + k
        op, dur = seg.ops.get(i, (0, 0.0))
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
def sim_robot_to_state(r: floor_sim.SimRobot, now: float) -> RobotState:
    return RobotState(header=header(now), robot_id=r.name, mode=r.mode, x=r.x, y=r.y,
                      theta=r.theta, linear_velocity=r.v, cell_x=r.cell[0], cell_y=r.cell[1],
                      carrying_rack=r.carrying, battery=float(r.battery), plan_id=r.plan_id,
                      progress_index=r.reached)


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
                  rack_cells: list[Coord], paths: dict[str, list[Coord]], now: float) -> MarkerArray:
    """Robots (spheres), racks, stations and chargers (cube lists) and planned paths (lines)."""
    out = MarkerArray()
    m = _marker("robot", 0, Marker.SPHERE_LIST, now, 0.6)
    m.points = [Point(x=x, y=y, z=0.3) for x, y in robots.values()]
    out.markers.append(m)
    for ns, cells in (("rack", rack_cells), ("station", [s.pick_cell for s in layout.stations]),
                      ("charger", [c.cell for c in layout.chargers])):
        m = _marker(ns, 0, Marker.CUBE_LIST, now, 0.8 * layout.frame.cell_size)
        m.points = [Point(x=x, y=y, z=0.0) for x, y in map(layout.cell_to_world, cells)]
        out.markers.append(m)
    for i, (_name, cells) in enumerate(sorted(paths.items())):
        m = _marker("path", i, Marker.LINE_STRIP, now, 0.08)
        m.points = [Point(x=x, y=y, z=0.05) for x, y in map(layout.cell_to_world, cells)]
        out.markers.append(m)
    return out

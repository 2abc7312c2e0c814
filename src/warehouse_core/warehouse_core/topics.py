"""Every topic and service of the stack: its name, message type and QoS, declared once.

The nodes create their publishers and subscriptions from these declarations
(:mod:`warehouse_nodes.channels` turns a :class:`Qos` into an rclpy profile), the run recorder
and the bag replay take names, types and QoS from here, and the bag analysis the names and types
of what it reads. Plain data, no ROS: the analysis of a bag runs without a ROS installation.

Every topic is reliable. A *latched* topic (transient local) hands a reader that matches late
the writer's last ``depth`` messages: event streams, so that a monitor started after the nodes
misses nothing, and state that changes rarely (forecast, status counters). A reader keeps its own
queue (``reader``) when many writers feed it or when it must not get the history (robots read
``/tasks`` volatile: a restarted robot must not replay old tasks).

Per-robot topics are templates (``/{robot}/path``): :meth:`Topic.of` names a robot's topic,
:attr:`Topic.relative` is the name inside the robot's namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

IFACE = "warehouse_interfaces/msg/"
LEGACY_STRING = "std_msgs/msg/String"  # the side channels' type in bags recorded before their messages


@dataclass(frozen=True)
class Qos:
    """Reliable delivery with a history of ``depth`` messages; ``latched``: transient local."""

    depth: int
    latched: bool = False
    # a reader that also matches best-effort writers (sensor-data QoS: batteries, vendor drivers)
    best_effort: bool = False

    def deeper(self, depth: int) -> Qos:
        """The same durability with at least ``depth`` messages of history (a recorder's queue)."""
        return replace(self, depth=max(self.depth, depth))


@dataclass(frozen=True)
class Topic:
    """A topic: name (a template with ``{robot}`` for per-robot topics), type, writer QoS and,
    when it differs, the QoS of its readers."""

    name: str
    msgtype: str  # "pkg/msg/Type", as bags store it
    qos: Qos
    reader_qos: Qos | None = None

    @property
    def reader(self) -> Qos:
        return self.reader_qos or self.qos

    def of(self, robot: str) -> str:
        """The topic of one robot (``/robot_3/path``)."""
        return self.name.format(robot=robot)

    @property
    def relative(self) -> str:
        """The name inside the robot's namespace (``path``), for the robot's own node."""
        return self.name.removeprefix("/{robot}/")


@dataclass(frozen=True)
class Service:
    """A service (or, with ``action``, an action): name and type; ``depth`` 0 is the default queue."""

    name: str
    srvtype: str
    depth: int = 0
    action: bool = False

    def of(self, robot: str) -> str:
        return self.name.format(robot=robot)

    @property
    def relative(self) -> str:
        return self.name.removeprefix("/{robot}/")


# -- histories --------------------------------------------------------------------------
# Event streams are latched with this much history, so that a subscriber that matches late
# (the run monitor, a dashboard) still receives every event of a normal run.
EVENT_HISTORY = 5000  # latched events kept per writer: a 10,000-order burst must reach a slow reader
# Latched history of the slower event topics (/tasks and the parcel topics: ~1,000 an hour at 100
# robots). The writer's kept samples are memory (~0.5-1 kB each): this fills in about an hour and then
# stays flat, where EVENT_HISTORY would keep the allocator growing for 5-8 simulated hours.
SLOW_EVENT_HISTORY = 1000
# Side channels (simulator events, faults, deadlock reports): rare, small, and a late reader
# (the run monitor counts them for the report) must get them all.
SIDE_HISTORY = 1000
# Path segments the planner keeps per robot for a robot node that matches late (start-up: about
# 3 simulated minutes of segments at 100 robots). A robot that goes silent is failed and towed, not
# resumed, so no later joiner needs more. Each kept sample is writer memory (~0.5 kB with Fast DDS's
# bookkeeping, its buffer growing to the longest segment it ever held): 1,000 per robot took ~50 MB
# in the planner at 100 robots and kept it growing for hours as longer segments came by.
PATH_HISTORY = 100
SUBMIT_QUEUE = 20_000  # /submit_order requests (and answers) queued before any is dropped
RECORD_DEPTH = 200  # the recorder's queue on a volatile topic (it must keep up with a planning round)

_STREAM = Qos(10)
_EVENTS = Qos(EVENT_HISTORY, latched=True)
_SLOW_EVENTS = Qos(SLOW_EVENT_HISTORY, latched=True)
_SIDE = Qos(SIDE_HISTORY, latched=True)
_LAST = Qos(1, latched=True)  # the latest value for a late reader

# -- time and the simulated floor --------------------------------------------------------
CLOCK = Topic("/clock", "rosgraph_msgs/msg/Clock", _STREAM)
SIM_FLEET_STATE = Topic("/sim/fleet_state", IFACE + "FleetState", _STREAM)  # ground truth, every tick
SIM_STATUS = Topic("/sim/status", IFACE + "SimStatus", _LAST)
# hundreds of robots each send a command in the same planning round: the simulator keeps them all;
# a robot container sends its robots' commands through one writer, a round's burst fits in it
SIM_DRIVE = Topic("/sim/drive", IFACE + "DriveCommand", Qos(100), Qos(2000))
# stamp of the last fleet state a robot container handed to its robots; frame_id: which container
SIM_PROGRESS = Topic("/sim/progress", "std_msgs/msg/Header", _STREAM, Qos(100))
SIM_EVENTS = Topic("/sim/events", IFACE + "SimEvent", _SIDE)
SIM_FAULTS = Topic("/sim/faults", IFACE + "FaultEvent", _SIDE)  # written by the simulator and the planner
SIM_FAIL_ROBOT = Service("/sim/fail_robot", "warehouse_interfaces/srv/FailRobot")

# -- the fleet -----------------------------------------------------------------------------
FLEET_RELEASE = Topic("/fleet/release", IFACE + "FleetRelease", _STREAM)
FLEET_PLAN = Topic("/fleet/plan", IFACE + "FleetPlan", _STREAM)
# operator control (pause, e-stop, out of service), latched: a late or restarted reader obeys the last state
FLEET_CONTROL = Topic("/fleet/control", IFACE + "FleetControl", _LAST)
FLEET_COMMAND = Service("/fleet/command", "warehouse_interfaces/srv/FleetCommand")
ORDER_CANCEL = Service("/orders/cancel", "warehouse_interfaces/srv/CancelOrder")
ORDER_UPDATE = Service("/orders/update", "warehouse_interfaces/srv/UpdateOrder")
FLEET_ROBOT_SERVICE = Service("/fleet/robot_service", "warehouse_interfaces/srv/SetRobotService")
FLEET_WAITS = Topic("/fleet/waits", IFACE + "FleetWaits", _STREAM)
FLEET_STATES = Topic("/fleet/states", IFACE + "FleetState", _STREAM, Qos(100))  # batched transport
TASK_FEEDBACK = Topic("/fleet/task_feedback", IFACE + "TaskFeedback", Qos(500))  # batched transport
# the allocator latches tasks for the recorder; robots read them volatile (a restarted robot must
# not replay old tasks: the allocator repeats a task until it is answered)
TASKS = Topic("/tasks", IFACE + "Task", _SLOW_EVENTS, Qos(100))
ROBOT_PATH = Topic("/{robot}/path", IFACE + "TimedPath", Qos(PATH_HISTORY, latched=True))
ROBOT_STATE = Topic("/{robot}/state", IFACE + "RobotState", _STREAM)  # per-robot transport
ROBOT_ODOM = Topic("/{robot}/odom", "nav_msgs/msg/Odometry", _STREAM)  # in <robot>/odom (REP-105)
# the robot's pose in map (odometry with the localisation's map -> odom correction)
ROBOT_MAP_POSE = Topic("/{robot}/map_pose", "geometry_msgs/msg/PoseWithCovarianceStamped", _STREAM)
# map -> <robot>/odom whenever it changes (the /tf transform, for a graph without tf2_msgs);
# latched: a late reader still learns the last correction
ROBOT_MAP_TO_ODOM = Topic("/{robot}/map_to_odom", "geometry_msgs/msg/TransformStamped", _LAST)
# localisation source (amcl_pose convention: PoseWithCovarianceStamped in map), robot-relative
ROBOT_LOCALISATION = Topic("/{robot}/amcl_pose", "geometry_msgs/msg/PoseWithCovarianceStamped", _STREAM,
                           Qos(10, best_effort=True))
TF = Topic("/tf", "tf2_msgs/msg/TFMessage", Qos(100))  # only where tf2_msgs is installed
# -- robot base (what a driver provides; robot-relative, remappable) ------------------------
# Sensor topics are read best effort: that reader matches reliable and best-effort (sensor-data QoS)
# writers alike, where a reliable reader would miss a best-effort battery driver.
_SENSOR = Qos(10, best_effort=True)
BASE_BATTERY = Topic("/{robot}/base/battery", "sensor_msgs/msg/BatteryState", _STREAM, _SENSOR)
BASE_RACK_PRESENT = Topic("/{robot}/base/rack_present", "std_msgs/msg/Bool", _STREAM, _SENSOR)
# read volatile (no history reaches a late reader): a driver re-publishes the stop state about once a second
BASE_PROTECTIVE_STOP = Topic("/{robot}/base/protective_stop", "std_msgs/msg/Bool", _STREAM, _SENSOR)
BASE_OPERATION = Service("/{robot}/base_operation", "warehouse_interfaces/action/BaseOperation", action=True)
# the driver's side of odometry and velocity commands (the robot node's odom_topic and cmd_vel_topic defaults);
# cmd_vel is geometry_msgs/TwistStamped where the base takes it stamped (Kilted and later)
BASE_ODOM = Topic("/{robot}/base/odom", "nav_msgs/msg/Odometry", _STREAM, _SENSOR)  # in <robot>/odom
BASE_CMD_VEL = Topic("/{robot}/cmd_vel", "geometry_msgs/msg/Twist", _STREAM)
ROBOT_EXECUTE_TASK = Service("/{robot}/execute_task", "warehouse_interfaces/action/ExecuteTask", action=True)

# -- planner -------------------------------------------------------------------------------
# each robot latches its last request; the planner reads those of every robot
PLANNER_REQUESTS = Topic("/planner/requests", IFACE + "PlanRequest", _LAST, Qos(1000, latched=True))
PLANNER_STATUS = Topic("/planner/status", IFACE + "PlannerStatus", _LAST)
PLANNER_DEADLOCKS = Topic("/planner/deadlocks", IFACE + "DeadlockReport", _SIDE)
PLANNER_MARKERS = Topic("/planner/markers", "visualization_msgs/msg/MarkerArray", Qos(1))
PLANNER_EXPLAIN_WAIT = Service("/planner/explain_wait", "warehouse_interfaces/srv/ExplainWait")

# -- orders, allocation, shipping, forecast -----------------------------------------------
ORDERS = Topic("/orders", IFACE + "Order", _EVENTS)
ORDER_STATUS = Topic("/order_status", IFACE + "OrderStatus", _EVENTS)
TASK_STATUS = Topic("/task_status", IFACE + "TaskStatus", _EVENTS)
PARCELS = Topic("/parcels", IFACE + "Parcel", _SLOW_EVENTS)
PARCEL_MANIFESTS = Topic("/parcels/manifests", IFACE + "ParcelManifest", _SLOW_EVENTS)
PARCEL_TRACKING = Topic("/parcels/tracking", IFACE + "TrackingEvent", _SLOW_EVENTS)
ALLOCATOR_OPEN_ORDERS = Topic("/allocator/open_orders", IFACE + "OpenOrders", _LAST)
# stamp: sim time of the allocator's last round. Latched: the simulator holds time back until the
# allocator's next round, and a (re)started allocator does that round as soon as it has the held
# time, maybe before its new participant has discovered the simulator's reader: a volatile
# message would be lost and time held for ever; the last one is kept for a late match instead.
ALLOCATOR_PROGRESS = Topic("/allocator/progress", "std_msgs/msg/Header", _LAST)
# reliable with a deep queue on both sides, so that a burst of thousands of requests waits for the
# allocator instead of overwriting requests not yet served (the default service queue keeps 10)
SUBMIT_ORDER = Service("/submit_order", "warehouse_interfaces/srv/SubmitOrder", SUBMIT_QUEUE)
# served by the run monitor of ./warehouse run: ends the run, writing its report (the API's shutdown)
RUN_END = Service("/run/end", "warehouse_interfaces/srv/EndRun")
FORECAST_DEMAND = Topic("/forecast/demand", IFACE + "DemandForecast", _LAST)
FORECAST_SUMMARY = Topic("/forecast/summary", IFACE + "ForecastSummary", _LAST)

# -- operations --------------------------------------------------------------------------------
# every long-running node (robot containers: one per container) about once a wall-clock second,
# read by diagnostic_aggregator / rqt_robot_monitor (reliable, volatile: a late reader waits a second)
DIAGNOSTICS = Topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", _STREAM, Qos(100))
# a managed (lifecycle) node's services, which rclpy's LifecycleNode serves; the lifecycle manager's
# clients. Templates like a robot's: ``of(node)`` names the managed node's service
LIFECYCLE_GET_STATE = Service("/{robot}/get_state", "lifecycle_msgs/srv/GetState")
LIFECYCLE_CHANGE_STATE = Service("/{robot}/change_state", "lifecycle_msgs/srv/ChangeState")

# Side channels whose messages were std_msgs/String (JSON or k=v text) before they were typed:
# the bag analysis reads both forms.
SIDE_CHANNELS = (SIM_EVENTS, SIM_FAULTS, PLANNER_DEADLOCKS, ALLOCATOR_OPEN_ORDERS, PLANNER_STATUS, SIM_STATUS,
                 FORECAST_SUMMARY)


def all_topics() -> list[Topic]:
    """Every topic declared here."""
    return [v for v in globals().values() if isinstance(v, Topic)]


def by_name(name: str) -> Topic | None:
    """The declared topic named ``name`` (a robot's topic matches its template), else None."""
    for t in all_topics():
        if t.name == name or ("{robot}" in t.name and _matches(t.name, name)):
            return t
    return None


def _matches(template: str, name: str) -> bool:
    head, tail = template.split("{robot}")
    return name.startswith(head) and name.endswith(tail) and "/" not in name[len(head):len(name) - len(tail)] \
        and len(name) > len(head) + len(tail)

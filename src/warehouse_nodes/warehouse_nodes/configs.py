"""The typed settings of every node: each field is one ROS parameter, its default and its description.

This module is the one place a parameter's default is written. ``config/warehouse.yaml`` and
``config/robot_hardware.yaml`` repeat the values a deployment sees, and mark the ones that differ
from these defaults ``# override:``; the launch files and ``./warehouse run`` pass only what their
own arguments set. Nodes declare their config with :func:`warehouse_nodes.params.declare_config`
(read-only parameters, read once at start). Units are REP-103 (m, s, rad); ``[s, wall]`` marks
wall-clock seconds, every other time is simulated (node clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warehouse_nodes.params import param

# Parameters several nodes declare, with one default and one meaning: (default, description, lowest value).
_COMMON: dict[str, tuple[Any, str, float | None]] = {
    "layout": ("maps/warehouse_layout.yaml", "semantic layout YAML (racks, stations, chargers, map)", None),
    "robots": (20, "fleet size: robots robot_0 .. robot_<N-1>", 1),
    "seed": (42, "one seed for robot starts, catalogue and demand", 0),
    "skus": (500, "SKUs in the seeded catalogue", 1),
    "inventory_dir": ("", "directory with skus.csv, racks.csv, stock.csv; empty: the seeded catalogue", None),
    "fleet_transport": ("batched", "batched: tasks on /tasks, states on /fleet/states (hundreds of robots); "
                                   "per_robot: ExecuteTask action and /<robot>/state per robot", None),
    "state_store": ("", "durable state file (SQLite) a restarted node resumes from; empty: state in memory only",
                    None),
    "scenario_faults": ("", "JSON list of scenario faults (set by ./warehouse run --scenario)", None),
    "charge_rate": (0.002, "[1/s] state of charge a robot gains per second on a charger", 0.0),
    "max_speed": (1.5, "[m/s] robot speed limit (simulator and path tracker alike)", 0.01),
    "max_accel": (1.0, "[m/s^2] robot acceleration limit (simulator and path tracker alike)", 0.01),
    "turn_rate": (1.5708, "[rad/s] turn in place (simulator and path tracker alike)", 0.01),
    "managed": (False, "true: a lifecycle manager configures and activates this node (the graph sets it); "
                       "false: it configures and activates itself when started (a node run alone)", None),
    "diagnostics_period": (1.0, "[s, wall] between DiagnosticArray messages on /diagnostics (steady, also while "
                                "sim time stands; a robot container sends one for all its robots); 0: none", 0.0),
}


def _common(name: str) -> Any:
    default, description, low = _COMMON[name]
    return param(default, description, low=low)


@dataclass(frozen=True)
class FloorSimConfig:
    """Parameters of the ``floor_simulator`` node (the kinematic floor and the /clock)."""

    managed: bool = _common("managed")
    layout: str = _common("layout")
    robots: int = _common("robots")
    seed: int = _common("seed")
    skus: int = _common("skus")
    inventory_dir: str = _common("inventory_dir")
    tick: float = param(0.2, "[s] simulated time per step and per fleet state message", low=0.001)
    real_time_factor: float = param(12.0, "target simulated seconds per wall second; 0: as fast as possible",
                                    low=0.0)
    max_speed: float = _common("max_speed")
    max_accel: float = _common("max_accel")
    turn_rate: float = _common("turn_rate")
    max_planner_lag: float = param(2.0, "[s] sim time waits while the planner's last release is older", low=0.0)
    max_node_lag: float = param(1.0, "[s] sim time waits while a robot container's /sim/progress is older",
                                low=0.0)
    node_hold_limit: float = param(20.0, "[s, wall] longest a robot container (or the allocator) behind holds sim "
                                         "time (down, hung, its restart failed); then time goes on without it, its "
                                         "robots silent, until it catches up again; 0: wait for ever", low=0.0)
    max_allocator_lag: float = param(0.0, "[s] sim time waits while the allocator's last round is older; "
                                          "0: do not wait for the allocator", low=0.0)
    expected_nodes: int = param(0, "wait for this many /clock subscribers before starting", low=0)
    expected_state_readers: int = param(0, "... and this many /sim/fleet_state subscribers (robot containers)",
                                        low=0)
    wait_for_planner: bool = param(False, "... and the planner's first /fleet/release")
    wait_for_forecast: bool = param(False, "... and the forecaster's demand forecast")
    start_timeout: float = param(60.0, "[s, wall] longest wait for them; then start anyway", low=0.0)
    battery_drain_scale: float = param(1.0, "multiplies the battery consumption model", low=0.0)
    charge_rate: float = _common("charge_rate")
    stalls_per_robot_hour: float = param(0.0, "injected random stalls (robot held still) per robot hour", low=0.0)
    stall_min_s: float = param(2.0, "[s] shortest injected stall", low=0.0)
    stall_max_s: float = param(20.0, "[s] longest injected stall", low=0.0)
    fault_robots: list[str] = param([], "scheduled robot faults: robot names, e.g. [robot_3]")
    fault_times: list[float] = param([], "[s] sim times the fault_robots fail at, e.g. [120.0]")
    recovery_time: float = param(60.0, "[s] a failed robot is towed away (its rack put down) after this", low=0.0)
    scenario_faults: str = _common("scenario_faults")
    state_store: str = _common("state_store")
    diagnostics_period: float = _common("diagnostics_period")
    diag_still_warn: float = param(5.0, "[s, wall] /diagnostics WARN when sim time has stood still this long "
                                        "(held for a slow node); 0: off", low=0.0)
    diag_still_error: float = param(30.0, "[s, wall] ... ERROR from this long; 0: off", low=0.0)
    diag_min_rtf: float = param(0.0, "/diagnostics WARN when the real-time factor reached while time runs is "
                                     "below this; 0: off", low=0.0)


@dataclass(frozen=True)
class PlannerConfig:
    """Parameters of the ``mapf_planner`` node (rolling-window MAPF and release gating)."""

    managed: bool = _common("managed")
    layout: str = _common("layout")
    robots: int = _common("robots")
    step_duration: float = param(1.0, "[s] one MAPF time step (one cell move)", low=0.001)
    planning_period: float = param(0.2, "[s] planning and release round", low=0.001)
    lookahead_steps: int = param(1, "release cells this many steps ahead of schedule", low=0)
    marker_period: float = param(1.0, "[s] MarkerArray rate for RViz / Foxglove", low=0.001)
    window_steps: int = param(5, "plan this many steps ahead of now (rolling window)", low=1)
    seed: int = _common("seed")
    stale_after: float = param(20.0, "[s, wall] a robot silent this long is failed; 0: never", low=0.0)
    fleet_transport: str = _common("fleet_transport")
    repair_lag_steps: int = param(0, "re-plan the others around a robot this many steps late; 0: off", low=0)
    repair_timeout_steps: int = param(60, "a repair freeze waits at most this many steps for a robot", low=0)
    max_lead_steps: int = param(3, "a robot's plan runs at most window + this many moves ahead of it; "
                                   "-1: unbounded", low=-1)
    restart_settle_timeout: float = param(60.0, "[s] a restarted planner waits at most this long for every robot to "
                                                "stand at the end of what the dead one released to it; robots still "
                                                "driving then are planned around (every cell they may reach blocked, "
                                                "tasks kept) until they stand still; 0: wait for ever", low=0.0)
    station_lines: bool = param(True, "first-come-first-served lines on the stations' queue cells")
    avoid_station_cells: bool = param(True, "through traffic keeps off the stations' pick and queue cells")
    deadlock_after: float = param(60.0, "[s] a robot with a task this long without progress is a deadlock "
                                        "unless its wait-for chain ends at a robot at work; 0: off", low=0.0)
    boost_after: float = param(30.0, "[s] a robot with a task this long without progress goes first in "
                                     "planning priority; 0: off", low=0.0)
    scenario_faults: str = _common("scenario_faults")
    diagnostics_period: float = _common("diagnostics_period")
    diag_round_warn: float = param(0.5, "[s, wall] /diagnostics WARN when a planning round took this long; 0: off",
                                   low=0.0)
    diag_round_error: float = param(2.0, "[s, wall] ... ERROR from this long; 0: off", low=0.0)
    diag_lag_warn: float = param(2.0, "[s] /diagnostics WARN when the last planning round began this long before "
                                      "sim time now (the simulator holds time from max_planner_lag); 0: off", low=0.0)
    diag_lag_error: float = param(10.0, "[s] ... ERROR from this long; 0: off", low=0.0)


@dataclass(frozen=True)
class AllocatorConfig:
    """Parameters of the ``task_allocator`` node; the operations ones are passed on by name
    to :class:`warehouse_core.ops.operations.OpsConfig`."""

    managed: bool = _common("managed")
    layout: str = _common("layout")
    robots: int = _common("robots")
    seed: int = _common("seed")
    skus: int = _common("skus")
    inventory_dir: str = _common("inventory_dir")
    allocation_period: float = param(1.0, "[s] assignment round", low=0.001)
    lift_time: float = param(2.0, "[s] rack lift", low=0.0)
    drop_time: float = param(2.0, "[s] rack drop", low=0.0)
    pick_base_time: float = param(3.0, "[s] per rack visit at a station", low=0.0)
    pick_time_per_line: float = param(4.0, "[s] per order line picked", low=0.0)
    max_lines_per_visit: int = param(10, "order lines picked from one rack in one visit at most", low=1)
    station_queue_limit: int = param(3, "rack visits heading to one station at once", low=1)
    policy: str = param("default", "assignment policy: default | baseline (docs/operations.md)")
    pack_time: float = param(60.0, "[s] packing one parcel", low=0.0)
    slack_weight: float = param(0.2, "travel steps worth one second of deadline slack", low=0.0)
    charge_below: float = param(0.3, "state of charge that sends an idle robot to charge", low=0.0, high=1.0)
    charge_to: float = param(0.9, "state of charge a charge ends at", low=0.0, high=1.0)
    charge_rate: float = _common("charge_rate")
    energy_per_step: float = param(0.0003, "state of charge one cell of driving costs, with margin", low=0.0)
    fleet_transport: str = _common("fleet_transport")
    task_resend: float = param(5.0, "[s, wall] repeat a task a robot has not answered (batched)", low=0.0)
    stale_after: float = param(20.0, "[s, wall] a robot silent this long gets no tasks; 0: never", low=0.0)
    returns: str = param("class", "rack returns: class (forecast A/B/C class near the station) | random")
    park_after: float = param(30.0, "[s] idle before a robot parks under a class-A rack; 0: never", low=0.0)
    rack_retry_after: float = param(600.0, "[s] a rack that could not be lifted is left alone this long",
                                    low=0.001)
    replenish_every: float = param(3600.0, "[s] replenishment shift: every rack refilled to its starting "
                                           "stock; 0: never (long runs then sell out)", low=0.0)
    boxes: str = param("config/boxes.yaml", "box catalogue for right-sized packing")
    packing_time_limit: float = param(1.0, "[s, wall] CP-SAT limit per parcel (best box found so far after it)",
                                      low=0.0)
    dispatch_time: float = param(0.0, "[s] from packed to handed to the carrier", low=0.0)
    state_store: str = _common("state_store")
    state_store_sync: str = param("normal", "durable store's SQLite synchronous mode: normal | full (fsync)")
    diagnostics_period: float = _common("diagnostics_period")
    diag_alloc_lag_warn: float = param(5.0, "[s] /diagnostics WARN when the last allocation round began this long "
                                            "before sim time now; 0: off", low=0.0)
    diag_alloc_lag_error: float = param(30.0, "[s] ... ERROR from this long; 0: off", low=0.0)
    diag_open_orders_warn: int = param(5000, "/diagnostics WARN from this many open orders (backlog); 0: off",
                                       low=0)
    diag_open_orders_error: int = param(20000, "... ERROR from this many; 0: off", low=0)


@dataclass(frozen=True)
class ForecasterConfig:
    """Parameters of the ``forecaster`` node (per-SKU demand forecast on /forecast/demand)."""

    managed: bool = _common("managed")
    layout: str = _common("layout")
    seed: int = _common("seed")
    skus: int = _common("skus")
    inventory_dir: str = _common("inventory_dir")
    forecast_model: str = param("auto", "auto (TSB for intermittent SKUs, else smooth) | ets | theta | tsb | "
                                        "seasonal_naive")
    forecast_ets_model: str = param("ANA", "ETS spec error/trend/season, A|M|N|Z each (ZZZ: automatic, slower)")
    forecast_smooth: str = param("seasonal_es", "comma list of the smooth models auto chooses from by hold-out "
                                                "error: ets, theta, seasonal_es")
    forecast_horizon: int = param(7, "[days] forecast and evaluation horizon", low=1)
    forecast_folds: int = param(1, "rolling-origin evaluation origins (MASE in report.json)", low=1)
    history_days: int = param(56, "[days] seeded order history (weekly seasonality)", low=1)
    history_orders_per_day: float = param(3000.0, "orders per day in the seeded history", low=0.0)
    demand_history_csv: str = param("", "CSV date,sku,quantity to forecast from; empty: seeded history")
    diagnostics_period: float = _common("diagnostics_period")


@dataclass(frozen=True)
class OrderSourceConfig:
    """Parameters of the ``order_source`` node (the seeded order stream to /submit_order)."""

    managed: bool = _common("managed")
    layout: str = _common("layout")
    seed: int = _common("seed")
    skus: int = _common("skus")
    inventory_dir: str = _common("inventory_dir")
    # at most 10,000 orders per simulated second: building and sending one request costs the order
    # source about 0.1 ms (benchmarks/RESULTS.md, Burst load), so beyond it cannot keep up even at real time
    orders_per_hour: float = param(600.0, "mean order arrival rate (Poisson)", low=0.0, high=36_000_000.0)
    mean_lines: float = param(1.6, "mean order lines per order", low=1.0)
    consumers: int = param(400, "consumers the orders come from (several orders of one are consolidated)", low=1)
    period: float = param(1.0, "[s] submission round", low=0.001)
    stop_after: float = param(0.0, "[s] no new orders after this sim time; 0: never", low=0.0)
    state_store: str = _common("state_store")
    answer_timeout: float = param(10.0, "[s, wall] submit again when /submit_order did not answer", low=0.0)
    diagnostics_period: float = _common("diagnostics_period")
    diag_answer_warn: float = param(10.0, "[s, wall] /diagnostics WARN when an order waits this long for its "
                                          "answer; 0: off", low=0.0)
    diag_answer_error: float = param(60.0, "[s, wall] ... ERROR from this long; 0: off", low=0.0)


@dataclass(frozen=True)
class ApiConfig:
    """Parameters of the ``fleet_api`` node (the operators' HTTP API, warehouse_nodes.api_node)."""

    layout: str = _common("layout")
    seed: int = _common("seed")
    skus: int = _common("skus")
    inventory_dir: str = _common("inventory_dir")
    host: str = param("127.0.0.1", "address the HTTP server binds to (loopback by default: reads are open)")
    port: int = param(8080, "TCP port of the HTTP server", low=1, high=65535)
    token_file: str = param("", "file holding the bearer token writes need; empty: the WAREHOUSE_API_TOKEN "
                                "environment variable")
    call_timeout: float = param(10.0, "[s, wall] a write waits this long for the node that serves it", low=0.1)
    stream_period: float = param(0.5, "[s, wall] between frames of the live stream (/api/v1/stream)", low=0.05)


@dataclass(frozen=True)
class LifecycleManagerConfig:
    """Parameters of the ``lifecycle_manager`` node (brings the central nodes up in order)."""

    node_names: list[str] = param([], "managed lifecycle nodes in bring-up order (set by the graph description)")
    autostart: bool = param(True, "configure and activate them (also after a restart); false: leave that to "
                                  "the operator (ros2 lifecycle set)")
    poll_period: float = param(0.5, "[s, wall] between state checks of the managed nodes", low=0.01)
    diagnostics_period: float = _common("diagnostics_period")


@dataclass(frozen=True)
class RobotConfig:
    """Parameters of a ``robot`` node (task execution, odometry, state; one per robot namespace)."""

    drive_backend: str = param("floor_sim", "floor_sim | gazebo (cmd_vel/odom path tracker, also real "
                                            "differential-drive bases) | nav2")
    layout: str = _common("layout")  # hardware backends: the cell under the base before its first path
    fleet_transport: str = _common("fleet_transport")
    state_period: float = param(1.0, "[s] state heartbeat when nothing changes", low=0.0)
    odom_period: float = param(0.5, "[s] odometry period; 0: every base state", low=0.0)
    request_retry: float = param(5.0, "[s, wall] re-send a plan request that got no waypoint yet", low=0.0)
    heartbeat_period: float = param(2.0, "[s, wall] state at least this often, even while sim time stands "
                                         "(a paused simulation is not mistaken for dead robots)", low=0.001)
    odom_topic: str = param("base/odom", "base odometry (nav_msgs/Odometry, base's odom frame), relative")
    cmd_vel_topic: str = param("cmd_vel", "velocity commands to the base, relative")
    cmd_vel_stamped: bool = param(False, "true: TwistStamped (Kilted and later); false: Twist (Jazzy)")
    control_rate: float = param(20.0, "[Hz] path tracker rate (node clock: sim time under Gazebo)", low=0.001)
    map_to_odom: list[float] = param([0.0, 0.0, 0.0], "[m, m, rad] initial map -> odom of a hardware base (the "
                                                      "spawn pose), kept until a localisation reading")
    localisation_topic: str = param("", "localisation source (PoseWithCovarianceStamped in map, the amcl_pose "
                                        "convention; e.g. amcl_pose), relative; empty: none, map -> odom stays "
                                        "the initial pose")
    localisation_stale: float = param(10.0, "[s] /diagnostics WARN when the last localisation reading is this "
                                            "old; 0: off", low=0.0)
    localisation_wait: float = param(10.0, "[s, wall] with a localisation topic, a hardware base reports no state "
                                           "(the planner does not start it) until its first reading is matched "
                                           "or this long after its first odometry; then the initial pose", low=0.0)
    odom_timeout: float = param(0.5, "[s] no odometry this long: zero cmd_vel, base stopped", low=0.0)
    # the robot base's own inputs (hardware backends, warehouse_nodes.base_io); topics are robot-relative
    base_inputs: str = param("", "what the base provides, comma-separated: battery (BatteryState), rack (rack "
                                 "presence Bool), stop (protective stop Bool), operations (BaseOperation "
                                 "action); empty: battery 1.0, racks follow the plan, operations timed only")
    battery_topic: str = param("base/battery", "battery (sensor_msgs/BatteryState, best effort read), relative")
    rack_topic: str = param("base/rack_present", "rack on the base (std_msgs/Bool), relative")
    stop_topic: str = param("base/protective_stop", "protective or emergency stop active (std_msgs/Bool), "
                                                    "relative")
    base_operation_timeout: float = param(30.0, "[s] a lift/drop/dock/undock not answered this long fails "
                                                "(FAILED_TIMEOUT)", low=0.001)
    stop_timeout: float = param(20.0, "[s] a protective stop longer than this gives the task back (failed); "
                                      "0: never", low=0.0)
    max_speed: float = _common("max_speed")
    max_accel: float = _common("max_accel")
    turn_rate: float = _common("turn_rate")
    arrive_tolerance: float = param(0.05, "[m] a waypoint counts as reached this close to its centre", low=0.0)
    nav2_follow_path_action: str = param("follow_path", "drive_backend nav2: the controller server's FollowPath "
                                                        "action, relative")
    nav2_controller_server: str = param("controller_server", "drive_backend nav2: the controller server node "
                                                             "(its goal checker gets arrive_tolerance)")
    nav2_controller_id: str = param("FollowPath", "drive_backend nav2: controller plugin named in the goals")
    nav2_goal_checker_id: str = param("general_goal_checker", "drive_backend nav2: goal checker plugin named in "
                                                              "the goals; its xy_goal_tolerance is set")
    nav2_progress_checker_id: str = param("", "drive_backend nav2: progress checker plugin; empty: the default")
    nav2_goal_period: float = param(0.5, "[s] drive_backend nav2: at most one FollowPath goal this often "
                                         "(releases in between join the next one)", low=0.0)
    actuation_latency: float = param(0.0, "[s] cmd_vel-to-motion delay the tracker predicts ahead; 0: off",
                                     low=0.0)
    max_angular_acceleration: float = param(3.0, "[rad/s^2] base limit (config/robot_hardware.yaml)", low=0.0)
    wheel_separation: float = param(0.50, "[m] between the driven wheels' centres (Gazebo model)", low=0.0)
    wheel_radius: float = param(0.08, "[m] driven wheel radius (Gazebo model)", low=0.0)
    chassis_length: float = param(0.70, "[m] footprint along x (forward)", low=0.0)
    chassis_width: float = param(0.56, "[m] footprint along y; must fit under a rack", low=0.0)
    # read by a robot container from its first robot (one /diagnostics array for all its robots)
    diagnostics_period: float = _common("diagnostics_period")
    diag_link_warn: float = param(2.0, "[s] /diagnostics WARN when a robot's last base state is this far behind "
                                       "the newest in its container; 0: off", low=0.0)
    diag_link_error: float = param(20.0, "[s] ... ERROR from this far; 0: off", low=0.0)
    diag_battery_warn: float = param(0.15, "/diagnostics WARN when a robot's state of charge is below this",
                                     low=0.0, high=1.0)
    diag_battery_error: float = param(0.05, "... ERROR below this", low=0.0, high=1.0)


@dataclass(frozen=True)
class BaseSimulatorConfig:
    """Parameters of a ``base_simulator`` node (differential-drive bases behind vendor-driver topics,
    :mod:`warehouse_nodes.base_sim_node`; one node hosts the bases of a range of robots)."""

    layout: str = _common("layout")
    robots: int = _common("robots")
    seed: int = _common("seed")
    skus: int = _common("skus")
    inventory_dir: str = _common("inventory_dir")
    publish_clock: bool = param(True, "true: this process is the clock (/clock every step, paced by "
                                      "real_time_factor, as Gazebo is); false: it follows /clock (use_sim_time)")
    step: float = param(0.05, "[s] simulated time per physics step (and per /clock message)", low=0.001)
    real_time_factor: float = param(12.0, "publish_clock: target simulated seconds per wall second; 0: as fast as "
                                          "possible", low=0.0)
    expected_nodes: int = param(0, "publish_clock: wait for this many /clock subscribers before starting", low=0)
    start_timeout: float = param(60.0, "[s, wall] publish_clock: longest wait for them; then start anyway", low=0.0)
    max_planner_lag: float = param(2.0, "[s] publish_clock: sim time waits while the planner's last release is "
                                        "older; 0: do not wait", low=0.0)
    wait_for_planner: bool = param(False, "publish_clock: time starts only after the planner's first "
                                          "/fleet/release")
    max_node_lag: float = param(1.0, "[s] publish_clock: sim time waits while a base's last stamped cmd_vel "
                                     "(TwistStamped) is older: its robot node's control fell behind; 0: do not wait",
                                low=0.0)
    node_hold_limit: float = param(20.0, "[s, wall] ... but not longer than this for bases whose commands stopped "
                                         "(their robot node is gone), waited for again once they command; 0: wait "
                                         "for ever", low=0.0)
    truth_period: float = param(0.2, "[s] between ground-truth FleetState messages on /sim/fleet_state", low=0.001)
    odom_rate: float = param(20.0, "[Hz] odometry messages per base", low=0.001)
    inputs_period: float = param(1.0, "[s] battery, rack and stop messages per base (a change goes out at once)",
                                 low=0.001)
    cmd_vel_stamped: bool = param(False, "true: TwistStamped (Kilted and later); false: Twist (Jazzy)")
    follow_path_servers: bool = param(False, "true: a simulated Nav2 controller server per base, FollowPath on "
                                             "/<robot>/follow_path (robots with drive_backend nav2; needs nav2_msgs)")
    max_speed: float = _common("max_speed")
    turn_rate: float = _common("turn_rate")
    # the motor controllers can brake harder than the robot's motion profile (max_accel) asks
    motor_accel: float = param(2.0, "[m/s^2] the base's acceleration limit (above the robot nodes' max_accel)",
                               low=0.001)
    motor_angular_accel: float = param(6.0, "[rad/s^2] the base's angular acceleration limit (above the robot "
                                            "nodes' max_angular_acceleration)", low=0.001)
    odom_scale_std: float = param(0.01, "std of each base's wheel scale error (fraction of distance)", low=0.0)
    odom_bias_walk: float = param(0.0005, "[rad/s per sqrt(s)] random walk of the odometry's yaw-rate bias",
                                  low=0.0)
    odom_noise: float = param(0.005, "[m] std of the reported odometry position", low=0.0)
    odom_yaw_noise: float = param(0.002, "[rad] std of the reported odometry heading", low=0.0)
    localisation_rate: float = param(5.0, "[Hz] localisation readings per base (amcl_pose); 0: none", low=0.0)
    localisation_noise: float = param(0.02, "[m] std of a localisation reading's position", low=0.0)
    localisation_yaw_noise: float = param(0.01, "[rad] std of a localisation reading's heading", low=0.0)
    localisation_latency: float = param(0.05, "[s] a reading is published this long after it was measured",
                                        low=0.0)
    localisation_late_prob: float = param(0.05, "a reading comes late with this probability ...", low=0.0,
                                          high=1.0)
    localisation_late_s: float = param(0.5, "[s] ... this long after it was measured", low=0.0)
    battery_start: float = param(1.0, "state of charge of every base at start", low=0.0, high=1.0)
    battery_drain_scale: float = param(1.0, "multiplies the battery consumption model", low=0.0)
    charge_rate: float = _common("charge_rate")
    operation_time: float = param(1.0, "[s] a lift, drop, dock or undock of the base", low=0.0)
    lift_failure_prob: float = param(0.01, "a lift ends with no rack on the lift (FAILED)", low=0.0, high=1.0)
    charger_radius: float = param(0.3, "[m] docking works this close to a charger cell's centre", low=0.0)
    stops_per_robot_hour: float = param(0.5, "protective stops per base and hour (Poisson)", low=0.0)
    stop_duration: float = param(5.0, "[s] a protective stop lasts this long", low=0.0)


NODE_CONFIGS: dict[str, type] = {
    "floor_simulator": FloorSimConfig,
    "base_simulator": BaseSimulatorConfig,
    "mapf_planner": PlannerConfig,
    "task_allocator": AllocatorConfig,
    "forecaster": ForecasterConfig,
    "order_source": OrderSourceConfig,
    "lifecycle_manager": LifecycleManagerConfig,
    "fleet_api": ApiConfig,
    "/**/robot": RobotConfig,
}
"""Each node's config class, keyed as the node's section in ``config/warehouse.yaml``."""

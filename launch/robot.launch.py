"""Launch ONE robot node on a physical AMR (or in a container next to a simulator).

    ros2 launch warehouse_bringup robot.launch.py robot:=robot_3 drive_backend:=gazebo domain_id:=42 \\
        odom_topic:=/vendor/odom cmd_vel_topic:=/vendor/cmd_vel base_inputs:=battery,stop \\
        battery_topic:=/vendor/battery stop_topic:=/vendor/estop localisation_topic:=amcl_pose

Starts the robot node ``/<robot>/robot`` with config/warehouse.yaml and
config/robot_hardware.yaml of the warehouse_bringup share (paths in them resolved as for the fleet
server: :mod:`warehouse_nodes.graph`). The node talks to the fleet server (planner, allocator: see
fleet_server.launch.py) over DDS on ROS_DOMAIN_ID ``domain_id``, which this file sets for
the processes it starts. The base driver of the AMR is not started here. ``drive_backend`` chooses
how the node drives the base; every topic and action it exchanges with the driver has an argument
(``REMAPS``) that remaps the node's default name (relative to the robot's namespace, declared in
warehouse_core.topics) to the driver's: a relative name stays in the robot's namespace, an absolute
one is taken as it is. What the driver must provide: docs/deployment.md.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from warehouse_core import topics
from warehouse_nodes import launch_support as ls
from warehouse_nodes.graph import DEFAULT_CONFIG, DEFAULT_HARDWARE, GraphArgs, describe, flag

PACKAGE = "warehouse_nodes"

# launch argument -> the robot node's default name it remaps (the arguments' defaults; a test checks
# that every base topic of warehouse_core.topics has one)
REMAPS = (
    ("odom_topic", topics.BASE_ODOM.relative),
    ("cmd_vel_topic", topics.BASE_CMD_VEL.relative),
    ("battery_topic", topics.BASE_BATTERY.relative),
    ("rack_topic", topics.BASE_RACK_PRESENT.relative),
    ("stop_topic", topics.BASE_PROTECTIVE_STOP.relative),
    ("base_operation", topics.BASE_OPERATION.relative),
)
LOCALISATION = topics.ROBOT_LOCALISATION.relative  # the localisation_topic parameter's name when one is given


def remappings(context) -> list[tuple[str, str]]:
    """(default name, driver's name) of every argument that names another topic than the default."""
    out = [(default, ls.value(context, arg)) for arg, default in REMAPS]
    localisation = ls.value(context, "localisation_topic")
    if localisation:
        out.append((LOCALISATION, localisation))
    return [(default, given) for default, given in out if given and given != default]


def _robot(context):
    robot = LaunchConfiguration("robot").perform(context)
    if not robot.startswith("robot_") or not robot[len("robot_"):].isdigit():
        raise RuntimeError(f"robot:={robot!r} must be robot_<i> (the fleet addresses robots by that name)")
    # the robot side of the graph: one robot node (the parameters the fleet server's graph gives robots)
    # (every robot process of the graph gets the same parameters: the fleet's first one stands for this one)
    args = GraphArgs(config=ls.config_path(context), layout=ls.layout_arg(context), robots=1,
                     use_sim_time=ls.boolean(context, "use_sim_time"), floor_sim=False, order_source=False,
                     robot_processes="nodes", robot_files=(str(ls.config_path(context, "hardware")),))
    graph = describe(args)
    spec = graph.process("robot_0")
    params = {k: v for k, v in graph.parameters(spec).items() if k not in ("robots", "odom_period")}
    params["drive_backend"] = ls.value(context, "drive_backend")
    if ls.value(context, "localisation_topic"):
        params["localisation_topic"] = LOCALISATION  # remapped to the given topic
    inputs = ls.value(context, "base_inputs")
    if inputs:
        params["base_inputs"] = "" if inputs == "none" else inputs
    if ls.value(context, "cmd_vel_stamped"):
        params["cmd_vel_stamped"] = flag(ls.value(context, "cmd_vel_stamped"), "cmd_vel_stamped")
    return [
        Node(package=PACKAGE, executable="robot", name="robot", namespace=robot, output="screen",
             parameters=[str(graph.config), *spec.files, params], remappings=remappings(context)),
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="robot_0",
                              description="Robot name = namespace, robot_<i>; unique in the fleet"),
        # override: one robot launched alone drives its own base (or Gazebo's), not the floor simulator's
        DeclareLaunchArgument("drive_backend", default_value="gazebo",
                              description="How the robot node drives the base: gazebo (cmd_vel/odom path "
                                          "tracker, also for real differential-drive bases), nav2 (Nav2's "
                                          "FollowPath on the released cells), or floor_sim (a floor simulator "
                                          "on the fleet server)"),
        DeclareLaunchArgument("domain_id", default_value=EnvironmentVariable("ROS_DOMAIN_ID", default_value="0"),
                              description="ROS_DOMAIN_ID shared with the fleet server (default: the "
                                          "environment's, else 0)"),
        DeclareLaunchArgument("map", default_value="",
                              description="Semantic layout YAML; the same file as on the fleet server; empty: "
                                          "the config's"),
        # override: a physical robot runs on the wall clock
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="false on a physical robot (wall clock, kept in sync by chrony/PTP); "
                                          "true/True/1, false/False/0"),
        # the driver's names (relative: in the robot's namespace; absolute: as given); the default remaps nothing
        DeclareLaunchArgument("odom_topic", default_value="base/odom",
                              description="The driver's odometry (nav_msgs/Odometry, frame <robot>/odom, child "
                                          "<robot>/base_link), remapped from base/odom"),
        DeclareLaunchArgument("cmd_vel_topic", default_value="cmd_vel",
                              description="The driver's velocity commands (geometry_msgs/Twist, TwistStamped "
                                          "with cmd_vel_stamped), remapped from cmd_vel"),
        DeclareLaunchArgument("battery_topic", default_value="base/battery",
                              description="The driver's battery (sensor_msgs/BatteryState; read with base_inputs "
                                          "battery), remapped from base/battery"),
        DeclareLaunchArgument("rack_topic", default_value="base/rack_present",
                              description="The driver's rack presence (std_msgs/Bool; read with base_inputs rack), "
                                          "remapped from base/rack_present"),
        DeclareLaunchArgument("stop_topic", default_value="base/protective_stop",
                              description="The driver's protective stop (std_msgs/Bool, true while stopped; read "
                                          "with base_inputs stop), remapped from base/protective_stop"),
        DeclareLaunchArgument("base_operation", default_value="base_operation",
                              description="The driver's lift/drop/dock/undock action (warehouse_interfaces/action/"
                                          "BaseOperation; used with base_inputs operations), remapped from "
                                          "base_operation"),
        DeclareLaunchArgument("localisation_topic", default_value="",
                              description="The localisation source (geometry_msgs/PoseWithCovarianceStamped in "
                                          f"map, the amcl_pose convention), read as {LOCALISATION!r} remapped to "
                                          "this; empty: the config's localisation_topic (none by default: "
                                          "map -> odom stays map_to_odom)"),
        DeclareLaunchArgument("base_inputs", default_value="",
                              description="What the driver provides beyond odom and cmd_vel, comma-separated: "
                                          "battery, rack, stop, operations; none: nothing; empty: the config's"),
        DeclareLaunchArgument("cmd_vel_stamped", default_value="",
                              description="true: cmd_vel is geometry_msgs/TwistStamped, false: Twist; empty: "
                                          "the config's"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        DeclareLaunchArgument("hardware", default_value=DEFAULT_HARDWARE,
                              description="AMR geometry and limits, and what the base provides (base_inputs)"),
        SetEnvironmentVariable("ROS_DOMAIN_ID", LaunchConfiguration("domain_id")),
        OpaqueFunction(function=_robot),
    ])

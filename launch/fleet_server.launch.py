"""Launch the central nodes of the fleet on the fleet server (robots run robot.launch.py).

    ros2 launch launch/fleet_server.launch.py robots:=20 domain_id:=42

Starts the MAPF planner, the task allocator and the forecaster, optionally the seeded order source (real
orders come from your WMS through /submit_order instead), and optionally the embedded floor
simulator (``floor_sim:=true``: then the robots run ``drive_backend:=floor_sim`` and
everything follows its /clock; used by docker/compose.yaml as a distributed demo).
Parameters from config/warehouse.yaml. See docs/deployment.md.
"""

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "warehouse_nodes"
DEFAULT_CONFIG = os.path.join(REPO, "config", "warehouse.yaml")
DEFAULT_LAYOUT = os.path.join(REPO, "maps", "warehouse_layout.yaml")
# launch argument -> (node parameter, type): an argument left empty is not passed, the config's value holds
PARAMETER_ARGS = {"robots": ("robots", int), "seed": ("seed", int), "map": ("layout", str),
                  "state_store": ("state_store", str)}


def _flag(name, context):
    return LaunchConfiguration(name).perform(context).lower() == "true"


def _given(context):
    """The node parameters of the launch arguments given a value (PARAMETER_ARGS)."""
    given = {}
    for arg, (name, kind) in PARAMETER_ARGS.items():
        text = LaunchConfiguration(arg).perform(context)
        if text:
            given[name] = kind(text)
    return given


def _nodes(context):
    config = LaunchConfiguration("config").perform(context)
    common = dict(_given(context), use_sim_time=_flag("use_sim_time", context))
    nodes = [
        Node(package=PACKAGE, executable="mapf_planner", name="mapf_planner",
             parameters=[config, common], output="screen"),
        Node(package=PACKAGE, executable="task_allocator", name="task_allocator",
             parameters=[config, common], output="screen",
             respawn=True, respawn_delay=1.0),
        Node(package=PACKAGE, executable="forecaster", name="forecaster",
             parameters=[config, common], output="screen"),
    ]
    if _flag("order_source", context):
        nodes.append(Node(package=PACKAGE, executable="order_source", name="order_source",
                          parameters=[config, common], output="screen",
                          respawn=True, respawn_delay=1.0))
    if _flag("floor_sim", context):
        nodes.append(Node(package=PACKAGE, executable="floor_simulator", name="floor_simulator",
                          parameters=[config, dict(common, use_sim_time=False)], output="screen"))
    return nodes


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="",
                              description="Fleet size: robots robot_0 .. robot_<N-1> are expected; "
                                          "empty: the config's"),
        DeclareLaunchArgument("map", default_value=DEFAULT_LAYOUT,
                              description="Semantic layout YAML (racks, stations, chargers)"),
        # override: a fleet server keeps its orders and tasks in a file, so a respawned node resumes
        DeclareLaunchArgument("state_store", default_value="warehouse_state.db",
                              description="Durable state file (SQLite) of the allocator and the order source: "
                                          "a respawned node resumes from it; empty: state in memory only"),
        DeclareLaunchArgument("seed", default_value="",
                              description="Seed of the catalogue and of the seeded order source; empty: the "
                                          "config's"),
        # override: physical robots run on the wall clock (kept in sync by chrony/PTP)
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="false with physical robots; true with floor_sim or Gazebo"),
        DeclareLaunchArgument("order_source", default_value="true",
                              description="Also start the seeded order source (false: orders come "
                                          "from your system via /submit_order)"),
        DeclareLaunchArgument("floor_sim", default_value="false",
                              description="Also start the floor simulator (robots then use "
                                          "drive_backend:=floor_sim)"),
        DeclareLaunchArgument("domain_id", default_value=EnvironmentVariable("ROS_DOMAIN_ID", default_value="0"),
                              description="ROS_DOMAIN_ID shared with the robots"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        SetEnvironmentVariable("ROS_DOMAIN_ID", LaunchConfiguration("domain_id")),
        OpaqueFunction(function=_nodes),
    ])

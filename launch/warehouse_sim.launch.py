"""Launch the warehouse with the embedded floor simulator on a ROS 2 distro (Jazzy, Kilted).

    ros2 launch launch/warehouse_sim.launch.py robots:=20 seed:=42

Starts the same nodes as ``./warehouse run`` with the same ``config/warehouse.yaml``:
floor simulator (publishes /clock), MAPF planner, task allocator, forecaster, order source, and one
robot node per robot in namespace ``/robot_<i>``. Record with
``ros2 bag record -s mcap -a`` and watch ``/planner/markers`` in RViz or Foxglove.
"""

import os

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "warehouse_nodes"
DEFAULT_CONFIG = os.path.join(REPO, "config", "warehouse.yaml")
DEFAULT_LAYOUT = os.path.join(REPO, "maps", "warehouse_layout.yaml")
# launch argument -> (node parameter, type): an argument left empty is not passed, the config's value holds
PARAMETER_ARGS = {"robots": ("robots", int), "seed": ("seed", int), "map": ("layout", str),
                  "state_store": ("state_store", str)}


def _given(context):
    """The node parameters of the launch arguments given a value (PARAMETER_ARGS)."""
    given = {}
    for arg, (name, kind) in PARAMETER_ARGS.items():
        text = LaunchConfiguration(arg).perform(context)
        if text:
            given[name] = kind(text)
    return given


def _configured_robots(config):
    """The fleet size of the params file ``config`` (``/**``), else the nodes' default."""
    from warehouse_nodes.configs import FloorSimConfig
    from warehouse_nodes.params import default_of

    with open(config) as f:
        common = (yaml.safe_load(f) or {}).get("/**", {}).get("ros__parameters", {})
    return int(common.get("robots", default_of(FloorSimConfig, "robots")))


def _nodes(context):
    config = LaunchConfiguration("config").perform(context)
    common = dict(_given(context), use_sim_time=LaunchConfiguration("use_sim_time").perform(context) == "true")
    robots = common.get("robots") or _configured_robots(config)
    sim_params = dict(common, use_sim_time=False)
    central = [
        Node(package=PACKAGE, executable="floor_simulator", name="floor_simulator",
             parameters=[config, sim_params], output="screen"),
        Node(package=PACKAGE, executable="mapf_planner", name="mapf_planner",
             parameters=[config, common], output="screen"),
        Node(package=PACKAGE, executable="task_allocator", name="task_allocator",
             parameters=[config, common], output="screen",
             respawn=bool(common.get("state_store")), respawn_delay=1.0),
        Node(package=PACKAGE, executable="forecaster", name="forecaster",
             parameters=[config, common], output="screen"),
        Node(package=PACKAGE, executable="order_source", name="order_source",
             parameters=[config, common], output="screen",
             respawn=bool(common.get("state_store")), respawn_delay=1.0),
    ]
    robot_nodes = [
        Node(package=PACKAGE, executable="robot", name="robot", namespace=f"robot_{i}",
             parameters=[config, common], output="log")
        for i in range(robots)
    ]
    return central + robot_nodes


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="",
                              description="Number of robots (robot_0 .. robot_<N-1>); empty: the config's"),
        DeclareLaunchArgument("map", default_value=DEFAULT_LAYOUT,
                              description="Semantic layout YAML (racks, stations, chargers)"),
        DeclareLaunchArgument("state_store", default_value="",
                              description="Durable state file (SQLite) of the allocator and the order source: "
                                          "a respawned node resumes from it (use a new file per run); "
                                          "empty: state in memory only, and no respawn"),
        DeclareLaunchArgument("seed", default_value="",
                              description="Seed for robot starts, catalogue and demand; empty: the config's"),
        DeclareLaunchArgument("use_sim_time", default_value="true",
                              description="Follow the floor simulator's /clock"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        OpaqueFunction(function=_nodes),
    ])

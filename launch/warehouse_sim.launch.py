"""Launch the warehouse with the embedded floor simulator on a ROS 2 distro (Jazzy, Kilted).

    ros2 launch launch/warehouse_sim.launch.py robots:=20 seed:=42

Starts the same nodes as ``./warehouse run`` with the same ``config/warehouse.yaml``:
floor simulator (publishes /clock), MAPF planner, task allocator, forecaster, order source, and one
robot node per robot in namespace ``/robot_<i>``. Record with
``ros2 bag record -s mcap -a`` and watch ``/planner/markers`` in RViz or Foxglove.
"""

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "warehouse_nodes"
DEFAULT_CONFIG = os.path.join(REPO, "config", "warehouse.yaml")
DEFAULT_LAYOUT = os.path.join(REPO, "maps", "warehouse_layout.yaml")


def _nodes(context):
    robots = int(LaunchConfiguration("robots").perform(context))
    config = LaunchConfiguration("config").perform(context)
    common = {
        "robots": robots,
        "seed": int(LaunchConfiguration("seed").perform(context)),
        "layout": LaunchConfiguration("map").perform(context),
        "state_store": LaunchConfiguration("state_store").perform(context),
        "use_sim_time": LaunchConfiguration("use_sim_time").perform(context) == "true",
    }
    sim_params = dict(common, use_sim_time=False)
    central = [
        Node(package=PACKAGE, executable="floor_simulator", name="floor_simulator",
             parameters=[config, sim_params], output="screen"),
        Node(package=PACKAGE, executable="mapf_planner", name="mapf_planner",
             parameters=[config, common], output="screen"),
        Node(package=PACKAGE, executable="task_allocator", name="task_allocator",
             parameters=[config, common], output="screen",
             respawn=bool(common["state_store"]), respawn_delay=1.0),
        Node(package=PACKAGE, executable="forecaster", name="forecaster",
             parameters=[config, common], output="screen"),
        Node(package=PACKAGE, executable="order_source", name="order_source",
             parameters=[config, common], output="screen",
             respawn=bool(common["state_store"]), respawn_delay=1.0),
    ]
    robot_nodes = [
        Node(package=PACKAGE, executable="robot", name="robot", namespace=f"robot_{i}",
             parameters=[config, common], output="log")
        for i in range(robots)
    ]
    return central + robot_nodes


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="20",
                              description="Number of robots (robot_0 .. robot_<N-1>)"),
        DeclareLaunchArgument("map", default_value=DEFAULT_LAYOUT,
                              description="Semantic layout YAML (racks, stations, chargers)"),
        DeclareLaunchArgument("state_store", default_value="",
                              description="Durable state file (SQLite) of the allocator and the order source: "
                                          "a respawned node resumes from it (use a new file per run); "
                                          "empty: state in memory only, and no respawn"),
        DeclareLaunchArgument("seed", default_value="42",
                              description="Seed for robot starts, catalogue and demand"),
        DeclareLaunchArgument("use_sim_time", default_value="true",
                              description="Follow the floor simulator's /clock"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        OpaqueFunction(function=_nodes),
    ])

"""Launch ONE robot node on a physical AMR (or in a container next to a simulator).

    ros2 launch launch/robot.launch.py robot:=robot_3 drive_backend:=gazebo domain_id:=42

Starts the robot node ``/<robot>/robot`` with config/warehouse.yaml and
config/robot_hardware.yaml. The node talks to the fleet server (planner, allocator: see
fleet_server.launch.py) over DDS on ROS_DOMAIN_ID ``domain_id``, which this file sets for
the processes it starts. The base driver of the AMR is not started here: it must provide
``/<robot>/base/odom`` (nav_msgs/Odometry, frames <robot>/odom -> <robot>/base_link) and
take ``/<robot>/cmd_vel`` (remap with ``odom_topic`` / ``cmd_vel_topic`` if it uses other
names), or run Nav2 for ``drive_backend:=nav2``. See docs/deployment.md.
"""

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "warehouse_nodes"
DEFAULT_CONFIG = os.path.join(REPO, "config", "warehouse.yaml")
DEFAULT_HARDWARE = os.path.join(REPO, "config", "robot_hardware.yaml")
DEFAULT_LAYOUT = os.path.join(REPO, "maps", "warehouse_layout.yaml")


def _robot(context):
    robot = LaunchConfiguration("robot").perform(context)
    if not robot.startswith("robot_") or not robot[len("robot_"):].isdigit():
        raise RuntimeError(f"robot:={robot!r} must be robot_<i> (the fleet addresses robots by that name)")
    params = {
        "layout": LaunchConfiguration("map").perform(context),
        "drive_backend": LaunchConfiguration("drive_backend").perform(context),
        "use_sim_time": LaunchConfiguration("use_sim_time").perform(context).lower() == "true",
    }
    return [
        Node(package=PACKAGE, executable="robot", name="robot", namespace=robot, output="screen",
             parameters=[LaunchConfiguration("config").perform(context),
                         LaunchConfiguration("hardware").perform(context), params],
             remappings=[("base/odom", LaunchConfiguration("odom_topic").perform(context)),
                         ("cmd_vel", LaunchConfiguration("cmd_vel_topic").perform(context))]),
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="robot_0",
                              description="Robot name = namespace, robot_<i>; unique in the fleet"),
        # override: one robot launched alone drives its own base (or Gazebo's), not the floor simulator's
        DeclareLaunchArgument("drive_backend", default_value="gazebo",
                              description="How the robot node drives the base: gazebo (cmd_vel/odom path "
                                          "tracker, also for real differential-drive bases), nav2, or "
                                          "floor_sim (a floor simulator on the fleet server)"),
        DeclareLaunchArgument("domain_id", default_value=EnvironmentVariable("ROS_DOMAIN_ID", default_value="0"),
                              description="ROS_DOMAIN_ID shared with the fleet server (default: the "
                                          "environment's, else 0)"),
        DeclareLaunchArgument("map", default_value=DEFAULT_LAYOUT,
                              description="Semantic layout YAML; the same file as on the fleet server"),
        # override: a physical robot runs on the wall clock
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="false on a physical robot (wall clock, kept in sync by chrony/PTP)"),
        DeclareLaunchArgument("odom_topic", default_value="base/odom",
                              description="Base odometry topic of the AMR driver (nav_msgs/Odometry)"),
        DeclareLaunchArgument("cmd_vel_topic", default_value="cmd_vel",
                              description="Velocity command topic of the AMR driver"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        DeclareLaunchArgument("hardware", default_value=DEFAULT_HARDWARE,
                              description="AMR geometry and limits (wheel separation, radius, ...)"),
        SetEnvironmentVariable("ROS_DOMAIN_ID", LaunchConfiguration("domain_id")),
        OpaqueFunction(function=_robot),
    ])

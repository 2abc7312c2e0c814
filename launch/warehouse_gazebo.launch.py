"""Launch the warehouse in Gazebo (gz-sim) on a ROS 2 distro (Jazzy + Harmonic, or Kilted).

    ./warehouse gazebo world --robots 20 --out build/gazebo_world          # or let this file do it
    ros2 launch launch/warehouse_gazebo.launch.py robots:=20 world_dir:=build/gazebo_world

Starts gz-sim with DIR/warehouse.sdf (ros_gz_sim's gz_sim.launch.py), spawns robot_0 ..
robot_<N-1> from DIR/models/amr/model.sdf at DIR/spawn_poses.yaml (the floor simulator's
start cells), one ros_gz_bridge per robot with DIR/bridge/robot_<i>.yaml (robot_0's also
carries /clock), a static map -> robot_<i>/odom transform at each spawn pose (Gazebo's world
frame is the map frame; the diff drive's odometry starts at the spawn pose), the robot
nodes with ``drive_backend: gazebo`` in namespaces robot_<i>, and the central nodes (MAPF
planner, task allocator, forecaster, order source). No floor simulator: Gazebo publishes /clock.

With ``world_dir:=''`` (default) the files are generated into build/gazebo_world/ first, for
the given robots, map and distro. All parameters come from config/warehouse.yaml and
config/robot_hardware.yaml.
"""

import os
import subprocess
import sys

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import AppendEnvironmentVariable, DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "warehouse_nodes"
GZ_SIM = "ros_gz_sim"
GZ_BRIDGE = "ros_gz_bridge"
TF2 = "tf2_ros"
GENERATED = "gazebo_world"
DEFAULT_CONFIG = os.path.join(REPO, "config", "warehouse.yaml")
HARDWARE = os.path.join(REPO, "config", "robot_hardware.yaml")
DEFAULT_LAYOUT = os.path.join(REPO, "maps", "warehouse_layout.yaml")


def _config_default(key, fallback, config=DEFAULT_CONFIG):
    """``key`` of the ``/**`` section of the params file ``config``, else ``fallback``."""
    with open(config) as f:
        return yaml.safe_load(f).get("/**", {}).get("ros__parameters", {}).get(key, fallback)


def _robots(context, config):
    """The robots launch argument, else the config's fleet size, else the nodes' default."""
    from warehouse_nodes.configs import FloorSimConfig
    from warehouse_nodes.params import default_of

    given = LaunchConfiguration("robots").perform(context)
    return int(given) if given else int(_config_default("robots", default_of(FloorSimConfig, "robots"), config))


def _world_dir(context, robots):
    world_dir = LaunchConfiguration("world_dir").perform(context)
    if not world_dir:
        world_dir = os.path.join(REPO, "build", GENERATED)
        cmd = [sys.executable, "-m", "warehouse_nodes.gazebo_cli", "world", "--out", world_dir,
               "--robots", str(robots), "--map", LaunchConfiguration("map").perform(context),
               "--distro", LaunchConfiguration("distro").perform(context),
               "--config", LaunchConfiguration("config").perform(context)]
        subprocess.run(cmd, check=True)
    world_dir = os.path.abspath(world_dir)
    for rel in ("warehouse.sdf", "spawn_poses.yaml", os.path.join("models", "amr", "model.sdf")):
        if not os.path.isfile(os.path.join(world_dir, rel)):
            raise RuntimeError(f"world_dir {world_dir} lacks {rel}: run ./warehouse gazebo world --out {world_dir}")
    return world_dir


def _stamped(world_dir, name):
    """Whether the robot's bridge carries cmd_vel as TwistStamped (the world's --distro)."""
    with open(os.path.join(world_dir, "bridge", f"{name}.yaml")) as f:
        entries = yaml.safe_load(f) or []
    return any(e.get("ros_type_name", "").endswith("TwistStamped") for e in entries)


def _nodes(context):
    config = LaunchConfiguration("config").perform(context)
    robots = _robots(context, config)
    world_dir = _world_dir(context, robots)
    with open(os.path.join(world_dir, "spawn_poses.yaml")) as f:
        poses = yaml.safe_load(f)["robots"]
    if len(poses) < robots:
        raise RuntimeError(f"{world_dir} was generated for {len(poses)} robots, not {robots}: regenerate it")
    use_sim_time = LaunchConfiguration("use_sim_time").perform(context).lower() == "true"
    common = {"robots": robots, "layout": LaunchConfiguration("map").perform(context),
              "use_sim_time": use_sim_time, "state_store": LaunchConfiguration("state_store").perform(context)}

    actions = [
        AppendEnvironmentVariable("GZ_SIM_RESOURCE_PATH", os.path.join(world_dir, "models")),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                os.path.join(get_package_share_directory(GZ_SIM), "launch", "gz_sim.launch.py")),
            launch_arguments={"gz_args": f"-r {os.path.join(world_dir, 'warehouse.sdf')}",
                              "on_exit_shutdown": "true"}.items()),
    ]
    model = os.path.join(world_dir, "models", "amr", "model.sdf")
    for pose in poses[:robots]:
        name = pose["name"]
        x, y, yaw = str(pose["x"]), str(pose["y"]), str(pose["yaw"])
        actions += [
            Node(package=GZ_SIM, executable="create", name=f"spawn_{name}", output="log",
                 arguments=["-world", "warehouse", "-file", model, "-name", name,
                            "-x", x, "-y", y, "-z", str(pose["z"]), "-Y", yaw]),
            Node(package=GZ_BRIDGE, executable="parameter_bridge", name="gz_bridge", namespace=name,
                 output="log",
                 parameters=[{"config_file": os.path.join(world_dir, "bridge", f"{name}.yaml")}]),
            Node(package=TF2, executable="static_transform_publisher", name="map_to_odom", namespace=name,
                 output="log",
                 arguments=["--x", x, "--y", y, "--z", "0", "--yaw", yaw,
                            "--frame-id", "map", "--child-frame-id", f"{name}/odom"]),
            Node(package=PACKAGE, executable="robot", name="robot", namespace=name, output="log",
                 parameters=[config, HARDWARE, common,
                             {"drive_backend": "gazebo", "cmd_vel_stamped": _stamped(world_dir, name),
                              "map_to_odom": [float(pose["x"]), float(pose["y"]), float(pose["yaw"])]}]),
        ]
    actions += [
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
    return actions


def generate_launch_description():
    sim_time = str(_config_default("use_sim_time", True)).lower()
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="",
                              description="Number of robots to spawn (robot_0 .. robot_<N-1>); empty: the "
                                          "config's"),
        DeclareLaunchArgument("map", default_value=DEFAULT_LAYOUT,
                              description="Semantic layout YAML the world was (or is) generated from"),
        DeclareLaunchArgument("state_store", default_value="",
                              description="Durable state file (SQLite) of the allocator and the order source: "
                                          "with it they are respawned and resume from it (use a new file per "
                                          "run); empty: state in memory only, and no respawn"),
        DeclareLaunchArgument("world_dir", default_value="",
                              description="Output of ./warehouse gazebo world; '' = generate into "
                                          "build/gazebo_world now"),
        DeclareLaunchArgument("use_sim_time", default_value=sim_time,
                              description="Follow Gazebo's /clock (default: config/warehouse.yaml)"),
        DeclareLaunchArgument("distro", default_value=os.environ.get("ROS_DISTRO", "jazzy"),
                              description="ROS 2 distro for a generated world: jazzy bridges cmd_vel as "
                                          "Twist, kilted and later as TwistStamped"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        OpaqueFunction(function=_nodes),
    ])

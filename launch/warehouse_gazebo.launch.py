"""Launch the warehouse in Gazebo (gz-sim) on a ROS 2 distro (Jazzy + Harmonic, or Kilted).

    ./warehouse gazebo world --robots 20 --out build/gazebo_world          # or let this file do it
    ros2 launch warehouse_bringup warehouse_gazebo.launch.py robots:=20 world_dir:=build/gazebo_world

Starts gz-sim with DIR/warehouse.sdf (ros_gz_sim's gz_sim.launch.py), spawns robot_0 ..
robot_<N-1> from DIR/models/amr/model.sdf at DIR/spawn_poses.yaml (the floor simulator's
start cells), one ros_gz_bridge per robot with DIR/bridge/robot_<i>.yaml (robot_0's also
carries /clock), a static map -> robot_<i>/odom transform at each spawn pose (Gazebo's world
frame is the map frame; the diff drive's odometry starts at the spawn pose), the robot
nodes with ``drive_backend: gazebo`` in namespaces robot_<i>, and the central nodes (MAPF
planner, task allocator, forecaster, order source). No floor simulator: Gazebo publishes /clock.

With ``world_dir:=''`` (default) the files are generated into build/gazebo_world/ (under the
working directory) first, for the given robots, map and distro. All parameters come from
config/warehouse.yaml and config/robot_hardware.yaml of the warehouse_bringup share; the central
nodes, their parameters and respawn are the graph description's (warehouse_nodes.graph).
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
from warehouse_nodes import launch_support as ls
from warehouse_nodes.graph import (
    DEFAULT_CONFIG,
    DEFAULT_HARDWARE,
    RESPAWN_DELAY_S,
    Graph,
    GraphArgs,
    configured,
    describe,
    read_params,
)
from warehouse_nodes.share import share_path

PACKAGE = "warehouse_nodes"
GZ_SIM = "ros_gz_sim"
GZ_BRIDGE = "ros_gz_bridge"
TF2 = "tf2_ros"
GENERATED = "gazebo_world"


def _world_dir(context, robots, layout):
    world_dir = LaunchConfiguration("world_dir").perform(context)
    if not world_dir:
        world_dir = os.path.join("build", GENERATED)
        cmd = [sys.executable, "-m", "warehouse_nodes.gazebo_cli", "world", "--out", world_dir,
               "--robots", str(robots), "--map", layout,
               "--distro", LaunchConfiguration("distro").perform(context),
               "--config", str(ls.config_path(context))]
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
    config = ls.config_path(context)
    robots = ls.optional_int(context, "robots") or int(configured(read_params(config), "floor_simulator", "robots"))
    # no floor simulator (Gazebo is the clock); the robot nodes are Gazebo's, started below
    graph = describe(GraphArgs(config=config, robots=robots, seed=None, layout=ls.layout_arg(context),
                               use_sim_time=ls.boolean(context, "use_sim_time"),
                               state_store=ls.value(context, "state_store"), floor_sim=False,
                               robot_processes="nodes", robot_files=(str(share_path(DEFAULT_HARDWARE)),)))
    common = graph.common
    world_dir = _world_dir(context, robots, common.get("layout", ""))
    with open(os.path.join(world_dir, "spawn_poses.yaml")) as f:
        poses = yaml.safe_load(f)["robots"]
    if len(poses) < robots:
        raise RuntimeError(f"{world_dir} was generated for {len(poses)} robots, not {robots}: regenerate it")

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
        spec = graph.process(name)
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
                 parameters=[str(config), *spec.files, graph.parameters(spec),
                             {"drive_backend": "gazebo", "cmd_vel_stamped": _stamped(world_dir, name),
                              "map_to_odom": [float(pose["x"]), float(pose["y"]), float(pose["yaw"])]}],
                 respawn=spec.respawn, respawn_delay=RESPAWN_DELAY_S),
        ]
    central = [p for p in graph.processes if not p.key.startswith("robot_")]
    return actions + ls.nodes(Graph(graph.config, graph.common, tuple(central)))


def generate_launch_description():
    common = read_params(share_path(DEFAULT_CONFIG)).get("/**", {}).get("ros__parameters", {})
    sim_time = str(common.get("use_sim_time", True)).lower()
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="",
                              description="Number of robots to spawn (robot_0 .. robot_<N-1>); empty: the "
                                          "config's"),
        DeclareLaunchArgument("map", default_value="",
                              description="Semantic layout YAML the world was (or is) generated from; empty: "
                                          "the config's"),
        DeclareLaunchArgument("state_store", default_value="",
                              description="Durable state file (SQLite) of the allocator and the order source: "
                                          "with it every central node and robot node is respawned (use a new "
                                          "file per run); empty: state in memory only, and no respawn"),
        DeclareLaunchArgument("world_dir", default_value="",
                              description="Output of ./warehouse gazebo world; '' = generate into "
                                          "build/gazebo_world (under the working directory) now"),
        DeclareLaunchArgument("use_sim_time", default_value=sim_time,
                              description="Follow Gazebo's /clock (default: config/warehouse.yaml; "
                                          "true/True/1, false/False/0)"),
        DeclareLaunchArgument("distro", default_value=os.environ.get("ROS_DISTRO", "jazzy"),
                              description="ROS 2 distro for a generated world: jazzy bridges cmd_vel as "
                                          "Twist, kilted and later as TwistStamped"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name"),
        OpaqueFunction(function=_nodes),
    ])

"""Launch the warehouse with the embedded floor simulator on a ROS 2 distro (Jazzy, Kilted).

    ros2 launch warehouse_bringup warehouse_sim.launch.py robots:=20 seed:=42

Starts what ``./warehouse run`` starts, from the same graph description
(src/warehouse_nodes/warehouse_nodes/graph.py) and the same ``config/warehouse.yaml`` of the
warehouse_bringup share: floor simulator (publishes /clock; it waits for the others before its
first tick), MAPF planner, task allocator, forecaster, order source, and the robot nodes
``/robot_<i>/robot`` in robot container processes. Record with ``ros2 bag record -s mcap -a``
and watch ``/planner/markers`` in RViz or Foxglove.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction

from launch import LaunchDescription
from warehouse_nodes import launch_support as ls
from warehouse_nodes.graph import DEFAULT_CONFIG, GraphArgs, describe


def _nodes(context):
    args = GraphArgs(config=ls.config_path(context), robots=ls.optional_int(context, "robots"),
                     seed=ls.optional_int(context, "seed"), layout=ls.layout_arg(context),
                     use_sim_time=ls.boolean(context, "use_sim_time"),
                     state_store=ls.value(context, "state_store"), observers=ls.optional_int(context, "observers") or 0,
                     max_rtf=ls.optional_float(context, "max_rtf"), bases=ls.value(context, "bases"))
    return ls.nodes(describe(args))


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="",
                              description="Number of robots (robot_0 .. robot_<N-1>); empty: the config's"),
        DeclareLaunchArgument("map", default_value="",
                              description="Semantic layout YAML (racks, stations, chargers); empty: the config's"),
        DeclareLaunchArgument("state_store", default_value="",
                              description="Durable state file (SQLite): with it every central node and robot "
                                          "container is respawned and resumes from it (use a new file per run); "
                                          "empty: state in memory only, and no respawn"),
        DeclareLaunchArgument("seed", default_value="",
                              description="Seed for robot starts, catalogue and demand; empty: the config's"),
        DeclareLaunchArgument("use_sim_time", default_value="true",
                              description="Follow the floor simulator's /clock (true/True/1, false/False/0)"),
        DeclareLaunchArgument("max_rtf", default_value="",
                              description="Cap on simulated seconds per wall second; empty: 750 / robots, at most "
                                          "the config's floor_simulator.real_time_factor; 0: as fast as possible"),
        DeclareLaunchArgument("observers", default_value="0",
                              description="More /clock and /sim/fleet_state subscribers the simulator waits for "
                                          "before its first tick (e.g. 1 for a recorder node)"),
        DeclareLaunchArgument("bases", default_value="floor",
                              description="What moves the robots: floor (the floor simulator), diffdrive (one "
                                          "simulated differential-drive base per robot behind vendor-driver "
                                          "topics, the base simulator is the clock; robot nodes use the "
                                          "cmd_vel/odom hardware backend) or nav2 (the same bases, robot nodes "
                                          "on the Nav2 backend, a simulated controller server per base; needs "
                                          "nav2_msgs)"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name (relative: from the working "
                                          "directory, else the warehouse_bringup share)"),
        OpaqueFunction(function=_nodes),
    ])

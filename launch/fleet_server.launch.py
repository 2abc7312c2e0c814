"""Launch the central nodes of the fleet on the fleet server (robots run robot.launch.py).

    ros2 launch warehouse_bringup fleet_server.launch.py robots:=20 domain_id:=42

Starts the MAPF planner, the task allocator and the forecaster, optionally the seeded order source (real
orders come from your WMS through /submit_order instead), and optionally the embedded floor
simulator (``floor_sim:=true``: then the robots run ``drive_backend:=floor_sim`` and
everything follows its /clock; used by docker/compose.yaml as a distributed demo), and optionally the
operators' HTTP API and web console (``api:=true``, docs/operations.md). What starts, with
which parameters, gating and respawn, is the graph description's
(src/warehouse_nodes/warehouse_nodes/graph.py), as for ``./warehouse run``; parameters from
config/warehouse.yaml of the warehouse_bringup share. See docs/deployment.md.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration

from launch import LaunchDescription
from warehouse_nodes import launch_support as ls
from warehouse_nodes.graph import DEFAULT_CONFIG, GraphArgs, describe


def _nodes(context):
    # the robots are started on their own computers (robot.launch.py): one /sim/fleet_state reader each
    args = GraphArgs(config=ls.config_path(context), robots=ls.optional_int(context, "robots"),
                     seed=ls.optional_int(context, "seed"), layout=ls.layout_arg(context),
                     use_sim_time=ls.boolean(context, "use_sim_time"), state_store=ls.value(context, "state_store"),
                     floor_sim=ls.boolean(context, "floor_sim"), order_source=ls.boolean(context, "order_source"),
                     robot_processes="remote", api=_api(context))
    return ls.nodes(describe(args))


def _api(context) -> dict | None:
    """The operators' HTTP API and web console (fleet_api) when ``api:=true``."""
    if not ls.boolean(context, "api"):
        return None
    return {"host": ls.value(context, "api_host"), "port": ls.optional_int(context, "api_port") or 8080,
            "token_file": ls.value(context, "api_token_file")}


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robots", default_value="",
                              description="Fleet size: robots robot_0 .. robot_<N-1> are expected; "
                                          "empty: the config's"),
        DeclareLaunchArgument("map", default_value="",
                              description="Semantic layout YAML (racks, stations, chargers); empty: the config's"),
        # override: a fleet server keeps its orders and tasks in a file, so a respawned node resumes
        DeclareLaunchArgument("state_store", default_value="warehouse_state.db",
                              description="Durable state file (SQLite) of the allocator, the order source and "
                                          "the simulator: with it every central node is respawned and resumes "
                                          "from it; empty: state in memory only, and no respawn"),
        DeclareLaunchArgument("seed", default_value="",
                              description="Seed of the catalogue and of the seeded order source; empty: the "
                                          "config's"),
        # override: physical robots run on the wall clock (kept in sync by chrony/PTP)
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="false with physical robots; true with floor_sim or Gazebo "
                                          "(true/True/1, false/False/0)"),
        DeclareLaunchArgument("order_source", default_value="true",
                              description="Also start the seeded order source (false: orders come "
                                          "from your system via /submit_order)"),
        DeclareLaunchArgument("floor_sim", default_value="false",
                              description="Also start the floor simulator (robots then use "
                                          "drive_backend:=floor_sim)"),
        DeclareLaunchArgument("api", default_value="false",
                              description="Also start the operators' HTTP API and web console (fleet_api; "
                                          "writes need the token of api_token_file or WAREHOUSE_API_TOKEN)"),
        DeclareLaunchArgument("api_host", default_value="127.0.0.1",
                              description="Address the API binds to (0.0.0.0: every interface; reads are open)"),
        DeclareLaunchArgument("api_port", default_value="8080", description="TCP port of the API"),
        DeclareLaunchArgument("api_token_file", default_value="",
                              description="File holding the API's bearer token; empty: WAREHOUSE_API_TOKEN"),
        DeclareLaunchArgument("domain_id", default_value=EnvironmentVariable("ROS_DOMAIN_ID", default_value="0"),
                              description="ROS_DOMAIN_ID shared with the robots"),
        DeclareLaunchArgument("config", default_value=DEFAULT_CONFIG,
                              description="Parameter YAML keyed by node name (relative: from the working "
                                          "directory, else the warehouse_bringup share)"),
        SetEnvironmentVariable("ROS_DOMAIN_ID", LaunchConfiguration("domain_id")),
        OpaqueFunction(function=_nodes),
    ])

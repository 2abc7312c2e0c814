"""Gazebo (gz-sim) world, AMR model and ros_gz_bridge files generated from a layout.

ROS-free: plain XML and YAML text. Everything is written for SDF 1.9, which both
libsdformat 12 (the Debian parser the tests use) and Gazebo Harmonic (sdformat 14) read.

What is generated (see :func:`write_gazebo_files`):

* ``warehouse.sdf``: the world ``warehouse``. A ground plane the size of the map, the walls
  of the occupancy grid merged into boxes (one static model ``walls``), every rack as a
  static model ``rack_<id>`` at its storage location, every pick station ``station_<id>``
  and charger ``charger_<id>`` as floor markings (visual only, robots drive onto them), a
  sun, and the world systems a world needs before robots can be spawned into it (physics,
  user commands, scene broadcaster, sensors with ogre2).
* ``models/amr/model.sdf`` + ``model.config``: a differential-drive AMR low enough to drive
  under a rack. Two driven wheels, two caster spheres, ``gz-sim-diff-drive-system`` (limits
  from ``config/``), ``gz-sim-joint-state-publisher-system`` and a 2-D ``gpu_lidar``.
* ``bridge/robot_<i>.yaml``: one ``ros_gz_bridge`` parameter file per robot.
* ``spawn_poses.yaml``: where each robot is spawned.

Positions follow REP-103 in the map frame: a cell's centre comes from
:meth:`GridFrame.cell_to_world`, so Gazebo's world frame *is* the ``map`` frame.

Per-robot topics. The model file is shared by all robots and sets no ``<topic>``: Gazebo
then scopes every topic by the model name given at spawn time (``ros_gz_sim create -name
robot_3``)::

    /model/robot_3/cmd_vel         diff drive input          (gz.msgs.Twist)
    /model/robot_3/odometry        diff drive odometry       (gz.msgs.Odometry)
    /model/robot_3/tf              odom -> base_link         (gz.msgs.Pose_V)
    /world/warehouse/model/robot_3/joint_state               (gz.msgs.Model)
    /world/warehouse/model/robot_3/link/base_link/sensor/lidar/scan   (gz.msgs.LaserScan)

The diff drive names its frames ``robot_3/odom`` and ``robot_3/base_link`` (model name +
canonical link), the REP-105 frames (docs/architecture.md, "Messages and frames"). The
bridge maps them to ROS names in the robot's namespace (:data:`ROS_TOPICS`). The base
odometry goes to ``base/odom`` and not to ``odom``, because the robot node itself publishes
``odom`` (its pose in ``map``).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml

from warehouse_core.errors import InputError
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Layout
from warehouse_core.sim import sdf
from warehouse_core.sim.gazebo_amr import MODEL_NAME, RACK_CLEARANCE, AmrSpec, amr_model_config, amr_model_sdf

WORLD_NAME = "warehouse"
CMD_VEL_TYPES = {"twist": "geometry_msgs/msg/Twist", "twist_stamped": "geometry_msgs/msg/TwistStamped"}
# geometry_msgs/Twist on Jazzy; Kilted and later use TwistStamped for cmd_vel.
DISTRO_CMD_VEL = {"jazzy": "twist", "kilted": "twist_stamped", "rolling": "twist_stamped"}
# ROS names (relative to the robot namespace /robot_<i>) the bridge publishes/subscribes.
ROS_TOPICS = {"cmd_vel": "cmd_vel", "odom": "base/odom", "scan": "scan", "joint_states": "joint_states"}

WALL_HEIGHT = 2.0           # [m]
RACK_HEIGHT = 2.0           # [m] top of the rack
RACK_FOOTPRINT = 0.90       # share of the cell the rack covers
LEG = 0.05                  # [m] rack leg cross-section


def wall_rectangles(free: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Blocked cells of ``free[y, x]`` merged into rectangles ``(x0, y0, x1, y1)`` (inclusive).

    Row runs first; a run continues the rectangle above it when it spans the same columns.
    Every blocked cell is covered exactly once.
    """
    blocked = ~np.asarray(free, dtype=bool)
    h, w = blocked.shape
    open_rects: dict[tuple[int, int], int] = {}  # (x0, x1) -> y0 of a rectangle still growing
    out: list[tuple[int, int, int, int]] = []
    for y in range(h + 1):
        runs: list[tuple[int, int]] = []
        if y < h:
            row = blocked[y]
            x = 0
            while x < w:
                if row[x]:
                    x0 = x
                    while x < w and row[x]:
                        x += 1
                    runs.append((x0, x - 1))
                else:
                    x += 1
        still = {}
        for run in runs:
            still[run] = open_rects.pop(run, y)
        for (x0, x1), y0 in open_rects.items():
            out.append((x0, y0, x1, y - 1))
        open_rects = still
    out.sort(key=lambda r: (r[1], r[0]))
    return out


def _cell_pose(layout: Layout, col: float, row: float) -> tuple[float, float]:
    wx, wy = layout.frame.cells_to_world(col, row)
    return float(wx), float(wy)


def _static_model(world: ET.Element, name: str, x: float, y: float, yaw: float) -> ET.Element:
    m = sdf.sub(world, "model", name=name)
    sdf.sub(m, "static", "true")
    sdf.pose(m, x, y, 0.0, 0.0, 0.0, yaw)
    return sdf.sub(m, "link", name="link")


def _rack(world: ET.Element, rack: str, x: float, y: float, yaw: float, cell: float) -> None:
    link = _static_model(world, f"rack_{rack}", x, y, yaw)
    side = RACK_FOOTPRINT * cell
    off = side / 2 - LEG / 2
    grey, blue = (0.35, 0.35, 0.38, 1.0), (0.15, 0.3, 0.7, 1.0)
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        sdf.box_part(link, f"leg{i}", (sx * off, sy * off, RACK_CLEARANCE / 2), (LEG, LEG, RACK_CLEARANCE), grey)
    body = RACK_HEIGHT - RACK_CLEARANCE
    # no collision for the body: AMRs and their lidar stay below RACK_CLEARANCE, and every
    # collision costs ~0.2 MB in the SDF parser (a rack model ~3 MB in all; see docs/gazebo.md)
    sdf.box_part(link, "body", (0, 0, RACK_CLEARANCE + body / 2), (side, side, body), blue, collide=False)


def _pad(link: ET.Element, name: str, dx: float, dy: float, size: float, rgba: tuple) -> None:
    sdf.box_part(link, name, (dx, dy, 0.0025), (size, size, 0.005), rgba, collide=False)


def world_sdf(layout: Layout, racks: dict[Coord, str] | None = None) -> str:
    """The SDF world of ``layout``. ``racks``: cell -> rack id standing there at start
    (default: the layout's own ``storage[].rack``)."""
    if racks is None:
        racks = {s.cell: s.rack for s in layout.storage if s.rack is not None}
    root = ET.Element("sdf", version=sdf.SDF_VERSION)
    world = sdf.sub(root, "world", name=WORLD_NAME)
    _world_systems(world)
    _ground(world, layout)
    _walls(world, layout)
    for cell, rack in sorted(racks.items(), key=lambda kv: kv[1]):
        _rack(world, rack, *layout.cell_to_world(cell), layout.frame.yaw, layout.frame.cell_size)
    _floor_markings(world, layout)
    return sdf.to_text(root, f"Warehouse world generated from {layout.source} ({layout.name}); "
                             f"do not edit, regenerate with ./warehouse gazebo world")


def _world_systems(world: ET.Element) -> None:
    """Physics, the systems robots need to be spawned and sensed, the scene and a sun."""
    physics = sdf.sub(world, "physics", name="1ms", type="ignored")
    sdf.sub(physics, "max_step_size", 0.001)
    sdf.sub(physics, "real_time_factor", 1.0)
    sdf.plugin(world, "gz-sim-physics-system", "gz::sim::systems::Physics")
    sdf.plugin(world, "gz-sim-user-commands-system", "gz::sim::systems::UserCommands")
    sdf.plugin(world, "gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster")
    sdf.plugin(world, "gz-sim-sensors-system", "gz::sim::systems::Sensors", render_engine="ogre2")
    scene = sdf.sub(world, "scene")
    sdf.sub(scene, "ambient", sdf.vec(0.6, 0.6, 0.6, 1.0))
    sdf.sub(scene, "background", sdf.vec(0.8, 0.85, 0.9, 1.0))
    sdf.sub(scene, "shadows", "true")

    sun = sdf.sub(world, "light", type="directional", name="sun")
    sdf.sub(sun, "cast_shadows", "true")
    sdf.pose(sun, 0, 0, 20, 0, 0, 0)
    sdf.sub(sun, "diffuse", sdf.vec(0.85, 0.85, 0.85, 1))
    sdf.sub(sun, "specular", sdf.vec(0.2, 0.2, 0.2, 1))
    att = sdf.sub(sun, "attenuation")
    sdf.sub(att, "range", 1000.0)
    sdf.sub(att, "constant", 0.9)
    sdf.sub(att, "linear", 0.01)
    sdf.sub(att, "quadratic", 0.001)
    sdf.sub(sun, "direction", sdf.vec(-0.5, 0.1, -0.9))


def _ground(world: ET.Element, layout: Layout) -> None:
    """A ground plane: the map's extent plus a 2 m margin."""
    grid, cs, yaw = layout.grid, layout.frame.cell_size, layout.frame.yaw
    width_m, height_m = grid.width * cs, grid.height * cs
    gx, gy = _cell_pose(layout, (grid.width - 1) / 2, (grid.height - 1) / 2)
    ground = sdf.sub(world, "model", name="ground_plane")
    sdf.sub(ground, "static", "true")
    sdf.pose(ground, gx, gy, 0, 0, 0, yaw)
    glink = sdf.sub(ground, "link", name="link")
    for kind in ("collision", "visual"):
        el = sdf.sub(glink, kind, name=kind)
        plane = sdf.sub(sdf.sub(el, "geometry"), "plane")
        sdf.sub(plane, "normal", "0 0 1")
        sdf.sub(plane, "size", sdf.vec(width_m + 4, height_m + 4))
        if kind == "visual":
            sdf.material(el, (0.75, 0.75, 0.72, 1.0))


def _walls(world: ET.Element, layout: Layout) -> None:
    """The map's blocked cells as boxes of one static model ``walls``."""
    rects = wall_rectangles(layout.grid.free)
    if not rects:
        return
    cs, yaw = layout.frame.cell_size, layout.frame.yaw
    walls = sdf.sub(world, "model", name="walls")
    sdf.sub(walls, "static", "true")
    wlink = sdf.sub(walls, "link", name="link")
    for i, (x0, y0, x1, y1) in enumerate(rects):
        wx, wy = _cell_pose(layout, (x0 + x1) / 2, (y0 + y1) / 2)
        size = ((x1 - x0 + 1) * cs, (y1 - y0 + 1) * cs, WALL_HEIGHT)
        sdf.box_part(wlink, f"wall{i}", (wx, wy, WALL_HEIGHT / 2, 0, 0, yaw), size, (0.55, 0.5, 0.45, 1.0))


def _floor_markings(world: ET.Element, layout: Layout) -> None:
    """Stations (pick cell and queue) and chargers as pads on the floor, visual only."""
    cs, yaw = layout.frame.cell_size, layout.frame.yaw
    for st in layout.stations:
        x, y = layout.cell_to_world(st.pick_cell)
        link = _static_model(world, f"station_{st.id}", x, y, yaw)
        _pad(link, "pick", 0.0, 0.0, 0.95 * cs, (0.95, 0.55, 0.05, 1.0))
        for k, q in enumerate(st.queue):
            qx, qy = layout.cell_to_world(q)
            # pads are children of the station model: offsets in its (yawed) frame
            dx, dy = qx - x, qy - y
            c, s = math.cos(-yaw), math.sin(-yaw)
            _pad(link, f"queue{k}", c * dx - s * dy, s * dx + c * dy, 0.8 * cs, (0.95, 0.8, 0.4, 1.0))
    for ch in layout.chargers:
        x, y = layout.cell_to_world(ch.cell)
        link = _static_model(world, f"charger_{ch.id}", x, y, yaw)
        _pad(link, "pad", 0.0, 0.0, 0.9 * cs, (0.1, 0.7, 0.2, 1.0))


# --------------------------------------------------------------------------------------------
# bridge, spawn poses
# --------------------------------------------------------------------------------------------

def bridge_entries(robot: str, cmd_vel: str = "twist", clock: bool = False,
                   world: str = WORLD_NAME) -> list[dict]:
    """``ros_gz_bridge`` entries of one robot (``config_file`` format).

    ``cmd_vel``: ``twist`` or ``twist_stamped`` (:data:`CMD_VEL_TYPES`). ``clock``: also bridge
    ``/clock``; give it to ONE bridge only, or every node gets each clock tick N times.
    TF goes to the global ``/tf``: the frames carry the robot name already.
    """
    if cmd_vel not in CMD_VEL_TYPES:
        raise InputError("cmd_vel type", f"{cmd_vel!r} is not one of {', '.join(CMD_VEL_TYPES)}")
    ns = f"/{robot}"
    entries = []
    if clock:
        entries.append(_entry("/clock", "/clock", "rosgraph_msgs/msg/Clock", "gz.msgs.Clock", "GZ_TO_ROS"))
    entries += [
        _entry(f"{ns}/{ROS_TOPICS['cmd_vel']}", f"/model/{robot}/cmd_vel", CMD_VEL_TYPES[cmd_vel],
               "gz.msgs.Twist", "ROS_TO_GZ"),
        _entry(f"{ns}/{ROS_TOPICS['odom']}", f"/model/{robot}/odometry", "nav_msgs/msg/Odometry",
               "gz.msgs.Odometry", "GZ_TO_ROS"),
        _entry("/tf", f"/model/{robot}/tf", "tf2_msgs/msg/TFMessage", "gz.msgs.Pose_V", "GZ_TO_ROS"),
        _entry(f"{ns}/{ROS_TOPICS['scan']}", f"/world/{world}/model/{robot}/link/base_link/sensor/lidar/scan",
               "sensor_msgs/msg/LaserScan", "gz.msgs.LaserScan", "GZ_TO_ROS"),
        _entry(f"{ns}/{ROS_TOPICS['joint_states']}", f"/world/{world}/model/{robot}/joint_state",
               "sensor_msgs/msg/JointState", "gz.msgs.Model", "GZ_TO_ROS"),
    ]
    return entries


def _entry(ros: str, gz: str, ros_type: str, gz_type: str, direction: str) -> dict:
    return {"ros_topic_name": ros, "gz_topic_name": gz, "ros_type_name": ros_type,
            "gz_type_name": gz_type, "direction": direction}


def bridge_yaml(robot: str, cmd_vel: str = "twist", clock: bool = False) -> str:
    head = (f"# ros_gz_bridge parameter_bridge config of {robot} (cmd_vel: {CMD_VEL_TYPES.get(cmd_vel, cmd_vel)}).\n"
            f"# ros2 run ros_gz_bridge parameter_bridge --ros-args -p config_file:=<this file>\n")
    if clock:
        head += "# This robot's bridge also carries /clock (only one bridge may).\n"
    return head + yaml.safe_dump(bridge_entries(robot, cmd_vel, clock), sort_keys=False)


def spawn_poses(layout: Layout, starts: list[Coord], z: float = 0.02) -> dict:
    """Spawn pose of robot_<i> at ``starts[i]``: map-frame x, y, z and yaw (facing +x of the grid)."""
    robots = []
    for i, cell in enumerate(starts):
        x, y = layout.cell_to_world(cell)
        robots.append({"name": f"robot_{i}", "cell": [int(cell[0]), int(cell[1])],
                       "x": round(x, 4), "y": round(y, 4), "z": z, "yaw": round(layout.frame.yaw, 6)})
    return {"world": WORLD_NAME, "frame_id": "map", "layout": layout.source, "robots": robots}


def write_gazebo_files(layout: Layout, out: str | Path, starts: list[Coord], spec: AmrSpec | None = None,
                       cmd_vel: str = "twist", racks: dict[Coord, str] | None = None) -> list[Path]:
    """Write the world, the AMR model, one bridge YAML per robot and the spawn poses into ``out``."""
    if cmd_vel not in CMD_VEL_TYPES:
        raise InputError("--cmd-vel-type", f"{cmd_vel!r} is not one of {', '.join(CMD_VEL_TYPES)}")
    out = Path(out)
    files = {
        out / "warehouse.sdf": world_sdf(layout, racks),
        out / "models" / MODEL_NAME / "model.sdf": amr_model_sdf(spec),
        out / "models" / MODEL_NAME / "model.config": amr_model_config(),
        out / "spawn_poses.yaml": "# Spawn poses of the robots (map frame = Gazebo world frame, REP-103).\n"
                                  + yaml.safe_dump(spawn_poses(layout, starts), sort_keys=False),
    }
    for i in range(len(starts)):
        files[out / "bridge" / f"robot_{i}.yaml"] = bridge_yaml(f"robot_{i}", cmd_vel, clock=i == 0)
    bridge_dir = out / "bridge"
    if bridge_dir.is_dir():  # a smaller fleet than last time: drop stale robot files
        for old in bridge_dir.glob("robot_*.yaml"):
            if old not in files:
                old.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(files)

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
canonical link), the frames of README "REP-105". The bridge maps them to ROS names in the
robot's namespace (:data:`ROS_TOPICS`). The base odometry goes to ``base/odom`` and not to
``odom``, because the robot node itself publishes ``odom`` (its pose in ``map``).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import yaml

from warehouse_core.errors import InputError
from warehouse_core.maps.grid import Coord
from warehouse_core.maps.layout import Layout

__all__ = [
    "AmrSpec",
    "CMD_VEL_TYPES",
    "DISTRO_CMD_VEL",
    "ROS_TOPICS",
    "SDF_VERSION",
    "WORLD_NAME",
    "amr_model_config",
    "amr_model_sdf",
    "amr_spec_from_config",
    "bridge_entries",
    "bridge_yaml",
    "spawn_poses",
    "wall_rectangles",
    "world_sdf",
    "write_gazebo_files",
]

SDF_VERSION = "1.9"
WORLD_NAME = "warehouse"
MODEL_NAME = "amr"
CMD_VEL_TYPES = {"twist": "geometry_msgs/msg/Twist", "twist_stamped": "geometry_msgs/msg/TwistStamped"}
# geometry_msgs/Twist on Jazzy; Kilted and later use TwistStamped for cmd_vel.
DISTRO_CMD_VEL = {"jazzy": "twist", "kilted": "twist_stamped", "rolling": "twist_stamped"}
# ROS names (relative to the robot namespace /robot_<i>) the bridge publishes/subscribes.
ROS_TOPICS = {"cmd_vel": "cmd_vel", "odom": "base/odom", "scan": "scan", "joint_states": "joint_states"}

WALL_HEIGHT = 2.0           # [m]
RACK_HEIGHT = 2.0           # [m] top of the rack
RACK_CLEARANCE = 0.40       # [m] free height under the rack (the AMR is lower)
RACK_FOOTPRINT = 0.90       # share of the cell the rack covers
LEG = 0.05                  # [m] rack leg cross-section


@dataclass(frozen=True)
class AmrSpec:
    """Geometry and limits of the simulated AMR (SI units)."""

    wheel_separation: float = 0.50        # [m] between the wheel centres
    wheel_radius: float = 0.08            # [m]
    wheel_width: float = 0.04             # [m]
    chassis_length: float = 0.70          # [m] along x
    chassis_width: float = 0.56           # [m] along y
    chassis_height: float = 0.20          # [m]
    chassis_mass: float = 40.0            # [kg]
    wheel_mass: float = 1.0               # [kg]
    caster_radius: float = 0.04           # [m]
    max_linear_velocity: float = 1.5      # [m/s]    floor_simulator.max_speed
    max_linear_acceleration: float = 1.0  # [m/s^2]  floor_simulator.max_accel
    max_angular_velocity: float = 1.5708  # [rad/s]  floor_simulator.turn_rate
    max_angular_acceleration: float = 3.0  # [rad/s^2]
    odom_publish_frequency: float = 50.0  # [Hz]
    lidar_samples: int = 360
    lidar_range_min: float = 0.10         # [m]
    lidar_range_max: float = 12.0         # [m]
    lidar_update_rate: float = 10.0       # [Hz]

    def check(self, source: str = "AmrSpec") -> AmrSpec:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InputError(source, f"{f.name} = {v!r} must be a positive number", where=f.name)
        if self.wheel_separation - self.wheel_width > self.chassis_width:
            raise InputError(source, f"wheel_separation {self.wheel_separation} m does not fit the chassis "
                                     f"width {self.chassis_width} m", where="wheel_separation")
        if self.lidar_range_min >= self.lidar_range_max:
            raise InputError(source, "lidar_range_min must be below lidar_range_max", where="lidar_range_min")
        if self.caster_radius > self.wheel_radius:
            raise InputError(source, "caster_radius must not exceed wheel_radius", where="caster_radius")
        if self.top_height >= RACK_CLEARANCE:
            raise InputError(source, f"the AMR is {self.top_height:.2f} m high but racks leave only "
                                     f"{RACK_CLEARANCE} m under them", where="chassis_height")
        return self

    @property
    def chassis_bottom(self) -> float:
        return 2 * self.caster_radius - 0.5 * self.caster_radius  # casters half inside the chassis

    @property
    def top_height(self) -> float:
        return self.chassis_bottom + self.chassis_height + 0.06  # lidar on top


_CONFIG_KEYS = {"max_speed": "max_linear_velocity", "max_accel": "max_linear_acceleration",
                "turn_rate": "max_angular_velocity"}


def _read_yaml(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(str(path), "must be a ROS 2 parameter file (a mapping keyed by node name)")
    return doc


def _params(doc: dict, node: str, path: Path) -> dict:
    section = doc.get(node)
    params = section.get("ros__parameters") if isinstance(section, dict) else None
    if not isinstance(params, dict):
        raise InputError(str(path), f"no '{node}: ros__parameters:' section", where=node)
    return params


def amr_spec_from_config(config: str | Path, hardware: str | Path | None = None) -> AmrSpec:
    """AMR limits from ``config/warehouse.yaml`` (``floor_simulator``: max_speed, max_accel,
    turn_rate) and geometry from ``config/robot_hardware.yaml`` (``/**/robot``), both ROS 2
    parameter files. Keys of the hardware file must be :class:`AmrSpec` fields."""
    config = Path(config)
    sim = _params(_read_yaml(config), "floor_simulator", config)
    values: dict = {}
    for key, name in _CONFIG_KEYS.items():
        if key in sim:
            values[name] = sim[key]
    if hardware is not None:
        hardware = Path(hardware)
        hw = _params(_read_yaml(hardware), "/**/robot", hardware)
        known = {f.name for f in fields(AmrSpec)}
        for key, value in hw.items():
            if key not in known:
                raise InputError(str(hardware), f"unknown key {key!r}", where=f"/**/robot.{key}",
                                 fix="allowed: " + ", ".join(sorted(known)))
            if key in values and values[key] != value:
                raise InputError(str(hardware), f"{key} is already set by {config}", where=f"/**/robot.{key}")
            values[key] = value
    spec = replace(AmrSpec(), **values)
    spec.check(str(hardware or config))
    return spec


# --------------------------------------------------------------------------------------------
# XML helpers
# --------------------------------------------------------------------------------------------

def _f(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _vec(*vs: float) -> str:
    return " ".join(_f(v) for v in vs)


def _sub(parent: ET.Element, tag: str, text: str | float | int | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text if isinstance(text, str) else _f(text) if isinstance(text, float) else str(text)
    return el


def _pose(parent: ET.Element, x=0.0, y=0.0, z=0.0, roll=0.0, pitch=0.0, yaw=0.0) -> ET.Element:
    return _sub(parent, "pose", _vec(x, y, z, roll, pitch, yaw))


def _box(parent: ET.Element, sx: float, sy: float, sz: float) -> None:
    _sub(_sub(_sub(parent, "geometry"), "box"), "size", _vec(sx, sy, sz))


def _material(parent: ET.Element, rgba: tuple[float, float, float, float]) -> None:
    m = _sub(parent, "material")
    _sub(m, "ambient", _vec(*rgba))
    _sub(m, "diffuse", _vec(*rgba))


def _box_part(link: ET.Element, name: str, pose: tuple, size: tuple, rgba: tuple, collide: bool = True) -> None:
    if collide:
        c = _sub(link, "collision", name=f"{name}_collision")
        _pose(c, *pose)
        _box(c, *size)
    v = _sub(link, "visual", name=f"{name}_visual")
    _pose(v, *pose)
    _box(v, *size)
    _material(v, rgba)


def _inertial(link: ET.Element, mass: float, ixx: float, iyy: float, izz: float, z: float = 0.0) -> None:
    i = _sub(link, "inertial")
    if z:
        _pose(i, 0, 0, z)
    _sub(i, "mass", mass)
    t = _sub(i, "inertia")
    for k, v in (("ixx", ixx), ("ixy", 0.0), ("ixz", 0.0), ("iyy", iyy), ("iyz", 0.0), ("izz", izz)):
        _sub(t, k, v)


def _plugin(parent: ET.Element, filename: str, name: str, **params) -> ET.Element:
    p = _sub(parent, "plugin", filename=filename, name=name)
    for k, v in params.items():
        _sub(p, k, v if isinstance(v, str) else _f(float(v)))
    return p


def _to_text(root: ET.Element, comment: str) -> str:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0"?>\n<!-- {comment} -->\n{body}\n'


# --------------------------------------------------------------------------------------------
# world
# --------------------------------------------------------------------------------------------

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
    m = _sub(world, "model", name=name)
    _sub(m, "static", "true")
    _pose(m, x, y, 0.0, 0.0, 0.0, yaw)
    return _sub(m, "link", name="link")


def _rack(world: ET.Element, rack: str, x: float, y: float, yaw: float, cell: float) -> None:
    link = _static_model(world, f"rack_{rack}", x, y, yaw)
    side = RACK_FOOTPRINT * cell
    off = side / 2 - LEG / 2
    grey, blue = (0.35, 0.35, 0.38, 1.0), (0.15, 0.3, 0.7, 1.0)
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        _box_part(link, f"leg{i}", (sx * off, sy * off, RACK_CLEARANCE / 2), (LEG, LEG, RACK_CLEARANCE), grey)
    body = RACK_HEIGHT - RACK_CLEARANCE
    # no collision for the body: AMRs and their lidar stay below RACK_CLEARANCE, and every
    # collision costs ~0.2 MB in the SDF parser (a rack model ~3 MB in all; see docs/gazebo.md)
    _box_part(link, "body", (0, 0, RACK_CLEARANCE + body / 2), (side, side, body), blue, collide=False)


def _pad(link: ET.Element, name: str, dx: float, dy: float, size: float, rgba: tuple) -> None:
    _box_part(link, name, (dx, dy, 0.0025), (size, size, 0.005), rgba, collide=False)


def world_sdf(layout: Layout, racks: dict[Coord, str] | None = None) -> str:
    """The SDF world of ``layout``. ``racks``: cell -> rack id standing there at start
    (default: the layout's own ``storage[].rack``)."""
    if racks is None:
        racks = {s.cell: s.rack for s in layout.storage if s.rack is not None}
    frame, grid = layout.frame, layout.grid
    cs, yaw = frame.cell_size, frame.yaw
    sdf = ET.Element("sdf", version=SDF_VERSION)
    world = _sub(sdf, "world", name=WORLD_NAME)
    physics = _sub(world, "physics", name="1ms", type="ignored")
    _sub(physics, "max_step_size", 0.001)
    _sub(physics, "real_time_factor", 1.0)
    _plugin(world, "gz-sim-physics-system", "gz::sim::systems::Physics")
    _plugin(world, "gz-sim-user-commands-system", "gz::sim::systems::UserCommands")
    _plugin(world, "gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster")
    _plugin(world, "gz-sim-sensors-system", "gz::sim::systems::Sensors", render_engine="ogre2")
    scene = _sub(world, "scene")
    _sub(scene, "ambient", _vec(0.6, 0.6, 0.6, 1.0))
    _sub(scene, "background", _vec(0.8, 0.85, 0.9, 1.0))
    _sub(scene, "shadows", "true")

    sun = _sub(world, "light", type="directional", name="sun")
    _sub(sun, "cast_shadows", "true")
    _pose(sun, 0, 0, 20, 0, 0, 0)
    _sub(sun, "diffuse", _vec(0.85, 0.85, 0.85, 1))
    _sub(sun, "specular", _vec(0.2, 0.2, 0.2, 1))
    att = _sub(sun, "attenuation")
    _sub(att, "range", 1000.0)
    _sub(att, "constant", 0.9)
    _sub(att, "linear", 0.01)
    _sub(att, "quadratic", 0.001)
    _sub(sun, "direction", _vec(-0.5, 0.1, -0.9))

    # ground: the map's extent plus a 2 m margin
    width_m, height_m = grid.width * cs, grid.height * cs
    gx, gy = _cell_pose(layout, (grid.width - 1) / 2, (grid.height - 1) / 2)
    ground = _sub(world, "model", name="ground_plane")
    _sub(ground, "static", "true")
    _pose(ground, gx, gy, 0, 0, 0, yaw)
    glink = _sub(ground, "link", name="link")
    for kind in ("collision", "visual"):
        el = _sub(glink, kind, name=kind)
        plane = _sub(_sub(el, "geometry"), "plane")
        _sub(plane, "normal", "0 0 1")
        _sub(plane, "size", _vec(width_m + 4, height_m + 4))
        if kind == "visual":
            _material(el, (0.75, 0.75, 0.72, 1.0))

    rects = wall_rectangles(grid.free)
    if rects:
        walls = _sub(world, "model", name="walls")
        _sub(walls, "static", "true")
        wlink = _sub(walls, "link", name="link")
        for i, (x0, y0, x1, y1) in enumerate(rects):
            wx, wy = _cell_pose(layout, (x0 + x1) / 2, (y0 + y1) / 2)
            size = ((x1 - x0 + 1) * cs, (y1 - y0 + 1) * cs, WALL_HEIGHT)
            _box_part(wlink, f"wall{i}", (wx, wy, WALL_HEIGHT / 2, 0, 0, yaw), size, (0.55, 0.5, 0.45, 1.0))

    for cell, rack in sorted(racks.items(), key=lambda kv: kv[1]):
        _rack(world, rack, *layout.cell_to_world(cell), yaw, cs)

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
    return _to_text(sdf, f"Warehouse world generated from {layout.source} ({layout.name}); "
                         f"do not edit, regenerate with ./warehouse gazebo world")


# --------------------------------------------------------------------------------------------
# AMR model
# --------------------------------------------------------------------------------------------

def amr_model_sdf(spec: AmrSpec | None = None) -> str:
    """SDF of the differential-drive AMR (model name ``amr``; the spawner renames it)."""
    s = (spec or AmrSpec()).check()
    r, sep, ww = s.wheel_radius, s.wheel_separation, s.wheel_width
    L, W, H = s.chassis_length, s.chassis_width, s.chassis_height
    zc = s.chassis_bottom + H / 2
    sdf = ET.Element("sdf", version=SDF_VERSION)
    model = _sub(sdf, "model", name=MODEL_NAME, canonical_link="base_link")

    base = _sub(model, "link", name="base_link")
    m = s.chassis_mass
    _inertial(base, m, m * (W * W + H * H) / 12, m * (L * L + H * H) / 12, m * (L * L + W * W) / 12, z=zc)
    _box_part(base, "chassis", (0, 0, zc), (L, W, H), (0.9, 0.75, 0.1, 1.0))
    for name, x in (("front_caster", L / 2 - s.caster_radius - 0.02), ("rear_caster", -L / 2 + s.caster_radius + 0.02)):
        c = _sub(base, "collision", name=f"{name}_collision")
        _pose(c, x, 0, s.caster_radius)
        _sub(_sub(_sub(c, "geometry"), "sphere"), "radius", s.caster_radius)
        ode = _sub(_sub(_sub(c, "surface"), "friction"), "ode")
        _sub(ode, "mu", 0.0)
        _sub(ode, "mu2", 0.0)
        v = _sub(base, "visual", name=f"{name}_visual")
        _pose(v, x, 0, s.caster_radius)
        _sub(_sub(_sub(v, "geometry"), "sphere"), "radius", s.caster_radius)
        _material(v, (0.2, 0.2, 0.2, 1.0))
    # 2-D lidar on top of the chassis, below the racks' clearance
    lz = s.chassis_bottom + H + 0.03
    lv = _sub(base, "visual", name="lidar_visual")
    _pose(lv, L / 2 - 0.08, 0, lz)
    cyl = _sub(_sub(lv, "geometry"), "cylinder")
    _sub(cyl, "radius", 0.04)
    _sub(cyl, "length", 0.06)
    _material(lv, (0.1, 0.1, 0.1, 1.0))
    sensor = _sub(base, "sensor", name="lidar", type="gpu_lidar")
    _pose(sensor, L / 2 - 0.08, 0, lz)
    _sub(sensor, "always_on", "true")
    _sub(sensor, "update_rate", float(s.lidar_update_rate))
    _sub(sensor, "visualize", "false")
    lidar = _sub(sensor, "lidar")
    hor = _sub(_sub(lidar, "scan"), "horizontal")
    _sub(hor, "samples", int(s.lidar_samples))
    _sub(hor, "resolution", 1.0)
    _sub(hor, "min_angle", -math.pi)
    _sub(hor, "max_angle", math.pi * (1 - 2 / int(s.lidar_samples)))
    rng = _sub(lidar, "range")
    _sub(rng, "min", float(s.lidar_range_min))
    _sub(rng, "max", float(s.lidar_range_max))
    _sub(rng, "resolution", 0.01)
    noise = _sub(lidar, "noise")
    _sub(noise, "type", "gaussian")
    _sub(noise, "mean", 0.0)
    _sub(noise, "stddev", 0.01)

    for side, sign in (("left", 1), ("right", -1)):
        wheel = _sub(model, "link", name=f"{side}_wheel")
        # cylinder axis (z) along the model's y axis
        _pose(wheel, 0, sign * sep / 2, r, -math.pi / 2, 0, 0)
        mw = s.wheel_mass
        _inertial(wheel, mw, mw * (3 * r * r + ww * ww) / 12, mw * (3 * r * r + ww * ww) / 12, mw * r * r / 2)
        for kind in ("collision", "visual"):
            el = _sub(wheel, kind, name=kind)
            cyl = _sub(_sub(el, "geometry"), "cylinder")
            _sub(cyl, "radius", r)
            _sub(cyl, "length", ww)
            if kind == "visual":
                _material(el, (0.1, 0.1, 0.1, 1.0))
            else:
                ode = _sub(_sub(_sub(el, "surface"), "friction"), "ode")
                _sub(ode, "mu", 1.0)
                _sub(ode, "mu2", 1.0)
        joint = _sub(model, "joint", name=f"{side}_wheel_joint", type="revolute")
        _sub(joint, "parent", "base_link")
        _sub(joint, "child", f"{side}_wheel")
        axis = _sub(joint, "axis")
        _sub(axis, "xyz", "0 0 1")  # wheel frame z = model +y: positive spin drives forward
        limit = _sub(axis, "limit")
        _sub(limit, "lower", "-1e16")
        _sub(limit, "upper", "1e16")

    _plugin(model, "gz-sim-diff-drive-system", "gz::sim::systems::DiffDrive",
            left_joint="left_wheel_joint", right_joint="right_wheel_joint",
            wheel_separation=sep, wheel_radius=r,
            odom_publish_frequency=s.odom_publish_frequency,
            max_linear_velocity=s.max_linear_velocity, min_linear_velocity=-s.max_linear_velocity,
            max_linear_acceleration=s.max_linear_acceleration,
            min_linear_acceleration=-s.max_linear_acceleration,
            max_angular_velocity=s.max_angular_velocity, min_angular_velocity=-s.max_angular_velocity,
            max_angular_acceleration=s.max_angular_acceleration,
            min_angular_acceleration=-s.max_angular_acceleration)
    jsp = _plugin(model, "gz-sim-joint-state-publisher-system", "gz::sim::systems::JointStatePublisher")
    _sub(jsp, "joint_name", "left_wheel_joint")
    _sub(jsp, "joint_name", "right_wheel_joint")
    limits = ", ".join(f"{k}={v}" for k, v in asdict(s).items())
    return _to_text(sdf, f"Warehouse AMR (differential drive, 2-D lidar); generated: {limits}")


def amr_model_config() -> str:
    root = ET.Element("model")
    _sub(root, "name", "warehouse_amr")
    _sub(root, "version", "1.0")
    _sub(root, "sdf", "model.sdf", version=SDF_VERSION)
    author = _sub(root, "author")
    _sub(author, "name", "Warehouse Brain maintainers")
    _sub(author, "email", "maintainers@warehouse-brain.dev")
    _sub(root, "description", "Goods-to-person AMR: differential drive, drives under racks, 2-D lidar.")
    return _to_text(root, "Gazebo model metadata of the warehouse AMR")


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

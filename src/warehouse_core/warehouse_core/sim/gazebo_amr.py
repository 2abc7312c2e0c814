"""The simulated differential-drive AMR for Gazebo: its geometry and limits, and its SDF model.

The AMR is low enough to drive under a rack (:data:`RACK_CLEARANCE`): two driven wheels, two
caster spheres, ``gz-sim-diff-drive-system`` (limits from ``config/``),
``gz-sim-joint-state-publisher-system`` and a 2-D ``gpu_lidar``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import yaml

from warehouse_core.errors import InputError
from warehouse_core.sim import sdf

MODEL_NAME = "amr"
RACK_CLEARANCE = 0.40       # [m] free height under a rack: the AMR must be lower


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
                raise InputError(source, f"{f.name} = {v!r} must be a positive number", where=f.name,
                                 fix="give the size in metres (config/robot_hardware.yaml)")
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
        raise InputError(str(path), f"cannot read: {exc.strerror}",
                         fix="give an existing ROS 2 parameter file") from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"invalid YAML: {exc}", fix="fix the YAML syntax") from None
    if not isinstance(doc, dict):
        raise InputError(str(path), "must be a ROS 2 parameter file (a mapping keyed by node name)",
                         fix="start from config/robot_hardware.yaml")
    return doc


def _params(doc: dict, node: str, path: Path) -> dict:
    section = doc.get(node)
    params = section.get("ros__parameters") if isinstance(section, dict) else None
    if not isinstance(params, dict):
        raise InputError(str(path), f"no '{node}: ros__parameters:' section", where=node,
                         fix=f"add a '{node}:' section with 'ros__parameters:' (see config/)")
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


def amr_model_sdf(spec: AmrSpec | None = None) -> str:
    """SDF of the differential-drive AMR (model name ``amr``; the spawner renames it)."""
    s = (spec or AmrSpec()).check()
    r, sep = s.wheel_radius, s.wheel_separation
    L, W, H = s.chassis_length, s.chassis_width, s.chassis_height
    zc = s.chassis_bottom + H / 2
    root = ET.Element("sdf", version=sdf.SDF_VERSION)
    model = sdf.sub(root, "model", name=MODEL_NAME, canonical_link="base_link")

    base = sdf.sub(model, "link", name="base_link")
    m = s.chassis_mass
    sdf.inertial(base, m, m * (W * W + H * H) / 12, m * (L * L + H * H) / 12, m * (L * L + W * W) / 12, z=zc)
    sdf.box_part(base, "chassis", (0, 0, zc), (L, W, H), (0.9, 0.75, 0.1, 1.0))
    _casters(base, s)
    _lidar(base, s)
    for side, sign in (("left", 1), ("right", -1)):
        _wheel(model, s, side, sign)

    sdf.plugin(model, "gz-sim-diff-drive-system", "gz::sim::systems::DiffDrive",
               left_joint="left_wheel_joint", right_joint="right_wheel_joint",
               wheel_separation=sep, wheel_radius=r,
               odom_publish_frequency=s.odom_publish_frequency,
               max_linear_velocity=s.max_linear_velocity, min_linear_velocity=-s.max_linear_velocity,
               max_linear_acceleration=s.max_linear_acceleration,
               min_linear_acceleration=-s.max_linear_acceleration,
               max_angular_velocity=s.max_angular_velocity, min_angular_velocity=-s.max_angular_velocity,
               max_angular_acceleration=s.max_angular_acceleration,
               min_angular_acceleration=-s.max_angular_acceleration)
    jsp = sdf.plugin(model, "gz-sim-joint-state-publisher-system", "gz::sim::systems::JointStatePublisher")
    sdf.sub(jsp, "joint_name", "left_wheel_joint")
    sdf.sub(jsp, "joint_name", "right_wheel_joint")
    limits = ", ".join(f"{k}={v}" for k, v in asdict(s).items())
    return sdf.to_text(root, f"Warehouse AMR (differential drive, 2-D lidar); generated: {limits}")



def _casters(base: ET.Element, s: AmrSpec) -> None:
    """Two frictionless caster spheres, front and rear."""
    L = s.chassis_length
    for name, x in (("front_caster", L / 2 - s.caster_radius - 0.02), ("rear_caster", -L / 2 + s.caster_radius + 0.02)):
        c = sdf.sub(base, "collision", name=f"{name}_collision")
        sdf.pose(c, x, 0, s.caster_radius)
        sdf.sub(sdf.sub(sdf.sub(c, "geometry"), "sphere"), "radius", s.caster_radius)
        ode = sdf.sub(sdf.sub(sdf.sub(c, "surface"), "friction"), "ode")
        sdf.sub(ode, "mu", 0.0)
        sdf.sub(ode, "mu2", 0.0)
        v = sdf.sub(base, "visual", name=f"{name}_visual")
        sdf.pose(v, x, 0, s.caster_radius)
        sdf.sub(sdf.sub(sdf.sub(v, "geometry"), "sphere"), "radius", s.caster_radius)
        sdf.material(v, (0.2, 0.2, 0.2, 1.0))


def _lidar(base: ET.Element, s: AmrSpec) -> None:
    """A 2-D lidar on top of the chassis, below the racks' clearance."""
    L, H = s.chassis_length, s.chassis_height
    lz = s.chassis_bottom + H + 0.03
    lv = sdf.sub(base, "visual", name="lidar_visual")
    sdf.pose(lv, L / 2 - 0.08, 0, lz)
    cyl = sdf.sub(sdf.sub(lv, "geometry"), "cylinder")
    sdf.sub(cyl, "radius", 0.04)
    sdf.sub(cyl, "length", 0.06)
    sdf.material(lv, (0.1, 0.1, 0.1, 1.0))
    sensor = sdf.sub(base, "sensor", name="lidar", type="gpu_lidar")
    sdf.pose(sensor, L / 2 - 0.08, 0, lz)
    sdf.sub(sensor, "always_on", "true")
    sdf.sub(sensor, "update_rate", float(s.lidar_update_rate))
    sdf.sub(sensor, "visualize", "false")
    lidar = sdf.sub(sensor, "lidar")
    hor = sdf.sub(sdf.sub(lidar, "scan"), "horizontal")
    sdf.sub(hor, "samples", int(s.lidar_samples))
    sdf.sub(hor, "resolution", 1.0)
    sdf.sub(hor, "min_angle", -math.pi)
    sdf.sub(hor, "max_angle", math.pi * (1 - 2 / int(s.lidar_samples)))
    rng = sdf.sub(lidar, "range")
    sdf.sub(rng, "min", float(s.lidar_range_min))
    sdf.sub(rng, "max", float(s.lidar_range_max))
    sdf.sub(rng, "resolution", 0.01)
    noise = sdf.sub(lidar, "noise")
    sdf.sub(noise, "type", "gaussian")
    sdf.sub(noise, "mean", 0.0)
    sdf.sub(noise, "stddev", 0.01)


def _wheel(model: ET.Element, s: AmrSpec, side: str, sign: int) -> None:
    """A driven wheel on the ``side`` (sign +1 left, -1 right) and its revolute joint."""
    r, sep, ww = s.wheel_radius, s.wheel_separation, s.wheel_width
    wheel = sdf.sub(model, "link", name=f"{side}_wheel")
    # cylinder axis (z) along the model's y axis
    sdf.pose(wheel, 0, sign * sep / 2, r, -math.pi / 2, 0, 0)
    mw = s.wheel_mass
    sdf.inertial(wheel, mw, mw * (3 * r * r + ww * ww) / 12, mw * (3 * r * r + ww * ww) / 12, mw * r * r / 2)
    for kind in ("collision", "visual"):
        el = sdf.sub(wheel, kind, name=kind)
        cyl = sdf.sub(sdf.sub(el, "geometry"), "cylinder")
        sdf.sub(cyl, "radius", r)
        sdf.sub(cyl, "length", ww)
        if kind == "visual":
            sdf.material(el, (0.1, 0.1, 0.1, 1.0))
        else:
            ode = sdf.sub(sdf.sub(sdf.sub(el, "surface"), "friction"), "ode")
            sdf.sub(ode, "mu", 1.0)
            sdf.sub(ode, "mu2", 1.0)
    joint = sdf.sub(model, "joint", name=f"{side}_wheel_joint", type="revolute")
    sdf.sub(joint, "parent", "base_link")
    sdf.sub(joint, "child", f"{side}_wheel")
    axis = sdf.sub(joint, "axis")
    sdf.sub(axis, "xyz", "0 0 1")  # wheel frame z = model +y: positive spin drives forward
    limit = sdf.sub(axis, "limit")
    sdf.sub(limit, "lower", "-1e16")
    sdf.sub(limit, "upper", "1e16")


def amr_model_config() -> str:
    root = ET.Element("model")
    sdf.sub(root, "name", "warehouse_amr")
    sdf.sub(root, "version", "1.0")
    sdf.sub(root, "sdf", "model.sdf", version=sdf.SDF_VERSION)
    author = sdf.sub(root, "author")
    sdf.sub(author, "name", "Warehouse Brain maintainers")
    sdf.sub(author, "email", "maintainers@warehouse-brain.dev")
    sdf.sub(root, "description", "Goods-to-person AMR: differential drive, drives under racks, 2-D lidar.")
    return sdf.to_text(root, "Gazebo model metadata of the warehouse AMR")

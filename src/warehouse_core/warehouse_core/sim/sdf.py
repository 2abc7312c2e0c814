"""Small builders of SDF (Gazebo's XML) elements: poses, boxes, materials, inertia, plugins.

Numbers are written with at most 4 decimals and no trailing zeros, so generated files are
stable and diff well.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

SDF_VERSION = "1.9"  # read by libsdformat 12 (Debian) and by Gazebo Harmonic (sdformat 14)


def fmt(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def vec(*vs: float) -> str:
    return " ".join(fmt(v) for v in vs)


def sub(parent: ET.Element, tag: str, text: str | float | int | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text if isinstance(text, str) else fmt(text) if isinstance(text, float) else str(text)
    return el


def pose(parent: ET.Element, x=0.0, y=0.0, z=0.0, roll=0.0, pitch=0.0, yaw=0.0) -> ET.Element:
    return sub(parent, "pose", vec(x, y, z, roll, pitch, yaw))


def box(parent: ET.Element, sx: float, sy: float, sz: float) -> None:
    sub(sub(sub(parent, "geometry"), "box"), "size", vec(sx, sy, sz))


def material(parent: ET.Element, rgba: tuple[float, float, float, float]) -> None:
    m = sub(parent, "material")
    sub(m, "ambient", vec(*rgba))
    sub(m, "diffuse", vec(*rgba))


def box_part(link: ET.Element, name: str, at: tuple, size: tuple, rgba: tuple, collide: bool = True) -> None:
    """A box visual (and collision unless ``collide`` is False) at pose ``at`` of ``link``."""
    if collide:
        c = sub(link, "collision", name=f"{name}_collision")
        pose(c, *at)
        box(c, *size)
    v = sub(link, "visual", name=f"{name}_visual")
    pose(v, *at)
    box(v, *size)
    material(v, rgba)


def inertial(link: ET.Element, mass: float, ixx: float, iyy: float, izz: float, z: float = 0.0) -> None:
    i = sub(link, "inertial")
    if z:
        pose(i, 0, 0, z)
    sub(i, "mass", mass)
    t = sub(i, "inertia")
    for k, v in (("ixx", ixx), ("ixy", 0.0), ("ixz", 0.0), ("iyy", iyy), ("iyz", 0.0), ("izz", izz)):
        sub(t, k, v)


def plugin(parent: ET.Element, filename: str, name: str, **params) -> ET.Element:
    p = sub(parent, "plugin", filename=filename, name=name)
    for k, v in params.items():
        sub(p, k, v if isinstance(v, str) else fmt(float(v)))
    return p


def to_text(root: ET.Element, comment: str) -> str:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0"?>\n<!-- {comment} -->\n{body}\n'

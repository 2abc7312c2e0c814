"""What the launch files of ``warehouse_bringup`` share: launch arguments -> graph arguments -> ``Node`` actions.

The launch files are thin readers of :mod:`warehouse_nodes.graph`: they declare their arguments,
turn the given values into :class:`~warehouse_nodes.graph.GraphArgs` here, and start every process
of :func:`~warehouse_nodes.graph.describe` as a ``launch_ros`` ``Node`` with the config file and the
graph's overrides as parameters, and its respawn policy. ``launch`` and ``launch_ros`` are imported
only when a launch file runs (they come with a ROS 2 distro, not from PyPI).
"""

from __future__ import annotations

from pathlib import Path

from warehouse_nodes.graph import PACKAGE, RESPAWN_DELAY_S, Graph, flag
from warehouse_nodes.share import share_path


def value(context, name: str) -> str:
    """The text of launch argument ``name``."""
    from launch.substitutions import LaunchConfiguration
    return LaunchConfiguration(name).perform(context)


def boolean(context, name: str) -> bool:
    """Launch argument ``name`` as a boolean (true/True/1, false/False/0)."""
    return flag(value(context, name), name)


def optional_int(context, name: str) -> int | None:
    text = value(context, name)
    return int(text) if text else None


def optional_float(context, name: str) -> float | None:
    text = value(context, name)
    return float(text) if text else None


def config_path(context, name: str = "config") -> Path:
    """A parameter file argument: absolute, or relative to the working directory, else the bringup share."""
    text = value(context, name)
    path = Path(text)
    if path.is_absolute() or path.exists():
        return path.resolve()
    return share_path(text)


def layout_arg(context) -> str:
    """The ``map`` argument as an absolute path ('' = the config's)."""
    text = value(context, "map")
    return str(config_path(context, "map")) if text else ""


def nodes(graph: Graph, output: str = "screen") -> list:
    """A ``launch_ros`` Node per process of ``graph``, in its start order."""
    from launch_ros.actions import Node
    out = []
    for p in graph.processes:
        named = {"name": p.name, "namespace": p.namespace} if p.name else {}
        out.append(Node(package=PACKAGE, executable=p.executable, arguments=list(p.arguments), output=output,
                        parameters=[str(graph.config), *p.files, graph.parameters(p)],
                        respawn=p.respawn, respawn_delay=RESPAWN_DELAY_S, **named))
    return out

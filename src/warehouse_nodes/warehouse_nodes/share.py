"""Where the installed launch files, configs, maps and scenarios are, and how paths in them resolve.

The bringup package ``warehouse_bringup`` installs ``launch/``, ``config/`` (with ``config/scenarios/``)
and ``maps/`` into its share directory, found through the ament index like any ROS 2 package's
(``ament_index_python.get_package_share_directory``). A default path (the launch files' arguments,
``./warehouse run``'s ``--config``, a node parameter left at its default such as
``maps/warehouse_layout.yaml``) is relative to that share directory, so nothing needs the
repository checkout at run time. In a source tree where the bringup package is not built, the
repository root has the same layout and stands in for it.

A relative path written *inside* a file (``boxes: boxes.yaml`` in ``config/warehouse.yaml``) is
relative to that file's directory: :func:`resolve_in_file`. Imports no ROS client library.
"""

from __future__ import annotations

from pathlib import Path

BRINGUP = "warehouse_bringup"
# in a source checkout: src/warehouse_nodes/warehouse_nodes/share.py -> the repository root
_SOURCE_ROOT = Path(__file__).resolve().parents[3]


def bringup_share() -> Path:
    """The share directory of ``warehouse_bringup``; the repository root of a source tree where it
    is not installed. A clear error when neither exists."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(BRINGUP))
    except PackageNotFoundError:
        if (_SOURCE_ROOT / "src" / BRINGUP / "package.xml").is_file():
            return _SOURCE_ROOT
    from warehouse_core.errors import InputError
    raise InputError(BRINGUP, "the bringup package is not installed (not on AMENT_PREFIX_PATH)",
                     fix="build it (colcon build, or ./warehouse setup) and source install/setup.bash")


def share_path(relative: str | Path) -> Path:
    """``relative`` (e.g. ``config/warehouse.yaml``) in the bringup share; absolute paths unchanged."""
    path = Path(relative)
    return path if path.is_absolute() else bringup_share() / path


def user_path(value: str | Path, base: Path) -> Path:
    """A path the user typed: absolute, else relative to ``base`` (the working directory or
    ``WAREHOUSE_ROOT``) when it exists there, else the bringup share's file of that name
    (``config/scenarios/robot_faults.yaml`` works from any directory), else ``base / value``
    (whose reader then names the missing file)."""
    path = Path(value)
    if path.is_absolute():
        return path
    if (base / path).exists():
        return (base / path).resolve()
    shared = bringup_share() / path
    return shared.resolve() if shared.exists() else (base / path).resolve()


def resolve_in_file(value: str, file: Path) -> str:
    """A path parameter ``value`` written in ``file``: absolute, relative to ``file``'s directory.
    Empty stays empty (it means "none": no inventory directory, no state store)."""
    if not value or Path(value).is_absolute():
        return value
    return str((Path(file).resolve().parent / value).resolve())

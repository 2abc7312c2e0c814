"""``./warehouse gazebo world``: write the Gazebo world, AMR model and bridge files of a layout.

    ./warehouse gazebo world [--map LAYOUT] [--robots N] --out DIR [--distro jazzy|kilted]

Writes ``DIR/warehouse.sdf``, ``DIR/models/amr/{model.config,model.sdf}``,
``DIR/bridge/robot_<i>.yaml`` and ``DIR/spawn_poses.yaml`` (see
:mod:`warehouse_core.sim.gazebo_world`). The robots start where the floor simulator would put
them: :func:`warehouse_nodes.floor_sim_node.start_cells` over the racks of the run's
catalogue, with the seed of ``config/warehouse.yaml`` (or ``--seed``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from warehouse_core.errors import ArgumentParser, InputError
from warehouse_nodes.cli import dispatch

DISTROS = ("jazzy", "kilted", "rolling")


def _root() -> Path:
    return Path(os.environ.get("WAREHOUSE_ROOT", Path.cwd())).resolve()


def _path(value: str, root: Path) -> Path:
    """A path as given when it exists (relative to the current directory), else under the repo, else
    in the bringup share (:func:`warehouse_nodes.share.user_path`)."""
    from warehouse_nodes.share import user_path
    p = Path(value)
    if p.is_absolute() or p.exists():
        return p.resolve()
    return user_path(p, root)


def _world_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="warehouse gazebo world",
        description="Write a Gazebo (gz-sim) world of a layout, the AMR model, one ros_gz_bridge "
                    "config per robot and the robots' spawn poses into DIR.")
    p.add_argument("--map", default=None, metavar="LAYOUT",
                   help="semantic layout YAML (default: the config's layout, maps/warehouse_layout.yaml)")
    p.add_argument("--robots", type=int, default=None,
                   help="robots to spawn and bridge (default: the config's robots, 20)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    p.add_argument("--distro", choices=DISTROS, default="jazzy",
                   help="ROS 2 distro of the bridge (default jazzy: Gazebo Harmonic)")
    p.add_argument("--cmd-vel-type", choices=("twist", "twist_stamped"), default=None,
                   help="ROS type of cmd_vel (default per distro: twist on jazzy, twist_stamped later)")
    p.add_argument("--seed", type=int, default=None, help="seed of the start cells (default: the config's)")
    p.add_argument("--config", default="config/warehouse.yaml", metavar="FILE",
                   help="node parameters: kinematic limits (floor_simulator), robots, seed, inventory")
    p.add_argument("--hardware", default="config/robot_hardware.yaml", metavar="FILE",
                   help="AMR geometry (wheel separation and radius, ...); '' for built-in defaults")
    return p


def _world(argv: list[str]) -> int:
    from warehouse_core.maps.layout import load_layout
    from warehouse_core.ops.inventory import load_catalogue
    from warehouse_core.sim.gazebo_amr import amr_spec_from_config
    from warehouse_core.sim.gazebo_world import DISTRO_CMD_VEL, write_gazebo_files

    root = _root()
    a = _world_parser().parse_args(argv)

    config = _path(a.config, root)
    hardware = _path(a.hardware, root) if a.hardware else None
    for label, path in (("--config", config), ("--hardware", hardware)):
        if path is not None and not path.is_file():
            raise InputError(str(path), f"{label} file does not exist", fix=f"give an existing file with {label}")
    from warehouse_nodes.config_check import check_value
    from warehouse_nodes.configs import FloorSimConfig  # the simulator's defaults where the config has none
    from warehouse_nodes.params import default_of
    from warehouse_nodes.run_params import read_config
    shared = read_config(config)["/**"]["ros__parameters"]  # checked: unknown keys, types, ranges

    def configured(key: str):
        return shared.get(key, default_of(FloorSimConfig, key))

    for option, key in (("--robots", "robots"), ("--seed", "seed")):
        if getattr(a, key) is not None:
            check_value(FloorSimConfig, key, getattr(a, key), option)
    robots = a.robots if a.robots is not None else int(configured("robots"))
    seed = a.seed if a.seed is not None else int(configured("seed"))
    from warehouse_nodes.share import resolve_in_file, share_path  # paths in the config: relative to it
    layout_path = _path(a.map, root) if a.map else Path(
        resolve_in_file(shared["layout"], config) if "layout" in shared else share_path(configured("layout")))
    layout = load_layout(layout_path)
    spec = amr_spec_from_config(config, hardware)

    inventory_dir = str(configured("inventory_dir") or "")
    if inventory_dir:
        inventory_dir = resolve_in_file(inventory_dir, config)
    _, placement = load_catalogue(layout, inventory_dir, int(configured("skus")), seed)
    racks = {layout.storage_by_id[loc].cell: rack for loc, rack in placement.items()}
    # The floor simulator's own choice of start cells (same function, same arguments).
    from warehouse_nodes.floor_sim_node import start_cells
    starts = start_cells(sorted(racks), robots, seed, layout.source)

    cmd_vel = a.cmd_vel_type or DISTRO_CMD_VEL[a.distro]
    out = Path(a.out).resolve()
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "--out exists and is not a directory", fix="choose another --out directory")
    files = write_gazebo_files(layout, out, starts, spec, cmd_vel, racks)
    print(f"Gazebo world of {layout.source} ({len(racks)} racks, {len(layout.stations)} stations, "
          f"{len(layout.chargers)} chargers) for {robots} robots, cmd_vel {cmd_vel} ({a.distro}):")
    print(f"  {len(files)} files in {out}")
    print(f"  launch: ros2 launch warehouse_bringup warehouse_gazebo.launch.py world_dir:={out} robots:={robots} "
          f"map:={layout_path} distro:={a.distro}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return dispatch(argv, {"world": _world},
                    "usage: ./warehouse gazebo world [--map LAYOUT] [--robots N] --out DIR "
                    "[--distro jazzy|kilted|rolling] [--cmd-vel-type twist|twist_stamped]")


if __name__ == "__main__":
    sys.exit(main())

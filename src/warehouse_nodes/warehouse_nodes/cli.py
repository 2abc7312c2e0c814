"""The ``./warehouse`` command line (after set-up): run, mapf.

``./warehouse test`` and ``./warehouse setup`` are handled by the shell wrapper itself.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from warehouse_core.errors import InputError


def repo_root() -> Path:
    return Path(os.environ.get("WAREHOUSE_ROOT", Path.cwd())).resolve()


def _run(argv: list[str]) -> int:
    root = repo_root()
    p = argparse.ArgumentParser(
        prog="warehouse run",
        description="Run the warehouse: floor simulator, robots, planner, allocator and order "
                    "source as ROS 2 nodes over DDS (loopback); print a summary and write "
                    "DIR/report.json and DIR/bag/ (rosbag2, MCAP).")
    p.add_argument("--robots", type=int, default=20, help="fleet size (default 20)")
    p.add_argument("--duration", type=float, default=600.0, metavar="SIM_S",
                   help="simulated seconds to run (default 600)")
    p.add_argument("--seed", type=int, default=42, help="seed of starts, catalogue, demand")
    p.add_argument("--map", default="maps/warehouse_layout.yaml", metavar="LAYOUT",
                   help="semantic layout YAML (default maps/warehouse_layout.yaml)")
    p.add_argument("--config", default="config/warehouse.yaml", metavar="FILE",
                   help="node parameters, keyed by node name (default config/warehouse.yaml)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default runs/<timestamp>/)")
    p.add_argument("--policy", choices=["default", "baseline"], default=None,
                   help="allocation policy (default: the config's task_allocator.policy)")
    p.add_argument("--orders-per-hour", type=float, default=None, metavar="N",
                   help="order arrival rate (default: the config's order_source.orders_per_hour)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if a.robots < 1:
        p.error("--robots must be at least 1")
    if not a.duration > 0:
        p.error("--duration must be positive")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(a.out) if a.out else root / "runs" / stamp
    from warehouse_nodes.run import RunOptions, execute, summary  # rclpy only when running
    opts = RunOptions(a.robots, a.duration, a.seed, (root / a.map).resolve(),
                      (root / a.config).resolve(), out.resolve(), root, a.quiet,
                      policy=a.policy or "", orders_per_hour=a.orders_per_hour)
    try:
        report = execute(opts)
    except RuntimeError as exc:
        print(f"error: the run failed: {exc}", file=sys.stderr)
        return 1
    print(summary(report, opts.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"run": _run, "mapf": _mapf, "gazebo": _gazebo}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: ./warehouse {run,mapf,gazebo,test,setup} [options]   (see ./warehouse --help)",
              file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return commands[argv[0]](argv[1:])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _mapf(argv: list[str]) -> int:
    from warehouse_core.mapf.cli import main as mapf_main
    return mapf_main(argv)


def _gazebo(argv: list[str]) -> int:
    from warehouse_nodes.gazebo_cli import main as gazebo_main
    return gazebo_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""Many robot nodes in one process (lean start-up for large simulated fleets).

``python -m warehouse_nodes.robot_container --first 0 --count 20 --ros-args ...`` creates
``/robot_0`` .. ``/robot_19``, each a full :class:`~warehouse_nodes.robot_node.RobotNode`
with its own namespace, topics and action server, all spun by one executor.
"""

from __future__ import annotations

import argparse
import sys

from rclpy.utilities import remove_ros_args

from warehouse_nodes.robot_node import make_robots
from warehouse_nodes.runtime import run_nodes


def main(args: list[str] | None = None) -> None:
    argv = sys.argv if args is None else args
    parser = argparse.ArgumentParser(prog="robot_container", description=__doc__)
    parser.add_argument("--first", type=int, default=0, help="index of the first robot")
    parser.add_argument("--count", type=int, required=True, help="number of robots")
    opts = parser.parse_args(remove_ros_args(argv)[1:])
    sys.exit(run_nodes(make_robots(opts.first, opts.count), argv))


if __name__ == "__main__":
    main()

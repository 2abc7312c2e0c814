"""Process entry points for nodes: init, spin, clean shutdown, clear input errors.

A bad map, layout or parameter ends the process with exit code 2 and one line naming the
input and the fix (no traceback). SIGINT and SIGTERM stop the executor cleanly, calling the
node's shutdown hook first so it can flush what it owes (statistics, files). A node process
started by ``./warehouse run`` also stops when the run process dies, however it dies
(:func:`stop_with_parent`), so no node outlives its run and talks into the next one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from warehouse_core.errors import InputError

PARENT_PID_ENV = "WAREHOUSE_RUN_PID"  # set by ./warehouse run for the node processes it starts
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def stop_with_parent() -> None:
    """Under ``./warehouse run`` (``WAREHOUSE_RUN_PID`` set): ask the kernel for SIGTERM when the
    run process dies, even by SIGKILL or a test's timeout (Linux ``PR_SET_PDEATHSIG``), and stop
    at once if it is already gone. Elsewhere (``ros2 launch``, a robot's own computer) a no-op."""
    parent = os.environ.get(PARENT_PID_ENV, "")
    if not parent or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != parent:
        sys.exit(f"error: the run process {parent} is gone; not starting")


def run_nodes(factories: Sequence[Callable[[], Node]], args: list[str] | None = None,
              on_shutdown: Callable[[list[Node]], None] | None = None,
              after_create: Callable[[list[Node]], object] | None = None) -> int:
    """Create the nodes in one process and spin them on one executor until shut down.

    ``after_create(nodes)`` runs once they all exist (e.g. to share subscriptions among them);
    what it returns is kept alive until shutdown."""
    stop_with_parent()
    rclpy.init(args=args, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    nodes: list[Node] = []
    executor = SingleThreadedExecutor()
    stopping: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    code = 0
    try:
        for make in factories:
            node = make()
            nodes.append(node)
            executor.add_node(node)
        keep = after_create(nodes) if after_create is not None else None  # noqa: F841
        # spin_once returns at least every 0.1 s, so a signal ends the loop between callbacks
        while not stopping and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
        if on_shutdown is not None:
            on_shutdown(nodes)
            executor.spin_once(timeout_sec=0.05)  # let the hook's messages go out
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


def run_node(cls: Callable[[], Node], args: list[str] | None = None,
             on_shutdown: Callable[[Node], None] | None = None) -> None:
    """Entry point body of a single-node process."""
    hook = None if on_shutdown is None else (lambda nodes: [on_shutdown(n) for n in nodes])
    sys.exit(run_nodes([cls], args, hook))

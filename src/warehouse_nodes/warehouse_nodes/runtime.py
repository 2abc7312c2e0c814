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
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from warehouse_core.errors import InputError

PARENT_PID_ENV = "WAREHOUSE_RUN_PID"  # set by ./warehouse run for the node processes it starts
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
TRIM_PERIOD_S = 60.0  # [s, wall] between returns of freed heap memory to the system


class HeapTrim:
    """Gives the C heap's free memory back to the system now and then (glibc ``malloc_trim``).

    A node that runs for days frees most of what it allocates (messages, orders, plans), but
    glibc keeps freed heap pages mapped, and fragmentation lets them pile up: the allocator
    of the 24-hour soak held 6 MB of free heap after 10 simulated hours, its whole growth since
    the first hour but 3 MB. Called from the spin loop, at most once per ``period_s`` of wall
    time (``malloc_trim`` walks the heap: a few ms). A no-op where the C library has no
    ``malloc_trim`` (not glibc). ``trim`` and ``clock`` are injectable for tests.
    """

    def __init__(self, period_s: float = TRIM_PERIOD_S, trim: Callable[[int], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if trim is None:
            trim = getattr(ctypes.CDLL(None), "malloc_trim", None) if sys.platform.startswith("linux") else None
        self.trim = trim
        self.period_s = period_s
        self.clock = clock
        self.last = clock()
        self.calls = 0

    def maybe(self) -> None:
        now = self.clock()
        if self.trim is None or now - self.last < self.period_s:
            return
        self.last = now
        self.trim(0)
        self.calls += 1


class StopSignals:
    """SIGINT and SIGTERM asked to end a loop early, for the ``with`` block's duration.

    The first signal is only recorded (``received``: its number): the loop polls it and ends in
    order, so the work done so far is kept (``./warehouse run`` still writes its report and
    closes its bag). A second one raises :class:`KeyboardInterrupt`, for a user who will not
    wait for that. The previous handlers are restored on exit; outside the main thread (where
    Python cannot install handlers) this is a no-op and ``received`` stays ``None``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._on_signal) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM``, empty before any signal."""
        return signal.Signals(self.received).name if self.received is not None else ""

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum


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


def run_nodes(factories: Sequence[Callable[[], Node | list[Node]]], args: list[str] | None = None,
              on_shutdown: Callable[[list[Node]], None] | None = None,
              after_create: Callable[[list[Node]], object] | None = None) -> int:
    """Create the nodes in one process and spin them on one executor until shut down (a factory
    makes one node or a list of them).

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
            made = make()  # a node, or the nodes of one part (a node and its companions)
            for node in made if isinstance(made, list) else [made]:
                nodes.append(node)
                executor.add_node(node)
        keep = after_create(nodes) if after_create is not None else None  # noqa: F841
        heap = HeapTrim()
        # spin_once returns at least every 0.1 s, so a signal ends the loop between callbacks
        while not stopping and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
            heap.maybe()
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

"""A killed ``./warehouse run`` takes its node processes with it.

A run killed by SIGKILL (a CI timeout, the OOM killer, a user's ``kill -9``) cannot stop its
nodes itself; they must not live on and talk into the next run on the same DDS domain.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def test_node_processes_stop_when_the_run_is_killed(tmp_path, ros_env):
    cli = subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", "4", "--duration", "600",
                            "--out", str(tmp_path / "run"), "--quiet"], cwd=ROOT,
                           env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until every node process runs (floor sim ... robot container)
            nodes = psutil.Process(cli.pid).children()
            if len(nodes) >= 6 and (tmp_path / "run" / "logs" / "robots_0.log").exists():
                break
            time.sleep(0.5)
        assert len(nodes) >= 6, [p.cmdline() for p in nodes]
        time.sleep(3.0)  # the nodes are up and spinning
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=10)
        gone, alive = psutil.wait_procs(nodes, timeout=15)
        assert not alive, [p.cmdline()[:3] for p in alive]
        assert len(gone) == len(nodes)
    finally:
        if cli.poll() is None:
            cli.kill()
        for p in nodes:  # never leave a node behind, whatever happened
            if p.is_running():
                p.kill()

"""An interrupted ``./warehouse run`` still ends in order, and a killed one does not slow the next.

* SIGINT (Ctrl-C) or SIGTERM mid-run: no traceback, every node process stopped, exit code
  128 + the signal's number, ``report.json`` marked ``interrupted`` with the simulated time
  reached, a closed bag that ``./warehouse analyze`` reads, and the summary says so.
* A run started right after a run whose process was SIGKILLed (on the same DDS domain) starts
  as promptly as any: its simulator must not wait out its start timeout for a planner.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG_RUN_S = "100000"  # [s, sim] "runs until stopped" (about a day)
NORMAL_STARTUP_S = 30.0  # [s, wall] a start-up beyond this waited out the simulator's start timeout


def start_run(out: Path, env: dict, duration: str, robots: int = 3) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(robots),
                             "--duration", duration, "--out", str(out), "--sample-every", "5"], cwd=ROOT,
                            env=env | {"WAREHOUSE_ROOT": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_until_simulating(proc: subprocess.Popen, out: Path, timeout: float = 120.0) -> list[psutil.Process]:
    """Wait for a timeline sample after simulated time 0 (the simulation runs); the node processes."""
    deadline = time.monotonic() + timeout
    timeline = out / "timeline.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        lines = timeline.read_text().splitlines() if timeline.exists() else []
        if any(json.loads(line)["sim_s"] > 0 for line in lines if line.endswith("}")):
            return psutil.Process(proc.pid).children()
        time.sleep(0.5)
    proc.kill()
    pytest.fail("the run did not get going:\n" + proc.communicate()[0][-3000:])


def stop_run(proc: subprocess.Popen, sig: signal.Signals) -> str:
    proc.send_signal(sig)
    try:
        rest, _ = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the run did not end within 90 s of {sig.name}")
    return rest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_ends_the_run_with_a_report_and_a_readable_bag(tmp_path, ros_env, sig):
    out = tmp_path / "run"
    proc = start_run(out, ros_env, LONG_RUN_S)
    nodes = wait_until_simulating(proc, out)
    time.sleep(5.0)  # some simulated time with orders and moves in the bag
    text = stop_run(proc, sig)
    assert proc.returncode == 128 + sig.value, text
    assert "Traceback" not in text, text
    assert f"INTERRUPTED by {sig.name}" in text, text
    gone, alive = psutil.wait_procs(nodes, timeout=15)
    assert not alive, [p.cmdline()[:3] for p in alive]
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["interrupted_by"] == sig.name
    assert 0 < report["sim_duration_s"] < float(LONG_RUN_S)
    assert report["orders_received"] > 0 and report["collisions"] == 0
    # the bag was closed: its metadata is there and the analysis reads the whole of it
    assert (out / "bag" / "metadata.yaml").exists()
    analysis = subprocess.run([sys.executable, "-m", "warehouse_nodes.cli", "analyze", str(out / "bag"),
                               "--out", str(tmp_path / "analysis"), "--quiet"], cwd=ROOT,
                              env=ros_env | {"WAREHOUSE_ROOT": str(ROOT)}, capture_output=True, text=True,
                              timeout=120)
    assert analysis.returncode == 0, analysis.stderr
    result = json.loads((tmp_path / "analysis" / "analysis.json").read_text())
    assert result.get("complete", True) is True
    assert len(result["robots"]) == 3
    assert result["duration_s"] >= report["sim_duration_s"] - 5.0


def test_a_run_right_after_a_killed_run_starts_promptly(tmp_path, ros_env):
    """Kill a run mid-run (SIGKILL: nothing of it can clean up) and start the next one at once,
    twice; each next run starts as a first run does."""
    for i in range(2):
        killed = start_run(tmp_path / f"killed{i}", ros_env, LONG_RUN_S)
        nodes = wait_until_simulating(killed, tmp_path / f"killed{i}")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        nxt = start_run(tmp_path / f"next{i}", ros_env, "20")
        text, _ = nxt.communicate(timeout=180)
        psutil.wait_procs(nodes, timeout=5)
        assert nxt.returncode == 0, text
        report = json.loads((tmp_path / f"next{i}" / "report.json").read_text())
        assert report["startup_s"] < NORMAL_STARTUP_S, (report["startup_s"], text)
        assert report["orders_received"] > 0, text  # the new run ran, not just started


def test_stop_signals_record_the_first_signal_abort_on_the_second_and_restore_the_handlers():
    from warehouse_nodes.runtime import StopSignals

    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        assert stop.received is None and stop.name == ""
        signal.raise_signal(signal.SIGTERM)
        assert stop.received == signal.SIGTERM and stop.name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_interrupted_report_exits_with_128_plus_the_signal_and_says_so():
    from warehouse_nodes.run_report import exit_code

    assert exit_code({"interrupted": False, "interrupted_by": None}) == 0
    assert exit_code({"interrupted": True, "interrupted_by": "SIGINT"}) == 130
    assert exit_code({"interrupted": True, "interrupted_by": "SIGTERM"}) == 143

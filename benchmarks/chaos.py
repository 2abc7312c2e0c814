"""Chaos: kill a random node process every few simulated minutes, and check that nothing is lost.

    .venv/bin/python benchmarks/chaos.py [--minutes 60] [--period 5] [--robots 10] [--orders-per-hour 720]
                                         [--seed 42] [--out DIR] [--nodes task_allocator,order_source,...]

Starts ``warehouse run`` (``python -m warehouse_nodes.cli run``, the environment of the calling
interpreter: source the ROS and venv setup first) for ``--minutes`` simulated minutes with a
timeline sample every 10 simulated seconds (``DIR/timeline.jsonl``, read to follow sim time), and
every ``--period`` simulated minutes sends SIGKILL to one node process drawn (seeded) from
``--nodes``: by default those the runner restarts (the allocator, the order source, the forecaster,
the planner, the floor simulator and the first robot container ``robots_0``; see
``warehouse_nodes.supervisor``). The order stream stops a tenth of the run
before its end so that the orders can finish. Prints a table: kills and restarts by node, orders
received / completed / lost, collisions (on the simulator's ground truth) and the run's exit.
Exit code 1 if the run failed, an order was lost, robots collided, or a kill was not followed by
a restart.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

from warehouse_nodes.graph import load_relocatable

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"task_allocator": "warehouse_nodes.allocator_node", "order_source": "warehouse_nodes.order_source_node",
           "forecaster": "warehouse_nodes.forecaster_node", "mapf_planner": "warehouse_nodes.planner_node",
           "floor_simulator": "warehouse_nodes.floor_sim_node",
           # the first robot container (robots 0..99): its robots resume where their bases stand
           "robots_0": "warehouse_nodes.robot_container --first 0 "}
SAMPLE_S = 10.0  # [s, sim] timeline period: how closely the kills follow sim time
START_TIMEOUT_S = 300.0  # [s, wall] longest wait for the run's first sample


def sim_time(timeline: Path) -> float:
    """The run's sim time at its last timeline sample (-1 before the first)."""
    try:
        lines = timeline.read_text().splitlines()
    except OSError:
        return -1.0
    for line in reversed(lines):
        try:
            return float(json.loads(line)["sim_s"])
        except (ValueError, KeyError):
            continue
    return -1.0


def node_process(run: psutil.Process, name: str) -> psutil.Process | None:
    for child in run.children(recursive=True):
        try:
            if MODULES[name] in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def kill_schedule(minutes: float, period: float, nodes: list[str], seed: int) -> list[tuple[float, str]]:
    """(sim time [s], node) of every kill: one per period, drawn by a seeded generator.

    Nodes are drawn in shuffled rounds (each node once per round, in a random order) rather than
    independently, so a run with at least as many kills as nodes kills every node at least once.
    """
    rng = random.Random(seed)
    times = [k * period * 60.0 for k in range(1, int(minutes / period) + 1) if k * period < minutes * 0.9]
    order: list[str] = []
    while len(order) < len(times):
        round_ = list(nodes)
        rng.shuffle(round_)
        order.extend(round_)
    return list(zip(times, order))


def write_config(out: Path, stop_after: float) -> Path:
    config = load_relocatable(ROOT / "config" / "warehouse.yaml")
    config["order_source"]["ros__parameters"]["stop_after"] = stop_after
    out.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}_config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def follow(run: subprocess.Popen, out: Path, schedule: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Kill the nodes on schedule while the run goes on; the kills done (sim time, node)."""
    parent = psutil.Process(run.pid)
    started = time.monotonic()
    done = []
    for at, name in schedule:
        while run.poll() is None and sim_time(out / "timeline.jsonl") < at:
            if sim_time(out / "timeline.jsonl") < 0 and time.monotonic() - started > START_TIMEOUT_S:
                run.send_signal(signal.SIGINT)
                return done
            time.sleep(0.5)
        proc = node_process(parent, name) if run.poll() is None else None
        if proc is None:
            continue
        proc.kill()
        done.append((sim_time(out / "timeline.jsonl"), name))
        print(f"# t={done[-1][0]:.0f} s: killed {name}", file=sys.stderr, flush=True)
    return done


def table(kills: list[tuple[float, str]], report: dict) -> list[str]:
    restarts = report.get("node_restarts_by_node", {})
    rows = ["| node | kills | restarts |", "|---|---|---|"]
    for name in sorted(set(MODULES) | set(restarts)):
        rows.append(f"| {name} | {sum(1 for _, n in kills if n == name)} | {restarts.get(name, 0)} |")
    rows += ["", "| orders received | orders completed | orders lost | collisions | node restarts |",
             "|---|---|---|---|---|",
             f"| {report.get('orders_received', '-')} | {report.get('orders_completed', '-')} | "
             f"{report.get('orders_lost', '-')} | {report.get('collisions', '-')} | "
             f"{report.get('node_restarts', '-')} |"]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="simulated minutes (default 60)")
    p.add_argument("--period", type=float, default=5.0, help="simulated minutes between kills (default 5)")
    p.add_argument("--robots", type=int, default=10)
    p.add_argument("--orders-per-hour", type=float, default=720.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--nodes", default=",".join(MODULES), help="node processes to kill, comma-separated")
    p.add_argument("--out", default=str(ROOT / "runs" / "chaos"))
    a = p.parse_args(argv)
    nodes = [n.strip() for n in a.nodes.split(",") if n.strip()]
    unknown = [n for n in nodes if n not in MODULES]
    if unknown or not nodes or a.minutes <= 0 or a.period <= 0:
        p.error(f"--nodes: choose among {', '.join(MODULES)}; --minutes and --period must be positive")
    out = Path(a.out).resolve()
    if (out / "bag").exists():
        p.error(f"--out {out}: a run is in the way, choose a new directory")
    config = write_config(out, a.minutes * 60.0 * 0.9)
    cmd = [sys.executable, "-m", "warehouse_nodes.cli", "run", "--robots", str(a.robots),
           "--duration", str(a.minutes * 60.0), "--seed", str(a.seed), "--orders-per-hour", str(a.orders_per_hour),
           "--config", str(config), "--sample-every", str(SAMPLE_S), "--out", str(out), "--quiet"]
    print(f"# {' '.join(cmd)}", file=sys.stderr, flush=True)
    run = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kills = follow(run, out, kill_schedule(a.minutes, a.period, nodes, a.seed))
        _, stderr = run.communicate()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    report_path = out / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    print("\n".join(table(kills, report)))
    restarts = report.get("node_restarts_by_node", {})
    short = [n for n in set(n for _, n in kills) if restarts.get(n, 0) < sum(1 for _, k in kills if k == n)]
    failed = run.returncode != 0 or not report
    print(f"\nrun: exit {run.returncode}, {len(kills)} kills, {report.get('sim_duration_s', 0) / 60:.1f} simulated "
          f"minutes" + (f"\n{stderr[-3000:]}" if failed else ""))
    ok = not failed and report.get("orders_lost") == 0 and report.get("collisions") == 0 and not short
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

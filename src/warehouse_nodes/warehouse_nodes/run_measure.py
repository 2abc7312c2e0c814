"""What a run measures about its own processes: memory (PSS and USS), CPU time, a timeline.

Every process is counted once: the node processes are children of the run process, and
``run_monitor`` is the run process itself with any child that is not a node process.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from warehouse_nodes.run import RunMonitor


def memory_mb(procs: dict[str, subprocess.Popen]) -> float:
    """Memory of this process and every node process (PSS: shared pages split, not doubled)."""
    return sum(pss for pss, _ in process_memory_mb(procs).values())


def process_pss_mb(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    """PSS of each node process (with its children) and of this one [MB], each process counted once."""
    return {name: round(pss, 1) for name, (pss, _) in process_memory_mb(procs).items()}


def process_memory_mb(procs: dict[str, subprocess.Popen]) -> dict[str, tuple[float, float]]:
    """(PSS, USS) of each node process (with its children) and of this one [MB], each process once.

    The node processes are children of this one: ``run_monitor`` is this process and any child
    of it that is not a node process or theirs, so no node process is counted twice. USS (pages
    no other process maps) is what a process's own growth shows on a shared machine: PSS also
    moves when other processes start or stop using the same libraries.
    """
    out: dict[str, tuple[float, float]] = {}
    seen: set[int] = set()
    me = psutil.Process(os.getpid())
    families: list[tuple[str, list[psutil.Process]]] = []
    for name, p in procs.items():
        try:
            proc = psutil.Process(p.pid)
            families.append((name, [proc] + proc.children(recursive=True)))
        except psutil.Error:
            pass
    families.append(("run_monitor", [me] + me.children(recursive=True)))
    for name, family in families:
        for q in family:
            if q.pid in seen:
                continue
            seen.add(q.pid)
            try:
                info = q.memory_full_info()
            except psutil.Error:
                continue
            pss, uss = out.get(name, (0.0, 0.0))
            out[name] = (pss + getattr(info, "pss", info.rss) / 2**20, uss + getattr(info, "uss", info.rss) / 2**20)
    return {"run_monitor": out.pop("run_monitor", (0.0, 0.0)), **out}


def timeline_sample(path: Path, monitor: RunMonitor, procs: dict[str, subprocess.Popen], t_start: float) -> None:
    """One line of DIR/timeline.jsonl: memory by process, orders and lines so far, at this sim time."""
    rec = monitor.record
    mem = process_memory_mb(procs)
    pss = {name: round(v[0], 1) for name, v in mem.items()}
    uss = {name: round(v[1], 1) for name, v in mem.items()}
    line = {"sim_s": round(monitor.sim_time, 1), "wall_s": round(time.monotonic() - t_start, 1),
            "pss_mb": round(sum(v[0] for v in mem.values()), 1), "pss_by_process_mb": pss,
            "uss_mb": round(sum(v[1] for v in mem.values()), 1), "uss_by_process_mb": uss,
            "orders_accepted": len(rec.order_created), "orders_completed": len(rec.order_completed),
            "lines_picked": sum(rec.visits.values()), "bag_messages": monitor.bag_messages}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def cpu_seconds(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each node process; robot containers summed."""
    out: dict[str, float] = {}
    for name, p in [("run_monitor", None), *procs.items()]:
        key = "robot_containers" if name.startswith("robots_") else name
        try:
            t = psutil.Process(p.pid if p is not None else os.getpid()).cpu_times()
        except psutil.Error:
            continue
        out[key] = round(out.get(key, 0.0) + t.user + t.system, 1)
    return out

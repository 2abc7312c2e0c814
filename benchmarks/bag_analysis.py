"""Bag analysis speed and memory on a large fleet.

    .venv/bin/python benchmarks/bag_analysis.py [--robots 500] [--duration 600] [--hz 10]
                                                [--storage mcap|sqlite3] [--out DIR] [--keep]

Synthesises a bag with ``rosbags`` (``--robots`` odometry topics at ``--hz`` for ``--duration``
seconds; 500 x 600 s x 10 Hz = 3 million Odometry messages, about 2 GB): each robot shuttles
along its own aisle (1.5 m apart) with seeded speeds and pauses, and every 50th pair shares an
aisle in opposite directions, so the bag holds real close encounters. Then runs the analysis
(``warehouse_core.analysis.analyze_bag``: read, KPIs, close encounters, plots, report.html) in
a child process and prints a markdown table with wall time per phase and the child's peak
resident memory (``ru_maxrss``). The bag is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "warehouse_core"))

from warehouse_core.analysis.synthetic_bag import OdometryBagWriter  # noqa: E402

T0 = 1_700_000_000 * 10**9


def synthesise(path: Path, robots: int, duration: float, hz: int, storage: str, seed: int,
               jitter: bool = False) -> int:
    rng = np.random.default_rng(seed)
    offset = (rng.uniform(0, 10**9 // hz, robots).astype(np.int64) if jitter
              else np.zeros(robots, dtype=np.int64))  # unsynchronised robot clocks
    speed = rng.uniform(0.5, 1.5, robots)
    phase = rng.uniform(0, 2 * np.pi, robots)
    lane = 1.5 * np.arange(robots)
    for i in range(0, robots - 1, 50):  # opposite shuttles in one aisle: close encounters
        lane[i + 1] = lane[i] + 0.2
        phase[i + 1] = phase[i] + np.pi
        speed[i + 1] = speed[i]
    pause = rng.uniform(0, duration, robots)  # each robot stands still for 60 s from here
    steps = int(duration * hz) + 1
    n = 0
    with OdometryBagWriter(path, storage) as w:
        topics = [f"/amr_{i}/odom" for i in range(robots)]
        for i, topic in enumerate(topics):
            w.add_odometry(topic, f"amr_{i}/base_link")
        for k in range(steps):
            t = k / hz
            tt = np.where(t < pause, t, np.where(t < pause + 60, pause, t - 60))  # motion time
            xs = 20.0 + 15.0 * np.sin(speed * tt / 15.0 + phase)
            ns = T0 + k * 10**9 // hz
            for i in range(robots):
                w.odometry(topics[i], ns + int(offset[i]), float(xs[i]), float(lane[i]))
            n += robots
    return n


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {core!r})
from pathlib import Path
from warehouse_core.analysis.analyze import AnalyzeOptions, analyze_bag
t = time.monotonic()
a = analyze_bag(AnalyzeOptions(Path({bag!r}), Path({out!r}), progress=False))
print(json.dumps({{"wall": time.monotonic() - t, "timings": a["timings"], "encounters": len(a["close_encounters"]),
                  "robots": len(a["robots"]), "messages": a["messages_read"],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--robots", type=int, default=500)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--hz", type=int, default=10)
    ap.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jitter", action="store_true",
                    help="each robot stamps at its own phase (unsynchronised clocks) instead of all at once")
    ap.add_argument("--out", default="/tmp/warehouse_bag_benchmark")
    ap.add_argument("--keep", action="store_true", help="keep the synthesised bag")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    bag = out / "bag"
    t = time.monotonic()
    messages = synthesise(bag, args.robots, args.duration, args.hz, args.storage, args.seed, args.jitter)
    write_s = time.monotonic() - t
    size_gb = sum(f.stat().st_size for f in bag.iterdir()) / 1e9
    code = CHILD.format(core=str(ROOT / "src" / "warehouse_core"), bag=str(bag), out=str(out / "analysis"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"analysis failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tm = r["timings"]
    print("| robots | duration (s) | Hz | storage | clocks | messages | bag (GB) | write (s) | analysis (s) | read | "
          "encounters | plots | report | peak RSS (MB) | close encounters |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.robots} | {args.duration:.0f} | {args.hz} | {args.storage} | "
          f"{'jittered' if args.jitter else 'synchronised'} | {messages} | {size_gb:.2f} | "
          f"{write_s:.1f} | {r['wall']:.1f} | {tm['read_s']:.1f} | {tm['encounters_s']:.1f} | {tm['plots_s']:.1f} | "
          f"{tm['report_s']:.1f} | {max(r['rss_mb'], child_rss):.0f} | {r['encounters']} |")
    if not args.keep:
        shutil.rmtree(bag, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

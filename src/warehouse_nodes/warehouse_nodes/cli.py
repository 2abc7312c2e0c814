"""The ``./warehouse`` command line (after set-up): run, mapf, gazebo, analyze, replay.

``./warehouse test`` and ``./warehouse setup`` are handled by the shell wrapper itself.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from warehouse_core.errors import ArgumentParser, InputError


def repo_root() -> Path:
    return Path(os.environ.get("WAREHOUSE_ROOT", Path.cwd())).resolve()


def _run_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="warehouse run",
        description="Run the warehouse: floor simulator, robots, planner, allocator and order "
                    "source as ROS 2 nodes over DDS (loopback); print a summary and write "
                    "DIR/report.json and DIR/bag/ (rosbag2, MCAP).")
    p.add_argument("--robots", type=int, default=None,
                   help="fleet size (default: the scenario's, else the config's)")
    p.add_argument("--duration", type=float, default=None, metavar="SIM_S",
                   help="simulated seconds to run (default: the scenario's, else 600); 0: until Ctrl-C or, "
                        "with --api, POST /api/v1/shutdown")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of starts, catalogue, demand (default: the scenario's, else the config's)")
    p.add_argument("--map", default=None, metavar="LAYOUT",
                   help="semantic layout YAML (default: the scenario's, else the config's)")
    p.add_argument("--scenario", default=None, metavar="FILE",
                   help="fault scenario YAML (config/scenarios/); it may set robots, duration, seed, map, "
                        "order rate and node parameters, the command line overrides them")
    p.add_argument("--config", default="config/warehouse.yaml", metavar="FILE",
                   help="node parameters, keyed by node name (default config/warehouse.yaml; a relative "
                        "path not found here is looked up in the installed warehouse_bringup share)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default runs/<timestamp>/)")
    p.add_argument("--policy", choices=["default", "baseline"], default=None,
                   help="allocation policy (default: the config's task_allocator.policy)")
    p.add_argument("--orders-per-hour", type=float, default=None, metavar="N",
                   help="order arrival rate (default: the config's order_source.orders_per_hour)")
    p.add_argument("--max-rtf", type=float, default=None, metavar="X",
                   help="cap on simulated seconds per wall second, leaving CPU headroom for the "
                        "planner (default: 750 / robots, at most the config's floor_simulator."
                        "real_time_factor; 0: as fast as possible)")
    p.add_argument("--sample-every", type=float, default=0.0, metavar="SIM_S",
                   help="append memory (PSS by process) and orders so far to DIR/timeline.jsonl every SIM_S "
                        "simulated seconds (default 0: off; benchmarks/soak.py uses it)")
    p.add_argument("--bag-odom", choices=("on", "off", "full"), default="on",
                   help="on (default): record every robot's pose in map (/<robot>/map_pose) in the bag; full: "
                        "also its odometry (/<robot>/odom) and map -> odom (/<robot>/map_to_odom), three topics "
                        "per robot for the recorder to discover (slow start-up above ~200 robots); off: the "
                        "simulator's ground truth /sim/fleet_state alone gives positions, travel and collisions "
                        "(about 90 %% fewer bag messages, less recorder CPU; benchmarks/soak.py uses it)")
    p.add_argument("--bases", choices=("floor", "diffdrive", "nav2"), default="floor",
                   help="what moves the robots (default floor): floor, the floor simulator; diffdrive, one "
                        "simulated differential-drive base per robot behind vendor-driver topics (odometry with "
                        "drift, localisation, battery, lift/dock action, protective stops), each robot node "
                        "driving its base with the cmd_vel/odom hardware backend; nav2, the same bases, each "
                        "robot node driving its base through the Nav2 backend (FollowPath) and a simulated Nav2 "
                        "controller server per base (needs nav2_msgs)")
    p.add_argument("--api", action="store_true",
                   help="also start the operators' HTTP API and web console (fleet_api node; docs/operations.md)")
    p.add_argument("--api-host", default="127.0.0.1", metavar="ADDR",
                   help="address the API binds to (default 127.0.0.1: reads are open to whoever reaches it)")
    p.add_argument("--api-port", type=int, default=8080, metavar="PORT", help="the API's TCP port (default 8080)")
    p.add_argument("--api-token-file", default="", metavar="FILE",
                   help="file holding the bearer token writes need (default: WAREHOUSE_API_TOKEN, else a new "
                        "token written to DIR/api_token)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _api_params(a: argparse.Namespace, out: Path) -> dict | None:
    """The fleet_api node's parameters for --api: its address and where its token is; a token is made
    (and its file named on the console) when neither --api-token-file nor WAREHOUSE_API_TOKEN gives one."""
    if not a.api:
        return None
    if not 0 < a.api_port < 65536:
        raise InputError("--api-port", f"{a.api_port} is not a TCP port", fix="give a port from 1 to 65535")
    params = {"host": a.api_host, "port": a.api_port, "token_file": ""}
    if a.api_token_file:
        path = Path(a.api_token_file).resolve()
        if not path.is_file() or not path.read_text().strip():
            raise InputError(f"--api-token-file {a.api_token_file}", "is not a file holding a token",
                             fix="write the token into it, or leave the option out to have one made")
        params["token_file"] = str(path)
    from warehouse_nodes.api_node import check_address
    try:
        check_address(a.api_host, a.api_port)
    except InputError as exc:
        raise InputError("--api-host / --api-port", f"{a.api_host}:{a.api_port}: {exc.problem}",
                         fix="give a free --api-port, or an address of this machine as --api-host") from None
    if not params["token_file"] and not os.environ.get("WAREHOUSE_API_TOKEN", "").strip():
        import secrets
        out.mkdir(parents=True, exist_ok=True)
        path = out / "api_token"
        path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
        params["token_file"] = str(path)
        print(f"API write token written to {path} (send it as 'Authorization: Bearer <token>')")
    return params


def _run(argv: list[str]) -> int:
    from warehouse_nodes.share import user_path
    root = repo_root()
    p = _run_parser()
    a = p.parse_args(argv)
    if a.bases == "nav2":
        import importlib.util

        from warehouse_nodes import distro
        if importlib.util.find_spec("nav2_msgs") is None:
            raise InputError("--bases nav2", "the Nav2 backend and the simulated controller servers need nav2_msgs, "
                             "which is not installed",
                             fix=f"install {distro.install_hint('nav2_msgs')} (not on PyPI: here, build the test "
                                 "interfaces with tests/nav2_test_interfaces.py and source them), or use "
                                 "--bases diffdrive")
    scenario = None
    if a.scenario:
        from warehouse_core.sim.scenario import load_scenario
        scenario = load_scenario(user_path(a.scenario, root))
        if scenario.faults and a.bases != "floor":
            raise InputError(str(a.scenario), "its faults are injected by the floor simulator, which --bases "
                             f"{a.bases} does not start",
                             fix="run it with --bases floor, or give a scenario without faults")
    sc = scenario
    from warehouse_nodes.run_params import run_defaults
    a.config = user_path(a.config, root)  # here, else the bringup share's: runs from any directory
    configured = run_defaults(a.config)  # the config's, else the nodes' defaults (paths absolute)
    _settle(a, sc, configured)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(a.out) if a.out else root / "runs" / stamp
    _check_out(out)
    from warehouse_nodes.run import RunOptions, execute  # rclpy only when running
    from warehouse_nodes.run_report import exit_code, summary
    opts = RunOptions(a.robots, a.duration, a.seed, user_path(a.map, root),
                      a.config, out.resolve(), root, a.quiet,
                      policy=a.policy or "", orders_per_hour=a.orders_per_hour,
                      max_rtf=a.max_rtf, scenario=scenario, sample_every=a.sample_every,
                      bag_odom=a.bag_odom != "off", bag_frames=a.bag_odom == "full", bases=a.bases,
                      api=_api_params(a, out.resolve()))
    try:
        report = execute(opts)
    except RuntimeError as exc:
        print(f"error: the run failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C while the run was ending (see run.execute)
        print(f"error: interrupted twice: the run stopped without a report ({opts.out})", file=sys.stderr)
        return 130
    print(summary(report, opts.out))
    return exit_code(report)


MAX_DURATION = 9.2e9  # [s, sim] ROS time is int64 nanoseconds
MAX_REPLAY_RATE = 1e6  # playback speed factor; faster, every message is due at once anyway


def _settle(a: argparse.Namespace, sc, configured: dict) -> None:
    """Robots, duration, seed, map and order rate of the run: the command line's, else the
    scenario's, else the config's (or the default). Each is checked against its parameter's
    declared range (:mod:`warehouse_nodes.configs`) and refused naming where it came from, as are
    the scenario's ``params``, ``--max-rtf`` and ``--sample-every``: before anything starts."""
    from warehouse_nodes.config_check import check_sections, check_value
    from warehouse_nodes.configs import FloorSimConfig, OrderSourceConfig
    if sc is not None:
        check_sections(sc.params, sc.source, "params.")
    checked = {"robots": FloorSimConfig, "seed": FloorSimConfig, "orders_per_hour": OrderSourceConfig}
    fallback = {"robots": configured["robots"], "duration": 600.0, "seed": configured["seed"],
                "map": configured["layout"], "orders_per_hour": None}
    for key, default in fallback.items():
        source, where = ("--" + key.replace("_", "-"), "") if getattr(a, key) is not None else (
            (getattr(sc, "source", ""), key) if getattr(sc, key, None) is not None else ("", ""))
        value = _first(getattr(a, key), getattr(sc, key, None), default)
        setattr(a, key, value)
        if key in checked and source:  # the config's own values were checked with the config
            check_value(checked[key], key, value, source, where)
        if key == "orders_per_hour" and source and not value > 0:
            raise InputError(source, f"{value} is not a positive rate", where=where, fix="give orders per hour > 0")
        if key == "duration" and not (math.isfinite(value) and 0 <= value <= MAX_DURATION):
            raise InputError(source, f"{value} is not a run duration", where=where,
                             fix=f"give simulated seconds >= 0 (0: until stopped), at most {MAX_DURATION:g}")
    if a.max_rtf is not None:
        check_value(FloorSimConfig, "real_time_factor", a.max_rtf, "--max-rtf")
    if not (math.isfinite(a.sample_every) and a.sample_every >= 0):
        raise InputError("--sample-every", f"{a.sample_every} is not a sampling period",
                         fix="give simulated seconds > 0, or 0 for no samples")


def _check_out(out: Path) -> None:
    """Refuse an --out the run could not write to, before anything starts."""
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        what = "not" if existing == out else f"{existing} is not"
        raise InputError(str(out), f"{what} a writable directory", fix="choose another --out directory")


def _first(*values):
    """The first value that is not None (command line, then scenario, then default)."""
    return next((v for v in values if v is not None), None)


def dispatch(argv: list[str], commands: dict[str, Callable[[list[str]], int]], usage: str) -> int:
    """Run subcommand ``argv[0]``; usage on stderr (exit 0 for --help, 2 otherwise) if there is
    none or it is unknown; a bad input ends with its one-line message and exit code 2."""
    if not argv or argv[0] in ("-h", "--help"):
        print(usage, file=sys.stderr)
        return 0 if argv else 2
    if argv[0] not in commands:
        print(f"error: unknown command {argv[0]!r} (fix: {usage})", file=sys.stderr)
        return 2
    try:
        return commands[argv[0]](argv[1:])
    except InputError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # one line, whatever the message
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"run": _run, "mapf": _mapf, "gazebo": _gazebo, "analyze": _analyze, "replay": _replay}
    return dispatch(argv, commands, "usage: ./warehouse {run,mapf,gazebo,analyze,replay,test,setup} [options]   "
                                    "(see ./warehouse --help)")


def _mapf(argv: list[str]) -> int:
    from warehouse_core.mapf.cli import main as mapf_main
    return mapf_main(argv)


def _gazebo(argv: list[str]) -> int:
    from warehouse_nodes.gazebo_cli import main as gazebo_main
    return gazebo_main(argv)


def _analyze(argv: list[str]) -> int:
    root = repo_root()
    p = ArgumentParser(
        prog="warehouse analyze",
        description="Analyse a rosbag2 bag (MCAP or sqlite3, any ROS 2 distro): every nav_msgs/msg/Odometry "
                    "topic is a robot. Writes DIR/analysis.json, plots (PNG) and DIR/report.html "
                    "(self-contained, with an animated replay).")
    p.add_argument("bag", metavar="BAG", help="rosbag2 directory (or a lone .mcap/.db3 file)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: BAG's directory/analysis)")
    p.add_argument("--min-distance", type=float, default=0.5, metavar="M",
                   help="robot centres closer than this are a close encounter (default 0.5 m)")
    p.add_argument("--map", default=None, metavar="LAYOUT",
                   help="layout or Nav2 map YAML to draw under the robots (default: an OccupancyGrid topic "
                        "in the bag, else the layout in a params.yaml next to the bag)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no warnings on stderr")
    a = p.parse_args(argv)
    if not a.min_distance > 0:
        p.error("--min-distance must be positive")
    from warehouse_core.analysis.analyze import AnalyzeOptions, analyze_bag, summary
    from warehouse_core.analysis.bagio import interfaces_msg_dir
    bag = Path(a.bag).resolve()
    out = Path(a.out).resolve() if a.out else bag.parent / "analysis"
    opts = AnalyzeOptions(bag, out, a.min_distance, (root / a.map).resolve() if a.map else None,
                          [interfaces_msg_dir(root)], progress=not a.quiet)
    warn = None if a.quiet else (lambda text: print(f"warning: {text}", file=sys.stderr))
    result = analyze_bag(opts, warn)
    print(summary(result, out))
    return 0


def _replay(argv: list[str]) -> int:
    root = repo_root()
    p = ArgumentParser(
        prog="warehouse replay",
        description="Republish a bag's topics with /clock (use_sim_time consumers follow the bag's time), or "
                    "with --reallocate re-run our allocator and planner on the bag's recorded orders and report "
                    "the KPI difference.")
    p.add_argument("bag", metavar="BAG", help="rosbag2 directory (or a lone .mcap/.db3 file)")
    p.add_argument("--rate", type=float, default=1.0, metavar="R",
                   help=f"playback speed factor, > 0 and at most {MAX_REPLAY_RATE:.0f} (default 1.0)")
    p.add_argument("--delay", type=float, default=1.0, metavar="SEC",
                   help="wall seconds between advertising the topics and the first message, so that "
                        "subscribers can match (default 1.0)")
    p.add_argument("--reallocate", action="store_true",
                   help="what-if: re-run allocator and planner (ROS-free core) on the recorded orders")
    p.add_argument("--map", default=None, metavar="LAYOUT",
                   help="--reallocate: the run's layout (default: the one in params.yaml next to the bag)")
    p.add_argument("--policy", choices=["default", "baseline"], default=None,
                   help="--reallocate: allocation policy of the re-run (default: the recorded run's)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="--reallocate: where whatif.json goes (default: BAG's directory)")
    p.add_argument("--quiet", action="store_true", help="no warnings on stderr")
    a = p.parse_args(argv)
    if not (math.isfinite(a.rate) and 0 < a.rate <= MAX_REPLAY_RATE):
        raise InputError("--rate", f"{a.rate} is not a playback speed factor",
                         fix=f"give a factor > 0 and at most {MAX_REPLAY_RATE:.0f}, e.g. 2 for twice as fast")
    if not (math.isfinite(a.delay) and a.delay >= 0):
        p.error("--delay must be seconds >= 0")
    bag = Path(a.bag).resolve()
    if a.reallocate:
        return _reallocate(a, bag, root)
    from warehouse_nodes.bag_replay import ReplayOptions, replay
    try:
        done = replay(ReplayOptions(bag, a.rate, root, a.quiet, a.delay))
    except KeyboardInterrupt:
        print("replay interrupted", file=sys.stderr)
        return 130
    total = sum(done.published.values())
    if not total and done.problems:  # nothing usable: a refusal, not an empty replay
        raise InputError(str(bag), f"nothing could be replayed: {'; '.join(done.problems[:3])}",
                         fix="check the recording (`ros2 bag info`); see docs/analysis.md for damaged bags")
    print(f"replayed {total} messages on {len(done.published)} topics (+ /clock) from {bag} at x{a.rate:g}")
    if not done.complete:
        why = "; ".join(done.problems[:2]) or "no readable metadata.yaml to check it against"
        print(f"INCOMPLETE: the bag was not replayed whole: {why} (all in the warnings)")
    return 0


def _reallocate(a, bag: Path, root: Path) -> int:
    import json

    from warehouse_core.analysis import fleet_kpis, whatif
    from warehouse_core.analysis.analyze import read_bag
    from warehouse_core.analysis.bagio import interfaces_msg_dir
    warn = (lambda text: None) if a.quiet else (lambda text: print(f"warning: {text}", file=sys.stderr))
    got = read_bag(bag, [interfaces_msg_dir(root)], warn, progress=not a.quiet)
    if not got.record.orders:
        raise InputError(str(bag), "no recorded orders (/orders, warehouse_interfaces/msg/Order): nothing to "
                         "re-allocate", fix="record /orders (./warehouse run does)")
    recorded = fleet_kpis.task_kpis(got.record, got.duration, len(got.tracks))
    params = bag.parent / "params.yaml"
    cfg = whatif.config_from_params(params if params.is_file() else None,
                                    (root / a.map).resolve() if a.map else None, a.policy or "")
    first = {tr.name: (float(tr.x[0]), float(tr.y[0])) for tr in got.tracks}
    print(f"re-running allocator and planner on {len(got.record.orders)} recorded orders, {len(first)} robots, "
          f"{got.duration:.0f} s (policy {cfg.ops.policy}) ...", file=sys.stderr)
    rerun = whatif.simulate(cfg, got.record.orders, first, got.duration)
    rows = whatif.compare(recorded, rerun)
    if not rows:
        print("the bag has no order or task events to compare with; re-run KPIs only", file=sys.stderr)
        rows = [(k, "-", rerun[k], "-") for k in whatif.COMPARED if k in rerun]
    print(f"{'KPI':<28}{'recorded':>12}{'re-run':>12}{'change':>12}")
    for k, x, y, d in rows:
        print(f"{k:<28}{x!s:>12}{y!s:>12}{d:>12}")
    out = Path(a.out).resolve() if a.out else bag.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "whatif.json").write_text(json.dumps(
        {"bag": str(bag), "recorded": recorded, "rerun": rerun,
         "difference": {k: {"recorded": x, "rerun": y, "change": d} for k, x, y, d in rows}}, indent=2) + "\n")
    print(f"written {out / 'whatif.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The launch files and ``./warehouse run`` start the same graph (warehouse_nodes.graph).

No ``launch`` package here: small fake ``launch`` / ``launch_ros`` modules injected into
``sys.modules`` record what a launch file's ``generate_launch_description`` declares and what its
``OpaqueFunction`` starts (``Node(...)``), with ``LaunchConfiguration`` resolved for the given
arguments. The runner's side is its real code: ``write_params`` (the params file its processes
get), ``node_commands`` (their command lines) and ``run_graph`` (the respawn set its supervisor
gets). Compared: processes in start order, the nodes they host, every parameter value each
node ends up with, and respawn.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from warehouse_nodes.configs import NODE_CONFIGS
from warehouse_nodes.graph import BASE_SIMULATOR, CENTRAL, MANAGER, STATE_STORE_NODES, GraphArgs, describe, flag
from warehouse_nodes.run import node_commands
from warehouse_nodes.run_params import RunOptions, run_graph, write_params

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch"
CONFIG = ROOT / "config" / "warehouse.yaml"
LAYOUT = ROOT / "maps" / "warehouse_layout.yaml"
sys.path.insert(0, str(ROOT / "tests"))  # the fake launch modules: a helper module, not a test
from launch_fakes import install as _fake_launch  # noqa: E402
from launch_fakes import run_launch_file as launched  # noqa: E402


def _matches(section: str, fqn: str) -> bool:
    name = fqn.rsplit("/", 1)[-1]
    return section in ("/**", fqn, name) or (section == "/**/robot" and name == "robot")


def effective(sources: list, fqn: str) -> dict:
    """The parameters node ``fqn`` gets from params files and dicts (a dict applies to every node), in order."""
    out: dict = {}
    for src in sources:
        if isinstance(src, dict):
            out.update(src)
            continue
        for section, body in (yaml.safe_load(Path(src).read_text()) or {}).items():
            if _matches(section, fqn):
                out.update(body.get("ros__parameters", {}))
    return out


def _hosted(name: str, namespace: str, arguments: list[str]) -> list[str]:
    if name:
        return [f"/{namespace}/{name}" if namespace else f"/{name}"]
    first, count = int(arguments[arguments.index("--first") + 1]), int(arguments[arguments.index("--count") + 1])
    return [f"/robot_{i}/robot" for i in range(first, first + count)]


def launch_side(monkeypatch, path: Path, given: dict[str, str]) -> list[tuple]:
    """(executable, hosted nodes, {node: parameters}, respawn) per launched process, in order."""
    _, nodes = launched(monkeypatch, path, given)
    out = []
    for kw in nodes:
        hosted = _hosted(kw.get("name", ""), kw.get("namespace", ""), kw.get("arguments", []))
        out.append((kw["executable"], hosted, {n: effective(kw["parameters"], n) for n in hosted},
                    bool(kw.get("respawn", False))))
    return out


def run_side(opts: RunOptions) -> list[tuple]:
    """The same for ``./warehouse run``: its command lines, params file and supervisor's respawn set."""
    params, _ = write_params(opts)
    graph = run_graph(opts)
    respawn = {p.key for p in graph.processes if p.respawn}
    by_module = {module: exe for exe, module in (*CENTRAL.values(), MANAGER, BASE_SIMULATOR)} | {
        "warehouse_nodes.robot_container": "robot_container"}
    out = []
    for key, cmd in node_commands(opts, graph, params).items():
        module = cmd[2]
        args = cmd[3:cmd.index("--ros-args")]
        exe = by_module[module]
        hosted = _hosted("" if exe == "robot_container" else exe, "", args)
        files = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--params-file"]
        out.append((exe, hosted, {n: effective(files, n) for n in hosted}, key in respawn))
    return out


def _opts(tmp_path: Path, robots: int, seed: int, max_rtf: float | None = None, bases: str = "floor") -> RunOptions:
    (tmp_path / "run").mkdir(exist_ok=True)
    return RunOptions(robots=robots, duration=60.0, seed=seed, layout=LAYOUT, config=CONFIG, out=tmp_path / "run",
                      root=ROOT, max_rtf=max_rtf, bases=bases)


def _launch_args(opts: RunOptions, **more: str) -> dict[str, str]:
    return {"robots": str(opts.robots), "seed": str(opts.seed), "map": str(opts.layout), "config": str(opts.config),
            "state_store": str(opts.out / "state.db"), "use_sim_time": "true", "observers": "1", **more}


@pytest.mark.parametrize("robots,seed,max_rtf", [(3, 7, None), (150, 42, 2.5)])
def test_the_sim_launch_file_starts_what_the_runner_starts(monkeypatch, tmp_path, robots, seed, max_rtf):
    opts = _opts(tmp_path, robots, seed, max_rtf)
    extra = {"max_rtf": str(max_rtf)} if max_rtf is not None else {}
    launch = launch_side(monkeypatch, LAUNCH / "warehouse_sim.launch.py", _launch_args(opts, **extra))
    run = run_side(opts)
    assert [p[:2] for p in launch] == [p[:2] for p in run]  # processes, order, hosted nodes
    for lp, rp in zip(launch, run):
        for node in lp[1]:
            assert lp[2][node] == rp[2][node], f"{node}: parameters differ"
        assert lp[3] == rp[3], f"{lp[0]}: respawn differs"
    sim = run[0][2]["/floor_simulator"]
    # the gating and the speed cap are in both: planner, allocator, order source + the recorder
    assert sim["expected_nodes"] == 4 and sim["expected_state_readers"] == len(range(0, robots, 100)) + 1
    assert sim["real_time_factor"] == (max_rtf if max_rtf is not None else min(750.0 / robots, 12.0))
    assert all(p[3] for p in run)  # with a state store everything respawns
    assert Path(run[2][2]["/task_allocator"]["boxes"]).is_file()  # paths in the config: from its file


@pytest.mark.parametrize("robots,max_rtf", [(4, None), (150, 1.5)])
def test_with_simulated_bases_the_launch_file_starts_what_the_runner_starts(monkeypatch, tmp_path, robots, max_rtf):
    from warehouse_nodes import distro
    opts = _opts(tmp_path, robots, 5, max_rtf, bases="diffdrive")
    extra = {"max_rtf": str(max_rtf)} if max_rtf is not None else {}
    given = _launch_args(opts, bases="diffdrive", **extra)
    launch = launch_side(monkeypatch, LAUNCH / "warehouse_sim.launch.py", given)
    run = run_side(opts)
    assert [p[:2] for p in launch] == [p[:2] for p in run]
    for lp, rp in zip(launch, run):
        for node in lp[1]:
            assert lp[2][node] == rp[2][node], f"{node}: parameters differ"
        assert lp[3] == rp[3], f"{lp[0]}: respawn differs"
    # no floor simulator: the base simulator first, the clock, waiting for the /clock readers
    # (planner, allocator, order source), every robot node (on sim time) and the recorder
    assert run[0][0] == "base_simulator" and "floor_simulator" not in [p[0] for p in run]
    bases = run[0][2]["/base_simulator"]
    assert bases["publish_clock"] is True  # the clock: the node sets its own use_sim_time false
    assert bases["expected_nodes"] == 3 + robots + 1
    assert bases["real_time_factor"] == (max_rtf if max_rtf is not None else min(40.0 / robots, 12.0))
    assert bases["wait_for_planner"] is False and bases["cmd_vel_stamped"] is distro.cmd_vel_stamped()
    assert not run[0][3]  # the bases' state is not durable: the clock is not respawned
    robots_ = [p for p in run if p[0] == "robot_container"]
    assert sum(len(p[1]) for p in robots_) == robots
    for p in robots_:
        for params in p[2].values():
            assert params["use_sim_time"] is True and params["drive_backend"] == "gazebo"
            assert params["base_inputs"] == "battery,rack,stop,operations"
            assert params["localisation_topic"] == "amcl_pose"
            assert params["cmd_vel_stamped"] is bases["cmd_vel_stamped"]
    for exe in ("mapf_planner", "task_allocator", "order_source"):
        assert next(p for p in run if p[0] == exe)[2][f"/{exe}"]["use_sim_time"] is True
    manager = next(p for p in run if p[0] == "lifecycle_manager")[2]["/lifecycle_manager"]
    assert "floor_simulator" not in manager["node_names"]


def test_an_unknown_kind_of_base_is_refused():
    with pytest.raises(ValueError, match="bases 'tracks'"):
        describe(GraphArgs(config=CONFIG, robots=2, bases="tracks"))


def test_a_difference_is_seen(monkeypatch, tmp_path):
    """The comparison is not vacuous: another seed on one side shows."""
    opts = _opts(tmp_path, 3, 7)
    launch = launch_side(monkeypatch, LAUNCH / "warehouse_sim.launch.py", _launch_args(opts, seed="8"))
    assert launch[0][2]["/floor_simulator"] != run_side(opts)[0][2]["/floor_simulator"]


@pytest.mark.parametrize("store,respawn", [("", False), ("state.db", True)])
def test_fleet_server_respawns_only_with_a_state_store(monkeypatch, store, respawn):
    given = {"state_store": store, "use_sim_time": "True", "floor_sim": "1", "order_source": "False"}
    nodes = launch_side(monkeypatch, LAUNCH / "fleet_server.launch.py", given)
    assert [p[0] for p in nodes] == ["floor_simulator", "mapf_planner", "task_allocator", "forecaster",
                                     "lifecycle_manager"]
    assert {p[3] for p in nodes} == {respawn}
    # the manager brings up exactly the central nodes started, in their start order
    assert nodes[4][2]["/lifecycle_manager"]["node_names"] == [p[0] for p in nodes[:4]]
    planner = nodes[1][2]["/mapf_planner"]
    assert planner["use_sim_time"] is True and Path(planner["layout"]).is_absolute()
    sim = nodes[0][2]["/floor_simulator"]
    assert sim["use_sim_time"] is False
    assert sim["expected_nodes"] == 2  # planner and allocator: no order source
    assert sim["expected_state_readers"] == 20  # the config's robots, one robot node each (robot.launch.py)


def test_the_lifecycle_manager_brings_up_the_central_nodes_in_start_order(tmp_path):
    graph = describe(GraphArgs(config=CONFIG, robots=3))
    keys = [p.key for p in graph.processes]
    manager = graph.process("lifecycle_manager")
    assert manager.overrides["node_names"] == [k for k in keys if k in CENTRAL]
    assert keys.index("lifecycle_manager") < keys.index("robots_0")  # up before the robots
    without = describe(GraphArgs(config=CONFIG, robots=3, floor_sim=False, order_source=False))
    assert without.process("lifecycle_manager").overrides["node_names"] == ["mapf_planner", "task_allocator",
                                                                            "forecaster"]


def test_launch_arguments_are_described(monkeypatch):
    for path in sorted(LAUNCH.glob("*.launch.py")):
        _fake_launch(monkeypatch)
        declared, _ = launched(monkeypatch, path, {}) if path.name != "warehouse_gazebo.launch.py" else (
            _declared_only(monkeypatch, path), [])
        assert declared and all(len(d) > 10 for _, d in declared.values()), path.name


def _declared_only(monkeypatch, path: Path) -> dict:
    _fake_launch(monkeypatch)
    spec = importlib.util.spec_from_file_location("gz", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {e.args[0]: (e.kwargs.get("default_value"), e.kwargs.get("description", ""))
            for e in module.generate_launch_description() if type(e).__name__ == "DeclareLaunchArgument"}


def test_robot_launch_file_gives_one_robot_the_fleet_parameters(monkeypatch):
    _, nodes = launched(monkeypatch, LAUNCH / "robot.launch.py", {"robot": "robot_3", "use_sim_time": "1"})
    assert len(nodes) == 1 and nodes[0]["namespace"] == "robot_3"
    params = effective(nodes[0]["parameters"], "/robot_3/robot")
    assert params["use_sim_time"] is True and Path(params["layout"]).is_file()
    assert params["drive_backend"] == "gazebo"


@pytest.mark.parametrize("text,value", [("true", True), ("True", True), ("1", True),
                                        ("false", False), ("False", False), ("0", False)])
def test_boolean_arguments(text, value):
    assert flag(text, "x") is value


def test_a_wrong_boolean_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="use_sim_time"):
        flag("yes", "use_sim_time")


def test_the_graph_names_existing_entry_points_and_state_stores():
    import ast
    tree = ast.parse((ROOT / "src" / "warehouse_nodes" / "setup.py").read_text())
    scripts = {n.value.split(" = ")[0].strip(): n.value.split(" = ")[1].strip() for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str) and " = " in n.value}
    graph = describe(GraphArgs(config=CONFIG, robots=2))
    for p in graph.processes:
        assert scripts[p.executable].split(":")[0] == p.module, p.key
    stores = {n for n, cls in NODE_CONFIGS.items() if "state_store" in {f.name for f in dataclasses.fields(cls)}}
    assert set(STATE_STORE_NODES) == stores


def test_the_graph_is_importable_without_ros_or_launch():
    import subprocess
    code = ("import sys; import warehouse_nodes.graph; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'launch', 'launch_ros')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)

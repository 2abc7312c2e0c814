"""Fake ``launch`` / ``launch_ros`` modules, so that a launch file runs here (no ``launch`` on PyPI).

:func:`run_launch_file` injects them into ``sys.modules`` (through pytest's ``monkeypatch``), runs
the file's ``generate_launch_description`` and its ``OpaqueFunction`` with ``LaunchConfiguration``
resolved for the given arguments (else their defaults), and returns what it declared and started.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


class Recorded:
    """Any launch action: keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _Config:
    def __init__(self, name, **kwargs):
        self.name = name

    def perform(self, context):
        return context[self.name]


class _Env:
    def __init__(self, name, default_value=""):
        self.default = default_value


def install(monkeypatch) -> None:
    """Put the fake modules in ``sys.modules`` for this test."""
    mods = {name: types.ModuleType(name) for name in (
        "launch", "launch.actions", "launch.substitutions", "launch.launch_description_sources",
        "launch_ros", "launch_ros.actions")}
    mods["launch"].LaunchDescription = lambda entities: list(entities)
    for name in ("DeclareLaunchArgument", "SetEnvironmentVariable", "AppendEnvironmentVariable",
                 "IncludeLaunchDescription", "OpaqueFunction"):
        setattr(mods["launch.actions"], name, type(name, (Recorded,), {}))
    mods["launch.substitutions"].LaunchConfiguration = _Config
    mods["launch.substitutions"].EnvironmentVariable = _Env
    mods["launch.launch_description_sources"].PythonLaunchDescriptionSource = Recorded
    mods["launch_ros.actions"].Node = type("Node", (Recorded,), {})
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)


def run_launch_file(monkeypatch, path: Path, given: dict[str, str]) -> tuple[dict, list[dict]]:
    """(declared arguments: name -> (default, description), the keyword arguments of every Node started)."""
    install(monkeypatch)
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities = module.generate_launch_description()
    declared = {e.args[0]: (e.kwargs.get("default_value", ""), e.kwargs.get("description", ""))
                for e in entities if type(e).__name__ == "DeclareLaunchArgument"}
    unknown = set(given) - set(declared)
    assert not unknown, f"{path.name} declares no {unknown}"
    context = {k: (d.default if isinstance(d, _Env) else d) for k, (d, _) in declared.items()} | given
    nodes = []
    for e in entities:
        if type(e).__name__ == "OpaqueFunction":
            nodes += [n.kwargs for n in e.kwargs["function"](context) if type(n).__name__ == "Node"]
    return declared, nodes

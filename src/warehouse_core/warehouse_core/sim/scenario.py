"""Fault scenarios: a YAML file naming faults to inject into a run, and what the run may set.

Format (``config/scenarios/*.yaml``; every key but ``faults`` is optional)::

    name: robot_faults               # default: the file name
    description: free text
    robots: 8                        # fleet size, duration [s, sim], seed, layout, order rate:
    duration: 420                    # the command line (--robots, --duration, ...) overrides them
    seed: 3
    map: maps/warehouse_layout.yaml
    orders_per_hour: 600
    params:                          # node parameter overrides, node -> {parameter: value}
      order_source: {stop_after: 200.0}
    faults:                          # each: at [s, sim time], kind, and the kind's keys
      - {at: 60, kind: robot_stuck, robot: robot_2, seconds: 45}
      - {at: 80, kind: robot_fail, robot: robot_3}
      - {at: 90, kind: robot_silent, robot: robot_5, tow_after: 60}
      - {at: 100, kind: blocked_cell, cell: [12, 7], seconds: 120}
      - {at: 30, kind: link_fault, seconds: 60, delay: 1.5, loss: 0.2}
      - {at: 0, kind: rack_jammed, rack: R0007, seconds: 300}

Kinds:

* ``robot_fail``: the robot's base fails (it stops; towed away after the simulator's
  ``recovery_time``).
* ``robot_silent``: the robot's node dies: it publishes nothing more (no state, odometry or
  drive command); its base stands where the last command left it; ``tow_after`` seconds later
  (default 60) it is towed off the floor like a failed robot.
* ``robot_stuck``: the base stands still for ``seconds`` (a person in the way, a wheel slip).
* ``blocked_cell``: an obstacle on grid cell ``[x, y]`` (column, row; row 0 at the top) for
  ``seconds`` (omitted: to the end of the run). It is placed as soon as no robot stands on or
  drives into the cell; the simulator refuses to drive any robot into it.
* ``link_fault``: for ``seconds``, every robot state the planner receives is delayed by
  ``delay`` seconds and dropped with probability ``loss``, and every release it sends is
  dropped with probability ``loss``.
* ``rack_jammed``: rack ``rack`` (a rack id of the layout) cannot be lifted for ``seconds``
  (omitted: to the end of the run): a robot that tries finds it will not come up (the simulator
  announces ``lift_failed``), aborts its visit, and the allocator leaves the rack alone for its
  ``rack_retry_after``.

Bad files are refused with an :class:`~warehouse_core.errors.InputError` naming the file and
the key (``faults[2].seconds``) and the fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path

from warehouse_core.errors import InputError, read_yaml_file
from warehouse_core.maps.grid import Coord, Grid
from warehouse_core.maps.layout import _Checker

KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind -> (required keys, optional keys)
    "robot_fail": (("robot",), ()),
    "robot_silent": (("robot",), ("tow_after",)),
    "robot_stuck": (("robot", "seconds"), ()),
    "blocked_cell": (("cell",), ("seconds",)),
    "link_fault": (("seconds",), ("delay", "loss")),
    "rack_jammed": (("rack",), ("seconds",)),
}
_TOP_KEYS = ("name", "description", "robots", "duration", "seed", "map", "orders_per_hour", "params", "faults")


@dataclass(frozen=True)
class Fault:
    """One fault to inject at sim time ``at`` (see the module docstring for the kinds)."""

    kind: str
    at: float
    robot: str = ""
    seconds: float = 0.0  # 0 for blocked_cell: to the end of the run
    cell: Coord | None = None
    delay: float = 0.0
    loss: float = 0.0
    tow_after: float = 60.0
    rack: str = ""

    def describe(self) -> dict:
        """The fault as a JSON-able dict (what the injecting node announces)."""
        required, optional = KINDS[self.kind]
        values = asdict(self)
        defaults = Fault(self.kind, 0.0)
        out = {k: values[k] for k in ("at", "kind", *required)}
        out.update({k: values[k] for k in optional if values[k] != getattr(defaults, k)})
        if self.cell is not None:
            out["cell"] = list(self.cell)
        return out


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario file."""

    name: str
    source: str
    description: str = ""
    robots: int | None = None
    duration: float | None = None
    seed: int | None = None
    map: str | None = None
    orders_per_hour: float | None = None
    params: dict = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()

    def check_run(self, robots: int, grid: Grid, racks: Collection[str] | None = None,
                  duration: float | None = None) -> None:
        """Refuse faults naming robots beyond the fleet, cells off the floor, (given the layout's
        ``racks``) racks not on the floor of this run or (given the run's ``duration``) faults
        due at or after its end: they would inject nothing."""
        ck = _Checker(self.source, grid)
        names = {f"robot_{i}" for i in range(robots)}
        for i, f in enumerate(self.faults):
            if duration is not None and f.at >= duration:
                ck.fail(f"{f.kind} fault at {f.at:g} s is not before the end of this run ({duration:g} s)",
                        f"faults[{i}].at", fix=f"run longer than {f.at:g} s (--duration) or remove the fault")
            if f.robot and f.robot not in names:
                ck.fail(f"robot {f.robot!r} is not in this run's fleet of {robots} (robot_0 .. robot_{robots - 1})",
                        f"faults[{i}].robot", fix="name an existing robot or run more robots")
            if f.cell is not None:
                ck.free_cell(list(f.cell), f"faults[{i}].cell", "blocked cell")
            if f.rack and racks is not None and f.rack not in racks:
                some = ", ".join(sorted(racks)[:3])
                ck.fail(f"rack {f.rack!r} is not in this run's layout", f"faults[{i}].rack",
                        fix=f"name a rack of the layout ({some}, ...)")


def faults_to_json(faults: tuple[Fault, ...] | list[Fault]) -> str:
    """The fault list as the JSON string nodes get in their ``scenario_faults`` parameter."""
    return json.dumps([f.describe() for f in faults])


def faults_from_json(text: str, source: str = "parameter scenario_faults") -> list[Fault]:
    """Inverse of :func:`faults_to_json` (validated the same way as a file); "" is no faults."""
    if not text:
        return []
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not JSON: {exc}", fix="pass faults_to_json(...) output") from None
    return _faults(_Checker(source), items)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML (see the module docstring)."""
    path = Path(path)
    src = str(path)
    _, doc = read_yaml_file(path, "scenario file", fix="give a file under config/scenarios/")
    ck = _Checker(src)
    if not isinstance(doc, dict):
        ck.fail("a scenario must be a mapping with at least 'faults:'", fix="see config/scenarios/README.md")
    ck.keys(doc, _TOP_KEYS, ("faults",), "", "scenario")
    params = doc.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        ck.fail("'params' must map node names to {parameter: value}", "params",
                fix="e.g. params: {order_source: {stop_after: 200.0}}")
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name:
        ck.fail(f"name {name!r} must be a non-empty string", "name")
    return Scenario(
        name=name, source=src, description=str(doc.get("description", "")),
        robots=_number(ck, doc, "robots", int, minimum=1),
        duration=_number(ck, doc, "duration", float, positive=True),
        seed=_number(ck, doc, "seed", int, minimum=0),
        map=_text(ck, doc, "map"),
        orders_per_hour=_number(ck, doc, "orders_per_hour", float, positive=True),
        params=params, faults=tuple(_faults(ck, doc.get("faults"))))


def _text(ck: _Checker, doc: dict, key: str, where: str = "") -> str | None:
    value = doc.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        ck.fail(f"{key} {value!r} must be a non-empty string", where or key)
    return value


def _number(ck: _Checker, doc: dict, key: str, kind: type, *, where: str = "", minimum: float | None = None,
            positive: bool = False, maximum: float | None = None) -> float | int | None:
    value = doc.get(key)
    where = where or key
    if value is None:
        return None
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types) or not math.isfinite(value):
        ck.fail(f"{key} {value!r} must be {'an integer' if kind is int else 'a finite number'}", where)
    if positive and not value > 0:
        ck.fail(f"{key} {value!r} must be positive", where)
    if minimum is not None and value < minimum:
        ck.fail(f"{key} {value!r} must be at least {minimum}", where)
    if maximum is not None and value > maximum:
        ck.fail(f"{key} {value!r} must be at most {maximum}", where)
    return kind(value)


def _faults(ck: _Checker, items: object) -> list[Fault]:
    if not isinstance(items, list):
        ck.fail("'faults' must be a list of {at, kind, ...} mappings", "faults",
                fix="e.g. faults: [{at: 60, kind: robot_stuck, robot: robot_2, seconds: 45}]")
    out = []
    for i, item in enumerate(items):
        where = f"faults[{i}]"
        if not isinstance(item, dict):
            ck.fail(f"fault {item!r} must be a mapping like {{at: 60, kind: robot_fail, robot: robot_1}}", where)
        kind = item.get("kind")
        if kind not in KINDS:
            ck.fail(f"unknown fault kind {kind!r}", f"{where}.kind", fix=f"one of {', '.join(KINDS)}")
        required, optional = KINDS[kind]
        ck.keys(item, ("at", "kind", *required, *optional), ("at", *required), where, f"{kind} fault")
        kw: dict = {"kind": kind, "at": _number(ck, item, "at", float, where=f"{where}.at", minimum=0.0)}
        if "robot" in item:
            kw["robot"] = _text(ck, item, "robot", f"{where}.robot")
        if "rack" in item:
            kw["rack"] = _text(ck, item, "rack", f"{where}.rack")
        for key in ("seconds", "tow_after"):
            if key in item:
                kw[key] = _number(ck, item, key, float, where=f"{where}.{key}", positive=True)
        if "delay" in item:
            kw["delay"] = _number(ck, item, "delay", float, where=f"{where}.delay", minimum=0.0, maximum=30.0)
        if "loss" in item:
            kw["loss"] = _number(ck, item, "loss", float, where=f"{where}.loss", minimum=0.0, maximum=0.9)
        if "cell" in item:
            cell = item["cell"]
            if (not isinstance(cell, (list, tuple)) or len(cell) != 2
                    or any(isinstance(v, bool) or not isinstance(v, int) for v in cell)):
                ck.fail(f"cell {cell!r} must be [x, y] with integer column x and row y", f"{where}.cell")
            kw["cell"] = (int(cell[0]), int(cell[1]))
        out.append(Fault(**kw))
    return out

"""Node parameters from files and from the command line, checked before any process starts.

``./warehouse run`` sets node parameters from its ``--config`` file, from a scenario's ``params``
and from its own options. A started node refuses a value of the wrong type or out of range, but
only once the run is under way, naming the parameter rather than the file it came from, and ROS
ignores a key no node declares. Here every section must be a node of
:data:`~warehouse_nodes.configs.NODE_CONFIGS` (``/**``: every node; ``/<ns>/robot``: the robot
nodes), every key one of its parameters, every value of the declared type, finite and within the
declared range (one source: the :func:`~warehouse_nodes.params.param` metadata of the config
classes). An :class:`~warehouse_core.errors.InputError` names the file (or option), the key and,
for an unknown name, the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from collections.abc import Mapping
from typing import Any, get_type_hints

from warehouse_core.errors import InputError
from warehouse_nodes.configs import NODE_CONFIGS, ForecasterConfig, RobotConfig

SHARED = "/**"  # the params-file section every node reads
# declared by rclpy itself for every node
ROS_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})
_ROBOT_SECTION = re.compile(r"/?(\*\*|[A-Za-z_]\w*)/robot")
_INT64 = (-(2**63), 2**63 - 1)
# Forecast settings of a config written before the forecaster node, under task_allocator;
# run_params.move_forecast_keys moves them to the forecaster's section.
FORECASTER_KEYS = ("forecast_model", "forecast_ets_model", "forecast_smooth", "forecast_horizon", "forecast_folds",
                   "history_days", "history_orders_per_day", "demand_history_csv")
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               list[str]: "a list of strings", list[float]: "a list of numbers", list[int]: "a list of integers"}


@dataclasses.dataclass(frozen=True)
class _Field:
    """One declared parameter: type, default, inclusive range (None: open) and description."""

    kind: Any
    default: Any
    low: float | None
    high: float | None
    description: str


@functools.cache
def _fields(cls: type) -> dict[str, _Field]:
    hints = get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        low, high = f.metadata.get("range") or (None, None)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out[f.name] = _Field(hints[f.name], default, low, high, f.metadata.get("description", ""))
    return out


def section_configs(section: str) -> tuple[type, ...]:
    """The config classes whose nodes read params section ``section`` (empty: none of ours)."""
    if section == SHARED:
        return tuple(NODE_CONFIGS.values())
    if section in NODE_CONFIGS:
        return (NODE_CONFIGS[section],)
    return (RobotConfig,) if _ROBOT_SECTION.fullmatch(section) else ()


def _closest(name: str, choices: list[str]) -> str:
    """The fix for an unknown ``name``: the closest of ``choices``, else all of them."""
    best = difflib.get_close_matches(name, choices, n=1)
    if best:
        return f"did you mean {best[0]!r}?"
    return "use one of " + ", ".join(sorted(choices))


def _owners(section: str, key: str) -> list[type]:
    classes = [c for c in section_configs(section) if key in _fields(c)]
    if not classes and section == "task_allocator" and key in FORECASTER_KEYS:
        classes = [ForecasterConfig]
    return classes


def check_sections(sections: Mapping[object, object], source: str, prefix: str = "") -> None:
    """Check params ``sections`` (section -> {parameter: value}) read from ``source``; ``prefix``
    is where they are in the file (``params.`` in a scenario). Raises an InputError naming
    ``source`` and ``prefix + section.key`` for an unknown section or key or a bad value."""
    for section, params in sections.items():
        if not isinstance(section, str) or not section_configs(section):
            raise InputError(source, f"unknown node section {section!r}", where=f"{prefix}{section}",
                             fix=_closest(str(section), [*NODE_CONFIGS, SHARED]))
        if not isinstance(params, Mapping):
            raise InputError(source, f"section {section!r} must map parameters to values", where=f"{prefix}{section}",
                             fix="e.g. {parameter: value}")
        for key, value in params.items():
            where = f"{prefix}{section}.{key}"
            if key in ROS_PARAMETERS or (isinstance(key, str) and key.startswith("qos_overrides")):
                continue
            owners = _owners(section, key) if isinstance(key, str) else []
            if not owners:
                known = sorted({k for c in section_configs(section) for k in _fields(c)} | ROS_PARAMETERS)
                what = "any node" if section == SHARED else section
                raise InputError(source, f"{key!r} is not a parameter of {what}", where=where,
                                 fix=_closest(str(key), known))
            for cls in owners:
                check_value(cls, key, value, source, where)


def check_value(cls: type, key: str, value: object, source: str, where: str = "") -> None:
    """Refuse ``value`` for parameter ``key`` of config class ``cls`` unless it has the declared
    type, is finite and lies in the declared range; the error names ``source`` and ``where``."""
    f = _fields(cls)[key]
    items = value if isinstance(value, list) else [value]
    if not _typed(f.kind, value):
        raise InputError(source, f"{value!r} is not {_TYPE_NAMES.get(f.kind, f.kind)} ({f.description})",
                         where=where, fix=f"give {_TYPE_NAMES.get(f.kind, f.kind)} like {f.default!r}")
    if any(isinstance(v, float) and not math.isfinite(v) for v in items):
        raise InputError(source, f"{value!r} is not a finite number ({f.description})", where=where,
                         fix=f"give a finite number like {f.default!r}")
    if f.kind is int and not _INT64[0] <= value <= _INT64[1]:  # what a ROS integer parameter holds
        raise InputError(source, f"{value!r} does not fit a 64-bit integer ({f.description})", where=where,
                         fix=f"give an integer like {f.default!r}")
    if f.kind in (int, float) and ((f.low is not None and value < f.low) or (f.high is not None and value > f.high)):
        span = (f"from {f.low} to {f.high}" if f.low is not None and f.high is not None
                else f"at least {f.low}" if f.low is not None else f"at most {f.high}")
        raise InputError(source, f"{value!r} is out of range ({f.description})", where=where,
                         fix=f"give a value {span}")


def _typed(kind: Any, value: object) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float, str):
        number = (int, float) if kind is float else kind
        return isinstance(value, number) and not isinstance(value, bool)
    if kind in (list[str], list[float], list[int]):
        item = kind.__args__[0]
        return isinstance(value, list) and all(_typed(item, v) for v in value)
    return False


def as_declared(sections: dict) -> None:
    """Integers given for number (double) parameters become floats, in place: ROS refuses an
    INTEGER value for a DOUBLE parameter, where a config or a scenario means the same number."""
    for section, params in sections.items():
        for key, value in list(params.items()):
            owners = _owners(section, key)
            if owners and all(_fields(c)[key].kind is float for c in owners) and _typed(int, value):
                params[key] = float(value)
            elif owners and all(_fields(c)[key].kind == list[float] for c in owners) and isinstance(value, list):
                params[key] = [float(v) for v in value]

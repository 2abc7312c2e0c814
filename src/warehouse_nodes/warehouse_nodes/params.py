"""Declare a node's parameters once, from a typed dataclass, and read them back into it.

Every node keeps its settings in one frozen dataclass (:mod:`warehouse_nodes.configs`): field
names are the parameter names, the dataclass defaults are the parameter defaults, and each field
made with :func:`param` carries its description and range, so ``ros2 param describe`` explains
it. The YAML files in ``config/`` (keyed by node name, ``ros__parameters``) set values for a
deployment; a value there that differs from the default is marked ``# override:`` with its
reason (tests/test_config_single_source.py holds them to it).

A node reads its settings once, at start, into the frozen dataclass: every parameter is declared
read-only, so that ``ros2 param set`` on a running node fails loudly instead of changing a value
nothing reads again.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, TypeVar, get_type_hints

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from warehouse_core.errors import InputError

T = TypeVar("T")
_ARRAYS = {list[str]: Parameter.Type.STRING_ARRAY, list[float]: Parameter.Type.DOUBLE_ARRAY,
           list[int]: Parameter.Type.INTEGER_ARRAY}
_INT64 = (-(2**63), 2**63 - 1)
_FIX = "correct the value in the config YAML or the -p override"


def param(default: Any, description: str, *, low: float | None = None, high: float | None = None) -> Any:
    """A field of a typed node config: its default, what it means (units first, as ``[s]``) and,
    where one exists, its inclusive range ``low`` .. ``high`` (one side may be open)."""
    meta = {"description": description, "range": None if low is None and high is None else (low, high)}
    if isinstance(default, list):
        items = tuple(default)
        return dataclasses.field(default_factory=lambda: list(items), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (a KeyError names an unknown field)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def shared_fields(source: object, target: type) -> dict[str, Any]:
    """The values of ``source`` for every field of dataclass ``target`` that ``source`` also has,
    as keyword arguments: ``OpsConfig(**shared_fields(cfg, OpsConfig))``."""
    return {f.name: getattr(source, f.name) for f in dataclasses.fields(target) if hasattr(source, f.name)}


@dataclasses.dataclass(frozen=True)
class _Declaration:
    """How one field is declared: its type, default and descriptor (built once per config class)."""

    name: str
    kind: Any
    default: Any
    descriptor: ParameterDescriptor


def descriptor(kind: Any, meta: Any) -> ParameterDescriptor:
    """The read-only ParameterDescriptor of a field of type ``kind`` with :func:`param` metadata."""
    desc = ParameterDescriptor(description=meta.get("description", ""), read_only=True)
    bounds = meta.get("range")
    if bounds is not None and kind is float:
        low, high = (-math.inf if bounds[0] is None else bounds[0]), (math.inf if bounds[1] is None else bounds[1])
        desc.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    elif bounds is not None and kind is int:
        low, high = (_INT64[0] if bounds[0] is None else bounds[0]), (_INT64[1] if bounds[1] is None else bounds[1])
        desc.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    return desc


@functools.cache
def declarations(cls: type) -> tuple[_Declaration, ...]:
    """The declarations of config class ``cls``, computed once per process: a robot container
    declares the same config for hundreds of nodes, which then share the descriptors (rclpy only
    writes the parameter's own name and type into them, the same for every robot)."""
    hints = get_type_hints(cls)
    return tuple(_Declaration(f.name, hints[f.name], default_of(cls, f.name), descriptor(hints[f.name], f.metadata))
                 for f in dataclasses.fields(cls))


def declare_config(node: Node, cls: type[T]) -> T:
    """Declare every field of dataclass ``cls`` as a read-only parameter of ``node``; return the values."""
    values = {}
    for d in declarations(cls):
        where = f"parameter {node.get_fully_qualified_name()}.{d.name}"
        if node.has_parameter(d.name):
            value = node.get_parameter(d.name).value
        else:
            # list fields are declared by type: an empty default cannot tell ROS the type
            declared = _ARRAYS.get(d.kind, d.default)
            try:
                value = node.declare_parameter(d.name, declared, d.descriptor).value
            except InvalidParameterTypeException as exc:
                raise InputError(where, f"expected a {d.kind.__name__} like {d.default!r}: {exc}", fix=_FIX) from None
            except InvalidParameterValueException as exc:
                raise InputError(where, f"{exc} ({d.descriptor.description})", fix=_FIX) from None
            if d.kind in _ARRAYS:
                value = list(d.default) if value is None else list(value)
        if d.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if d.kind in (int, float) and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                       or (isinstance(value, float) and not math.isfinite(value))):
            raise InputError(where, f"expected a finite {d.kind.__name__}, got {value!r}", fix=_FIX)
        values[d.name] = value
    return cls(**values)

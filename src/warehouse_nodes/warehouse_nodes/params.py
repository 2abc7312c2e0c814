"""Declare a node's parameters once, from a typed dataclass, and read them back into it.

Every node keeps its settings in one frozen dataclass; field names are the parameter names
(dots for groups are not used), defaults are the dataclass defaults, and the YAML files in
``config/`` (keyed by node name, ``ros__parameters``) override them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TypeVar, get_type_hints

from rclpy.exceptions import InvalidParameterTypeException
from rclpy.node import Node
from rclpy.parameter import Parameter

from warehouse_core.errors import InputError

T = TypeVar("T")
_ARRAYS = {list[str]: Parameter.Type.STRING_ARRAY, list[float]: Parameter.Type.DOUBLE_ARRAY,
           list[int]: Parameter.Type.INTEGER_ARRAY}


def declare_config(node: Node, cls: type[T]) -> T:
    """Declare every field of dataclass ``cls`` as a parameter of ``node``; return the values."""
    hints = get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kind = hints[f.name]
        if node.has_parameter(f.name):
            value = node.get_parameter(f.name).value
        elif kind in _ARRAYS:
            # list fields are declared by type: an empty default cannot tell ROS the type
            value = node.declare_parameter(f.name, _ARRAYS[kind]).value
            value = list(default) if value is None else list(value)
        else:
            try:
                value = node.declare_parameter(f.name, default).value
            except InvalidParameterTypeException as exc:
                raise InputError(f"parameter {node.get_fully_qualified_name()}.{f.name}",
                                 f"expected a {kind.__name__} like {default!r}: {exc}",
                                 fix="correct the value in the config YAML or the -p override") from None
        if kind is float and isinstance(value, int):
            value = float(value)
        if kind in (int, float) and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                     or (isinstance(value, float) and not math.isfinite(value))):
            raise InputError(f"parameter {node.get_fully_qualified_name()}.{f.name}",
                             f"expected a finite {kind.__name__}, got {value!r}",
                             fix="correct the value in the config YAML or the -p override")
        values[f.name] = value
    return cls(**values)

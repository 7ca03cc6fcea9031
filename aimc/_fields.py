"""Declarative, validated configuration fields.

Every configuration class of aimc is a frozen dataclass whose fields are declared with :func:`spec`:
the meaning, unit, allowed values and range live next to the field, and one generic check
(:func:`validate_fields`) refuses bad values at construction with a message that names the full dotted
path of the field and what is allowed. Nothing is clipped or ignored silently. A number's range
(``minimum``, ``maximum``) is the physically meaningful one, stated in the field's ``doc`` too; for a list
field it applies to every entry.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["ConfigError", "UnknownName", "field_doc", "spec", "validate_fields"]


class UnknownName(KeyError):
    """A name that no registry holds (a mapping, an ADC range policy, a device law). The message names the
    field and what is allowed; the command line reports it in one line, while any other KeyError is a bug
    and keeps its traceback."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(ValueError):
    """An invalid configuration value. The message names the field and what is allowed."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def spec(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    kind: type | tuple[type, ...] | None = None,
    choices: tuple[Any, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    allow_inf: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare a configuration field with its documentation and its validation rule."""
    meta = {
        "doc": doc,
        "kind": kind,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "allow_inf": allow_inf,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_doc(cls: type, name: str) -> str:
    """The documentation string declared for field ``name`` of a configuration class."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get("doc", "")
    raise KeyError(name)


def _describe_range(meta: dict) -> str:
    lo, hi = meta["minimum"], meta["maximum"]
    low = "" if lo is None else (f"> {lo}" if meta["exclusive_minimum"] else f">= {lo}")
    high = "" if hi is None else f"<= {hi}"
    inf = " (inf allowed)" if meta["allow_inf"] else ""
    return " and ".join(p for p in (low, high) if p) + inf


def _check_number(path: str, value: Any, meta: dict) -> None:
    kind = meta["kind"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"must be a number ({_describe_range(meta) or 'any'}), got {value!r}")
    if kind is int and not isinstance(value, int):
        raise ConfigError(path, f"must be an integer, got {value!r}")
    if math.isnan(value):
        raise ConfigError(path, f"must be a number, got NaN (allowed: {_describe_range(meta) or 'any'})")
    if math.isinf(value) and not (meta["allow_inf"] and value > 0):
        raise ConfigError(path, f"must be finite ({_describe_range(meta)}), got {value!r}")
    lo, hi = meta["minimum"], meta["maximum"]
    too_low = lo is not None and (value <= lo if meta["exclusive_minimum"] else value < lo)
    too_high = hi is not None and value > hi
    if too_low or too_high:
        raise ConfigError(path, f"must be {_describe_range(meta)}, got {value!r}")


def _finite_numbers(value: Any) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )


def _check_tuple(path: str, value: Any, meta: dict) -> None:
    """A list of finite numbers, each inside the field's range (the range applies to every element)."""
    if not _finite_numbers(value):
        raise ConfigError(path, f"must be a list of finite numbers, got {value!r}")
    lo, hi = meta["minimum"], meta["maximum"]
    outside = [v for v in value if (lo is not None and v < lo) or (hi is not None and v > hi)]
    if outside:
        raise ConfigError(path, f"every entry must be {_describe_range(meta)}, got {outside[0]!r}")


def validate_fields(obj: Any, path: str = "") -> None:
    """Check every declared field of ``obj`` against its spec; raise :class:`ConfigError` on the first bad one."""
    for f in dataclasses.fields(obj):
        meta = f.metadata
        if "doc" not in meta:
            continue
        value = getattr(obj, f.name)
        where = f"{path}.{f.name}" if path else f.name
        if meta["choices"] is not None:
            if value not in meta["choices"]:
                allowed = ", ".join(str(c) for c in meta["choices"])
                raise ConfigError(where, f"must be one of {allowed}; got {value!r}")
            continue
        kind = meta["kind"]
        if kind in (int, float):
            _check_number(where, value, meta)
        elif kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(where, f"must be true or false, got {value!r}")
        elif kind is tuple:
            _check_tuple(where, value, meta)

"""The sympy derivations of :mod:`aimc.theory.symbolic`, kept on disk so that a command neither re-derives
them nor imports sympy to evaluate them.

One JSON file per derivation in ``<cache folder>/derivations/`` (:func:`cache_folder`: ``$AIMC_CACHE``, else
``$XDG_CACHE_HOME/aimc``, else ``~/.cache/aimc``). An entry is keyed by what defines its result: the source
text of the modules that define the derivation and of this module (:func:`sources_digest`), the installed
sympy's release file (another sympy may simplify to another form), the derivation's name and its arguments. A changed definition
therefore changes the key and is derived afresh; stale entries are never read.

Safety: an entry is written whole to a temporary file and moved into place (:func:`aimc.results.atomic_file`),
so a concurrent reader sees a complete old or new file, never a partial one, and two writers of one key
write the same content. On load the stored key must equal the expected one and the stored checksum must be
the SHA-256 of the payload; an entry that fails either check, or does not parse, is derived again and
replaced. A folder that cannot be written only costs the time of deriving.

A numeric function is stored as the source text :func:`sympy.lambdify` generated and, for every global name
that text uses, the module attribute it was bound to (``numpy.exp``, ``scipy.special.erf``): compiling that
text with those bindings gives the same function, operation for operation, without sympy.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from aimc.results import atomic_file

__all__ = ["cache_folder", "cached_payload", "compile_function", "function_payload", "sources_digest"]

_BINDING_MODULES = ("numpy", "scipy.special")
"""Where the names of a lambdified function's text are looked up (numpy first, as lambdify binds them)."""


def cache_folder() -> Path:
    """``$AIMC_CACHE``, else ``$XDG_CACHE_HOME/aimc``, else ``~/.cache/aimc``."""
    explicit = os.environ.get("AIMC_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "aimc"


@cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sympy_release() -> str:
    """The installed sympy's release file, found without importing sympy."""
    spec = importlib.util.find_spec("sympy")
    if spec is None or not spec.submodule_search_locations:
        return "no sympy"
    return _file_digest(str(Path(next(iter(spec.submodule_search_locations))) / "release.py"))


def sources_digest(modules: Sequence[str]) -> str:
    """SHA-256 over the source files of the (imported) ``modules`` and the installed sympy's release."""
    parts = [f"{name}:{_file_digest(sys.modules[name].__file__)}" for name in sorted(modules)]
    return hashlib.sha256("\n".join([*parts, f"sympy:{_sympy_release()}"]).encode()).hexdigest()


def _checksum(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _entry_key(name: str, arguments: Any, modules: Sequence[str]) -> str:
    text = json.dumps([name, arguments, sources_digest([*modules, __name__])], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _load(path: Path, key: str) -> Any | None:
    """The payload stored at ``path`` when it is complete and made for ``key``, else None."""
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "payload" not in entry:
        return None
    return entry["payload"] if entry.get("checksum") == _checksum(entry["payload"]) else None


def _store(path: Path, key: str, payload: Any) -> None:
    try:
        with atomic_file(path) as handle:
            json.dump({"key": key, "checksum": _checksum(payload), "payload": payload}, handle)
    except OSError:
        pass  # a read-only or full disk: the derivation is simply not kept


def cached_payload(
    name: str,
    arguments: Any,
    modules: Sequence[str],
    derive: Callable[[], Any],
    check: Callable[[Any], bool] = lambda payload: True,
) -> Any:
    """The JSON payload of derivation ``name(arguments)``, defined by the source of ``modules``: read from the
    cache when a valid entry exists (and ``check(payload)`` holds), else ``derive()``d and stored."""
    key = _entry_key(name, arguments, modules)
    path = cache_folder() / "derivations" / f"{name}-{key[:40]}.json"
    payload = _load(path, key)
    if payload is not None and check(payload):
        return payload
    payload = derive()
    _store(path, key, payload)
    return payload


def _binding(value: Any, name: str) -> str | float:
    """Where lambdify's global ``name`` comes from: ``module.attribute``, or the number itself."""
    if isinstance(value, float):
        return value
    for module_name in _BINDING_MODULES:
        if getattr(importlib.import_module(module_name), name, None) is value:
            return f"{module_name}.{name}"
    raise ValueError(f"lambdified name {name!r} is not an attribute of {', '.join(_BINDING_MODULES)}")


def function_payload(function: Callable) -> dict:
    """The generated source of a lambdified ``function`` and the binding of every global name it reads."""
    import inspect

    code = function.__code__
    names = {n: _binding(function.__globals__[n], n) for n in code.co_names if n in function.__globals__}
    return {"source": inspect.getsource(function), "function": code.co_name, "names": names}


def compile_function(payload: dict) -> Callable:
    """The function of a :func:`function_payload`, compiled with its bindings (no sympy needed)."""
    namespace: dict[str, Any] = {}
    for name, binding in payload["names"].items():
        if isinstance(binding, str):
            module_name, attribute = binding.rsplit(".", 1)
            binding = getattr(importlib.import_module(module_name), attribute)
        namespace[name] = binding
    exec(compile(payload["source"], f"<aimc derivation {payload['function']}>", "exec"), namespace)  # noqa: S102
    return namespace[payload["function"]]

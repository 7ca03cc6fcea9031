"""A fuzz test of the command line: random ``--set`` paths and values, random malformed ``--config`` and
``--layer`` files. Every outcome must be a valid result (exit 0, every number finite) or a one-line refusal
(exit 2, ``aimc <command>: error: ...``): never a traceback, an uncaught exception or a nan."""

from __future__ import annotations

import contextlib
import io
import json
import math
import string
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aimc.cli import main
from aimc.scheme import Scheme, _meta_for

PATHS = Scheme.paths()
LAYER_SHAPE = {"outputs": 8, "inputs": 40, "vectors": 3}
"""A small layer: fast enough for many examples, large enough for two partitions at a few rows."""

NUMBERS = st.one_of(
    st.integers(-5, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-12, 0.01, 0.5, 1.0, 2.0, 10.0, 10.5, 1e3, 1e50, -1.0]),
)
WORDS = st.one_of(
    st.sampled_from(["none", "state_independent", "state_proportional", "polynomial", "table", "offset",
                     "differential", "unit_column", "digital", "analog", "range", "zero", "calibrated", "aligned",
                     "granular", "max", "optimal", "gate_bitline", "row_column", "global", "inf", "true", "false",
                     "[0.1, 0.2]", "[0, 1]", "[]", "", "nan", "-inf", "1e400"]),
    st.text(string.printable, max_size=12),
)
VALUES = st.one_of(NUMBERS.map(str), WORDS)
SETS = st.lists(st.tuples(st.sampled_from(PATHS + ["no.such.field", "adc", ""]), VALUES), max_size=4)


def _in_range(path: str) -> st.SearchStrategy:
    """Values of a field inside its declared range (or among its choices)."""
    meta = _meta_for(path)
    if meta.get("choices") is not None:
        return st.sampled_from([str(c) for c in meta["choices"]])
    low = meta.get("minimum") if meta.get("minimum") is not None else -1e3
    high = meta.get("maximum") if meta.get("maximum") is not None else low + 1e3
    if meta.get("kind") is int:
        return st.integers(int(low), int(min(high, low + 64))).map(str)
    if meta.get("kind") is float:
        return st.floats(low, high, exclude_min=bool(meta.get("exclusive_minimum"))).map(repr)
    return st.just("true") if meta.get("kind") is bool else st.just("[]")


IN_RANGE_SETS = st.lists(st.sampled_from(PATHS).flatmap(lambda path: st.tuples(st.just(path), _in_range(path))),
                         max_size=4)
"""Settings each inside its field's range: refused only by a rule across fields, never a nan or a traceback."""


def _layer(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    path = folder / "layer.npz"
    np.savez(path, weights=rng.laplace(0, 0.02, (LAYER_SHAPE["outputs"], LAYER_SHAPE["inputs"])),
             inputs=np.maximum(rng.standard_normal((LAYER_SHAPE["vectors"], LAYER_SHAPE["inputs"])), 0))
    return path


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def check_outcome(command: str, code: int, out: str, err: str) -> None:
    if code == 0:
        result = json.loads(out)  # bare NaN or Infinity would parse; _finite refuses them
        assert _finite(result), result
        assert math.isfinite(result["relative_rms"]) and result["relative_rms"] >= 0
    else:
        assert code == 2, (code, err)
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"aimc {command}: error: "), err


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
"""Derandomised so that a run on a clean checkout is reproducible; the cases random runs found are kept below."""
NEAR_ONE_ON_OFF = [("device.on_off", "1.0000000000000002")]
"""Found by a random run: g_min one ulp below 1 once made the exact symbolic 1 - g_min zero."""


@FUZZ
@given(sets=st.one_of(SETS, IN_RANGE_SETS))
@example(sets=NEAR_ONE_ON_OFF)
def test_estimate_with_random_settings(tmp_path_factory, sets):
    layer = _layer(tmp_path_factory.mktemp("layer"))
    argv = ["estimate", "--layer", str(layer), "--json", "--no-progress"]
    argv += [a for path, value in sets for a in ("--set", f"{path}={value}")]
    check_outcome("estimate", *run(argv))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sets=st.one_of(SETS, IN_RANGE_SETS))
@example(sets=NEAR_ONE_ON_OFF)
def test_simulate_with_random_settings(tmp_path_factory, sets):
    layer = _layer(tmp_path_factory.mktemp("layer"))
    argv = ["simulate", "--layer", str(layer), "--json", "--trials", "2"]
    argv += [a for path, value in sets for a in ("--set", f"{path}={value}")]
    check_outcome("simulate", *run(argv))


ARRAYS = st.one_of(
    st.sampled_from(["float", "int", "complex", "bool", "text", "object", "empty", "nan", "3d", "wide"]),
)


def _array(kind: str, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(1)
    base = rng.standard_normal(shape)
    return {
        "float": base, "int": (base * 100).astype(np.int64), "complex": base * (1 + 1j), "bool": base > 0,
        "text": np.array([["a"] * shape[1]] * shape[0]), "object": np.array([[None] * shape[1]] * shape[0]),
        "empty": np.zeros((0, shape[1])), "nan": np.full(shape, np.nan), "3d": base[None],
        "wide": rng.standard_normal((shape[0], shape[1] + 1)),
    }[kind]


@FUZZ
@given(weights=ARRAYS, inputs=ARRAYS, raw=st.one_of(st.none(), st.binary(max_size=64)))
def test_malformed_layer_files(tmp_path_factory, weights, inputs, raw):
    path = tmp_path_factory.mktemp("malformed") / "layer.npz"
    if raw is not None:
        path.write_bytes(raw)
    else:
        arrays = {"weights": _array(weights, (8, 40)), "inputs": _array(inputs, (3, 40))}
        np.savez(path, **arrays)
    for command in ("estimate", "simulate"):
        argv = [command, "--layer", str(path), "--json"] + (["--trials", "2"] if command == "simulate" else [])
        check_outcome(command, *run(argv))


@FUZZ
@given(text=st.one_of(st.text(max_size=80), st.dictionaries(st.sampled_from(["adc", "weights", "device", "x"]),
                                                             st.one_of(st.integers(), st.text(max_size=5),
                                                                       st.dictionaries(st.text(max_size=8),
                                                                                       st.integers())),
                                                             max_size=3).map(json.dumps)))
def test_malformed_config_files(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("config")
    path = folder / "scheme.json"
    path.write_text(text)
    check_outcome("estimate", *run(["estimate", "--config", str(path), "--layer", str(_layer(folder)), "--json",
                                     "--no-progress"]))

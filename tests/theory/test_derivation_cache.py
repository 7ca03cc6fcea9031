"""The on-disk cache of the sympy derivations: the same results as deriving, re-derived when a definition
changes, never a wrong result from a damaged or stale entry."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import sympy as sp
from aimc.theory import derivation_cache, symbolic

from aimc import Scheme
from aimc.devices import DEVICE_LAWS, replace_law
from aimc.mapping import SliceLayout


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, and empty in-memory caches of the derivations."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("AIMC_CACHE", str(folder))
    for function in (symbolic.censored_standard_moment, symbolic._standard_moment_fn, symbolic.drift_moment_expression,
                     symbolic._drift_fn, symbolic._squared_law_polynomial, symbolic.conversion_scales):
        function.cache_clear()
    yield folder
    for function in (symbolic.censored_standard_moment, symbolic._standard_moment_fn, symbolic.drift_moment_expression,
                     symbolic._drift_fn, symbolic._squared_law_polynomial, symbolic.conversion_scales):
        function.cache_clear()


def _entries(folder):
    return sorted((folder / "derivations").glob("*.json"))


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path / "explicit"))
    assert derivation_cache.cache_folder() == tmp_path / "explicit"
    monkeypatch.delenv("AIMC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert derivation_cache.cache_folder() == tmp_path / "xdg" / "aimc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert derivation_cache.cache_folder() == tmp_path / "home" / ".cache" / "aimc"


def test_stored_derivations_equal_fresh_ones(cache):
    """Expressions read back are the derived expressions; compiled functions give the same floats, bit for bit,
    as sympy.lambdify of the derived expression (fails for a printer or binding that changes a number)."""
    rng = np.random.default_rng(0)
    lo = rng.uniform(-40, 40, 2000)
    hi = lo + rng.uniform(0, 40, 2000)
    s = symbolic._symbols()
    fresh = {n: symbolic._censored_standard_moment(n) for n in (1, 2, 3)}
    first = {n: symbolic._standard_moment_fn(n)(lo, hi) for n in fresh}
    assert len(_entries(cache)) == 3
    symbolic.censored_standard_moment.cache_clear()
    symbolic._standard_moment_fn.cache_clear()
    for n, expr in fresh.items():
        assert symbolic.censored_standard_moment(n) == expr
        direct = sp.lambdify((s.a, s.b), expr, modules=["numpy", "scipy"])(lo, hi)
        assert np.array_equal(symbolic._standard_moment_fn(n)(lo, hi), direct)
        assert np.array_equal(first[n], direct)
    log_ratio = np.log(np.linspace(1.0, 1e6, 50))
    for k in (1, 2):
        expr = symbolic._drift_moment_expression(k)
        assert symbolic.drift_moment_expression(k) == expr
        direct = sp.lambdify((s.nu_mean, s.nu_std, s.log_t), expr, modules=["numpy"])(0.05, 0.02, log_ratio)
        assert np.array_equal(symbolic._drift_fn(k)(0.05, 0.02, log_ratio), direct)


def test_numeric_derivations_read_back_unchanged(cache):
    layout = SliceLayout.from_scheme(Scheme().with_overrides({"weights.bits": 9, "weights.slices": 4}))
    model = Scheme().with_overrides({"device.read_noise.model": "sonos-2022", "device.read_noise.alpha": 1.0}).device
    scales = symbolic.conversion_scales(layout)
    poly = symbolic._squared_law_polynomial(model.read_noise, model.g_min)
    assert poly is None  # 1 - exp(-g/B) squared is not a polynomial in g
    stored = {p.name.split("-")[0] for p in _entries(cache)}
    assert stored == {"conversion_scales", "squared_law_polynomial"}
    symbolic.conversion_scales.cache_clear()
    symbolic._squared_law_polynomial.cache_clear()
    assert np.array_equal(symbolic.conversion_scales(layout), scales)
    assert np.array_equal(scales, np.array(symbolic._derive_conversion_scales(layout)))
    assert symbolic._squared_law_polynomial(model.read_noise, model.g_min) is None
    proportional = Scheme().with_overrides({"device.read_noise.model": "state_proportional",
                                            "device.read_noise.alpha": 0.03}).device.read_noise
    assert symbolic._squared_law_polynomial(proportional, 0.0) == pytest.approx((0.0, 0.0, 0.03**2), abs=1e-18)


def _module_in(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_a_changed_definition_is_derived_again(cache, tmp_path, monkeypatch):
    module = _module_in(tmp_path, "aimc_test_definition", "VALUE = 1\n")
    monkeypatch.setitem(sys.modules, "aimc_test_definition", module)
    calls = []

    def derive():
        calls.append(1)
        return {"value": len(calls)}

    assert derivation_cache.cached_payload("probe", [1], ["aimc_test_definition"], derive) == {"value": 1}
    assert derivation_cache.cached_payload("probe", [1], ["aimc_test_definition"], derive) == {"value": 1}
    assert len(calls) == 1
    assert derivation_cache.cached_payload("probe", [2], ["aimc_test_definition"], derive) == {"value": 2}
    (tmp_path / "aimc_test_definition.py").write_text("VALUE = 2\n")
    derivation_cache._file_digest.cache_clear()
    assert derivation_cache.cached_payload("probe", [1], ["aimc_test_definition"], derive) == {"value": 3}


@pytest.mark.parametrize("damage", ["truncated", "payload", "checksum", "key", "not json", "empty"])
def test_a_damaged_entry_is_never_used(cache, damage):
    """Each kind of damage is caught by the key or the checksum: the payload is derived again and the entry
    replaced (fails if a damaged entry were read: its value would come back)."""
    derivation_cache.cached_payload("probe", [0], ["aimc.theory.symbolic"], lambda: {"value": 1.5})
    (path,) = _entries(cache)
    entry = json.loads(path.read_text())
    text = {
        "truncated": path.read_text()[:-7],
        "payload": json.dumps({**entry, "payload": {"value": 99.0}}),
        "checksum": json.dumps({**entry, "checksum": "0" * 64}),
        "key": json.dumps({**entry, "key": "f" * 64}),
        "not json": "\x00\x01 garbage",
        "empty": "",
    }[damage]
    path.write_text(text)
    assert derivation_cache.cached_payload("probe", [0], ["aimc.theory.symbolic"], lambda: {"value": 2.5}) == {
        "value": 2.5}
    assert json.loads(path.read_text())["payload"] == {"value": 2.5}


def test_concurrent_writers_and_a_killed_writer_leave_a_valid_entry(cache):
    """Threads racing on one key all get the derived value; a temporary file left by a writer killed mid-write
    is never read as the entry."""
    results = []

    def work():
        results.append(derivation_cache.cached_payload("race", [0], ["aimc.theory.symbolic"], lambda: {"v": [1.0, 2.0]}))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"v": [1.0, 2.0]}] * 8
    (path,) = _entries(cache)
    (path.parent / f".{path.name}.partial.tmp").write_text('{"key": "')
    assert derivation_cache.cached_payload("race", [0], ["aimc.theory.symbolic"], lambda: {"v": [3.0]}) == {
        "v": [1.0, 2.0]}


def test_an_unwritable_cache_only_costs_the_derivation(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AIMC_CACHE", str(blocker))
    assert derivation_cache.cached_payload("probe", [0], ["aimc.theory.symbolic"], lambda: {"v": 1}) == {"v": 1}


def test_a_law_the_key_cannot_describe_is_not_stored(cache, monkeypatch):
    """A published law is keyed by its function in aimc.devices; one registered at run time from other code
    (here a closure) is derived every time, never read from an entry another law wrote."""
    law = DEVICE_LAWS["sonos-2022"]
    model = Scheme().with_overrides({"device.read_noise.model": "sonos-2022", "device.read_noise.alpha": 1.0})
    assert symbolic._law_definition(model.device.read_noise) == ["_sonos_2022", "1600.0"]
    scale = 2.0
    monkeypatch.setitem(DEVICE_LAWS, "sonos-2022", replace_law(law, sigma_physical=lambda i, ops: scale * i))
    assert symbolic._law_definition(model.device.read_noise) is None
    poly = symbolic._squared_law_polynomial(model.device.read_noise, model.device.g_min)
    assert poly == pytest.approx((0.0, 0.0, 4.0))
    assert _entries(cache) == []


def test_a_warm_estimate_imports_no_sympy(cache):
    """With the derivations stored, ``aimc estimate`` evaluates them without importing sympy."""
    code = ("import sys, io, contextlib; from aimc.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['estimate', '--no-progress'])\n"
            "print('sympy' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(2)]
    assert runs == ["True", "False"]

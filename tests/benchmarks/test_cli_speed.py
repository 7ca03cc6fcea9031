"""The cold-start benchmark times what it says: a cold run finds an empty derivation cache, a warm run one that
an earlier run filled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cli_speed.py"


def _module():
    spec = importlib.util.spec_from_file_location("cli_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cold_runs_get_empty_caches_and_warm_runs_a_filled_one(tmp_path, monkeypatch):
    module = _module()
    seen = []

    def fake_run(arguments, cache):
        seen.append((cache, cache.exists() and any(cache.iterdir())))
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "entry").write_text("derived")
        return 0.25 * len(seen), 0.1

    monkeypatch.setattr(module, "run_once", fake_run)
    cold = module.measure("estimate", ["estimate"], "cold", 3, tmp_path)
    assert [filled for _, filled in seen] == [False, False, False]
    assert len({cache for cache, _ in seen}) == 3
    seen.clear()
    warm = module.measure("estimate", ["estimate"], "warm", 3, tmp_path)
    assert [filled for _, filled in seen] == [False, True, True, True]  # one filling run, then three timed
    assert len({cache for cache, _ in seen}) == 1
    assert cold["runs"] == [0.25, 0.5, 0.75] and cold["median"] == 0.5 and cold["target"] == 1.0
    assert warm["runs"] == [0.5, 0.75, 1.0] and warm["met"] is True  # the filling run (0.25 s) is not timed

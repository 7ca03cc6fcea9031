"""The MVM sweep's machinery: design, atomic resumable CSV, summary, plots and the CLI (small points)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from aimc.validation import mvm
from aimc.validation.mvm import (
    LayerSpec,
    ResultsTable,
    SweepPoint,
    run_sweep,
    summarize,
    sweep_points,
)

from aimc.cli import main

TINY = LayerSpec(outputs=16, fan_in=144, vectors=4)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _points():
    base = {**mvm.SWEEP_BASE, "array.rows": 72, "device.programming.model": "state_independent",
            "device.programming.alpha": 0.01}
    return [
        SweepPoint("base", "base", "differential/state_independent", base, chips=32, max_chips=64),
        SweepPoint("ofat", "parasitics", "differential/ideal",
                   {**mvm.SWEEP_BASE, "array.rows": 72, "adc.bits": 0, "parasitics.r": 1e-4}),
    ]


def test_design_covers_the_factors():
    points = sweep_points()
    keys = [p.key(mvm.SWEEP_LAYER) for p in points]
    assert len(keys) == len(set(keys))
    schemes = [p.scheme() for p in points]
    assert {mvm.scheme_label(s) for s in schemes} >= {"differential", "two-sided", "offset, digital",
                                                      "offset, unit column"}
    assert {s.array.rows for s in schemes} >= set(mvm.ROWS)
    assert {s.adc.bits for s in schemes} >= {0, *mvm.ADC_BITS}
    assert {s.adc.range for s in schemes if s.adc.bits} >= {"max", "granular", "calibrated", "optimal"}
    assert {s.device.on_off for s in schemes} >= {10.0, 100.0, 1000.0, float("inf")}
    assert {s.parasitics.r for s in schemes} >= set(mvm.R_VALUES)
    assert {s.device.programming.model for s in schemes} >= {"state_independent", "state_proportional",
                                                             *mvm.device_presets()}
    for err, alphas in mvm.ALPHAS.items():
        assert {s.device.programming.alpha for s in schemes if s.device.programming.model == err} >= set(alphas)
    assert {s.weights.slices for s in schemes if s.mapping.kind == "offset"} >= {1, 2, 4, 8}
    quick = {p.key(mvm.SWEEP_LAYER) for p in sweep_points(quick=True)}
    assert quick and quick <= set(keys)


def test_sweep_writes_resumes_and_summarises(tmp_path, monkeypatch):
    out = tmp_path / "mvm"
    summary = run_sweep(out, points=_points(), layer=TINY, progress=False)
    assert summary["points"] == 2 and summary["errors"] == []
    with open(out / "mvm.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["design"] for r in rows] == ["base", "ofat"]
    assert all(float(r["theory_sigma"]) > 0 and float(r["mc_sigma"]) > 0 for r in rows)
    assert (out / "identity.png").stat().st_size > 0 and (out / "ratio_regimes.png").stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".mvm-")]  # no temporary file left

    def fail(*args, **kwargs):
        raise AssertionError("a finished point was recomputed")

    monkeypatch.setattr(mvm, "compare", fail)
    again = run_sweep(out, points=_points(), layer=TINY, progress=False, plots=False)
    assert again["points"] == 2


def test_failed_point_is_recorded_and_retried(tmp_path, monkeypatch):
    out = tmp_path / "mvm"

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(mvm, "compare", broken)
    summary = run_sweep(out, points=_points()[:1], layer=TINY, progress=False, plots=False)
    assert summary["points"] == 0 and "boom" in summary["errors"][0]["error"]
    monkeypatch.undo()
    summary = run_sweep(out, points=_points()[:1], layer=TINY, progress=False, plots=False)
    assert summary["points"] == 1 and summary["errors"] == []


def test_table_keeps_rows_of_other_designs(tmp_path):
    table = ResultsTable(tmp_path / "t.csv")
    table.add({"key": "a", "index": 1, "theory_sigma": 0.1})
    table.add({"key": "b", "index": 0, "error_message": "x"})
    again = ResultsTable(tmp_path / "t.csv")
    assert again.finished("a") and not again.finished("b")
    assert [r["key"] for r in again.rows.values()] == ["b", "a"]  # written in design order


def test_summary_worst_deviation_counts_only_points_that_should_agree():
    def row(key, ratio, within, reason=""):
        return {"key": key, "deviation": abs(ratio - 1), "ratio": ratio, "within_tolerance": str(within).lower(),
                "expected": str(not reason).lower(), "reason": reason, "judged_by": "tolerance", "mapping": "m",
                "error_message": ""}

    s = summarize([row("a", 1.01, True), row("b", 0.8, False, "documented"), row("c", 1.02, True)])
    assert s["points"] == 3 and s["should_agree"] == 2
    assert s["worst_deviation"] == pytest.approx(0.02)
    assert s["worst_deviation_all"] == pytest.approx(0.2)
    assert [o["key"] for o in s["outside"]] == ["b"] and s["outside"][0]["reason"] == "documented"


def test_cli_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mvm, "sweep_points", lambda quick=False: _points())
    monkeypatch.setattr(mvm, "SWEEP_LAYER", TINY)
    code = main(["validate", "mvm", "--quick", "--out", str(tmp_path), "--json", "--no-progress", "--no-plots"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["points"] == 2 and "worst_deviation" in result and isinstance(result["outside"], list)


def test_cli_refuses_bad_workers(capsys):
    assert main(["validate", "mvm", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err

"""The MVM sweep's machinery: design, atomic resumable CSV (also under concurrent runs), summary, the plots
drawn from its CSV, and the CLI (small points)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from aimc.figures import run_figure
from aimc.validation import sweep
from aimc.validation.comparison import LayerSpec, scheme_label
from aimc.validation.sweep import SweepPoint, run_sweep, summarize, sweep_points, sweep_table

from aimc.cli import main

TINY = LayerSpec(outputs=16, fan_in=144, vectors=4)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _points():
    base = {**sweep.SWEEP_BASE, "array.rows": 72, "device.programming.model": "state_independent",
            "device.programming.alpha": 0.01}
    return [
        SweepPoint("base", "base", "differential/state_independent", base, chips=32, max_chips=64),
        SweepPoint("ofat", "parasitics", "differential/ideal",
                   {**sweep.SWEEP_BASE, "array.rows": 72, "adc.bits": 0, "parasitics.r": 1e-4}),
    ]


def test_design_covers_the_factors():
    points = sweep_points()
    keys = [p.key(sweep.SWEEP_LAYER) for p in points]
    assert len(keys) == len(set(keys))
    schemes = [p.scheme() for p in points]
    assert {scheme_label(s) for s in schemes} >= {"differential", "two-sided", "offset, digital",
                                                      "offset, unit column"}
    assert {s.array.rows for s in schemes} >= set(sweep.ROWS)
    assert {s.adc.bits for s in schemes} >= {0, *sweep.ADC_BITS}
    assert {s.adc.range for s in schemes if s.adc.bits} >= {"max", "granular", "calibrated", "optimal"}
    assert {s.device.on_off for s in schemes} >= {10.0, 100.0, 1000.0, float("inf")}
    assert {s.parasitics.r for s in schemes} >= set(sweep.R_VALUES)
    assert {s.device.programming.model for s in schemes} >= {"state_independent", "state_proportional",
                                                             *sweep.device_presets()}
    for err, alphas in sweep.ALPHAS.items():
        assert {s.device.programming.alpha for s in schemes if s.device.programming.model == err} >= set(alphas)
    assert {s.weights.slices for s in schemes if s.mapping.kind == "offset"} >= {1, 2, 4, 8}
    quick = {p.key(sweep.SWEEP_LAYER) for p in sweep_points(quick=True)}
    assert quick and quick <= set(keys)


def test_sweep_writes_resumes_and_summarises(tmp_path, monkeypatch):
    out = tmp_path / "mvm"
    summary = run_sweep(out, points=_points(), layer=TINY, progress=False)
    assert summary["points"] == 2 and summary["errors"] == []
    with open(out / "mvm.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["design"] for r in rows] == ["base", "ofat"]
    assert all(float(r["theory_sigma"]) > 0 and float(r["mc_sigma"]) > 0 for r in rows)
    assert [p.name for p in out.iterdir()] == ["mvm.csv"]  # no plot, no temporary file left
    assert summary["plots"] == f"aimc figures mvm_identity mvm_regimes --results {tmp_path}"
    for name in ("mvm_identity", "mvm_regimes"):  # the figures draw the sweep's own CSV, from that folder
        drawn = run_figure(name, out=tmp_path / "figures", results=tmp_path)
        assert drawn["skipped"] is None
        assert drawn["files"] == [str(tmp_path / "figures" / "gallery" / f"{name}.{kind}") for kind in ("png", "pdf")]

    def fail(*args, **kwargs):
        raise AssertionError("a finished point was recomputed")

    monkeypatch.setattr(sweep, "compare", fail)
    again = run_sweep(out, points=_points(), layer=TINY, progress=False)
    assert again["points"] == 2


def test_two_workers_write_the_serial_rows(tmp_path):
    """--workers 2: the points run on a local Dask cluster, this process writes the rows: the same rows."""
    timing = ("seconds_theory", "seconds_mc")
    tables = {}
    for workers in (1, 2):
        run_sweep(tmp_path / str(workers), points=_points(), layer=TINY, workers=workers, progress=False)
        with open(tmp_path / str(workers) / "mvm.csv", newline="") as f:
            tables[workers] = [{k: v for k, v in row.items() if k not in timing} for row in csv.DictReader(f)]
    assert len(tables[1]) == 2 and tables[2] == tables[1]


def test_failed_point_is_recorded_and_retried(tmp_path, monkeypatch):
    out = tmp_path / "mvm"

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sweep, "compare", broken)
    summary = run_sweep(out, points=_points()[:1], layer=TINY, progress=False)
    assert summary["points"] == 0 and "boom" in summary["errors"][0]["error"]
    monkeypatch.undo()
    summary = run_sweep(out, points=_points()[:1], layer=TINY, progress=False)
    assert summary["points"] == 1 and summary["errors"] == []


def test_table_keeps_rows_of_other_designs(tmp_path):
    table = sweep_table(tmp_path / "t.csv")
    table.add({"key": "a", "index": 1, "theory_sigma": 0.1})
    table.add({"key": "b", "index": 0, "error_message": "x"})
    again = sweep_table(tmp_path / "t.csv")
    assert again.finished("a") and not again.finished("b")
    assert [r["key"] for r in again.rows.values()] == ["b", "a"]  # written in design order
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == ",".join(sweep.CSV_COLUMNS)


def test_rerun_renumbers_finished_rows_to_its_design_order(tmp_path, monkeypatch):
    def instant(point, layer, device):
        return {"key": point.key(layer), "error_message": ""}

    monkeypatch.setattr(sweep, "run_point", instant)
    points = _points()
    run_sweep(tmp_path, points=points[1:], layer=TINY, progress=False)  # the second point alone: index 0
    run_sweep(tmp_path, points=points, layer=TINY, progress=False)
    rows = list(sweep_table(tmp_path / "mvm.csv").rows.values())
    assert [(r["key"], r["index"]) for r in rows] == [(p.key(TINY), str(i)) for i, p in enumerate(points)]


def _sweep_into(folder: str, writer: int, count: int, start) -> None:
    """One ``aimc validate mvm`` run of ``count`` points of its own on the shared folder (points answered
    at once, so that the runs' table writes interleave)."""
    def instant(point, layer, device):
        return {"key": point.key(layer), "base": point.base, "error_message": ""}

    sweep.run_point = instant
    points = [SweepPoint("random", "writer", f"writer {writer}", {"array.rows": 72 + 72 * i + writer})
              for i in range(count)]
    start.wait()  # both runs at once
    run_sweep(folder, points=points, layer=TINY, progress=False)


def test_concurrent_runs_on_one_folder_lose_no_row(tmp_path):
    """Two sweeps writing into one folder (two `aimc validate mvm` sharing a GPU) keep every row."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_sweep_into, args=(str(tmp_path), w, 30, start)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    rows = list(sweep_table(tmp_path / "mvm.csv").rows.values())
    expected = [(f"writer {w}", i) for w in range(2) for i in range(30)]
    assert sorted((r["base"], int(r["index"])) for r in rows) == expected
    assert [int(r["index"]) for r in rows] == sorted(int(r["index"]) for r in rows)  # in design order
    assert [p.name for p in tmp_path.iterdir()] == ["mvm.csv"]


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
    monkeypatch.setattr(sweep, "sweep_points", lambda quick=False: _points())
    monkeypatch.setattr(sweep, "SWEEP_LAYER", TINY)
    out = tmp_path / "mvm"
    code = main(["validate", "mvm", "--quick", "--out", str(out), "--json", "--no-progress"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["points"] == 2 and "worst_deviation" in result and isinstance(result["outside"], list)
    assert result["csv"] == str(out / "mvm.csv")
    assert result["plots"] == f"aimc figures mvm_identity mvm_regimes --results {tmp_path}"
    assert main(["validate", "mvm", "--quick", "--out", str(out), "--no-progress"]) == 0  # resumed: no work
    assert f"plots: aimc figures mvm_identity mvm_regimes --results {tmp_path}" in capsys.readouterr().out


def test_cli_refuses_bad_workers(capsys):
    assert main(["validate", "mvm", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err

"""``aimc predict`` end to end on a small network, and ``aimc validate predictor``: rows read from a results
folder (baselines and stale scheme definitions handled), compared on the rows' own image subsets, the
summary's counts and the facts given as reasons."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
from aimc.validation.accuracy import accuracy_for_scheme, scheme_hash
from aimc.validation.data import balanced_subset
from aimc.validation.predictor import cli as predict_cli
from aimc.validation.predictor.core import layer_errors, predict
from aimc.validation.predictor.validate import (
    Subsets,
    compare_rows,
    reason,
    result_rows,
    summarise,
    write_validation,
)

from aimc import Scheme
from aimc.cli import main

NOISY = {"adc.bits": 0, "device.programming.model": "state_independent", "device.programming.alpha": 0.03}


def _write_rows(path, rows):
    fields = sorted({k for r in rows for k in r})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _row(experiment, point, scheme, images, accuracy):
    return {"experiment": experiment, "point": point, "scheme_json": scheme.to_json(), "calibration_images": 60,
            "scheme_hash": scheme_hash(scheme), "images": images, "seed": 0, "accuracy_mean": accuracy,
            "accuracy_std": 0.01}


def test_rows_are_read_and_compared_on_their_own_images(tmp_path, net, profile, compounding):
    """A row of 200 images is predicted on the same balanced subset ``--images 200`` simulates; the
    baselines file is not a sweep; a row that failed is skipped."""
    folder = tmp_path / "small"
    folder.mkdir()
    scheme = Scheme().with_overrides(NOISY)
    simulated = accuracy_for_scheme(net, scheme, chips=4, seed=3, progress=False, with_baselines=False)
    _write_rows(folder / "sweep.csv", [_row("sweep", "noisy", scheme, net.labels.shape[0],
                                             simulated["accuracy_mean"]),
                                        _row("sweep", "noisy 200", scheme, 200, 0.5),
                                        {**_row("sweep", "failed", scheme, 200, ""), "error_message": "boom"}])
    _write_rows(folder / "baselines.csv", [{"model": "small", "accuracy_mean": 0.9}])
    rows = result_rows(tmp_path, "small")
    assert [r.point for r in rows] == ["noisy", "noisy 200"]
    compared = compare_rows(rows, Subsets(profile, compounding), calibration_images=60)
    whole = predict(profile, scheme, compounding).accuracy
    subset = profile.subset(np.array(balanced_subset(profile.labels, 200, 0)))
    part = predict(subset, scheme, compounding.subset(np.array(balanced_subset(profile.labels, 200, 0)))).accuracy
    assert compared[0]["predicted"] == pytest.approx(whole)
    assert compared[1]["predicted"] == pytest.approx(part)
    assert compared[1]["error"] == pytest.approx(part - 0.5)
    assert compared[0]["predicted_linear"] <= profile.digital_accuracy + 1e-9
    assert abs(compared[0]["error"]) <= 0.06  # a 300-image network: whole images of 1/300, chips far apart
    other = compare_rows(rows[:1], Subsets(profile, compounding), calibration_images=500)
    assert other[0]["reason"].startswith("not compared: simulated with 60 calibration images")
    write_validation(compared, tmp_path / "out" / "small.csv")
    with open(tmp_path / "out" / "small.csv") as handle:
        assert [r["point"] for r in csv.DictReader(handle)] == ["noisy", "noisy 200"]


def test_a_changed_scheme_definition_is_refused(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    row = _row("sweep", "noisy", Scheme().with_overrides(NOISY), 100, 0.5)
    _write_rows(folder / "sweep.csv", [{**row, "scheme_hash": "0123456789abcdef"}])
    with pytest.raises(ValueError, match="--results: row 1 of .* has scheme hash 0123456789abcdef"):
        result_rows(tmp_path, "small")
    with pytest.raises(FileNotFoundError, match="--results: no folder"):
        result_rows(tmp_path, "other")


def test_summary_counts():
    """Targets are judged on simulated > 50 % only; a collapse is caught when predicted below 25 %."""
    rows = [{"simulated": s, "predicted": p, "predicted_linear": q, "seconds": 0.1}
            for s, p, q in ((0.60, 0.605, 0.62), (0.55, 0.52, 0.56), (0.05, 0.20, 0.40), (0.08, 0.30, 0.02),
                            (0.30, 0.35, 0.31))]
    rows.append({"simulated": 0.4, "reason": "refused: adc.bits"})
    rows.append({"simulated": 0.4, "reason": "not compared: simulated with 20 calibration images"})
    s = summarise(rows)
    assert (s["points"], s["predicted"], s["refused"], s["not_compared"]) == (7, 5, 1, 1)
    assert s["compounded"]["within_target_high"] == "1/2"
    assert s["linear"]["within_target_high"] == "1/2"
    assert s["compounded"]["collapses_caught"] == "1/2"
    assert s["linear"]["collapses_caught"] == "1/2"
    assert s["compounded"]["mean_error_high"] == pytest.approx((0.005 - 0.03) / 2)
    assert s["compounded"]["spearman"] == pytest.approx(1.0)


def test_reasons_state_extrapolation_and_gains(profile, compounding):
    """Noise beyond the strongest injection and a gain outside the measured grid are named as facts."""
    huge = Scheme().with_overrides({**NOISY, "device.programming.alpha": 3.0, "device.clip": "none"})
    errors = layer_errors(profile, huge)
    facts = reason(profile, errors, compounding, predict(profile, huge, compounding))
    assert "kappa extrapolated" in facts and "collapse predicted" in facts and "programming 100 %" in facts
    clipped = Scheme().with_overrides({**NOISY, "device.programming.alpha": 2.0})
    facts = reason(profile, layer_errors(profile, clipped), compounding, predict(profile, clipped, compounding))
    assert f"outside the measured {compounding.gains[0]:g}-{compounding.gains[-1]:g}" in facts
    ideal = Scheme().with_overrides({"adc.bits": 0})
    assert reason(profile, layer_errors(profile, ideal), compounding, predict(profile, ideal, compounding)) == ""


def test_predict_command_end_to_end(monkeypatch, tmp_path, net):
    """``aimc predict --json``: every documented key, the compounded and first-order predictions, and the
    one-time step cached for the second scheme."""
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(predict_cli, "check_network_arguments", lambda *a, **k: None)
    monkeypatch.setattr(predict_cli, "load_network", lambda *a, **k: net)
    results = []
    for alpha in ("0.06", "0.12"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["predict", "--json", "--no-progress", "--batch-size", "100", "--set", "adc.bits=0",
                         "--set", "device.programming.model=state_independent",
                         "--set", f"device.programming.alpha={alpha}"])
        assert code == 0
        results.append(json.loads(out.getvalue()))
    first, second = results
    for key in ("accuracy_predicted", "accuracy_spread", "accuracy_linear", "baseline_quantized", "images",
                "by_source", "by_layer", "seconds"):
        assert key in first
    assert first["images"] == net.labels.shape[0]
    assert second["accuracy_predicted"] < first["accuracy_predicted"] < first["baseline_quantized"]
    assert list(first["by_source"]) == ["programming"] and first["by_source"]["programming"] > 0
    assert (first["one_time_step"]["cached"], second["one_time_step"]["cached"]) == (False, True)


def test_search_grid_costs_and_front():
    """The grid is every combination; a combination the vocabulary refuses keeps the field; the costs follow
    the layout; the front keeps exactly the undominated schemes."""
    from aimc.validation.predictor.search import Candidate, costs, evaluate, grid, pareto_front

    base = Scheme().with_overrides({"adc.bits": 8, "array.rows": 144, "inputs.slice_bits": 1,
                                    "inputs.accumulation": "digital"})
    candidates = grid(base, {"adc.bits": ["6", "8"], "weights.slices": ["1", "2", "8"]})
    assert len(candidates) == 6
    refused = [c for c in candidates if c.refused]
    assert {c.settings["weights.slices"] for c in refused} == {"8"} and "weights.slices" in refused[0].refused
    two = costs(base.with_overrides({"weights.slices": 2}))
    # differential: 2 arrays per slice, one conversion per slice (the subtraction in analog) or two
    layout_conversions = two["conversions_per_mac"] * 144 / (2 * 8)
    assert layout_conversions in (1, 2) and two["cells_per_weight"] == 4 and two["adc_bits"] == 8
    assert costs(base.with_overrides({"adc.bits": 0}))["conversions_per_mac"] == 0.0

    accuracy = {("6", "1"): 0.50, ("6", "2"): 0.58, ("8", "1"): 0.55, ("8", "2"): 0.54}
    evaluate(candidates, lambda s: (accuracy[(str(s.adc.bits), str(s.weights.slices))], 0.01))
    front = pareto_front([c for c in candidates if c.predicted])
    # 8-bit 2-slice (0.54) is dominated by 6-bit 2-slice (0.58, fewer bits, same conversions and cells)
    assert {(c.settings["adc.bits"], c.settings["weights.slices"]) for c in front} == {("6", "1"), ("6", "2"),
                                                                                       ("8", "1")}
    tie = [Candidate({"a": "1"}, None, accuracy=0.5, cost={"conversions_per_mac": 1, "adc_bits": 8,
                                                           "cells_per_weight": 2}) for _ in range(2)]
    assert len(pareto_front(tie)) == 2  # equal schemes do not dominate each other


def test_search_command(monkeypatch, tmp_path, net):
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(predict_cli, "check_network_arguments", lambda *a, **k: None)
    monkeypatch.setattr(predict_cli, "load_network", lambda *a, **k: net)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["search", "--json", "--no-progress", "--batch-size", "100", "--min-accuracy", "0.5",
                     "--set", "adc.bits=0", "--set", "device.programming.model=state_independent",
                     "--vary", "device.programming.alpha=0.02,0.3", "--vary", "weights.slices=1,2",
                     "--verify", "1", "--chips", "2"])
    assert code == 0
    result = json.loads(out.getvalue())
    assert result["schemes"] == 4
    assert all(c["accuracy_predicted"] >= 0.5 for c in result["front"])
    assert all(c["settings"]["device.programming.alpha"] == "0.02" for c in result["front"])
    verified = result["front"][0]  # simulated on the network the one-time step was measured on
    assert abs(verified["accuracy_simulated"] - verified["accuracy_predicted"]) <= 0.06
    assert all(c["accuracy_simulated"] is None for c in result["front"][1:])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["search", "--min-accuracy", "0.5", "--vary", "adc.bits"]) == 2
    assert "--vary: expected PATH=V1,V2" in err.getvalue()


def test_validate_predictor_command_prints_the_predictor_summary(monkeypatch, tmp_path, capsys):
    """The summary's own "target" (the tolerance) must not replace the command's target: it sent the
    summary to the MVM sweep's formatter, which failed on a key only that sweep has."""
    from aimc.validation.predictor import validate

    from aimc.cli import main

    method = {"within_target_high": "9/10", "mean_error_high": 0.004, "collapses_caught": "1/1", "spearman": 0.97}
    summary = {"model": "m", "points": 11, "refused": 0, "csv": str(tmp_path / "m.csv"), "target": 0.015,
               "high": 0.5, "compounded": method, "linear": method}
    monkeypatch.setattr(validate, "run_predictor_validation", lambda *a, **k: dict(summary))
    assert main(["validate", "predictor", "--results", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "predictor against 11 simulated points of m" in out and "within 1.5 points" in out

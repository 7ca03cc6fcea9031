"""The figures package: quick runs of every computed figure into a temporary folder, the physics they must
show, resumption, the plot-only figures with and without CSVs, and the command line."""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import pytest
from aimc.figures import (
    FIGURES,
    _base,
    _mvm,
    adc_bits,
    adc_histogram,
    bit_slicing,
    conductance,
    error_budget,
    figure_module,
    mapping_error,
    run_figure,
)
from aimc.figures.cli import run_figures

from aimc.cli import main


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Data, gallery and validation-results folders in a temporary directory."""
    monkeypatch.setattr(_base, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(_base, "GALLERY_DIR", tmp_path / "gallery")
    monkeypatch.setattr(_base, "RESULTS_DIR", tmp_path / "results")
    return tmp_path


def shared_model_or_skip() -> None:
    from aimc.validation.models import shared_file

    try:
        shared_file("models", "resnet50_tinyimagenet.pt")
        shared_file("data", "tinyimagenet-calibration-500.zip")
    except FileNotFoundError as e:
        pytest.skip(f"shared model or data absent ({e}); set AIMC_SHARED to run the network figures")


def rows_of(name: str) -> list[dict]:
    return _base.read_rows(_base.data_path(name, quick=True))


def png_written(name: str, suffix: str = "") -> None:
    """The PNG and the vector PDF beside it."""
    path = _base.gallery_path(name, quick=True, suffix=suffix)
    assert path.is_file() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def with_pdfs(*pngs) -> list[str]:
    """The files a figure run lists: each PNG, then its PDF."""
    return [str(f) for png in pngs for f in (png, Path(png).with_suffix(".pdf"))]


def pick(table, **match) -> dict:
    sel = [r for r in table if all(r[k] == str(v) for k, v in match.items())]
    assert len(sel) == 1, (match, len(sel))
    return sel[0]


def value(row: dict, key: str) -> float:
    return _base.number(row, key)


# ---------------------------------------------------------------------------------------------------------
# computed figures
# ---------------------------------------------------------------------------------------------------------


def test_mapping_error_offset_is_worse_and_monte_carlo_agrees(dirs):
    result = run_figure("mapping_error", quick=True, progress=False)
    assert result["computed"] and result["skipped"] is None
    rows = rows_of("mapping_error")
    assert len(rows) == len(mapping_error.points(quick=True)) == 24
    for r in rows:
        theory, mc = value(r, "theory_relative_rms"), value(r, "mc_relative_rms")
        assert theory > 0 and mc > 0
        assert value(r, "mc_ci_low") <= mc <= value(r, "mc_ci_high")
        assert mc == pytest.approx(theory, rel=0.3)  # 2 chips of a small layer
    for model, alpha in (("state_independent", 0.005), ("state_proportional", 0.05)):
        for bits in (0, 8):
            err = {m: value(pick(rows, error_model=model, alpha=alpha, mapping=m, adc_bits=bits),
                            "theory_relative_rms") for m in mapping_error.MAPPINGS}
            # offset carries sqrt(2) (state-independent) or ~10x (state-proportional) the differential error;
            # the unit column adds its own, shared by every column
            assert err["offset"] > (5 if model == "state_proportional" else 1.3) * err["differential"]
            assert err["offset, unit column"] > err["offset"]
    small = pick(rows, error_model="state_proportional", alpha=0.05, mapping="differential", adc_bits=0)
    large = pick(rows, error_model="state_proportional", alpha=0.2, mapping="differential", adc_bits=0)
    assert value(large, "theory_relative_rms") == pytest.approx(4 * value(small, "theory_relative_rms"), rel=0.1)
    png_written("mapping_error")


def test_rerun_skips_finished_points_and_resumes_missing_ones(dirs, monkeypatch):
    mapping_error.compute(quick=True, progress=False)
    path = _base.data_path("mapping_error", quick=True)
    before = path.read_text()
    calls = []
    real = _mvm.evaluate

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(_mvm, "evaluate", counting)
    mapping_error.compute(quick=True, progress=False)
    assert calls == [] and path.read_text() == before
    rows = _base.read_rows(path)
    with path.open("w", newline="") as handle:  # drop one finished point, as if interrupted before it
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:-1])
    mapping_error.compute(quick=True, progress=False)
    assert len(calls) == 1
    assert len(_base.read_rows(path)) == len(rows)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_bit_slicing_reproduces_the_derived_ratios(dirs):
    run_figure("bit_slicing", quick=True, progress=False)
    rows = bit_slicing.ratios(rows_of("bit_slicing"))
    assert len(rows) == len(bit_slicing.points(quick=True)) == 24

    def ratio(series, bpc, model="state_independent", clip="none", key="theory_ratio"):
        return next(r[key] for r in rows if r["series"] == series and r["bits_per_cell"] == str(bpc)
                    and r["error_model"] == model and r["clip"] == clip)

    for bpc, expected in bit_slicing.PAPER_FULL_SLICE_RATIO.items():  # full slices: a small benefit
        assert ratio("differential, 9-bit weights", bpc) == pytest.approx(expected, abs=0.02)
        assert ratio("offset, 8-bit weights", bpc) == pytest.approx(expected, abs=0.02)
    assert ratio("differential, 8-bit weights", 2) > 1.3  # under-used top slices: worse than unsliced
    assert ratio("differential, 8-bit weights", 4) > 1.3
    for bpc in (1, 2, 4):  # state-proportional: at most a small benefit
        assert 0.6 < ratio("differential, 9-bit weights", bpc, "state_proportional") < 1.0
    assert all(math.isfinite(r["mc_ratio"]) and r["mc_ratio"] > 0 for r in rows)
    png_written("bit_slicing")


def test_adc_bits_theory_is_exact_for_ideal_devices_and_offset_needs_more_bits(dirs):
    run_figure("adc_bits", quick=True, progress=False)
    rows = rows_of("adc_bits")
    assert len(rows) == len(adc_bits.points(quick=True)) == 20
    for r in rows:
        if r["device"] == "ideal":  # deterministic: the closed form is the simulation
            assert value(r, "theory_relative_rms") == pytest.approx(value(r, "mc_relative_rms"), rel=1e-6)
    for device in ("ideal", "SONOS"):
        for n_rows in adc_bits.ROWS:
            err = {(m, b): value(pick(rows, device=device, mapping=m, rows=n_rows, adc_bits=b), "theory_relative_rms")
                   for m in adc_bits.MAPPINGS for b in adc_bits.QUICK_BITS}
            for b in adc_bits.QUICK_BITS:
                assert err["offset", b] > 3 * err["differential", b]
            assert err["differential", 4] > err["differential", 8]
    sonos = pick(rows, device="SONOS", mapping="differential", rows=1152, adc_bits=8)
    no_adc = pick(rows, device="SONOS", mapping="differential", rows=1152, adc_bits=0)
    assert value(sonos, "theory_relative_rms") < adc_bits.SETTLED * value(no_adc, "theory_relative_rms")
    png_written("adc_bits")


def test_error_budget_shares_add_up_and_design_e_is_dominated_by_its_unit_column(dirs):
    run_figure("error_budget", quick=True, progress=False)
    rows = rows_of("error_budget")
    assert [(r["preset"], r["cells"]) for r in rows] == [(p["preset"], p["cells"]) for p in error_budget.points(True)]
    assert len(rows) == len(error_budget.QUICK_PRESETS) + 2
    from aimc.theory import SOURCES

    for r in rows:
        assert sum(value(r, f"share_{s}") for s in SOURCES) == pytest.approx(1.0, abs=1e-9)
    design = {(r["preset"], r["cells"]): r for r in rows}
    assert value(design["design-e", "preset"], "share_unit_column") > 0.5
    assert value(design["design-a", "preset"], "share_programming") > 0.9
    assert value(design["design-e", "preset"], "relative_rms") > 5 * value(design["design-a", "preset"], "relative_rms")
    for name in ("design-a", "design-e"):  # ideal cells: the ADC (and unit-column conversion) alone, smaller
        ideal = design[name, "ideal"]
        assert value(ideal, "share_programming") == 0
        assert 0 < value(ideal, "relative_rms") < value(design[name, "preset"], "relative_rms")
    png_written("error_budget")


def test_conductance_differential_cells_sit_near_gmin_and_offset_near_mid(dirs):
    shared_model_or_skip()
    run_figure("conductance", quick=True, progress=False)
    rows = rows_of("conductance")
    assert len(rows) == len(conductance.SCHEMES) * (conductance.QUICK_LAYERS + 1)
    network = {r["scheme"]: value(r, "mean_g") for r in rows if r["layer"] == "network"}
    assert network["differential, unsliced (7 b/cell)"] < 0.2 * network["offset, unsliced (8 b/cell)"]
    for label, (kind, slices) in conductance.SCHEMES.items():
        assert 0 < network[label] < 1
        if kind == "offset":
            assert network[label] == pytest.approx(0.5, abs=0.06)
        row = next(r for r in rows if r["scheme"] == label and r["layer"] == "network")
        per_slice = [value(row, f"mean_g_slice{k}") for k in range(slices)]
        assert sum(per_slice) / slices == pytest.approx(network[label], rel=1e-9)
    assert network["differential, 1 b/cell"] > network["differential, unsliced (7 b/cell)"]
    png_written("conductance")


def test_adc_histogram_offset_uses_more_of_its_range_and_counts_every_signal(dirs):
    shared_model_or_skip()
    run_figure("adc_histogram", quick=True, progress=False)
    rows = rows_of("adc_histogram")
    assert len(rows) == len(adc_histogram.QUICK_CONFIGS) * 54
    for r in rows:
        assert 0 < value(r, "fraction_of_max") <= 1
        assert 0 < value(r, "fraction_of_observed") <= 1 + 1e-12
    target = {r["config"]: r for r in rows if r["layer"] == adc_histogram.TARGET}
    diff, off = target["differential, ADC per input bit"], target["offset, ADC per input bit"]
    assert value(off, "fraction_of_max") > 3 * value(diff, "fraction_of_max")
    for r in (diff, off):
        assert sum(json.loads(r["hist_counts"])) == int(r["signals"]) > 0
    assert value(diff, "calibrated_low") == -value(diff, "calibrated_high")  # signed: analog subtraction
    assert value(off, "calibrated_low") >= 0  # unsigned: one cell, non-negative inputs
    png_written("adc_histogram")


# ---------------------------------------------------------------------------------------------------------
# plot-only figures
# ---------------------------------------------------------------------------------------------------------


def test_plot_only_figures_are_skipped_with_a_message_without_csvs(dirs):
    for name in ("accuracy_sweeps", "mvm_identity", "mvm_regimes", "predictor_identity"):
        result = run_figure(name, quick=True)
        assert not result["computed"] and result["files"] == []
        assert "no " in result["skipped"] and "CSV" in result["skipped"] and f"aimc figures {name}" in result["skipped"]


def _write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def test_accuracy_sweeps_draws_the_experiment_csvs_present(dirs):
    folder = _base.RESULTS_DIR / "resnet50-tinyimagenet"
    common = {"images": 100, "chips": 2, "baseline_quantized": 0.63}
    _write_csv(folder / "cell-sp-mapping.csv", [
        {"point": f"{m} alpha={a:g}", "accuracy_mean": acc, "accuracy_std": 0.01, **common}
        for m, drop in (("differential", 0.01), ("offset", 0.2)) for a, acc in ((0.02, 0.62 - drop / 4), (0.1, 0.6 - drop))
    ])
    _write_csv(folder / "designs.csv", [
        {"point": p, "accuracy_mean": acc, "accuracy_std": 0.002, **common}
        for p, acc in (("design-a", 0.62), ("design-a ideal cells", 0.63), ("design-e", 0.3))
    ])
    result = run_figure("accuracy_sweeps", quick=True)
    assert result["skipped"] is None
    assert result["files"] == with_pdfs(_base.gallery_path("accuracy_sweeps", True, "-resnet50-tinyimagenet"))
    png_written("accuracy_sweeps", suffix="-resnet50-tinyimagenet")


def test_accuracy_sweeps_keeps_design_variants_and_other_test_set_sizes(dirs):
    from aimc.figures import accuracy_sweeps

    common = {"experiment": "designs", "baseline_quantized": 0.637}
    points = [  # (point, images, chips, mean, std)
        ("design-a", 10000, 5, 0.62804, 0.0014153), ("design-a", 1000, 5, 0.6342, 0.005),
        ("design-a ideal cells", 1000, 1, 0.634, 0.0), ("design-e", 1000, 5, 0.005, 0.0),
        ("design-e ideal cells", 1000, 1, 0.005, 0.0), ("design-e granular ADC", 1000, 5, 0.05, 0.017),
        ("design-e granular ADC ideal cells", 1000, 1, 0.639, 0.0), ("design-e granular ADC", 1000, 2, 0.04, 0.01),
    ]
    path = _base.RESULTS_DIR / "resnet50-tinyimagenet" / "designs.csv"
    _write_csv(path, [{"point": p, "images": n, "chips": c, "accuracy_mean": m, "accuracy_std": s, **common}
                      for p, n, c, m, s in points])
    rows = _base.read_rows(path)
    images, groups = accuracy_sweeps.design_groups(rows)
    assert images == "1000"
    assert [g[0] for g in groups] == ["design-a", "design-e", "design-e (granular ADC)"]
    _, ideal, errors = groups[2]
    assert ideal["point"] == "design-e granular ADC ideal cells" and value(ideal, "accuracy_mean") == 0.639
    assert errors["point"] == "design-e granular ADC" and errors["chips"] == "5"  # the run with most chips
    note = "design-a, 10,000 images (5 chips): 62.80 ± 0.14 % (8-bit digital 63.70 %)"
    assert accuracy_sweeps.design_notes(rows, images) == [note]
    result = run_figure("accuracy_sweeps", quick=True)
    assert result["skipped"] is None
    png_written("accuracy_sweeps", suffix="-resnet50-tinyimagenet")


def _sweep_row(i: int, mapping: str, sigma: float, **columns) -> dict:
    """A finished row of the MVM sweep's CSV, as ``aimc validate mvm`` writes it (booleans as older rows
    spell them, lower case)."""
    return {"key": str(i), "index": i, "design": "ofat", "factor": "adc",
            "base": "differential/state_independent", "mapping": mapping, "error": "state_independent",
            "alpha": 0.01, "on_off": "inf", "rows": 144, "adc_bits": 8, "adc_range": "calibrated", "r": 0.0,
            "expected": "true", "mc_sigma": sigma, "theory_sigma": sigma * 1.01, "mc_ci_low": sigma * 0.98,
            "mc_ci_high": sigma * 1.02, "ratio": 1.01, "within_tolerance": "true", "sigma_analog_lsb": 0.3,
            "r_n_imax": 0.0, "error_message": "", **columns}


SWEEP_ROWS = [
    _sweep_row(0, "differential", 0.05),
    _sweep_row(1, "offset, digital", 0.3, adc_range="max", sigma_analog_lsb=3.0),
    _sweep_row(2, "differential", 0.1, factor="parasitics", r=1e-4, r_n_imax=0.02, ratio=1.2,
               within_tolerance="false", expected="false"),
    _sweep_row(3, "differential", 0.1, factor="clipping", design="grid", on_off=10.0, alpha=0.02),
]


@pytest.mark.parametrize("name", ["mvm_identity", "mvm_regimes"])
def test_mvm_figures_draw_the_validation_csv(dirs, name):
    _write_csv(_base.RESULTS_DIR / "mvm" / "mvm.csv", SWEEP_ROWS)
    result = run_figure(name, quick=True)
    assert result["skipped"] is None and result["files"] == with_pdfs(_base.gallery_path(name, quick=True))
    png_written(name)


def test_predictor_figure_draws_one_image_per_model(dirs):
    rows = [{"experiment": e, "point": str(i), "simulated": s, "predicted": s + d, "predicted_linear": s + 2 * d,
             "error": d, "error_linear": 2 * d}
            for i, (e, s, d) in enumerate((("a", 0.6, 0.01), ("a", 0.3, -0.05), ("b", 0.62, 0.03), ("b", 0.01, 0.2)))]
    rows.append({"experiment": "b", "point": "refused", "simulated": 0.5, "predicted": ""})
    for model in ("net-one", "net-two"):
        _write_csv(_base.RESULTS_DIR / "predictor" / f"{model}.csv", rows)
    result = run_figure("predictor_identity", quick=True)
    assert result["files"] == with_pdfs(*(_base.gallery_path("predictor_identity", True, f"-{m}")
                                          for m in ("net-one", "net-two")))
    assert all(Path(f).stat().st_size > 10_000 for f in result["files"])


def test_mvm_figures_read_a_sweep_folder_given_as_the_results(dirs):
    _write_csv(dirs / "my-sweep" / "mvm.csv", SWEEP_ROWS)  # `aimc validate mvm --out my-sweep`
    result = run_figure("mvm_identity", quick=True, results=dirs / "my-sweep")
    assert result["skipped"] is None
    assert _base.RESULTS_DIR == dirs / "results"  # the folder was set for that run only


def test_figures_are_written_under_out_and_read_results_from_results(tmp_path, monkeypatch, capsys):
    """Nothing goes into the installed package: aimc_figures/ in the current directory, or --out."""
    monkeypatch.chdir(tmp_path)
    assert main(["figures", "error_budget", "--quick", "--no-progress", "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert sorted(files) == ["aimc_figures/data/error_budget.quick.csv",
                             "aimc_figures/gallery/error_budget.quick.pdf",
                             "aimc_figures/gallery/error_budget.quick.png"]
    assert all((tmp_path / f).is_file() for f in files)
    _write_csv(tmp_path / "runs" / "mvm" / "mvm.csv", SWEEP_ROWS)
    argv = ["figures", "error_budget", "mvm_identity", "--quick", "--plot-only", "--out", "elsewhere",
            "--results", "runs"]
    assert main(argv + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"] == ["elsewhere/gallery/mvm_identity.quick.png", "elsewhere/gallery/mvm_identity.quick.pdf"]
    assert "elsewhere/data/error_budget.quick.csv" in result["skipped"]["error_budget"]  # its data is under --out
    assert main(["figures", "mvm_identity", "--quick"]) == 0  # no --results: aimc_results/ holds no sweep
    assert "skipped: mvm_identity: no MVM validation CSV under aimc_results" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# registry and command line
# ---------------------------------------------------------------------------------------------------------


def test_every_registered_figure_documents_itself_and_can_draw():
    for name in FIGURES:
        module = figure_module(name)
        assert module.NAME == name and module.TITLE and len(module.__doc__) > 200
        assert callable(module.plot)


def test_unknown_figure_names_are_refused_with_the_list(dirs, capsys):
    with pytest.raises(ValueError, match="known: mapping_error, bit_slicing"):
        figure_module("nope")
    args = argparse.Namespace(names=["error_budget", "nope"], all=False, quick=True, plot_only=False,
                              no_progress=True, json=False, out=None, results=None)
    with pytest.raises(ValueError, match="unknown figure 'nope'"):
        run_figures(args)
    assert not _base.data_path("error_budget", quick=True).exists()  # refused before any work
    assert main(["figures", "nope"]) == 2
    assert "unknown figure" in capsys.readouterr().err
    assert main(["figures"]) == 2
    assert "--all" in capsys.readouterr().err


def test_cli_json_lists_the_files_written(dirs, capsys):
    assert main(["figures", "error_budget", "--quick", "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["computed"] == ["error_budget"] and result["quick"] is True
    assert sorted(result["files"]) == sorted([str(_base.data_path("error_budget", True)),
                                              *with_pdfs(_base.gallery_path("error_budget", True))])
    assert result["figures"][0]["new_rows"] == len(error_budget.points(quick=True))
    assert main(["figures", "error_budget", "--quick", "--no-progress"]) == 0  # finished: nothing recomputed
    assert "0 new CSV rows, drawn in" in capsys.readouterr().out
    assert main(["figures", "error_budget", "--quick", "--plot-only"]) == 0
    assert "error_budget     drawn in" in capsys.readouterr().out


def test_accuracy_sweeps_pairs_clipped_and_unclipped_points_on_one_test_set_size(dirs):
    from aimc.figures import accuracy_sweeps

    folder = _base.RESULTS_DIR / "resnet50-tinyimagenet"
    base = {"chips": 3, "accuracy_std": 0.02, "baseline_quantized": 0.642}
    clipped = [("differential alpha=0.02", 500, 0.497), ("offset alpha=0.02", 500, 0.564),
               ("differential alpha=0.01", 10000, 0.591), ("offset alpha=0.01", 10000, 0.618),
               ("differential alpha=0.01", 500, 0.60)]  # offset 0.01 missing at 500: no pair there
    unclipped = [("differential alpha=0.02", 500, 0.605), ("offset alpha=0.02", 500, 0.566),
                 ("differential alpha=0.01", 500, 0.62)]
    _write_csv(folder / "cell-si-mapping.csv", [{"point": p, "images": n, "accuracy_mean": m, **base}
                                                for p, n, m in clipped])
    _write_csv(folder / "cell-si-noclip.csv", [{"point": p, "images": n, "accuracy_mean": m, **base}
                                               for p, n, m in unclipped])
    tables = {p.stem: _base.read_rows(p) for p in folder.glob("*.csv")}
    images, groups = accuracy_sweeps.clipping_pairs(tables)
    assert images == "500" and [g[0] for g in groups] == ["alpha = 2 %"]
    cells = groups[0][1]
    assert value(cells[("differential", "clipped")], "accuracy_mean") == 0.497
    assert value(cells[("differential", "unclipped")], "accuracy_mean") == 0.605
    assert value(cells[("offset", "unclipped")], "accuracy_mean") == 0.566
    result = run_figure("accuracy_sweeps", quick=True)
    assert result["skipped"] is None
    png_written("accuracy_sweeps", suffix="-resnet50-tinyimagenet")

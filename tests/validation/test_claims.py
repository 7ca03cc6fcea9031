"""aimc.validation.claims: each verdict rule on synthetic result files (the tie rule, depends, not tested,
contradicted, stale rows, one image count per comparison), the command line, and every claim over the
committed results."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
from aimc.validation.accuracy import scheme_hash
from aimc.validation.claims import (
    CLAIMS,
    REPO_ROOT,
    VERDICTS,
    Measurement,
    across_conventions,
    add_claims_arguments,
    all_of,
    compare,
    evaluate_claims,
    format_claims,
    points_of,
    run_claims,
)
from aimc.validation.experiments import EXPERIMENTS

from aimc.results import current_versions, read_csv, write_csv_atomic
from aimc.scheme import Scheme

MODEL = "resnet50-tinyimagenet"
DIGITAL = 0.64


def _row(experiment: str, label: str, accuracy: float, *, images: int = 10000, std: float = 0.0,
         current: bool = True) -> dict:
    """A result row as aimc experiments writes it (of the current code unless ``current`` is False)."""
    exp = EXPERIMENTS[experiment]
    scheme = exp.scheme(next(p for p in exp.points if p.label == label))
    chips = 1 if exp.deterministic or not scheme.device.random else 5
    row = {"experiment": experiment, "point": label, "model": MODEL, "images": str(images), "seed": "0",
           "calibration_images": "500", "scheme_hash": scheme_hash(scheme), "chips": str(chips),
           "accuracy_mean": repr(accuracy), "accuracy_std": repr(std if chips > 1 else 0.0),
           "accuracies": json.dumps([accuracy] * chips), "baseline_float": repr(DIGITAL),
           "baseline_quantized": repr(DIGITAL), "device": "NVIDIA H200"}
    if current:
        row.update(scheme_json=scheme.to_json(indent=None), **current_versions())
    return row


def _sweep(folder: Path, experiment: str, accuracy, keep=lambda s: True, **kw) -> None:
    """Write every point of ``experiment`` (those ``keep`` keeps) with the accuracy ``accuracy(scheme)``."""
    rows = [_row(experiment, label, accuracy(s), **kw) for label, s, _ in points_of(experiment) if keep(s)]
    path = folder / MODEL / f"{experiment}.csv"
    write_csv_atomic(path, read_csv(path) + rows)


def _claim(folder: Path, claim: str, stale: bool = False) -> dict:
    return next(r for r in evaluate_claims(folder, [MODEL], stale) if r["claim"] == claim)


def _numbers(result: dict) -> str:
    return "\n".join(line for entry in result["evidence"] for line in entry["numbers"])


def _ahead(kind: str, by: float = 0.05):
    """Accuracy of a sweep point: the mapping ``kind`` ahead of the other by ``by``."""
    return lambda s: 0.60 if s.mapping.kind == kind else 0.60 - by


# ---------------------------------------------------------------------------------------------------------
# The tie rule
# ---------------------------------------------------------------------------------------------------------


def _m(accuracy: float, images: int = 10000, std: float = 0.0, chips: int = 1) -> Measurement:
    return Measurement("e", "p", Path("e.csv"), 1, accuracy, std, chips, images, (images, "0", "500", ""),
                       DIGITAL, DIGITAL, Scheme(), True, "3", True)


def _gap_at(factor: float, base: float = 0.6, images: int = 10000) -> float:
    """The difference that is ``factor`` times two standard errors of the difference (fixed point)."""
    d = 0.01
    for _ in range(50):
        d = factor * 2 * math.hypot(_m(base + d, images).se, _m(base, images).se)
    return d


def test_two_accuracies_within_two_standard_errors_are_a_tie():
    assert compare(_m(0.6 + _gap_at(0.97)), _m(0.6)) == 0
    assert compare(_m(0.6 + _gap_at(1.03)), _m(0.6)) == 1
    assert compare(_m(0.6), _m(0.6 + _gap_at(1.03))) == -1
    # the chip-to-chip spread widens the band: a 2-point gap is a ranking over the images alone, a tie with it
    assert compare(_m(0.62), _m(0.60)) == 1
    assert compare(_m(0.62, std=0.05, chips=5), _m(0.60)) == 0
    # fewer images, a wider band
    assert compare(_m(0.62, images=1000), _m(0.60, images=1000)) == 0


def test_mapping_sp_a_tie_everywhere_is_not_a_ranking(tmp_path):
    _sweep(tmp_path, "cell-sp-mapping", _ahead("differential", by=0.002))
    result = _claim(tmp_path, "mapping-sp")
    assert result["verdict"] == "contradicted"
    assert "a tie at 10 of 10 points" in _numbers(result)


def test_mapping_sp_reproduced_when_differential_is_ahead_and_contradicted_when_offset_is_once(tmp_path):
    _sweep(tmp_path, "cell-sp-mapping", _ahead("differential"))
    assert _claim(tmp_path, "mapping-sp")["verdict"] == "reproduced"
    other = tmp_path / "other"
    _sweep(other, "cell-sp-mapping", lambda s: _ahead("offset" if s.device.programming.alpha == 0.02
                                                       else "differential")(s))
    assert _claim(other, "mapping-sp")["verdict"] == "contradicted"


# ---------------------------------------------------------------------------------------------------------
# Conventions: depends, not tested
# ---------------------------------------------------------------------------------------------------------


def test_mapping_si_depends_when_the_clipping_rule_flips_the_winner_even_with_one_convention_missing(tmp_path):
    _sweep(tmp_path, "cell-si-mapping", _ahead("offset"))
    _sweep(tmp_path, "cell-si-noclip", _ahead("differential"))
    result = _claim(tmp_path, "mapping-si")
    assert result["verdict"] == "depends"
    assert result["conditions"]["cell-si-mapping"]["clipping"] == "range"
    assert result["conditions"]["cell-si-noclip"]["clipping"] == "none"


def test_mapping_si_not_tested_while_crosssim_is_missing_then_uses_it(tmp_path):
    _sweep(tmp_path, "cell-si-mapping", _ahead("differential"))
    _sweep(tmp_path, "cell-si-noclip", _ahead("differential"))
    result = _claim(tmp_path, "mapping-si")
    assert result["verdict"] == "not tested"
    [gap] = [e for e in result["evidence"] if e["missing"]]
    assert gap["on"] == "cell-si-crosssim" and "does not exist" in gap["numbers"][0]
    assert gap["commands"][0].startswith(f"aimc experiments run cell-si-crosssim --model {MODEL}")
    # the missing convention's conditions come from the experiment's definition
    assert result["conditions"]["cell-si-crosssim"]["clipping"] == "zero"
    assert result["conditions"]["cell-si-crosssim"]["On/Off"] == "100"

    _sweep(tmp_path, "cell-si-crosssim", _ahead("differential"))
    assert _claim(tmp_path, "mapping-si")["verdict"] == "reproduced"
    write_csv_atomic(tmp_path / MODEL / "cell-si-crosssim.csv", [])
    _sweep(tmp_path, "cell-si-crosssim", _ahead("offset"))
    assert _claim(tmp_path, "mapping-si")["verdict"] == "depends"


def _fig17_paper(s: Scheme) -> float:
    """Offset near-ideal only with small arrays and fine slices (the paper's Fig. 17); far elsewhere."""
    return DIGITAL if s.array.rows <= 144 and s.bits_per_slice <= 2 else 0.50


def test_fig17_offset_uses_the_paper_configuration_and_the_other_convention(tmp_path):
    _sweep(tmp_path, "adc-rows", lambda s: DIGITAL, images=2000)  # offset near-ideal everywhere
    result = _claim(tmp_path, "fig17-offset")
    assert result["verdict"] == "not tested"
    [gap] = [e for e in result["evidence"] if e["missing"]]
    assert "aimc experiments run adc-rows-input-bits" in gap["commands"][0] and "--images 2000" in gap["commands"][0]
    [other] = [e for e in result["evidence"] if e["on"] == "adc-rows"]
    assert other["verdict"] == "contradicted"  # 4 bits per cell at 1152 rows is near-ideal: "only" is wrong

    _sweep(tmp_path, "adc-rows-input-bits", _fig17_paper, images=2000)
    result = _claim(tmp_path, "fig17-offset")
    assert result["verdict"] == "depends"
    assert "an ADC conversion per input slice" in result["conditions"]["adc-rows-input-bits"]["input accumulation"]
    assert "one conversion" in result["conditions"]["adc-rows"]["input accumulation"]
    [paper] = [e for e in result["evidence"] if e["on"] == "adc-rows-input-bits"]
    assert paper["verdict"] == "reproduced"


def test_fig17_offset_contradicted_when_4_bit_cells_are_near_ideal_at_1152_rows(tmp_path):
    _sweep(tmp_path, "adc-rows-input-bits",
           lambda s: DIGITAL if (s.array.rows, s.bits_per_slice) == (1152, 4) else _fig17_paper(s), images=2000)
    [entry] = [e for e in _claim(tmp_path, "fig17-offset")["evidence"] if e["on"] == "adc-rows-input-bits"]
    assert entry["verdict"] == "contradicted"
    assert "near-ideal with more than 2 bits per cell: 4 b/cell at 1152 rows" in entry["numbers"]


def test_a_partial_fig17_sweep_contradicts_only_with_a_counterexample(tmp_path):
    """Points not run yet cannot undo a near-ideal point beyond the bounds, but they can undo a reproduction:
    a partial sweep is contradicted by a counterexample (near-ideal as measured, not only within 2 SE) and
    otherwise not tested, never reproduced."""
    small = lambda s: s.array.rows <= 144  # the sweep's first points only
    _sweep(tmp_path, "adc-rows-input-bits", _fig17_paper, keep=small, images=2000)
    [entry] = [e for e in _claim(tmp_path, "fig17-offset")["evidence"]
               if e["on"] == "adc-rows-input-bits" and not e["missing"]]
    assert entry["verdict"] == "not tested" and "none of them contradicts the claim yet" in entry["numbers"][0]

    write_csv_atomic(tmp_path / MODEL / "adc-rows-input-bits.csv", [])
    _sweep(tmp_path, "adc-rows-input-bits", lambda s: DIGITAL, keep=small, images=2000)  # 8 b/cell near-ideal
    result = _claim(tmp_path, "fig17-offset")
    [entry] = [e for e in result["evidence"] if e["on"] == "adc-rows-input-bits" and not e["missing"]]
    assert entry["verdict"] == "contradicted" and entry["numbers"][0].startswith("8 of 20 points run")

    write_csv_atomic(tmp_path / MODEL / "adc-rows-input-bits.csv", [])  # 2 points below digital: within 2 SE
    _sweep(tmp_path, "adc-rows-input-bits", lambda s: DIGITAL - 0.02, keep=small, images=1000)
    [entry] = [e for e in _claim(tmp_path, "fig17-offset")["evidence"]
               if e["on"] == "adc-rows-input-bits" and not e["missing"]]
    assert entry["verdict"] == "not tested"
    [gap] = [e for e in result["evidence"] if e["on"] == "adc-rows-input-bits" and e["missing"]]
    assert "12 of the adc-rows-input-bits points" in gap["numbers"][0]


def test_design_e_depends_on_the_adc_range_rule(tmp_path):
    accuracy = {"design-a": 0.63, "design-e": 0.005, "design-e granular ADC": 0.62, "design-e aligned ADC": 0.01}
    _sweep(tmp_path, "designs", lambda s: 0.63, keep=lambda s: False)  # the file, empty
    rows = [_row("designs", label, value, images=1000) for label, value in accuracy.items()]
    write_csv_atomic(tmp_path / MODEL / "designs.csv", rows)
    result = _claim(tmp_path, "design-e-below-a")
    assert result["verdict"] == "depends"
    by_rule = {e["on"]: e["verdict"] for e in result["evidence"]}
    assert by_rule == {"designs: design-e": "reproduced", "designs: design-e granular ADC": "contradicted",
                       "designs: design-e aligned ADC": "reproduced"}
    assert result["conditions"]["designs: design-e granular ADC"]["ADC range"] == "granular"


# ---------------------------------------------------------------------------------------------------------
# Bit slicing
# ---------------------------------------------------------------------------------------------------------


def _prone(s: Scheme) -> float:
    """Cells far from ideal from alpha = 1 % on."""
    return 0.50 if s.device.programming.alpha >= 0.01 else DIGITAL


def _slicing(folder: Path, unsliced, sliced) -> None:
    _sweep(folder, "cell-si-mapping", unsliced)
    _sweep(folder, "cell-si-slices", sliced)


def test_slicing_that_rescues_error_prone_cells_contradicts_both_slicing_claims(tmp_path):
    _slicing(tmp_path, _prone, lambda s: DIGITAL if s.bits_per_slice == 1 else _prone(s))
    assert _claim(tmp_path, "slicing-no-rescue-si")["verdict"] == "contradicted"
    assert _claim(tmp_path, "slicing-benefit-si")["verdict"] == "contradicted"


def test_slicing_that_does_not_rescue_reproduces_both_and_no_error_prone_point_is_untested(tmp_path):
    _slicing(tmp_path, _prone, lambda s: _prone(s) + 0.005)
    assert _claim(tmp_path, "slicing-no-rescue-si")["verdict"] == "reproduced"
    assert _claim(tmp_path, "slicing-benefit-si")["verdict"] == "reproduced"
    ideal = tmp_path / "ideal"
    _slicing(ideal, lambda s: DIGITAL, lambda s: DIGITAL)
    assert _claim(ideal, "slicing-no-rescue-si")["verdict"] == "not tested"


# ---------------------------------------------------------------------------------------------------------
# Rows: current code only, one image count per comparison
# ---------------------------------------------------------------------------------------------------------


def test_rows_of_earlier_code_are_not_used_unless_asked(tmp_path):
    _sweep(tmp_path, "cell-sp-mapping", _ahead("differential"), current=False)
    result = _claim(tmp_path, "mapping-sp")
    assert result["verdict"] == "not tested"
    assert "made by earlier code (engine version 0, stale)" in _numbers(result)
    assert result["evidence"][0]["files"] == [f"{tmp_path / MODEL / 'cell-sp-mapping.csv'}:1-20"]
    stale = _claim(tmp_path, "mapping-sp", stale=True)
    assert stale["verdict"] == "reproduced"
    assert stale["conditions"]["cell-sp-mapping"]["code"] == "stale (engine version 0)"


def test_one_comparison_uses_one_image_count(tmp_path):
    _sweep(tmp_path, "cell-sp-mapping", _ahead("differential"), images=1000)
    # differential alone at 10,000 images: offset is missing there, so the comparison stays at 1,000
    _sweep(tmp_path, "cell-sp-mapping", lambda s: 0.30, keep=lambda s: s.mapping.kind == "differential")
    result = _claim(tmp_path, "mapping-sp")
    assert result["verdict"] == "reproduced" and result["conditions"]["cell-sp-mapping"]["images"] == 1000
    _sweep(tmp_path, "cell-sp-mapping", lambda s: 0.60, keep=lambda s: s.mapping.kind == "offset")
    result = _claim(tmp_path, "mapping-sp")
    assert result["verdict"] == "contradicted" and result["conditions"]["cell-sp-mapping"]["images"] == 10000


def test_combining_verdicts():
    assert across_conventions(["reproduced", "reproduced"]) == "reproduced"
    assert across_conventions(["reproduced", "not tested"]) == "not tested"
    assert across_conventions(["reproduced", "contradicted", "not tested"]) == "depends"
    assert all_of(["reproduced", "depends", "contradicted"]) == "contradicted"
    assert all_of(["reproduced", "not tested"]) == "not tested"
    assert all_of(["reproduced", "reproduced"]) == "reproduced"


# ---------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aimc claims")
    add_claims_arguments(parser)
    return parser.parse_args(list(argv))


def test_run_claims_json_and_text(tmp_path, capsys):
    _sweep(tmp_path, "cell-sp-mapping", _ahead("differential"))
    assert run_claims(_args("--model", MODEL, "--results", str(tmp_path), "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["claim"] for r in out] == [c.id for c in CLAIMS]
    assert all(set(r) == {"claim", "model", "verdict", "conditions", "evidence"} for r in out)
    assert run_claims(argparse.Namespace(model=[MODEL], results=str(tmp_path), stale=False, json=False)) == 0
    text = capsys.readouterr().out
    assert all(f"{c.id}: {c.statement}" in text for c in CLAIMS)
    assert f"  {MODEL}: reproduced" in text


def test_run_claims_refuses_a_missing_folder_and_an_unknown_model(tmp_path, capsys):
    assert run_claims(_args("--results", str(tmp_path / "absent"))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--results: no folder" in err
    assert run_claims(_args("--results", str(tmp_path), "--model", "resnet51")) == 2
    assert "--model: unknown resnet51" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------
# The committed results
# ---------------------------------------------------------------------------------------------------------


def _check_file(ref: str) -> None:
    path, _, rows = ref.rpartition(":")
    lines = read_csv(REPO_ROOT / path)
    assert lines, ref
    for span in rows.split(","):
        low, _, high = span.partition("-")
        assert 1 <= int(low) <= int(high or low) <= len(lines), ref


@pytest.mark.parametrize("stale", [False, True], ids=["current rows", "with stale rows"])
def test_every_claim_on_the_committed_results_has_a_legal_verdict_and_evidence(stale):
    results = evaluate_claims(stale=stale)
    assert len(results) == 2 * len(CLAIMS)
    for result in results:
        assert result["verdict"] in VERDICTS, result["claim"]
        assert result["evidence"], result["claim"]
        for entry in result["evidence"]:
            for ref in entry["files"]:
                _check_file(ref)
            assert all(c.startswith("aimc experiments run ") for c in entry["commands"])
        if result["verdict"] != "not tested":
            assert any(e["files"] and not e["missing"] for e in result["evidence"]), result["claim"]
    assert format_claims(results)


def test_the_results_readme_quotes_the_claims_table_of_the_committed_rows():
    from aimc.validation.claims import evaluate_claims, format_claims_table

    readme = (Path(__file__).resolve().parents[2] / "validation" / "results" / "README.md").read_text()
    start = readme.index("<!-- claims-table: aimc claims --stale --table -->\n") + len(
        "<!-- claims-table: aimc claims --stale --table -->\n")
    quoted = readme[start: readme.index("\n<!-- end claims-table -->")]
    assert quoted == format_claims_table(evaluate_claims(stale=True)), "re-run aimc claims --stale --table"


def test_aimc_claims_is_a_subcommand_that_refuses_an_unknown_model(capsys):
    from aimc.cli import main

    assert main(["claims", "--model", "resnet18-nowhere"]) == 2
    assert "--model: unknown resnet18-nowhere" in capsys.readouterr().err

"""The numbers the READMEs quote are those of the committed results: the MVM sweep's counts and deviations, the
conformance suite's counts and measured time, and the headline accuracies. A README that drifts from the
files (or files that change under a README) fails here; regenerate the number from the file, never the other
way round."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aimc.validation.sweep import SWEEP_LAYER, summarize, sweep_points

from aimc.results import flag, number, read_csv

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
RESULTS_README = (ROOT / "validation" / "results" / "README.md").read_text()
MVM_README = (ROOT / "validation" / "results" / "mvm" / "README.md").read_text()
RESULTS = ROOT / "validation" / "results"


def quoted(text: str, pattern: str) -> tuple[str, ...]:
    """The groups of the one match of ``pattern`` (whitespace in it matches any run of spaces and line breaks)."""
    matches = re.findall(pattern.replace(" ", r"\s+"), text, flags=re.DOTALL)
    assert len(matches) == 1, f"{pattern!r}: {len(matches)} matches in the README"
    return matches[0] if isinstance(matches[0], tuple) else (matches[0],)


# ---------------------------------------------------------------------------------------------------------
# the MVM sweep and the conformance suite
# ---------------------------------------------------------------------------------------------------------


def mvm_facts() -> dict:
    """What the committed sweep says about the points of the current design."""
    keys = {p.key(SWEEP_LAYER) for p in sweep_points(False)}
    rows = [r for r in read_csv(RESULTS / "mvm" / "mvm.csv") if r["key"] in keys and not r.get("error_message")]
    plain = [r for r in rows if number(r, "r") == 0]
    outside = [r for r in rows if not flag(r, "within_tolerance")]
    expected = [r for r in plain if flag(r, "expected")]
    deviation = [abs(number(r, "ratio") - 1) for r in plain]
    return {
        "design": len(keys),
        "points": len(rows),
        "plain": len(plain),
        "plain_sigma_within": sum(d <= 0.03 for d in deviation),
        "plain_worst": f"{100 * max(deviation):.1f}",
        "plain_mean": f"{100 * sum(deviation) / len(deviation):.1f}",
        "expected": len(expected),
        "expected_worst": f"{100 * max(abs(number(r, 'ratio') - 1) for r in expected):.1f}",
        "outside": len(outside),
        "outside_with_r": sum(number(r, "r") > 0 for r in outside),
        "summary_points": summarize(rows)["points"],
    }


def test_the_committed_sweep_holds_every_point_of_the_design():
    facts = mvm_facts()
    assert facts["points"] == facts["design"] == facts["summary_points"]


def test_readme_mvm_numbers_are_the_committed_sweep():
    facts = mvm_facts()
    points, plain, worst, mean, expected_worst, outside, with_r = quoted(
        README, r"Across (\d+) sweep points, .*? within 3 % at every one of the (\d+) points without wire "
                r"resistance \(worst ([\d.]+) %, mean ([\d.]+) %; worst ([\d.]+) % where no documented "
                r"approximation applies\); the (\d+) points outside tolerance are each marked with a documented "
                r"limit: (\d+) have wire resistance")
    assert (int(points), int(plain), int(outside)) == (facts["points"], facts["plain"], facts["outside"])
    assert facts["plain_sigma_within"] == facts["plain"] and int(with_r) == facts["outside_with_r"]
    assert (worst, mean, expected_worst) == (facts["plain_worst"], facts["plain_mean"], facts["expected_worst"])


def test_mvm_readme_numbers_are_the_committed_sweep():
    facts = mvm_facts()
    plain, points, worst, expected, expected_worst, mean, outside = quoted(
        MVM_README, r"3 % at all (\d+) of the (\d+) sweep points that have no wire resistance. The worst of these "
                    r"is ([\d.]+) %, and the worst of the (\d+) points where no documented approximation applies "
                    r"is ([\d.]+) %. The mean \|ratio - 1\| over those \d+ points is ([\d.]+) %. All (\d+) points "
                    r"outside tolerance")
    assert (int(plain), int(points), int(expected), int(outside)) == (
        facts["plain"], facts["points"], facts["expected"], facts["outside"])
    assert facts["plain_sigma_within"] == facts["plain"]
    assert (worst, expected_worst, mean) == (facts["plain_worst"], facts["expected_worst"], facts["plain_mean"])
    assert quoted(MVM_README, r"## Design \((\d+) points;") == (str(facts["design"]),)


def conformance_facts() -> dict:
    from aimc.validation.conformance import check_cases

    rows = read_csv(RESULTS / "conformance" / "conformance.csv")
    summary = json.loads((RESULTS / "conformance" / "summary.json").read_text())
    return {"cases": len(check_cases("full")), "rows": len(rows), "summary": summary,
            "passed": sum(r["status"] == "pass" for r in rows)}


def test_readme_conformance_numbers_are_the_committed_run():
    facts = conformance_facts()
    assert facts["rows"] == facts["cases"] == facts["summary"]["cases"]
    passed, cases, seconds = quoted(README, r"passes (\d+) of its (\d+) cases \(`aimc validate conformance`, "
                                            r"measured (\d+) s")
    assert (int(passed), int(cases)) == (facts["passed"], facts["cases"])
    assert int(seconds) == round(facts["summary"]["seconds"])
    others = {r["status"] for r in read_csv(RESULTS / "conformance" / "conformance.csv")} - {"pass"}
    assert others <= {"xfail"}  # the cases that do not pass are each marked with a documented limit
    assert quoted(README, r"each of the other (\w+) is marked with a documented limit") == (
        {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(facts["cases"] - facts["passed"], "?"),)


# ---------------------------------------------------------------------------------------------------------
# headline accuracies
# ---------------------------------------------------------------------------------------------------------


def accuracy(model: str, experiment: str, point: str, images: str | None = None, field: str = "accuracy_mean",
             digits: int = 2) -> str:
    rows = [r for r in read_csv(RESULTS / f"resnet50-{model}" / f"{experiment}.csv")
            if r["point"] == point and (images is None or r["images"] == images)]
    assert len(rows) == 1, (experiment, point, images, len(rows))
    return f"{100 * float(rows[0][field]):.{digits}f}"


def accuracy_range(model: str, experiment: str, labels: tuple[str, ...]) -> str:
    values = [float(r["accuracy_mean"]) for r in read_csv(RESULTS / f"resnet50-{model}" / f"{experiment}.csv")
              if r["point"].split(" ")[0] in labels]
    return f"{100 * min(values):.2f}-{100 * max(values):.2f}"


TINY, CIFAR = "tinyimagenet", "cifar10"
SLICED_OFFSET = ("offset-1b", "offset-2b", "offset-4b")
SLICED_DIFFERENTIAL = ("differential-1b", "differential-2b", "differential-4b")
HEADLINES = {
    "| digital float32 / 8-bit quantised | {} % / {} % |": lambda: (
        accuracy(TINY, "baselines", "digital", field="baseline_float"),
        accuracy(TINY, "baselines", "digital", field="baseline_quantized")),
    "| design A, SONOS programming error | {} % +- {} % ": lambda: (
        accuracy(TINY, "designs", "design-a", "10000"), accuracy(TINY, "designs", "design-a", "10000", "accuracy_std")),
    "| design B (1-bit slices), SONOS | {} % +- {} % ": lambda: (
        accuracy(TINY, "designs", "design-b", "1000"), accuracy(TINY, "designs", "design-b", "1000", "accuracy_std")),
    "| design C (144 rows), SONOS | {} % +- {} % |": lambda: (
        accuracy(TINY, "designs", "design-c", "1000"), accuracy(TINY, "designs", "design-c", "1000", "accuracy_std")),
    "| state-independent alpha = 2 % of Gmax, no ADC: differential / offset | {} % / {} % |": lambda: (
        accuracy(TINY, "cell-si-mapping", "differential alpha=0.02", "10000"),
        accuracy(TINY, "cell-si-mapping", "offset alpha=0.02", "10000")),
    "| state-proportional alpha = 10 %, no ADC: differential / offset | {} % / {} % |": lambda: (
        accuracy(TINY, "cell-sp-mapping", "differential alpha=0.1"), accuracy(TINY, "cell-sp-mapping", "offset alpha=0.1")),
    "| state-independent alpha = 2 %, 1-bit weight slices: differential / offset (best under this error) | {} % / {} % |":
        lambda: (accuracy(TINY, "cell-si-slices", "differential-1b alpha=0.02"),
                 accuracy(TINY, "cell-si-slices", "offset-1b alpha=0.02")),
    "| ideal cells, calibrated 8-bit ADC, 1152 rows: differential / offset | {} % / {} % |": lambda: (
        accuracy(TINY, "adc-bits", "differential rows=1152 adc=8"), accuracy(TINY, "adc-bits", "offset rows=1152 adc=8")),
    "| ideal cells, calibrated 8-bit ADC, offset: 72 / 1152 rows | {} % / {} % |": lambda: (
        accuracy(TINY, "adc-rows", "offset rows=72"), accuracy(TINY, "adc-rows", "offset rows=1152")),
    "| the same with 1-, 2- or 4-bit slices: offset / differential, every size 72-1152 | {} % / {} % |": lambda: (
        accuracy_range(TINY, "adc-rows", SLICED_OFFSET), accuracy_range(TINY, "adc-rows", SLICED_DIFFERENTIAL)),
    "| CIFAR-10: float / design A SONOS / state-independent 2 % differential / offset | {} % / {} % / {} % / {} % |":
        lambda: (accuracy(CIFAR, "baselines", "digital", field="baseline_float"),
                 accuracy(CIFAR, "designs", "design-a", "10000"),
                 accuracy(CIFAR, "cell-si-mapping", "differential alpha=0.02", "10000"),
                 accuracy(CIFAR, "cell-si-mapping", "offset alpha=0.02", "10000")),
    "| CIFAR-10: state-independent 2 %, 1-bit slices: differential / offset | {} % / {} % |": lambda: (
        accuracy(CIFAR, "cell-si-slices", "differential-1b alpha=0.02"),
        accuracy(CIFAR, "cell-si-slices", "offset-1b alpha=0.02")),
}


@pytest.mark.parametrize("row", HEADLINES, ids=[r.split("|")[1].strip()[:50] for r in HEADLINES])
def test_readme_headline_accuracies_are_the_committed_rows(row):
    expected = row.format(*HEADLINES[row]())
    assert expected in README, f"README should read: {expected}"


RESULTS_HEADLINES = {
    "| 8-bit calibrated ADC, ideal cells, 72 / 1152 rows: differential / offset | {} / {} % and {} / {} % |": lambda: (
        accuracy(TINY, "adc-rows", "differential rows=72"), accuracy(TINY, "adc-rows", "differential rows=1152"),
        accuracy(TINY, "adc-rows", "offset rows=72"), accuracy(TINY, "adc-rows", "offset rows=1152")),
    "| 8-bit calibrated ADC, ideal cells, 1-, 2- and 4-bit slices at 72-1152 rows: differential / offset | {} % / {} % |":
        lambda: (accuracy_range(TINY, "adc-rows", SLICED_DIFFERENTIAL), accuracy_range(TINY, "adc-rows", SLICED_OFFSET)),
    "| differential, 144 rows | 63.65 | 63.85 | {} |": lambda: (accuracy(TINY, "adc-rows", "differential rows=144", digits=2),),
    "| offset, 1152 rows | 51.30 | 50.35 | {} |": lambda: (accuracy(TINY, "adc-bits", "offset rows=1152 adc=8"),),
}


@pytest.mark.parametrize("row", RESULTS_HEADLINES, ids=[r.split("|")[1].strip()[:50] for r in RESULTS_HEADLINES])
def test_results_readme_headlines_are_the_committed_rows(row):
    expected = row.format(*RESULTS_HEADLINES[row]())
    assert expected in RESULTS_README, f"validation/results/README.md should read: {expected}"


# ---------------------------------------------------------------------------------------------------------
# the accuracy predictor against the committed sweeps
# ---------------------------------------------------------------------------------------------------------


def test_predictor_numbers_are_the_committed_comparison():
    """The predictor table of both READMEs is the committed summary, and the summary is its CSV's."""
    from aimc.validation.predictor.validate import summarise

    folder = RESULTS / "predictor"
    summary = json.loads((folder / "resnet50-tinyimagenet-summary.json").read_text())
    rows = []
    for r in read_csv(folder / "resnet50-tinyimagenet.csv"):
        if r["experiment"] == "predictor-heldout":
            continue  # summarised apart ("heldout" in the summary)
        row = {"simulated": float(r["simulated"]), "reason": r["reason"]}
        if r["predicted"]:
            row |= {k: float(r[k]) for k in ("predicted", "predicted_linear", "seconds")}
        rows.append(row)
    again = summarise(rows)
    for method in ("compounded", "linear"):
        assert again[method]["within_target_high"] == summary[method]["within_target_high"]
        assert again[method]["collapses_caught"] == summary[method]["collapses_caught"]
        assert again[method]["spearman"] == pytest.approx(summary[method]["spearman"], abs=1e-4)
    c, f = summary["compounded"], summary["linear"]
    for text in (README, RESULTS_README):
        within = quoted(text, r"within 1\.5 points,? where the simulation is above 50 % \| (\d+) / (\d+) \((\d+) %\) "
                              r"\| (\d+) / (\d+) \((\d+) %\)")
        assert "/".join(within[:2]) == c["within_target_high"] and "/".join(within[3:5]) == f["within_target_high"]
        assert int(within[2]) == round(100 * c["within_target_high_share"])
        assert int(within[5]) == round(100 * f["within_target_high_share"])
        caught = quoted(text, r"predicted below 25 % \| (\d+) / (\d+) \| (\d+) / (\d+)")
        assert "/".join(caught[:2]) == c["collapses_caught"] and "/".join(caught[2:]) == f["collapses_caught"]
        spearman = quoted(text, r"Spearman [^|]*\| ([0-9.]+) \| ([0-9.]+)")
        assert float(spearman[0]) == round(c["spearman"], 3) and float(spearman[1]) == round(f["spearman"], 3)
    points = quoted(README, r"over (\d+) simulated points \((\d+) predicted, (\d+) refused")
    assert tuple(map(int, points)) == (summary["points"], summary["predicted"], summary["refused"])

"""Conformance suite (quick subset): every registered option of the vocabulary, theory against Monte Carlo.

The cases are generated from the vocabulary (:func:`aimc.validation.conformance.check_cases`); a new
mapping, error law or range policy joins by being registered. Verdict: |sigma_theory / sigma_MC - 1| <= 3 %
where the 95 % Monte Carlo interval half-width is <= 1.5 %, else the theory inside the interval; a case
outside tolerance where a documented approximation of the theory applies is an expected failure that
names it, and so is an option the theory refuses (with its message). The full set: ``aimc validate conformance``.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from aimc.validation import conformance
from aimc.validation.comparison import JUDGE_HALF_WIDTH, TOLERANCE, Unsupported, judge
from aimc.validation.conformance import check_cases, coverage, registered_options, run_case

QUICK = check_cases("quick")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one torch thread is faster, and CI has two cores."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("case", QUICK, ids=[c.name for c in QUICK])
def test_conformance(case):
    if case.error:
        pytest.fail(case.error)
    try:
        result = run_case(case)
    except Unsupported as e:
        pytest.xfail(f"the theory refuses this option: {e}")
    if not result.within_tolerance:
        if result.reason:
            pytest.xfail(result.describe())
        pytest.fail(f"{case.name}: {result.describe()}")


def test_every_registered_option_is_checked():
    full = check_cases("full")
    missing = [tag for tag, names in coverage(full).items() if not names]
    assert not missing, f"registered options without a check case: {missing}"
    quick_tags = {t for c in QUICK for t in c.tags}
    registered = {f"{p}={v}" for p, choices in registered_options().items() for v in choices}
    assert registered <= quick_tags, f"not in the quick subset: {sorted(registered - quick_tags)}"


def test_registered_options_are_read_from_the_vocabulary():
    opts = registered_options()
    assert {"differential", "differential_two_sided", "offset"} <= set(opts["mapping.kind"])
    assert set(opts["adc.range"]) == {"max", "granular", "calibrated", "aligned", "optimal"}
    assert "sonos-paper" in opts["device.programming.model"]
    assert opts["weights.per_channel"] == (False, True)


def test_a_new_option_joins_the_suite(monkeypatch):
    """An option the generator has no context for becomes a failing case, not a silent gap."""
    original = conformance.registered_options

    def extended(*args):
        opts = dict(original(*args))
        if not args:
            opts["mapping.kind"] = (*opts["mapping.kind"], "brand_new_mapping")
        return opts

    monkeypatch.setattr(conformance, "registered_options", extended)
    new = [c for c in check_cases("full") if "mapping.kind=brand_new_mapping" in c.tags]
    assert new and all(c.error for c in new)
    assert "brand_new_mapping" in new[0].error


def test_slicing_cases_include_under_used_slices():
    names = [c.name for c in check_cases("full") if "weights.underused" in c.tags]
    assert any("differential/" in n for n in names) and any("offset/" in n for n in names)


def test_judge_rule():
    # tight interval: 3 % tolerance
    assert judge(1.02, 1.0, 0.99, 1.01)[:2] == (True, "tolerance")
    assert judge(1.0 + 1.01 * TOLERANCE, 1.0, 0.99, 1.01)[:2] == (False, "tolerance")
    # wide interval: the theory must lie inside it
    wide = 1.0 + 4 * JUDGE_HALF_WIDTH
    assert judge(1.05, 1.0, 2 - wide, wide)[:2] == (True, "interval")
    assert judge(1.04, 1.0, 0.99, 1.031)[:2] == (False, "interval")
    # deterministic points (one chip, no interval): 3 %
    assert judge(1.029, 1.0, 1.0, 1.0)[:2] == (True, "tolerance")


def test_cases_are_reproducible():
    case = next(c for c in QUICK if c.name.startswith("error[programming=state_proportional"))
    case = dataclasses.replace(case, max_chips=case.chips)
    a, b = run_case(case), run_case(case)
    assert a.mc_sigma == b.mc_sigma and a.theory_sigma == b.theory_sigma


def test_a_case_that_raises_makes_the_command_fail(monkeypatch, tmp_path, capsys):
    """Documented failures are verdicts (exit 0, listed); a case that raised is a fault: exit 1."""
    from aimc.validation import conformance

    from aimc.cli import main

    def summary(counts):
        return lambda *a, **k: {"level": "quick", "cases": sum(counts.values()), "counts": counts,
                                "not_passed": [], "csv": None}

    monkeypatch.setattr(conformance, "run_conformance", summary({"pass": 3, "fail": 1}))
    assert main(["validate", "conformance", "--out", str(tmp_path), "--no-progress"]) == 0
    monkeypatch.setattr(conformance, "run_conformance", summary({"pass": 3, "error": 1}))
    assert main(["validate", "conformance", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "error 1" in capsys.readouterr().out

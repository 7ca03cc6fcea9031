"""The committed accuracy rows cannot go stale silently: no two rows of one model disagree for the same result
(:func:`result_key`), every versioned row describes itself (its scheme JSON hashes to its scheme hash, its
versions are known ones), and the experiments' tables reuse only rows of the current code."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from aimc.validation.accuracy import scheme_hash

from aimc.results import (
    ENGINE_VERSION,
    SCHEME_VERSION,
    UNVERSIONED,
    current_versions,
    is_current,
    read_csv,
    row_versions,
)
from aimc.scheme import Scheme

RESULTS = Path(__file__).resolve().parents[2] / "validation" / "results"
IDENTITY = ("model", "data", "calibration", "scheme_hash", "images", "chips", "seed", "calibration_images",
            "errors_in")
"""With the row's code: what a result depends on (a row without a column reads ""). The experiments' key
(``POINT_KEY``) adds the experiment and point label, which name a result without changing it, except
``errors_in`` (a layer-group point: device errors in some layers only), which the scheme hash leaves out."""


def _accuracy_rows(model_folder: Path) -> list[tuple[str, int, dict]]:
    return [(path.name, number, row) for path in sorted(model_folder.glob("*.csv"))
            for number, row in enumerate(read_csv(path), start=1)
            if row.get("scheme_hash") and row.get("accuracies") and not row.get("error_message")]


MODELS = sorted(p for p in RESULTS.iterdir() if p.is_dir() and p.name.startswith("resnet50"))


def result_key(name: str, number: int, row: dict) -> tuple:
    """Which rows hold the same result and so must agree. Rows of the current code (``is_current``: the
    current versions, or an earlier engine version whose later changes cannot touch the row's scheme) are
    what a run would reuse: one key whatever version wrote them. A stale row of a recorded version is the same
    result as the other rows of that version. A row made before versions were recorded (version 0) comes from
    an engine that is not known (the adc-bits / adc-rows rows of Tiny-ImageNet came from two): its own key."""
    identity = tuple(row.get(k, "") for k in IDENTITY)
    if is_current(row):
        return (*identity, "current")
    versions = row_versions(row)
    if versions["engine_version"] == UNVERSIONED:
        return (*identity, "unversioned", name, number)
    return (*identity, *versions.values())


def disagreements(rows: list[tuple[str, int, dict]]) -> list[str]:
    """Results stored more than once with different accuracies (mean or per chip)."""
    seen: dict[tuple, list[tuple[str, int, dict]]] = defaultdict(list)
    for name, number, row in rows:
        seen[result_key(name, number, row)].append((name, number, row))
    out = []
    for key, found in seen.items():
        answers = {(float(row["accuracy_mean"]), tuple(json.loads(row["accuracies"]))) for _, _, row in found}
        if len(answers) > 1:
            out.append(f"{key}: " + "; ".join(f"{name}:{number} {row.get('point', '')}: {row['accuracy_mean']} "
                                              f"{row['accuracies']}" for name, number, row in found))
    return out


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_no_two_committed_rows_disagree_for_the_same_key(model):
    rows = _accuracy_rows(model)
    assert rows
    assert disagreements(rows) == []


def test_the_check_finds_a_disagreement():
    scheme = Scheme()
    row = {"scheme_hash": scheme_hash(scheme), "images": "8", "chips": "1", "seed": "0", "accuracy_mean": "0.5",
           "accuracies": "[0.5]", "scheme_json": scheme.to_json(indent=None), **current_versions()}
    other = {**row, "accuracy_mean": "0.51", "accuracies": "[0.51]"}
    assert disagreements([("a.csv", 1, row), ("b.csv", 1, dict(row))]) == []
    assert len(disagreements([("a.csv", 1, row), ("b.csv", 1, other)])) == 1
    # an earlier engine version whose changes (read noise) cannot touch this scheme: reused, so the same result
    assert len(disagreements([("a.csv", 1, row), ("b.csv", 1, {**other, "engine_version": "1"})])) == 1
    # a scheme with read noise meets the later engines' changes: its engine-1 rows are stale, another result
    # than the current row's, but the same result as each other
    noisy = scheme.with_overrides({"device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.01})
    current = {**row, "scheme_hash": scheme_hash(noisy), "scheme_json": noisy.to_json(indent=None)}
    stale = {**current, "accuracy_mean": "0.51", "accuracies": "[0.51]", "engine_version": "1"}
    assert disagreements([("a.csv", 1, current), ("b.csv", 1, stale)]) == []
    assert len(disagreements([("a.csv", 1, stale), ("b.csv", 2, {**stale, "accuracies": "[0.52]"})])) == 1
    # rows made before versions were recorded come from engines that are not known: never the same result
    old = {k: v for k, v in row.items() if k not in ("scheme_json", "engine_version", "scheme_version")}
    assert disagreements([("a.csv", 1, old), ("b.csv", 1, {**old, "accuracy_mean": "0.51", "accuracies": "[0.51]"})]) == []


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_versioned_rows_describe_themselves(model):
    versioned = [(name, row) for name, _, row in _accuracy_rows(model) if row_versions(row)["engine_version"] != UNVERSIONED]
    for name, row in versioned:
        assert int(row["engine_version"]) <= ENGINE_VERSION and int(row["scheme_version"]) <= SCHEME_VERSION
        assert scheme_hash(Scheme.from_json(row["scheme_json"])) == row["scheme_hash"], (name, row.get("point"))
        for column in ("model_hash", "data_hash", "calibration_hash", "aimc_version", "device", "finished_at"):
            assert row[column], (name, column)


def test_the_re_run_adc_sweeps_are_current_and_agree_across_files():
    """The rows that disagreed (adc-bits and adc-rows, Tiny-ImageNet) were re-run by the current engine."""
    folder = RESULTS / "resnet50-tinyimagenet"
    bits, rows = read_csv(folder / "adc-bits.csv"), read_csv(folder / "adc-rows.csv")
    assert all(row_versions(r)["engine_version"] == "1" for r in bits + rows)  # the version that re-ran them
    by_hash = {r["scheme_hash"]: r["accuracies"] for r in rows}
    shared = [r for r in bits if r["scheme_hash"] in by_hash]
    assert len(shared) == 4 and all(by_hash[r["scheme_hash"]] == r["accuracies"] for r in shared)


def test_a_committed_row_is_re_run_from_its_file_alone_and_reproduces(capsys, monkeypatch, tmp_path):
    """validation/results/resnet50-cifar10/accuracy-cpu.csv: one row of aimc accuracy made on the CPU."""
    from aimc.validation.models import find_shared_dir

    from aimc.cli import main

    try:
        find_shared_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    monkeypatch.chdir(tmp_path)
    row_file = RESULTS / "resnet50-cifar10" / "accuracy-cpu.csv"
    assert main(["accuracy", "--from-row", f"{row_file}:1", "--no-save", "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["from_row"]["reproduced"], result
    assert result["from_row"]["identity_checked"] == ["model_hash", "data_hash", "calibration_hash"]
    assert result["accuracies"] == json.loads(read_csv(row_file)[0]["accuracies"])

"""The committed accuracy rows cannot go stale silently: no two rows of one model disagree for the same result
(same scheme, images, chips, seed, calibration and code version), every versioned row describes itself (its
scheme JSON hashes to its scheme hash, its versions are known ones), and the experiments' tables reuse only
rows of the current code."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from aimc.validation.accuracy import scheme_hash

from aimc.results import ENGINE_VERSION, SCHEME_VERSION, UNVERSIONED, read_csv, row_versions
from aimc.scheme import Scheme

RESULTS = Path(__file__).resolve().parents[2] / "validation" / "results"
IDENTITY = ("data", "calibration", "scheme_hash", "images", "chips", "seed", "calibration_images")
"""With the model and the row's code version: what a result depends on (a row without a column reads "")."""


def _accuracy_rows(model_folder: Path) -> list[tuple[str, dict]]:
    return [(path.name, row) for path in sorted(model_folder.glob("*.csv")) for row in read_csv(path)
            if row.get("scheme_hash") and row.get("accuracies") and not row.get("error_message")]


MODELS = sorted(p for p in RESULTS.iterdir() if p.is_dir() and p.name.startswith("resnet50"))


def disagreements(rows: list[tuple[str, dict]]) -> list[str]:
    """Results stored more than once with different per-chip accuracies."""
    seen: dict[tuple, list[tuple[str, dict]]] = defaultdict(list)
    for name, row in rows:
        versions = tuple(row_versions(row).values())
        seen[tuple(row.get(k, "") for k in IDENTITY) + versions].append((name, row))
    out = []
    for key, found in seen.items():
        if len({tuple(json.loads(row["accuracies"])) for _, row in found}) > 1:
            out.append(f"{key}: " + "; ".join(f"{name} {row.get('point', '')}: {row['accuracies']}"
                                              for name, row in found))
    return out


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_no_two_committed_rows_disagree_for_the_same_key(model):
    rows = _accuracy_rows(model)
    assert rows
    assert disagreements(rows) == []


def test_the_check_finds_a_disagreement():
    row = {"scheme_hash": "h", "images": "8", "chips": "1", "seed": "0", "accuracies": "[0.5]"}
    assert disagreements([("a.csv", row), ("b.csv", {**row, "accuracies": "[0.5]"})]) == []
    assert len(disagreements([("a.csv", row), ("b.csv", {**row, "accuracies": "[0.51]"})])) == 1
    # the same result made by two engine versions is two results, not a disagreement
    newer = {**row, "accuracies": "[0.51]", "engine_version": "1", "scheme_version": "1"}
    assert disagreements([("a.csv", row), ("b.csv", newer)]) == []


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_versioned_rows_describe_themselves(model):
    versioned = [(name, row) for name, row in _accuracy_rows(model) if row_versions(row)["engine_version"] != UNVERSIONED]
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

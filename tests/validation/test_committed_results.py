"""The committed accuracy CSVs are the output of the committed experiment definitions.

Every row of ``validation/results/<model>/<experiment>.csv`` must name a point that the experiment still
defines, with the scheme hash of that point's scheme and the overrides it was run with, and hold a
well-formed result: if a definition changes, its old rows no longer describe it and this test says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from aimc.validation.accuracy import scheme_hash
from aimc.validation.experiments import EXPERIMENTS

from aimc.results import read_csv

COMMITTED = Path(__file__).resolve().parents[2] / "validation" / "results"
FILES = sorted(p for p in COMMITTED.glob("*/*.csv") if p.stem in EXPERIMENTS)


def test_there_are_committed_results():
    assert {p.parent.name for p in FILES} >= {"resnet50-tinyimagenet", "resnet50-cifar10"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_rows_match_the_experiment_definitions(path):
    exp = EXPERIMENTS[path.stem]
    points = {p.label: p for p in exp.points}
    rows = read_csv(path)
    assert rows, f"{path}: empty"
    for row in rows:
        assert row["experiment"] == exp.name and row["model"] == path.parent.name
        if not exp.points:  # baselines
            assert 0 < float(row["baseline_float"]) <= 1 and 0 < float(row["baseline_quantized"]) <= 1
            continue
        point = points.get(row["point"])
        assert point is not None, f"{path}: row {row['point']!r} is not a point of {exp.name} any more"
        assert row["scheme_hash"] == scheme_hash(exp.scheme(point)), f"{path}: {row['point']!r} changed"
        assert json.loads(row["overrides"]) == json.loads(json.dumps(point.overrides, sort_keys=True))
        accuracies = json.loads(row["accuracies"])
        assert len(accuracies) == int(row["chips"]) and all(0 <= a <= 1 for a in accuracies)
        mean = sum(accuracies) / len(accuracies)
        assert math.isclose(float(row["accuracy_mean"]), mean, rel_tol=1e-9, abs_tol=1e-12)
        if len(accuracies) > 1:
            var = sum((a - mean) ** 2 for a in accuracies) / (len(accuracies) - 1)
            assert math.isclose(float(row["accuracy_std"]), math.sqrt(var), rel_tol=1e-6, abs_tol=1e-12)
        if exp.deterministic or not exp.scheme(point).device.random:  # as the runner decides
            assert int(row["chips"]) == 1
        assert int(row["images"]) >= 1 and float(row["seconds"]) > 0

"""The committed results load through the one results table (aimc.results.ResultsCSV) and their rows are found
by the keys that the code computes today, so a rerun resumes instead of recomputing.

``validation/results/<model>/<experiment>.csv`` by the experiments' point key, ``validation/results/mvm/mvm.csv``
by the sweep's point key
(:func:`aimc.validation.sweep.sweep_table`) and ``figures/data/<name>.csv`` by each figure's points:
``aimc figures --all --out figures --results validation/results`` has nothing left to compute.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aimc.figures import FIGURES, _base, figure_module
from aimc.validation.experiments import EXPERIMENTS, POINT_KEY
from aimc.validation.sweep import SWEEP_LAYER, sweep_points, sweep_table

from aimc.results import ResultsCSV, read_csv

REPOSITORY = Path(__file__).resolve().parents[2]
RESULTS = REPOSITORY / "validation" / "results"
ACCURACY = sorted(p for p in RESULTS.glob("*/*.csv") if p.stem in EXPERIMENTS)
COMPUTED = [name for name in FIGURES if hasattr(figure_module(name), "compute")]


@pytest.mark.parametrize("path", ACCURACY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_accuracy_rows_are_found_by_their_key(path):
    store = ResultsCSV(path, POINT_KEY)
    rows = read_csv(path)
    assert rows and len(store.rows) == len(rows)  # one row per key
    assert all(store.find(row) == row for row in rows)


def test_mvm_sweep_rows_are_found_by_the_design_keys():
    table = sweep_table(RESULTS / "mvm" / "mvm.csv")
    rows = table.rows
    assert len(rows) == len(read_csv(table.path)) > 400
    design = {p.key(SWEEP_LAYER) for p in sweep_points()}
    assert len(design & set(rows)) > 400
    assert all(table.finished(p.key(SWEEP_LAYER)) for p in sweep_points(quick=True))


@pytest.mark.parametrize("name", COMPUTED)
def test_figure_data_holds_every_point_of_the_figure(name):
    points = figure_module(name).points(False)
    store = ResultsCSV(REPOSITORY / "figures" / "data" / f"{name}.csv", list(points[0]))
    finished = store.finished_keys()
    assert [p for p in points if store.key(p) not in finished] == []
    with _base.folders(REPOSITORY / "figures"):
        assert _base.data_path(name) == store.path

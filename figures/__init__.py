"""aimc.figures: the paper's figures (and their MVM-level extensions), computed, cached as CSV and drawn.

Each figure is one module with ``compute(quick)`` (results cached in ``<out>/data/<name>.csv``, one row
per finished point, resumable) and ``plot(quick)`` (``<out>/gallery/<name>.png``); the plot-only figures
(``accuracy_sweeps``, ``mvm_identity``, ``mvm_regimes``) draw the validation results read from a results
folder. See :mod:`aimc.figures._base`. ``aimc figures NAME|--all [--quick] [--out DIR] [--results DIR]``
runs them (``--out figures --results validation/results`` for the repository's own gallery, described in
``figures/README.md``).
"""

from __future__ import annotations

import importlib
import os
import time
from types import ModuleType

from . import _base
from ._base import FigureSkipped

__all__ = ["FIGURES", "FigureSkipped", "figure_module", "figure_names", "run_figure"]

FIGURES = (
    "mapping_error",
    "bit_slicing",
    "adc_bits",
    "error_budget",
    "conductance",
    "adc_histogram",
    "fig20_bitline_current",
    "fig07_conductance",
    "figs08_13_si_mapping",
    "figs08_13_sp_mapping",
    "figs08_13_si_slices",
    "figs08_13_sp_slices",
    "figs08_13_clipping",
    "figs08_13_mvm_mapping",
    "figs08_13_mvm_slicing",
    "fig14_adc_histogram",
    "fig15_adc_range",
    "fig16_adc_bits",
    "fig16_mvm_adc_bits",
    "fig17_adc_rows",
    "fig22_parasitics",
    "table4_designs",
    "table5_full_test",
    "accuracy_sweeps",
    "mvm_identity",
    "mvm_regimes",
    "predictor_identity",
)
"""The registry: figure names, each the module ``aimc.figures.<name>``. The figures that compute their data
come first, so that ``--all`` has made the CSVs the single-column figures redraw (``fig07_conductance``
draws ``conductance``'s) before drawing them."""


def figure_names() -> list[str]:
    return list(FIGURES)


def figure_module(name: str) -> ModuleType:
    """The module of figure ``name``; ValueError listing the names for an unknown one."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    return importlib.import_module(f"{__name__}.{name}")


def run_figure(name: str, quick: bool = False, plot_only: bool = False, progress: bool = True,
               out: str | os.PathLike | None = None, results: str | os.PathLike | None = None) -> dict:
    """Compute (unless plot-only) and draw one figure: files written, new CSV rows, seconds, or why it was skipped.

    Computing skips the points already in the figure's CSV, so ``new_rows`` is 0 for a finished figure.
    ``out``: where ``data/`` and ``gallery/`` are written; ``results``: where the validation results are
    read from (None: the folders of :mod:`aimc.figures._base`, by default ``aimc_figures`` and
    ``aimc_results`` in the current directory).
    """
    module = figure_module(name)
    start = time.perf_counter()
    made: dict = {"name": name, "computed": False, "new_rows": 0, "files": [], "skipped": None}
    with _base.folders(out, results):
        try:
            if hasattr(module, "compute") and not plot_only:
                before = len(_base.read_rows(_base.data_path(name, quick)))
                made["files"].append(str(module.compute(quick=quick, progress=progress)))
                made["computed"] = True
                made["new_rows"] = len(_base.read_rows(_base.data_path(name, quick))) - before
            with _base.style():
                drawn = module.plot(quick=quick)
            made["files"] += [str(p) for png in drawn for p in (png, png.with_suffix(".pdf"))]
        except FigureSkipped as e:
            made["skipped"] = str(e)
    made["seconds"] = round(time.perf_counter() - start, 2)
    return made

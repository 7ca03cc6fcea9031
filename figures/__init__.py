"""aimc.figures: the paper's figures (and their MVM-level extensions), computed, cached as CSV and drawn.

Each figure is one module with ``compute(quick)`` (results cached in ``figures/data/<name>.csv``, one row
per finished point, resumable) and ``plot(quick)`` (``figures/gallery/<name>.png``); see
:mod:`aimc.figures._base`. ``aimc figures NAME|--all [--quick]`` runs them; the gallery is described in
``figures/README.md``.
"""

from __future__ import annotations

import importlib
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
    "accuracy_sweeps",
    "mvm_identity",
)
"""The registry: figure names, each the module ``aimc.figures.<name>``, in gallery order."""


def figure_names() -> list[str]:
    return list(FIGURES)


def figure_module(name: str) -> ModuleType:
    """The module of figure ``name``; ValueError listing the names for an unknown one."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    return importlib.import_module(f"{__name__}.{name}")


def run_figure(name: str, quick: bool = False, plot_only: bool = False, progress: bool = True) -> dict:
    """Compute (unless plot-only) and draw one figure: files written, new CSV rows, seconds, or why it was skipped.

    Computing skips the points already in the figure's CSV, so ``new_rows`` is 0 for a finished figure.
    """
    module = figure_module(name)
    start = time.perf_counter()
    out: dict = {"name": name, "computed": False, "new_rows": 0, "files": [], "skipped": None}
    try:
        if hasattr(module, "compute") and not plot_only:
            before = len(_base.read_rows(_base.data_path(name, quick)))
            out["files"].append(str(module.compute(quick=quick, progress=progress)))
            out["computed"] = True
            out["new_rows"] = len(_base.read_rows(_base.data_path(name, quick))) - before
        out["files"] += [str(p) for p in module.plot(quick=quick)]
    except FigureSkipped as e:
        out["skipped"] = str(e)
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out

"""The figure framework: where data, images and results live, resumable figure data, and drawing helpers.

A figure module defines

* ``NAME`` and ``TITLE``;
* ``compute(quick: bool = False, progress: bool = True) -> Path`` (absent for plot-only figures): evaluates
  its points through :func:`compute_points`, which writes one CSV row (or a few) per finished point to
  ``<out>/data/<name>.csv`` at once (an :class:`aimc.results.ResultsCSV` keyed by the point), and skips the
  points already there on a rerun;
* ``plot(quick: bool = False) -> list[Path]``: draws ``<out>/gallery/<name>.png`` from that CSV, or from the
  validation results under :data:`RESULTS_DIR` (raises :class:`FigureSkipped` when there is nothing to draw
  yet).

``<out>`` is ``aimc_figures`` in the current directory unless ``aimc figures --out DIR`` says otherwise
(the repository's own gallery: ``--out figures``), and the validation results are read from
:data:`aimc.results.DEFAULT_RESULTS_DIR` unless ``--results DIR`` says otherwise (the committed ones:
``--results validation/results``); nothing is written inside the installed package. The folders are the
module attributes :data:`DATA_DIR`, :data:`GALLERY_DIR` and :data:`RESULTS_DIR`, read at call time and set
for one run by :func:`folders` (tests point them at a temporary directory). ``quick`` runs use small sizes
(for tests) and write to ``<name>.quick.csv`` / ``<name>.quick.png`` so they never overwrite the gallery.
Drawing uses matplotlib's object API with the Agg canvas (no pyplot state); images are written atomically.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator
from tqdm import tqdm

from aimc.results import DEFAULT_RESULTS_DIR, ResultsCSV, atomic_file, number, read_csv

__all__ = [
    "DATA_DIR",
    "FIGURES_DIR",
    "GALLERY_DIR",
    "MAPPING_COLORS",
    "RESULTS_DIR",
    "FigureSkipped",
    "colormap",
    "compute_points",
    "data_path",
    "folders",
    "gallery_path",
    "label_ticks",
    "lazy",
    "new_figure",
    "new_mosaic",
    "number",
    "read_rows",
    "rows_for",
    "save_figure",
]

FIGURES_DIR = Path("aimc_figures")
"""The default ``aimc figures --out``, relative to the current directory, where ``data/`` and ``gallery/``
are written."""
DATA_DIR = FIGURES_DIR / "data"
GALLERY_DIR = FIGURES_DIR / "gallery"
RESULTS_DIR = Path(DEFAULT_RESULTS_DIR)
"""Where the validation runs' accuracy CSVs (``<model>/<experiment>.csv``) and MVM sweep (``mvm/mvm.csv``) are
read from by the plot-only figures (``aimc figures --results``)."""
DPI = 110
MAPPING_COLORS = {"differential": "C0", "offset": "C1", "offset, unit column": "C3"}


class FigureSkipped(Exception):
    """Nothing to draw (yet): the message says why and what to run."""


def data_path(name: str, quick: bool = False) -> Path:
    return DATA_DIR / f"{name}{'.quick' if quick else ''}.csv"


def gallery_path(name: str, quick: bool = False, suffix: str = "") -> Path:
    return GALLERY_DIR / f"{name}{suffix}{'.quick' if quick else ''}.png"


@contextlib.contextmanager
def folders(out: str | os.PathLike | None = None, results: str | os.PathLike | None = None) -> Iterator[None]:
    """Within the block, figures write ``out/data`` and ``out/gallery`` and read the validation results from
    ``results``; None leaves a folder as it is. The folders are restored afterwards."""
    global DATA_DIR, GALLERY_DIR, RESULTS_DIR
    saved = DATA_DIR, GALLERY_DIR, RESULTS_DIR
    if out is not None:
        DATA_DIR, GALLERY_DIR = Path(out) / "data", Path(out) / "gallery"
    if results is not None:
        RESULTS_DIR = Path(results)
    try:
        yield
    finally:
        DATA_DIR, GALLERY_DIR, RESULTS_DIR = saved


def read_rows(path: Path) -> list[dict[str, str]]:
    return read_csv(path)


def compute_points(
    name: str,
    quick: bool,
    points: Sequence[dict],
    evaluate: Callable[[dict], dict | list[dict]],
    progress: bool = True,
) -> Path:
    """Evaluate every point not yet in ``<name>.csv`` and store its row(s) at once.

    A point is a flat dict of the parameters that identify it (they become its key columns);
    ``evaluate(point)`` returns the result columns of one row, or a list of rows (each is stored with
    the point's key columns and the seconds the point took).
    """
    if not points:
        raise ValueError(f"{name}: no points to compute")
    store = ResultsCSV(data_path(name, quick), list(points[0]))
    done = store.finished_keys()
    todo = [p for p in points if store.key(p) not in done]
    with tqdm(todo, desc=name, unit="point", disable=not progress or not todo, leave=False) as bar:
        for point in bar:
            start = time.perf_counter()
            result = evaluate(point)
            rows = [result] if isinstance(result, dict) else list(result)
            seconds = round(time.perf_counter() - start, 3)
            store.add([{**point, **row, "seconds": seconds} for row in rows])
    return store.path


def lazy(make: Callable[[], object]) -> Callable[[], object]:
    """``make()`` run on first call only (expensive inputs that a fully computed figure never needs)."""
    cache: list = []

    def get() -> object:
        if not cache:
            cache.append(make())
        return cache[0]

    return get


def rows_for(name: str, quick: bool, what: str) -> list[dict[str, str]]:
    """The stored rows of a figure, or :class:`FigureSkipped` telling what to run first."""
    rows = read_rows(data_path(name, quick))
    if not rows:
        flag = " --quick" if quick else ""
        raise FigureSkipped(f"{name}: no {what} in {data_path(name, quick)} yet; run `aimc figures {name}{flag}`")
    return rows


def colormap(name: str):
    return colormaps[name]


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (7.0, 4.5), **kwargs) -> tuple[Figure, list]:
    """A figure and its axes (a flat list), with the Agg canvas and a readable default style."""
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    flat = [ax for line in axes for ax in line]
    for ax in flat:
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=9)
    return fig, flat


def label_ticks(ax, values: Sequence[float], axis: str = "x") -> None:
    """Ticks exactly at ``values`` labelled as plain numbers (readable on a log axis)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(list(values)))
    target.set_minor_locator(NullLocator())
    target.set_major_formatter(lambda v, _pos: f"{v:g}")


def new_mosaic(layout: list[list[str]], size: tuple[float, float], **kwargs) -> tuple[Figure, dict]:
    """A figure with named axes laid out as ``layout`` (see ``Figure.subplot_mosaic``), styled as above."""
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplot_mosaic(layout, **kwargs)
    for ax in axes.values():
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=9)
    return fig, axes


def save_figure(fig: Figure, name: str, quick: bool = False, suffix: str = "", dpi: int = DPI) -> Path:
    """Write the PNG to the gallery atomically (:func:`aimc.results.atomic_file`) and return its path."""
    path = gallery_path(name, quick, suffix)
    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, dpi=dpi, format="png")
    return path

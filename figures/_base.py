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
Drawing uses matplotlib's object API with the Agg canvas (no pyplot state); images are written atomically,
each PNG with a vector PDF beside it (TrueType fonts embedded, no creation date: the same figure gives the
same bytes). One style for every figure (:func:`style`): the Okabe-Ito palette, which stays distinguishable
under the common colour-vision deficiencies, as the colour cycle (``C0`` blue, ``C1`` orange, ...), and for
the figures laid out as the paper's (:data:`SINGLE_COLUMN` wide) fonts of 7-8 pt.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import matplotlib
from cycler import cycler
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
    "PALETTE",
    "RESULTS_DIR",
    "SINGLE_COLUMN",
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
    "style",
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
PAPER_DPI = 200
"""PNG resolution of the single-column figures (the multi-panel overviews keep :data:`DPI`: they are large)."""
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "bluish green": "#009E73", "vermillion": "#D55E00",
    "reddish purple": "#CC79A7", "sky blue": "#56B4E9", "yellow": "#F0E442", "black": "#000000",
}
"""Okabe & Ito's colour-blind-safe palette, in the order of the colour cycle (``C0`` ... ``C7``)."""
MAPPING_COLORS = {"differential": "C0", "offset": "C1", "offset, unit column": "C3"}
SINGLE_COLUMN = 3.5
"""Width (inches) of a figure laid out as the paper's: one column of a two-column page."""
STYLE = {
    "axes.prop_cycle": cycler(color=list(PALETTE.values())),
    "image.cmap": "viridis",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
}
"""Every figure: the palette, and fonts embedded as TrueType in the PDF (editable, and searchable text)."""
SINGLE_COLUMN_STYLE = {
    **STYLE,
    "font.size": 7.5, "axes.titlesize": 7.5, "axes.labelsize": 7.5, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "figure.titlesize": 8, "axes.linewidth": 0.6, "lines.linewidth": 1.1,
    "lines.markersize": 3.5, "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4, "grid.linewidth": 0.4, "grid.alpha": 0.35, "legend.frameon": False,
    "legend.handlelength": 1.8, "errorbar.capsize": 1.5, "axes.titlepad": 3.0,
}
"""The single-column figures: fonts of at least 7 pt at :data:`SINGLE_COLUMN` inches, thin lines."""


@contextlib.contextmanager
def style(single_column: bool = False) -> Iterator[None]:
    """The project's style while drawing (artists take their colours and fonts when they are created)."""
    with matplotlib.rc_context(SINGLE_COLUMN_STYLE if single_column else STYLE):
        yield


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
    """Write the PNG and the PDF beside it to the gallery atomically (:func:`aimc.results.atomic_file`) and
    return the PNG's path.

    The PDF's metadata hold no creation date, so redrawing unchanged data leaves the file unchanged.
    """
    path = gallery_path(name, quick, suffix)
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        with atomic_file(path, "wb") as handle:
            fig.savefig(handle, dpi=dpi, format="png")
        with atomic_file(path.with_suffix(".pdf"), "wb") as handle:
            fig.savefig(handle, format="pdf", metadata={"CreationDate": None})
    return path

"""The figure framework: where results and images live, a resumable CSV of points, and drawing helpers.

A figure module defines

* ``NAME`` and ``TITLE``;
* ``compute(quick: bool = False, progress: bool = True) -> Path`` (absent for plot-only figures): evaluates
  its points through :func:`compute_points`, which writes one CSV row (or a few) per finished point to
  ``figures/data/<name>.csv`` at once, atomically, and skips the points already there on a rerun;
* ``plot(quick: bool = False) -> list[Path]``: draws ``figures/gallery/<name>.png`` from that CSV (raises
  :class:`FigureSkipped` when there is nothing to draw yet).

``quick`` runs use small sizes (for tests) and write to ``<name>.quick.csv`` / ``<name>.quick.png`` so
they never overwrite the gallery. The folders are module attributes read at call time (tests point them
at a temporary directory). Drawing uses matplotlib's object API with the Agg canvas (no pyplot state).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator
from tqdm import tqdm

from aimc.results import read_csv, write_csv_atomic

__all__ = [
    "DATA_DIR",
    "GALLERY_DIR",
    "MAPPING_COLORS",
    "RESULTS_DIR",
    "FigureSkipped",
    "PointStore",
    "colormap",
    "compute_points",
    "data_path",
    "gallery_path",
    "label_ticks",
    "lazy",
    "new_figure",
    "new_mosaic",
    "number",
    "read_rows",
    "rows_for",
    "save_figure",
    "save_png",
]

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
GALLERY_DIR = PACKAGE_DIR / "gallery"
RESULTS_DIR = PACKAGE_DIR.parent / "validation" / "results"
"""Where ``aimc.validation`` writes its accuracy and MVM CSVs (read by the plot-only figures)."""
DPI = 110
MAPPING_COLORS = {"differential": "C0", "offset": "C1", "offset, unit column": "C3"}


class FigureSkipped(Exception):
    """Nothing to draw (yet): the message says why and what to run."""


def data_path(name: str, quick: bool = False) -> Path:
    return DATA_DIR / f"{name}{'.quick' if quick else ''}.csv"


def gallery_path(name: str, quick: bool = False, suffix: str = "") -> Path:
    return GALLERY_DIR / f"{name}{suffix}{'.quick' if quick else ''}.png"


def _text(value: object) -> str:
    """The CSV text of a value (floats with full precision, lists and dicts as compact JSON)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class PointStore:
    """A CSV of result rows; a point is finished when a row with its key fields exists.

    Every :meth:`add` rewrites the file through a temporary file in the same folder and ``os.replace``,
    so an interrupted run leaves either the old or the new file, never a partial one.
    """

    def __init__(self, path: Path, key_fields: Sequence[str]):
        self.path = Path(path)
        self.key_fields = tuple(key_fields)
        self._rows = read_rows(self.path)

    @property
    def rows(self) -> list[dict[str, str]]:
        return list(self._rows)

    def _key(self, row: dict) -> tuple[str, ...]:
        return tuple(_text(row.get(k, "")) for k in self.key_fields)

    def done(self, point: dict) -> bool:
        wanted = self._key(point)
        return any(self._key(row) == wanted for row in self._rows)

    def add(self, rows: Iterable[dict]) -> None:
        """Store the rows of one finished point (replacing earlier rows of the same point)."""
        new = [{k: _text(v) for k, v in row.items()} for row in rows]
        keys = {self._key(r) for r in new}
        self._rows = [r for r in self._rows if self._key(r) not in keys] + new
        write_csv_atomic(self.path, self._rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    return read_csv(path)


def number(row: dict, key: str) -> float:
    """The float in a CSV cell (NaN when empty or missing)."""
    text = row.get(key, "")
    try:
        return float(text) if text not in ("", None) else math.nan
    except ValueError:
        return math.nan


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
    store = PointStore(data_path(name, quick), list(points[0]))
    todo = [p for p in points if not store.done(p)]
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
    """Write the PNG atomically to the gallery and return its path."""
    return save_png(lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"), name, quick, suffix)


def save_png(draw: Callable[[str], object], name: str, quick: bool = False, suffix: str = "") -> Path:
    """Let ``draw(path)`` write a PNG to a temporary file, then move it into the gallery atomically."""
    path = gallery_path(name, quick, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.png")
    os.close(fd)
    try:
        draw(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

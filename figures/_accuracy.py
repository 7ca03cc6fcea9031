"""The accuracy rows the network figures draw: which runs of an experiment are compared, and their series.

Read from ``<results>/<model>/<experiment>.csv`` as :mod:`aimc.validation.experiments` writes them, and
``<results>/predictor/<model>.csv`` as ``aimc validate predictor`` writes it (``<results>``: ``aimc figures
--results``, the committed ones ``validation/results``). Within an experiment the points are compared on one
test-set size (the one that covers the most points, then the largest), each point from its run with the
most chips: accuracies on different images are not comparable at the precision the figures show.
"""

from __future__ import annotations

from pathlib import Path

from . import _base

__all__ = [
    "IDEAL",
    "Point",
    "baseline",
    "best_runs",
    "design_groups",
    "design_key",
    "finished",
    "group_label",
    "images_text",
    "model_folders",
    "one_test_set",
    "parse_point",
    "planned",
    "predictions",
    "series",
    "split_label",
]

IDEAL = " ideal cells"
NOT_MODELS = {"mvm", "predictor", "conformance", "benchmarks"}
"""Folders of the results that hold no model's accuracy runs."""


def model_folders(experiment: str | None = None) -> list[Path]:
    """The model folders under the results folder (with ``<experiment>.csv``, if given), sorted by name."""
    root = _base.RESULTS_DIR
    if not root.is_dir():
        return []
    folders = (d for d in root.iterdir() if d.is_dir() and d.name not in NOT_MODELS)
    wanted = f"{experiment}.csv" if experiment else "*.csv"
    return sorted(d for d in folders if any(d.glob(wanted)))


def finished(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("point") and r.get("accuracy_mean", "") != ""]


def best_runs(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(point, images) -> the row of that point and test-set size with the most chips."""
    best: dict[tuple[str, str], dict] = {}
    for r in rows:
        key = (r["point"], r.get("images", ""))
        if key not in best or _base.number(r, "chips") >= _base.number(best[key], "chips"):
            best[key] = r
    return best


def one_test_set(rows: list[dict], images: str | None = None) -> list[dict]:
    """The finished points of one experiment at one test-set size (``images``, else the size that covers the
    most points, then the largest), one row per point (the run with the most chips)."""
    done = finished(rows)
    if not done:
        return []
    if images is None:
        sizes: dict[str, set] = {}
        for r in done:
            sizes.setdefault(r.get("images", ""), set()).add(r["point"])
        images = max(sizes, key=lambda size: (len(sizes[size]), _base.number({"i": size}, "i")))
    return [r for (_, size), r in best_runs(done).items() if size == images]


def planned(experiment: str) -> list[str] | None:
    """The point labels :mod:`aimc.validation.experiments` defines for an experiment (None if unknown)."""
    try:
        from aimc.validation.experiments import EXPERIMENTS
    except ImportError:  # the validation extras (torch) are not installed: draw without the count
        return None
    exp = EXPERIMENTS.get(experiment)
    return None if exp is None else [p.label for p in exp.points]


def images_text(size: str) -> str:
    return f"{int(_base.number({'i': size}, 'i')):,}" if size else "?"


def baseline(rows: list[dict]) -> float | None:
    """The 8-bit quantised digital accuracy (%) most of these rows were run against."""
    values = [round(100 * _base.number(r, "baseline_quantized"), 4) for r in rows if r.get("baseline_quantized")]
    return max(set(values), key=values.count) if values else None


def split_label(label: str, token: str) -> tuple[str, float]:
    """(series, x) of a point label such as ``offset-2b alpha=0.005``: the x token removed from the series."""
    parts = label.split()
    x = next(float(p.split("=", 1)[1]) for p in parts if p.startswith(f"{token}="))
    return " ".join(p for p in parts if not p.startswith(f"{token}=")), x


def series(rows: list[dict], token: str, scale: float) -> dict[str, list[tuple[float, float, float]]]:
    """Series name -> sorted (x * scale, mean %, std %) of the rows' point labels."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for r in rows:
        name, x = split_label(r["point"], token)
        out.setdefault(name, []).append(
            (x * scale, 100 * _base.number(r, "accuracy_mean"), 100 * _base.number(r, "accuracy_std")))
    return {name: sorted(pts) for name, pts in sorted(out.items())}


class Point:
    """A point label of the sweeps, ``offset-2b rows=144 r=1e-05``: the mapping, its bits per cell (None:
    unsliced) and the swept values. Words without ``=`` after the first qualify the mapping:
    ``offset unit column rows=144 r=1e-05`` is the mapping ``offset, unit column``."""

    def __init__(self, label: str):
        first, *rest = label.split()
        self.label = label
        self.mapping, _, cells = first.partition("-")
        qualifiers = " ".join(p for p in rest if "=" not in p)
        if qualifiers:
            self.mapping = f"{self.mapping}, {qualifiers}"
        self.bits_per_cell = int(cells[:-1]) if cells.endswith("b") and cells[:-1].isdigit() else None
        self.values = {k: float(v) for k, v in (p.split("=", 1) for p in rest if "=" in p)}

    @property
    def cells(self) -> str:
        return "unsliced" if self.bits_per_cell is None else f"{self.bits_per_cell} b/cell"


def parse_point(label: str) -> Point:
    return Point(label)


def predictions(model: str, experiment: str) -> dict[tuple[str, str], dict]:
    """(point, images) -> the committed prediction of ``aimc predict`` for one model's experiment (only the
    points it predicted; refused ones, beyond the closed forms' validity, are left out)."""
    rows = _base.read_rows(_base.RESULTS_DIR / "predictor" / f"{model}.csv")
    return {(r["point"], r.get("images", "")): r for r in rows
            if r.get("experiment") == experiment and r.get("predicted", "") != ""}


def design_key(point: str) -> tuple[str, str, bool]:
    """(design, variant, ideal cells) of a designs point label: ``design-e granular ADC ideal cells`` is
    (``design-e``, ``granular ADC``, True); ``design-a`` is (``design-a``, ``""``, False)."""
    ideal = point.endswith(IDEAL)
    design, _, variant = point[: -len(IDEAL) if ideal else None].partition(" ")
    return design, variant, ideal


def group_label(design: str, variant: str) -> str:
    return f"{design} ({variant})" if variant else design


def design_groups(rows: list[dict], images: str | None = None
                  ) -> tuple[str, list[tuple[str, dict | None, dict | None]]]:
    """The designs compared on one test-set size (see :func:`one_test_set`): that size and one group per
    design and variant (a design's own point first, then its variants such as ``granular ADC``, each from
    the point label), as (group label, ideal-cells row or None, device-error row or None)."""
    chosen = one_test_set(rows, images)
    groups: dict[tuple[str, str], dict[bool, dict]] = {}
    for r in chosen:
        design, variant, ideal = design_key(r["point"])
        groups.setdefault((design, variant), {})[ideal] = r
    size = chosen[0].get("images", "") if chosen else ""
    return size, [(group_label(*key), groups[key].get(True), groups[key].get(False)) for key in sorted(groups)]

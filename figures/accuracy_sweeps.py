"""Network accuracy sweeps (the paper's Figs. 8-13, 16-17, 22 and Table 4), drawn from the validation CSVs.

Plot-only: reads whatever :mod:`aimc.validation.experiments` has written to
``validation/results/<model>/<experiment>.csv`` (accuracy vs programming-error alpha by mapping and by
slicing, vs ADC bits, vs rows and bits per cell, vs wire resistance, and the designs A, B, C, E) and draws
one PNG per model, ``accuracy_sweeps-<model>.png``, one panel per experiment present. The dashed line is
the 8-bit quantised digital network of the same CSV (``baseline_quantized``). Skipped with a message while
no CSV exists. The assumptions of every sweep are those of ``aimc.validation.experiments`` (its module
docstring); within an experiment all points are drawn at one test-set size (the one that covers the most
points), each from its run with the most chips.
"""

from __future__ import annotations

import math
from pathlib import Path

from . import _base

NAME = "accuracy_sweeps"
TITLE = "Top-1 accuracy sweeps of the reference ResNet-50s (from validation/results)"

SWEEPS = {
    "cell-si-mapping": ("alpha", 100.0, "log", "state-independent alpha (% of Gmax)", "state-independent error"),
    "cell-sp-mapping": ("alpha", 100.0, "log", "state-proportional alpha (% of G)", "state-proportional error"),
    "cell-si-slices": ("alpha", 100.0, "log", "state-independent alpha (% of Gmax)",
                       "state-independent error, bit slicing"),
    "cell-sp-slices": ("alpha", 100.0, "log", "state-proportional alpha (% of G)",
                       "state-proportional error, bit slicing"),
    "adc-bits": ("adc", 1.0, "linear", "ADC resolution (bits, calibrated)", "ADC resolution, ideal devices"),
    "adc-rows": ("rows", 1.0, "log2", "rows per array", "8-bit ADC vs rows and bits per cell, ideal devices"),
    "parasitics": ("r", 1.0, "log", "normalised wire resistance r = R_wire Gmax", "parasitic resistance, 8-bit ADC"),
}
"""experiment -> (label token of the x value, scale to the axis unit, axis scale, x label, panel title)."""
UNSLICED_REFERENCE = {"cell-si-slices": "cell-si-mapping", "cell-sp-slices": "cell-sp-mapping"}
DESIGNS = "designs"


def _models() -> list[Path]:
    root = _base.RESULTS_DIR
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and d.name != "mvm" and any(d.glob("*.csv")))


def _latest(rows: list[dict]) -> list[dict]:
    """The finished points of one experiment at one test-set size (the size that covers the most points, then
    the largest), one row per point (the run with the most chips): points are compared on the same images."""
    done = [r for r in rows if r.get("point") and r.get("accuracy_mean", "") != ""]
    if not done:
        return []
    sizes: dict[str, set] = {}
    for r in done:
        sizes.setdefault(r.get("images", ""), set()).add(r["point"])
    images = max(sizes, key=lambda size: (len(sizes[size]), _base.number({"i": size}, "i")))
    best: dict[str, dict] = {}
    for r in done:
        if r.get("images", "") == images and (
                r["point"] not in best or _base.number(r, "chips") >= _base.number(best[r["point"]], "chips")):
            best[r["point"]] = r
    return list(best.values())


def _split(label: str, token: str) -> tuple[str, float]:
    """(series, x) of a point label such as ``offset-2b alpha=0.005``: the x token removed from the series."""
    parts = label.split()
    x = next(float(p.split("=", 1)[1]) for p in parts if p.startswith(f"{token}="))
    return " ".join(p for p in parts if not p.startswith(f"{token}=")), x


def _style(series: str) -> dict:
    offset = series.startswith("offset")
    return {"ls": "--" if offset else "-", "marker": "s" if offset else "o"}


def _sweep_panel(ax, experiment: str, tables: dict[str, list[dict]]) -> None:
    token, scale, axis, xlabel, title = SWEEPS[experiment]
    rows = _latest(tables[experiment])
    if experiment in UNSLICED_REFERENCE and UNSLICED_REFERENCE[experiment] in tables:
        rows += [r for r in _latest(tables[UNSLICED_REFERENCE[experiment]])]
    series: dict[str, list[tuple[float, float, float]]] = {}
    for r in rows:
        name, x = _split(r["point"], token)
        series.setdefault(name, []).append(
            (x * scale, 100 * _base.number(r, "accuracy_mean"), 100 * _base.number(r, "accuracy_std")))
    for name in sorted(series):
        pts = sorted(series[name])
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], capsize=2, ms=4,
                    label=name, **_style(name))
    baseline = [_base.number(r, "baseline_quantized") for r in rows if r.get("baseline_quantized")]
    if baseline:
        ax.axhline(100 * baseline[0], color="k", ls=":", lw=1, label="8-bit digital")
    xs = sorted({p[0] for pts in series.values() for p in pts})
    if axis != "linear":
        ax.set_xscale("log", base=2 if axis == "log2" else 10)
        _base.label_ticks(ax, xs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{title}, {rows[0].get('images', '?')} images", fontsize=10)
    ax.legend(fontsize=7, ncol=2)


def _designs_panel(ax, rows: list[dict]) -> None:
    rows = _latest(rows)
    designs = sorted({r["point"].split()[0] for r in rows})
    for offset, (suffix, color, label) in enumerate(((" ideal cells", "0.6", "ideal cells"),
                                                      ("", "C3", "SONOS programming error"))):
        values = []
        for d in designs:
            r = next((r for r in rows if r["point"] == d + suffix), None)
            values.append((math.nan, 0.0) if r is None else (100 * _base.number(r, "accuracy_mean"),
                                                             100 * _base.number(r, "accuracy_std")))
        x = [i + (offset - 0.5) * 0.38 for i in range(len(designs))]
        ax.bar(x, [v[0] for v in values], 0.36, yerr=[v[1] for v in values], capsize=3, color=color, label=label)
        for xi, (v, s) in zip(x, values):
            if not math.isnan(v):
                ax.text(xi, v + s + 0.5, f"{v:.1f}", ha="center", fontsize=8)
    baseline = [_base.number(r, "baseline_quantized") for r in rows if r.get("baseline_quantized")]
    if baseline:
        ax.axhline(100 * baseline[0], color="k", ls=":", lw=1, label="8-bit digital")
    values = [100 * _base.number(r, "accuracy_mean") for r in rows]
    ax.set_ylim(max(0.0, min(values) - 10), max(values) + 5)
    ax.set_xticks(range(len(designs)), labels=designs)
    ax.set_xlim(-0.7, len(designs) - 0.3)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"paper designs (Table 4), {rows[0].get('images', '?')} images; error bars: std over chips",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower left")


def plot(quick: bool = False) -> list[Path]:
    models = _models()
    if not models:
        raise _base.FigureSkipped(
            f"{NAME}: no accuracy CSV under {_base.RESULTS_DIR} yet; run `python -m aimc.validation.experiments "
            f"run designs cell-si-mapping ... --model resnet50-tinyimagenet --device cuda`, then "
            f"`aimc figures {NAME}`")
    paths = []
    for folder in models:
        tables = {p.stem: _base.read_rows(p) for p in sorted(folder.glob("*.csv"))}
        panels = [e for e in (DESIGNS, *SWEEPS) if tables.get(e) and _latest(tables[e])]
        if not panels:
            continue
        cols = min(3, len(panels))
        n_rows = math.ceil(len(panels) / cols)
        fig, axes = _base.new_figure(n_rows, cols, (5.6 * cols, 4.3 * n_rows + 0.6))
        for ax, experiment in zip(axes, panels):
            if experiment == DESIGNS:
                _designs_panel(ax, tables[experiment])
            else:
                _sweep_panel(ax, experiment, tables)
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        images = sorted({r.get("images", "") for t in panels for r in _latest(tables[t])})
        fig.suptitle(f"Top-1 accuracy on simulated analog hardware: {folder.name}\n({', '.join(images)} test "
                     f"images; validation/results/{folder.name})", fontsize=11)
        paths.append(_base.save_figure(fig, NAME, quick, suffix=f"-{folder.name}"))
    if not paths:
        raise _base.FigureSkipped(f"{NAME}: the CSVs under {_base.RESULTS_DIR} hold no finished accuracy point yet")
    return paths

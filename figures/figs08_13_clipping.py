"""Top-1 accuracy against state-independent error under three clipping conventions (Figs. 8-13, extended).

Not a figure of the paper: the state-independent sweep of the paper's Figs. 8-13 (curves not available),
differential against offset, unsliced, no ADC, 1152 rows, run with the programmed conductances clipped to
[g_min, Gmax] at infinite On/Off (``cell-si-mapping``, paper-era CrossSim), not clipped
(``cell-si-noclip``), and under CrossSim 3.2's defaults, On/Off 100 and clipping at 0 only
(``cell-si-crosssim``). Clipping at g_min = 0 biases every differential cell programmed there (a mean
shift of 0.4 alpha Gmax, ``validation/results/README.md``), which decides which mapping is the more
tolerant: the verdict of ``mapping-si`` depends on it. Drawn per reference model with ``cell-si-mapping``
and at least one of the other two; the note names the conventions not run yet. Every curve is on the
test images of the clipped sweep. Dotted: ``aimc predict`` on the same points (committed comparison).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import _accuracy, _base, _paper

NAME = "figs08_13_clipping"
TITLE = "Top-1 accuracy vs state-independent error under three clipping conventions (Figs. 8-13 extended)"
PAPER = "Figs. 8-13, extended (the state-independent sweep with and without clipping at g_min; not in the paper)"
CLAIMS = ("mapping-si",)
SOURCES = ("validation/results/<model>/cell-si-mapping.csv", "validation/results/predictor/<model>.csv")
OPTIONAL_SOURCES = ("validation/results/<model>/cell-si-noclip.csv", "validation/results/<model>/cell-si-crosssim.csv")
"""Drawn where present (the figure says when they are not)."""
CLIPPED = "cell-si-mapping"
VARIANTS = {"cell-si-noclip": ("--", "s", "not clipped"),
            "cell-si-crosssim": (":", "^", "CrossSim: On/Off 100, clip at 0")}
LINES = {CLIPPED: ("-", "o", "clipped to [g_min, Gmax]"), **VARIANTS}
"""Experiment -> (line style, marker, convention)."""
MISSING = {"cell-si-noclip": "the sweep without clipping", "cell-si-crosssim": "CrossSim 3.2's conventions"}
SWEEP = _paper.Sweep(CLIPPED, "alpha", "state-independent alpha (% of Gmax)", scale=100.0, xscale="linear")


def _curves(ax, model: str, experiment: str, rows: list[dict]) -> bool:
    """Both mappings of one convention; whether any of its points was predicted."""
    predicted = _accuracy.predictions(model, experiment)
    ls, marker, _ = LINES[experiment]
    for mapping in _paper.MAPPINGS:
        curve = sorted((r for r in rows if _accuracy.parse_point(r["point"]).mapping == mapping),
                       key=lambda r: _accuracy.split_label(r["point"], "alpha")[1])
        style = {"color": _base.MAPPING_COLORS[mapping], "marker": marker, "ls": ls, "label": mapping}
        _paper.draw_curve(ax, curve, SWEEP, predicted, style)
    return bool({(r["point"], r.get("images", "")) for r in rows} & set(predicted))


def conventions(tables: dict) -> dict[str, list[dict]]:
    """Experiment -> its rows on the clipped sweep's test images, for every convention with rows there."""
    clipped = _accuracy.one_test_set(tables[CLIPPED])
    images = clipped[0].get("images", "")
    found = {experiment: _accuracy.one_test_set(tables.get(experiment, []), images) for experiment in VARIANTS}
    return {CLIPPED: clipped, **{experiment: rows for experiment, rows in found.items() if rows}}


def _draw(tables: dict, model: str) -> Figure | None:
    chosen = conventions(tables)
    if len(chosen) == 1:
        return None
    fig, (ax,) = _paper.new_figure(1, 2.4)
    predicted_any = False
    for experiment, rows in chosen.items():
        predicted_any |= _curves(ax, model, experiment, rows)
    every = [r for rows in chosen.values() for r in rows]
    _paper.baseline_line(ax, every)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_xlabel(SWEEP.xlabel)
    lines = [(Line2D([], [], color="0.3", ls=ls, marker=marker), text)
             for experiment, (ls, marker, text) in LINES.items() if experiment in chosen]
    _paper.legend_below(fig, [ax], lines + _paper.simulated_predicted(_paper.chips_text(every), predicted_any))
    missing = {e: text for e, text in MISSING.items() if e not in chosen}
    note = "\n".join(filter(None, ("unsliced, no ADC", _paper.missing_note({}, missing), _paper.stale_note(every))))
    images = _accuracy.images_text(every[0].get("images", ""))
    _paper.title(fig, f"{_paper.model_text(model)}, {images} test images\n{note}")
    return fig


def plot(quick: bool = False) -> list[Path]:
    return _paper.per_model(NAME, quick, CLIPPED, _draw)

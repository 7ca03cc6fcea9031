"""Histogram of one layer's ADC inputs with the calibrated range (paper Fig. 14).

The paper's Fig. 14 (p. 39): the histogram (log counts) of the normalised ADC input V / Delta V_max of
ResNet50-v1.5's 6th convolution (res2b_branch2b), differential cells, unsliced, on the calibration set, with
Delta V_data (the inner P = 99.98 %) marked. Drawn as the paper lays a figure out from the rows
``adc_histogram`` computed (``figures/data/adc_histogram.csv``): the same 6th convolution of the
Tiny-ImageNet reference ResNet-50 (``layer1.1.conv2``, 576 rows) on 24 calibration images, ideal cells,
unsliced, 1152 rows, (a) differential with analog accumulation of the 8 input bits (one conversion per
MVM, the paper's pairing for differential designs) and (b) offset with one conversion per input bit (its
pairing for offset designs). Dashed: the calibrated 8-bit range. Delta V_max is the largest possible ADC
input range (every row at its largest input and conductance); the paper's own normalisation of the
x-axis is not available, so the values differ from its -0.5 ... +0.25 (``figures/README.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from . import _base, _paper

NAME = "fig14_adc_histogram"
TITLE = "ADC input histogram of the 6th convolution with the calibrated range (paper Fig. 14)"
PAPER = "Fig. 14 (histogram of the ADC inputs of res2b_branch2b)"
CLAIMS = ("adc-differential-fewer-bits", "fig17-offset")
SOURCES = ("figures/data/adc_histogram.csv",)
SOURCE = "adc_histogram"
TARGET = "layer1.1.conv2"
PANELS = {"differential, analog input accumulation": ("(a) differential, one conversion per MVM", "C0", 0.02),
          "offset, ADC per input bit": ("(b) offset, one conversion per input bit", "C1", 0.98)}
"""config -> (panel title, colour, where the panel's note goes: the side the histogram leaves empty)."""
HEADROOM = 300.0
DELTA_DATA, DELTA_MAX = r"$\Delta V_\mathrm{data}$", r"$\Delta V_\mathrm{max}$"


def _histogram(ax, row: dict, color: str, side: float) -> None:
    counts = np.array(json.loads(row["hist_counts"]), dtype=float)
    edges = np.linspace(_base.number(row, "hist_low"), _base.number(row, "hist_high"), len(counts) + 1)
    shown = np.where(counts > 0, counts, np.nan)
    ax.stairs(shown, edges, color=color, fill=True, alpha=0.35, lw=0)
    ax.stairs(shown, edges, color=color, lw=0.7)
    width = _base.number(row, "max_high") - _base.number(row, "max_low")
    low, high = (_base.number(row, k) / width for k in ("calibrated_low", "calibrated_high"))
    for edge in (low, high):
        ax.axvline(edge, color="k", ls="--", lw=0.7)
    ax.set_yscale("log")
    # two decades of headroom above the peak, where the note sits without hiding any bin
    ax.set_ylim(0.5, counts.max() * HEADROOM)
    ax.set_ylabel("count")
    share = 100 * _base.number(row, "fraction_of_max")
    ax.text(side, 0.95, f"{int(row['signals']) / 1e6:.1f} M inputs\n{DELTA_DATA} = {share:.2g} %\nof {DELTA_MAX}",
            transform=ax.transAxes, ha="left" if side < 0.5 else "right", va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0})


def _draw(rows: list[dict]) -> Figure:
    target = {r["config"]: r for r in rows if r["layer"] == TARGET and r.get("hist_counts")}
    panels = [c for c in PANELS if c in target]
    fig, axes = _paper.new_figure(len(panels), 1.8)
    for ax, config in zip(axes, panels):
        title, color, side = PANELS[config]
        _histogram(ax, target[config], color, side)
        _paper.panel_label(ax, title)
    axes[-1].set_xlabel(f"ADC input V / {DELTA_MAX}")
    images = target[panels[0]]["images"]
    fig.suptitle(f"{_paper.model_text(target[panels[0]]['model'])}, {TARGET} (res2b_branch2b)\n{images} "
                 "calibration images, ideal cells\ndashed: the calibrated range (inner 99.98 %)")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _paper.figure_data(NAME, SOURCE, quick, "ADC profiles")
    if not any(r["layer"] == TARGET and r.get("hist_counts") and r["config"] in PANELS for r in rows):
        raise _base.FigureSkipped(f"{NAME}: {SOURCE}'s rows hold no histogram of {TARGET} for "
                                  f"{' or '.join(PANELS)}; run `aimc figures {SOURCE}` (not --quick)")
    return _paper.single(NAME, quick, lambda: _draw(rows))

"""The used fraction of the largest ADC range, per layer and scheme (paper Fig. 15).

The paper's Fig. 15 (p. 39): Delta V_data / Delta V_max per layer (and slice) of ResNet50-v1.5, where
Delta V_data holds the inner P = 99.98 % of a layer's ADC inputs on the calibration set and Delta V_max is
the largest possible range: with offset subtraction the signal uses only 10-20 % of it. Drawn as the paper
lays a figure out from the rows ``adc_histogram`` computed (``figures/data/adc_histogram.csv``): all 54
layers of the Tiny-ImageNet reference ResNet-50 on 24 calibration images, ideal cells, unsliced, 1152 rows,
differential (analog subtraction) and offset (digital offset), each with one ADC conversion per input bit
and with analog accumulation of the 8 input bits. Shaded: the paper's 10-20 % for offset. No closed form:
the fraction is a percentile of the profiled signals.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _base, _paper

NAME = "fig15_adc_range"
TITLE = "Used fraction of the largest ADC range per layer, by mapping and input accumulation (paper Fig. 15)"
PAPER = "Fig. 15 (Delta V_data / Delta V_max per layer; offset uses 10-20 %)"
CLAIMS = ("adc-differential-fewer-bits", "fig17-offset")
SOURCES = ("figures/data/adc_histogram.csv",)
SOURCE = "adc_histogram"
CONFIGS = {
    "offset, ADC per input bit": ("C1", "-", "o"),
    "offset, analog input accumulation": ("C1", ":", "s"),
    "differential, ADC per input bit": ("C0", "-", "o"),
    "differential, analog input accumulation": ("C0", ":", "s"),
}
PAPER_OFFSET = (10.0, 20.0)
"""The paper's range for offset subtraction (%, p. 39)."""


def _draw(rows: list[dict]) -> Figure:
    fig, (ax,) = _paper.new_figure(1, 2.5)
    ax.axhspan(*PAPER_OFFSET, color="C1", alpha=0.15, lw=0, label="paper: offset 10-20 %")
    for config, (color, ls, marker) in CONFIGS.items():
        chosen = sorted((r for r in rows if r["config"] == config), key=lambda r: int(r["layer_index"]))
        if chosen:
            values = [100 * _base.number(r, "fraction_of_max") for r in chosen]
            ax.plot([int(r["layer_index"]) + 1 for r in chosen], values, color=color, ls=ls, marker=marker,
                    ms=2, lw=0.8, label=config.replace("ADC per input bit", "a conversion per input bit"))
    ax.set_yscale("log")
    _base.label_ticks(ax, [0.1, 0.3, 1, 3, 10, 20, 50], axis="y")
    ax.set_xlabel("layer (execution order; 54 = fully connected)")
    ax.set_ylabel(r"$\Delta V_\mathrm{data}\,/\,\Delta V_\mathrm{max}$ (%)")
    _paper.legend_below(fig, [ax], columns=1)
    fig.suptitle(f"{_paper.model_text(rows[0]['model'])}, {rows[0]['images']} calibration images\n"
                 "ideal cells, unsliced, 1152 rows, inner 99.98 %")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _paper.figure_data(NAME, SOURCE, quick, "ADC profiles")
    return _paper.single(NAME, quick, lambda: _draw(rows))

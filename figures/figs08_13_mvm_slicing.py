"""Sliced over unsliced MVM error against bits per cell: the closed forms and Monte Carlo (Figs. 8-13).

The MVM-level counterpart of the paper's slicing results (Sections 3.1 and 5.2-5.3, Figs. 8-13; curves
not available), drawn as the paper lays a figure out from the rows ``bit_slicing`` computed
(``figures/data/bit_slicing.csv``): the relative RMS error with b-bit slices over the unsliced one, (a)
state-independent (alpha = 1 % of Gmax) and (b) state-proportional (alpha = 10 % of G) error, without
clipping (the accumulation the derivation describes), no ADC, the synthetic layer (1152 rows), infinite
On/Off. Coloured lines: :func:`aimc.theory.error_budget` for each series; open markers: the Monte Carlo
(95 % interval). Black curve in (a): the derived closed form for full slices of b bits over B magnitude
bits, (2^b - 1) sqrt((4^B - 1) / (4^b - 1)) / (2^B - 1), which tends to (1 - 2^-b) / sqrt(1 - 4^-b)
(``shared/PAPER.md`` section 3.3: 0.58 / 0.77 / 0.94 for 1-, 2-, 4-bit cells), drawn for B = 8.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from . import _paper, bit_slicing

NAME = "figs08_13_mvm_slicing"
TITLE = "Sliced / unsliced MVM error vs bits per cell, closed forms and Monte Carlo (Figs. 8-13, MVM level)"
PAPER = "Figs. 8-13 at MVM level, with the derived closed form of shared/PAPER.md section 3.3"
CLAIMS = ("slicing-benefit-si", "slicing-benefit-sp")
SOURCES = ("figures/data/bit_slicing.csv",)
SOURCE = "bit_slicing"
MAGNITUDE_BITS = 8
PANELS = {"state_independent": "(a) state-independent, alpha = 1 % of Gmax",
          "state_proportional": "(b) state-proportional, alpha = 10 % of G"}
COLORS = {"differential, 8-bit weights": "C0", "differential, 9-bit weights": "C5", "offset, 8-bit weights": "C1"}
MARKERS = {"differential, 8-bit weights": "o", "differential, 9-bit weights": "s", "offset, 8-bit weights": "^"}


def full_slice_ratio(bits_per_cell: float, magnitude_bits: int = MAGNITUDE_BITS) -> float:
    """State-independent error of full b-bit slices over unsliced cells (``shared/PAPER.md`` 3.3)."""
    b, big = bits_per_cell, magnitude_bits
    return (2**b - 1) * math.sqrt((4**big - 1) / (4**b - 1)) / (2**big - 1)


def _ratio_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in bit_slicing.ratios([r for r in rows if r["clip"] == "none"]):
        half = r["mc_ratio_half_width"]
        x = bit_slicing.UNSLICED_X if r["slices"] == "1" else int(r["bits_per_cell"])
        out.append({**r, "x": x, "mc_ci_low": r["mc_ratio"] - half, "mc_ci_high": r["mc_ratio"] + half})
    return out


def _draw(rows: list[dict]) -> Figure:
    ratios = _ratio_rows(rows)
    fig, axes = _paper.new_figure(2, 2.0, sharex=True)
    for ax, (model, title) in zip(axes, PANELS.items()):
        ax.axhline(1.0, color="0.5", lw=0.6)
        for series, color in COLORS.items():
            chosen = [r for r in ratios if r["error_model"] == model and r["series"] == series]
            if chosen:
                style = {"color": color, "marker": MARKERS[series], "label": series}
                _paper.theory_and_simulation(ax, chosen, "x", style, "theory_ratio", "mc_ratio")
        if model == "state_independent":
            b = np.linspace(1, MAGNITUDE_BITS, 200)
            ax.plot(b, [full_slice_ratio(v) for v in b], color="k", lw=0.9, ls="--",
                    label=f"derived, full slices of {MAGNITUDE_BITS} bits")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, bit_slicing.UNSLICED_X], labels=["1", "2", "4", "unsliced"])
        ax.minorticks_off()
        ax.set_ylabel("error sliced / unsliced")
        _paper.panel_label(ax, title)
    axes[-1].set_xlabel("bits per cell")
    _paper.legend_below(fig, axes, _paper.theory_simulation_legend(_paper.chips_text(rows, "mc_chips")))
    fig.suptitle(f"Bit slicing at MVM level, {rows[0]['layer']} layer\nno clipping, no ADC, infinite On/Off")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _paper.figure_data(NAME, SOURCE, quick, "bit-slicing errors")
    return _paper.single(NAME, quick, lambda: _draw(rows))

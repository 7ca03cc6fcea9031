"""Top-1 accuracy against bit-line wire resistance, differential against offset (paper Fig. 22).

The paper's Fig. 22 (not available; ``shared/PAPER.md`` section 5: accuracy against the normalised
parasitic resistance R_p Gmax for mappings and array sizes; offset is the more sensitive, p. 44) as
:mod:`aimc.validation.experiments` ran it (``parasitics``): ideal cells, unsliced, the paper's cell
topology (inputs on the gates, resistance between adjacent cells of a bit line only, bit line held at
virtual ground; exact circuit solves), differential with analog subtraction against offset with a digital
offset, 8-bit calibrated ADC after analog input accumulation, 144 and 1152 rows, r = R_wire Gmax from 1e-5
to 1e-3, on 200 test images and one chip (no device randomness). Beside them, where it has run,
``parasitics-unit-column``: offset with the offset removed by a unit column in each array (the paper's offset
designs), whose column sees the same wire resistance as the weights, so that subtracting it cancels most of
the offset's IR drop (the closed form's claim); the figure's note says when those rows are not committed
yet. Dotted: ``aimc predict`` where it predicted (its first-order wire-resistance model refuses the points
beyond its validity, r N I_max > 0.24).
"""

from __future__ import annotations

from pathlib import Path

from . import _paper

NAME = "fig22_parasitics"
TITLE = "Top-1 accuracy vs normalised bit-line wire resistance, differential vs offset (paper Fig. 22)"
PAPER = "Fig. 22 (accuracy vs normalised parasitic resistance by mapping and array size; curves not available)"
CLAIMS = ("parasitics-offset-worse",)
SOURCES = ("validation/results/<model>/parasitics.csv", "validation/results/predictor/<model>.csv")
OPTIONAL_SOURCES = ("validation/results/<model>/parasitics-unit-column.csv",)
"""Drawn where present (the figure says when they are not)."""
SWEEP = _paper.Sweep("parasitics", "r", r"normalised wire resistance $r = R_\mathrm{wire}\,G_\mathrm{max}$",
                     joined={"parasitics-unit-column": "offset with a unit column"}, note="ideal cells, 8-bit ADC")


def plot(quick: bool = False) -> list[Path]:
    return _paper.plot_sweep(NAME, quick, SWEEP)

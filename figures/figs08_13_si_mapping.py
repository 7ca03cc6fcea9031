"""Top-1 accuracy against state-independent programming error, differential against offset (paper Figs. 8-13).

The paper's Figs. 8-13 draw ResNet50-v1.5's accuracy against the size of the cell programming error, per
mapping and slicing (which of the six shows which sweep, and every curve value, is not available:
``shared/PAPER.md`` section 5). This is the state-independent sweep (sigma = alpha Gmax) of the two
unsliced mappings, as :mod:`aimc.validation.experiments` ran it (``cell-si-mapping``): differential
one-sided pairs with analog subtraction against offset with a digital offset, no ADC, 1152 rows, infinite
On/Off, programmed conductances clipped to [g_min, Gmax]. Simulated points: mean and standard deviation
over the programmed chips; dotted: the prediction of ``aimc predict`` for the same points (its committed
comparison), the network-level closed form. One image per reference model with the rows.
"""

from __future__ import annotations

from pathlib import Path

from . import _paper

NAME = "figs08_13_si_mapping"
TITLE = "Top-1 accuracy vs state-independent programming error: differential vs offset (paper Figs. 8-13)"
PAPER = "Figs. 8-13 (the state-independent sweep by mapping; which of the six figures it is, is not known)"
CLAIMS = ("mapping-si",)
SOURCES = ("validation/results/<model>/cell-si-mapping.csv", "validation/results/predictor/<model>.csv")
SWEEP = _paper.Sweep("cell-si-mapping", "alpha", "state-independent alpha (% of Gmax)", scale=100.0, xscale="linear",
                     note="unsliced, no ADC")


def plot(quick: bool = False) -> list[Path]:
    return _paper.plot_sweep(NAME, quick, SWEEP)

"""Top-1 accuracy against state-proportional programming error, differential against offset (paper Figs. 8-13).

The state-proportional sweep (sigma = alpha G) of the paper's Figs. 8-13 (curves not available,
``shared/PAPER.md`` section 5): the two unsliced mappings as :mod:`aimc.validation.experiments` ran them
(``cell-sp-mapping``): differential one-sided pairs with analog subtraction against offset with a digital
offset, no ADC, 1152 rows, infinite On/Off, clipped to [g_min, Gmax]. The paper's argument: zero-peaked
weights put most differential cells near Gmin, where a proportional error is small, and most offset cells
at mid-range. Simulated points: mean and standard deviation over chips; dotted: ``aimc predict`` on the
same points (committed comparison). One image per reference model with the rows.
"""

from __future__ import annotations

from pathlib import Path

from . import _paper

NAME = "figs08_13_sp_mapping"
TITLE = "Top-1 accuracy vs state-proportional programming error: differential vs offset (paper Figs. 8-13)"
PAPER = "Figs. 8-13 (the state-proportional sweep by mapping; which of the six figures it is, is not known)"
CLAIMS = ("mapping-sp", "proportional-mapping")
SOURCES = ("validation/results/<model>/cell-sp-mapping.csv", "validation/results/predictor/<model>.csv")
SWEEP = _paper.Sweep("cell-sp-mapping", "alpha", "state-proportional alpha (% of G)", scale=100.0, xscale="linear",
                     note="unsliced, no ADC")


def plot(quick: bool = False) -> list[Path]:
    return _paper.plot_sweep(NAME, quick, SWEEP)

"""Top-1 accuracy against state-proportional programming error with weight bit slicing (paper Figs. 8-13).

The slicing sweeps of the paper's Figs. 8-13 (curves not available, ``shared/PAPER.md`` section 5): (a)
differential and (b) offset cells, unsliced (the ``cell-sp-mapping`` rows on the same test images) and with
4-, 2- and 1-bit slices (``cell-sp-slices``), state-proportional sigma = alpha G, no ADC, 1152 rows,
infinite On/Off, clipped to [g_min, Gmax]. Fine slices put every set bit at Gmax, where clipping turns a
proportional error into a bias (``validation/results/README.md``). Simulated points: mean and standard
deviation over chips; dotted: ``aimc predict`` on the same points (committed comparison). One image per
reference model with the rows.
"""

from __future__ import annotations

from pathlib import Path

from . import _paper

NAME = "figs08_13_sp_slices"
TITLE = "Top-1 accuracy vs state-proportional error with bit slicing, per mapping (paper Figs. 8-13)"
PAPER = "Figs. 8-13 (the state-proportional sweep by bits per cell; which of the six figures it is, is not known)"
CLAIMS = ("slicing-benefit-sp", "slicing-no-rescue-sp")
SOURCES = ("validation/results/<model>/cell-sp-slices.csv", "validation/results/<model>/cell-sp-mapping.csv",
           "validation/results/predictor/<model>.csv")
SWEEP = _paper.Sweep("cell-sp-slices", "alpha", "state-proportional alpha (% of G)", scale=100.0, xscale="linear",
                     by_mapping=True, joined={"cell-sp-mapping": "unsliced cells"}, note="no ADC")


def plot(quick: bool = False) -> list[Path]:
    return _paper.plot_sweep(NAME, quick, SWEEP)

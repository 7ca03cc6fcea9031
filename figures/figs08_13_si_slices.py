"""Top-1 accuracy against state-independent programming error with weight bit slicing (paper Figs. 8-13).

The slicing sweeps of the paper's Figs. 8-13 (curves not available, ``shared/PAPER.md`` section 5): (a)
differential and (b) offset cells, unsliced (the ``cell-si-mapping`` rows on the same test images) and with
4-, 2- and 1-bit slices (``cell-si-slices``), state-independent sigma = alpha Gmax, no ADC, 1152 rows,
infinite On/Off, clipped to [g_min, Gmax]; 8-bit weights (differential: 7 magnitude bits, so the top 2- and
4-bit slices are under-used). The paper's claim: slicing gives only a small benefit and cannot rescue
error-prone cells. Simulated points: mean and standard deviation over chips; dotted: ``aimc predict`` on
the same points (committed comparison). One image per reference model with the rows.
"""

from __future__ import annotations

from pathlib import Path

from . import _paper

NAME = "figs08_13_si_slices"
TITLE = "Top-1 accuracy vs state-independent error with bit slicing, per mapping (paper Figs. 8-13)"
PAPER = "Figs. 8-13 (the state-independent sweep by bits per cell; which of the six figures it is, is not known)"
CLAIMS = ("slicing-benefit-si", "slicing-no-rescue-si")
SOURCES = ("validation/results/<model>/cell-si-slices.csv", "validation/results/<model>/cell-si-mapping.csv",
           "validation/results/predictor/<model>.csv")
SWEEP = _paper.Sweep("cell-si-slices", "alpha", "state-independent alpha (% of Gmax)", scale=100.0, xscale="linear",
                     by_mapping=True, joined={"cell-si-mapping": "unsliced cells"}, note="no ADC")


def plot(quick: bool = False) -> list[Path]:
    return _paper.plot_sweep(NAME, quick, SWEEP)

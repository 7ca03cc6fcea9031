"""Theory against Monte Carlo at MVM level: the identity plot of the validation sweep.

Plot-only: draws the sweep's CSV (``<results>/mvm/mvm.csv``, written by ``aimc validate mvm``,
:mod:`aimc.validation.sweep`; the repository's own is ``validation/results/mvm/mvm.csv``): the theory's
relative RMS error against the Monte Carlo one with its 95 % interval, log-log, coloured by mapping
(circles where no documented approximation applies, triangles where one does), the +-3 % tolerance band,
and the points outside tolerance circled in red. The sweep's design is documented in
:mod:`aimc.validation.sweep`, the comparison and its verdict rule in :mod:`aimc.validation.comparison`.
Skipped with a message while no CSV exists. Its companion :mod:`aimc.figures.mvm_regimes` draws the same
rows against the parameters where the theory's approximations break.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from aimc.validation.comparison import TOLERANCE

from aimc.results import flag, number

from . import _base, _mvm

NAME = "mvm_identity"
TITLE = "Theory vs Monte Carlo relative RMS MVM error over the validation sweep (identity plot)"


def plot(quick: bool = False) -> list[Path]:
    rows = [r for r in _mvm.sweep_rows(NAME) if number(r, "mc_sigma") > 0 and number(r, "theory_sigma") > 0]
    fig, (ax,) = _base.new_figure(size=(7.5, 7))
    for colour, mapping in zip(_base.colormap("tab10").colors, sorted({r["mapping"] for r in rows})):
        for expected, marker in ((True, "o"), (False, "^")):
            group = [r for r in rows if r["mapping"] == mapping and flag(r, "expected") == expected]
            if group:
                label = mapping + ("" if expected else " (documented approximation)")
                _errorbars(ax, group, marker, colour, label)
    outside = [r for r in rows if not flag(r, "within_tolerance")]
    if outside:
        ax.scatter([number(r, "mc_sigma") for r in outside], [number(r, "theory_sigma") for r in outside],
                   s=90, facecolors="none", edgecolors="red", lw=1.2, label="outside tolerance", zorder=5)
    _identity_band(ax, rows)
    ax.set(xscale="log", yscale="log", xlabel="Monte Carlo relative RMS error (95 % interval)",
           ylabel="theory relative RMS error",
           title=f"MVM-level validation: theory vs Monte Carlo, {len(rows)} points")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", lw=0.3)
    return [_base.save_figure(fig, NAME, quick, dpi=130)]


def _errorbars(ax, rows: list[dict], marker: str, colour, label: str) -> None:
    """Theory against Monte Carlo sigma of one group of points, with the Monte Carlo interval."""
    mc = np.array([number(r, "mc_sigma") for r in rows])
    low = np.array([number(r, "mc_ci_low") for r in rows])
    high = np.array([number(r, "mc_ci_high") for r in rows])
    ax.errorbar(mc, [number(r, "theory_sigma") for r in rows], xerr=np.maximum([mc - low, high - mc], 0),
                fmt=marker, ms=4, color=colour, alpha=0.75, lw=0.8, label=label)


def _identity_band(ax, rows: list[dict]) -> None:
    """The identity line and the +-TOLERANCE band across the points' range."""
    values = [number(r, k) for r in rows for k in ("mc_sigma", "theory_sigma")]
    line = np.array([min(values, default=1e-3) / 1.5, max(values, default=1.0) * 1.5])
    ax.plot(line, line, "k-", lw=0.8)
    ax.fill_between(line, line * (1 - TOLERANCE), line * (1 + TOLERANCE), color="0.85", zorder=0,
                    label=f"+-{100 * TOLERANCE:.0f} %")

"""Where the theory's approximations break: the ratio theory / Monte Carlo of the validation sweep against
the parameter that places each point in a documented regime.

Plot-only: draws the sweep's CSV (``<results>/mvm/mvm.csv``, written by ``aimc validate mvm``,
:mod:`aimc.validation.sweep`), the rows of :mod:`aimc.figures.mvm_identity`, in four panels, each with the
+-3 % tolerance band:

* ADC rounding: the ratio against sigma_analog / LSB (output-referred RMS, no wire resistance), by ADC range
  policy, with :data:`aimc.theory.adc.REGIME_BOUNDARY` below which the rounding moments depend on the shape
  of the analog error;
* first-order parasitics against r x rows (by array size) and against r N I_max (by mapping), with the
  stated error 1 + 0.40 r N I_max and :data:`aimc.theory.parasitics.VALIDITY_RN_IMAX`; circles without
  device errors, squares with them;
* clipping to [g_min, 1]: the ratio against alpha for each On/Off (differential mapping), state-independent
  and state-proportional errors.

Ratios are clipped to each panel's window. The regimes and their parameters are documented in
:mod:`aimc.validation.comparison`. Skipped with a message while no CSV exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from aimc.theory.adc import REGIME_BOUNDARY
from aimc.theory.parasitics import VALIDITY_RN_IMAX
from aimc.validation.comparison import PARASITIC_ERROR_SLOPE, TOLERANCE
from aimc.validation.sweep import ALPHAS

from aimc.results import number

from . import _base, _mvm

NAME = "mvm_regimes"
TITLE = ("Theory / Monte Carlo ratio of the validation sweep against the parameters where the theory's "
         "approximations break")

ADC_WINDOW = (0.9, 1.1)
PARASITIC_WINDOW = (0.8, 1.6)
"""The ratio windows of the ADC panel and of the two parasitics panels (ratios outside are clipped)."""


def plot(quick: bool = False) -> list[Path]:
    rows = [r for r in _mvm.sweep_rows(NAME) if math.isfinite(number(r, "ratio"))]
    fig, axes = _base.new_mosaic([["adc", "rows"], ["rni", "clipping"]], (14, 10))
    _adc_panel(axes["adc"], rows)
    parasitic = [r for r in rows if number(r, "r") > 0]
    _rows_panel(axes["rows"], parasitic)
    _rni_panel(axes["rni"], parasitic)
    _clipping_panel(axes["clipping"], rows)
    for ax in axes.values():
        ax.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.88", zorder=0)
        ax.axhline(1, color="k", lw=0.6)
        ax.grid(True, which="both", lw=0.3)
    return [_base.save_figure(fig, NAME, quick, dpi=120)]


def _ratio_errors(rows: list[dict]) -> np.ndarray:
    """The Monte Carlo interval carried over to the ratio theory / Monte Carlo: [[below], [above]]."""
    return np.array([[number(r, "ratio") * (1 - number(r, "mc_sigma") / number(r, "mc_ci_high")),
                      number(r, "ratio") * (number(r, "mc_sigma") / max(number(r, "mc_ci_low"), 1e-300) - 1)]
                     for r in rows]).T


def _ratios(ax, rows: list[dict], x_of: Callable[[dict], float], window: tuple[float, float],
            **style) -> None:
    """The points' ratios against ``x_of``, clipped to ``window``, with their intervals."""
    ax.errorbar([x_of(r) for r in rows], np.clip([number(r, "ratio") for r in rows], *window),
                yerr=_ratio_errors(rows), **style)


def _with_and_without_device_errors(ax, rows: list[dict], x_of: Callable[[dict], float], colour,
                                    label: str) -> None:
    """One group of parasitics points: circles without device errors, squares with them."""
    for noisy, marker in ((False, "o"), (True, "s")):
        group = [r for r in rows if (r["error"] != "none") == noisy]
        if group:
            _ratios(ax, group, x_of, PARASITIC_WINDOW, fmt=marker, ms=4, lw=0.6, alpha=0.8, color=colour,
                    label=label + (", device errors" if noisy else ""))


def _adc_panel(ax, rows: list[dict]) -> None:
    adc = [r for r in rows
           if number(r, "adc_bits") > 0 and number(r, "sigma_analog_lsb") > 0 and number(r, "r") == 0]
    colours = _base.colormap("tab10").colors
    for colour, policy in zip(colours, sorted({r["adc_range"] for r in adc})):
        _ratios(ax, [r for r in adc if r["adc_range"] == policy], lambda r: number(r, "sigma_analog_lsb"),
                ADC_WINDOW, fmt="o", ms=3.5, lw=0.6, alpha=0.75, color=colour, label=policy)
    ax.axvline(REGIME_BOUNDARY, color="C3", ls="--", lw=1, label=f"REGIME_BOUNDARY {REGIME_BOUNDARY}")
    ax.set(xscale="log", ylim=(ADC_WINDOW[0] - 0.005, ADC_WINDOW[1] + 0.005),
           ylabel="sigma_theory / sigma_MC", xlabel="sigma_analog / LSB (output-referred RMS)",
           title="ADC rounding regime (no wire resistance; clipped to the window)")
    ax.legend(fontsize=7)


def _rows_panel(ax, parasitic: list[dict]) -> None:
    viridis = _base.colormap("viridis")
    for i, rows_n in enumerate(sorted({int(number(r, "rows")) for r in parasitic})):
        group = [r for r in parasitic if int(number(r, "rows")) == rows_n]
        _with_and_without_device_errors(ax, group, lambda r: number(r, "r") * number(r, "rows"),
                                        viridis(i / 4), f"{rows_n} rows")
    ax.set(xscale="log", ylim=(PARASITIC_WINDOW[0] - 0.02, PARASITIC_WINDOW[1] + 0.02), xlabel="r x rows",
           ylabel="sigma_theory / sigma_MC (clipped to the window)",
           title=f"first-order parasitics (stated: 10 % for r N I_max <= {VALIDITY_RN_IMAX})")
    ax.legend(fontsize=6, ncol=2)


def _rni_panel(ax, parasitic: list[dict]) -> None:
    colours = _base.colormap("tab10").colors
    for colour, mapping in zip(colours, sorted({r["mapping"] for r in parasitic})):
        _with_and_without_device_errors(ax, [r for r in parasitic if r["mapping"] == mapping],
                                        lambda r: number(r, "r_n_imax"), colour, mapping)
    xs = np.logspace(-3, math.log10(VALIDITY_RN_IMAX), 50)
    ax.plot(xs, 1 + PARASITIC_ERROR_SLOPE * xs, "k:", lw=1,
            label=f"1 + {PARASITIC_ERROR_SLOPE} r N I_max (stated)")
    ax.axvline(VALIDITY_RN_IMAX, color="C3", ls="--", lw=1, label=f"VALIDITY_RN_IMAX {VALIDITY_RN_IMAX}")
    ax.set(xscale="log", ylim=(PARASITIC_WINDOW[0] - 0.02, PARASITIC_WINDOW[1] + 0.02), xlabel="r N I_max",
           ylabel="sigma_theory / sigma_MC (clipped to the window)",
           title="first-order parasitics against its documented parameter")
    ax.legend(fontsize=6)


def _clipping_panel(ax, rows: list[dict]) -> None:
    """alpha against g_min: the points of the differential base, alpha, On/Off and clipping grid designs."""
    clip = [r for r in rows
            if r["error"] in ALPHAS and number(r, "r") == 0 and r["mapping"] == "differential"
            and r["design"] in ("grid", "ofat", "base")
            and r["factor"] in ("alpha", "clipping", "base", "on_off")]
    colours = _base.colormap("tab10").colors
    for colour, on_off in zip(colours, sorted({number(r, "on_off") for r in clip})):
        g_min = 0 if math.isinf(on_off) else 1 / on_off
        for error, marker in (("state_independent", "o"), ("state_proportional", "s")):
            group = sorted((r for r in clip if number(r, "on_off") == on_off and r["error"] == error),
                           key=lambda r: number(r, "alpha"))
            if group:
                ax.errorbar([number(r, "alpha") for r in group], [number(r, "ratio") for r in group],
                            yerr=_ratio_errors(group), fmt=marker, ms=4, lw=0.6, ls="-", alpha=0.8,
                            color=colour, label=f"On/Off {on_off:g} (g_min {g_min:.3g}), "
                            f"{'SI' if error == 'state_independent' else 'SP'}")
    ax.set(xscale="log", xlabel="alpha", ylabel="sigma_theory / sigma_MC",
           title="clipping to [g_min, 1]: alpha against g_min (differential)")
    ax.legend(fontsize=6)

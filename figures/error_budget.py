"""Error budget by source (closed-form theory) for the paper's designs and for published devices.

Extends the paper's case study (Section 9, Tables 4-5: designs A, B, C, E with SONOS cells; Design D is
not described in any available source): which physical source makes up the MVM error of each design, and
of the default scheme (design A's architecture) on other published devices. Each source's share of the
mean squared error is :attr:`aimc.theory.Budget.by_source` (shares add up to 100 %; a negative share is a
source that removes error, e.g. an ADC rounding analog error away, or a bias that cancels another).

Designs A and E are also shown with ideal cells (no programming error): what their ADCs and, for E, the
unit column's own conversion cost alone.

Assumptions: the presets exactly as ``aimc show NAME`` prints them (ADC ranges calibrated at P = 99.98 %
on the layer's own inputs), on the built-in synthetic layer (quick runs a smaller one and fewer presets).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from aimc.theory import SOURCES, error_budget

from aimc.layers import quantize_layer
from aimc.presets import get_preset

from . import _base, _mvm

NAME = "error_budget"
TITLE = "Error budget by source for designs A, B, C, E and device presets (theory)"

PRESETS = ("design-a", "design-b", "design-c", "design-e", "sonos-2022", "pcm-joshi", "pcm-ibm", "rram-milo",
           "rram-wan")
QUICK_PRESETS = ("design-a", "design-e", "pcm-joshi")
IDEAL_CELLS = ("design-a", "design-e")
"""Designs also shown with ideal cells (what the ADC and the mapping cost alone)."""
IDEAL = {"device.programming.model": "none", "device.programming.alpha": 0.0}
LABELS = {
    "design-a": "design A: differential, unsliced,\n1152 rows, SONOS",
    "design-b": "design B: A with 1-bit slices",
    "design-c": "design C: A with 144 rows",
    "design-e": "design E: offset (unit column),\n2 b/cell, 72 rows, SONOS",
}
"""Y-axis labels; a device preset is labelled by its name (design A's architecture with that device)."""
SOURCE_COLORS = dict(zip(SOURCES, ("C0", "C8", "C7", "C2", "C3", "C5", "C1", "C4")))


def points(quick: bool) -> list[dict]:
    out = []
    for preset in QUICK_PRESETS if quick else PRESETS:
        out.append({"preset": preset, "cells": "preset", "layer": _mvm.layer_label(quick)})
        if preset in IDEAL_CELLS:
            out.append({"preset": preset, "cells": "ideal", "layer": _mvm.layer_label(quick)})
    return out


def evaluate(layer, point: dict) -> dict:
    scheme = get_preset(point["preset"])
    if point["cells"] == "ideal":
        scheme = scheme.with_overrides(IDEAL)
    with np.errstate(over="ignore"):  # far ADC tails of the Gaussian density overflow harmlessly to 0
        budget = error_budget(quantize_layer(layer, scheme), scheme)
    row = {"relative_rms": budget.relative_rms, "bias": budget.relative_bias}
    row.update({f"share_{s}": v for s, v in budget.by_source.items()})
    row.update({f"rms_{s}": budget.relative_rms_of(s) for s in SOURCES})
    return row


def compute(quick: bool = False, progress: bool = True) -> Path:
    layer = _mvm.layer_for(quick)
    return _base.compute_points(NAME, quick, points(quick), lambda p: evaluate(layer, p), progress)


def _label(row: dict) -> str:
    if row["cells"] == "ideal":
        return f"design {row['preset'][-1].upper()} with ideal cells"
    return LABELS.get(row["preset"], f"{row['preset']} device")


def plot(quick: bool = False) -> list[Path]:
    rows = _base.rows_for(NAME, quick, "error budgets")
    fig, axes = _base.new_figure(1, 1, (10.0, 0.55 * len(rows) + 2.6))
    ax = axes[0]
    y = np.arange(len(rows))[::-1]
    used = [s for s in SOURCES if any(abs(_base.number(r, f"share_{s}")) > 1e-4 for r in rows)]
    right = np.zeros(len(rows))
    left = np.zeros(len(rows))
    for source in used:
        share = np.array([100 * _base.number(r, f"share_{source}") for r in rows])
        start = np.where(share >= 0, right, left)
        ax.barh(y, share, left=start, color=SOURCE_COLORS[source], edgecolor="white", height=0.7,
                label=source.replace("_", " "))
        right += np.clip(share, 0, None)
        left += np.clip(share, None, 0)
    for yi, r, top in zip(y, rows, right):
        ax.text(top + 2, yi, f"rel. RMS {_base.number(r, 'relative_rms'):.3g}", va="center", fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y, labels=[_label(r) for r in rows], fontsize=9)
    ax.set_xlim(min(left.min() - 5, -5), right.max() + 30)
    ax.set_xlabel("share of the mean squared MVM error (%)")
    fig.legend(loc="outside right upper", fontsize=8, title="source", title_fontsize=8)
    ax.set_title(f"Error budget by source (closed-form theory), {rows[0]['layer']} layer\n"
                 "paper designs A, B, C, E (SONOS cells) and the default scheme on published devices",
                 fontsize=11)
    return [_base.save_figure(fig, NAME, quick)]

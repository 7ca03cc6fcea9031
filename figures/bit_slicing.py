"""How much weight bit slicing reduces the MVM error from programming error: sliced / unsliced ratio.

Reproduces at MVM level the paper's claim (Sections 3.1 and 5.2-5.3; its Figs. 8-13 are not available)
that bit slicing gives only a small benefit against cell errors, and the derived ratios of
``shared/PAPER.md`` section 3.3: with full slices the state-independent error falls to 0.58 / 0.77 / 0.94
of the unsliced error for 1- / 2- / 4-bit cells, while under-used slices (7 magnitude bits in four 2-bit
or two 4-bit slices) are worse than no slicing.

Series: differential with 8-bit weights (7 magnitude bits: 1-bit slices are full, the top 2- and 4-bit
slices under-used); differential with 9-bit weights (8 magnitude bits: every slice full); offset with
8-bit weights (u = w + M, 8 bits: every slice full, digital offset). The unsliced point of each series
is its reference (7- or 8-bit cells).

Assumptions: the synthetic layer (quick runs a smaller one), 1152 rows, no ADC (the cell error alone),
infinite On/Off, state-independent alpha = 1 % of Gmax and state-proportional alpha = 10 %; conductances
not clipped (the accumulation effect the derivation describes) or clipped to [g_min, Gmax] (paper-era
CrossSim). Monte Carlo: 8 chips per point; the ratio's error bar combines both points' 95 % CIs.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.ticker import NullLocator

from aimc.scheme import Scheme

from . import _base, _mvm

NAME = "bit_slicing"
TITLE = "Bit slicing: sliced / unsliced MVM error vs bits per cell (theory and Monte Carlo)"

ALPHA = {"state_independent": 0.01, "state_proportional": 0.10}
SERIES = {
    "differential, 8-bit weights": ("differential", 8, {1: 7, 2: 4, 4: 2, 7: 1}),
    "differential, 9-bit weights": ("differential", 9, {1: 8, 2: 4, 4: 2, 8: 1}),
    "offset, 8-bit weights": ("offset", 8, {1: 8, 2: 4, 4: 2, 8: 1}),
}
SERIES_STYLE = {
    "differential, 8-bit weights": ("C0", "o"),
    "differential, 9-bit weights": ("C2", "s"),
    "offset, 8-bit weights": ("C1", "^"),
}
CLIPS = ("none", "range")
QUICK_CLIPS = ("none",)
PAPER_FULL_SLICE_RATIO = {1: 0.58, 2: 0.77, 4: 0.94}
"""``shared/PAPER.md`` 3.3 [derived]: state-independent error ratio with full b-bit slices."""
CHIPS, QUICK_CHIPS = 8, 2
UNSLICED_X = 8
"""Where the unsliced cells (7 or 8 bits) sit on the bits-per-cell axis."""


def scheme_for(point: dict) -> Scheme:
    kind, bits, _ = SERIES[point["series"]]
    return Scheme().with_overrides({
        "mapping.kind": kind,
        "weights.bits": bits,
        "weights.slices": point["slices"],
        "adc.bits": 0,
        "array.rows": 1152,
        "device.on_off": "inf",
        "device.clip": point["clip"],
        "device.programming.model": point["error_model"],
        "device.programming.alpha": ALPHA[point["error_model"]],
    })


def points(quick: bool) -> list[dict]:
    return [
        {"clip": clip, "error_model": model, "series": series, "bits_per_cell": bpc, "slices": slices,
         "layer": _mvm.layer_label(quick), "chips": QUICK_CHIPS if quick else CHIPS, "seed": 0}
        for clip in (QUICK_CLIPS if quick else CLIPS) for model in ALPHA for series, (_, _, cells) in SERIES.items()
        for bpc, slices in cells.items()
    ]


def compute(quick: bool = False, progress: bool = True) -> Path:
    layer = _mvm.layer_for(quick)
    return _base.compute_points(
        NAME, quick, points(quick),
        lambda p: _mvm.evaluate(layer, scheme_for(p), p["chips"], p["seed"]), progress)


def ratios(rows: list[dict]) -> list[dict]:
    """Sliced / unsliced error per row (theory, Monte Carlo and its error bar), unsliced rows included."""
    out = []
    for r in rows:
        ref = next(u for u in rows if u["slices"] == "1" and all(
            u[k] == r[k] for k in ("clip", "error_model", "series")))
        mc, mc_ref = _base.number(r, "mc_relative_rms"), _base.number(ref, "mc_relative_rms")
        half = [(_base.number(x, "mc_ci_high") - _base.number(x, "mc_ci_low")) / 2 / _base.number(
            x, "mc_relative_rms") for x in (r, ref)]
        ratio = mc / mc_ref
        out.append({
            **r,
            "theory_ratio": _base.number(r, "theory_relative_rms") / _base.number(ref, "theory_relative_rms"),
            "mc_ratio": ratio,
            "mc_ratio_half_width": 0.0 if r is ref else ratio * math.hypot(*half),
        })
    return out


def plot(quick: bool = False) -> list[Path]:
    rows = ratios(_base.rows_for(NAME, quick, "bit-slicing errors"))
    fig, axes = _base.new_figure(2, 2, (11.0, 8.8))
    for i, clip in enumerate(CLIPS):
        for j, model in enumerate(ALPHA):
            ax = axes[2 * i + j]
            ax.axhline(1.0, color="0.4", lw=1)
            for series in SERIES:
                sel = [r for r in rows if r["clip"] == clip and r["error_model"] == model and r["series"] == series]
                if not sel:
                    continue
                sel.sort(key=lambda r: -int(r["slices"]))
                x = [UNSLICED_X if r["slices"] == "1" else int(r["bits_per_cell"]) for r in sel]
                color, marker = SERIES_STYLE[series]
                ax.plot(x, [r["theory_ratio"] for r in sel], "-", color=color, label=f"{series}: theory")
                mc = [r["mc_ratio"] for r in sel]
                half = [r["mc_ratio_half_width"] for r in sel]
                ax.errorbar(x, mc, yerr=[[min(h, 0.9 * m) for h, m in zip(half, mc)], half],
                            fmt=marker, color=color, mfc="none", ms=6, capsize=3,
                            label=f"{series}: Monte Carlo")
            if model == "state_independent" and clip == "none":
                ax.plot(list(PAPER_FULL_SLICE_RATIO), list(PAPER_FULL_SLICE_RATIO.values()), "kx", ms=9,
                        mew=2, label="PAPER.md 3.3, full slices: 0.58 / 0.77 / 0.94")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks([1, 2, 4, UNSLICED_X], labels=["1", "2", "4", "unsliced\n(7 or 8)"])
            ax.xaxis.set_minor_locator(NullLocator())
            _base.label_ticks(ax, [0.25, 0.5, 0.7, 1, 1.5, 2, 4, 8], axis="y")
            ax.set_xlabel("bits per cell")
            ax.set_ylabel("error sliced / error unsliced")
            clip_text = "no clipping" if clip == "none" else "clipped to [g_min, Gmax]"
            alpha_text = "1 % of Gmax" if model == "state_independent" else "10 % of G"
            ax.set_title(f"{model.replace('_', '-')} error (alpha = {alpha_text}), {clip_text}", fontsize=10)
            ax.set_ylim(0.2, 10)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(f"Bit slicing vs programming error: relative RMS MVM error of sliced over unsliced weights\n"
                 f"({rows[0]['layer']} layer, no ADC, infinite On/Off; lines: theory, markers: Monte Carlo over "
                 f"{rows[0]['chips']} chips)", fontsize=11)
    return [_base.save_figure(fig, NAME, quick)]

"""MVM error vs programming-error magnitude: differential vs offset mapping, theory and Monte Carlo.

Extends the paper's Figs. 8-13 (accuracy vs alpha for state-independent and state-proportional error,
offset vs differential; their curves are not available) to the MVM level, where the paper's central claim
can be checked quantitatively: proportional (differential, one-sided) mapping is far more robust to
state-proportional error, and has sqrt(2) less state-independent error than offset mapping
(``shared/PAPER.md`` section 3.3, derived there and checked here by Monte Carlo).

Assumptions: the built-in synthetic layer (1152 rows, one array partition; quick runs a smaller one),
8-bit weights and activations, bit-serial inputs with analog accumulation, unsliced weights, infinite
On/Off ratio, conductances clipped to [g_min, Gmax] after programming, state-independent alpha relative
to Gmax. Offset mapping with the offset removed digitally (exact) or by an analog unit column (with its
own errors, common to the array's columns). Without an ADC, and with an 8-bit ADC calibrated at
P = 99.98 % on the layer's own inputs. Monte Carlo: 8 chips per point (95 % CI over chips).
"""

from __future__ import annotations

from pathlib import Path

from aimc.scheme import Scheme

from . import _base, _mvm

NAME = "mapping_error"
TITLE = "MVM error vs programming error, differential vs offset (theory and Monte Carlo)"

ALPHAS = {
    "state_independent": (0.0025, 0.005, 0.01, 0.02, 0.04),
    "state_proportional": (0.02, 0.05, 0.1, 0.2, 0.4),
}
QUICK_ALPHAS = {"state_independent": (0.005, 0.02), "state_proportional": (0.05, 0.2)}
MAPPINGS = {
    "differential": {"mapping.kind": "differential"},
    "offset": {"mapping.kind": "offset", "mapping.offset": "digital"},
    "offset, unit column": {"mapping.kind": "offset", "mapping.offset": "unit_column"},
}
ADC_BITS = (0, 8)
BASE = {"array.rows": 1152, "device.on_off": "inf", "device.clip": "range", "adc.range": "calibrated"}
CHIPS, QUICK_CHIPS = 8, 2
ERROR_LABELS = {"state_independent": "state-independent", "state_proportional": "state-proportional"}


def scheme_for(point: dict) -> Scheme:
    return Scheme().with_overrides({
        **BASE,
        **MAPPINGS[point["mapping"]],
        "adc.bits": point["adc_bits"],
        "device.programming.model": point["error_model"],
        "device.programming.alpha": point["alpha"],
    })


def points(quick: bool) -> list[dict]:
    alphas = QUICK_ALPHAS if quick else ALPHAS
    return [
        {"error_model": model, "alpha": alpha, "mapping": mapping, "adc_bits": bits,
         "layer": _mvm.layer_label(quick), "chips": QUICK_CHIPS if quick else CHIPS, "seed": 0}
        for model in alphas for bits in ADC_BITS for mapping in MAPPINGS for alpha in alphas[model]
    ]


def compute(quick: bool = False, progress: bool = True) -> Path:
    layer = _mvm.layer_for(quick)
    return _base.compute_points(
        NAME, quick, points(quick),
        lambda p: _mvm.evaluate(layer, scheme_for(p), p["chips"], p["seed"]), progress)


def ratio_to_differential(rows: list[dict], model: str, bits: int, alpha: str, mapping: str) -> float:
    """Theory error of ``mapping`` over that of differential at one point."""
    def err(m: str) -> float:
        return next(_base.number(r, "theory_relative_rms") for r in rows if r["error_model"] == model
                    and r["mapping"] == m and int(r["adc_bits"]) == bits and r["alpha"] == alpha)
    return err(mapping) / err("differential")


def _annotate_ratios(ax, rows: list[dict], model: str, bits: int) -> None:
    alphas = sorted({r["alpha"] for r in rows if r["error_model"] == model}, key=float)
    if not alphas:
        return
    alpha = alphas[len(alphas) // 2]
    text = "\n".join(f"{m} / differential = {ratio_to_differential(rows, model, bits, alpha, m):.2f}"
                     for m in MAPPINGS if m != "differential")
    ax.text(0.98, 0.03, f"theory at alpha = {100 * float(alpha):g} %:\n{text}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})


def plot(quick: bool = False) -> list[Path]:
    rows = _base.rows_for(NAME, quick, "MVM errors")
    fig, axes = _base.new_figure(2, 2, (11.0, 8.0))
    for i, bits in enumerate(ADC_BITS):
        for j, model in enumerate(ALPHAS):
            ax = axes[2 * i + j]
            for mapping in MAPPINGS:
                sel = sorted((r for r in rows if r["error_model"] == model and r["mapping"] == mapping
                              and int(r["adc_bits"]) == bits), key=lambda r: _base.number(r, "alpha"))
                if not sel:
                    continue
                x = [100 * _base.number(r, "alpha") for r in sel]
                color = _base.MAPPING_COLORS[mapping]
                ax.plot(x, [_base.number(r, "theory_relative_rms") for r in sel], "-", color=color,
                        label=f"{mapping}: theory")
                mc = [_base.number(r, "mc_relative_rms") for r in sel]
                low = [m - _base.number(r, "mc_ci_low") for m, r in zip(mc, sel)]
                high = [_base.number(r, "mc_ci_high") - m for m, r in zip(mc, sel)]
                ax.errorbar(x, mc, yerr=[low, high], fmt="o", color=color, ms=5, capsize=3, mfc="none",
                            label=f"{mapping}: Monte Carlo (95 % CI)")
            _annotate_ratios(ax, rows, model, bits)
            ax.set_xscale("log")
            ax.set_yscale("log")
            _base.label_ticks(ax, [100 * a for a in ALPHAS[model]])
            unit = "% of Gmax" if model == "state_independent" else "% of G"
            ax.set_xlabel(f"programming error alpha ({unit})")
            ax.set_ylabel("relative RMS error of the MVM output")
            adc = "no ADC" if bits == 0 else f"{bits}-bit ADC (calibrated, P = 99.98 %)"
            ax.set_title(f"{ERROR_LABELS[model]} error, {adc}", fontsize=10)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"MVM error vs programming error: differential vs offset mapping\n"
                 f"({rows[0]['layer']} layer, unsliced 8-bit weights, infinite On/Off; lines: theory, "
                 f"markers: Monte Carlo over {rows[0]['chips']} chips)", fontsize=11)
    return [_base.save_figure(fig, NAME, quick)]

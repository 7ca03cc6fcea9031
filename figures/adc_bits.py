"""MVM error vs ADC resolution: differential (analog subtraction) vs offset, 144 and 1152 rows.

The paper's Figs. 16-17 (accuracy vs ADC bits, and with an 8-bit ADC vs rows and bits per cell; curves not
available) at MVM level: with a calibrated range, an ADC after analog differential subtraction sees a
signal centred on zero and proportional to the dot product, so few bits suffice; with offset mapping the
ADC must also carry the large offset current (zero weights sit at mid conductance), which wastes levels.
With SONOS programming error, the ADC stops mattering once its error falls below the cell error (the
dotted lines: no ADC).

Assumptions: design A's scheme (:func:`aimc.presets.get_preset` ``design-a``: unsliced, 8-bit weights,
8-bit inputs in 1-bit slices with analog accumulation, one conversion per MVM, ADC range calibrated at
P = 99.98 % on the layer's own inputs), with the mapping (offset: the offset removed digitally) and rows
per array changed; ideal devices (infinite On/Off, no error) or design A's SONOS error (paper-era fit,
On/Off 1e7). The synthetic layer (1152 inputs: one array of 1152 rows or eight of 144; quick runs a
smaller layer). Monte Carlo: 8 chips per SONOS point, one for ideal devices (deterministic).
"""

from __future__ import annotations

from pathlib import Path

from aimc.presets import get_preset
from aimc.scheme import Scheme

from . import _base, _mvm

NAME = "adc_bits"
TITLE = "MVM error vs ADC bits, differential vs offset, 144 and 1152 rows (theory and Monte Carlo)"

BITS = tuple(range(3, 11))
QUICK_BITS = (4, 8)
ROWS = (1152, 144)
MAPPINGS = {"differential": {"mapping.kind": "differential"},
            "offset": {"mapping.kind": "offset", "mapping.offset": "digital"}}
DEVICES = {
    "ideal": {"device.on_off": "inf", "device.programming.model": "none", "device.programming.alpha": 0.0},
    "SONOS": {},
}
"""Device overrides on design A (whose own device is the SONOS fit)."""
ROW_STYLE = {1152: "-", 144: "--"}
CHIPS, QUICK_CHIPS = 8, 2
SETTLED = 1.10
"""An ADC "stops mattering" at the fewest bits whose total error is within 10 % of the no-ADC error."""


def scheme_for(point: dict) -> Scheme:
    return get_preset("design-a").with_overrides({
        **MAPPINGS[point["mapping"]],
        **DEVICES[point["device"]],
        "array.rows": point["rows"],
        "adc.bits": point["adc_bits"],
    })


def points(quick: bool) -> list[dict]:
    bits = QUICK_BITS if quick else BITS
    return [
        {"device": device, "mapping": mapping, "rows": rows, "adc_bits": b, "layer": _mvm.layer_label(quick),
         "chips": QUICK_CHIPS if quick else CHIPS, "seed": 0}
        for device in DEVICES for mapping in MAPPINGS for rows in ROWS
        for b in ((0,) if device != "ideal" else ()) + bits
    ]


def compute(quick: bool = False, progress: bool = True) -> Path:
    layer = _mvm.layer_for(quick)
    return _base.compute_points(
        NAME, quick, points(quick),
        lambda p: _mvm.evaluate(layer, scheme_for(p), p["chips"], p["seed"]), progress)


def settled_bits(rows: list[dict], device: str, mapping: str, n_rows: int) -> int | None:
    """Fewest ADC bits whose theory error is within ``SETTLED`` of the no-ADC error (None if never)."""
    sel = {int(r["adc_bits"]): _base.number(r, "theory_relative_rms") for r in rows
           if r["device"] == device and r["mapping"] == mapping and int(r["rows"]) == n_rows}
    if 0 not in sel:
        return None
    return next((b for b in sorted(sel) if b > 0 and sel[b] <= SETTLED * sel[0]), None)


def plot(quick: bool = False) -> list[Path]:
    rows = _base.rows_for(NAME, quick, "ADC sweeps")
    fig, axes = _base.new_figure(1, 2, (12.0, 5.4), sharey=True)
    for ax, device in zip(axes, DEVICES):
        for mapping in MAPPINGS:
            color = _base.MAPPING_COLORS[mapping]
            for n_rows in ROWS:
                sel = sorted((r for r in rows if r["device"] == device and r["mapping"] == mapping
                              and int(r["rows"]) == n_rows), key=lambda r: int(r["adc_bits"]))
                if not sel:
                    continue
                label = f"{mapping}, {n_rows} rows"
                with_adc = [r for r in sel if int(r["adc_bits"]) > 0]
                x = [int(r["adc_bits"]) for r in with_adc]
                ax.plot(x, [_base.number(r, "theory_relative_rms") for r in with_adc], ROW_STYLE[n_rows],
                        color=color, label=f"{label}: theory")
                mc = [_base.number(r, "mc_relative_rms") for r in with_adc]
                ax.plot(x, mc, "o" if n_rows == 1152 else "s", color=color, mfc="none", ms=6,
                        label=f"{label}: Monte Carlo")
                no_adc = [r for r in sel if int(r["adc_bits"]) == 0]
                if no_adc:
                    ax.axhline(_base.number(no_adc[0], "theory_relative_rms"), color=color, lw=1, ls=":")
                    settled = settled_bits(rows, device, mapping, n_rows)
                    if settled is not None:
                        y = next(_base.number(r, "theory_relative_rms") for r in with_adc
                                 if int(r["adc_bits"]) == settled)
                        ax.plot([settled], [y], "*", color=color, ms=14, mec="k", mew=0.6)
            ax.set_yscale("log")
            ax.set_xticks(list(BITS))
            ax.set_xlabel("ADC resolution (bits), range calibrated at P = 99.98 %")
        title = "ideal devices (ADC error only)" if device == "ideal" else (
            "SONOS programming error (design A device);\n"
            "dotted: no ADC; star: fewest bits within 10 % of it")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("relative RMS error of the MVM output")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(f"MVM error vs ADC resolution: differential (analog subtraction) vs offset (digital offset)\n"
                 f"({rows[0]['layer']} layer, unsliced, bit-serial inputs with analog accumulation; "
                 f"lines: theory, markers: Monte Carlo)", fontsize=11)
    return [_base.save_figure(fig, NAME, quick)]

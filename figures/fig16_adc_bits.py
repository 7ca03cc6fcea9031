"""Top-1 accuracy against ADC resolution, differential against offset (paper Fig. 16).

The paper's Fig. 16 (not available; ``shared/PAPER.md`` section 5: accuracy against ADC resolution for
the mapping schemes, analog against digital subtraction) as :mod:`aimc.validation.experiments` ran it
(``adc-bits``): ideal cells, unsliced, differential with analog subtraction against offset with a digital
offset, 8-bit inputs in 1-bit slices accumulated in analog before one conversion, ADC range calibrated at
P = 99.98 % of the calibration set's ADC inputs, 4-10 bits, 144 and 1152 rows. Grey band: within one point
of the 8-bit digital network, what ``aimc claims`` calls near-ideal. The full-precision guarantee's B_out
(the paper's Eq. 2, :func:`aimc.adc.fpg_bits`) for the differential arrays is written in the panel: far
beyond the axis. Dotted: ``aimc predict`` on the same points (committed comparison).
"""

from __future__ import annotations

from pathlib import Path

from aimc.adc import fpg_bits

from . import _paper

NAME = "fig16_adc_bits"
TITLE = "Top-1 accuracy vs ADC resolution, differential vs offset, 144 and 1152 rows (paper Fig. 16)"
PAPER = "Fig. 16 (accuracy vs ADC resolution by mapping; the paper's curves are not available)"
CLAIMS = ("adc-differential-fewer-bits", "fpg-fallacy", "adc-8bit-near-ideal")
SOURCES = ("validation/results/<model>/adc-bits.csv", "validation/results/predictor/<model>.csv")


def guarantee_bits(rows: int) -> float:
    """B_out of the full-precision guarantee for the differential arrays of ``adc-bits`` with ``rows`` rows."""
    from aimc.validation.claims import points_of

    scheme = next(s for label, s, _ in points_of("adc-bits") if label.startswith(f"differential rows={rows} "))
    inputs = scheme.inputs
    input_bits = inputs.bits if inputs.accumulation == "analog" else inputs.slice_bits
    return fpg_bits(scheme.bits_per_slice, input_bits, scheme.array.rows)


def _annotate(ax, rows: list[dict]) -> None:
    _paper.near_ideal_band(ax, rows)
    large, small = guarantee_bits(1152), guarantee_bits(144)
    # left, between the differential curves at the top and the offset ones at the bottom right
    ax.text(0.02, 0.42, f"full-precision guarantee (Eq. 2),\ndifferential: {large:.1f} bits (1152 rows),\n"
            f"{small:.1f} bits (144 rows)", ha="left", va="center", transform=ax.transAxes)


SWEEP = _paper.Sweep("adc-bits", "adc", "ADC resolution (bits, calibrated range)", xscale="linear",
                     note="ideal cells", extra=_annotate)


def plot(quick: bool = False) -> list[Path]:
    return _paper.plot_sweep(NAME, quick, SWEEP)

"""Top-1 accuracy with 8-bit ADC quantisation alone against array size and bits per cell (paper Fig. 17).

The paper's Fig. 17 (p. 44; curves not available): with 8-bit ADC quantisation alone, offset subtraction
reaches high accuracy only with small arrays (<= 144 rows) and fine slices (<= 2 bits per cell), while
differential cells are accurate everywhere. Drawn from :mod:`aimc.validation.experiments`: ideal cells,
8-bit ADC calibrated at P = 99.98 %, 72-1152 rows, unsliced and 4-, 2- and 1-bit slices, (a) differential
and (b) offset from ``adc-rows`` (8-bit inputs in 1-bit slices accumulated in analog before one
conversion), and (c) offset from ``adc-rows-input-bits`` (an ADC conversion per input bit, accumulated
digitally: the input handling the paper pairs with its offset designs, so the paper's Fig. 17
configuration). Panel (c) is drawn where that experiment has rows for the model; without them the
figure's note says that the paper-configured sweep is missing. Grey band: within one point of the 8-bit
digital network (near-ideal, as ``aimc claims`` judges). Dotted: ``aimc predict`` on the same points
(committed comparison).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _accuracy, _paper

NAME = "fig17_adc_rows"
TITLE = "Top-1 accuracy with an 8-bit ADC vs rows and bits per cell, per mapping and input handling (paper Fig. 17)"
PAPER = "Fig. 17 (accuracy with 8-bit ADC quantisation alone vs array size and bits per cell)"
CLAIMS = ("fig17-offset", "fig17-differential")
SOURCES = ("validation/results/<model>/adc-rows.csv", "validation/results/predictor/<model>.csv")
OPTIONAL_SOURCES = ("validation/results/<model>/adc-rows-input-bits.csv",)
"""Drawn where present (the figure says when they are not)."""
EXPERIMENT, PER_INPUT_BIT = "adc-rows", "adc-rows-input-bits"
SWEEP = _paper.Sweep(EXPERIMENT, "rows", "rows per array", xscale="log2", by_mapping=True, from_zero=False,
                     extra=_paper.near_ideal_band)
NOTE = "ideal cells, 8-bit calibrated ADC"
MISSING = {PER_INPUT_BIT: "offset with an ADC per input bit (the paper's)"}


def _per_input_bit_panel(tables: dict, model: str, images: str) -> _paper.Panel | None:
    """Panel (c) on the same test images as adc-rows where it ran on them (else its own, named)."""
    rows = tables.get(PER_INPUT_BIT, [])
    chosen = _accuracy.one_test_set(rows, images) or _accuracy.one_test_set(rows)
    if not chosen:
        return None
    title = "(c) offset, a conversion per input bit (paper)"
    if chosen[0].get("images", "") != images:
        title += f", {_accuracy.images_text(chosen[0].get('images', ''))} images"
    return _paper.Panel(title, chosen, _accuracy.predictions(model, PER_INPUT_BIT), "offset")


def _draw(tables: dict, model: str) -> Figure:
    rows = _accuracy.one_test_set(tables[EXPERIMENT])
    predicted = _accuracy.predictions(model, EXPERIMENT)
    panels = [_paper.Panel("(a) differential, one conversion per MVM", rows, predicted, "differential"),
              _paper.Panel("(b) offset, one conversion per MVM", rows, predicted, "offset")]
    per_bit = _per_input_bit_panel(tables, model, rows[0].get("images", ""))
    if per_bit is not None:
        panels.append(per_bit)
    note = "\n".join(filter(None, (NOTE, _paper.missing_note(tables, MISSING))))
    return _paper.draw_panels(panels, SWEEP, model, note, height=1.75)


def plot(quick: bool = False) -> list[Path]:
    return _paper.per_model(NAME, quick, EXPERIMENT, _draw)

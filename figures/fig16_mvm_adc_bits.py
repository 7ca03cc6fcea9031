"""MVM error against ADC resolution, differential against offset: closed form and Monte Carlo (Fig. 16).

The MVM-level counterpart of the paper's Fig. 16 (accuracy against ADC resolution; curves not
available), drawn as the paper lays a figure out from the rows ``adc_bits`` computed
(``figures/data/adc_bits.csv``): design A's scheme (unsliced, 8-bit inputs in 1-bit slices accumulated in
analog, ADC range calibrated at P = 99.98 %) with differential cells (analog subtraction) or offset (digital
offset), 1152 or 144 rows, on the synthetic layer; (a) ideal cells, where the ADC is the only error and the
closed form equals the simulation, (b) design A's SONOS programming error, where the ADC stops mattering
once its error falls below the cells' (horizontal lines: no ADC). Lines: :func:`aimc.theory.error_budget`
(the exact ADC rounding where it applies); open markers: the Monte Carlo with its 95 % interval.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _base, _paper

NAME = "fig16_mvm_adc_bits"
TITLE = "MVM error vs ADC resolution by mapping and rows, closed form and Monte Carlo (Fig. 16, MVM level)"
PAPER = "Fig. 16 at MVM level (the paper shows accuracy only)"
CLAIMS = ("adc-differential-fewer-bits",)
SOURCES = ("figures/data/adc_bits.csv",)
SOURCE = "adc_bits"
PANELS = {"ideal": "(a) ideal cells: the ADC alone", "SONOS": "(b) SONOS programming error (design A)"}
ROWS = {1152: ("-", "o"), 144: ("--", "s")}


def _series(ax, rows: list[dict], device: str, mapping: str, n_rows: int) -> None:
    chosen = [r for r in rows if r["device"] == device and r["mapping"] == mapping and r["rows"] == str(n_rows)]
    ls, marker = ROWS[n_rows]
    color = _base.MAPPING_COLORS[mapping]
    converted = [r for r in chosen if r["adc_bits"] != "0"]
    if converted:
        style = {"color": color, "ls": ls, "marker": marker, "label": f"{mapping}, {n_rows} rows"}
        _paper.theory_and_simulation(ax, converted, "adc_bits", style)
    for r in chosen:
        if r["adc_bits"] == "0":  # without an ADC: the cells' own error, where the curves settle
            ax.axhline(_base.number(r, "theory_relative_rms"), color=color, ls=ls, lw=0.6, alpha=0.7)


def _draw(rows: list[dict]) -> Figure:
    fig, axes = _paper.new_figure(2, 2.0, sharex=True)
    for ax, (device, title) in zip(axes, PANELS.items()):
        for mapping in ("differential", "offset"):
            for n_rows in ROWS:
                _series(ax, rows, device, mapping, n_rows)
        ax.set_yscale("log")
        ax.set_ylabel("relative RMS MVM error")
        _paper.panel_label(ax, title)
    axes[-1].set_xlabel("ADC resolution (bits, calibrated range)")
    _paper.legend_below(fig, axes, _paper.theory_simulation_legend(_paper.chips_text(rows, "mc_chips")))
    fig.suptitle(f"MVM error vs ADC bits, {rows[0]['layer']} layer\ndesign A's scheme, unsliced")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _paper.figure_data(NAME, SOURCE, quick, "MVM errors")
    return _paper.single(NAME, quick, lambda: _draw(rows))

"""MVM error against programming error, differential against offset: closed form and Monte Carlo (Figs. 8-13).

The MVM-level counterpart of the paper's Figs. 8-13 (accuracy against programming error; curves not
available), drawn as the paper lays a figure out from the rows ``mapping_error`` computed
(``figures/data/mapping_error.csv``): the relative RMS error of one layer's outputs against alpha, (a)
state-independent (sigma = alpha Gmax) and (b) state-proportional (sigma = alpha G) error, differential
one-sided pairs against offset with a digital offset and with an analog unit column; no ADC, the synthetic
layer (1152 rows), infinite On/Off, clipped to [g_min, Gmax]. Lines: the closed form
(:func:`aimc.theory.error_budget`); open markers: the device-level Monte Carlo with its 95 % interval over
chips. ``shared/PAPER.md`` section 3.3 derives offset / differential = sqrt(2) for state-independent error
without clipping and about 11 for state-proportional error with zero-peaked weights.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _base, _paper

NAME = "figs08_13_mvm_mapping"
TITLE = "MVM error vs programming error by mapping, closed form and Monte Carlo (Figs. 8-13, MVM level)"
PAPER = "Figs. 8-13 at MVM level (the paper shows accuracy only)"
CLAIMS = ("mapping-si", "mapping-sp")
SOURCES = ("figures/data/mapping_error.csv",)
SOURCE = "mapping_error"
PANELS = {"state_independent": ("(a) state-independent", "alpha (% of Gmax)"),
          "state_proportional": ("(b) state-proportional", "alpha (% of G)")}
MARKERS = {"differential": "o", "offset": "s", "offset, unit column": "^"}


def _draw(rows: list[dict]) -> Figure:
    fig, axes = _paper.new_figure(2, 2.0)
    for ax, (model, (title, xlabel)) in zip(axes, PANELS.items()):
        for mapping, marker in MARKERS.items():
            chosen = [{**r, "alpha_percent": 100 * _base.number(r, "alpha")} for r in rows
                      if r["error_model"] == model and r["mapping"] == mapping and r["adc_bits"] == "0"]
            if chosen:
                style = {"color": _base.MAPPING_COLORS[mapping], "marker": marker, "label": mapping}
                _paper.theory_and_simulation(ax, chosen, "alpha_percent", style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        xs = sorted({100 * _base.number(r, "alpha") for r in rows if r["error_model"] == model})
        _base.label_ticks(ax, xs)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("relative RMS MVM error")
        _paper.panel_label(ax, title)
    _paper.legend_below(fig, axes, _paper.theory_simulation_legend(_paper.chips_text(rows, "mc_chips")))
    fig.suptitle(f"MVM error, {rows[0]['layer']} layer\nunsliced, no ADC, infinite On/Off")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _paper.figure_data(NAME, SOURCE, quick, "MVM errors")
    return _paper.single(NAME, quick, lambda: _draw(rows))

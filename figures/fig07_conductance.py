"""Mean cell conductance of each mapping scheme (paper Fig. 7).

The paper's Fig. 7 gives the average cell conductance of each mapping scheme of ResNet50-v1.5, from which it
computes the arrays' energy (Table 3; values not available). Drawn as the paper lays a figure out from the
rows ``conductance`` computed (``figures/data/conductance.csv``): the mean G / Gmax over every cell of all
54 matrix layers of the Tiny-ImageNet reference ResNet-50 (BatchNorm folded, 8-bit per-layer weights, each
layer weighted by its size), differential (one-sided pairs, both cells counted) against offset (u = w + M),
unsliced and with 4-, 2- and 1-bit cells, infinite On/Off. No closed form: the mean follows from the
network's weight distribution, counted cell by cell.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _base, _paper

NAME = "fig07_conductance"
TITLE = "Mean cell conductance by mapping and bits per cell (paper Fig. 7)"
PAPER = "Fig. 7 (average cell conductance per mapping scheme)"
CLAIMS = ("proportional-mapping",)
SOURCES = ("figures/data/conductance.csv",)
SOURCE = "conductance"
CELLS = ("unsliced", "4 b/cell", "2 b/cell", "1 b/cell")


def _cells(scheme: str) -> str:
    return "unsliced" if "unsliced" in scheme else scheme.split(", ", 1)[1]


def _draw(rows: list[dict]) -> Figure:
    network = {(r["mapping"], _cells(r["scheme"])): r for r in rows if r["layer"] == "network"}
    fig, (ax,) = _paper.new_figure(1, 2.3)
    for offset, mapping in zip((-0.2, 0.2), ("differential", "offset")):
        xs = [i + offset for i, cells in enumerate(CELLS) if (mapping, cells) in network]
        values = [_base.number(network[mapping, cells], "mean_g") for cells in CELLS if (mapping, cells) in network]
        ax.bar(xs, values, 0.38, color=_base.MAPPING_COLORS[mapping], label=mapping)
        for x, v in zip(xs, values):
            ax.text(x, v * 1.12, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    unsliced = {m: network[m, "unsliced"] for m in ("differential", "offset") if (m, "unsliced") in network}
    labels = [cells if cells != "unsliced" else "unsliced\n(7 / 8 b/cell)" for cells in CELLS]
    ax.set_xticks(range(len(CELLS)), labels=labels)
    ax.set_yscale("log")
    ax.set_ylim(0.01, 1.5)
    ax.set_ylabel("mean G / Gmax of the cells")
    ax.grid(False, axis="x")
    _paper.legend_below(fig, [ax])
    model = rows[0]["model"]
    ratio = ""
    if len(unsliced) == 2:
        value = _base.number(unsliced["offset"], "mean_g") / _base.number(unsliced["differential"], "mean_g")
        ratio = f"\nunsliced: offset / differential = {value:.1f}"
    fig.suptitle(f"{_paper.model_text(model)}, all 54 layers\n8-bit weights, infinite On/Off{ratio}")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _paper.figure_data(NAME, SOURCE, quick, "conductances")
    return _paper.single(NAME, quick, lambda: _draw(rows))

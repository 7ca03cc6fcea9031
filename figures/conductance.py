"""Mean normalised cell conductance per mapping scheme and weight slice (the paper's Fig. 7).

The paper's Fig. 7 gives the average cell conductance of each mapping, from the mapped ResNet50-v1.5
weights (it sets the array energy of Table 3; values not available). Here: the Tiny-ImageNet reference
ResNet-50, every BatchNorm folded into its convolution (:func:`aimc.montecarlo.fold_batchnorm`), weights
quantised to 8 bits per layer (symmetric, max|W|: :func:`aimc.mapping.quantize_weights`), mapped by
:func:`aimc.mapping.weight_digits` and :func:`aimc.mapping.digits_to_conductance` for differential
(7-bit magnitude, one-sided pairs: both cells of a pair counted) and offset (u = w + M, 8 bits) mappings,
unsliced and with 4-, 2- and 1-bit slices. The network value is the mean over all cells of all 54
matrix layers (each layer weighted by its number of weights); the per-layer means are stored as well.

Assumption: infinite On/Off ratio (g_min = 0, the paper's Fig. 20 assumption); with a finite ratio r
every mean g becomes g_min + (1 - g_min) g.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aimc.mapping import SliceLayout, digits_to_conductance, quantize_weights, weight_digits
from aimc.scheme import Scheme

from . import _base, _network

NAME = "conductance"
TITLE = "Mean normalised cell conductance per mapping scheme and slice (paper Fig. 7)"

SCHEMES = {
    "differential, unsliced (7 b/cell)": ("differential", 1),
    "differential, 4 b/cell": ("differential", 2),
    "differential, 2 b/cell": ("differential", 4),
    "differential, 1 b/cell": ("differential", 7),
    "offset, unsliced (8 b/cell)": ("offset", 1),
    "offset, 4 b/cell": ("offset", 2),
    "offset, 2 b/cell": ("offset", 4),
    "offset, 1 b/cell": ("offset", 8),
}
WEIGHT_BITS = 8
QUICK_LAYERS = 6
"""Quick runs map only the first layers of the network."""


def scheme_for(label: str) -> Scheme:
    kind, slices = SCHEMES[label]
    return Scheme().with_overrides({"mapping.kind": kind, "weights.bits": WEIGHT_BITS, "weights.slices": slices,
                                    "device.on_off": "inf"})


def points(quick: bool) -> list[dict]:
    layers = f"first {QUICK_LAYERS}" if quick else "all"
    return [{"scheme": label, "model": _network.MODEL, "layers": layers} for label in SCHEMES]


def _slice_sums(w_int: torch.Tensor, layout: SliceLayout) -> np.ndarray:
    """Sum of g over the cells of each slice, [S] (every per-weight array: both cells of a pair)."""
    digits = weight_digits(w_int, layout).values()
    return sum(digits_to_conductance(d, layout).sum(dim=(1, 2)) for d in digits).numpy()


def evaluate(layers: list[tuple[str, torch.Tensor]], point: dict) -> list[dict]:
    scheme = scheme_for(point["scheme"])
    layout = SliceLayout.from_scheme(scheme)
    kind, slices = SCHEMES[point["scheme"]]
    cells_per_weight = len(layout.arrays)
    rows, sums, count = [], np.zeros(layout.slices), 0
    for index, (name, weight) in enumerate(layers):
        w_int, _ = quantize_weights(weight, WEIGHT_BITS)
        s = _slice_sums(w_int, layout)
        cells = cells_per_weight * w_int.numel()
        sums, count = sums + s, count + w_int.numel()
        rows.append(_row(name, index, w_int.numel(), s / cells, layout))
    network = sums / (cells_per_weight * count)
    rows.insert(0, _row("network", -1, count, network, layout))
    for row in rows:
        row.update({"mapping": kind, "slices": slices, "bits_per_cell": layout.bits_per_slice})
    return rows


def _row(name: str, index: int, weights: int, per_slice: np.ndarray, layout: SliceLayout) -> dict:
    row = {"layer": name, "layer_index": index, "weights": weights, "mean_g": float(per_slice.mean())}
    row.update({f"mean_g_slice{k}": float(v) for k, v in enumerate(per_slice)})
    return row


def compute(quick: bool = False, progress: bool = True) -> Path:
    layers = _base.lazy(lambda: _network.matrix_layers(_network.folded_model())[: QUICK_LAYERS if quick else None])
    return _base.compute_points(NAME, quick, points(quick), lambda p: evaluate(layers(), p), progress)


def plot(quick: bool = False) -> list[Path]:
    rows = _base.rows_for(NAME, quick, "conductances")
    network = {r["scheme"]: r for r in rows if r["layer"] == "network"}
    fig, axes = _base.new_figure(1, 2, (14.0, 5.6), width_ratios=[1.25, 1])
    ax = axes[0]
    labels = [s for s in SCHEMES if s in network]
    max_slices = max(SCHEMES[s][1] for s in labels)
    width = 0.8 / max_slices
    cmap = _base.colormap("viridis")
    for i, label in enumerate(labels):
        r = network[label]
        s = SCHEMES[label][1]
        for k in range(s):
            x = i - 0.4 + width * (k + 0.5) * max_slices / s
            ax.bar(x, _base.number(r, f"mean_g_slice{k}"), width * max_slices / s * 0.9,
                   color=cmap(k / 7), edgecolor="k", lw=0.3)
        ax.hlines(_base.number(r, "mean_g"), i - 0.42, i + 0.42, color="k", lw=2)
        top = max(_base.number(r, f"mean_g_slice{k}") for k in range(s))
        ax.text(i, top * 1.2, f"{_base.number(r, 'mean_g'):.3f}", ha="center", fontsize=8, fontweight="bold")
    ax.set_yscale("log")
    ax.set_ylim(top=1.5)
    ax.set_xticks(range(len(labels)), labels=[lbl.replace(", ", ",\n") for lbl in labels], fontsize=8)
    ax.set_ylabel("mean cell conductance G / Gmax")
    ax.set_title("network mean (all 54 layers, weighted by size); bars: slices LSB (dark) to MSB (light),\n"
                 "black line and number: all cells of the scheme", fontsize=9)
    ax = axes[1]
    for label, style in (("differential, unsliced (7 b/cell)", "C0-"), ("offset, unsliced (8 b/cell)", "C1-"),
                         ("differential, 1 b/cell", "C0:"), ("offset, 2 b/cell", "C1:")):
        sel = sorted((r for r in rows if r["scheme"] == label and r["layer"] != "network"),
                     key=lambda r: int(r["layer_index"]))
        if sel:
            ax.plot([int(r["layer_index"]) + 1 for r in sel], [_base.number(r, "mean_g") for r in sel], style,
                    marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (execution order; 1 = first convolution, 54 = fully connected)")
    ax.set_ylabel("mean cell conductance G / Gmax")
    ax.set_title("per layer, all cells of the scheme", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(f"Mean normalised cell conductance by mapping (paper Fig. 7): {rows[0]['model']}, BatchNorm "
                 f"folded, 8-bit per-layer weights, infinite On/Off", fontsize=11)
    return [_base.save_figure(fig, NAME, quick)]

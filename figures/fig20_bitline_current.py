"""Bit-line current against array size and mapping, at the input's least significant bit (paper Fig. 20).

The paper's Fig. 20 (p. 42): the bit-line current of ResNet50-v1.5's arrays against the array size, per
mapping, with bit-serial inputs evaluated at the input LSB (the bit that drives the most rows), cell current
0-1.6 µA, infinite On/Off, "layers with equal row counts averaged"; proportional mapping gives smaller
currents, and so less IR drop (Section 8). Computed here for the Tiny-ImageNet reference ResNet-50, under
both readings of the caption (the figure itself is not available): (a) every layer split into arrays of
at most N rows, N = 72 ... 1152, averaged over the 54 layers, and (b) each layer on one array of its own
fan-in K rows, the layers with equal K averaged.

Method. The 8-bit input codes of every layer come from the network with ideal cells and no ADC (the 8-bit
digital network: :func:`aimc.montecarlo.convert`, activation full scales calibrated on the 500 calibration
images as the accuracy runs do), on calibration images evenly strided over the 500. For row i of a layer,
a_i is the probability that the LSB of its input code (of its magnitude, for the signed first layer) is 1,
over the images and every output position (im2col rows). For each array of the mapping (both cells of a
differential pair, every slice), g_i is the mean conductance G / Gmax over the layer's columns at row i
(:func:`aimc.mapping.weight_digits`, :func:`aimc.mapping.digits_to_conductance`; 8-bit per-layer weights,
infinite On/Off). A bit line of an array holding rows [s, e) then carries on average sum_{s <= i < e} a_i g_i
times Imax (exact: the inputs do not depend on the column, nor the conductances on the position). A layer
with fan-in K is split into ceil(K / N) arrays of at most N rows (:func:`aimc.mapping.partitions`), or kept
whole (``layout`` = ``whole layer``, one array of K rows); its current is the mean over its arrays and bit
lines. Stored per layer, layout and array size: the mean and the largest array's mean current (units of
Imax), the mean LSB activity. No closed form: the currents follow from the network's own inputs and
weights. ``figures/data/fig20_bitline_current.csv`` is written by ``aimc figures fig20_bitline_current
--out figures`` (minutes on a CPU; needs the shared model and calibration images). Quick runs (tests): the
first layers, the central 16 x 16 pixels of one image.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from aimc.montecarlo import AnalogConv2d, analog_layers, convert
from aimc.montecarlo.layers import calibrate_inputs
from matplotlib.figure import Figure

from aimc.inputs import saturate_inputs
from aimc.mapping import SliceLayout, digits_to_conductance, partitions, weight_digits
from aimc.scheme import Scheme

from . import _base, _network, _paper, conductance

NAME = "fig20_bitline_current"
TITLE = "Mean bit-line current at the input LSB vs rows per array, by mapping (paper Fig. 20)"
PAPER = "Fig. 20 (bit-line current vs array size and mapping, at the input LSB)"
CLAIMS = ("parasitics-offset-worse", "proportional-mapping")
SOURCES = ("figures/data/fig20_bitline_current.csv",)
SCHEMES = ("differential, unsliced (7 b/cell)", "differential, 2 b/cell", "offset, unsliced (8 b/cell)",
           "offset, 2 b/cell")
"""Labels of :data:`aimc.figures.conductance.SCHEMES` (the same mapping of the same weights)."""
ROWS = (72, 144, 288, 576, 1152)
PARTITIONED, WHOLE = "partitioned", "whole layer"
"""The two layouts: arrays of at most N rows, or one array per layer."""
I_MAX_UA = 1.6
"""The largest cell current, µA (paper p. 42: cell currents from 0 to 1.6 µA)."""
IMAGES, QUICK_IMAGES = 24, 1
QUICK_LAYERS, QUICK_CROP = 6, 16
BATCH = 8
STYLE = {"differential, unsliced (7 b/cell)": ("C0", "-", "o"), "differential, 2 b/cell": ("C0", "--", "s"),
         "offset, unsliced (8 b/cell)": ("C1", "-", "o"), "offset, 2 b/cell": ("C1", "--", "s")}


def points(quick: bool) -> list[dict]:
    images = QUICK_IMAGES if quick else IMAGES
    return [{"scheme": label, "model": _network.MODEL, "images": images} for label in SCHEMES]


def _record(sums: dict, counts: dict, layer, args: tuple) -> None:
    """Forward pre-hook: add up the LSB of the layer's input codes per row (im2col for a convolution)."""
    x = args[0].detach()
    codes, _ = saturate_inputs(x, layer.scheme.inputs.bits, layer.signed_inputs, layer.input_full_scale)
    bits = (codes.abs() % 2).to(torch.float32)
    if isinstance(layer, AnalogConv2d):
        bits = F.unfold(bits, layer.kernel_size, layer.dilation, layer.padding, layer.stride)
        total, count = bits.sum(dim=(0, 2)), bits.shape[0] * bits.shape[2]
    else:
        total, count = bits.reshape(-1, bits.shape[-1]).sum(dim=0), bits.numel() // bits.shape[-1]
    sums[layer.name] = sums.get(layer.name, 0.0) + total.to(torch.float64)
    counts[layer.name] = counts.get(layer.name, 0) + count


def lsb_activities(quick: bool) -> list[tuple[str, torch.Tensor, np.ndarray]]:
    """(name, integer weights, LSB activity per row) of every matrix layer (quick: the first few)."""
    model = _network.model()
    crop = QUICK_CROP if quick else None
    calibration = _network.calibration_images(QUICK_IMAGES if quick else 500, crop=crop)
    images = _network.calibration_images(QUICK_IMAGES if quick else IMAGES, crop=crop)
    ranges = calibrate_inputs(model, calibration, batch_size=BATCH * 4)
    analog = convert(model, Scheme().with_overrides({"adc.bits": 0}), images[:1], input_ranges=ranges)
    layers = analog_layers(analog)[: QUICK_LAYERS if quick else None]
    sums: dict = {}
    counts: dict = {}
    hooks = [layer.register_forward_pre_hook(partial(_record, sums, counts)) for layer in layers]
    with torch.no_grad():
        for batch in images.split(BATCH):
            analog(batch)
    for hook in hooks:
        hook.remove()
    return [(layer.name, layer.w_int, (sums[layer.name] / counts[layer.name]).numpy()) for layer in layers]


def row_conductances(w_int: torch.Tensor, label: str) -> np.ndarray:
    """[bit lines kinds, K]: the mean G / Gmax over the columns at each row, per array and slice."""
    layout = SliceLayout.from_scheme(conductance.scheme_for(label))
    digits = weight_digits(w_int, layout)
    return np.concatenate([digits_to_conductance(d, layout).mean(dim=1).numpy() for d in digits.values()])


def _currents(per_row: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """[arrays, kinds]: the mean bit-line current of each array (rows [start, stop)) and kind."""
    return np.stack([per_row[:, start:stop].sum(axis=1) for start, stop in spans])


def evaluate(layers: list[tuple[str, torch.Tensor, np.ndarray]], point: dict) -> list[dict]:
    rows = []
    for index, (name, w_int, activity) in enumerate(layers):
        per_row = row_conductances(w_int, point["scheme"]) * activity  # [kinds, K]: a_i g_i
        fan_in = len(activity)
        layouts = [(PARTITIONED, n, partitions(fan_in, n)) for n in ROWS] + [(WHOLE, fan_in, [(0, fan_in)])]
        for layout, n_rows, spans in layouts:
            arrays = _currents(per_row, spans)
            rows.append({"layer": name, "layer_index": index, "fan_in": fan_in, "layout": layout, "rows": n_rows,
                         "arrays": arrays.shape[0], "lsb_activity": float(activity.mean()),
                         "mean_current": float(arrays.mean()), "largest_array_current": float(arrays.mean(axis=1).max())})
    return rows


def compute(quick: bool = False, progress: bool = True) -> Path:
    layers = _base.lazy(lambda: lsb_activities(quick))
    return _base.compute_points(NAME, quick, points(quick), lambda p: evaluate(layers(), p), progress)


def network_currents(rows: list[dict], scheme: str) -> list[tuple[int, float, float, float]]:
    """Arrays of at most N rows: (N, mean over layers, smallest and largest layer) of the mean bit-line
    current, µA."""
    out = []
    for n_rows in ROWS:
        values = [I_MAX_UA * _base.number(r, "mean_current") for r in rows
                  if r["scheme"] == scheme and r["layout"] == PARTITIONED and r["rows"] == str(n_rows)]
        if values:
            out.append((n_rows, float(np.mean(values)), min(values), max(values)))
    return out


def whole_layer_currents(rows: list[dict], scheme: str) -> list[tuple[int, float, int]]:
    """One array per layer: (rows K, mean over the layers of fan-in K, how many layers) of the mean
    bit-line current, µA, sorted by K."""
    by_rows: dict[int, list[float]] = {}
    for r in rows:
        if r["scheme"] == scheme and r["layout"] == WHOLE:
            by_rows.setdefault(int(r["rows"]), []).append(I_MAX_UA * _base.number(r, "mean_current"))
    return [(k, float(np.mean(v)), len(v)) for k, v in sorted(by_rows.items())]


def _panel_partitioned(ax, rows: list[dict]) -> None:
    for scheme in SCHEMES:
        color, ls, marker = STYLE[scheme]
        curve = network_currents(rows, scheme)
        if not curve:
            continue
        xs, means, low, high = zip(*curve)
        if ls == "-":  # the range over layers, for the unsliced schemes (the sliced ones would hide it)
            ax.fill_between(xs, low, high, color=color, alpha=0.15, lw=0)
        ax.plot(xs, means, color=color, ls=ls, marker=marker, label=scheme)
    _base.label_ticks(ax, ROWS)
    ax.set_xlabel("rows per array, N")


def _panel_whole(ax, rows: list[dict]) -> None:
    ticks: set[int] = set()
    for scheme in SCHEMES:
        color, ls, marker = STYLE[scheme]
        curve = whole_layer_currents(rows, scheme)
        if curve:
            xs, means, _ = zip(*curve)
            ax.plot(xs, means, color=color, ls=ls, marker=marker, label=scheme)
            ticks |= set(xs)
    # powers of two only: the fan-ins 512 and 576, 1024 and 1152, 2048 and 2304 would overlap
    low, high = (int(np.log2(f(ticks))) for f in (min, max))
    _base.label_ticks(ax, [2**k for k in range(low + 1, high + 1)])
    ax.set_xlabel("rows of the layer's array, K")


def _draw(rows: list[dict]) -> Figure:
    fig, axes = _paper.new_figure(2, 2.1)
    layers = len({r["layer"] for r in rows})
    panels = ((_panel_partitioned, f"(a) arrays of ≤ N rows: mean, range of {layers} layers"),
              (_panel_whole, "(b) one array per layer, equal K averaged"))
    for ax, (draw, text) in zip(axes, panels):
        ax.set_xscale("log", base=2)  # before drawing: a new scale would reset the ticks the panel sets
        ax.set_yscale("log")
        draw(ax, rows)
        ax.set_ylabel("mean bit-line current (µA)")
        _paper.panel_label(ax, text)
    _paper.legend_below(fig, axes)
    fig.suptitle(f"{_paper.model_text(rows[0]['model'])}, {rows[0]['images']} calibration images\n"
                 f"input LSB, Imax {I_MAX_UA:g} µA, infinite On/Off")
    return fig


def plot(quick: bool = False) -> list[Path]:
    rows = _base.rows_for(NAME, quick, "bit-line currents")
    if not any(r.get("layout") == WHOLE for r in rows):
        raise _base.FigureSkipped(f"{NAME}: {_base.data_path(NAME, quick)} was written before the whole-layer "
                                  f"layout; delete it and run `aimc figures {NAME}`")
    return _paper.single(NAME, quick, lambda: _draw(rows))

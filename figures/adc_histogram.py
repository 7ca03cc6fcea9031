"""ADC input histogram of one layer and the used fraction of the ADC range per layer (paper Figs. 14-15).

The paper's Fig. 14 is the histogram (log counts) of the normalised ADC input V / Delta V_max of the 6th
convolution of ResNet50-v1.5 (res2b_branch2b) on its calibration set, with Delta V_data, the range that
holds the inner P = 99.98 %, marked; Fig. 15 gives Delta V_data / Delta V_max per layer: offset mapping
uses only 10-20 % of the range. Here: the Tiny-ImageNet reference ResNet-50 and its layer ``layer1.1.conv2``
(the same 6th convolution: 64 x 3 x 3 = 576 rows), on a few dozen of its calibration images (evenly strided
over the 500, all classes).

Method: :func:`aimc.montecarlo.convert` (BatchNorm folding, 8-bit weights and activations, ideal devices,
no ADC), then one pass over the images that records every layer's ADC inputs with a
:class:`aimc.montecarlo.SignalProfile` (a bounded uniform sample; every value of the histogram layer) and
calibrates the 8-bit ADC ranges from them with :func:`aimc.montecarlo.ranges_from_profile` (P = 99.98 %),
exactly as ``convert`` calibrates (observe ideal layers without ADC, then calibrate), in one analog pass
instead of two. Delta V_max is the width of the ``max`` range (:mod:`aimc.adc_ranges.max`: every
row at its largest input and conductance): 2 x peak for signed signals (differential, V / Delta V_max in
[-0.5, 0.5]), peak for unsigned ones (offset, in [0, 1]).

Configurations (unsliced, 1152 rows, infinite On/Off): differential (analog subtraction) and offset
(digital offset), each with one ADC conversion per input bit (1-bit input slices, digital accumulation:
the paper's pairing for offset designs) and with analog accumulation of the 8 input bits (one conversion
per MVM, design A). The number of images is small (CPU): extreme values, and so the tails of the
histogram, grow with more images. Quick runs (tests) use the central 16 x 16 pixels of one image and the
two per-input-bit configurations only.

Stored per layer and configuration: the calibrated range, the ``max`` range, ``fraction_of_max`` =
Delta V_data / Delta V_max (Fig. 15) and ``fraction_of_observed`` = Delta V_data over the range that holds
every profiled value (of the uniform sample, for layers other than the histogram layer); for the
histogram layer the counts of V / Delta V_max in 150 bins between the smallest and largest value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo import SignalProfile, analog_layers, convert, ranges_from_profile

from aimc.adc import calibrated_range
from aimc.adc_ranges import slice_ranges
from aimc.pipeline import signal_is_signed
from aimc.scheme import Scheme

from . import _base, _network

NAME = "adc_histogram"
TITLE = "ADC input histogram of layer1.1.conv2 and used ADC range per layer (paper Figs. 14-15)"

TARGET = "layer1.1.conv2"
IMAGES, QUICK_IMAGES = 24, 1
QUICK_CROP = 16
"""Quick runs: the central 16 x 16 pixels of one image (16 times fewer positions per convolution)."""
CONFIGS = {
    "differential, ADC per input bit": {"mapping.kind": "differential", "inputs.accumulation": "digital"},
    "offset, ADC per input bit": {"mapping.kind": "offset", "inputs.accumulation": "digital"},
    "differential, analog input accumulation": {"mapping.kind": "differential", "inputs.accumulation": "analog"},
    "offset, analog input accumulation": {"mapping.kind": "offset", "inputs.accumulation": "analog"},
}
STYLE = {
    "differential, ADC per input bit": ("C0", "-"),
    "offset, ADC per input bit": ("C1", "-"),
    "differential, analog input accumulation": ("C0", ":"),
    "offset, analog input accumulation": ("C1", ":"),
}
BASE = {"array.rows": 1152, "weights.slices": 1, "inputs.slice_bits": 1, "mapping.offset": "digital",
        "device.on_off": "inf", "adc.range": "calibrated", "adc.percentile": 99.98}
ADC_BITS = 8
BINS = 150
SAMPLE_CAP = 1 << 20
"""Profiled values kept per layer (a uniform sample) for the calibration of the other layers."""


def scheme_for(config: str, adc_bits: int = ADC_BITS) -> Scheme:
    return Scheme().with_overrides({**BASE, **CONFIGS[config], "adc.bits": adc_bits})


QUICK_CONFIGS = ("differential, ADC per input bit", "offset, ADC per input bit")


def points(quick: bool) -> list[dict]:
    images = QUICK_IMAGES if quick else IMAGES
    return [{"config": c, "model": _network.MODEL, "images": images} for c in (QUICK_CONFIGS if quick else CONFIGS)]


def evaluate(model: torch.nn.Module, images: torch.Tensor, point: dict) -> list[dict]:
    with_adc = scheme_for(point["config"])
    analog = convert(model, scheme_for(point["config"], adc_bits=0), images, batch_size=len(images))
    layers = analog_layers(analog)
    for layer in layers:
        layer.profile = SignalProfile(1, cap=1 << 40) if layer.name == TARGET else SignalProfile(
            1, total_cap=SAMPLE_CAP)
    with torch.no_grad():
        analog(images)
    rows = []
    for index, layer in enumerate(layers):
        signals = layer.profile.signals(0)
        calibrated = ranges_from_profile(with_adc, layer.profile, layer.w_int.shape[1], layer.signed_inputs)[0]
        extremes = torch.stack([signals.min(), signals.max()])  # P = 100: the range holding every value
        observed = calibrated_range(extremes, 100.0, signal_is_signed(with_adc, layer.signed_inputs))
        largest = slice_ranges(with_adc.with_overrides({"adc.range": "max"}), layer.w_int.shape[1],
                               layer.signed_inputs)[0]
        width = largest.high - largest.low
        row = {
            "layer": layer.name, "layer_index": index, "fan_in": layer.w_int.shape[1],
            "signed_signal": signal_is_signed(with_adc, layer.signed_inputs),
            "signals": layer.profile.count[0], "sampled": signals.numel(),
            "calibrated_low": calibrated.low, "calibrated_high": calibrated.high,
            "max_low": largest.low, "max_high": largest.high,
            "observed_min": float(extremes[0]), "observed_max": float(extremes[1]),
            "fraction_of_max": (calibrated.high - calibrated.low) / width,
            "fraction_of_observed": (calibrated.high - calibrated.low) / (observed.high - observed.low),
        }
        if layer.name == TARGET:
            counts, edges = np.histogram((signals / width).numpy(), bins=BINS)
            row.update({"hist_low": float(edges[0]), "hist_high": float(edges[-1]), "hist_counts": counts.tolist()})
        rows.append(row)
        layer.profile = None
    return rows


def compute(quick: bool = False, progress: bool = True) -> Path:
    pts = points(quick)
    model = _base.lazy(_network.model)
    images = _base.lazy(lambda: _network.calibration_images(pts[0]["images"], crop=QUICK_CROP if quick else None))
    return _base.compute_points(NAME, quick, pts, lambda p: evaluate(model(), images(), p), progress)


def plot(quick: bool = False) -> list[Path]:
    rows = _base.rows_for(NAME, quick, "ADC profiles")
    layout = [["differential, ADC per input bit", "offset, ADC per input bit", "layers"],
              ["differential, analog input accumulation", "offset, analog input accumulation", "layers"]]
    fig, axes = _base.new_mosaic(layout, (15.5, 8.4), width_ratios=[1, 1, 1.3])
    for config in CONFIGS:
        ax = axes[config]
        r = next((r for r in rows if r["config"] == config and r["layer"] == TARGET), None)
        if r is None:
            ax.set_axis_off()
            continue
        color, _ = STYLE[config]
        counts = np.array(json.loads(r["hist_counts"]), dtype=float)
        edges = np.linspace(_base.number(r, "hist_low"), _base.number(r, "hist_high"), len(counts) + 1)
        width = _base.number(r, "max_high") - _base.number(r, "max_low")
        ax.stairs(np.where(counts > 0, counts, np.nan), edges, color=color, lw=1.2, fill=True, alpha=0.35)
        ax.stairs(np.where(counts > 0, counts, np.nan), edges, color=color, lw=1.2)
        low, high = (_base.number(r, k) / width for k in ("calibrated_low", "calibrated_high"))
        ax.axvspan(low, high, color="0.5", alpha=0.12, zorder=0)
        for edge in (low, high):
            ax.axvline(edge, color="k", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("ADC input V / Delta V_max")
        ax.set_ylabel("count")
        ax.set_title(f"{config}\n{TARGET} (res2b_branch2b), {int(r['signals']):,} ADC inputs\n"
                     f"dashed: Delta V_data (inner 99.98 %) = {100 * _base.number(r, 'fraction_of_max'):.2g} % "
                     f"of Delta V_max", fontsize=9)
    ax = axes["layers"]
    for config in CONFIGS:
        sel = sorted((r for r in rows if r["config"] == config), key=lambda r: int(r["layer_index"]))
        if sel:
            color, style = STYLE[config]
            ax.plot([int(r["layer_index"]) + 1 for r in sel], [100 * _base.number(r, "fraction_of_max") for r in sel],
                    style, color=color, marker=".", label=config)
    ax.set_yscale("log")
    ax.set_xlabel("layer (execution order; 1 = first convolution, 54 = fully connected)")
    ax.set_ylabel("Delta V_data / Delta V_max (%)")
    ax.set_title("used fraction of the largest possible ADC range, per layer (Fig. 15)", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle(f"ADC inputs of the Tiny-ImageNet ResNet-50 (paper Figs. 14-15): {rows[0]['images']} calibration "
                 f"images, ideal devices, unsliced, 1152 rows, 8-bit ADC calibrated at P = 99.98 %\n"
                 "Delta V_max: the largest possible ADC input range (every row at its largest input and "
                 "conductance)", fontsize=11)
    return [_base.save_figure(fig, NAME, quick, dpi=100)]  # many-step histograms: keep the PNG small

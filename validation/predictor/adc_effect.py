"""The ADCs of one layer under a scheme: their ranges, the error they add, the analog error they let through.

From the profile's sample of calibration input vectors of the layer, for a subset of its output columns,
the ideal ADC inputs of every weight slice, conversion, row partition and input slice are formed exactly
as the signal path forms them (the conversion's conductances of each weight value, the input slices); the
ranges are then set by the scheme's policy from those signals (:func:`aimc.adc_ranges.slice_ranges`, the
function the Monte Carlo calibration calls on its own profile). For each sampled conversion, with the
analog error at the ADC input (its mean and standard deviation from the closed forms' cell moments), the
exact rounding and clipping moments of :func:`aimc.theory.adc.rounding_moments` give

* the deterministic error of the ideal signal, (Q(s) - s)^2: an error added to every output, the same on
  every chip (``adc_quantization``, and ``adc_clipping`` for the part clipping adds);
* the fraction of the analog error variance that survives the conversion ((E[(Q(s + e) - s)^2] - (Q(s) -
  s)^2) / E[e^2]): near 0 where the ADC rounds small analog errors away, near 1 for a fine ADC.

Each term is weighed into the output as the recombination weighs it: each conversion's weight squared,
the input slice's significance squared (digital accumulation), the layer's number of row partitions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from aimc.theory import conversion_scales
from aimc.theory.adc import level_grid, rounding_moments

from aimc.adc_ranges import slice_ranges
from aimc.inputs import conversion_significances, input_slices
from aimc.mapping import SliceLayout, partitions, weight_digits
from aimc.scheme import Scheme

from .errors import FROZEN, _moments
from .profile import LayerProfile

__all__ = ["LayerADC", "layer_adc"]

SIGNALS = 4096
"""Sampled ideal ADC inputs per weight slice and conversion (more columns for small layers)."""
ROUNDED = 512
"""Of those, the conversions whose rounding moments are evaluated per slice and conversion."""
EXACT_BELOW = 2.0
"""sigma / Delta above which the rounding moments use the Delta^2 / 12 form (exact to far below 1 %)."""


@dataclass
class LayerADC:
    ranges: list
    survival: np.ndarray  # [S]
    quantization: float  # output variance (integer output units^2) of the ideal signals' rounding
    clipping: float  # what clipping adds to it


@dataclass
class _Conversions:
    """The sampled conversions of one slice k and conversion c: ideal signal, analog error mean and std,
    and each one's weight in the output variance (the input slices' count times the slice's significance
    squared, so that the weighted mean over the pooled slices is their weighted sum)."""

    signal: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray


def _cell_tables(scheme: Scheme, layout: SliceLayout) -> dict:
    """Per slice and conversion, per weight value: conductance, mean error, frozen and read variance of the
    conversion's cells combined (units of Gmax), and for shared conversions the single shared cell's."""
    m = layout.m
    digits = {k: v.numpy() for k, v in weight_digits(torch.arange(-m, m + 1), layout).items()}
    out = {}
    for k in range(layout.slices):
        grid, mo = _moments(scheme.device, layout.levels[k], layout.g_min)
        for c, conversion in enumerate(layout.conversions):
            shared = layout.is_shared(conversion)
            g = b = v = r = 0.0
            for name, coef in conversion.reads:
                d = np.array(layout.shared_digits[name][k]) if shared else digits[name][k]
                g = g + coef * grid[d]
                b = b + coef * (mo.mean[FROZEN[-1]][d] - grid[d])
                v = v + coef**2 * mo.var[FROZEN[-1]][d]
                r = r + coef**2 * mo.read_var[d]
            out[k, c] = (np.broadcast_to(g, (2 * m + 1,)), np.broadcast_to(b, (2 * m + 1,)),
                         np.broadcast_to(v, (2 * m + 1,)), np.broadcast_to(r, (2 * m + 1,)))
    return out


def _columns(layer: LayerProfile, parts: int, slices_in: int) -> int:
    """How many of the profile's kept columns give about SIGNALS sampled conversions."""
    per_column = max(1, len(layer.samples) * parts * slices_in)
    return min(len(layer.columns), max(1, math.ceil(SIGNALS / per_column)))


def _sampled(scheme: Scheme, layer: LayerProfile, layout: SliceLayout, tables: dict, seed: int) -> dict:
    """{(k, c): _Conversions} of the layer's sampled input vectors and columns."""
    i = scheme.inputs
    t_sig = np.array(conversion_significances(i, layer.signed), dtype=np.float64)
    reads = any(np.any(r) for *_, r in tables.values())
    whole, read_power = _sample_inputs(layer, i.bits, i.slice_bits, i.accumulation == "analog" or i.slice_bits == 0,
                                       reads)
    weight = len(t_sig) * t_sig**2  # pooled over the input slices: the mean of weight x term is their sum
    parts = partitions(layer.fan_in, scheme.array.rows)
    count = _columns(layer, len(parts), whole.shape[0])
    index = layer.column_weights[:count].astype(np.int64) + layout.m  # [columns, K]
    out = {}
    for (k, c), (g, b, v, r) in tables.items():
        gw, bw, vw, rw = g[index], b[index], v[index], r[index]
        pieces = [[], [], [], []]
        for start, stop in parts:
            sl = slice(start, stop)
            variance = whole[:, :, sl] ** 2 @ vw[:, sl].T
            if reads:
                variance = variance + read_power[:, :, sl] @ rw[:, sl].T
            pieces[0].append(whole[:, :, sl] @ gw[:, sl].T)
            pieces[1].append(whole[:, :, sl] @ bw[:, sl].T)
            pieces[2].append(np.sqrt(np.maximum(variance, 0.0)))
            pieces[3].append(np.broadcast_to(weight[:, None, None], pieces[0][-1].shape))
        out[k, c] = _Conversions(*(np.concatenate(p, axis=1).ravel() for p in pieces))
    return out


_SAMPLE_INPUTS: dict = {}
"""(id of a layer's samples, input encoding) -> (the samples, what one conversion reads, read-noise power):
the input side of the sampled conversions depends on the encoding only, not on the rest of the scheme."""


def _sample_inputs(layer: LayerProfile, bits: int, slice_bits: int, accumulate: bool, reads: bool
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """(what one conversion reads [T', S, K]: the whole input, or each input slice; the read-noise power it
    carries, sum_t 4^(s t) x_t^2 for an accumulation, or None without read noise)."""
    key = (id(layer.samples), bits, slice_bits, layer.signed, accumulate, reads)
    cached = _SAMPLE_INPUTS.get(key)
    if cached is not None and cached[0] is layer.samples:
        return cached[1], cached[2]
    x = torch.from_numpy(layer.samples.astype(np.int64))
    whole = x.numpy().astype(np.float64)[None] if accumulate else None
    read_power = None
    if reads or not accumulate:
        xs = input_slices(x, bits, slice_bits, layer.signed).numpy().astype(np.float64)  # [T, S, K]
        whole = xs if whole is None else whole
        if reads:  # read noise is drawn per input slice: an accumulation carries sum_t 4^(s t) x_t^2 of it
            read_power = np.tensordot(4.0 ** (slice_bits * np.arange(xs.shape[0])), xs**2, axes=1)[None] \
                if accumulate else xs**2
    if len(_SAMPLE_INPUTS) > 512:
        _SAMPLE_INPUTS.clear()
    _SAMPLE_INPUTS[key] = (layer.samples, whole, read_power)
    return whole, read_power


def layer_adc(scheme: Scheme, layer: LayerProfile, seed: int) -> LayerADC:
    """The layer's ADC ranges, output error and analog-error survival per slice (module doc)."""
    layout = SliceLayout.from_scheme(scheme)
    if scheme.adc.bits == 0:
        return LayerADC(None, np.ones(layout.slices), 0.0, 0.0)
    tables = _cell_tables(scheme, layout)
    sampled = _sampled(scheme, layer, layout, tables, seed)
    conversions = len(layout.conversions)

    def signals(k: int) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([sampled[k, c].signal for c in range(conversions)]))

    ranges = slice_ranges(scheme, layer.fan_in, layer.signed, signals)
    scales = conversion_scales(layout)
    parts = len(partitions(layer.fan_in, scheme.array.rows))
    survival, quantization, clipping = np.ones(layout.slices), 0.0, 0.0
    gen = np.random.default_rng(seed + 1)
    for k in range(layout.slices):
        before = after = 0.0
        for c in range(conversions):
            q, qc, analog, kept = _rounding(sampled[k, c], scheme.adc.bits, ranges[k], gen)
            quantization += scales[k, c] ** 2 * parts * q
            clipping += scales[k, c] ** 2 * parts * (qc - q)
            before, after = before + scales[k, c] ** 2 * analog, after + scales[k, c] ** 2 * kept
        survival[k] = float(np.clip(after / before, 0.0, 2.0)) if before > 0 else 1.0
    return LayerADC(ranges, survival, quantization, clipping)


def _rounding(conv: _Conversions, bits: int, rng, gen) -> tuple[float, float, float, float]:
    """(unclipped and clipped deterministic error, analog error before and after the ADC), each the
    significance-weighted mean over the sampled conversions, summed over the input slices."""
    pick = gen.choice(len(conv.signal), min(ROUNDED, len(conv.signal)), replace=False)
    s, m, sd, w = conv.signal[pick], conv.mean[pick], conv.std[pick], conv.weight[pick]
    grid = level_grid(bits, rng)
    unclipped = (grid[0], grid[1], -math.inf, math.inf)
    zero = np.zeros_like(s)
    with np.errstate(over="ignore"):
        _, q_free, _ = rounding_moments(s, zero, zero, unclipped, exact_below=EXACT_BELOW)
        _, q_clip, _ = rounding_moments(s, zero, zero, grid, exact_below=EXACT_BELOW)
        _, noisy, _ = rounding_moments(s, m, sd, grid, exact_below=EXACT_BELOW)
    return tuple(float((w * v).mean()) for v in (q_free, q_clip, m**2 + sd**2, noisy - q_clip))

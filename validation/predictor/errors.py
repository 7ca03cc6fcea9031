"""Each layer's error under a scheme, from the closed forms, in the units of the profile's responses.

For every weight value w in [-M, M] the closed forms give the decoded weight's error over chips
(:mod:`aimc.theory`: the device moments of every cell of every slice and array, combined with each
conversion's weight in the recombination): its mean beta(w) (the same on every chip) and its variance
f(w) (from chip to chip), and the read-noise variance r(w) per unit of input-slice power. A layer then has

* ``gain`` and ``common_shift``: the least-squares fit beta(w) ~ gamma w + mu, P(w) the input power of the
  weights of value w as weights: a gain on the ideal output (the clipping shrink of a differential pair),
  and a shift of every weight by mu, which moves every output by mu times its input total (the clipping
  of offset cells near Gmax), the response a shared column's mean error has too;
* ``residual``: the rest of the mean error, beta(w) - gamma w - mu, a fixed weight perturbation, as a
  variance per weight weighed by how much the margin responds to weights of each value
  (``weight_sensitivity``);
* ``frozen``: the chip-to-chip variance f(w), weighed the same way;
* ``output``: the variance added to every output (read noise, fresh at every read; the ADC's rounding and
  clipping, and the first-order wire resistance's residual, the same on every chip), weighed by the
  margin's sensitivity to each channel;
* ``common`` and ``common_shift``: the shared columns' (unit column's) chip-to-chip variance and mean error
  per row, common to the outputs of one array.

The ADC's effect (:mod:`.adc_effect`) also scales the analog terms of each slice by the fraction of analog
error that survives the rounding (0 where the ADC rounds it away, 1 for a fine ADC). Attribution: every
term is kept per error source (the sources of :data:`aimc.theory.SOURCES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from aimc.theory import conversion_scales, device_moments

from aimc.mapping import SliceLayout, weight_digits
from aimc.scheme import Device, Scheme

from .profile import GROUP, LayerProfile, Profile

__all__ = ["FROZEN", "LayerError", "WeightTables", "check_predictable", "scheme_errors", "weight_tables"]

FROZEN = ("programming", "drift", "stuck")


@dataclass
class LayerError:
    """One layer's error under a scheme (module doc); ``sources[s]`` holds each source's part of each term."""

    name: str
    gain: float = 0.0
    residual: float = 0.0
    frozen: float = 0.0
    output: float = 0.0
    common: float = 0.0
    common_shift: float = 0.0
    sources: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, source: str, term: str, value: float) -> None:
        setattr(self, term, getattr(self, term) + value)
        part = self.sources.setdefault(source, {})
        part[term] = part.get(term, 0.0) + value


@dataclass
class WeightTables:
    """Per slice k and weight value w (index w + M): the decoded weight's error terms, per frozen stage."""

    bias: dict[str, np.ndarray]  # stage -> [S, 2M+1], cumulative over the stages (as the device moments)
    var: dict[str, np.ndarray]
    read: np.ndarray  # [S, 2M+1]: read-noise variance per unit of input-slice power
    unit_bias: dict[str, np.ndarray]  # stage -> [S]: a shared column's error per row (per unit input)
    unit_var: dict[str, np.ndarray]
    unit_read: np.ndarray  # [S]


def check_predictable(scheme: Scheme, profile: Profile) -> None:
    """Refuse, naming the field, what the predictor does not model or was not measured for."""
    q = profile.quantisation
    for path, have, want in (("weights.bits", scheme.weights.bits, q.weight_bits),
                             ("inputs.bits", scheme.inputs.bits, q.input_bits),
                             ("weights.per_channel", scheme.weights.per_channel, q.per_channel)):
        if have != want:
            raise ValueError(f"{path}: the predictor's one-time step was measured for {want}; got {have} "
                             "(measure it again with this quantisation)")
    layout = SliceLayout.from_scheme(scheme)
    grouped = next((layer.name for layer in profile.layers if layer.groups > 1), None)
    if grouped and (scheme.adc.bits > 0 or scheme.parasitics.r > 0):
        raise ValueError(f"adc.bits: the predictor's sampled conversions do not cover grouped convolutions "
                         f"({grouped}); allowed without an ADC or wire resistance (simulate with aimc accuracy)")
    if layout.shared and scheme.array.columns != GROUP:
        raise ValueError(f"array.columns: the predictor measures shared-column (unit column) responses for "
                         f"arrays of {GROUP} columns; allowed: {GROUP} with mapping.offset unit_column")


@lru_cache(maxsize=64)
def _moments(device: Device, levels: int, g_min: float) -> tuple[np.ndarray, object]:
    digits = np.arange(levels + 1)
    grid = g_min + (1.0 - g_min) * digits / levels
    return grid, device_moments(device, grid)


def weight_tables(scheme: Scheme) -> WeightTables:
    """The per-weight-value error tables of the scheme's mapping and device (module doc)."""
    layout = SliceLayout.from_scheme(scheme)
    m, s = layout.m, layout.slices
    digits = {k: v.numpy() for k, v in weight_digits(torch.arange(-m, m + 1), layout).items()}
    scales = conversion_scales(layout)
    t = _empty_tables(s, 2 * m + 1)
    for k in range(s):
        grid, mo = _moments(scheme.device, layout.levels[k], layout.g_min)
        for c, conversion in enumerate(layout.conversions):
            weights = [(name, scales[k, c] * coef) for name, coef in conversion.reads]
            if layout.is_shared(conversion):
                _add_shared(t, k, [(layout.shared_digits[name][k], w) for name, w in weights], grid, mo)
            else:
                _add_cells(t, k, [(digits[name][k], w) for name, w in weights], grid, mo)
    return t


def _add_cells(t: WeightTables, k: int, cells: list[tuple[np.ndarray, float]], grid: np.ndarray, mo) -> None:
    """Cells of digits d (one per weight value) read with weight w in the output."""
    for d, w in cells:
        for stage in FROZEN:
            t.bias[stage][k] += w * (mo.mean[stage][d] - grid[d])
            t.var[stage][k] += w * w * mo.var[stage][d]
        t.read[k] += w * w * mo.read_var[d]


def _add_shared(t: WeightTables, k: int, cells: list[tuple[int, float]], grid: np.ndarray, mo) -> None:
    """A shared column's cell of digit d on every row, read with weight w in each output of its array."""
    for d, w in cells:
        for stage in FROZEN:
            t.unit_bias[stage][k] += w * (mo.mean[stage][d] - grid[d])
            t.unit_var[stage][k] += w * w * mo.var[stage][d]
        t.unit_read[k] += w * w * mo.read_var[d]


def _empty_tables(slices: int, values: int) -> WeightTables:
    return WeightTables(
        {st: np.zeros((slices, values)) for st in FROZEN}, {st: np.zeros((slices, values)) for st in FROZEN},
        np.zeros((slices, values)), {st: np.zeros(slices) for st in FROZEN}, {st: np.zeros(slices) for st in FROZEN},
        np.zeros(slices))


@dataclass
class LayerHistograms:
    """Per weight value (index w + M) of one layer: input power, margin sensitivity, read-noise weighting."""

    input_power: np.ndarray  # sum over weights of value w of E[x_k^2]
    sensitivity: np.ndarray  # E_i sum over weights of value w of (dm/dW)^2
    read: dict[int, np.ndarray]  # slice bits -> sum over weights of value w of (channel sensitivity x rho_k)
    channel_weight: float  # sum of the channel sensitivities
    rows_power: dict[int, float]  # slice bits -> sum_k rho_k (a shared column reads every row)


def layer_histograms(layer: LayerProfile) -> LayerHistograms:
    """The layer's weight-value histograms, as the profile keeps them."""
    powers = {0: layer.row_square, **layer.slice_square}
    return LayerHistograms(layer.input_power, layer.weight_sensitivity, layer.read_weight,
                           float(layer.channel_sensitivity.sum()), {b: float(p.sum()) for b, p in powers.items()})


def scheme_errors(profile: Profile, scheme: Scheme, histograms: list[LayerHistograms],
                  survival: list[np.ndarray] | None = None) -> list[LayerError]:
    """Every layer's :class:`LayerError`; ``survival[l][k]``: the fraction of slice k's analog error variance
    the ADC lets through in layer l (1 without an ADC)."""
    tables = weight_tables(scheme)
    m = SliceLayout.from_scheme(scheme).m
    values = np.arange(-m, m + 1, dtype=np.float64)
    if len(histograms[0].input_power) != len(values):
        raise ValueError(f"weights.bits: the profile's weight histograms are for another weight width "
                         f"({(len(histograms[0].input_power) - 1) // 2} levels, the scheme has {m})")
    bits = scheme.inputs.slice_bits
    out = []
    for li, (layer, h) in enumerate(zip(profile.layers, histograms, strict=True)):
        keep = np.ones(tables.read.shape[0]) if survival is None else survival[li]
        e = LayerError(layer.name)
        _frozen_terms(e, tables, h, values, keep)
        read = (keep[:, None] * tables.read).sum(0)
        if read.any():
            e.add("read_noise", "output", float(read @ h.read[bits]) / max(h.channel_weight, 1e-300))
        _shared_terms(e, tables, h, keep, bits)
        out.append(e)
    return out


def _gain_and_shift(beta: np.ndarray, values: np.ndarray, power: np.ndarray) -> tuple[float, float]:
    """The least-squares gain and uniform shift of a mean error beta(w) = gain w + shift + rest, each weight
    weighed by its input's power: the parts of a systematic error that act on the whole layer coherently
    (the output scaled; every output moved by shift x the input total)."""
    a = np.array([[values**2 @ power, values @ power], [values @ power, power.sum()]])
    if abs(np.linalg.det(a)) <= 1e-12 * max(abs(a[0, 0] * a[1, 1]), 1e-300):
        return 0.0, 0.0
    gain, shift = np.linalg.solve(a, np.array([(beta * values) @ power, beta @ power]))
    return float(gain), float(shift)


def _frozen_terms(e: LayerError, t: WeightTables, h: LayerHistograms, values: np.ndarray, keep: np.ndarray):
    """gain, uniform shift, residual and frozen variance, attributed stage by stage (each stage's change).
    The ADC lets ``keep`` of slice k's analog variance through; the residual (an error of a few levels,
    noise-like across outputs) by the frozen-variance-weighted mean of ``keep``; the gain and the shift
    (coherent over the layer, as large as the signal) are not rounded away."""
    sens = max(float(h.sensitivity.sum()), 1e-300)
    previous = {"gain": 0.0, "common_shift": 0.0, "residual": 0.0, "frozen": 0.0}
    for stage in FROZEN:
        beta = t.bias[stage].sum(0)
        gain, shift = _gain_and_shift(beta, values, h.input_power)
        per_slice = t.var[stage] @ h.sensitivity / sens  # [S]
        mean_keep = float(keep @ per_slice / per_slice.sum()) if per_slice.sum() > 0 else float(keep.mean())
        now = {
            "gain": gain,
            "common_shift": shift,
            "residual": mean_keep * float(((beta - gain * values - shift) ** 2) @ h.sensitivity) / sens,
            "frozen": float(keep @ per_slice),
        }
        for term, value in now.items():
            if value != previous[term]:
                e.add(stage, term, value - previous[term])
        previous = now


def _shared_terms(e: LayerError, t: WeightTables, h: LayerHistograms, keep: np.ndarray, bits: int) -> None:
    """The shared columns' mean error (per unit input total), chip-to-chip variance and read noise."""
    if not any(v.any() for v in t.unit_var.values()) and not any(v.any() for v in t.unit_bias.values()) \
            and not t.unit_read.any():
        return
    shift = float(t.unit_bias[FROZEN[-1]].sum())
    common = float((keep * t.unit_var[FROZEN[-1]]).sum())
    e.add("unit_column", "common_shift", shift)
    e.add("unit_column", "common", common)
    read = float((keep * t.unit_read).sum())
    if read:
        e.add("unit_column", "output", read * h.rows_power[bits])

"""Fast budgets from cached layer statistics (many layers x many schemes).

Per layer and per slice layout, the sufficient statistics are histograms over digit values d of the
per-output sums of the input moments, for every array a of the mapping: H2[a, k, j, d] = sum_i E[x_i^2]
[digit_ijk = d], H1 with E[x_i] and Hr with sum_t 4^(s t) E[x_ti^2]. A shared array (a unit column) holds
one digit per slice on every row, so its histogram is the row sums at that digit. A scheme that keeps the
layout (device laws, clipping, On/Off, drift, stuck cells, read noise, ADC bits) is then a few
matrix-vector products with the device tables of :func:`aimc.theory.symbolic.device_moments`: for
conversion c of slice k with weight c_kc (:func:`aimc.theory.symbolic.conversion_scales`) reading arrays
with coefficients, bias sum c_kc coef_a H1 . bias_table and variance sum c_kc^2 coef_a^2 H2 . var_table.
ADC: Delta^2/12 per conversion with the structural range (statistics form). The shared columns' errors are
included in each output's variance (their covariance between outputs is not); parasitics are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from aimc import adc as adc_mod
from aimc.adc_ranges import slice_ranges
from aimc.inputs import conversion_significances, slice_significance
from aimc.mapping import SliceLayout, partitions, weight_digits
from aimc.scheme import Scheme

from .adc import quantization_variance
from .symbolic import conversion_scales, device_moments

__all__ = ["LayerStatistics", "network_budget"]


@dataclass
class LayerStatistics:
    """Digit histograms of one layer for one slice layout (see module doc): ``h2[array]`` [S, N, L+1]."""

    layout: SliceLayout
    h2: dict[str, np.ndarray]
    h1: dict[str, np.ndarray]
    hr: dict[str, np.ndarray]
    fan_in: int
    reference_ms: float
    signed: bool

    @classmethod
    def build(
        cls,
        w_int: torch.Tensor,
        second_moment: np.ndarray,
        scheme: Scheme,
        mean: np.ndarray | None = None,
        slice_second_moment: np.ndarray | None = None,
        signed: bool = False,
    ) -> LayerStatistics:
        layout = SliceLayout.from_scheme(scheme)
        n, k = w_int.shape
        x2 = np.asarray(second_moment, dtype=np.float64)
        x1 = np.zeros(k) if mean is None else np.asarray(mean, dtype=np.float64)
        i = scheme.inputs
        t_sig = np.array(slice_significance(i.bits, i.slice_bits, signed), dtype=np.float64)
        xr = x2 if slice_second_moment is None else np.tensordot(t_sig**2, slice_second_moment, axes=1)
        digits = {name: d.numpy() for name, d in weight_digits(w_int, layout).items()}
        for name, shared in layout.shared:
            digits[name] = np.broadcast_to(np.array(shared).reshape(-1, 1, 1), (layout.slices, n, k))
        bins = max(layout.levels) + 1
        hists = [{name: _histogram(d, weights, n, bins) for name, d in digits.items()} for weights in (x2, x1, xr)]
        w = w_int.to(torch.float64).numpy()
        ref = float(np.mean((x2 - x1**2) @ (w**2).T + (x1 @ w.T) ** 2))
        return cls(layout, *hists, k, ref, signed)


def _histogram(digits: np.ndarray, weights: np.ndarray, n: int, bins: int) -> np.ndarray:
    """[S, N, bins]: per slice and output, the sum of ``weights`` over the rows at each digit."""
    rows = np.arange(n)[:, None] * bins
    spread = np.broadcast_to(weights, (n, len(weights))).ravel()
    return np.stack([np.bincount((rows + d).ravel(), spread, n * bins).reshape(n, bins) for d in digits])


def _tables(scheme: Scheme, layout: SliceLayout, k: int, bins: int, cache: dict) -> tuple[np.ndarray, ...]:
    """(bias, variance, read variance) per digit of slice k's levels, padded to ``bins`` (memoised per L)."""
    levels = layout.levels[k]
    if levels not in cache:
        g = layout.level_conductances(k).numpy()
        m = device_moments(scheme.device, g)
        cache[levels] = tuple(np.pad(t, (0, bins - (levels + 1))) for t in (m.mean["stuck"] - g, m.var["stuck"],
                                                                           m.read_var))
    return cache[levels]


def network_budget(layers: list[LayerStatistics], scheme: Scheme) -> list[dict]:
    """Per layer: relative_rms and the variance shares (programming+drift+stuck, read, ADC)."""
    tables: dict[int, tuple] = {}
    return [_layer_budget(st, scheme, tables) for st in layers]


def _layer_budget(st: LayerStatistics, scheme: Scheme, tables: dict) -> dict:
    layout = st.layout
    scales = conversion_scales(layout)
    n_out = next(iter(st.h2.values())).shape[1]
    var_frozen, var_read, bias = np.zeros(n_out), np.zeros(n_out), np.zeros(n_out)
    adc_var = 0.0
    ranges = slice_ranges(scheme, st.fan_in, st.signed)
    conversions = len(partitions(st.fan_in, scheme.array.rows)) * float(
        np.sum(np.square(conversion_significances(scheme.inputs, st.signed), dtype=np.float64)))
    for k in range(layout.slices):
        b_tab, v_tab, r_tab = _tables(scheme, layout, k, next(iter(st.h2.values())).shape[-1], tables)
        for c, conversion in enumerate(layout.conversions):
            scale = scales[k, c]
            for name, coef in conversion.reads:
                var_frozen += (scale * coef) ** 2 * (st.h2[name][k] @ v_tab)
                var_read += (scale * coef) ** 2 * (st.hr[name][k] @ r_tab)
                bias += scale * coef * (st.h1[name][k] @ b_tab)
            if ranges is not None:
                adc_var += scale**2 * conversions * quantization_variance(adc_mod.step(scheme.adc.bits, ranges[k]))
    mse = float(np.mean(var_frozen + var_read + bias**2)) + adc_var
    return {
        "relative_rms": math.sqrt(mse / st.reference_ms),
        "frozen": float(np.mean(var_frozen + bias**2)) / mse if mse else 0.0,
        "read_noise": float(np.mean(var_read)) / mse if mse else 0.0,
        "adc_quantization": adc_var / mse if mse else 0.0,
    }

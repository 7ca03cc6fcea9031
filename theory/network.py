"""Fast budgets from cached layer statistics (many layers x many schemes).

Per layer and per slice layout, the sufficient statistics are histograms over digit values d of the
per-output sums of the input moments: H2[k, j, d] = sum_i E[x_i^2] [digit_ijk = d] (positive and negative
cells), H1 with E[x_i] and Hr with sum_t 4^(s t) E[x_ti^2]. A scheme that keeps the layout (device laws,
clipping, On/Off, drift, stuck cells, read noise, ADC bits) is then a few matrix-vector products with the
device tables of :func:`aimc.theory.symbolic.device_moments`. ADC: Delta^2/12 per conversion with the
structural range (statistics form). Unit-column and parasitic terms are not included here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from aimc import adc as adc_mod
from aimc.inputs import slice_significance
from aimc.mapping import SliceLayout, digits_to_conductance, partitions, weight_digits
from aimc.pipeline import structural_range
from aimc.scheme import Scheme

from .symbolic import decode_coefficients, device_moments

__all__ = ["LayerStatistics", "network_budget"]


@dataclass
class LayerStatistics:
    """Digit histograms of one layer for one slice layout (see module doc)."""

    layout: SliceLayout
    h2: np.ndarray  # [sets, S, N, L+1]
    h1: np.ndarray
    hr: np.ndarray
    signs: tuple[float, ...]
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
        d_pos, d_neg = weight_digits(w_int, layout)
        digit_sets = [d_pos] if d_neg is None else [d_pos, d_neg]
        bins = max(layout.levels) + 1
        shape = (len(digit_sets), layout.slices, n, bins)
        hists = [np.zeros(shape) for _ in range(3)]
        rows = np.arange(n)[:, None] * bins
        for s, digits in enumerate(digit_sets):
            for sl in range(layout.slices):
                index = (rows + digits[sl].numpy()).ravel()
                for h, weights in zip(hists, (x2, x1, xr)):
                    h[s, sl] = np.bincount(index, np.broadcast_to(weights, (n, k)).ravel(), n * bins).reshape(n, bins)
        w = w_int.to(torch.float64).numpy()
        ref = float(np.mean((x2 - x1**2) @ (w**2).T + (x1 @ w.T) ** 2))
        signs = (1.0,) if d_neg is None else (1.0, -1.0)
        return cls(layout, *hists, signs, k, ref, signed)


def network_budget(layers: list[LayerStatistics], scheme: Scheme) -> list[dict]:
    """Per layer: relative_rms and the variance shares (programming+drift+stuck, read, ADC)."""
    tables: dict[int, tuple] = {}
    out = []
    for st in layers:
        layout = st.layout
        coef = decode_coefficients_cached(layout)
        var_frozen = np.zeros(st.h2.shape[2])
        var_read = np.zeros_like(var_frozen)
        bias = np.zeros_like(var_frozen)
        adc_var = 0.0
        for sl in range(layout.slices):
            levels = layout.levels[sl]
            if levels not in tables:
                digits = torch.arange(levels + 1).reshape(1, -1)
                single = SliceLayout(layout.kind, layout.weight_bits, 1, layout.bits_per_slice, (levels,),
                                     (levels,), layout.g_min)
                g = digits_to_conductance(digits, single)[0].numpy()
                m = device_moments(scheme.device, g)
                tables[levels] = (m.mean["stuck"] - g, m.var["stuck"], m.read_var)
            b_tab, v_tab, r_tab = tables[levels]
            pad = st.h2.shape[-1] - (levels + 1)
            b_tab, v_tab, r_tab = (np.pad(t, (0, pad)) for t in (b_tab, v_tab, r_tab))
            c2 = coef[sl] ** 2
            for s, sign in enumerate(st.signs):
                var_frozen += c2 * (st.h2[s, sl] @ v_tab)
                var_read += c2 * (st.hr[s, sl] @ r_tab)
                bias += sign * coef[sl] * (st.h1[s, sl] @ b_tab)
            if scheme.adc.bits > 0:
                rng = structural_range(scheme, sl, st.fan_in, st.signed)
                convs = len(partitions(st.fan_in, scheme.array.rows))
                i = scheme.inputs
                if i.accumulation == "digital" and i.slice_bits > 0:
                    convs *= float(np.sum(np.array(slice_significance(i.bits, i.slice_bits, st.signed)) ** 2))
                sets = 2 if (layout.differential and scheme.mapping.subtraction == "digital") else 1
                adc_var += c2 * convs * sets * adc_mod.step(scheme.adc.bits, rng) ** 2 / 12
        mse = float(np.mean(var_frozen + var_read + bias**2)) + adc_var
        out.append({
            "relative_rms": math.sqrt(mse / st.reference_ms),
            "frozen": float(np.mean(var_frozen + bias**2)) / mse if mse else 0.0,
            "read_noise": float(np.mean(var_read)) / mse if mse else 0.0,
            "adc_quantization": adc_var / mse if mse else 0.0,
        })
    return out


_COEF: dict[SliceLayout, np.ndarray] = {}


def decode_coefficients_cached(layout: SliceLayout) -> np.ndarray:
    if layout not in _COEF:
        _COEF[layout] = decode_coefficients(layout)
    return _COEF[layout]

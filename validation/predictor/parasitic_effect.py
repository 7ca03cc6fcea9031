"""The first-order wire resistance of one layer under a scheme, from the profile's sampled conversions.

For the paper's topology (inputs on transistor gates, bit-line resistance, 1-bit input slices), the
first-order current error of every sampled read is :func:`aimc.theory.parasitics.gate_bitline_error` of
the read's conductances and gate inputs (the closed form the theory uses), summed over the conversion's
arrays with their coefficients, the input slices with their significance and the partitions, and weighed
into the output as the recombination weighs each conversion. Over the sampled outputs that error is split
into a gain on the ideal output and a residual (the same on every chip, noise-like across outputs).

Beyond the first-order model's stated validity (r N I_max > :data:`VALIDITY_RN_IMAX` on the sampled reads)
the scheme is refused with the number; the row/column topology is refused (its row wires couple every
column of an array, which the sampled columns do not hold).
"""

from __future__ import annotations

import numpy as np
import torch
from aimc.theory import conversion_scales
from aimc.theory.parasitics import VALIDITY_RN_IMAX, gate_bitline_error, relative_error_scale

from aimc.inputs import input_slices, slice_significance
from aimc.mapping import SliceLayout, partitions, weight_digits
from aimc.scheme import Scheme

from .profile import LayerProfile

__all__ = ["layer_parasitics"]

COLUMNS = 8
"""Sampled output columns per layer for the first-order solve."""


def _conductances(layout: SliceLayout, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every array's conductance [S, columns, K] for the sampled columns' integer weights (shared arrays
    as a column of their own digit)."""
    digits = {k: v.numpy() for k, v in weight_digits(torch.from_numpy(weights.astype(np.int64)), layout).items()}
    out = {name: np.stack([layout.level_conductances(k).numpy()[d[k]] for k in range(layout.slices)])
           for name, d in digits.items()}
    for name, shared in layout.shared:
        out[name] = np.stack([np.full(weights.shape, layout.level_conductances(k).numpy()[shared[k]])
                              for k in range(layout.slices)])
    return out


def layer_parasitics(scheme: Scheme, layer: LayerProfile) -> tuple[float, float]:
    """(gain, residual output variance) of the first-order wire-resistance error (module doc); (0, 0) without."""
    p = scheme.parasitics
    if p.r == 0:
        return 0.0, 0.0
    if p.topology != "gate_bitline":
        raise ValueError("parasitics.topology: the predictor models the gate_bitline topology only (row_column "
                         "couples every column of an array); simulate row_column with aimc accuracy")
    layout = SliceLayout.from_scheme(scheme)
    weights = layer.column_weights[:COLUMNS].astype(np.int64)
    g = _conductances(layout, weights)
    i = scheme.inputs
    x = torch.from_numpy(layer.samples.astype(np.int64))
    xs = input_slices(x, i.bits, i.slice_bits, layer.signed).numpy().astype(np.float64)  # [T, S, K]
    t_sig = np.array(slice_significance(i.bits, i.slice_bits, layer.signed), dtype=np.float64)
    scales = conversion_scales(layout)
    error = np.zeros((xs.shape[1], weights.shape[0]))
    worst = 0.0
    for start, stop in partitions(layer.fan_in, scheme.array.rows):
        xp = xs[:, :, start:stop]
        for k in range(layout.slices):
            for c, conversion in enumerate(layout.conversions):
                current = 0.0
                for name, coef in conversion.reads:
                    gk = g[name][k][:, start:stop]
                    worst = max(worst, float(np.max(np.abs(xp) @ gk.T)))
                    current = current + coef * np.tensordot(t_sig, gate_bitline_error(gk, xp, p.r), axes=1)
                error += scales[k, c] * current
        scale = relative_error_scale(p.r, stop - start, worst)
        if scale > VALIDITY_RN_IMAX:
            raise ValueError(f"parasitics.r: {p.r:g} is beyond the first-order model's validity in layer "
                             f"{layer.name} (r N I_max = {scale:.3g} > {VALIDITY_RN_IMAX}); simulate it with "
                             "aimc accuracy, which solves the circuit exactly")
    ideal = layer.samples.astype(np.float64) @ weights.T  # [S, columns] integer output units
    power = float((ideal**2).sum())
    gain = float((error * ideal).sum()) / power if power > 0 else 0.0
    return gain, float(np.mean((error - gain * ideal) ** 2))

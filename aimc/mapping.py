"""Exact definitions: weight quantisation, signed-weight mapping, weight bit slicing, partitions.

Everything here is integer-exact and written on torch tensors; the Monte Carlo engine programs arrays with
these functions and the theory derives its moments from them.

Notation (DESIGN section 2): B_w weight bits, M = 2^(B_w-1) - 1, integer weights w in [-M, M].

* ``differential`` (one-sided): the magnitude |w| (B_w - 1 bits) is split into S slices of b bits, digit
  d_k = (|w| >> b k) & (2^b - 1). The sign picks the device: a positive weight puts d_k on g+ and 0 on g-,
  a negative one the reverse. w = sum_k 2^(b k) (d+_k - d-_k).
* ``differential_two_sided`` (S = 1): d+- = M +- w, L = 2M, so w = (d+ - d-) / 2.
* ``offset``: u = w + M in [0, 2M] (B_w bits) is split into S slices; w = sum_k 2^(b k) d_k - M.

A digit d of slice k becomes the conductance g = g_min + (1 - g_min) d / L_k, where L_k is the largest
digit the encoding can hold: M (differential, unsliced), 2M (offset or two-sided, unsliced) and 2^b - 1
for sliced weights. When the bits do not divide evenly the top slice never reaches L_k: it is under-used,
exactly as the hardware would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .scheme import Scheme

__all__ = [
    "SliceLayout",
    "column_groups",
    "digits_to_conductance",
    "digits_to_weights",
    "partitions",
    "quantize_weights",
    "unit_column_digits",
    "weight_digits",
]


@dataclass(frozen=True)
class SliceLayout:
    """The weight-slice structure implied by a scheme."""

    kind: str
    weight_bits: int
    slices: int
    bits_per_slice: int
    levels: tuple[int, ...]
    """L_k: the digit that maps to Gmax in slice k."""
    max_digit: tuple[int, ...]
    """Largest digit slice k actually holds (< L_k for an under-used top slice)."""
    g_min: float

    @property
    def m(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def significance(self) -> tuple[int, ...]:
        """2^(b k) for each slice k."""
        return tuple(1 << (self.bits_per_slice * k) for k in range(self.slices))

    @property
    def differential(self) -> bool:
        return self.kind != "offset"

    @property
    def digit_weight(self) -> float:
        """Weight units per unit of (d+ - d-): 1, or 1/2 for two-sided pairs."""
        return 0.5 if self.kind == "differential_two_sided" else 1.0

    def current_to_digits(self, k: int) -> float:
        """Factor turning a current (units of Gmax x input code) of slice k into digit units: L_k / (1 - g_min)."""
        return self.levels[k] / (1.0 - self.g_min)

    @classmethod
    def from_scheme(cls, scheme: Scheme) -> SliceLayout:
        kind, bits, s = scheme.mapping.kind, scheme.weights.bits, scheme.weights.slices
        m = (1 << (bits - 1)) - 1
        b = scheme.bits_per_slice
        top_value = 2 * m if kind != "differential" else m
        if s == 1:
            levels = (top_value,)
            max_digit = (top_value,)
        else:
            levels = tuple((1 << b) - 1 for _ in range(s))
            max_digit = tuple(min((1 << b) - 1, top_value >> (b * k)) for k in range(s))
        return cls(kind, bits, s, b, levels, max_digit, scheme.device.g_min)


def quantize_weights(
    weights: torch.Tensor, bits: int, per_channel: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric post-training quantisation to integers in [-M, M].

    Returns ``(w_int, scale)`` with ``weights ~= w_int * scale``; the scale is max|W| / M per layer, or per
    output channel (dimension 0) with ``per_channel``. An all-zero layer (or channel) gets scale 1.
    """
    if not torch.isfinite(weights).all():
        raise ValueError("weights: must be finite (found NaN or inf)")
    m = (1 << (bits - 1)) - 1
    if per_channel:
        peak = weights.abs().reshape(weights.shape[0], -1).amax(dim=1)
        peak = peak.reshape((-1,) + (1,) * (weights.dim() - 1))
    else:
        peak = weights.abs().amax()
    scale = torch.where(peak > 0, peak / m, torch.ones_like(peak))
    w_int = torch.clamp(torch.round(weights / scale), -m, m).to(torch.int64)
    return w_int, scale


def _split(values: torch.Tensor, layout: SliceLayout) -> torch.Tensor:
    """Base-2^b digits of non-negative integers, stacked on a new leading slice dimension."""
    if layout.slices == 1:
        return values.unsqueeze(0)
    b, mask = layout.bits_per_slice, (1 << layout.bits_per_slice) - 1
    return torch.stack([(values >> (b * k)) & mask for k in range(layout.slices)])


def weight_digits(w_int: torch.Tensor, layout: SliceLayout) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-slice digits of integer weights: ``(d_pos, d_neg)`` for differential mappings, ``(d, None)`` for offset.

    Output shape: ``[slices, *w_int.shape]``, int64.
    """
    m = layout.m
    w = w_int.to(torch.int64)
    if w.numel() and int(w.abs().max()) > m:
        raise ValueError(f"weights: integers must lie in [-{m}, {m}] for {layout.weight_bits}-bit weights")
    if layout.kind == "offset":
        return _split(w + m, layout), None
    if layout.kind == "differential_two_sided":
        return (m + w).unsqueeze(0), (m - w).unsqueeze(0)
    magnitude = _split(w.abs(), layout)
    positive = (w > 0).unsqueeze(0)
    zero = torch.zeros_like(magnitude)
    return torch.where(positive, magnitude, zero), torch.where(positive, zero, magnitude)


def digits_to_conductance(
    digits: torch.Tensor, layout: SliceLayout, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """g = g_min + (1 - g_min) d / L_k for digits of shape [slices, ...]."""
    shape = (-1,) + (1,) * (digits.dim() - 1)
    levels = torch.tensor(layout.levels, dtype=dtype, device=digits.device).reshape(shape)
    return layout.g_min + (1.0 - layout.g_min) * digits.to(dtype) / levels


def digits_to_weights(d_pos: torch.Tensor, d_neg: torch.Tensor | None, layout: SliceLayout) -> torch.Tensor:
    """The exact inverse of :func:`weight_digits` (integer arithmetic)."""
    shape = (-1,) + (1,) * (d_pos.dim() - 1)
    sig = torch.tensor(layout.significance, dtype=torch.int64, device=d_pos.device).reshape(shape)
    if d_neg is None:
        return (sig * d_pos).sum(0) - layout.m
    total = (sig * (d_pos - d_neg)).sum(0)
    return total // 2 if layout.kind == "differential_two_sided" else total


def unit_column_digits(layout: SliceLayout) -> torch.Tensor:
    """Digits of the unit column (u = M, a zero weight of the offset mapping), one per slice."""
    if layout.kind != "offset":
        raise ValueError("mapping.kind: the unit column exists for offset mappings only")
    return _split(torch.tensor(layout.m, dtype=torch.int64), layout)


def partitions(fan_in: int, rows: int) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of the ceil(fan_in / rows) arrays a layer of fan-in K is split into.

    Every partition is full except the last, which holds the remainder.
    """
    if fan_in < 1 or rows < 1:
        raise ValueError("fan_in and array.rows must be >= 1")
    return [(start, min(start + rows, fan_in)) for start in range(0, fan_in, rows)]


def column_groups(outputs: int, columns: int) -> list[tuple[int, int]]:
    """Output ranges [start, stop) that share one array (and one unit column)."""
    return partitions(outputs, columns)

"""Exact definitions: weight quantisation, the slice layout of a mapping, digits, conductances, partitions.

Everything here is integer-exact and generic over the registered mappings (:mod:`aimc.mappings`): the
Monte Carlo engine programs arrays with these functions and the theory derives its moments from them. The
functions take torch tensors (the engine) or numpy arrays (the closed forms, which start without torch) and
return the same library's arrays, equal bit for bit (:mod:`aimc._arrays`).

Notation (DESIGN section 2): B_w weight bits, M = 2^(B_w-1) - 1, integer weights w in [-M, M]. A mapping
puts a non-negative integer code on each of its arrays (for example |w| on g+ or g-, or u = w + M); the
code is split into S slices of b = ceil(encoded bits / S) bits, digit d_k = (code >> b k) & (2^b - 1)
(S = 1: the code itself). A digit d of slice k becomes the conductance g = g_min + (1 - g_min) d / L_k,
where L_k is the largest digit the slice can hold: the largest code unsliced, 2^b - 1 sliced. When the
bits do not divide evenly the top slice never reaches L_k: it is under-used, exactly as the hardware
would be.

The digital side (:func:`recombine`) turns the conversions Q_ck of slice k (conversion c, see
:class:`aimc.mappings.Conversion`) into the product, for one array partition with input sum X = sum_i x_i:

    y = sum_k significance_k digit_weight L_k / (1 - g_min) (sum_c sign_c Q_ck - pedestal g_min X) - offset X

pedestal = sum_c sign_c sum(coefficients of c): the g_min part of every converted current that the
conversions do not cancel among themselves. With ideal cells and no ADC, y = w x exactly.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ._arrays import is_tensor, namespace, numel, to_int64
from .mappings import Conversion, get_mapping
from .scheme import Scheme

if TYPE_CHECKING:
    import torch

__all__ = [
    "SliceLayout",
    "column_groups",
    "digits_to_conductance",
    "digits_to_weights",
    "partitions",
    "quantize_weights",
    "recombine",
    "weight_digits",
]


@dataclass(frozen=True)
class SliceLayout:
    """The weight-slice structure and readout implied by a scheme (built by :meth:`from_scheme`)."""

    kind: str
    weight_bits: int
    slices: int
    bits_per_slice: int
    levels: tuple[int, ...]
    """L_k: the digit that maps to Gmax in slice k."""
    max_digit: tuple[int, ...]
    """Largest digit slice k actually holds (< L_k for an under-used top slice)."""
    g_min: float
    significance: tuple[int, ...]
    """Digital weight of slice k's digits (2^(b k) for a shift-and-add; negative for a sign slice)."""
    digit_weight: Fraction
    offset: int
    """Integer subtracted digitally per unit of sum_i x_i after recombination."""
    arrays: tuple[str, ...]
    """The per-weight arrays of each slice."""
    shared: tuple[tuple[str, tuple[int, ...]], ...]
    """Arrays with one column per column group, with the digit each holds in every slice."""
    conversions: tuple[Conversion, ...]
    step: tuple[int, ...]
    """Per slice, the spacing (in digits) of the possible ideal conversion values: their greatest common divisor."""
    peak: tuple[float, ...]
    """Per slice, the largest |sum of coefficient x conductance| of any conversion of any weight (units of Gmax)."""

    @property
    def m(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def cells_per_weight(self) -> int:
        """Devices one weight occupies: its per-weight arrays times its slices (shared columns aside)."""
        return len(self.arrays) * self.slices

    @property
    def pedestal(self) -> float:
        """Multiples of g_min sum_i x_i left in sum_c sign_c Q_c (0 when the conversions cancel it)."""
        return sum(c.pedestal for c in self.conversions)

    @property
    def signed_signal(self) -> bool:
        """Whether a conversion subtracts currents in analog (its signal can be negative for x >= 0)."""
        return any(c.signed for c in self.conversions)

    @property
    def shared_digits(self) -> dict[str, tuple[int, ...]]:
        return dict(self.shared)

    def is_shared(self, conversion: Conversion) -> bool:
        return conversion.arrays[0] in self.shared_digits

    def current_to_digits(self, k: int, exact: bool = False) -> float | Fraction:
        """Factor turning a current (units of Gmax x input code) of slice k into digit units: L_k / (1 - g_min)."""
        if exact:
            return Fraction(self.levels[k]) / (1 - _exact(self.g_min))
        return self.levels[k] / (1.0 - self.g_min)

    def digit_scale(self, k: int, exact: bool = False) -> float | Fraction:
        """Weight units per unit of current of slice k: significance_k digit_weight L_k / (1 - g_min)."""
        weight = self.significance[k] * self.digit_weight
        return weight * self.current_to_digits(k, True) if exact else float(weight) * self.current_to_digits(k)

    def level_conductances(self, k: int, dtype: Any = None) -> torch.Tensor | np.ndarray:
        """g of every digit 0..L_k of slice k: a torch tensor of ``dtype`` (default float64), or a numpy
        array when ``dtype`` is a numpy type (``numpy.float64``), the same values."""
        if dtype is not None and not _is_torch_dtype(dtype):
            digits = np.arange(self.levels[k] + 1, dtype=dtype)
        else:
            import torch

            digits = torch.arange(self.levels[k] + 1, dtype=torch.float64 if dtype is None else dtype)
        return self.g_min + (1.0 - self.g_min) * digits / self.levels[k]

    @classmethod
    def from_scheme(cls, scheme: Scheme) -> SliceLayout:
        return _layout(scheme.mapping, scheme.weights.bits, scheme.weights.slices, scheme.device.g_min)


def _is_torch_dtype(dtype: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(dtype, torch.dtype)


def _exact(value: float) -> Fraction:
    """A float as the simple fraction it stands for (1e-7 as 1/10^7), for exact symbolic coefficients.

    The simple fraction is taken only when it rounds back to the same float: g_min = 1 / 1.0000000000000002
    would otherwise become exactly 1 and turn 1 - g_min into a division by zero.
    """
    simple = Fraction(value).limit_denominator(10**12)
    return simple if float(simple) == value else Fraction(value)


@lru_cache(maxsize=512)
def _layout(mapping_section: Any, weight_bits: int, slices: int, g_min: float) -> SliceLayout:
    rule = get_mapping(mapping_section.kind)
    largest = rule.largest_code(weight_bits)
    b = -(-rule.encoded_bits(weight_bits) // slices)
    if slices == 1:
        levels = max_digit = (largest,)
    else:
        levels = tuple((1 << b) - 1 for _ in range(slices))
        max_digit = tuple(min((1 << b) - 1, largest >> (b * k)) for k in range(slices))
    shared = tuple(
        (name, tuple(_split(np.asarray(code, dtype=np.int64), slices, b).tolist()))
        for name, code in rule.shared_codes(mapping_section, weight_bits).items()
    )
    layout = SliceLayout(
        kind=rule.name, weight_bits=weight_bits, slices=slices, bits_per_slice=b, levels=levels,
        max_digit=max_digit, g_min=g_min, significance=rule.significance(weight_bits, slices, b),
        digit_weight=rule.digit_weight, offset=rule.offset(mapping_section, weight_bits),
        arrays=rule.arrays(mapping_section), shared=shared, conversions=rule.conversions(mapping_section),
        step=(), peak=(),
    )
    step, peak = _conversion_extent(layout)
    return _replace(layout, step=step, peak=peak)


def _replace(layout: SliceLayout, **changes: Any) -> SliceLayout:
    from dataclasses import replace

    return replace(layout, **changes)


def _conversion_extent(layout: SliceLayout) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(step, peak) per slice from every representable weight's digits (at most 2^16 weights).

    In numpy (integers, and the maximum of exact conductances: the values torch gives), so that a layout,
    which checking a scheme builds, needs no torch."""
    every = np.arange(-layout.m, layout.m + 1, dtype=np.int64)
    digits = {**weight_digits(every, layout), **_shared_digit_tensors(layout, every.shape, every)}
    steps, peaks = [], []
    for k in range(layout.slices):
        values, conductance = [], []
        for conversion in layout.conversions:
            combined = sum(int(c) * digits[name][k] for name, c in conversion.reads)
            values.append(abs(combined))
            g = sum(c * digits_to_conductance(digits[name][k : k + 1], layout, first=k)[0]
                    for name, c in conversion.reads)
            conductance.append(abs(g).max())
        steps.append(math.gcd(*(int(v) for v in np.unique(np.concatenate(values)))) or 1)
        peaks.append(float(max(conductance)))
    return tuple(steps), tuple(peaks)


def _shared_digit_tensors(layout: SliceLayout, shape: tuple[int, ...], like: Any) -> dict[str, Any]:
    """The shared arrays' digits broadcast to ``shape``, in the library of ``like``."""
    if is_tensor(like):
        import torch

        return {name: torch.tensor(d, dtype=torch.int64).reshape(-1, *([1] * len(shape))).expand(-1, *shape)
                for name, d in layout.shared}
    return {name: np.broadcast_to(np.asarray(d, dtype=np.int64).reshape(-1, *([1] * len(shape))), (len(d), *shape))
            for name, d in layout.shared}


def quantize_weights(
    weights: torch.Tensor, bits: int, per_channel: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric post-training quantisation to integers in [-M, M].

    Returns ``(w_int, scale)`` with ``weights ~= w_int * scale``; the scale is max|W| / M per layer, or per
    output channel (dimension 0) with ``per_channel``. An all-zero layer (or channel) gets scale 1. Torch
    tensors or numpy arrays (then ``scale`` is a numpy array too, of zero dimensions per layer).
    """
    xp = namespace(weights)
    if not xp.isfinite(weights).all():
        raise ValueError("weights: must be finite (found NaN or inf)")
    m = (1 << (bits - 1)) - 1
    if per_channel:
        peak = xp.amax(abs(weights).reshape(weights.shape[0], -1), 1)
        peak = peak.reshape((-1,) + (1,) * (weights.ndim - 1))
    else:
        peak = xp.amax(abs(weights))
    scale = xp.where(peak > 0, peak / m, xp.ones_like(peak))
    w_int = to_int64(xp.clip(xp.round(weights / scale), -m, m))
    return w_int, scale


def _split(codes: torch.Tensor, slices: int, bits_per_slice: int) -> torch.Tensor:
    """Base-2^b digits of non-negative integers, stacked on a new leading slice dimension."""
    if slices == 1:
        return codes[None]
    mask = (1 << bits_per_slice) - 1
    return namespace(codes).stack([(codes >> (bits_per_slice * k)) & mask for k in range(slices)])


def weight_digits(w_int: torch.Tensor, layout: SliceLayout) -> dict[str, torch.Tensor]:
    """Per-slice digits of integer weights on each per-weight array: ``{array: [slices, *w_int.shape]}``, int64
    (a torch tensor or a numpy array as ``w_int`` is)."""
    m = layout.m
    w = to_int64(w_int)
    if numel(w) and int(abs(w).max()) > m:
        raise ValueError(f"weights: integers must lie in [-{m}, {m}] for {layout.weight_bits}-bit weights")
    codes = get_mapping(layout.kind).codes(w, layout.weight_bits)
    return {name: _split(codes[name], layout.slices, layout.bits_per_slice) for name in layout.arrays}


def digits_to_conductance(
    digits: torch.Tensor | np.ndarray, layout: SliceLayout, dtype: Any = None, first: int = 0
) -> torch.Tensor | np.ndarray:
    """g = g_min + (1 - g_min) d / L_k for digits of shape [slices, ...] (slices ``first``, ``first`` + 1, ...).

    Torch tensors of ``dtype`` (default float64), or numpy arrays (float64 unless ``dtype`` is a numpy type)."""
    shape = (-1,) + (1,) * (digits.ndim - 1)
    chosen = layout.levels[first : first + digits.shape[0]]
    if is_tensor(digits):
        import torch

        dtype = torch.float64 if dtype is None else dtype
        levels = torch.tensor(chosen, dtype=dtype, device=digits.device)
        return layout.g_min + (1.0 - layout.g_min) * digits.to(dtype) / levels.reshape(shape)
    dtype = np.float64 if dtype is None or _is_torch_dtype(dtype) else dtype
    levels = np.asarray(chosen, dtype=dtype)
    return layout.g_min + (1.0 - layout.g_min) * np.asarray(digits).astype(dtype) / levels.reshape(shape)


def recombine(
    layout: SliceLayout,
    converted: Callable[[int, int], Any],
    x_total: Any,
    exact: bool = False,
    reduce: Callable[[Any], Any] | None = None,
) -> Any:
    """The digital side of one partition (module doc): ``converted(k, c)`` is conversion c of slice k.

    One definition for every use: torch tensors (the signal path), integers (digits) and sympy symbols
    (the theory's derivations, ``exact=True`` for rational coefficients). ``reduce`` (for batched forms
    that hold every partition on one axis) sums each slice's pedestal-free conversions, and the input
    total of the offset, over the partitions before they are scaled.
    """
    y = 0
    for k in range(layout.slices):
        q = _signed_sum(layout, k, converted)
        if layout.pedestal and layout.g_min:
            g_min = _exact(layout.g_min) if exact else layout.g_min
            q = q - layout.pedestal * g_min * x_total
        if reduce is not None:
            q = reduce(q)
        weight = layout.significance[k] * layout.digit_weight
        y = y + (weight if exact else float(weight)) * (layout.current_to_digits(k, exact) * q)
    if not layout.offset:
        return y
    return y - layout.offset * (x_total if reduce is None else reduce(x_total))


def _signed_sum(layout: SliceLayout, k: int, converted: Callable[[int, int], Any]) -> Any:
    total = None
    for c, conversion in enumerate(layout.conversions):
        q = converted(k, c)
        if total is None:
            total = q if conversion.sign == 1 else -q
        else:
            total = total + q if conversion.sign == 1 else total - q
    return total


def digits_to_weights(digits: dict[str, torch.Tensor], layout: SliceLayout) -> torch.Tensor:
    """The exact inverse of :func:`weight_digits` (integer arithmetic)."""
    shape = next(iter(digits.values())).shape[1:]
    every = {**digits, **_shared_digit_tensors(layout, shape, next(iter(digits.values())))}
    total = 0
    for k in range(layout.slices):
        q = _signed_sum(layout, k, lambda k, c: sum(int(coef) * every[name][k]
                                                   for name, coef in layout.conversions[c].reads))
        total = total + layout.significance[k] * q
    weight = layout.digit_weight
    return total * weight.numerator // weight.denominator - layout.offset


def partitions(fan_in: int, rows: int) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of the ceil(fan_in / rows) arrays a layer of fan-in K is split into.

    Every partition is full except the last, which holds the remainder.
    """
    if fan_in < 1 or rows < 1:
        raise ValueError("fan_in and array.rows must be >= 1")
    return [(start, min(start + rows, fan_in)) for start in range(0, fan_in, rows)]


def column_groups(outputs: int, columns: int) -> list[tuple[int, int]]:
    """Output ranges [start, stop) that share one array (and its shared columns)."""
    return partitions(outputs, columns)


def group_index(outputs: int, columns: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """For each of ``outputs`` columns, the index of its column group (the shared column it reads)."""
    import torch  # here, not at the top: the closed forms use this module without torch

    return torch.cat([torch.full((b - a,), gi, device=device)
                      for gi, (a, b) in enumerate(column_groups(outputs, columns))])

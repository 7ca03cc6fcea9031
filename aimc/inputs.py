"""Exact definitions: activation quantisation and input bit slicing.

Unsigned inputs (after a ReLU) are integers in [0, 2^B - 1]. Signed inputs (the first layer) are
sign-magnitude: magnitude in [0, 2^(B-1) - 1] and a sign, applied as +V, 0 or -V, so a signed input needs
B - 1 magnitude bits. Bit-serial application splits the magnitude into T = ceil(magnitude_bits / s) slices
of s bits, x = sum_t 2^(s t) x_t, each slice carrying the input's sign; s = 0 applies the whole input
through one DAC (T = 1).

The functions take torch tensors (the Monte Carlo engine) or numpy arrays (the closed forms, which start
without torch) and return the same library's arrays, equal bit for bit (:mod:`aimc._arrays`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._arrays import is_tensor, namespace, numel

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "conversion_input_max",
    "conversion_significances",
    "input_max",
    "input_slices",
    "magnitude_bits",
    "quantize_inputs",
    "saturate_inputs",
    "slice_count",
    "slice_significance",
]


def magnitude_bits(bits: int, signed: bool) -> int:
    return bits - 1 if signed else bits


def input_max(bits: int, signed: bool) -> int:
    """Largest input magnitude code: 2^B - 1 (unsigned) or 2^(B-1) - 1 (signed)."""
    return (1 << magnitude_bits(bits, signed)) - 1


def slice_count(bits: int, slice_bits: int, signed: bool) -> int:
    """T, the number of input slices (1 for whole inputs)."""
    mag = magnitude_bits(bits, signed)
    return 1 if slice_bits == 0 else -(-mag // slice_bits)


def quantize_inputs(
    x: torch.Tensor | np.ndarray,
    bits: int,
    signed: bool,
    full_scale: float | torch.Tensor,
    dtype: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantise activations to integer codes with a calibrated full-scale value.

    Returns ``(x_int, scale)`` with ``x ~= x_int * scale``, ``scale = full_scale / input_max``; the codes
    in ``dtype`` (int64 by default, or a float type that holds them exactly, to skip a conversion). Values
    beyond the full scale saturate at the largest code (the DAC's range); negative values are refused for
    unsigned inputs, since they mean the layer was declared unsigned by mistake.
    """
    if signed and bits < 2:
        raise ValueError("inputs.bits: signed inputs need at least 2 bits (sign + magnitude)")
    if numel(x):  # one reduction and one device sync for both checks (this runs for every layer call)
        lo, hi = _extremes(x)  # NaN propagates into both
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("inputs: must be finite (found NaN or inf)")
        if not signed and lo < 0:
            raise ValueError(
                "inputs: negative values given to an unsigned input quantiser; declare the layer signed"
            )
    return saturate_inputs(x, bits, signed, full_scale, dtype)


def _extremes(x: torch.Tensor | np.ndarray) -> list[float]:
    if is_tensor(x):
        import torch

        return torch.stack(torch.aminmax(x)).tolist()
    return [float(x.min()), float(x.max())]


def saturate_inputs(
    x: torch.Tensor | np.ndarray,
    bits: int,
    signed: bool,
    full_scale: float | torch.Tensor,
    dtype: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The quantiser without checks on ``x`` (the analog layers' DAC): ``(codes, scale)`` with codes
    ``clamp(round(x / scale), lo, top)``, ``scale = full_scale / top``, ``lo`` = 0 for unsigned inputs (a DAC
    applies no negative voltage) and ``-top`` for signed ones; so ``x`` beyond the full scale saturates.

    Three elementwise passes (division, clamp, rounding: clamping to integer bounds commutes with rounding)
    and no device sync. A NaN stays NaN, so callers that need the check make it themselves
    (:func:`quantize_inputs`, or on the network's output: ``check_finite`` of the Monte Carlo layers).
    """
    positive = full_scale > 0 if isinstance(full_scale, (int, float)) else bool((full_scale > 0).all())
    if not positive:
        raise ValueError(f"inputs: the full-scale value must be > 0, got {full_scale}")
    top = input_max(bits, signed)
    if not is_tensor(x):  # numpy: the same three operations
        import numpy as np

        scale = np.asarray(full_scale, dtype=x.dtype) / top
        codes = np.round(np.clip(x / scale, -top if signed else 0, top))
        return codes.astype(np.int64 if dtype is None else dtype), scale
    import torch

    scale = torch.as_tensor(full_scale, dtype=x.dtype, device=x.device) / top
    codes = torch.div(x, scale).clamp_(-top if signed else 0, top).round_()
    return codes.to(torch.int64 if dtype is None else dtype), scale


def input_slices(x_int: torch.Tensor, bits: int, slice_bits: int, signed: bool) -> torch.Tensor:
    """Signed input slices, stacked on a new leading dimension: ``x = sum_t 2^(s t) slices[t]``.

    For whole inputs (``slice_bits = 0``) the single slice is ``x_int`` itself.
    """
    top = input_max(bits, signed)
    if (numel(x_int) and int(abs(x_int).max()) > top) or (not signed and bool((x_int < 0).any())):
        raise ValueError(f"inputs: codes must lie in [{-top if signed else 0}, {top}]")
    if slice_bits == 0:
        return x_int[None]
    xp = namespace(x_int)
    sign = xp.sign(x_int)
    mag = abs(x_int)
    mask = (1 << slice_bits) - 1
    count = slice_count(bits, slice_bits, signed)
    return xp.stack([sign * ((mag >> (slice_bits * t)) & mask) for t in range(count)])


def slice_significance(bits: int, slice_bits: int, signed: bool) -> tuple[int, ...]:
    """2^(s t) for each input slice t."""
    if slice_bits == 0:
        return (1,)
    return tuple(1 << (slice_bits * t) for t in range(slice_count(bits, slice_bits, signed)))


def conversion_input_max(inputs, signed: bool) -> int:
    """Largest input code one ADC conversion sees (``inputs`` an :class:`aimc.Inputs`): one input slice's
    with digital accumulation, the whole input's otherwise."""
    whole = input_max(inputs.bits, signed)
    if inputs.slice_bits == 0 or inputs.accumulation == "analog":
        return whole
    return min((1 << inputs.slice_bits) - 1, whole)


def conversion_significances(inputs, signed: bool) -> tuple[int, ...]:
    """The input significances 2^(s t) of the conversions of one output, weight slice and partition: one per
    input slice with digital accumulation (shift-and-add of the converted slices), else (1,) (one conversion
    of the accumulated or whole input). Their count is the number of conversions; the sum of their squares
    weighs each conversion's rounding variance in the output."""
    if inputs.slice_bits == 0 or inputs.accumulation == "analog":
        return (1,)
    return slice_significance(inputs.bits, inputs.slice_bits, signed)

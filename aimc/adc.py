"""Exact definitions: the ADC transfer function and its range policies.

An ADC of B bits digitises an analog signal (a bit-line current in units of Gmax x input code) with uniform
levels, rounding to the nearest level (ties to even) and clipping outside its range:

* a signed signal (differential pair with analog subtraction, or signed inputs) uses a range [-R, R] with
  2^B - 1 levels, one exactly at zero: levels k R / K for |k| <= K = 2^(B-1) - 1 (B >= 2);
* an unsigned signal uses [low, high] with 2^B levels: low + k (high - low) / (2^B - 1).

Range policies (``adc.range``): ``max`` (the largest signal the array can produce), ``granular`` (level
spacing equal to the spacing of possible ideal signals: the full-precision guarantee), ``calibrated`` (the
inner P % of profiled signals), ``aligned`` (the calibrated range widened to the granular range times a power
of two, so that the levels keep lining up with the signal's levels: the paper's bit-sliced rule) and
``optimal`` (least mean-squared clipping + quantisation error on profiled signals). Weight slices of one layer
may be constrained to ranges that differ by powers of two.

:func:`quantize` and :func:`calibrated_range` take torch tensors (the Monte Carlo engine) or numpy arrays
(the closed forms, which start without torch), with the same results (:mod:`aimc._arrays`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._arrays import is_tensor, namespace

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "ADCRange",
    "aligned_range",
    "calibrated_range",
    "fpg_bits",
    "granular_range",
    "optimal_range",
    "power_of_two_ranges",
    "quantize",
    "step",
]


@dataclass(frozen=True)
class ADCRange:
    """An ADC input range in units of Gmax x input code. ``low < 0`` means signed (then low = -high)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"ADC range: limits must be finite, got [{self.low}, {self.high}]")
        if self.high <= self.low:
            raise ValueError(f"ADC range: high must exceed low, got [{self.low}, {self.high}]")
        if self.low < 0 and not math.isclose(self.low, -self.high, rel_tol=1e-12):
            raise ValueError(
                f"ADC range: a signed range must be symmetric about zero, got [{self.low}, {self.high}]"
            )

    @property
    def signed(self) -> bool:
        return self.low < 0

    def check_signal(self, signed_signal: bool, what: str = "adc range") -> None:
        """Refuse an unsigned range for a signal that can be negative (it would exclude zero and all negatives)."""
        if signed_signal and not self.signed:
            raise ValueError(f"{what}: the signal is signed, so the range must be symmetric about zero")

    def scaled(self, factor: float) -> ADCRange:
        return ADCRange(self.low * factor, self.high * factor)


def _levels(bits: int, signed: bool) -> int:
    if bits < 1:
        raise ValueError("adc.bits: must be >= 1 to quantise (0 means no ADC)")
    if signed and bits < 2:
        raise ValueError("adc.bits: a signed range needs at least 2 bits (2^B - 1 levels with one at zero)")
    return (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1


def step(bits: int, rng: ADCRange) -> float:
    """The level spacing (one LSB) in signal units."""
    n = _levels(bits, rng.signed)
    return rng.high / n if rng.signed else (rng.high - rng.low) / n


def quantize(signal: torch.Tensor, bits: int, rng: ADCRange) -> torch.Tensor:
    """The ADC transfer function: nearest level, clipped to the range. Same dtype as ``signal``."""
    n = _levels(bits, rng.signed)
    delta = step(bits, rng)
    xp = namespace(signal)
    if rng.signed:
        return xp.clip(xp.round(signal / delta), -n, n) * delta
    return rng.low + xp.clip(xp.round((signal - rng.low) / delta), 0, n) * delta


def fpg_bits(bits_per_cell: int, input_bits: int, rows: int) -> float:
    """ADC bits for the full-precision guarantee, Eq. (2)-(3) of the paper (ISAAC's form).

    B_out = B_W + B_in + log2 N if B_in > 1 and B_W > 1, else B_W + B_in + log2 N - 1.
    """
    extra = 0 if (input_bits > 1 and bits_per_cell > 1) else -1
    return bits_per_cell + input_bits + math.log2(rows) + extra


def granular_range(delta: float, bits: int, signed: bool) -> ADCRange:
    """One level per possible ideal signal: spacing ``delta``, from zero (unsigned) or symmetric (signed)."""
    n = _levels(bits, signed)
    return ADCRange(-n * delta, n * delta) if signed else ADCRange(0.0, n * delta)


def aligned_range(calibrated: ADCRange, delta: float, bits: int) -> ADCRange:
    """The granular range of spacing ``delta`` scaled by 2^j, j the smallest integer (of either sign) for
    which it covers ``calibrated`` (taken from zero when unsigned).

    Its level spacing is delta 2^j: for j <= 0 every possible ideal signal (a multiple of delta) is a level,
    so a signal inside the range converts without error; for j > 0 the levels are every 2^j-th signal
    level. This is CrossSim's rule for bit-sliced arrays, the paper's (a clip power C per slice, the
    maximum range times 2^-C); the inner-percentile range alone puts levels at arbitrary offsets from the
    signal levels, which turns every conversion into a rounding error.
    """
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"ADC aligned range: the signal step must be finite and > 0, got {delta}")
    base = granular_range(delta, bits, calibrated.signed)
    need = calibrated.high
    if need <= 0:
        return base
    j = math.ceil(math.log2(need / base.high))
    top = base.high * 2.0**j
    while top < need:  # log2 rounded down near an exact power of two
        top *= 2.0
    return ADCRange(-top, top) if calibrated.signed else ADCRange(0.0, top)


def calibrated_range(samples: torch.Tensor | np.ndarray, percentile: float, signed: bool) -> ADCRange:
    """The range holding the inner ``percentile`` % of profiled signals.

    Signed: [-R, R] with R the larger magnitude of the two tail quantiles; unsigned: the two quantiles.
    A range of zero width (all samples equal) is widened to include zero.
    """
    if not 0 < percentile <= 100:
        raise ValueError("adc.percentile: must be in (0, 100]")
    tail = (100.0 - percentile) / 200.0
    if is_tensor(samples):
        lo, hi = (float(v) for v in _quantiles(_finite_float64(samples), (tail, 1.0 - tail)))
    else:
        lo, hi = _numpy_quantiles(_finite_float64(samples), (tail, 1.0 - tail))
    if signed:
        r = max(-lo, hi)
        return ADCRange(-r, r) if r > 0 else ADCRange(-1.0, 1.0)
    lo = max(lo, 0.0)
    if hi <= lo:
        hi = lo + (abs(lo) if lo > 0 else 1.0)
        lo = 0.0
    return ADCRange(lo, hi)


def _finite_float64(samples: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """The samples flattened to float64; ValueError for none or for a non-finite one."""
    xp = namespace(samples)
    if is_tensor(samples):
        flat = samples.detach().reshape(-1).to(xp.float64)
    else:
        flat = samples.reshape(-1).astype(xp.float64)
    if flat.shape[0] == 0 or not xp.isfinite(flat).all():
        raise ValueError("ADC calibration: needs at least one finite profiled signal")
    return flat


def _quantiles(flat: torch.Tensor, qs: tuple[float, ...]) -> list[float]:
    """Linear-interpolation quantiles of the sorted values (torch.quantile refuses very large tensors).

    The two order statistics around each quantile are taken from a partial sort (``topk`` from the
    nearer end), not a full sort: the same values, at a cost of O(n) for the tail quantiles of a
    calibrated range.
    """
    import torch

    n = flat.numel()
    out = []
    for q in qs:
        pos = q * (n - 1)
        i = math.floor(pos)
        j = min(i + 1, n - 1)
        if j < n // 2:  # ordered[i], ordered[j] among the j + 1 smallest
            low = torch.topk(flat, j + 1, largest=False, sorted=True).values
            a, b = low[i], low[j]
        else:  # among the n - i largest, in descending order: ordered[m] = high[n - 1 - m]
            high = torch.topk(flat, n - i, largest=True, sorted=True).values
            a, b = high[n - 1 - i], high[n - 1 - j]
        out.append(float(a + (b - a) * (pos - i)))
    return out


def _numpy_quantiles(flat: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """:func:`_quantiles` on a numpy array: the same two order statistics (from a partial sort,
    ``numpy.partition``) and the same interpolation, so the same values."""
    import numpy as np

    n = flat.shape[0]
    out = []
    for q in qs:
        pos = q * (n - 1)
        i = math.floor(pos)
        j = min(i + 1, n - 1)
        ordered = np.partition(flat, (i, j))
        a, b = ordered[i], ordered[j]
        out.append(float(a + (b - a) * (pos - i)))
    return out


def optimal_range(samples: torch.Tensor, bits: int, signed: bool, candidates: int = 256) -> ADCRange:
    """The range (from zero or symmetric) that minimises the mean squared error of the ADC on ``samples``.

    Searched over ``candidates`` full-scale values spaced geometrically from 1e-4 to 1 times the largest
    magnitude; the error includes both clipping and quantisation, computed exactly on the samples. In torch
    (numpy samples are converted): its subsample of large profiles is torch's random permutation.
    """
    import torch

    flat = _finite_float64(samples if is_tensor(samples) else torch.from_numpy(samples))
    peak = float(flat.abs().max())
    if peak == 0:
        return granular_range(1.0, bits, signed)
    if flat.numel() > 200_000:
        gen = torch.Generator().manual_seed(0)
        flat = flat[torch.randperm(flat.numel(), generator=gen)[:200_000]]
    best, best_err = None, math.inf
    for scale in torch.logspace(-4, 0, candidates, dtype=torch.float64).tolist():
        top = peak * scale
        rng = ADCRange(-top, top) if signed else ADCRange(0.0, top)
        err = float(((quantize(flat, bits, rng) - flat) ** 2).mean())
        if err < best_err:
            best, best_err = rng, err
    assert best is not None
    return best


def power_of_two_ranges(ranges: list[ADCRange]) -> list[ADCRange]:
    """Constrain the ranges of a layer's weight slices to differ by powers of two (paper, Section 6).

    Each slice gets the widest slice's range scaled by 2^-C_k, C_k the largest integer that still covers
    the slice's own range. Unsigned ranges are taken from zero so that scaling keeps them aligned.
    """
    if not ranges:
        return []
    signed = ranges[0].signed
    if any(r.signed != signed for r in ranges):
        raise ValueError("ADC ranges: slices of one layer must be all signed or all unsigned")
    widest = max(r.high for r in ranges)
    out = []
    for r in ranges:
        c = max(0, math.floor(math.log2(widest / r.high))) if r.high > 0 else 0
        top = widest * 2.0**-c
        out.append(ADCRange(-top, top) if signed else ADCRange(0.0, top))
    return out

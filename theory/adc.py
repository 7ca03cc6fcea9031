r"""ADC error in closed form: rounding (both regimes), clipping, optimal range, full-precision guarantee.

One conversion sees s = mu + e: mu the ideal signal, e ~ N(m, sigma^2) the analog error (the sum of many
independent device errors). The ADC (:func:`aimc.adc.quantize`) returns the nearest level
off + n Delta, n in [n_lo, n_hi], clipping outside. The output error is err = Q(s) - mu.

* Exact treatment: E[err^j] = sum_n (off + n Delta - mu)^j P_n, P_n = Phi((t_n+ - mu - m)/sigma) -
  Phi((t_n- - mu - m)/sigma), t_n+- = off + (n +- 1/2) Delta, the end bins extended to +-inf (clipping).
  When sigma << Delta and mu is on a level the ADC rounds the analog error away: P(leave the level) =
  2 Phi(-Delta / (2 sigma)).
* Delta^2/12 regime: for sigma / Delta >= :data:`REGIME_BOUNDARY` the rounding error is uniform and
  independent of e to better than 1 % of Delta^2/12 for any mu (see :func:`regime_boundary`), so
  E[err^2] = E[(clip(s) - mu)^2] + Delta^2/12. The exact sum is evaluated up to sigma / Delta = 16 and
  this form beyond (where it is exact to far below 1e-6 except for the half bins at the clipping edges).
* Between conversions whose analog errors are correlated (the frozen programming error seen by several
  input slices), the rounded errors keep the covariance K_1 K_2 Cov(e_1, e_2) (Bussgang/Price, first
  order in the correlation), K = E[dQ/ds] = sum over interior thresholds of Delta phi(.)/sigma.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from aimc.adc import ADCRange, fpg_bits, step

from .symbolic import programmed_mean_var

__all__ = [
    "REGIME_BOUNDARY",
    "clipping_error_empirical",
    "clipping_error_gaussian",
    "fpg_bits",
    "leave_level_probability",
    "level_grid",
    "optimal_range_gaussian",
    "quantization_variance",
    "regime_boundary",
    "rounding_moments",
]

REGIME_BOUNDARY = 0.62
"""sigma / Delta above which Delta^2/12 (+ the analog variance) is accurate to 1 % of Delta^2/12 for every
position of the ideal signal relative to the levels (measured by :func:`regime_boundary`: 0.620)."""


def quantization_variance(delta: float | np.ndarray) -> float | np.ndarray:
    """Delta^2 / 12: the variance of a uniform rounding error."""
    return np.asarray(delta) ** 2 / 12.0


def level_grid(bits: int, rng: ADCRange) -> tuple[float, float, float, float]:
    """(offset, Delta, n_lo, n_hi): the ADC's levels are offset + n Delta for n_lo <= n <= n_hi."""
    delta = step(bits, rng)
    if rng.signed:
        top = (1 << (bits - 1)) - 1
        return 0.0, delta, -top, top
    return rng.low, delta, 0, (1 << bits) - 1


def leave_level_probability(sigma: np.ndarray, delta: float) -> np.ndarray:
    """P(an ideal signal on a level ends on another level) = 2 Phi(-Delta / (2 sigma))."""
    sigma = np.asarray(sigma, dtype=np.float64)
    return 2.0 * special.ndtr(-delta / (2.0 * np.maximum(sigma, 1e-300)))


def rounding_moments(
    mu: np.ndarray,
    bias: np.ndarray,
    sigma: np.ndarray,
    grid: tuple[float, float, float, float],
    *,
    exact_below: float = 16.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E[err], E[err^2], K) for err = Q(mu + e) - mu, e ~ N(bias, sigma^2), elementwise.

    ``grid`` is :func:`level_grid` (n_lo/n_hi may be -inf/inf: no clipping). The exact sum over levels is
    used where sigma / Delta < ``exact_below``, the Delta^2/12 form elsewhere.
    """
    off, delta, n_lo, n_hi = grid
    mu, bias, sigma = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (mu, bias, sigma)))
    ratio = sigma / delta
    exact = ratio < exact_below
    first = np.zeros(mu.shape)
    second = np.zeros(mu.shape)
    gain = np.zeros(mu.shape)
    if exact.any():
        f, s, k = _exact_sum(mu[exact], bias[exact], sigma[exact], grid, exact_below)
        first[exact], second[exact], gain[exact] = f, s, k
    smooth = ~exact
    if smooth.any():
        lo, hi = off + n_lo * delta, off + n_hi * delta
        centre = mu[smooth] + bias[smooth]
        mean, var = programmed_mean_var(centre, sigma[smooth], lo, hi)
        inside = special.ndtr((hi - centre) / sigma[smooth]) - special.ndtr((lo - centre) / sigma[smooth])
        first[smooth] = mean - mu[smooth]
        second[smooth] = var + inside * delta**2 / 12 + first[smooth] ** 2
        gain[smooth] = inside
    return first, second, gain


def _exact_sum(
    mu: np.ndarray, bias: np.ndarray, sigma: np.ndarray, grid: tuple, exact_below: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    off, delta, n_lo, n_hi = grid
    centre = mu + bias
    width = math.ceil(8 * min(float(np.max(sigma, initial=0.0)) / delta, exact_below)) + 2
    start = np.clip(np.round((centre - off) / delta) - width, n_lo, n_hi)
    stop = np.clip(np.round((centre - off) / delta) + width, n_lo, n_hi)
    safe = np.maximum(sigma, 1e-300)

    def cdf(threshold: np.ndarray) -> np.ndarray:
        arg = (threshold - centre) / safe
        return np.where(sigma > 0, special.ndtr(arg), (arg >= 0).astype(np.float64))

    first = np.zeros(mu.shape)
    second = np.zeros(mu.shape)
    gain = np.zeros(mu.shape)

    def cdf_below(n: np.ndarray) -> np.ndarray:
        return cdf(np.where(n <= n_lo, -np.inf, off + (n - 0.5) * delta))

    # Level n's lower threshold is level n - 1's upper one, bit for bit while the level numbers are exact
    # half-integers ((n - 1) + 0.5 = n - 0.5) and it is never -inf past the first level (start >= n_lo), so
    # each threshold's Phi, most of an estimate's computation, is evaluated once, not twice
    reuse = float(np.max(np.abs(start), initial=0.0)) + 2 * width + 2 < 2.0**52
    below = cdf_below(start)
    for j in range(2 * width + 1):
        n = start + j
        valid = n <= stop
        upper = np.where(n >= n_hi, np.inf, off + (n + 0.5) * delta)
        at_upper = cdf(upper)
        p = np.where(valid, at_upper - (below if reuse or j == 0 else cdf_below(n)), 0.0)
        below = at_upper
        err = off + n * delta - mu
        first += p * err
        second += p * err**2
        interior = valid & np.isfinite(upper) & (sigma > 0)
        # far tails underflow to a zero density; infinite bounds are masked out below
        with np.errstate(over="ignore", invalid="ignore"):
            density = np.exp(-0.5 * ((upper - centre) / safe) ** 2) / math.sqrt(2 * math.pi)
        gain += np.where(interior, density * delta / safe, 0.0)
    return first, second, gain


def regime_boundary(tolerance: float = 0.01, positions: int = 41) -> float:
    """Smallest sigma/Delta above which |E[err^2] - sigma^2 - Delta^2/12| <= tolerance Delta^2/12 for all mu."""
    grid = (0.0, 1.0, -math.inf, math.inf)
    mu = np.linspace(0.0, 0.5, positions)

    def worst(ratio: float) -> float:
        _, second, _ = rounding_moments(mu, 0.0, np.full_like(mu, ratio), grid, exact_below=1e9)
        return float(np.max(np.abs(second - ratio**2 - 1 / 12)) * 12) - tolerance

    # here, not at the top: scipy.optimize loads scipy.linalg (0.4 s), which aimc estimate never uses
    from scipy import optimize

    return float(optimize.brentq(worst, 0.05, 3.0, xtol=1e-4))


def clipping_error_gaussian(low: float, high: float, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    """E[(clip(s, low, high) - s)^2] for s ~ N(mean, std^2) (closed form, both tails)."""
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    u_hi = (high - mean) / std
    u_lo = (mean - low) / std

    def tail(u: np.ndarray) -> np.ndarray:
        return (1 + u**2) * special.ndtr(-u) - u * np.exp(-(u**2) / 2) / math.sqrt(2 * math.pi)

    return std**2 * (tail(u_hi) + tail(u_lo))


def clipping_error_empirical(samples: np.ndarray, low: float, high: float) -> float:
    """Mean of (clip(s) - s)^2 over profiled ideal signals (the exact value for a given-input layer)."""
    s = np.asarray(samples, dtype=np.float64).ravel()
    return float(np.mean((np.clip(s, low, high) - s) ** 2))


def optimal_range_gaussian(std: float, bits: int, signed: bool = True, mean: float = 0.0) -> ADCRange:
    """The range [-R, R] (or [0, R]) minimising Delta^2/12 P(inside) + clipping error for N(mean, std^2)."""
    levels = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1

    def cost(log_r: float) -> float:
        top = math.exp(log_r)
        low = -top if signed else 0.0
        delta = (top - low) / (2 * levels if signed else levels)
        return float(delta**2 / 12 + clipping_error_gaussian(low, top, mean, std))

    scale = abs(mean) + std
    from scipy import optimize  # here, not at the top (see regime_boundary)

    res = optimize.minimize_scalar(cost, bounds=(math.log(scale * 1e-3), math.log(scale * 50)), method="bounded")
    top = math.exp(res.x)
    return ADCRange(-top, top) if signed else ADCRange(0.0, top)

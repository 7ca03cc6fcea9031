"""Exact ADC rounding against brute force, the regime boundary, clipping and optimal range."""

import math

import numpy as np
import pytest
import torch
from aimc.theory import adc
from scipy import integrate, stats

from aimc.adc import ADCRange, quantize


def test_level_grid_is_the_adc_transfer_function():
    rng = ADCRange(-4.0, 4.0)
    off, delta, n_lo, n_hi = adc.level_grid(4, rng)
    s = torch.linspace(-6, 6, 101, dtype=torch.float64)
    expected = off + np.clip(np.round((s.numpy() - off) / delta), n_lo, n_hi) * delta
    assert quantize(s, 4, rng).numpy() == pytest.approx(expected)


@pytest.mark.parametrize("ratio", [0.05, 0.2, 0.5, 1.5, 6.0])
@pytest.mark.parametrize("mu", [0.0, 0.3, 3.49])
def test_rounding_moments_match_numerical_integration(ratio, mu):
    rng = ADCRange(-4.0, 4.0)
    grid = adc.level_grid(4, rng)  # 7 levels each side, Delta = 4/7
    delta, sigma, bias = grid[1], ratio * grid[1], 0.1 * grid[1]

    def err(e, j):
        q = min(max(round((mu + e) / delta), -7), 7) * delta
        return (q - mu) ** j * stats.norm.pdf(e, bias, sigma)

    span = (bias - 10 * sigma, bias + 10 * sigma)
    breaks = [t - mu for t in np.arange(-7.5, 8.0) * delta if span[0] < t - mu < span[1]]
    brute = [integrate.quad(err, *span, args=(j,), points=breaks or None, limit=500)[0] for j in (1, 2)]
    first, second, _ = adc.rounding_moments(np.array([mu]), np.array([bias]), np.array([sigma]), grid)
    rel = 1e-7
    assert first[0] == pytest.approx(brute[0], rel=rel, abs=1e-9)
    assert second[0] == pytest.approx(brute[1], rel=rel, abs=1e-9)


def test_small_error_on_a_level_is_rounded_away():
    grid = (0.0, 1.0, -math.inf, math.inf)
    sigma = np.array([0.1, 0.2])
    _, second, gain = adc.rounding_moments(np.zeros(2), np.zeros(2), sigma, grid)
    _, smooth, _ = adc.rounding_moments(np.zeros(2), np.zeros(2), 30 * sigma, grid)
    assert smooth == pytest.approx(900 * sigma**2 + 1 / 12)
    p_leave = adc.leave_level_probability(sigma, 1.0)
    assert second == pytest.approx(p_leave, rel=1e-3)  # mostly one level away, error^2 = 1
    assert np.all(second < sigma**2) and np.all(gain < 0.2)


def test_regime_boundary():
    boundary = adc.regime_boundary(0.01)
    assert 0.4 < boundary < adc.REGIME_BOUNDARY + 0.01


def test_clipping_error_gaussian_matches_quadrature():
    mean, std, low, high = 0.3, 1.2, -1.0, 2.0
    expected = integrate.quad(lambda s: (np.clip(s, low, high) - s) ** 2 * stats.norm.pdf(s, mean, std), -15, 15,
                              points=[low, high])[0]
    assert adc.clipping_error_gaussian(low, high, mean, std) == pytest.approx(expected, rel=1e-8)
    samples = np.random.default_rng(0).normal(mean, std, 400_000)
    assert adc.clipping_error_empirical(samples, low, high) == pytest.approx(expected, rel=0.03)


def test_optimal_range_gaussian_balances_clipping_and_rounding():
    r8 = adc.optimal_range_gaussian(1.0, 8).high
    r4 = adc.optimal_range_gaussian(1.0, 4).high
    assert 3.0 < r8 < 4.5 and 2.0 < r4 < r8


def test_fpg_bits():
    assert adc.fpg_bits(2, 1, 128) == pytest.approx(9)

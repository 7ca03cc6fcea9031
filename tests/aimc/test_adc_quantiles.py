"""adc._quantiles (partial sort) equals linear-interpolation quantiles of the fully sorted values."""

from __future__ import annotations

import math

import pytest
import torch

from aimc.adc import _quantiles, calibrated_range


def _reference(flat: torch.Tensor, qs: tuple[float, ...]) -> list[float]:
    ordered, _ = torch.sort(flat)
    n = ordered.numel()
    out = []
    for q in qs:
        pos = q * (n - 1)
        i = math.floor(pos)
        j = min(i + 1, n - 1)
        out.append(float(ordered[i] + (ordered[j] - ordered[i]) * (pos - i)))
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 100_000])
@pytest.mark.parametrize("ties", [False, True])
def test_quantiles_equal_full_sort(n, ties):
    gen = torch.Generator().manual_seed(n)
    flat = torch.randn(n, generator=gen, dtype=torch.float64)
    if ties:
        flat = torch.round(flat * 3)
    qs = (0.0, 1e-4, 0.0001 * 0.5, 0.25, 0.5, 0.5 + 1e-9, 0.75, 1 - 1e-4, 1.0)
    assert _quantiles(flat, qs) == _reference(flat, qs)  # the same order statistics, the same arithmetic


def test_calibrated_range_uses_the_tails():
    flat = torch.arange(10_001, dtype=torch.float64) - 5000.0  # -5000 .. 5000
    r = calibrated_range(flat, 99.98, signed=True)
    assert r.high == pytest.approx(4999.0)  # 0.01 % tail: position 0.9999 * 10000 = 9999 -> 4999

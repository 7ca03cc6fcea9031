"""Derived device moments against direct numerical integration and hand limits."""

import math

import numpy as np
import pytest
from aimc.theory import symbolic
from scipy import integrate, stats

from aimc import Scheme
from aimc.mapping import SliceLayout


def _censored_quad(g, sigma, lo, hi, n):
    def f(z):
        return min(max(g + sigma * z, lo), hi) ** n * stats.norm.pdf(z)

    kinks = [(v - g) / sigma for v in (lo, hi) if np.isfinite(v) and abs(v - g) < 12 * sigma]
    return integrate.quad(f, -12, 12, points=kinks or None, limit=200, epsabs=1e-13)[0]


@pytest.mark.parametrize("bounds", [(-math.inf, math.inf), (0.0, math.inf), (0.01, 1.0)])
@pytest.mark.parametrize("g,sigma", [(0.0, 0.05), (0.01, 0.03), (0.5, 0.2), (1.0, 0.1)])
def test_censored_moments_match_quadrature(bounds, g, sigma):
    lo, hi = bounds
    g = min(max(g, lo), hi)
    mean, var = symbolic.programmed_mean_var(np.array([g]), np.array([sigma]), lo, hi)
    m1, m2 = _censored_quad(g, sigma, lo, hi, 1), _censored_quad(g, sigma, lo, hi, 2)
    assert mean[0] == pytest.approx(m1, abs=1e-10)
    assert var[0] == pytest.approx(m2 - m1**2, rel=1e-7, abs=1e-12)
    for n in (3, 4):
        assert symbolic.censored_moment(n, np.array([g]), np.array([sigma]), lo, hi)[0] == pytest.approx(
            _censored_quad(g, sigma, lo, hi, n), rel=1e-7, abs=1e-12
        )


def test_clip_zero_at_zero_is_half_normal():
    mean, var = symbolic.programmed_mean_var(np.array([0.0]), np.array([1.0]), 0.0, math.inf)
    assert mean[0] == pytest.approx(1 / math.sqrt(2 * math.pi))
    assert var[0] == pytest.approx(0.5 - 1 / (2 * math.pi))


@pytest.mark.parametrize("k", [1, 2])
def test_drift_moments_match_quadrature(k):
    t, t0, m, s = 3600.0, 20.0, 0.05, 0.02
    expected = integrate.quad(lambda v: (t / t0) ** (-k * v) * stats.norm.pdf(v, m, s), m - 12 * s, m + 12 * s)[0]
    assert symbolic.drift_moment(k, t, t0, m, s) == pytest.approx(expected, rel=1e-10)


def test_read_noise_polynomial_and_quadrature_paths_agree():
    base = {"device.on_off": "50", "device.programming.model": "state_proportional",
            "device.programming.alpha": "0.1", "device.read_noise.alpha": "0.03"}
    poly = Scheme().with_overrides({**base, "device.read_noise.model": "state_proportional"}).device
    g = np.linspace(0.02, 1.0, 7)
    via_poly = symbolic.device_moments(poly, g).read_var
    sigma = 0.1 * g
    direct = np.array([_censored_quad(gi, si, 0.02, 1.0, 2) for gi, si in zip(g, sigma)]) * 0.03**2
    assert via_poly == pytest.approx(direct, rel=1e-7)
    quad = symbolic._read_noise_quadrature(poly, g, sigma, 0.02, 1.0)
    assert quad == pytest.approx(direct, rel=2e-3)  # Gauss-Hermite across the clipping kink


def test_stuck_mixture_moments():
    dev = Scheme().with_overrides({"device.on_off": "10", "device.stuck.p_off": "0.1",
                                   "device.stuck.p_on": "0.05"}).device
    m = symbolic.device_moments(dev, np.array([0.5]))
    assert m.mean["stuck"][0] == pytest.approx(0.1 * 0.1 + 0.05 + 0.85 * 0.5)
    second = 0.1 * 0.01 + 0.05 + 0.85 * 0.25
    assert m.var["stuck"][0] == pytest.approx(second - m.mean["stuck"][0] ** 2)


def test_conversion_scales_follow_the_mapping():
    diff = SliceLayout.from_scheme(Scheme().with_overrides({"weights.bits": "9", "weights.slices": "4"}))
    assert symbolic.conversion_scales(diff)[:, 0].tolist() == [3, 12, 48, 192]
    offset = SliceLayout.from_scheme(Scheme().with_overrides({"mapping.kind": "offset", "device.on_off": "5"}))
    assert symbolic.conversion_scales(offset)[0, 0] == pytest.approx(254 / 0.8)
    digital = SliceLayout.from_scheme(Scheme().with_overrides({"mapping.subtraction": "digital"}))
    assert symbolic.conversion_scales(digital)[0].tolist() == [127, -127]  # g+ and g- converted apart
    twos = SliceLayout.from_scheme(Scheme().with_overrides({"mapping.kind": "twos_complement", "weights.slices": 8}))
    assert symbolic.conversion_scales(twos)[:, 0].tolist() == [1, 2, 4, 8, 16, 32, 64, -128]
    two = SliceLayout.from_scheme(Scheme().with_overrides({"mapping.kind": "differential_two_sided"}))
    var = symbolic.decoded_weight_variance(two)
    assert str(var) == "16129*Var(g^negative_0) + 16129*Var(g^positive_0)"


def test_formulas_export_latex():
    latex = symbolic.formulas_latex(Scheme().device, SliceLayout.from_scheme(Scheme()))
    assert "erf" in latex["Var[g'] (clipped)"] and "decoded weight" in latex

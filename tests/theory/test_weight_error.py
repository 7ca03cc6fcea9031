"""The closed-form mean error of every decoded weight against the Monte Carlo's programmed chips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aimc.montecarlo.layers import analog_layers, convert, reprogram
from aimc.theory import expected_weight_error, weight_error_variance, weight_gain
from scipy import stats
from torch import nn

from aimc.scheme import Scheme

CHIPS = 24
CASES = {
    "differential-clipped-si": {"device.programming.model": "state_independent", "device.programming.alpha": 0.05},
    "differential-unclipped-si": {"device.programming.model": "state_independent",
                                  "device.programming.alpha": 0.05, "device.clip": "none"},
    "offset-digital-si": {"mapping.kind": "offset", "mapping.offset": "digital",
                          "device.programming.model": "state_independent", "device.programming.alpha": 0.05},
    # 2-bit slices: the unit column holds the offset's digits (3, 3, 3, 1 in base 4), so three of its
    # cells sit at Gmax and are clipped: a bias shared by the 8 outputs of each column group
    "offset-unit-column-2b-slices": {"mapping.kind": "offset", "mapping.offset": "unit_column",
                                     "array.columns": 8, "weights.slices": 4,
                                     "device.programming.model": "state_independent",
                                     "device.programming.alpha": 0.05},
    "offset-sp": {"mapping.kind": "offset", "mapping.offset": "digital", "device.on_off": 10.0,
                  "device.programming.model": "state_proportional", "device.programming.alpha": 0.2},
    "differential-slices-stuck-drift": {
        "weights.slices": 4, "device.programming.model": "state_independent", "device.programming.alpha": 0.03,
        "device.stuck.p_off": 0.02, "device.stuck.p_on": 0.01, "device.drift.time": 1e4,
        "device.drift.nu_mean": 0.05, "device.drift.nu_std": 0.02, "device.drift.compensation": "global"},
}


def _chips(over: dict):
    torch.manual_seed(0)
    layer = nn.Linear(300, 24, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.distributions.Laplace(0.0, 1.0).sample(layer.weight.shape))
    scheme = Scheme().with_overrides({"adc.bits": 0, "device.on_off": "inf", **over})
    analog = convert(nn.Sequential(layer), scheme, torch.rand(4, 300))
    mc = analog_layers(analog)[0]
    errors = []
    for chip in range(CHIPS):
        reprogram(analog, chip)
        errors.append((mc.effective_weights().double() - mc.w_int.double()).numpy())
    return mc.w_int, scheme, np.stack(errors)


@pytest.mark.parametrize("case", sorted(CASES))
def test_mean_weight_error_matches_monte_carlo(case):
    w_int, scheme, errors = _chips(CASES[case])
    theory = expected_weight_error(w_int, scheme)
    assert theory.shape == tuple(w_int.shape)
    # pool the weights by integer value: per value, the chips x weights mean error and its interval, at a
    # family-wise level of 0.1 % over all the values tested (Bonferroni)
    w = w_int.numpy()
    values = [v for v in np.unique(w) if errors[:, w == v].size >= 30]
    level = 1 - 0.001 / (2 * len(values))
    checked = 0
    for value in values:
        sel = w == value
        samples = errors[:, sel].reshape(-1)
        # the theory is exact per weight value except for the unit column (bias shared by a group: use the mean)
        want = float(theory[sel].mean())
        half = stats.t.ppf(level, samples.size - 1) * samples.std(ddof=1) / np.sqrt(samples.size)
        if "unit-column" in case:  # outputs of one group share one unit cell: samples are correlated
            half *= np.sqrt(8)
        assert abs(samples.mean() - want) <= half + 1e-9, (case, int(value), samples.mean(), want, half)
        checked += 1
    assert checked >= 5
    # all weights at once: the per-chip mean error (chips are independent, whatever the cells share)
    per_chip = errors.reshape(CHIPS, -1).mean(1)
    half = stats.t.ppf(0.9995, CHIPS - 1) * per_chip.std(ddof=1) / np.sqrt(CHIPS)
    assert abs(per_chip.mean() - theory.mean()) <= half + 1e-9, (case, per_chip.mean(), theory.mean(), half)
    # the gain: theory inside the interval of the per-chip gains
    norm = float((w.astype(np.float64) ** 2).sum())
    gains = 1.0 + np.array([(w * e).sum() / norm for e in errors])
    half = stats.t.ppf(0.9995, CHIPS - 1) * gains.std(ddof=1) / np.sqrt(CHIPS)
    assert abs(gains.mean() - weight_gain(w_int, scheme)) <= half + 1e-9


@pytest.mark.parametrize("case", sorted(c for c in CASES if "unit-column" not in c))
def test_weight_error_variance_matches_monte_carlo(case):
    """The chips' decoded weight errors have the closed form's variance: pooled over all weights, and per
    integer weight value inside the chi-square interval (family-wise level 0.1 %, Bonferroni) where the
    errors are Gaussian-like (no stuck cells)."""
    w_int, scheme, errors = _chips(CASES[case])
    theory = weight_error_variance(w_int, scheme)
    assert theory.shape == tuple(w_int.shape) and np.all(theory >= 0)
    # all weights: the squared deviations from the closed-form mean average to the mean closed-form variance
    # (a t interval on the squared deviations: valid for the heavy-tailed stuck-cell mixture as well)
    dev2 = ((errors - expected_weight_error(w_int, scheme)[None]) ** 2).reshape(-1)
    half = stats.t.ppf(0.9995, dev2.size - 1) * dev2.std(ddof=1) / np.sqrt(dev2.size)
    assert abs(dev2.mean() - theory.mean()) <= half, (case, dev2.mean(), theory.mean(), half)
    if scheme.device.stuck.active:  # per value: too few stuck cells among 24 chips for a chi-square interval
        return
    w = w_int.numpy()
    values = [v for v in np.unique(w) if errors[:, w == v].size >= 60]
    level = 0.001 / (2 * len(values))
    checked = 0
    for value in values:
        sel = w == value
        samples = errors[:, sel].reshape(-1)
        want = float(theory[sel].mean())  # the same for every weight of one value
        assert np.allclose(theory[sel], want)
        dof = samples.size - 1
        got = float(samples.var(ddof=1))
        low, high = got * dof / stats.chi2.ppf(1 - level, dof), got * dof / stats.chi2.ppf(level, dof)
        assert low <= want <= high or (want == 0 and got < 1e-12), (case, int(value), got, want)
        checked += 1
    assert checked >= 5


def test_weight_error_variance_of_ideal_cells_is_zero_and_scales_with_alpha():
    w = torch.arange(-127, 128).reshape(5, 51)
    assert np.all(weight_error_variance(w, Scheme().with_overrides({"adc.bits": 0})) == 0.0)
    si = {"adc.bits": 0, "device.clip": "none", "device.programming.model": "state_independent"}
    v1 = weight_error_variance(w, Scheme().with_overrides({**si, "device.programming.alpha": 0.01}))
    v2 = weight_error_variance(w, Scheme().with_overrides({**si, "device.programming.alpha": 0.02}))
    # unclipped state-independent error: two cells of sigma alpha Gmax, 127 levels per Gmax
    assert np.allclose(v1, 2 * (0.01 * 127) ** 2) and np.allclose(v2, 4 * v1)


def test_clipping_makes_a_systematic_shrink_and_nothing_else_does():
    w_int, scheme, _ = _chips(CASES["differential-clipped-si"])
    assert weight_gain(w_int, scheme) < 0.95
    for case in ("differential-unclipped-si", "offset-digital-si"):
        w_int, scheme, _ = _chips(CASES[case])
        assert weight_gain(w_int, scheme) == pytest.approx(1.0, abs=2e-3)
    ideal = Scheme().with_overrides({"adc.bits": 0})
    assert np.all(expected_weight_error(w_int, ideal) == 0.0)
    with pytest.raises(ValueError, match="all weights are zero"):
        weight_gain(torch.zeros(3, 4, dtype=torch.int64), ideal)

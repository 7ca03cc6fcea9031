"""Budget limits known by hand (PAPER.md 3.3)."""

import math

import numpy as np
import pytest
import torch
from aimc.theory import InputStatistics, error_budget

from aimc import Scheme

RNG = np.random.default_rng(0)
X = torch.from_numpy(RNG.integers(0, 256, size=(6, 300)))


def _weights(bits, n=20):
    m = (1 << (bits - 1)) - 1
    return torch.from_numpy(np.clip(np.round(RNG.laplace(0, m / 6, size=(n, 300))), -m, m).astype(np.int64))


def _scheme(**over):
    base = {"adc.bits": "0", "device.clip": "none", "device.programming.model": "state_independent",
            "device.programming.alpha": "0.01"}
    base.update({k.replace("__", "."): str(v) for k, v in over.items()})
    return Scheme().with_overrides(base)


def _std(w, scheme, x=X):
    b = error_budget((w, x), scheme)
    return np.sqrt(b.total_variance), b


def test_offset_has_sqrt2_the_error_of_differential():
    w = _weights(8)
    diff, _ = _std(w, _scheme())
    off, _ = _std(w, _scheme(mapping__kind="offset"))
    assert off / diff == pytest.approx(np.full_like(diff, math.sqrt(2)), rel=1e-9)


@pytest.mark.parametrize("bits,slices,ratio", [(8, 7, 0.58), (9, 4, 0.77), (9, 2, 0.94)])
def test_full_slices_reduce_state_independent_error_by_at_most_sqrt3(bits, slices, ratio):
    w = _weights(bits)
    unsliced, _ = _std(w, _scheme(weights__bits=bits))
    sliced, _ = _std(w, _scheme(weights__bits=bits, weights__slices=slices))
    b = (bits - 1) // slices
    assert sliced / unsliced == pytest.approx(np.full_like(sliced, ratio), abs=0.01)
    big = bits - 1
    exact = (2**b - 1) * math.sqrt((4**big - 1) / (4**b - 1)) / (2**big - 1)
    assert sliced[0, 0] / unsliced[0, 0] == pytest.approx(exact, rel=1e-9)
    assert sliced[0, 0] / unsliced[0, 0] > 1 / math.sqrt(3)


def test_under_used_top_slice_is_worse_than_unsliced():
    w = _weights(8)
    unsliced, _ = _std(w, _scheme())
    sliced, _ = _std(w, _scheme(weights__slices=4))
    assert sliced[0, 0] / unsliced[0, 0] == pytest.approx(math.sqrt(9 * (1 + 16 + 256 + 4096)) / 127, rel=1e-9)
    assert sliced[0, 0] / unsliced[0, 0] == pytest.approx(1.55, abs=0.02)


def test_state_proportional_differential_infinite_on_off():
    w = _weights(8)
    s = _scheme(device__programming__model="state_proportional", device__programming__alpha=0.03)
    var = error_budget((w, X), s).total_variance
    expected = 0.03**2 * (X.double() ** 2).numpy() @ (w.double() ** 2).numpy().T
    assert var == pytest.approx(expected, rel=1e-9)


def test_state_proportional_sliced_never_exceeds_unsliced():
    w = _weights(9)
    s = {"weights__bits": 9, "device__programming__model": "state_proportional", "device__programming__alpha": 0.03}
    unsliced, _ = _std(w, _scheme(**s))
    sliced, _ = _std(w, _scheme(weights__slices=4, **s))
    assert np.all(sliced <= unsliced + 1e-12) and np.all(sliced >= unsliced / math.sqrt(3) - 1e-12)


def test_unit_column_doubles_variance_and_is_common_mode():
    w = _weights(8)
    digital = error_budget((w, X), _scheme(mapping__kind="offset"))
    unit = error_budget((w, X), _scheme(mapping__kind="offset", mapping__offset="unit_column", array__columns=8))
    assert unit.variance["unit_column"] == pytest.approx(digital.total_variance, rel=1e-9)
    cov = unit.covariance(0)
    assert cov[0, 1] == pytest.approx(unit.variance["unit_column"][0, 0]) and cov[0, 9] == 0


def test_read_noise_weighs_input_slices_by_4_st():
    w = _weights(8)
    s = _scheme(device__programming__model="none", device__programming__alpha=0,
                device__read_noise__model="state_independent", device__read_noise__alpha=0.01)
    var = error_budget((w, X), s).variance["read_noise"]
    bits = np.stack([(X.numpy() >> t) & 1 for t in range(8)])
    xt2 = np.tensordot(4.0 ** np.arange(8), bits, axes=1)
    assert var == pytest.approx(2 * (127 * 0.01) ** 2 * xt2.sum(1)[:, None] * np.ones((1, 20)), rel=1e-9)
    whole = error_budget((w, X), s.with_overrides({"inputs.slice_bits": 0})).variance["read_noise"]
    assert np.all(whole > var)


def test_statistics_form_matches_given_inputs_in_expectation():
    w = _weights(8)
    s = _scheme(device__on_off=20, device__clip="range", device__programming__alpha=0.03,
                device__read_noise__model="state_proportional", device__read_noise__alpha=0.02)
    given = error_budget((w, X), s)
    stats = error_budget((w, InputStatistics.from_inputs(X, s)), s)
    given_mse = (given.total_bias**2 + given.total_variance).mean(0)
    assert (stats.total_bias**2 + stats.total_variance)[0] == pytest.approx(given_mse, rel=0.1)
    assert stats.variance["read_noise"][0] == pytest.approx(given.variance["read_noise"].mean(0), rel=1e-9)


def test_partitions_add():
    w = _weights(8)
    s = _scheme(device__on_off=10, device__clip="range", device__programming__alpha=0.05)
    one = error_budget((w, X), s)
    parts = error_budget((w, X), s.with_overrides({"array.rows": 100}))
    assert parts.total_variance == pytest.approx(one.total_variance, rel=1e-12)


def test_shares_add_up_to_one():
    w = _weights(8)
    s = _scheme(device__on_off=10, device__clip="range", device__read_noise__model="state_independent",
                device__read_noise__alpha=0.01, adc__bits=6, adc__range="max")
    shares = error_budget((w, X), s).by_source
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["adc_quantization"] > 0.01

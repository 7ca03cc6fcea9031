"""ADC transfer function and range policies; device laws; under-used slices."""

import math

import pytest
import torch

from aimc import Scheme
from aimc.adc import (
    ADCRange,
    aligned_range,
    calibrated_range,
    granular_range,
    optimal_range,
    power_of_two_ranges,
    quantize,
    step,
)
from aimc.devices import DEVICE_LAWS, SYMPY
from aimc.mapping import SliceLayout, partitions, quantize_weights


def test_signed_adc_has_odd_level_count_with_zero():
    rng = ADCRange(-1.0, 1.0)
    x = torch.linspace(-2, 2, 20001, dtype=torch.float64)
    levels = torch.unique(quantize(x, 3, rng))
    assert len(levels) == 2**3 - 1 and 0.0 in levels.tolist()
    assert step(3, rng) == pytest.approx(1 / 3)


def test_unsigned_adc_has_power_of_two_levels_and_clips():
    rng = ADCRange(0.0, 1.0)
    x = torch.linspace(-1, 2, 30001, dtype=torch.float64)
    q = quantize(x, 4, rng)
    assert len(torch.unique(q)) == 16
    assert float(q.min()) == 0.0 and float(q.max()) == 1.0


def test_adc_rounds_to_nearest_level():
    rng = ADCRange(-7.0, 7.0)  # 4 bits -> levels at integers -7..7
    x = torch.tensor([0.49, 0.51, -2.4, 6.6, 9.0], dtype=torch.float64)
    assert quantize(x, 4, rng).tolist() == [0.0, 1.0, -2.0, 7.0, 7.0]


def test_ranges_are_validated():
    with pytest.raises(ValueError, match="symmetric"):
        ADCRange(-1.0, 2.0)
    with pytest.raises(ValueError, match="signed"):
        ADCRange(0.0, 1.0).check_signal(True)
    with pytest.raises(ValueError, match="high must exceed low"):
        ADCRange(1.0, 1.0)


def test_calibrated_range_covers_the_percentile():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200_000, generator=gen, dtype=torch.float64)
    r = calibrated_range(x, 99.0, signed=True)
    inside = float(((x >= r.low) & (x <= r.high)).double().mean())
    assert 0.99 <= inside <= 0.995  # symmetric range: at least P % inside, at most a little more
    u = calibrated_range(x.abs(), 98.0, signed=False)
    inside_u = float(((x.abs() >= u.low) & (x.abs() <= u.high)).double().mean())
    assert inside_u == pytest.approx(0.98, abs=2e-3)


def test_optimal_range_beats_max_and_tiny_ranges():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(50_000, generator=gen, dtype=torch.float64)
    best = optimal_range(x, 4, signed=True)

    def mse(r):
        return float(((quantize(x, 4, r) - x) ** 2).mean())

    peak = float(x.abs().max())
    assert mse(best) < mse(ADCRange(-peak, peak))
    assert mse(best) < mse(ADCRange(-0.5, 0.5))
    # For a unit Gaussian the MSE-optimal 4-bit (15-level) full scale is about 2.7 sigma (Max 1960 style result)
    assert 2.2 < best.high < 3.3


def test_power_of_two_ranges():
    out = power_of_two_ranges([ADCRange(-8.0, 8.0), ADCRange(-3.0, 3.0), ADCRange(-0.9, 0.9)])
    assert [r.high for r in out] == [8.0, 4.0, 1.0]
    assert granular_range(0.5, 3, signed=False).high == 3.5


def test_aligned_range_is_the_granular_range_times_a_power_of_two():
    delta, bits = 1.0 / 3.0, 8  # 2-bit cells: signals are multiples of 1/3 Gmax
    base = granular_range(delta, bits, signed=False)  # [0, 255/3]
    # [0, 24] -> the smallest 2^j x 85 covering 24 is 85/2^1 = 42.5: levels every delta/2
    rng = aligned_range(ADCRange(3.0, 24.0), delta, bits)
    assert rng.low == 0.0 and rng.high == pytest.approx(base.high / 2)
    assert step(bits, rng) == pytest.approx(delta / 2)
    # every signal level inside the range is an ADC level: quantisation is exact there
    signals = torch.arange(0, 128, dtype=torch.float64) * delta
    assert torch.allclose(quantize(signals, bits, rng), signals, rtol=0, atol=1e-12)
    # the calibrated range alone does not line up: the same signals round to other values
    assert (quantize(signals, bits, ADCRange(0.0, 24.0)) - signals).abs().max() > 0.01
    # a range wider than granular: levels every 2^j signal levels (j > 0), and it still covers the need
    wide = aligned_range(ADCRange(-300.0, 300.0), 1.0, 4)
    assert wide.high == pytest.approx(7.0 * 64) and wide.signed
    assert aligned_range(ADCRange(-7.0, 7.0), 1.0, 4).high == pytest.approx(7.0)  # exactly granular
    assert aligned_range(ADCRange(-7.0001, 7.0001), 1.0, 4).high == pytest.approx(14.0)
    with pytest.raises(ValueError, match="signal step"):
        aligned_range(ADCRange(0.0, 1.0), 0.0, 8)


def test_device_laws_normalise_published_fits():
    g = torch.tensor([1e-9, 0.5, 1.0], dtype=torch.float64)
    sonos = DEVICE_LAWS["sonos-paper"].sigma(g)
    # near zero current the SONOS law is state-proportional with slope A*B = 0.0747
    assert float(sonos[0] / g[0]) == pytest.approx(0.00188704 * 39.5656, rel=1e-3)
    assert float(sonos[2]) == pytest.approx(39.5656 * (1 - math.exp(-0.00188704 * 1600)) / 1600)
    joshi = DEVICE_LAWS["pcm-joshi"].sigma(g)
    assert float(joshi[2]) == pytest.approx((-0.00178767 * 625 + 0.07585724 * 25 + 0.28638599) / 25)


def test_device_law_is_one_definition_for_torch_and_sympy():
    import sympy

    gs = sympy.Symbol("g", positive=True)
    for name, law in DEVICE_LAWS.items():
        expr = law.sigma(gs, SYMPY)
        for value in (0.01, 0.3, 0.9):
            numeric = float(law.sigma(torch.tensor(value, dtype=torch.float64)))
            assert float(expr.subs(gs, value)) == pytest.approx(numeric, rel=1e-12), name


def test_under_used_top_slice_is_modelled():
    layout = SliceLayout.from_scheme(Scheme().with_overrides({"weights.slices": 4}))
    assert layout.levels == (3, 3, 3, 3)
    assert layout.max_digit == (3, 3, 3, 1)  # 127 = 01 11 11 11 in base 4: the top slice holds at most 1
    full = SliceLayout.from_scheme(Scheme().with_overrides({"weights.bits": 9, "weights.slices": 4}))
    assert full.max_digit == (3, 3, 3, 3)


def test_weight_quantisation_and_partitions():
    w = torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]], dtype=torch.float64)
    q, scale = quantize_weights(w, 8)
    assert q.tolist()[0] == [64, -127, 32] and float(scale) == pytest.approx(1 / 127)
    qc, sc = quantize_weights(w, 8, per_channel=True)
    assert qc[1].abs().sum() == 0 and sc.shape == (2, 1)
    assert partitions(2500, 1152) == [(0, 1152), (1152, 2304), (2304, 2500)]
    with pytest.raises(ValueError, match="finite"):
        quantize_weights(torch.tensor([float("nan")]), 8)

"""Each non-ideality is applied at the right place, the right number of times and with the right scale.

Statistical checks use fixed seeds and tolerances of several standard errors; each names the wrong model it
would catch.
"""

from __future__ import annotations

import math

import pytest
import torch
from aimc.montecarlo.devices import perturb_conductances, program_chips
from aimc.montecarlo.engine import calibrate_ranges, profile_signals, simulate_mvm
from scipy import stats

from aimc.inputs import input_slices, slice_significance
from aimc.mapping import SliceLayout
from aimc.pipeline import program_ideal
from aimc.presets import get_preset


def _normalised_residuals(result, predicted_var: torch.Tensor) -> torch.Tensor:
    err = result.outputs - result.reference.unsqueeze(0)
    keep = predicted_var > 0
    return (err / predicted_var.clamp(min=1e-300).sqrt())[:, keep]


def _read_noise_variance(q, s, alpha: float) -> torch.Tensor:
    """Per-device sum: scale^2 sum_t 4^(s t) sum_i sigma_i^2 x_ti^2 over every cell read, [B, N]."""
    layout = SliceLayout.from_scheme(s)
    prog = program_ideal(q.w_int, s)
    g2 = sum(g[0, 0] ** 2 for g in prog.arrays.values())  # [N, K] (unsliced)
    i = s.inputs
    xs = input_slices(q.x_int, i.bits, i.slice_bits, q.signed_inputs).double()
    sig = torch.tensor(slice_significance(i.bits, i.slice_bits, q.signed_inputs), dtype=torch.float64)
    x4 = (sig.reshape(-1, 1, 1) ** 2 * xs**2).sum(0)  # [B, K]
    scale = layout.digit_weight * layout.current_to_digits(0)
    return scale**2 * alpha**2 * (x4 @ g2.T)


READ_CASES = [
    ("differential", 1, "analog"),
    ("differential", 1, "digital"),
    ("differential", 2, "digital"),
    ("differential", 0, "analog"),
    ("differential_two_sided", 1, "analog"),
]


@pytest.mark.parametrize("mode", ["per_device", "output_referred"])
@pytest.mark.parametrize(("kind", "slice_bits", "accumulation"), READ_CASES)
def test_read_noise_per_device_per_slice(mc, mode, kind, slice_bits, accumulation):
    """Output variance = per-device sum weighted by 4^(s t): fails for noise per MVM instead of per input
    slice (x (sum_t 2^t x_t)^2 / sum_t 4^t x_t), applied twice (x 2), at the wrong conductance, or shared by
    the two cells of a differential pair (two-sided pairs have both cells non-zero)."""
    alpha = 0.02
    s = mc.scheme(mapping__kind=kind, inputs__slice_bits=slice_bits, inputs__accumulation=accumulation,
                  adc__bits=0, device__read_noise__model="state_proportional", device__read_noise__alpha=alpha,
                  array__rows=16)
    q = mc.quantized(32, 24, 8, seed=3)
    r = simulate_mvm(q, s, chips=40, seed=5, dtype=torch.float64, read_noise_mode=mode)
    z = _normalised_residuals(r, _read_noise_variance(q, s, alpha))
    n = z.numel()
    assert abs(float(z.pow(2).mean()) - 1.0) < 5 * math.sqrt(2.0 / n)
    assert abs(float(z.mean())) < 5 / math.sqrt(n)


def test_read_noise_is_fresh_for_every_vector(mc):
    """Identical input vectors of one chip get independent read noise (not frozen like programming error)."""
    s = mc.scheme(adc__bits=0, device__read_noise__model="state_independent", device__read_noise__alpha=0.01)
    q = mc.quantized(8, 16, 6, full_inputs=True)
    r = simulate_mvm(q, s, chips=2, seed=0, dtype=torch.float64)
    assert not torch.allclose(r.outputs[:, 0], r.outputs[:, 1])


def test_output_referred_matches_per_device_in_distribution(mc):
    """Two-sample test (fixed seeds) on the same layer: same distribution of the output error."""
    s = mc.scheme(mapping__kind="differential_two_sided", adc__bits=0, inputs__slice_bits=1,
                  inputs__accumulation="digital", device__read_noise__model="state_proportional",
                  device__read_noise__alpha=0.03, array__rows=12)
    q = mc.quantized(16, 20, 6, seed=9)
    a = simulate_mvm(q, s, chips=60, seed=1, dtype=torch.float64, read_noise_mode="per_device")
    b = simulate_mvm(q, s, chips=60, seed=2, dtype=torch.float64, read_noise_mode="output_referred")
    ea = (a.outputs - a.reference).reshape(60, -1)
    eb = (b.outputs - b.reference).reshape(60, -1)
    sd = ea.std(0).clamp(min=1e-12)  # standardise per output, then pool
    assert stats.ks_2samp((ea / sd).flatten().numpy(), (eb / sd).flatten().numpy()).pvalue > 1e-3
    ratio = float(eb.var(0).mean() / ea.var(0).mean())
    assert abs(ratio - 1) < 0.06


def test_programming_error_frozen_per_chip(mc):
    """The same input vector read twice on one chip gives the same output; chips differ; chip c's errors
    do not depend on how many chips are simulated; the error variance has the per-device scale."""
    alpha = 0.02
    s = mc.scheme(adc__bits=0, device__programming__model="state_independent",
                  device__programming__alpha=alpha, device__clip="none", array__rows=10)
    q = mc.quantized(40, 30, 3, seed=2)
    q.x_int[1] = q.x_int[0]
    r = simulate_mvm(q, s, chips=50, seed=3, dtype=torch.float64)
    assert torch.equal(r.outputs[:, 0], r.outputs[:, 1])
    assert not torch.allclose(r.outputs[0], r.outputs[1])
    r3 = simulate_mvm(q, s, chips=3, seed=3, dtype=torch.float64)
    assert torch.equal(r3.outputs, r.outputs[:3])
    # every cell of the pair (both polarities) has error alpha: var = M^2 alpha^2 2 sum_i x_i^2
    m = 127
    pred = (m * alpha) ** 2 * 2 * q.x_int.double().pow(2).sum(1, keepdim=True).expand(-1, 40)
    z = (r.outputs - r.reference) / pred.sqrt()
    assert abs(float(z.pow(2).mean()) - 1) < 5 * math.sqrt(2 / z.numel())


def test_unit_column_error_common_to_outputs_of_one_array(mc):
    """Offset with a unit column: outputs of one array share the unit column's error (correlation 1/2 for
    state-independent error: half the error variance), outputs of different arrays do not."""
    s = mc.scheme(mapping__kind="offset", mapping__offset="unit_column", adc__bits=0, array__columns=8,
                  device__programming__model="state_independent", device__programming__alpha=0.02,
                  device__clip="none", inputs__slice_bits=0)
    q = mc.quantized(16, 20, 1, seed=4)
    r = simulate_mvm(q, s, chips=600, seed=0, dtype=torch.float64)
    err = (r.outputs - r.reference)[:, 0]  # [chips, outputs]
    corr = torch.corrcoef(err.T)
    same = torch.cat([corr[:8, :8][~torch.eye(8, dtype=torch.bool)], corr[8:, 8:][~torch.eye(8, dtype=torch.bool)]])
    across = corr[:8, 8:].flatten()
    se = 1 / math.sqrt(600)
    assert abs(float(same.mean()) - 0.5) < 4 * se
    assert abs(float(across.mean())) < 4 * se
    digital = simulate_mvm(q, s.with_overrides({"mapping.offset": "digital"}), chips=600, seed=0,
                           dtype=torch.float64)
    corr_d = torch.corrcoef((digital.outputs - digital.reference)[:, 0].T)
    assert abs(float(corr_d[~torch.eye(16, dtype=torch.bool)].mean())) < 4 * se


def test_programming_error_scale_and_law():
    """g' - g has sigma(g) of the scheme's law, per device."""
    from aimc.scheme import Device, ErrorModel

    dev = Device(programming=ErrorModel("state_proportional", 0.05), clip="none")
    g = torch.full((200_000,), 0.6, dtype=torch.float64)
    out = perturb_conductances(g, dev, torch.Generator().manual_seed(0))
    rel = (out - g) / 0.6
    assert abs(float(rel.std()) - 0.05) < 5 * 0.05 / math.sqrt(2 * 200_000)
    assert abs(float(rel.mean())) < 5 * 0.05 / math.sqrt(200_000)


@pytest.mark.parametrize("clip", ["none", "zero", "range"])
def test_clipping(clip):
    from aimc.scheme import Device, ErrorModel

    dev = Device(on_off=10.0, programming=ErrorModel("state_independent", 0.1), clip=clip)
    g = torch.full((100_000,), 0.1, dtype=torch.float64)  # at g_min: half the errors go below it
    out = perturb_conductances(g, dev, torch.Generator().manual_seed(1))
    below = float((out < 0).double().mean())
    at_min = float((out == 0.1).double().mean())
    if clip == "none":
        assert abs(below - stats.norm.cdf(-1.0)) < 0.005 and at_min < 1e-3
    elif clip == "zero":
        assert float(out.min()) == 0.0 and abs(float((out == 0).double().mean()) - stats.norm.cdf(-1.0)) < 0.005
    else:
        assert float(out.min()) == 0.1 and float(out.max()) <= 1.0 and abs(at_min - 0.5) < 0.006


def test_stuck_cell_fractions():
    from aimc.scheme import Device, StuckCells

    dev = Device(on_off=20.0, stuck=StuckCells(p_off=0.03, p_on=0.01))
    g = torch.full((400_000,), 0.5, dtype=torch.float64)
    out = perturb_conductances(g, dev, torch.Generator().manual_seed(2))
    n = g.numel()
    for value, p in ((0.05, 0.03), (1.0, 0.01), (0.5, 0.96)):
        frac = float((out == value).double().mean())
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_drift_factor_and_compensation(mc):
    """Mean drift factor E[(t/t0)^(-nu)] (lognormal mean), nu spread per device, and compensation to 1."""
    from aimc.scheme import Device, Drift

    drift = Drift(time=86400.0, t0=20.0, nu_mean=0.05, nu_std=0.02)
    dev = Device(drift=drift)
    g = torch.full((300_000,), 0.5, dtype=torch.float64)
    out = perturb_conductances(g, dev, torch.Generator().manual_seed(3))
    log_ratio = math.log(86400 / 20)
    expected = math.exp(-0.05 * log_ratio + 0.5 * (0.02 * log_ratio) ** 2)
    assert abs(float(out.mean()) / 0.5 - expected) < 5 * float(out.std()) / 0.5 / math.sqrt(g.numel())
    nu = -torch.log(out / 0.5) / log_ratio
    assert abs(float(nu.std()) - 0.02) < 0.001
    assert Drift(time=86400.0, nu_mean=0.05, nu_std=0.02, compensation="global").compensation_gain == (
        pytest.approx(1 / expected, rel=1e-12))
    # through the engine: mean output ratio = expected factor, or 1 with global compensation
    s = mc.scheme(adc__bits=0, device__drift__time=86400.0, device__drift__nu_mean=0.05,
                  device__drift__nu_std=0.02)
    q = mc.quantized(32, 40, 4, seed=6)
    for comp, target in (("none", expected), ("global", 1.0)):
        r = simulate_mvm(q, s.with_overrides({"device.drift.compensation": comp}), chips=30, seed=0,
                         dtype=torch.float64)
        ratio = float((r.outputs * r.reference).sum() / (r.reference**2).sum() / 30)
        assert abs(ratio - target) < 0.01


def test_devices_of_every_array_get_errors(mc):
    """Positive, negative and unit-column cells all get programming error (independently)."""
    s = mc.scheme(mapping__kind="offset", mapping__offset="unit_column",
                  device__programming__model="state_independent", device__programming__alpha=0.01)
    q = mc.quantized(4, 6, 1)
    prog = program_chips(program_ideal(q.w_int, s), s.device, 0, range(2))
    ideal = program_ideal(q.w_int, s)
    assert not torch.equal(prog.arrays['unit'][0], ideal.arrays['unit'][0])
    assert not torch.equal(prog.arrays['unit'][0], prog.arrays['unit'][1])


def test_calibrated_range_covers_percentile(mc):
    """The calibrated range holds P % of the profiled ADC inputs (unsigned signals: both tails)."""
    s = mc.scheme(mapping__kind="offset", adc__range="calibrated", adc__percentile=95.0, adc__bits=8,
                  inputs__slice_bits=0, array__rows=32)
    q = mc.quantized(64, 32, 50, seed=8)
    profile = profile_signals(s, q.w_int, q.x_int, False)
    ranges = calibrate_ranges(s, q.w_int, q.x_int, False)
    sig = profile.signals(0)
    inside = float(((sig >= ranges[0].low) & (sig <= ranges[0].high)).double().mean())
    assert abs(inside - 0.95) < 0.002
    # calibration profiles ideal arrays: device errors in the scheme do not change the ranges
    noisy = s.with_overrides({"device.programming.model": "state_independent", "device.programming.alpha": 0.05})
    assert calibrate_ranges(noisy, q.w_int, q.x_int, False) == ranges
    assert simulate_mvm(q, noisy, chips=1, seed=0).ranges == ranges


def test_calibrated_slices_power_of_two(mc):
    s = mc.scheme(weights__bits=9, weights__slices=4, adc__range="calibrated", adc__bits=6)
    q = mc.quantized(32, 40, 20, weight_bits=9, seed=1)
    ranges = calibrate_ranges(s, q.w_int, q.x_int, False)
    top = max(r.high for r in ranges)
    for r in ranges:
        assert math.log2(top / r.high) == pytest.approx(round(math.log2(top / r.high)), abs=1e-12)
    free = calibrate_ranges(s.with_overrides({"adc.power_of_two_slices": False}), q.w_int, q.x_int, False)
    assert any(abs(math.log2(top / r.high) - round(math.log2(top / r.high))) > 1e-3 for r in free)


def test_aligned_range_converts_design_e_exactly(mc):
    """Design E's shape (offset with a unit column, 2-bit slices, an ADC per input bit, 72 rows, 8 bits) with
    ideal cells: the aligned range reproduces the integer product exactly, the inner-percentile range does
    not, even with nothing clipped (P = 100), because its levels sit between the signal's levels."""
    base = get_preset("design-e").with_overrides(
        {"device.programming.model": "none", "device.programming.alpha": 0.0, "adc.percentile": 100.0})
    q = mc.quantized(24, 150, 40, seed=4)
    aligned = simulate_mvm(q, base.with_overrides({"adc.range": "aligned"}), chips=1, seed=0, dtype=torch.float64)
    assert float((aligned.outputs[0] - aligned.reference).abs().max()) < 1e-6
    layout = SliceLayout.from_scheme(base)
    for k, r in enumerate(aligned.ranges):  # each the granular range times a power of two
        ratio = r.high / (255 * (1 - layout.g_min) / layout.levels[k])
        assert math.log2(ratio) == pytest.approx(round(math.log2(ratio)), abs=1e-12)
    calibrated = simulate_mvm(q, base.with_overrides({"adc.range": "calibrated"}), chips=1, seed=0,
                              dtype=torch.float64)
    err = (calibrated.outputs[0] - calibrated.reference).abs()
    assert float(err.max()) > 1.0


def test_seeds_reproducible(mc):
    s = mc.scheme(device__programming__model="state_proportional", device__programming__alpha=0.05,
                  device__read_noise__model="state_independent", device__read_noise__alpha=0.01,
                  device__stuck__p_off=0.01, array__rows=16)
    q = mc.quantized(8, 20, 3)
    a = simulate_mvm(q, s, chips=3, seed=11)
    b = simulate_mvm(q, s, chips=3, seed=11)
    c = simulate_mvm(q, s, chips=3, seed=12)
    assert torch.equal(a.outputs, b.outputs)
    assert not torch.equal(a.outputs, c.outputs)

"""convert(): BatchNorm folding, activation and ADC calibration, analog Conv2d/Linear, chips."""

from __future__ import annotations

import copy

import pytest
import torch
from aimc.montecarlo.layers import (
    AnalogConv2d,
    AnalogLinear,
    analog_layers,
    convert,
    fold_batchnorm,
    reprogram,
)
from torch import nn

from aimc.scheme import Scheme


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 6, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(6)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(6 * 4 * 4, 5)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.fc(x.flatten(1))


def _model_and_data():
    torch.manual_seed(0)
    model = TinyCNN()
    for bn in (model.bn1, model.bn2):  # non-trivial running statistics and affine parameters
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    data = torch.randn(24, 3, 8, 8)
    return model, data


def test_fold_batchnorm_is_exact():
    model, data = _model_and_data()
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded(data), model(data), rtol=1e-5, atol=1e-5)


def test_convert_ideal_matches_float_within_quantisation(mc):
    model, data = _model_and_data()
    s = mc.scheme(adc__bits=0, weights__bits=10, inputs__bits=10, array__rows=20)
    analog = convert(model, s, data, seed=0)
    layers = analog_layers(analog)
    assert [type(m) for m in layers] == [AnalogConv2d, AnalogConv2d, AnalogLinear]
    assert [m.signed_inputs for m in layers] == [True, False, False]  # first layer sees signed images
    with torch.no_grad():
        ref, got = model(data), analog(data)
    rel = float((got - ref).norm() / ref.norm())
    assert rel < 0.01
    # coarser quantisation gives a larger (but still small) error: the error is quantisation, not a bug
    coarse = convert(model, s.with_overrides({"weights.bits": 4, "inputs.bits": 4}), data)
    with torch.no_grad():
        rel4 = float((coarse(data) - ref).norm() / ref.norm())
    assert rel < rel4 < 0.5


def test_convert_digital_equivalence_exact(mc):
    """Ideal analog layers compute exactly the quantised-digital product: compare to the same quantisation in float64."""
    model, data = _model_and_data()
    s = mc.scheme(adc__bits=0, array__rows=16, mapping__kind="offset", inputs__slice_bits=1,
                  inputs__accumulation="digital")
    analog = convert(model, s, data, dtype=torch.float64)
    layer = analog_layers(analog)[2]  # the Linear layer: check one MVM directly
    x = torch.rand(7, layer.w_int.shape[1]) * layer.input_full_scale
    x_int, x_scale = layer._quantize(x)
    expected = (x_int @ layer.w_int.T).double() * float(x_scale) * layer.w_scale.double() + layer.bias.double()
    torch.testing.assert_close(layer(x).double(), expected, rtol=1e-6, atol=1e-5)


def test_convert_with_calibrated_adc_and_chips(mc):
    model, data = _model_and_data()
    s = mc.scheme(adc__bits=8, adc__range="calibrated", adc__percentile=99.9,
                  device__programming__model="state_independent", device__programming__alpha=0.02)
    analog = convert(model, s, data, seed=0, record_stats=True)
    for layer in analog_layers(analog):
        assert layer.ranges is not None and len(layer.ranges) == 1 and layer.ranges[0].signed
    with torch.no_grad():
        ref = model(data)
        a0 = analog(data)
        stats = analog_layers(analog)[1].stats
        assert float(stats["adc_histograms"][0].sum()) > 0 and analog_layers(analog)[1].mean_current() > 0
        a0_again = analog(data)
        reprogram(analog, 1)
        a1 = analog(data)
        reprogram(analog, 0)
        a0_back = analog(data)
    torch.testing.assert_close(a0, a0_again)  # same chip: programming error frozen
    torch.testing.assert_close(a0, a0_back)  # same seed: same chip
    assert not torch.allclose(a0, a1)  # another chip
    rel = float((a0 - ref).norm() / ref.norm())
    assert 0.005 < rel < 0.5


def test_convert_refuses_unfoldable_batchnorm(mc):
    """A BatchNorm registered after a conv but applied before it cannot be folded: refused, not silently wrong."""

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.bn = nn.BatchNorm2d(3)

        def forward(self, x):
            return self.conv(self.bn(x))

    bad = Bad().eval()
    bad.bn.running_mean.fill_(1.0)
    with pytest.raises(ValueError, match="BatchNorm"):
        convert(bad, mc.scheme(adc__bits=0), torch.randn(2, 3, 4, 4))


FAST_PATH_CASES = {
    "differential-unsliced-si": {"device__programming__model": "state_independent",
                                     "device__programming__alpha": 0.03},
    "differential-2b-slices-sp-digital-sub": {
        "weights__slices": 4, "mapping__subtraction": "digital", "device__programming__model": "state_proportional",
        "device__programming__alpha": 0.1, "device__on_off": 20.0},
    "offset-digital-1b-slices-stuck": {
        "mapping__kind": "offset", "mapping__offset": "digital", "weights__slices": 8,
        "device__programming__model": "state_independent", "device__programming__alpha": 0.02,
        "device__stuck__p_off": 0.02, "device__stuck__p_on": 0.01},
    "offset-unit-column-bit-serial-digital-acc": {
        "mapping__kind": "offset", "mapping__offset": "unit_column", "inputs__slice_bits": 2,
        "inputs__accumulation": "digital", "array__columns": 4, "device__on_off": 10.0,
        "device__programming__model": "state_independent", "device__programming__alpha": 0.02},
    "differential-drift-compensated": {
        "device__drift__time": 1e4, "device__drift__nu_mean": 0.05, "device__drift__nu_std": 0.02,
        "device__drift__compensation": "global"},
}


@pytest.mark.parametrize("case", sorted(FAST_PATH_CASES))
def test_input_linear_fast_path_equals_general_path(mc, case):
    """Without ADC, read noise or wire resistance a layer runs as x_int W_eff^T: it must give what the
    general path (partitions x weight slices x input slices through the pipeline) gives on the same chip."""
    model, data = _model_and_data()
    s = mc.scheme(adc__bits=0, array__rows=20, **FAST_PATH_CASES[case])
    analog = convert(model, s, data, seed=3, dtype=torch.float64)
    layers = analog_layers(analog)
    assert all(layer.input_linear for layer in layers)
    with torch.no_grad():
        fast = analog(data)
        assert all(layer._effective is not None for layer in layers)  # the fast path really ran
        for layer in layers:
            layer.linear_fast_path = False
        assert not any(layer.input_linear for layer in layers)
        general = analog(data)
    torch.testing.assert_close(fast, general, rtol=1e-9, atol=1e-9 * float(general.abs().max()))
    # and the chips differ: the effective weights carry the programmed errors, re-drawn by reprogram
    if s.device.programming.active:
        for layer in layers:
            layer.linear_fast_path = True
        with torch.no_grad():
            other = analog(data) if reprogram(analog, 4) is analog else None
        assert not torch.allclose(other, fast)


def test_fast_path_not_used_with_adc_or_read_noise(mc):
    model, data = _model_and_data()
    with_adc = convert(model, mc.scheme(adc__bits=6, adc__range="max"), data)
    noisy = convert(model, mc.scheme(adc__bits=0, device__read_noise__model="state_independent",
                                      device__read_noise__alpha=0.01), data)
    for analog in (with_adc, noisy):
        layer = analog_layers(analog)[0]
        assert not layer.input_linear
        with pytest.raises(RuntimeError, match="input-linear"):
            layer.effective_weights()


def test_calibrate_inputs_once_gives_the_same_network(mc):
    """convert(..., input_ranges=calibrate_inputs(...)) is convert() with its own activation calibration."""
    from aimc.montecarlo.layers import calibrate_inputs

    model, data = _model_and_data()
    s = mc.scheme(adc__bits=6, adc__range="calibrated", device__programming__model="state_independent",
                  device__programming__alpha=0.02)
    ranges = calibrate_inputs(model, data)
    assert sorted(ranges) == ["conv1", "conv2", "fc"] and ranges["conv1"][0] and not ranges["fc"][0]
    own = convert(model, s, data, seed=2)
    reused = convert(model, s, data, seed=2, input_ranges=ranges, check_fold=False)
    for a, b in zip(analog_layers(own), analog_layers(reused), strict=True):
        assert (a.signed_inputs, a.input_full_scale) == (b.signed_inputs, b.input_full_scale)
        assert a.ranges == b.ranges
    with torch.no_grad():
        torch.testing.assert_close(own(data), reused(data))
    with pytest.raises(ValueError, match="input_ranges: no calibration for layer"):
        convert(model, s, data, input_ranges={"conv1": (True, 1.0)})


def test_tf32_split_of_effective_weights_is_exact():
    """The CUDA fast path multiplies by hi and lo: hi must be exact in TF32 and hi + lo must be W exactly."""
    from aimc.montecarlo.engine import tf32_truncate

    w = torch.randn(64, 300, generator=torch.Generator().manual_seed(0)) * 37.0
    hi = tf32_truncate(w)
    lo = w - hi
    assert torch.equal(hi + lo, w)
    assert int((hi.view(torch.int32) & 0x1FFF).abs().sum()) == 0  # 10 mantissa bits left: TF32-exact
    assert bool((lo.abs() <= w.abs() * 2.0**-10).all())
    assert float(lo.abs().max()) > 0  # the low part is really there (float32 weights are not TF32)
    with pytest.raises(ValueError, match="float32"):
        tf32_truncate(w.double())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (TF32 tensor cores)")
def test_fast_path_on_cuda_has_float32_accuracy():
    """The two TF32 products on the same input codes agree with a float64 product to float32 accuracy."""
    model, data = _model_and_data()
    s = Scheme().with_overrides({"adc.bits": 0, "device.programming.model": "state_independent",
                                 "device.programming.alpha": 0.02})
    layer = analog_layers(convert(model, s, data, seed=1, device="cuda"))[1]
    codes = torch.randint(0, 256, (40, layer.w_int.shape[1]), device="cuda").float()
    got = layer._effective_product(lambda x, w: x @ w.T, codes)
    assert layer._effective_split is not None  # the TF32 split really ran
    want = codes.double() @ layer.effective_weights().double().T
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))


@pytest.mark.parametrize("over", [
    {},
    {"mapping.kind": "offset", "mapping.offset": "digital", "weights.slices": 4, "device.on_off": 10.0},
    {"mapping.kind": "offset", "mapping.offset": "unit_column", "weights.slices": 8, "inputs.slice_bits": 1,
     "inputs.accumulation": "digital"},
    {"weights.slices": 7, "mapping.subtraction": "digital", "array.rows": 20},
])
def test_ideal_cells_compute_with_the_integer_weights_exactly(over):
    """Ideal cells: the effective weights are the integer weights bit for bit (a path-independent baseline)."""
    model, data = _model_and_data()
    analog = convert(model, Scheme().with_overrides({"adc.bits": 0, **over}), data)
    for layer in analog_layers(analog):
        assert torch.equal(layer.effective_weights(), layer.w_int.to(layer.dtype))
    noisy = convert(model, Scheme().with_overrides({"adc.bits": 0, "device.programming.model": "state_independent",
                                                    "device.programming.alpha": 0.01, **over}), data)
    layer = analog_layers(noisy)[0]
    assert not torch.equal(layer.effective_weights(), layer.w_int.to(layer.dtype))


@pytest.mark.parametrize("adc_bits", [0, 8])
def test_layer_refuses_non_finite_inputs_unless_told_the_network_checks(mc, adc_bits):
    model, data = _model_and_data()
    analog = convert(model, mc.scheme(adc__bits=adc_bits), data, seed=0)
    layer = analog_layers(analog)[1]
    assert layer.input_linear == (adc_bits == 0)
    bad = torch.rand(2, 8, 8, 8)
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="must be finite"):
        layer(bad)
    layer.check_finite = False
    if layer.input_linear:  # float codes: the NaN propagates to the output, it never becomes a code
        assert torch.isnan(layer(bad)[0]).any() and torch.isfinite(layer(bad)[1]).all()
    else:  # integer codes would hide it: checked regardless
        with pytest.raises(ValueError, match="must be finite"):
            layer(bad)

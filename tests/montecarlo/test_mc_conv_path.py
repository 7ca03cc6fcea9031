"""The convolution-native ADC path of AnalogConv2d equals the im2col path (same conversions, same signals)."""

from __future__ import annotations

import pytest
import torch
from aimc.montecarlo.engine import SignalProfile, ranges_from_profile
from aimc.montecarlo.fast import conv_partition_channels, linear_conv2d
from aimc.montecarlo.layers import AnalogConv2d
from torch import nn

from aimc.adc_ranges import range_policy, slice_ranges
from aimc.mapping import SliceLayout
from aimc.pipeline import program_ideal

PROGRAMMING = {"device__programming__model": "state_independent", "device__programming__alpha": 0.02}

# (scheme overrides, conv geometry: in, out, kernel, stride, padding, dilation; signed inputs)
CASES = {
    "differential-analog-whole-inputs-one-partition": (
        {"mapping__kind": "differential", "inputs__slice_bits": 0, "array__rows": 64, "adc__range": "calibrated"},
        (3, 5, 3, 1, 1, 1), True,
    ),
    "differential-digital-sub-sliced-bit-serial-digital-padded-partition": (
        {"mapping__kind": "differential", "mapping__subtraction": "digital", "weights__slices": 2,
         "inputs__slice_bits": 2, "inputs__accumulation": "digital", "array__rows": 18, "adc__range": "granular"},
        (5, 4, 3, 2, 1, 1), False,
    ),
    "offset-digital-sliced-bit-serial-analog-dilated": (
        {"mapping__kind": "offset", "mapping__offset": "digital", "weights__slices": 2, "inputs__slice_bits": 1,
         "inputs__accumulation": "analog", "array__rows": 27, "adc__range": "calibrated"},
        (7, 6, 3, 1, 2, 2), False,
    ),
    "offset-unit-column-bit-serial-digital-design-e-like": (
        {"mapping__kind": "offset", "mapping__offset": "unit_column", "weights__slices": 4, "inputs__slice_bits": 1,
         "inputs__accumulation": "digital", "array__rows": 18, "array__columns": 4, "adc__range": "calibrated"},
        (6, 10, 3, 1, 1, 1), False,
    ),
    "two-sided-1x1-signed-padded-partition": (
        {"mapping__kind": "differential_two_sided", "array__rows": 4, "adc__range": "granular"},
        (10, 3, 1, 1, 0, 1), True,
    ),
    "differential-digital-sub-signed-bit-serial-digital-5x5": (
        {"mapping__kind": "differential", "mapping__subtraction": "digital", "inputs__slice_bits": 1,
         "inputs__accumulation": "digital", "array__rows": 50, "adc__range": "calibrated"},
        (3, 4, 5, 1, 2, 1), True,
    ),
    "offset-digital-whole-inputs-max-range-strided": (
        {"mapping__kind": "offset", "mapping__offset": "digital", "inputs__slice_bits": 0, "array__rows": 9,
         "adc__range": "max"},
        (4, 5, 3, 2, 0, 1), False,
    ),
}


def _layer(mc, overrides: dict, geometry: tuple, signed: bool, bits: int = 5) -> tuple[AnalogConv2d, torch.Tensor]:
    c_in, c_out, k, stride, padding, dilation = geometry
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, dilation).double()
    scheme = mc.scheme(adc__bits=bits, **PROGRAMMING, **overrides)
    layer = AnalogConv2d.from_float(conv, scheme, "conv")
    layer.dtype, layer.signed_inputs, layer.input_full_scale = torch.float64, signed, 2.0
    x = torch.randn(3, c_in, 9, 8, dtype=torch.float64)
    return layer, x if signed else x.relu()


def _ranges(layer: AnalogConv2d, x: torch.Tensor) -> tuple[list, SignalProfile]:
    """The slice ranges the layer's policy gives (profiled on the ideal arrays for calibrated ranges)."""
    s = layer.scheme
    slices = SliceLayout.from_scheme(s).slices
    if not range_policy(s.adc.range).profiled:
        return slice_ranges(s, layer.w_int.shape[1], layer.signed_inputs), None
    layer.ranges = None
    layer.program(None, ideal=True)
    layer.profile = SignalProfile(slices, total_cap=500)
    with torch.no_grad():
        layer(x)
    profile, layer.profile = layer.profile, None
    return ranges_from_profile(s, profile, layer.w_int.shape[1], layer.signed_inputs), profile


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_path_equals_im2col_path(mc, case):
    overrides, geometry, signed = CASES[case]
    layer, x = _layer(mc, overrides, geometry, signed)
    layer.ranges, _ = _ranges(layer, x)
    layer.program(5)
    assert layer.conv_native and not layer.input_linear
    calls = layer.conv_path_calls
    with torch.no_grad():
        conv = layer(x)
        assert layer.conv_path_calls == calls + 1  # the convolution path really ran
        layer.conv_fast_path = False
        general = layer(x)
        assert layer.conv_path_calls == calls + 1
    assert conv.shape == general.shape
    # every output sums conversions of the ADC: one code off would move it by a whole level
    torch.testing.assert_close(conv, general, rtol=0, atol=1e-9 * float(general.abs().max()))
    # and the ADC matters: without it the outputs differ
    layer.conv_fast_path, ranges, layer.ranges = True, layer.ranges, None
    with torch.no_grad():
        assert not torch.allclose(layer(x), general, rtol=0, atol=1e-6 * float(general.abs().max()))
    layer.ranges = ranges


@pytest.mark.parametrize("budget", [1 << 25, 3000])
@pytest.mark.parametrize(
    "case",
    ["offset-unit-column-bit-serial-digital-design-e-like", "differential-digital-sub-signed-bit-serial-digital-5x5",
     "offset-digital-sliced-bit-serial-analog-dilated"],
)
def test_profile_sees_the_im2col_signals(mc, case, budget):
    """The observer gets the same signals in the same blocks (so the same random sample) on both paths,
    also when the im2col blocks cut images (small budget)."""
    overrides, geometry, signed = CASES[case]
    profiles = []
    for conv_path in (True, False):
        layer, x = _layer(mc, overrides, geometry, signed)
        layer.budget = budget
        layer.conv_fast_path = conv_path
        _, profile = _ranges(layer, x)
        assert layer.conv_path_calls == (1 if conv_path else 0)
        profiles.append(profile)
    conv, general = profiles
    assert conv.count == general.count
    for k in range(len(conv.count)):
        torch.testing.assert_close(conv.signals(k), general.signals(k), rtol=1e-12, atol=1e-12)


def test_fallback_when_partitions_cut_channels(mc):
    """A 7x7 kernel on 72-row arrays: partitions of 72 rows cut channels' 49-row windows -> im2col."""
    layer, x = _layer(mc, {"array__rows": 72, "adc__range": "granular"}, (3, 4, 7, 2, 3, 1), True)
    assert conv_partition_channels(3, (7, 7), 72) is None
    layer.ranges, _ = _ranges(layer, x)
    layer.program(1)
    assert not layer.conv_native
    with torch.no_grad():
        y = layer(x)
    assert layer.conv_path_calls == 0 and y.shape == (3, 4, 5, 4)
    g = program_ideal(layer.w_int, layer.scheme)
    with pytest.raises(ValueError, match="whole input channels"):
        linear_conv2d(torch.zeros(1, 3, 9, 8, dtype=torch.int64), g, layer.scheme, kernel_size=(7, 7),
                      stride=(1, 1), padding=(0, 0), dilation=(1, 1), signed_inputs=True)


def test_partition_channels():
    assert conv_partition_channels(128, (3, 3), 1152) == 128  # all rows in one partition
    assert conv_partition_channels(256, (3, 3), 1152) == 128
    assert conv_partition_channels(512, (3, 3), 72) == 8
    assert conv_partition_channels(2048, (1, 1), 72) == 72
    assert conv_partition_channels(3, (7, 7), 147) == 3
    assert conv_partition_channels(3, (7, 7), 72) is None


def test_no_conv_path_with_read_noise_or_recorded_stats(mc):
    overrides, geometry, signed = CASES["differential-analog-whole-inputs-one-partition"]
    noisy, x = _layer(mc, {**overrides, "device__read_noise__model": "state_independent",
                           "device__read_noise__alpha": 0.01}, geometry, signed)
    noisy.ranges, _ = _ranges(noisy, x)
    noisy.program(1)
    assert not noisy.conv_native
    recorded, _ = _layer(mc, overrides, geometry, signed)
    recorded.ranges, _ = _ranges(recorded, x)
    recorded.program(1)
    assert recorded.conv_native
    recorded.record_stats = True
    assert not recorded.conv_native
    noisy.conv_path_calls = recorded.conv_path_calls = 0  # (the ideal profiling may use it)
    with torch.no_grad():
        noisy(x), recorded(x)
    assert noisy.conv_path_calls == 0 and recorded.conv_path_calls == 0
    assert recorded.stats["current_count"] > 0

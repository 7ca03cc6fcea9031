"""The fused conversion of :func:`aimc.montecarlo.fast.linear_conv2d` (no observer) equals the per-slice
digitisation of :func:`aimc.montecarlo.fast.digitize_partitions` in float64 (design E and variants): the same ADC
codes (one code off would move an output by a whole ADC level), the digital sums up to the order in which
torch reduces them (a few ulp; torch's own order for a size-8 reduction depends on the tensor's shape)."""

from __future__ import annotations

import pytest
import torch
from aimc.montecarlo.fast import linear_conv2d

from aimc.adc import ADCRange
from aimc.adc_ranges import slice_ranges
from aimc.mappings import MAPPINGS
from aimc.pipeline import Programmed, program_ideal
from aimc.presets import get_preset
from aimc.scheme import ConfigError, Scheme

# (scheme overrides on design E, conv geometry: in, out, kernel, stride, padding, dilation; signed inputs)
CASES = {
    "design-e": ({}, (16, 12, 3, 1, 1, 1), False),
    "design-e-many-partitions-strided": ({"array.rows": 18, "array.columns": 5}, (40, 7, 3, 2, 1, 1), False),
    "design-e-1x1-signed-inputs": ({}, (150, 9, 1, 1, 0, 1), True),
    "differential-digital-sub-digital-acc": (
        {"mapping.kind": "differential", "mapping.offset": "digital", "mapping.subtraction": "digital",
         "weights.slices": 2,
         "inputs.slice_bits": 2, "inputs.accumulation": "digital"},
        (12, 6, 3, 1, 1, 1), False,
    ),
    "differential-analog-signed-digital-acc": (
        {"mapping.kind": "differential", "mapping.offset": "digital", "mapping.subtraction": "analog"},
        (9, 5, 3, 1, 1, 2), True,
    ),
    "offset-digital-dilated": ({"mapping.offset": "digital", "array.rows": 27}, (7, 6, 3, 1, 2, 2), False),
    # the array-size sweep's sliced points: one conversion per slice (analog accumulation), unsigned
    # ranges with the digital offset (and a large g_min), signed ranges with analog subtraction
    "offset-1b-slices-analog-acc-on-off-10": (
        {"mapping.offset": "digital", "weights.slices": 8, "inputs.accumulation": "analog", "array.rows": 36,
         "device.on_off": 10},
        (8, 5, 3, 1, 1, 1), False,
    ),
    "differential-1b-slices-analog-acc": (
        {"mapping.kind": "differential", "mapping.offset": "digital", "mapping.subtraction": "analog",
         "weights.slices": 7, "inputs.accumulation": "analog", "array.rows": 36},
        (8, 5, 3, 2, 1, 1), False,
    ),
    "unit-column-2b-slices-analog-acc": ({"inputs.accumulation": "analog"}, (16, 6, 3, 1, 1, 1), False),
    "two-sided-analog-acc": (
        {"mapping.kind": "differential_two_sided", "mapping.offset": "digital", "weights.slices": 1,
         "inputs.accumulation": "analog"},
        (10, 4, 3, 1, 1, 1), False,
    ),
}


def _registered_cases() -> dict:
    """Every registered mapping with every option it accepts, at the first slice count it accepts (so a new
    mapping is checked here without a line of test code)."""
    out = {}
    for kind in MAPPINGS:
        for offset in ("digital", "unit_column"):
            for subtraction in ("analog", "digital"):
                for slices in range(1, 9):
                    over = {"mapping.kind": kind, "mapping.offset": offset, "mapping.subtraction": subtraction,
                            "weights.slices": slices, "device.on_off": 10}
                    try:
                        get_preset("design-e").with_overrides(over)
                    except ConfigError:
                        continue
                    out[f"registered-{kind}-{offset}-{subtraction}-s{slices}"] = (over, (6, 5, 3, 1, 1, 1), False)
                    break
    return out


CASES.update(_registered_cases())


def _setup(overrides: dict, geometry: tuple, signed: bool, chips: int = 2, seed: int = 0):
    scheme = get_preset("design-e").with_overrides(overrides)
    c_in, c_out, k, stride, padding, dilation = geometry
    gen = torch.Generator().manual_seed(seed)
    m = (1 << (scheme.weights.bits - 1)) - 1
    w_int = torch.randint(-m, m + 1, (c_out, c_in * k * k), generator=gen)
    ideal = program_ideal(w_int, scheme)

    def perturb(g: torch.Tensor) -> torch.Tensor:
        g = g.expand(chips, *g.shape[1:])
        return g * (1 + 0.03 * torch.randn(g.shape, generator=gen, dtype=g.dtype))

    programmed = ideal.map(perturb)
    top = (1 << (scheme.inputs.bits - 1)) - 1 if signed else (1 << scheme.inputs.bits) - 1
    x_int = torch.randint(-top if signed else 0, top + 1, (3, c_in, 9, 8), generator=gen)
    ranges = slice_ranges(scheme.with_overrides({"adc.range": "max"}), w_int.shape[1], signed)
    # narrower ranges (many codes clipped and rounded), an unsigned one starting above zero
    ranges = [ADCRange(r.low * 0.3, r.high * 0.3) if r.signed else ADCRange(r.high * 0.01, r.high * 0.2)
              for r in ranges]
    conv = {"kernel_size": (k, k), "stride": (stride, stride), "padding": (padding, padding),
            "dilation": (dilation, dilation), "signed_inputs": signed, "ranges": ranges}
    return scheme, programmed, x_int, conv


def _both(scheme: Scheme, programmed: Programmed, x_int: torch.Tensor, conv: dict, gain: float = 1.0):
    b = x_int.shape[0]
    fused = linear_conv2d(x_int, programmed, scheme, gain=gain, **conv)
    ho_wo = fused.shape[-2] * fused.shape[-1]
    per_slice = linear_conv2d(x_int, programmed, scheme, gain=gain, chunks=[(0, b * ho_wo)], **conv)
    return fused, per_slice


@pytest.mark.parametrize("gain", [1.0, 1.0371])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_conversion_equals_per_slice_digitisation(case, gain):
    scheme, programmed, x_int, conv = _setup(*CASES[case])
    fused, per_slice = _both(scheme, programmed, x_int, conv, gain)
    assert fused.dtype == torch.float64 and fused.shape == per_slice.shape
    torch.testing.assert_close(fused, per_slice, rtol=0, atol=1e-13 * float(per_slice.abs().max()))
    # the ADC matters (codes clipped and rounded): without it the outputs differ
    ideal = linear_conv2d(x_int, programmed, scheme, gain=gain, **{**conv, "ranges": None})
    assert not torch.allclose(ideal, fused, rtol=0, atol=1e-6 * float(fused.abs().max()))


def test_fused_conversion_float32_and_image_blocks():
    """float32 (up to float rounding) and a small block (several image blocks) give the same outputs."""
    scheme, programmed, x_int, conv = _setup(*CASES["design-e"], chips=1, seed=3)
    fused = linear_conv2d(x_int, programmed, scheme, **conv)
    blocked = linear_conv2d(x_int, programmed, scheme, block=1000, **conv)
    assert torch.equal(blocked, fused)
    p32 = programmed.map(lambda g: g.float())
    fused32, per_slice32 = _both(scheme, p32, x_int, conv)
    assert fused32.dtype == torch.float32
    torch.testing.assert_close(fused32, per_slice32, rtol=0, atol=1e-5 * float(per_slice32.abs().max()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("case", ["design-e", "differential-digital-sub-digital-acc"])
def test_fused_conversion_on_cuda_equals_per_slice_digitisation(case):
    """On CUDA the fused path multiplies by 1/delta, as torch does for a scalar divisor there: the codes
    must still be those of the per-slice digitisation on the same device (an off-by-one code would move an
    output by a whole ADC level, far beyond the tolerance). float64, where the two paths' currents cannot
    straddle a code boundary by rounding (float32 convolutions of different batch shapes may)."""
    dtype = torch.float64
    scheme, programmed, x_int, conv = _setup(*CASES[case])
    on = programmed.map(lambda g: g.to("cuda", dtype))
    fused, per_slice = _both(scheme, on, x_int.cuda(), conv)
    assert fused.is_cuda
    tol = 1e-13 * float(per_slice.abs().max())
    torch.testing.assert_close(fused, per_slice, rtol=0, atol=tol)

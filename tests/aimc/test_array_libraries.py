"""The shared definitions give the same numbers on numpy arrays as on torch tensors.

The Monte Carlo engine computes on tensors and the closed forms on numpy arrays (so that ``aimc estimate``
starts without torch); both must see the same codes, digits, conductances, ADC ranges and levels, bit for
bit, and a budget must not depend on which library held its layer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aimc.theory import error_budget

from aimc import Scheme
from aimc.adc import ADCRange, calibrated_range, quantize
from aimc.devices import DEVICE_LAWS, NUMPY, TORCH
from aimc.inputs import input_slices, quantize_inputs
from aimc.layers import QuantizedLayer, quantize_layer, synthetic_layer
from aimc.mapping import (
    SliceLayout,
    digits_to_conductance,
    digits_to_weights,
    quantize_weights,
    weight_digits,
)
from aimc.mappings import MAPPINGS

RNG = np.random.default_rng(7)
WEIGHTS = RNG.laplace(0.0, 0.02, size=(12, 40))
INPUTS = RNG.standard_normal(size=(6, 40))


def _same(numpy_value, torch_value) -> None:
    assert isinstance(numpy_value, np.ndarray), type(numpy_value)
    np.testing.assert_array_equal(numpy_value, torch_value.numpy(), strict=False)


@pytest.mark.parametrize("per_channel", [False, True])
def test_weight_quantisation(per_channel):
    w_np, scale_np = quantize_weights(WEIGHTS, 6, per_channel)
    w_t, scale_t = quantize_weights(torch.from_numpy(WEIGHTS), 6, per_channel)
    _same(w_np, w_t)
    _same(np.asarray(scale_np), scale_t)
    assert w_np.dtype == np.int64


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("slice_bits", [0, 1, 3])
def test_input_quantisation_and_slices(signed, slice_bits):
    x = INPUTS if signed else np.maximum(INPUTS, 0.0)
    peak = float(np.abs(x).max())
    x_np, s_np = quantize_inputs(x, 7, signed, peak)
    x_t, s_t = quantize_inputs(torch.from_numpy(x), 7, signed, peak)
    _same(x_np, x_t)
    _same(np.asarray(s_np), s_t)
    _same(input_slices(x_np, 7, slice_bits, signed), input_slices(x_t, 7, slice_bits, signed))


@pytest.mark.parametrize("kind", sorted(MAPPINGS))
def test_digits_and_conductances_of_every_mapping(kind):
    bits = 5
    slices = bits if kind in ("twos_complement", "ones_complement") else 1
    offset = "unit_column" if kind == "offset" else "digital"
    scheme = Scheme().with_overrides({"mapping.kind": kind, "mapping.offset": offset, "weights.bits": bits,
                                      "weights.slices": slices, "device.on_off": 100.0})
    layout = SliceLayout.from_scheme(scheme)
    w_np, _ = quantize_weights(WEIGHTS, bits)
    digits_np, digits_t = weight_digits(w_np, layout), weight_digits(torch.from_numpy(w_np), layout)
    for name in layout.arrays:
        _same(digits_np[name], digits_t[name])
        _same(digits_to_conductance(digits_np[name], layout), digits_to_conductance(digits_t[name], layout))
    _same(digits_to_weights(digits_np, layout), digits_to_weights(digits_t, layout))
    np.testing.assert_array_equal(digits_to_weights(digits_np, layout), w_np)
    for k in range(layout.slices):
        _same(layout.level_conductances(k, np.float64), layout.level_conductances(k))


@pytest.mark.parametrize("signed", [False, True])
def test_adc_range_and_levels(signed):
    samples = RNG.standard_normal(5000) if signed else RNG.exponential(size=5000)
    for percentile in (99.98, 90.0, 100.0):
        assert calibrated_range(samples, percentile, signed) == calibrated_range(
            torch.from_numpy(samples), percentile, signed)
    rng = ADCRange(-2.0, 2.0) if signed else ADCRange(0.0, 3.0)
    _same(quantize(samples, 5, rng), quantize(torch.from_numpy(samples), 5, rng))


@pytest.mark.parametrize("law", sorted(DEVICE_LAWS))
def test_device_laws_agree_to_float_rounding(law):
    """A law's numpy and torch values may differ by the rounding of one operation (exp and x**3 are computed
    by different code in the two libraries; 1 - exp(-x) shows exp's last bit relative to its own size), never
    more."""
    g = np.linspace(1e-3, 1.0, 513)
    reference = DEVICE_LAWS[law].sigma(torch.from_numpy(g), TORCH).numpy()
    np.testing.assert_allclose(DEVICE_LAWS[law].sigma(g, NUMPY), reference, rtol=1e-14,
                               atol=4 * np.finfo(np.float64).eps * float(np.abs(reference).max()))


@pytest.mark.parametrize("preset_overrides", [{}, {"adc.range": "optimal"}, {"parasitics.r": 1e-5}])
def test_a_budget_does_not_depend_on_the_library_of_its_layer(preset_overrides):
    scheme = Scheme().with_overrides({"array.rows": 64, "adc.bits": 6, "device.programming.model":
                                      "state_proportional", "device.programming.alpha": 0.05, **preset_overrides})
    layer = synthetic_layer(tensors=False)
    small = type(layer)(layer.weights[:16, :100], layer.inputs[:8, :100], "small")
    q_np = quantize_layer(small, scheme)
    q_t = QuantizedLayer(*(torch.from_numpy(np.asarray(v)) for v in
                           (q_np.w_int, q_np.x_int, q_np.w_scale, q_np.x_scale)), q_np.signed_inputs)
    a, b = error_budget(q_np, scheme), error_budget(q_t, scheme)
    assert a.summary() == b.summary()
    assert a.ranges == b.ranges

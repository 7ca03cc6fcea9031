"""The accuracy predictor on a small network (:mod:`.predictor_network`): its digital network, its measured responses, its
cache, the direction of every error source, and its prediction against device-level chips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from aimc.validation.accuracy import accuracy_for_scheme, convert_network, quantized_scheme
from aimc.validation.predictor import measure as measure_module
from aimc.validation.predictor.core import predict
from aimc.validation.predictor.measure import load_or_measure, measure
from aimc.validation.predictor.network import Quantisation, digital_layers, digital_network

from aimc import Scheme

from .predictor_network import small_network


def test_digital_network_is_the_quantised_baseline(net, profile):
    """The predictor's network gives the logits of the Monte Carlo's 8-bit quantised network."""
    analog = convert_network(net, quantized_scheme(Scheme()))
    images = (net.images.float() / 255 - 0.5) / 0.25
    with torch.no_grad():
        reference = analog(images)
    torch.testing.assert_close(torch.from_numpy(profile.logits), reference, rtol=1e-5, atol=1e-4)
    assert profile.digital_accuracy == pytest.approx(float((reference.argmax(1) == net.labels).double().mean()))


def test_gain_response_is_the_derivative(net):
    """The measured gain response equals a finite difference of the network (16-bit inputs: rounding negligible)."""
    q = Quantisation(8, 16, False)
    p = measure(net, q, batch_size=300, progress=False, injections=False)
    model = digital_network(net.model, net.input_ranges, q)
    layers = digital_layers(model)
    x = (net.images.float() / 255 - 0.5) / 0.25
    tracked = torch.as_tensor(p.tracked)
    with torch.no_grad():
        clean = model(x).gather(1, tracked).double()
        layers[1].perturb = lambda layer, y: y * 1.02
        moved = model(x).gather(1, tracked).double()
    layers[1].perturb = None
    finite = ((moved - clean) / 0.02).numpy()
    scale = np.abs(p.gain[:, 1]).mean()
    assert np.abs(finite - p.gain[:, 1]).mean() < 0.1 * scale


def test_weight_noise_response_is_the_variance(net):
    """Frozen weight noise of std s on one layer moves the tracked logits with covariance s^2 W (200 draws;
    the mean over images of the ratio is within its sampling error of 1)."""
    q = Quantisation(8, 16, False)
    p = measure(net, q, batch_size=300, progress=False, injections=False)
    model = digital_network(net.model, net.input_ranges, q)
    layer = digital_layers(model)[2]
    x = (net.images.float() / 255 - 0.5) / 0.25
    tracked = torch.as_tensor(p.tracked)
    gen = torch.Generator().manual_seed(5)
    draws, s = 200, 0.3
    with torch.no_grad():
        clean = model(x).gather(1, tracked).double()
        square = torch.zeros(len(x), dtype=torch.float64)
        for _ in range(draws):
            layer.weights = layer.w_int + s * torch.randn(layer.w_int.shape, generator=gen)
            square += ((model(x).gather(1, tracked).double() - clean)[:, 0] / s) ** 2
    layer.weights = None
    ratio = (square / draws).numpy() / p.weight_noise[:, 2, 0]
    assert abs(float(np.mean(ratio)) - 1) < 4 * np.sqrt(2 / draws)


def test_the_one_time_step_is_cached_and_invalidated(net, tmp_path, monkeypatch):
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path))
    calls = []
    real = measure_module.measure
    monkeypatch.setattr(measure_module, "measure", lambda *a, **k: calls.append(1) or real(*a, **k))
    load_or_measure(net, Quantisation(), batch_size=300, progress=False, injections=False)
    first, cached = load_or_measure(net, Quantisation(), batch_size=300, progress=False, injections=False)
    again, cached_again = load_or_measure(net, Quantisation(), batch_size=300, progress=False, injections=False)
    assert (cached, cached_again, len(calls)) == (True, True, 1)
    np.testing.assert_array_equal(first.weight_noise, again.weight_noise)  # the same stored profile, read twice
    other = small_network(seed=0)
    with torch.no_grad():
        other.model[0].weight.mul_(1.01)  # the weights change: measured again
    _, cached_other = load_or_measure(other, Quantisation(), batch_size=300, progress=False, injections=False)
    assert not cached_other and len(calls) == 2


ERRORS = {
    "programming": {"device.programming.model": "state_independent", "device.programming.alpha": 0.04},
    "read_noise": {"device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.03},
    "drift": {"device.programming.model": "state_proportional", "device.programming.alpha": 0.1,
              "device.drift.time": 86400.0, "device.drift.nu_mean": 0.06, "device.drift.nu_std": 0.05},
    "stuck": {"device.stuck.p_off": 0.02, "device.stuck.p_on": 0.02},
    "adc_quantization": {"adc.bits": 3, "inputs.accumulation": "analog"},
    "unit_column": {"mapping.kind": "offset", "mapping.offset": "unit_column",
                    "device.programming.model": "state_independent", "device.programming.alpha": 0.02},
    "parasitics": {"parasitics.r": 5e-5, "parasitics.topology": "gate_bitline", "inputs.slice_bits": 1,
                   "inputs.accumulation": "analog", "adc.bits": 8},
}


@pytest.mark.parametrize("source", sorted(ERRORS))
def test_every_error_source_reaches_the_prediction(profile, compounding, source):
    """Each source's error reaches the margin (a positive share of its mean squared change) and never raises
    the predicted accuracy; ideal devices without an ADC predict the digital network's own top-1."""
    ideal = Scheme().with_overrides({"adc.bits": 0, "array.rows": 144})
    base = predict(profile, ideal, compounding)
    assert base.accuracy == pytest.approx(profile.digital_accuracy, abs=1e-9)
    worse = predict(profile, ideal.with_overrides(ERRORS[source]), compounding)
    assert worse.margin_error.get(source, 0.0) > 0
    assert worse.accuracy <= base.accuracy + 1e-9


def test_more_error_lowers_the_prediction(profile, compounding):
    accuracies = [predict(profile, Scheme().with_overrides({
        "adc.bits": 0, "device.programming.model": "state_independent", "device.programming.alpha": a}),
        compounding).accuracy for a in (0.02, 0.04, 0.08, 0.16)]
    assert all(b < a for a, b in itertools.pairwise(accuracies))
    assert accuracies[-1] < accuracies[0] - 0.05


@pytest.mark.parametrize("overrides", [
    {"device.programming.model": "state_independent", "device.programming.alpha": 0.03, "adc.bits": 0},
    {"mapping.kind": "offset", "device.programming.model": "state_proportional", "device.programming.alpha": 0.1,
     "adc.bits": 0},
    {"device.programming.model": "state_independent", "device.programming.alpha": 0.02, "adc.bits": 6,
     "inputs.accumulation": "analog"},
], ids=["differential-si", "offset-sp", "adc-si"])
def test_prediction_agrees_with_device_level_chips(net, profile, compounding, overrides):
    """Within 4 points or twice the chips' 95 % interval of their mean: a small network's accuracy moves by
    whole images (1/300) and its chips differ much more than a ResNet-50's."""
    scheme = Scheme().with_overrides(overrides)
    chips = 12
    simulated = accuracy_for_scheme(net, scheme, chips=chips, seed=3, progress=False, with_baselines=False)
    predicted = predict(profile, scheme, compounding).accuracy
    interval = 1.96 * simulated["accuracy_std"] / np.sqrt(chips)
    assert abs(predicted - simulated["accuracy_mean"]) <= max(0.04, 2 * interval)


def test_wire_resistance_beyond_first_order_is_refused(profile):
    scheme = Scheme().with_overrides({"parasitics.r": 1e-3, "parasitics.topology": "gate_bitline",
                                      "inputs.slice_bits": 1, "adc.bits": 8})
    with pytest.raises(ValueError, match="parasitics.r: .*beyond the first-order model's validity"):
        predict(profile, scheme)

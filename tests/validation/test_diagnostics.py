"""Weight and output gains: the clipping bias of differential cells shows as a weight gain below 1."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from aimc.montecarlo.layers import analog_layers, convert
from aimc.validation import accuracy
from aimc.validation.diagnostics import _variations, output_gain, weight_gains
from torch import nn

from aimc.cli import main
from aimc.scheme import Scheme


def _model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 36, 32))
    laplace = torch.distributions.Laplace(0.0, 1.0)
    with torch.no_grad():  # weights peaked at zero, as trained networks' are
        for m in (model[0], model[3]):
            m.weight.copy_(laplace.sample(m.weight.shape))
    return model.eval(), torch.randn(32, 3, 6, 6)


def _scheme(kind: str, clip: str, alpha: float = 0.05) -> Scheme:
    over = {"adc.bits": 0, "device.on_off": "inf", "device.clip": clip, "mapping.kind": kind,
            "device.programming.model": "state_independent" if alpha > 0 else "none",
            "device.programming.alpha": alpha}
    if kind == "offset":
        over["mapping.offset"] = "digital"
    return Scheme().with_overrides(over)


def test_clipped_differential_cells_shrink_the_weights():
    model, data = _model()
    gains = {}
    for kind in ("differential", "offset"):
        for clip in ("range", "none"):
            rows = weight_gains(convert(model, _scheme(kind, clip), data, seed=0), predict=True)
            assert [r["layer"] for r in rows] == ["0", "3"]
            gains[kind, clip] = [r["gain"] for r in rows]
            # one chip against the closed form of the mean chip: within the chip's sampling error
            for r in rows:
                assert abs(r["gain"] - r["predicted_gain"]) < 0.02, (kind, clip, r)
    # rectified errors of the cells at g_min = 0: E[max(0, z)] = 0.4 sigma -> a clear shrink in every layer
    # (Laplace weights, scale b levels: gain ~ 1 - 0.4 sigma E|w| / E[w^2] = 1 - 0.2 sigma / b ~ 0.93 here)
    assert all(g < 0.96 for g in gains["differential", "range"]), gains
    # unclipped errors have zero mean: the gain is 1 within the sampling error (about 0.01 for the conv)
    for key in (("differential", "none"), ("offset", "none"), ("offset", "range")):
        assert all(abs(g - 1) < 0.03 for g in gains[key]), (key, gains[key])


def test_ideal_chip_has_unit_gain_and_exact_outputs():
    model, data = _model()
    ideal = convert(model, _scheme("differential", "range", alpha=0.0), data)
    assert all(r["gain"] == pytest.approx(1.0, abs=1e-6) and r["residual"] < 1e-6 for r in weight_gains(ideal))
    out = output_gain(ideal, ideal, data)
    assert out == {"output_gain": pytest.approx(1.0), "output_residual": pytest.approx(0.0, abs=1e-9),
                   "top1_agreement": 1.0}


def test_refuses_layers_with_an_adc_and_bad_vary():
    model, data = _model()
    with_adc = convert(model, Scheme().with_overrides({"adc.bits": 8, "adc.range": "max"}), data)
    with pytest.raises(ValueError, match="input-linear"):
        weight_gains(with_adc)
    assert _variations(["a=1,2", "b=x"]) == [{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]
    with pytest.raises(ValueError, match="--vary"):
        _variations(["nonsense"])


def test_offset_bit_slices_under_proportional_error_shift_every_weight():
    """1-bit offset slices put every set bit at Gmax, where a clipped state-proportional error is only
    negative (mean -0.4 alpha Gmax per set bit): each weight's u = w + 128 shrinks, a shift of about
    -0.4 alpha (popcount-weighted) levels that no gain expresses. Unsliced offset cells sit mid-range and
    are rarely clipped. The measured mean shift must match the closed form and be clearly negative."""
    model, data = _model()
    biases = {}
    for slices in (1, 8):
        s = Scheme().with_overrides({
            "adc.bits": 0, "device.on_off": "inf", "mapping.kind": "offset", "mapping.offset": "digital",
            "weights.slices": slices, "device.programming.model": "state_proportional",
            "device.programming.alpha": 0.1})
        analog = convert(model, s, data, seed=0)
        rows = weight_gains(analog, predict=True)
        for r, layer in zip(rows, analog_layers(analog)):
            # one chip vs the mean chip: within 4 standard errors of the mean of the chip's weight errors
            err = (layer.effective_weights() - layer.w_int).double()
            tolerance = 4 * float(err.std()) / err.numel() ** 0.5
            assert abs(r["bias"] - r["predicted_bias"]) < tolerance, (slices, r, tolerance)
        biases[slices] = [r["predicted_bias"] for r in rows]
    assert all(b < -3.0 for b in biases[8]), biases  # about -0.4 * 0.1 * 128 = -5 levels
    assert all(abs(b) < 0.5 for b in biases[1]), biases


def test_aimc_diagnostics_prints_one_json_line_per_scheme(monkeypatch, capsys):
    """``aimc diagnostics`` on the tiny network of tiny_reference.py (standing in for a reference model)."""
    spec = importlib.util.spec_from_file_location("tiny_reference", Path(__file__).with_name("tiny_reference.py"))
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    monkeypatch.setattr(accuracy, "load_network", lambda model, **kw: tiny.tiny_network(model, kw["images"]))
    argv = ["diagnostics", "--model", "resnet50-cifar10", "--images", "8", "--set", "device.on_off=inf",
            "--set", "device.programming.model=state_independent", "--set", "device.programming.alpha=0.05",
            "--vary", "device.clip=range,none", "--json", "--no-progress"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["device.clip"] for r in rows] == ["range", "none"] and all(r["images"] == 8 for r in rows)
    # the clipping bias of differential cells at g_min: a gain below 1 with clipping, about 1 without
    assert rows[0]["weight_gain_mean"] < 0.97 and abs(rows[1]["weight_gain_mean"] - 1) < 0.05, rows
    assert abs(rows[0]["weight_gain_mean"] - rows[0]["predicted_weight_gain_mean"]) < 0.03

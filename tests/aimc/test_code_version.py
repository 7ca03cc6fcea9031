"""The engine version (aimc.results.ENGINE_VERSION) is tied to the engine's numbers: fixed small cases of the
MVM engine and of a converted network are recorded here for the current version, and a change of those
numbers without a new version (which would let result tables reuse rows of the old engine) fails."""

from __future__ import annotations

import math

import torch
from aimc.montecarlo.engine import simulate_mvm
from aimc.validation.accuracy import Network, convert_network
from torch import nn

from aimc.layers import Layer, quantize_layer
from aimc.presets import get_preset
from aimc.results import ENGINE_CHANGES, ENGINE_VERSION, is_current
from aimc.scheme import Scheme

RELATIVE_TOLERANCE = 1e-4
"""Far below any change of calibration, path or random stream (those move these numbers by 1e-3 or more), far
above the float reordering of another CPU (1e-7)."""

MVM_CASES = {
    "design-a": ("design-a", {}),
    "design-e ideal cells": ("design-e", {"device.programming.model": "none", "device.programming.alpha": 0.0}),
    "offset unit column, read noise": (None, {
        "mapping.kind": "offset", "mapping.offset": "unit_column", "array.rows": 48, "array.columns": 16,
        "device.programming.model": "state_proportional", "device.programming.alpha": 0.05,
        "device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.01}),
    "differential slices, drift and stuck cells": (None, {
        "weights.slices": 7, "inputs.accumulation": "digital", "adc.bits": 6, "device.on_off": 50.0,
        "device.programming.model": "state_independent", "device.programming.alpha": 0.02,
        "device.drift.time": 1e4, "device.drift.nu_mean": 0.05, "device.drift.nu_std": 0.02,
        "device.stuck.p_off": 0.01, "device.stuck.p_on": 0.005}),
}

NETWORK_CASES = {
    "design-a": ("design-a", {}),
    "offset 2-bit slices, 8-bit calibrated ADC": (None, {
        "mapping.kind": "offset", "weights.slices": 4, "array.rows": 36}),
    "design-a, read noise": ("design-a", {"device.read_noise.model": "state_independent",
                                          "device.read_noise.alpha": 0.02}),
}

_MVM_SINCE_2 = {  # per-device read noise drawn only for the devices a read drives: only the read-noise case moved
    "design-a": (0.04712339553706273, 9.535849195080693e-05),
    "design-e ideal cells": (0.0422073538017486, -0.019510533302417195),
    "offset unit column, read noise": (0.402220791375404, 0.046917959560308156),
    "differential slices, drift and stuck cells": (0.4492094279491668, 0.028965817098722462),
}
_NETWORK_SINCE_1 = {
    "design-a": (0.051391515880823135, -0.01096445880830288),
    "offset 2-bit slices, 8-bit calibrated ADC": (0.050326574593782425, -0.012347420677542686),
}
RECORDED = {
    1: {
        "mvm": {
            "design-a": (0.04712339553706273, 9.535849195080693e-05),
            "design-e ideal cells": (0.0422073538017486, -0.019510533302417195),
            "offset unit column, read noise": (0.39597449519360883, 0.05092114868274849),
            "differential slices, drift and stuck cells": (0.4492094279491668, 0.028965817098722462),
        },
        "network": _NETWORK_SINCE_1,
    },
    2: {"mvm": _MVM_SINCE_2, "network": _NETWORK_SINCE_1},
    3: {  # network read noise output-referred by default: only the network read-noise case moved
        "mvm": _MVM_SINCE_2,
        "network": {**_NETWORK_SINCE_1, "design-a, read noise": (0.05188160017132759, -0.012345640920102596)},
    },
}
"""For each engine version: (relative rms, bias) of each MVM case, (mean |logit|, mean logit) of each network."""


def _scheme(preset: str | None, overrides: dict) -> Scheme:
    return (get_preset(preset) if preset else Scheme()).with_overrides(overrides)


def _layer() -> Layer:
    gen = torch.Generator().manual_seed(7)
    weights = torch.distributions.Laplace(0.0, 0.02).sample((32, 144))
    inputs = torch.relu(torch.randn(16, 144, generator=gen, dtype=torch.float64))
    return Layer(weights.to(torch.float64), inputs, "fixed")


def mvm_numbers() -> dict[str, tuple[float, float]]:
    torch.manual_seed(3)  # the Laplace sample of _layer draws from the global generator
    layer = _layer()
    out = {}
    for name, (preset, overrides) in MVM_CASES.items():
        scheme = _scheme(preset, overrides)
        summary = simulate_mvm(quantize_layer(layer, scheme), scheme, chips=3, seed=11).summary()
        out[name] = (float(summary["relative_rms"]), float(summary["bias"]))
    return out


class _SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return self.fc(torch.relu(self.conv2(x)).flatten(1))


def _network() -> Network:
    torch.manual_seed(5)
    model = _SmallCNN().eval()
    model.bn1.running_mean.uniform_(-0.2, 0.2)
    model.bn1.running_var.uniform_(0.5, 2.0)
    gen = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (24, 3, 8, 8), dtype=torch.uint8, generator=gen)
    calibration = torch.randint(0, 256, (12, 3, 8, 8), dtype=torch.uint8, generator=gen)
    labels = torch.zeros(24, dtype=torch.int64)
    return Network("small", "", model, images, labels, calibration, (0.5,) * 3, (0.25,) * 3)


@torch.no_grad()
def network_numbers() -> dict[str, tuple[float, float]]:
    out = {}
    for name, (preset, overrides) in NETWORK_CASES.items():
        net = _network()
        analog = convert_network(net, _scheme(preset, overrides), seed=2)
        logits = analog(_inputs(net))
        out[name] = (float(logits.abs().mean()), float(logits.mean()))
    return out


def _inputs(net: Network) -> torch.Tensor:
    from aimc.validation.data import normalise

    return normalise(net.images, net.mean, net.std)


def _differences(recorded: dict, measured: dict) -> list[str]:
    return [f"{name}: recorded {recorded[name]}, now {measured[name]}" for name in recorded
            if not all(math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
                       for a, b in zip(recorded[name], measured[name]))]


def test_engine_numbers_are_those_of_the_engine_version():
    assert ENGINE_VERSION in RECORDED, f"no numbers recorded for ENGINE_VERSION {ENGINE_VERSION}: record them here"
    recorded = RECORDED[ENGINE_VERSION]
    assert all(abs(value) > 0 for case in recorded.values() for pair in case.values() for value in pair)
    changed = _differences(recorded["mvm"], mvm_numbers()) + _differences(recorded["network"], network_numbers())
    assert not changed, ("the engine's numbers changed, so rows of the old engine must not be reused: bump "
                         "aimc.results.ENGINE_VERSION and record the new numbers here\n" + "\n".join(changed))


def test_each_engine_change_moved_only_the_schemes_it_declares():
    """A version's change names the scheme field through which a scheme meets it; the recorded cases that leave
    that field at its default kept their numbers, so rows of such schemes stay current across the change."""
    for version, (field, _) in ENGINE_CHANGES.items():
        before, after = RECORDED[version - 1], RECORDED[version]
        for kind, cases in (("mvm", MVM_CASES), ("network", NETWORK_CASES)):
            for name, (preset, overrides) in cases.items():
                scheme = _scheme(preset, overrides)
                row = {"engine_version": str(version - 1), "scheme_version": "1", "scheme_json": scheme.to_json()}
                if is_current(row):
                    assert before[kind][name] == after[kind][name], (
                        f"version {version} ({field}) moved {name}, which it declares untouched")

"""The digital network the predictor measures: the 8-bit quantised model with differentiable inputs.

:func:`digital_network` folds BatchNorm into the convolutions, quantises every Conv2d and Linear weight as
``weights.bits`` say (per layer or per channel) and every layer input as ``inputs.bits`` say, with the
activation ranges of :func:`aimc.montecarlo.layers.calibrate_inputs` (the calibration the Monte Carlo uses):
the forward is the quantised digital network of :func:`aimc.validation.accuracy.quantized_scheme`, the
baseline every analog chip is compared with. Two things differ from the analog layers of ``convert``:

* the input quantiser passes gradients straight through its rounding (zero where the DAC saturates), so
  a backward pass gives the response of the logits to every layer's output;
* each layer can be *perturbed*: its integer weights replaced (weight noise, frozen per draw), and its
  integer output y = conv(x codes, w_int) (before the scales and the digital bias) changed by a
  function (output noise, gain), which is how the one-time measurements inject error.

Each layer records, while ``record`` is on, its input codes and its integer output for the measurement.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from aimc.montecarlo.layers import InputRanges, fold_batchnorm
from torch import nn
from torch.nn import functional as F

from aimc.inputs import input_max
from aimc.mapping import quantize_weights

__all__ = ["DigitalLayer", "Quantisation", "digital_layers", "digital_network"]


@dataclass(frozen=True)
class Quantisation:
    """What the digital baseline depends on: weight and input bits, per-channel weight scales."""

    weight_bits: int = 8
    input_bits: int = 8
    per_channel: bool = False

    @classmethod
    def of(cls, scheme) -> Quantisation:
        return cls(scheme.weights.bits, scheme.inputs.bits, scheme.weights.per_channel)


class DigitalLayer(nn.Module):
    """A quantised Conv2d or Linear: ``y = op(codes(x), w_int) * (x_scale * w_scale) + bias``."""

    def __init__(self, layer: nn.Conv2d | nn.Linear, name: str, q: Quantisation, signed: bool, full_scale: float):
        super().__init__()
        self.name = name
        self.conv = isinstance(layer, nn.Conv2d)
        w = layer.weight.detach().to(torch.float64)
        w_int, w_scale = quantize_weights(w.reshape(w.shape[0], -1), q.weight_bits, q.per_channel)
        self.register_buffer("w_int", w_int.reshape(w.shape).to(torch.float32))
        self.register_buffer("w_scale", w_scale.reshape(-1).to(torch.float32))
        bias = None if layer.bias is None else layer.bias.detach().to(torch.float32).clone()
        self.register_buffer("bias", bias)
        if self.conv:
            self.stride, self.padding, self.dilation, self.groups = (layer.stride, layer.padding,
                                                                      layer.dilation, layer.groups)
        self.signed, self.input_bits = signed, q.input_bits
        self.top = input_max(q.input_bits, signed)
        # as the analog layers' DAC computes it (aimc.inputs.saturate_inputs), so the codes are the same
        self.register_buffer("x_scale", torch.tensor(full_scale, dtype=torch.float32) / self.top)
        self.weights: torch.Tensor | None = None
        """Integer weights used instead of ``w_int`` (a frozen weight perturbation), or None."""
        self.perturb: Callable[[DigitalLayer, torch.Tensor], torch.Tensor] | None = None
        self.record = False
        self.codes: torch.Tensor | None = None
        self.output: torch.Tensor | None = None

    @property
    def fan_in(self) -> int:
        return self.w_int[0].numel()

    def quantise(self, x: torch.Tensor) -> torch.Tensor:
        """Input codes clamp(round(x / scale)) with the gradient of the clamp (straight through the rounding)."""
        u = torch.div(x, self.x_scale).clamp(-self.top if self.signed else 0, self.top)
        return u + (torch.round(u) - u).detach()

    def product(self, codes: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The integer output of input codes with integer weights (no scale, no bias)."""
        if self.conv:
            return F.conv2d(codes, weights, None, self.stride, self.padding, self.dilation, self.groups)
        return codes @ weights.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes = self.quantise(x)
        y = self.product(codes, self.w_int if self.weights is None else self.weights)
        if self.perturb is not None:
            y = self.perturb(self, y)
        if self.record:
            self.codes, self.output = codes, y
        shape = (1, -1, 1, 1) if self.conv else (1, -1)
        out = y * (self.x_scale * self.w_scale).reshape(shape)
        return out if self.bias is None else out + self.bias.reshape(shape)


def digital_network(model: nn.Module, input_ranges: InputRanges, q: Quantisation) -> nn.Module:
    """A BatchNorm-folded copy of ``model`` with every Conv2d and Linear a :class:`DigitalLayer`."""
    folded = fold_batchnorm(copy.deepcopy(model).eval())
    targets = [(name, m) for name, m in folded.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    others = [name for name, m in folded.named_modules() if isinstance(m, nn.MultiheadAttention)]
    if others:
        raise ValueError(f"--model: the predictor handles Conv2d and Linear layers only; {others[0]} is an "
                         "attention block (simulate it with aimc accuracy)")
    missing = [name for name, _ in targets if name not in input_ranges]
    if missing:
        raise ValueError(f"input ranges: no calibration for layer(s) {missing[:3]}")
    for name, layer in targets:
        signed, full_scale = input_ranges[name]
        _set_module(folded, name, DigitalLayer(layer, name, q, signed, full_scale))
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded


def digital_layers(model: nn.Module) -> list[DigitalLayer]:
    return [m for m in model.modules() if isinstance(m, DigitalLayer)]


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent = model
    *path, last = name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, last, module)

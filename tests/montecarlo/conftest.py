"""Small layers and schemes shared by the Monte Carlo tests (fixture `mc`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aimc.layers import QuantizedLayer
from aimc.scheme import Scheme


def quantized(
    outputs: int,
    fan_in: int,
    vectors: int,
    *,
    weight_bits: int = 8,
    input_bits: int = 8,
    signed: bool = False,
    seed: int = 0,
    full_inputs: bool = False,
) -> QuantizedLayer:
    """Random integer weights (with zeros and both extremes) and inputs; exact reference."""
    rng = np.random.default_rng(seed)
    m = (1 << (weight_bits - 1)) - 1
    w = rng.integers(-m, m + 1, size=(outputs, fan_in))
    w[rng.random(w.shape) < 0.1] = 0
    w[0, 0], w[-1, -1] = m, -m
    top = (1 << (input_bits - 1)) - 1 if signed else (1 << input_bits) - 1
    if full_inputs:
        x = np.full((vectors, fan_in), top)
    else:
        x = rng.integers(-top if signed else 0, top + 1, size=(vectors, fan_in))
        x[0, :] = top
    w_t, x_t = torch.tensor(w, dtype=torch.int64), torch.tensor(x, dtype=torch.int64)
    return QuantizedLayer(w_t, x_t, torch.tensor(1.0), torch.tensor(1.0), signed)


def scheme(**overrides) -> Scheme:
    """A scheme from dotted overrides given as keyword arguments with '__' for '.'."""
    return Scheme().with_overrides({k.replace("__", "."): v for k, v in overrides.items()})


@pytest.fixture
def mc():
    """The helpers above, as a fixture (tests run with --import-mode=importlib)."""
    return SimpleNamespace(quantized=quantized, scheme=scheme)

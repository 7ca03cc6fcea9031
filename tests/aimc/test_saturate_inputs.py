"""saturate_inputs (the analog layers' quantiser, and quantize_inputs after its checks) gives the codes of
clamping the inputs to the DAC's range before quantising them."""

from __future__ import annotations

import pytest
import torch

from aimc.inputs import input_max, quantize_inputs, saturate_inputs


def _reference(x: torch.Tensor, bits: int, signed: bool, fs: float) -> torch.Tensor:
    """The definition, in the other order: clamp to the DAC's range, divide, round (then clamp)."""
    top = input_max(bits, signed)
    scale = torch.tensor(fs, dtype=x.dtype) / top
    return torch.clamp(torch.round(x.clamp(-fs if signed else 0.0, fs) / scale), -top if signed else 0, top).long()


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("bits", [2, 4, 8, 12])
@pytest.mark.parametrize("fs", [1.0, 0.37, 6.1234567, 1e-3])
def test_same_codes_as_clamp_then_quantize(bits, signed, fs):
    gen = torch.Generator().manual_seed(bits * 7 + signed)
    top = input_max(bits, signed)
    scale = torch.tensor(fs, dtype=torch.float32) / top
    # random values well beyond the range, and every code boundary (k + 1/2) * scale and its neighbours,
    # where a different rounding order would show first
    x = torch.randn(20000, generator=gen) * 1.5 * fs
    edges = (torch.arange(-top - 2, top + 2, dtype=torch.float32) + 0.5) * scale
    near = torch.cat([edges, torch.nextafter(edges, edges + 1), torch.nextafter(edges, edges - 1)])
    x = torch.cat([x, near, torch.tensor([0.0, -0.0, fs, -fs, 2 * fs, -2 * fs, 1e30, -1e30])]).float()
    codes, s = saturate_inputs(x, bits, signed, fs)
    assert codes.dtype == torch.int64
    assert torch.equal(s, scale)
    assert torch.equal(codes, _reference(x, bits, signed, fs))
    inside = x.clamp(-fs if signed else 0.0, fs)  # the checked quantiser on in-range inputs: the same
    assert torch.equal(quantize_inputs(inside, bits, signed, fs)[0], codes)
    assert int(codes.max()) == top and int(codes.min()) == (-top if signed else 0)


def test_float_codes_and_shape_kept():
    x = torch.rand(3, 4, 5, 6) * 3 - 1
    codes, _ = saturate_inputs(x, 8, False, 1.5, torch.float32)
    assert codes.dtype == torch.float32 and codes.shape == x.shape
    assert torch.equal(codes.long(), _reference(x, 8, False, 1.5))
    assert torch.equal(codes, codes.round())


def test_input_is_not_modified():
    x = torch.randn(100)
    before = x.clone()
    saturate_inputs(x, 8, True, 0.5)
    assert torch.equal(x, before)


@pytest.mark.parametrize("fs", [0.0, -1.0, float("nan")])
def test_refuses_a_non_positive_full_scale(fs):
    with pytest.raises(ValueError, match="full-scale"):
        saturate_inputs(torch.ones(3), 8, False, fs)


def test_nan_is_not_hidden():
    """No check here (the layers and the accuracy loop check): a NaN must stay NaN, never become a code."""
    codes, _ = saturate_inputs(torch.tensor([0.5, float("nan")]), 8, False, 1.0, torch.float32)
    assert torch.isnan(codes[1]) and not torch.isnan(codes[0])

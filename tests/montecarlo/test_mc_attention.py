"""ProjectedAttention computes what nn.MultiheadAttention computes, with its projections as Linear layers."""

from __future__ import annotations

import warnings

import pytest
import torch
from aimc.montecarlo.attention import ProjectedAttention
from aimc.montecarlo.layers import project_attention
from torch import nn

LENGTH, SOURCE, BATCH = 4, 5, 3


def _masks() -> dict[str, dict]:
    generator = torch.Generator().manual_seed(1)
    boolean = torch.rand(LENGTH, SOURCE, generator=generator) > 0.7
    boolean[:, 0] = False  # every query keeps a key
    padding = torch.zeros(BATCH, SOURCE, dtype=torch.bool)
    padding[0, -1] = True
    per_head = torch.randn(BATCH * 2, LENGTH, SOURCE, generator=generator)
    return {
        "none": {},
        "bool-attn-mask": {"attn_mask": boolean},
        "key-padding": {"key_padding_mask": padding},
        "float-per-head-and-padding": {"attn_mask": per_head, "key_padding_mask": padding},
        "no-weights": {"need_weights": False},
        "weights-per-head": {"average_attn_weights": False},
        "causal": {"attn_mask": torch.ones(LENGTH, SOURCE, dtype=torch.bool).triu(1), "is_causal": True},
    }


MODULES = {"self-batch-first": ({"batch_first": True}, 8, 8), "seq-first": ({}, 8, 8),
           "kdim-vdim": ({"batch_first": True, "kdim": 6, "vdim": 5}, 6, 5), "no-bias": ({"bias": False}, 8, 8)}


@pytest.mark.parametrize("mask", sorted(_masks()))
@pytest.mark.parametrize("module", sorted(MODULES))
def test_same_outputs_and_weights_as_torch(module, mask):
    kwargs, kdim, vdim = MODULES[module]
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(8, 2, **kwargs).eval()
    projected = ProjectedAttention(reference).eval()
    first = kwargs.get("batch_first", False)
    shape = (lambda length, e: (BATCH, length, e)) if first else (lambda length, e: (length, BATCH, e))
    q, k, v = torch.randn(shape(LENGTH, 8)), torch.randn(shape(SOURCE, kdim)), torch.randn(shape(SOURCE, vdim))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on mixing bool and float masks
        want = reference(q, k, v, **_masks()[mask])
        got = projected(q, k, v, **_masks()[mask])
    torch.testing.assert_close(got[0], want[0])
    if want[1] is None:
        assert got[1] is None
    else:
        torch.testing.assert_close(got[1], want[1])


def test_unbatched_inputs():
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(LENGTH, 8)
    with torch.no_grad():
        want, got = reference(x, x, x), ProjectedAttention(reference)(x, x, x)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])


def test_projections_are_linear_layers_with_the_weights():
    reference = nn.MultiheadAttention(8, 2)
    projected = ProjectedAttention(reference)
    stacked = torch.cat([projected.q_proj.weight, projected.k_proj.weight, projected.v_proj.weight])
    assert torch.equal(stacked, reference.in_proj_weight.detach())
    assert torch.equal(projected.out_proj.weight, reference.out_proj.weight.detach())
    assert all(type(m) is nn.Linear for m in projected.children())
    assert projected.in_proj_bias is None  # so torch's encoder layer never takes its fused float kernel


def test_project_attention_replaces_every_attention_and_the_encoder_output_is_kept():
    torch.manual_seed(0)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2).eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        want = encoder(x)
        projected = project_attention(encoder)
        got = projected(x)
    assert not any(isinstance(m, nn.MultiheadAttention) for m in projected.modules())
    assert sum(isinstance(m, ProjectedAttention) for m in projected.modules()) == 2
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)

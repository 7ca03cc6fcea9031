"""Multi-head attention with its four projections as Linear layers, so that ``convert`` can map them.

torch's ``nn.MultiheadAttention`` does not run its projections through ``nn.Linear`` modules: its forward
hands ``in_proj_weight`` (or ``q/k/v_proj_weight``) and ``out_proj.weight`` to
``F.multi_head_attention_forward`` as tensors, and ``nn.TransformerEncoderLayer`` may bypass the module for a
fused kernel that reads the same float tensors. Replacing only its ``out_proj`` by an analog layer breaks
it, and its input projection would never reach an array.

:class:`ProjectedAttention` computes the same function (tested against ``nn.MultiheadAttention``) with
four ``nn.Linear`` modules, ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj``, which ``convert`` then puts
on analog arrays like any Linear layer: quantised weights, quantised inputs with a calibrated full scale
(signed where the calibration inputs are negative), partitions, slices, ADC. What stays digital, in float:
the activation-by-activation products of each head, the scores Q K^T / sqrt(head_dim), the masks, the
softmax, the dropout of the attention weights and their product with V. Both operands of those products
change with every input, so neither can be programmed into cells.

``in_proj_weight`` and ``in_proj_bias`` are None on the replacement: torch's encoder layer takes its fused
float kernel only when ``in_proj_bias`` is set, so the module's own forward (through the projections) is
what runs.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ATTENTION_PRODUCTS", "ProjectedAttention"]

ATTENTION_PRODUCTS = "attention products (Q K^T, softmax, times V)"
"""How :func:`aimc.montecarlo.layers.unconverted_layers` names the digital part of an attention."""


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                      device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


class ProjectedAttention(nn.Module):
    """``nn.MultiheadAttention`` with its projections as ``nn.Linear`` modules (same arguments, same outputs).

    Built from a trained ``nn.MultiheadAttention`` (weights copied). ``add_bias_kv`` and ``add_zero_attn``
    are refused (ValueError): no network in common use has them.
    """

    in_proj_weight = None
    in_proj_bias = None

    def __init__(self, attention: nn.MultiheadAttention):
        super().__init__()
        if attention.bias_k is not None or attention.add_zero_attn:
            raise ValueError("convert: nn.MultiheadAttention with add_bias_kv or add_zero_attn is not supported; "
                             "allowed: attention without them")
        self.embed_dim, self.num_heads, self.head_dim = attention.embed_dim, attention.num_heads, attention.head_dim
        self.batch_first = attention.batch_first
        self._qkv_same_embed_dim = attention._qkv_same_embed_dim
        self.dropout = attention.dropout
        if attention._qkv_same_embed_dim:
            weights = attention.in_proj_weight.detach().chunk(3)
        else:
            weights = (attention.q_proj_weight.detach(), attention.k_proj_weight.detach(),
                       attention.v_proj_weight.detach())
        bias = attention.in_proj_bias
        biases = (None,) * 3 if bias is None else bias.detach().chunk(3)
        self.q_proj, self.k_proj, self.v_proj = (_linear(w, b) for w, b in zip(weights, biases, strict=True))
        out = attention.out_proj
        self.out_proj = _linear(out.weight.detach(), None if out.bias is None else out.bias.detach())

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        """[N, L, E] -> [N, H, L, head_dim]."""
        return t.reshape(t.shape[0], t.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batched = query.dim() == 3
        q, k, v = (_batch_major(t, batched, self.batch_first) for t in (query, key, value))
        if key_padding_mask is not None and not batched:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        q, k, v = self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))
        # digital: the activation-by-activation products, the masks and the softmax, in float
        scores = (q * math.sqrt(1.0 / self.head_dim)) @ k.transpose(-2, -1)
        mask = _additive_mask(attn_mask, key_padding_mask, is_causal, (n, self.num_heads, length, source), scores)
        if mask is not None:
            scores = scores + mask
        weights = F.dropout(scores.softmax(-1), self.dropout, self.training)
        out = self.out_proj((weights @ v).transpose(1, 2).reshape(n, length, self.embed_dim))
        out = _restore_layout(out, batched, self.batch_first)
        if not need_weights:
            return out, None
        weights = weights.mean(1) if average_attn_weights else weights
        return out, weights if batched else weights.squeeze(0)


def _batch_major(t: torch.Tensor, batched: bool, batch_first: bool) -> torch.Tensor:
    """Any input layout -> [N, L, E]."""
    if not batched:
        return t.unsqueeze(0)
    return t if batch_first else t.transpose(0, 1)


def _restore_layout(t: torch.Tensor, batched: bool, batch_first: bool) -> torch.Tensor:
    """[N, L, E] -> the layout the inputs came in."""
    if not batched:
        return t.squeeze(0)
    return t if batch_first else t.transpose(0, 1)


def _as_additive(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A boolean mask (True: not attended) as -inf/0, a float mask as it is (added to the scores)."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=like.dtype, device=like.device).masked_fill_(mask, float("-inf"))
    return mask.to(like.dtype)


def _additive_mask(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    is_causal: bool,
    shape: tuple[int, int, int, int],
    like: torch.Tensor,
) -> torch.Tensor | None:
    """The masks as one term added to the scores [N, H, L, S] (None: nothing masked).

    ``attn_mask`` [L, S] or [N H, L, S]; ``key_padding_mask`` [N, S]; ``is_causal`` without ``attn_mask``:
    each query attends to the keys up to its own position.
    """
    n, heads, length, source = shape
    if attn_mask is None and is_causal:
        attn_mask = torch.ones(length, source, dtype=torch.bool, device=like.device).triu(1)
    mask = None
    if attn_mask is not None:
        mask = _as_additive(attn_mask, like)
        if mask.dim() == 3:
            mask = mask.reshape(n, heads, length, source)
    if key_padding_mask is not None:
        padding = _as_additive(key_padding_mask, like).reshape(n, 1, 1, source)
        mask = padding if mask is None else mask + padding
    return mask

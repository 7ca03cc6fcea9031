"""One's-complement weights, one bit per cell (Genov et al., in the paper's Table 1).

As :mod:`aimc.mappings.twos_complement`, but a negative weight is the bitwise complement of its magnitude:
code (2^B - 1) - |w|, so the top slice weighs -(2^(B-1) - 1) and w = -(2^(B-1) - 1) b_(B-1) +
sum_(k<B-1) 2^k b_k (zero is stored as +0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc._arrays import namespace

from .twos_complement import TwosComplement

if TYPE_CHECKING:
    import torch

__all__ = ["OnesComplement"]


class OnesComplement(TwosComplement):
    name = "ones_complement"
    description = "the B-bit one's-complement code in B one-bit slices, the top slice weighing -(2^(B-1) - 1)"
    title = "one's complement"

    def codes(self, w_int: torch.Tensor, weight_bits: int) -> dict[str, torch.Tensor]:
        return {"cells": namespace(w_int).where(w_int < 0, w_int + ((1 << weight_bits) - 1), w_int)}

    def top_weight(self, weight_bits: int) -> int:
        return (1 << (weight_bits - 1)) - 1

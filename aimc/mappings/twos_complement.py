"""Two's-complement weights, one bit per cell (the paper's Table 1: the Memristive Boltzmann Machine).

A B-bit weight is stored as its B-bit two's-complement code in B one-bit slices (``weights.slices`` =
``weights.bits``), each bit on one device at g_min (0) or Gmax (1). The digital shift-and-add weighs slice
k by 2^k and the top slice by -2^(B-1), so w = -2^(B-1) b_(B-1) + sum_(k<B-1) 2^k b_k with no offset to
remove; the g_min pedestal of every conversion is removed digitally (``mapping.offset`` digital) or by a
reference column of zero bits (``unit_column``), read through the array like the offset mapping's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc._arrays import namespace
from aimc._fields import ConfigError

from ._base import Conversion, SignedMapping
from .offset import check_single_cell_options, single_cell_conversions

if TYPE_CHECKING:
    import torch

__all__ = ["TwosComplement"]


class TwosComplement(SignedMapping):
    name = "twos_complement"
    description = "the B-bit two's-complement code in B one-bit slices, the top slice weighing -2^(B-1)"
    title = "two's complement"

    def largest_code(self, weight_bits: int) -> int:
        return (1 << weight_bits) - 1

    def arrays(self, mapping) -> tuple[str, ...]:
        return ("cells",)

    def shared_arrays(self, mapping) -> tuple[str, ...]:
        return ("unit",) if mapping.offset == "unit_column" else ()

    def conversions(self, mapping) -> tuple[Conversion, ...]:
        return single_cell_conversions(mapping)

    def codes(self, w_int: torch.Tensor, weight_bits: int) -> dict[str, torch.Tensor]:
        return {"cells": namespace(w_int).where(w_int < 0, w_int + (1 << weight_bits), w_int)}

    def shared_codes(self, mapping, weight_bits: int) -> dict[str, int]:
        return {"unit": 0} if mapping.offset == "unit_column" else {}

    def significance(self, weight_bits: int, slices: int, bits_per_slice: int) -> tuple[int, ...]:
        return tuple(1 << k for k in range(weight_bits - 1)) + (-self.top_weight(weight_bits),)

    def top_weight(self, weight_bits: int) -> int:
        """The magnitude of the top (sign) bit's digital weight: 2^(B-1)."""
        return 1 << (weight_bits - 1)

    def check(self, mapping, weights) -> None:
        check_single_cell_options(mapping)
        if weights.slices != weights.bits:
            raise ConfigError("weights.slices", f"{self.name} stores one bit per cell: must equal weights.bits "
                              f"({weights.bits}), got {weights.slices}")

    def label(self, mapping) -> str:
        return self.title + (", unit column" if mapping.offset == "unit_column" else "")

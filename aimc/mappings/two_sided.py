"""Differential two-sided pairs: g+- = g_min + (1 - g_min)(1 +- w/M)/2.

Both devices carry the weight, in opposite directions: d+ = M + w, d- = M - w on L = 2M levels, so
d+ - d- = 2w and the recombination weighs the digit sum by 1/2. Unsliced only.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from aimc._fields import ConfigError

from ._base import Conversion, SignedMapping
from .differential import check_pair_options, pair_conversions, pair_suffix

if TYPE_CHECKING:
    import torch

__all__ = ["TwoSided"]


class TwoSided(SignedMapping):
    name = "differential_two_sided"
    description = "two-sided pair: g+- = g_min + (1 - g_min)(1 +- w/M)/2"
    digit_weight = Fraction(1, 2)

    def largest_code(self, weight_bits: int) -> int:
        return 2 * ((1 << (weight_bits - 1)) - 1)

    def arrays(self, mapping) -> tuple[str, ...]:
        return ("positive", "negative")

    def conversions(self, mapping) -> tuple[Conversion, ...]:
        return pair_conversions(mapping)

    def codes(self, w_int: torch.Tensor, weight_bits: int) -> dict[str, torch.Tensor]:
        m = (1 << (weight_bits - 1)) - 1
        return {"positive": m + w_int, "negative": m - w_int}

    def check(self, mapping, weights) -> None:
        check_pair_options(mapping)
        if weights.slices != 1:
            raise ConfigError("weights.slices", "differential_two_sided supports unsliced weights only (1)")

    def label(self, mapping) -> str:
        return "two-sided" + pair_suffix(mapping)

"""Differential one-sided pairs: a weight's magnitude on g+ (positive weights) or on g- (negative ones).

The magnitude |w| (B_w - 1 bits) goes on the device of the weight's sign and the other device stays at
g_min; zero is (g_min, g_min). Sliced, the magnitude is split in base 2^b and the sign picks the device in
every slice, so w = sum_k 2^(b k) (d+_k - d-_k). ``mapping.subtraction``: ``analog`` subtracts the two
currents before one ADC (the paper's default), ``digital`` converts each with its own ADC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc._arrays import namespace
from aimc._fields import ConfigError

from ._base import Conversion, SignedMapping

if TYPE_CHECKING:
    import torch

__all__ = ["Differential"]


class Differential(SignedMapping):
    name = "differential"
    description = (
        "one-sided pair: a weight's magnitude on g+ (positive) or g- (negative), the other cell at g_min"
    )

    def largest_code(self, weight_bits: int) -> int:
        return (1 << (weight_bits - 1)) - 1

    def arrays(self, mapping) -> tuple[str, ...]:
        return ("positive", "negative")

    def conversions(self, mapping) -> tuple[Conversion, ...]:
        return pair_conversions(mapping)

    def codes(self, w_int: torch.Tensor, weight_bits: int) -> dict[str, torch.Tensor]:
        xp = namespace(w_int)
        zero = xp.zeros_like(w_int)
        return {"positive": xp.where(w_int > 0, w_int, zero), "negative": xp.where(w_int < 0, -w_int, zero)}

    def check(self, mapping, weights) -> None:
        check_pair_options(mapping)

    def label(self, mapping) -> str:
        return self.name + pair_suffix(mapping)


def pair_conversions(mapping) -> tuple[Conversion, ...]:
    """A pair read as g+ - g- by one ADC (analog subtraction), or converted one by one (digital)."""
    if mapping.subtraction == "analog":
        return (Conversion((("positive", 1.0), ("negative", -1.0))),)
    return (Conversion((("positive", 1.0),)), Conversion((("negative", 1.0),), -1.0))


def check_pair_options(mapping) -> None:
    if mapping.offset != "digital":
        raise ConfigError("mapping.offset", "unit_column applies to single-cell mappings (offset, twos_complement, "
                          "ones_complement) only; leave it digital")


def pair_suffix(mapping) -> str:
    return ", digital subtraction" if mapping.subtraction == "digital" else ""

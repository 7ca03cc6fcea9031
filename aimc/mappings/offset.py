"""Offset subtraction: one device per weight at u = w + M in [0, 2M], the offset removed after the ADC.

u (B_w bits) is split into slices, w = sum_k 2^(b k) d_k - M. ``mapping.offset``: ``digital`` removes the
offset exactly on the digital side (g_min sum_i x_i per conversion and M sum_i x_i after recombination);
``unit_column`` reads an analog column programmed at u = M in every array (one per group of
``array.columns`` outputs), with its own device errors, and subtracts its conversion after the ADC: its
error is common to every output of the array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc._fields import ConfigError

from ._base import Conversion, SignedMapping

if TYPE_CHECKING:
    import torch

__all__ = ["Offset", "single_cell_conversions"]


class Offset(SignedMapping):
    name = "offset"
    description = "one cell at u = w + M, the offset removed after the ADC (digitally or by a unit column)"

    def largest_code(self, weight_bits: int) -> int:
        return 2 * ((1 << (weight_bits - 1)) - 1)

    def arrays(self, mapping) -> tuple[str, ...]:
        return ("cells",)

    def shared_arrays(self, mapping) -> tuple[str, ...]:
        return ("unit",) if mapping.offset == "unit_column" else ()

    def conversions(self, mapping) -> tuple[Conversion, ...]:
        return single_cell_conversions(mapping)

    def codes(self, w_int: torch.Tensor, weight_bits: int) -> dict[str, torch.Tensor]:
        return {"cells": w_int + ((1 << (weight_bits - 1)) - 1)}

    def shared_codes(self, mapping, weight_bits: int) -> dict[str, int]:
        return {"unit": (1 << (weight_bits - 1)) - 1} if mapping.offset == "unit_column" else {}

    def offset(self, mapping, weight_bits: int) -> int:
        return (1 << (weight_bits - 1)) - 1 if mapping.offset == "digital" else 0

    def check(self, mapping, weights) -> None:
        check_single_cell_options(mapping)

    def label(self, mapping) -> str:
        return "offset, unit column" if mapping.offset == "unit_column" else "offset, digital"


def single_cell_conversions(mapping) -> tuple[Conversion, ...]:
    """One array converted alone; with a unit column, the column's conversion subtracted digitally."""
    cells = Conversion((("cells", 1.0),))
    if mapping.offset == "unit_column":
        return (cells, Conversion((("unit", 1.0),), -1.0))
    return (cells,)


def check_single_cell_options(mapping) -> None:
    if mapping.subtraction != "analog":
        raise ConfigError("mapping.subtraction", "applies to differential mappings only; leave it analog")

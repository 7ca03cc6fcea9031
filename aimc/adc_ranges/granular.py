"""``granular``: one level per possible ideal output (the full-precision guarantee)."""

from __future__ import annotations

from aimc import adc
from aimc.adc import ADCRange

from ._base import RangeContext, RangePolicy

__all__ = ["GranularRange"]


class GranularRange(RangePolicy):
    name = "granular"
    description = "one level per possible ideal output (full-precision guarantee)"

    def structural(self, context: RangeContext, k: int) -> ADCRange:
        return adc.granular_range(context.granular_step(k), context.bits, context.signed)

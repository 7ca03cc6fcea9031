"""``max``: the largest output the array can produce (no clipping, the coarsest levels)."""

from __future__ import annotations

from aimc.adc import ADCRange
from aimc.inputs import conversion_input_max

from ._base import RangeContext, RangePolicy

__all__ = ["MaxRange"]


class MaxRange(RangePolicy):
    name = "max"
    description = "the largest possible output"

    def structural(self, context: RangeContext, k: int) -> ADCRange:
        rows = min(context.fan_in, context.scheme.array.rows)
        peak = rows * conversion_input_max(context.scheme.inputs, context.signed_inputs) * context.layout.peak[k]
        return ADCRange(-peak, peak) if context.signed else ADCRange(0.0, peak)

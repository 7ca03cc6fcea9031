"""``aligned``: the calibrated range widened to the granular range times a power of two.

Its levels line up with the signal's levels (the paper's rule for bit slices, CrossSim's clip power); see
:func:`aimc.adc.aligned_range`. Each slice's range is a power of two of its own granular range already, so
``adc.power_of_two_slices`` does not apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc import adc
from aimc.adc import ADCRange

from ._base import RangeContext, RangePolicy

if TYPE_CHECKING:
    import torch

__all__ = ["AlignedRange"]


class AlignedRange(RangePolicy):
    name = "aligned"
    description = (
        "the granular range times the smallest power of two (2^j, j of either sign) that covers the calibrated "
        "range, so levels line up with the signal's levels (the paper's rule for bit slices, CrossSim's clip power)"
    )
    profiled = True

    def from_signals(self, context: RangeContext, k: int, signals: torch.Tensor) -> ADCRange:
        calibrated = adc.calibrated_range(signals, context.scheme.adc.percentile, context.signed)
        return adc.aligned_range(calibrated, context.granular_step(k), context.bits)

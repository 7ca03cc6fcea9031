"""``calibrated``: the inner ``adc.percentile`` % of the profiled ADC inputs (the paper: 99.98 %)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc import adc
from aimc.adc import ADCRange

from ._base import RangeContext, RangePolicy

if TYPE_CHECKING:
    import torch

__all__ = ["CalibratedRange"]


class CalibratedRange(RangePolicy):
    name = "calibrated"
    description = "inner `percentile` % of profiled outputs"
    profiled = True
    power_of_two = True

    def from_signals(self, context: RangeContext, k: int, signals: torch.Tensor) -> ADCRange:
        return adc.calibrated_range(signals, context.scheme.adc.percentile, context.signed)

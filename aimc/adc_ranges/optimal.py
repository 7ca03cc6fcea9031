"""``optimal``: the range with the least clipping + quantisation error on the profiled ADC inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimc import adc
from aimc.adc import ADCRange

from ._base import RangeContext, RangePolicy

if TYPE_CHECKING:
    import torch

__all__ = ["OptimalRange"]


class OptimalRange(RangePolicy):
    name = "optimal"
    description = "minimum clipping + quantisation error on profiled outputs"
    profiled = True
    power_of_two = True

    def from_signals(self, context: RangeContext, k: int, signals: torch.Tensor) -> ADCRange:
        return adc.optimal_range(signals, context.bits, context.signed)

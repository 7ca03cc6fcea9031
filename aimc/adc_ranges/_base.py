"""The protocol every ADC range policy implements (see :mod:`aimc.adc_ranges`)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from aimc.adc import ADCRange

if TYPE_CHECKING:
    import torch

    from aimc.mapping import SliceLayout
    from aimc.scheme import Scheme

__all__ = ["RangeContext", "RangePolicy"]


@dataclass(frozen=True)
class RangeContext:
    """What a policy may use to set the range of one weight slice's ADCs in one layer."""

    scheme: Scheme
    layout: SliceLayout
    fan_in: int
    signed_inputs: bool

    @property
    def bits(self) -> int:
        return self.scheme.adc.bits

    @property
    def signed(self) -> bool:
        """Whether the ADC inputs can be negative: a conversion subtracts in analog, or the inputs are signed."""
        return self.layout.signed_signal or self.signed_inputs

    def granular_step(self, k: int) -> float:
        """The spacing of the possible ideal ADC inputs of slice k (one level step of the slice's conversions
        x one input step), in units of Gmax x input code."""
        return (1.0 - self.layout.g_min) / self.layout.levels[k] * self.layout.step[k]


class RangePolicy(abc.ABC):
    """How the ADC range of each weight slice is set: from the structure, or from profiled signals."""

    name: ClassVar[str]
    """The value of ``adc.range`` that selects this policy."""
    description: ClassVar[str]
    profiled: ClassVar[bool] = False
    """Whether the range comes from ADC inputs profiled on calibration data (ideal arrays: no device error,
    no ADC, no wire resistance), observe -> calibrate -> convert; otherwise from the structure alone."""
    power_of_two: ClassVar[bool] = False
    """Whether ``adc.power_of_two_slices`` constrains this policy's slice ranges to differ by powers of two."""

    def structural(self, context: RangeContext, k: int) -> ADCRange:
        """The range of slice k from the structure (structural policies)."""
        raise ValueError(f"adc.range: {self.name} needs profiled signals (calibration), not a structural range")

    def from_signals(self, context: RangeContext, k: int, signals: torch.Tensor) -> ADCRange:
        """The range of slice k from its profiled ADC inputs (profiled policies)."""
        raise ValueError(f"adc.range: {self.name} is structural, not calibrated from profiled signals")

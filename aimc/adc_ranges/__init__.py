"""ADC range policies, one module each, and their registry :data:`RANGE_POLICIES`.

``adc.range`` names one of them. A policy says whether it is profiled (set from the ideal arrays' ADC
inputs on calibration data) or structural, and how it turns the structure or the profile into the range of
each weight slice (:class:`RangePolicy`). :func:`slice_ranges` is the one entry every user calls: the
theory, the Monte Carlo engine and ``convert``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aimc._fields import UnknownName
from aimc.adc import ADCRange, power_of_two_ranges

from ._base import RangeContext, RangePolicy
from .aligned import AlignedRange
from .calibrated import CalibratedRange
from .granular import GranularRange
from .max import MaxRange
from .optimal import OptimalRange

if TYPE_CHECKING:
    import torch

__all__ = ["RANGE_POLICIES", "RangeContext", "RangePolicy", "range_policy", "slice_ranges"]

RANGE_POLICIES: dict[str, RangePolicy] = {
    p.name: p for p in (MaxRange(), GranularRange(), CalibratedRange(), AlignedRange(), OptimalRange())
}


def range_policy(name: str) -> RangePolicy:
    """The registered policy ``name`` (``adc.range``); KeyError listing the known names."""
    try:
        return RANGE_POLICIES[name]
    except KeyError:
        raise UnknownName(f"adc.range: unknown policy {name!r}; allowed: {', '.join(RANGE_POLICIES)}") from None


def slice_ranges(
    scheme, fan_in: int, signed_inputs: bool, signals: Callable[[int], torch.Tensor] | None = None
) -> list[ADCRange] | None:
    """One ADC range per weight slice of a layer of fan-in ``fan_in`` (``None`` without an ADC).

    ``signals(k)``: the profiled ADC inputs of slice k, needed by the profiled policies.
    """
    if scheme.adc.bits == 0:
        return None
    from aimc.mapping import SliceLayout  # the mapping module imports the scheme, which imports this registry

    policy = range_policy(scheme.adc.range)
    context = RangeContext(scheme, SliceLayout.from_scheme(scheme), fan_in, signed_inputs)
    slices = range(context.layout.slices)
    if not policy.profiled:
        return [policy.structural(context, k) for k in slices]
    if signals is None:
        raise ValueError(f"adc.range: {policy.name} needs profiled signals (calibration inputs)")
    out = [policy.from_signals(context, k, signals(k)) for k in slices]
    if policy.power_of_two and scheme.adc.power_of_two_slices and len(out) > 1:
        out = power_of_two_ranges(out)
    return out

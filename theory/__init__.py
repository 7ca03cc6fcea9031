"""aimc.theory: closed-form error budgets derived with sympy from the shared definitions in :mod:`aimc`."""

from .budget import (
    SOURCES,
    Budget,
    InputStatistics,
    error_budget,
    expected_weight_error,
    weight_error_variance,
    weight_gain,
)
from .symbolic import conversion_scales, device_moments, formulas, formulas_latex

__all__ = [
    "SOURCES",
    "Budget",
    "InputStatistics",
    "conversion_scales",
    "device_moments",
    "error_budget",
    "expected_weight_error",
    "formulas",
    "formulas_latex",
    "weight_error_variance",
    "weight_gain",
]

"""aimc: closed-form error budgets for analog in-memory-computing hardware, checked by Monte Carlo.

The vocabulary lives here: :class:`Scheme` and its parts (mapping, weight slicing, input encoding, arrays,
ADC, device errors, parasitics), the exact physical definitions shared by theory and Monte Carlo
(:mod:`aimc.mapping`, :mod:`aimc.inputs`, :mod:`aimc.adc`, :mod:`aimc.devices`, :mod:`aimc.pipeline`) and
the named presets (:mod:`aimc.presets`).
"""

from ._fields import ConfigError
from .scheme import (
    ADC,
    Array,
    Device,
    Drift,
    ErrorModel,
    Inputs,
    Mapping,
    Parasitics,
    Scheme,
    StuckCells,
    Weights,
)

__version__ = "0.1.0"

__all__ = [
    "ADC",
    "Array",
    "ConfigError",
    "Device",
    "Drift",
    "ErrorModel",
    "Inputs",
    "Mapping",
    "Parasitics",
    "Scheme",
    "StuckCells",
    "Weights",
    "__version__",
]

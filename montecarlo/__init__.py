"""aimc.montecarlo: device-level Monte Carlo simulation of analog MVMs and of whole torch models.

An independent implementation of the physical definitions in :mod:`aimc` (it never imports the theory package):
it draws device errors per chip (:mod:`.devices`), simulates the signal path of every array, partition,
slice and ADC (:mod:`.engine`, through the reference :func:`aimc.pipeline.analog_mvm` or, for linear
currents, the batched and convolution forms of :mod:`.fast`, tested against it), solves wire resistance
exactly (:mod:`.parasitics`) and converts torch models to analog ones (:mod:`.layers`; attention through
:mod:`.attention`), listing what stays digital (:func:`unconverted_layers`).
"""

from .devices import perturb_conductances, program_chips, read_noise_sigma
from .engine import (
    CurrentModel,
    MVMResult,
    SignalProfile,
    calibrate_ranges,
    no_tf32,
    profile_signals,
    ranges_from_profile,
    simulate_mvm,
)
from .layers import (
    AnalogConv2d,
    AnalogLinear,
    analog_layers,
    convert,
    fold_batchnorm,
    reprogram,
    unconverted_layers,
)

__all__ = [
    "AnalogConv2d",
    "AnalogLinear",
    "CurrentModel",
    "MVMResult",
    "SignalProfile",
    "analog_layers",
    "calibrate_ranges",
    "convert",
    "fold_batchnorm",
    "no_tf32",
    "perturb_conductances",
    "profile_signals",
    "program_chips",
    "ranges_from_profile",
    "read_noise_sigma",
    "reprogram",
    "simulate_mvm",
    "unconverted_layers",
]

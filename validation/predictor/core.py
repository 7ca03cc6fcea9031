"""One scheme's prediction from a profile: the layers' errors (closed forms, ADCs), then the accuracy."""

from __future__ import annotations

from aimc.scheme import Scheme

from .accuracy_model import Compounding, Prediction, predict_from_errors
from .adc_effect import layer_adc
from .errors import LayerError, LayerHistograms, check_predictable, layer_histograms, scheme_errors
from .parasitic_effect import layer_parasitics
from .profile import Profile

__all__ = ["layer_errors", "predict"]

def histograms(profile: Profile) -> list[LayerHistograms]:
    return [layer_histograms(layer) for layer in profile.layers]


def layer_errors(profile: Profile, scheme: Scheme) -> list[LayerError]:
    """Every layer's error under ``scheme`` (:mod:`.errors`, with the ADCs of :mod:`.adc_effect`)."""
    check_predictable(scheme, profile)
    adcs = [layer_adc(scheme, layer, seed=li) for li, layer in enumerate(profile.layers)]
    errors = scheme_errors(profile, scheme, histograms(profile), [a.survival for a in adcs])
    for e, a, layer in zip(errors, adcs, profile.layers, strict=True):
        if a.quantization:
            e.add("adc_quantization", "output", a.quantization)
        if a.clipping:
            e.add("adc_clipping", "output", a.clipping)
        gain, residual = layer_parasitics(scheme, layer)
        if gain or residual:
            e.add("parasitics", "gain", gain)
            e.add("parasitics", "output", residual)
    return errors


def predict(profile: Profile, scheme: Scheme, compounding: Compounding | None = None) -> Prediction:
    """The predicted top-1 of ``scheme`` on the profile's images (``compounding``: the calibration of the
    profile the images come from; :func:`.compounding.load_or_calibrate`)."""
    return predict_from_errors(profile, layer_errors(profile, scheme), compounding)

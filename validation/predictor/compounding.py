"""The compounding of errors through the depth, calibrated once per profile on its injections.

The profile's injections put error into every layer at once and record the network's own answer: the
tracked logits under a uniform gain on every layer, and the top-1 accuracy under frozen weight noise and
under output noise at several levels. From them, once per profile (:func:`calibrate`, cached beside it):

* the tracked logits at each uniform gain, which replace the linear response to a scheme's gains by the
  measured one along the uniform direction (a gain of 0.9 on every layer of the reference ResNet-50 costs
  44 points where the linear response says 12: the gains multiply through the depth while the digital
  biases and the activation ranges do not follow);
* for each noise injection whose loss is resolved (beyond ``RESOLVED`` standard errors) and whose accuracy
  has not fallen to chance (where any large enough factor reproduces it), the factor kappa
  on the linear covariance that reproduces its measured accuracy, against the injection's mean linear
  margin variance: below 1 for small noise (the 8-bit activation rounding absorbs part of it), above 1
  for large noise (errors feed on each other); 1 where no injection is resolved.

Nothing here is fitted to a device-level simulation: the calibration uses the network's response to
Gaussian error only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aimc.results import atomic_file

from .accuracy_model import Compounding, correct_probability, logit_moments, margin_variance, noise_pairs
from .errors import LayerError
from .profile import GAINS, Profile, cache_dir

__all__ = ["COMPOUNDING_VERSION", "calibrate", "load_or_calibrate"]

COMPOUNDING_VERSION = 2
FIT_IMAGES = 10000
"""Images of the profile the factors are fitted on (a fixed, evenly strided pick)."""
RESOLVED = 3.0
"""An injection informs the factor only where its measured loss exceeds this many standard errors."""


def _injected_errors(profile: Profile, kind: str, level: float) -> list[LayerError]:
    """The per-layer errors of an injection of ``kind`` (weight, output) at ``level``, as LayerErrors."""
    out = []
    for layer in profile.layers:
        if kind == "weight":
            out.append(LayerError(layer.name, frozen=(level * layer.weight_rms) ** 2))
        else:
            power = float(np.average(layer.output_power, weights=layer.channel_sensitivity)) \
                if layer.channel_sensitivity.sum() > 0 else float(layer.output_power.mean())
            out.append(LayerError(layer.name, output=level**2 * power))
    return out


def _measured(profile: Profile, kind: str, level: float) -> tuple[float, float]:
    """(the mean top-1 over the injection's draws, the standard error of its loss against the digital
    network: from each image's change of outcome)."""
    draws = [v for k, v in profile.injected.items() if k.startswith(f"{kind}/{level:g}/") and k.endswith("/correct")]
    clean = (profile.logits.argmax(1) == profile.labels).astype(np.float64)
    change = np.concatenate([clean - d for d in draws])
    return float(np.mean([d.mean() for d in draws])), float(change.std() / np.sqrt(len(change)))


def _levels(profile: Profile, kind: str) -> list[float]:
    """The injected levels of ``kind`` the profile holds, increasing."""
    return sorted({float(k.split("/")[1]) for k in profile.injected if k.startswith(f"{kind}/") and k.endswith("/correct")})


def _solve(profile: Profile, errors: list[LayerError], target: float) -> float:
    """The factor on the covariance whose predicted accuracy equals ``target`` (bisection in log kappa)."""
    logits, extra, cov = logit_moments(profile, errors)
    low, high = -4.0, 4.0
    for _ in range(14):
        mid = (low + high) / 2
        predicted = float(correct_probability(profile.tracked, logits, extra, np.exp(mid) * cov).mean())
        low, high = (mid, high) if predicted > target else (low, mid)
    return float(np.exp((low + high) / 2))


def calibrate(profile: Profile) -> Compounding:
    """The :class:`Compounding` of a profile (module doc)."""
    step = max(1, profile.images // FIT_IMAGES)
    fit = profile.subset(np.arange(0, profile.images, step))
    levels, kappa = {}, {}
    for kind in ("weight", "output"):
        xs, ys = [], []
        for level in _levels(fit, kind):
            accuracy, error = _measured(fit, kind, level)
            if fit.digital_accuracy - accuracy <= RESOLVED * error:
                continue  # the injection's loss is not resolved: it says nothing about the factor
            if accuracy - 1.0 / fit.logits.shape[1] <= RESOLVED * error:
                continue  # collapsed to chance: every factor beyond some value reproduces it, none is measured
            errors = _injected_errors(fit, kind, level)
            weight, output, common = noise_pairs(fit, errors)
            xs.append(float(np.mean(margin_variance(weight + output, fit.tracked.shape[1]) + common)))
            ys.append(_solve(fit, errors, accuracy))
        levels[kind], kappa[kind] = (np.array(xs), np.array(ys)) if xs else (np.ones(1), np.ones(1))
    return Compounding(*_gain_grid(profile), levels, kappa)


def _gain_grid(profile: Profile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted gains with 1, every logit [G, I, classes] at each, each layer's mean |margin gain response|)."""
    gains = sorted([*GAINS, 1.0])
    logits = np.stack([profile.logits.astype(np.float16) if g == 1.0 else profile.injected[f"gain/{g:g}/0/logits"]
                       for g in gains])
    margin = profile.gain[:, :, 0] - profile.gain[:, :, 1]
    return np.array(gains), logits, np.abs(margin).mean(0)


def load_or_calibrate(profile: Profile) -> Compounding:
    """The profile's calibration, from the cache beside its profile (computed and stored first)."""
    path = cache_dir() / "predictor" / f"{profile.key}.compounding-v{COMPOUNDING_VERSION}.npz"
    gains, logits, weight = _gain_grid(profile)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as d:
                return Compounding(gains, logits, weight, {k: d[f"levels.{k}"] for k in ("weight", "output")},
                                   {k: d[f"kappa.{k}"] for k in ("weight", "output")})
        except (OSError, ValueError, KeyError):
            pass  # measured again and replaced atomically
    c = calibrate(profile)
    _save(c, path)
    return c


def _save(c: Compounding, path: Path) -> None:
    arrays = {f"levels.{k}": v for k, v in c.levels.items()} | {f"kappa.{k}": v for k, v in c.kappa.items()}
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **arrays)

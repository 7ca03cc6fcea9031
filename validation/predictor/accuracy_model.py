"""From every layer's error to each image's probability of a correct top-1, and the chip-to-chip spread.

Per image i, the tracked logits z_a (the label, then its strongest rivals) move by

    mean    mu_a = sum_l gain_l A_la + common_shift_l Acm_la
    cov     S_ab = kappa (sum_l (frozen_l + residual_l) W_lab + output_l T_lab) + common-mode terms

(the responses of :mod:`.profile`, the errors of :mod:`.errors`); ``kappa`` is the compounding through the
depth that a sum of per-layer responses misses, calibrated on the profile's injections
(:func:`compounding`). The other classes keep their logits, shifted like the rivals on average, with the
rivals' mean variance, independently. The probability that the label's logit is the largest is estimated
with ``DRAWS`` common random draws per image (the same draws for every scheme, so that two schemes'
predictions differ by their errors only): it goes to 1/classes as the noise grows, and to the digital
network's own top-1 as it vanishes. The top-1 accuracy is the mean over images.

The chip-to-chip spread: the frozen (chip-random) part of the error is shared by all images of one chip.
Its effect on the chip's accuracy, to first order, is sum_i dP_i/dm_i dm_i with dm_i the margin's shift on
that chip, whose covariance between images the profile's random projections of every image's weight
gradient carry; the images' own outcomes add a binomial term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from .errors import LayerError
from .profile import Profile, pair_index

__all__ = ["DRAWS", "Prediction", "correct_probability", "logit_moments", "predict_from_errors"]

DRAWS = 32
"""Random draws per image of its tracked logits."""
UNTRACKED = 32
"""Untracked classes per image treated one by one (by decreasing logit); the rest as one lump."""


@dataclass
class Prediction:
    accuracy: float
    spread: float
    digital: float
    per_image: np.ndarray
    by_layer: dict[str, float] = field(default_factory=dict)
    by_source: dict[str, float] = field(default_factory=dict)


def _matrices(pairs: np.ndarray, tracked: int) -> np.ndarray:
    """[I, pairs] in pair_index order -> symmetric [I, A, A]."""
    out = np.zeros((pairs.shape[0], tracked, tracked))
    for p, (a, b) in enumerate(pair_index(tracked)):
        out[:, a, b] = out[:, b, a] = pairs[:, p]
    return out


def logit_moments(profile: Profile, errors: list[LayerError], kappa: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(mean shift [I, A], covariance [I, A, A]) of the tracked logits (module doc)."""
    gain = np.array([e.gain for e in errors])
    shift = np.array([e.common_shift for e in errors])
    weight = np.array([e.frozen + e.residual for e in errors])
    output = np.array([e.output for e in errors])
    common = np.array([e.common for e in errors])
    mean = np.einsum("ila,l->ia", profile.gain, gain) + np.einsum("ila,l->ia", profile.common_gain, shift)
    pairs = np.einsum("ilp,l->ip", profile.weight_noise, weight) + np.einsum("ilp,l->ip", profile.output_noise, output)
    cov = kappa * _matrices(pairs, profile.tracked.shape[1])
    alpha = kappa * (profile.common_mode @ common)  # the margin's common-mode variance, split over its two ends
    cov[:, 0, 0] += alpha / 2
    cov[:, 1, 1] += alpha / 2
    return mean, cov


def _draws(tracked: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((DRAWS, tracked))


def _untracked(profile: Profile) -> tuple[np.ndarray, np.ndarray, int]:
    """(the UNTRACKED strongest other logits [I, U], the mean of the rest [I], how many the rest are)."""
    logits = profile.logits.astype(np.float64).copy()
    np.put_along_axis(logits, profile.tracked, -np.inf, axis=1)
    others = np.sort(logits, axis=1)[:, ::-1][:, : logits.shape[1] - profile.tracked.shape[1]]
    top = others[:, :UNTRACKED]
    rest = others[:, UNTRACKED:]
    return top, (rest.mean(1) if rest.shape[1] else np.zeros(len(top))), rest.shape[1]


def correct_probability(profile: Profile, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """P(the label's logit is the largest) per image [I] (module doc)."""
    tracked = profile.tracked.shape[1]
    z = np.take_along_axis(profile.logits.astype(np.float64), profile.tracked, axis=1) + mean  # [I, A]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(tracked) * (1 + np.trace(cov, axis1=1, axis2=2))[:, None, None])
    draws = z[:, None, :] + np.einsum("rb,iab->ira", _draws(tracked), chol)  # [I, R, A]
    label = draws[..., 0]
    wins = label > draws[..., 1:].max(-1) if tracked > 1 else np.ones_like(label, dtype=bool)
    top, rest_mean, rest = _untracked(profile)
    if top.shape[1] == 0:
        return wins.mean(1)
    shift = mean[:, 1:].mean(1) if tracked > 1 else np.zeros(len(z))
    sigma = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2)[:, 1:].mean(1), 0.0)) if tracked > 1 else \
        np.zeros(len(z))
    gap = label[:, :, None] - (top + shift[:, None])[:, None, :]  # [I, R, U]
    log_below = _log_below(gap, sigma[:, None, None]).sum(-1)
    if rest:
        log_below += rest * _log_below(label - (rest_mean + shift)[:, None], sigma[:, None])
    return (wins * np.exp(log_below)).mean(1)


def _log_below(gap: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """log P(a class's noisy logit stays below the label's) for gap = label - its mean logit."""
    with np.errstate(divide="ignore"):
        sharp = np.where(gap > 0, 0.0, -np.inf)
    safe = np.where(sigma > 0, sigma, 1.0)
    return np.where(sigma > 0, special.log_ndtr(gap / safe), sharp)


def predict_from_errors(profile: Profile, errors: list[LayerError], kappa: float = 1.0) -> Prediction:
    """The predicted top-1 (mean over images), its chip-to-chip spread and the attribution of the loss."""
    mean, cov = logit_moments(profile, errors, kappa)
    per_image = correct_probability(profile, mean, cov)
    accuracy = float(per_image.mean())
    spread = _spread(profile, errors, mean, cov, per_image, kappa)
    loss = profile.digital_accuracy - accuracy
    by_layer, by_source = _attribution(profile, errors, mean, kappa)
    return Prediction(accuracy, spread, profile.digital_accuracy, per_image,
                      {k: loss * v for k, v in by_layer.items()}, {k: loss * v for k, v in by_source.items()})


def _spread(profile: Profile, errors: list[LayerError], mean: np.ndarray, cov: np.ndarray,
            per_image: np.ndarray, kappa: float) -> float:
    """Chip-to-chip standard deviation of the accuracy (module doc)."""
    step = 0.25 * np.sqrt(np.maximum(cov[:, 0, 0] + cov[:, 1, 1] - 2 * cov[:, 0, 1], 1e-12))
    shifted = mean.copy()
    shifted[:, 0] += step
    slope = (correct_probability(profile, shifted, cov) - per_image) / step  # dP_i / dm_i
    frozen = np.array([e.frozen + e.common for e in errors])
    r = profile.projection.shape[2]
    shared = np.einsum("i,ilr->lr", slope, profile.projection) / len(per_image)  # [L, R]
    variance = kappa * float((frozen[:, None] / r * shared**2).sum())
    binomial = float((per_image * (1 - per_image)).sum()) / len(per_image) ** 2
    return float(np.sqrt(variance + binomial))


def _attribution(profile: Profile, errors: list[LayerError], mean: np.ndarray, kappa: float) -> tuple[dict, dict]:
    """Each layer's and each source's share of the margin's mean squared error (label - strongest rival)."""
    margin_mean = mean[:, 0] - mean[:, 1]
    pair = pair_index(profile.tracked.shape[1])
    index = {p: n for n, p in enumerate(pair)}

    def margin(v: np.ndarray) -> np.ndarray:  # [I, L, pairs] -> [I, L] variance of z_0 - z_1
        return v[:, :, index[(0, 0)]] + v[:, :, index[(1, 1)]] - 2 * v[:, :, index[(0, 1)]]

    w_m, t_m = margin(profile.weight_noise), margin(profile.output_noise)
    g_m = profile.gain[:, :, 0] - profile.gain[:, :, 1]
    c_m = profile.common_gain[:, :, 0] - profile.common_gain[:, :, 1]
    by_layer, by_source = {}, {}
    for li, e in enumerate(errors):
        for source, parts in e.sources.items():
            value = _share(parts, li, w_m, t_m, g_m, c_m, profile.common_mode, margin_mean, kappa)
            by_layer[e.name] = by_layer.get(e.name, 0.0) + value
            by_source[source] = by_source.get(source, 0.0) + value
    total = sum(by_layer.values())
    if total <= 0:
        return {k: 0.0 for k in by_layer}, {k: 0.0 for k in by_source}
    return {k: v / total for k, v in by_layer.items()}, {k: v / total for k, v in by_source.items()}


def _share(parts: dict, li: int, w_m, t_m, g_m, c_m, cm, margin_mean, kappa) -> float:
    """One source's contribution, in one layer, to sum_i E[dm_i^2] (variance, plus mean x total mean)."""
    variance = kappa * ((parts.get("frozen", 0.0) + parts.get("residual", 0.0)) * w_m[:, li]
                        + parts.get("output", 0.0) * t_m[:, li] + parts.get("common", 0.0) * cm[:, li])
    shift = parts.get("gain", 0.0) * g_m[:, li] + parts.get("common_shift", 0.0) * c_m[:, li]
    return float(np.sum(variance + shift * margin_mean))

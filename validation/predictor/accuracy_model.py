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
CERTAIN = 1e-4
"""An image's correct probability this close to 0 or 1 has no slope for the chip-to-chip spread."""
SAFE = 6.0
"""Standard deviations between a label draw and the strongest untracked class beyond which it cannot lose."""
KAPPA_RANGE = 100.0
"""The largest compounding factor extrapolated beyond the strongest injection."""


@dataclass
class Prediction:
    accuracy: float
    spread: float
    digital: float
    per_image: np.ndarray
    by_layer: dict[str, float] = field(default_factory=dict)
    by_source: dict[str, float] = field(default_factory=dict)
    margin_error: dict[str, float] = field(default_factory=dict)
    """Each source's contribution to the mean squared change of the margin (label - strongest rival), the
    quantity the loss is split by; positive for every source whose error reaches the logits."""


def _matrices(pairs: np.ndarray, tracked: int) -> np.ndarray:
    """[I, pairs] in pair_index order -> symmetric [I, A, A]."""
    out = np.zeros((pairs.shape[0], tracked, tracked))
    for p, (a, b) in enumerate(pair_index(tracked)):
        out[:, a, b] = out[:, b, a] = pairs[:, p]
    return out


@dataclass
class Compounding:
    """What the profile's injections (error in every layer at once) say beyond the per-layer responses.

    ``gains``/``gain_logits``: every logit [G, I, classes] under a uniform gain on every layer (1 included);
    ``layer_weight``: each layer's mean |margin response to its gain|, the weights of the effective uniform
    gain of a scheme's per-layer gains. ``levels``/``kappa`` per kind (weight, output): the mean linear
    margin variance of each noise injection and the factor on the linear covariance that reproduces its
    measured accuracy.
    """

    gains: np.ndarray
    gain_logits: np.ndarray
    layer_weight: np.ndarray
    levels: dict[str, np.ndarray]
    kappa: dict[str, np.ndarray]

    def factor(self, kind: str, level: float) -> float:
        """kappa at a mean linear margin variance ``level``: log-log interpolation between the injections,
        their end segments' trend beyond them (at most KAPPA_RANGE), held below the smallest."""
        x, y = np.log(self.levels[kind]), np.log(self.kappa[kind])
        at = np.log(max(level, 1e-300))
        if at <= x[-1] or len(x) < 2:
            return float(np.exp(np.interp(at, x, y)))
        slope = max((y[-1] - y[-2]) / (x[-1] - x[-2]), 0.0)
        return float(min(np.exp(y[-1] + slope * (at - x[-1])), KAPPA_RANGE))

    def subset(self, index: np.ndarray) -> Compounding:
        return Compounding(self.gains, self.gain_logits[:, index], self.layer_weight, self.levels, self.kappa)


def noise_pairs(profile: Profile, errors: list[LayerError]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tracked logits' covariance pairs [I, pairs] from frozen (weight-space) and per-output noise, and
    the margin's common-mode variance [I], before compounding."""
    weight = np.array([e.frozen + e.residual for e in errors])
    output = np.array([e.output for e in errors])
    common = np.array([e.common for e in errors])
    return (np.einsum("ilp,l->ip", profile.weight_noise, weight), np.einsum("ilp,l->ip", profile.output_noise, output),
            profile.common_mode @ common)


def margin_variance(pairs: np.ndarray, tracked: int) -> np.ndarray:
    """Var(z_label - z_strongest rival) [I] from covariance pairs [I, pairs]."""
    index = {p: n for n, p in enumerate(pair_index(tracked))}
    return pairs[:, index[(0, 0)]] + pairs[:, index[(1, 1)]] - 2 * pairs[:, index[(0, 1)]]


def _gain_logits(profile: Profile, errors: list[LayerError], c: Compounding | None) -> tuple[np.ndarray, float]:
    """Every logit's mean [I, classes] under the layers' gains: the measured logits at the effective uniform
    gain (interpolated between the injected gains: all orders), and the part of the gain they carry (the
    effective gain's departure from 1, held to the measured grid: the rest acts through the linear response)."""
    gain = np.array([e.gain for e in errors])
    clean = profile.logits.astype(np.float64)
    if c is None or not gain.any():
        return clean, 0.0
    uniform = float(gain @ c.layer_weight / c.layer_weight.sum())
    g = float(np.clip(1.0 + uniform, c.gains[0], c.gains[-1]))  # beyond the grid, the rest acts linearly
    k = int(np.clip(np.searchsorted(c.gains, g) - 1, 0, len(c.gains) - 2))
    t = float(np.clip((g - c.gains[k]) / (c.gains[k + 1] - c.gains[k]), 0.0, 1.0))
    return (1 - t) * c.gain_logits[k].astype(np.float64) + t * c.gain_logits[k + 1].astype(np.float64), g - 1.0


def logit_moments(profile: Profile, errors: list[LayerError], c: Compounding | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(every logit's mean [I, classes], the tracked logits' mean shift from it [I, A], their covariance
    [I, A, A]) (module doc). The gains act on every logit through the measured uniform-gain response; each
    layer's departure from the uniform gain, and the shifts, act on the tracked logits linearly."""
    logits, uniform = _gain_logits(profile, errors, c)
    gain = np.array([e.gain for e in errors]) - (uniform if c is not None else 0.0)
    shift = np.array([e.common_shift for e in errors])
    extra = np.einsum("ila,l->ia", profile.gain, gain) + np.einsum("ila,l->ia", profile.common_gain, shift)
    weight, output, common = noise_pairs(profile, errors)
    tracked = profile.tracked.shape[1]
    if c is not None:
        level = float(np.mean(margin_variance(weight + output, tracked) + common))
        weight, output = c.factor("weight", level) * weight, c.factor("output", level) * output
        common = c.factor("weight", level) * common
    cov = _matrices(weight + output, tracked)
    cov[:, 0, 0] += common / 2  # the margin's common-mode variance, split over its two ends
    cov[:, 1, 1] += common / 2
    return logits, extra, cov


def _draws(tracked: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((DRAWS, tracked))


def _untracked(tracked: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(the UNTRACKED strongest other logits [I, U], the mean of the rest [I], how many the rest are)."""
    others = logits.copy()
    np.put_along_axis(others, tracked, -np.inf, axis=1)
    others = -np.sort(-others, axis=1)[:, : logits.shape[1] - tracked.shape[1]]
    top = others[:, :UNTRACKED]
    rest = others[:, UNTRACKED:]
    return top, (rest.mean(1) if rest.shape[1] else np.zeros(len(top))), rest.shape[1]


def correct_probability(index: np.ndarray, logits: np.ndarray, extra: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """P(the label's logit is the largest) per image [I], for the tracked classes ``index`` [I, A] (the
    label first: a profile's ``tracked``), every logit's mean [I, classes], the tracked logits' further shift
    [I, A] and covariance [I, A, A] (module doc)."""
    tracked = index.shape[1]
    z = np.take_along_axis(logits, index, axis=1) + extra  # [I, A]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(tracked) * (1 + np.trace(cov, axis1=1, axis2=2))[:, None, None])
    draws = z[:, None, :] + np.einsum("rb,iab->ira", _draws(tracked), chol)  # [I, R, A]
    label = draws[..., 0]
    wins = label > draws[..., 1:].max(-1) if tracked > 1 else np.ones_like(label, dtype=bool)
    top, rest_mean, rest = _untracked(index, logits)
    if top.shape[1] == 0:
        return wins.mean(1)
    shift = extra[:, 1:].mean(1) if tracked > 1 else np.zeros(len(z))
    sigma = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2)[:, 1:].mean(1), 0.0)) if tracked > 1 else \
        np.zeros(len(z))
    below = np.ones(label.shape)
    # Only images whose lowest label draw comes within SAFE standard deviations of an untracked class can lose
    # to one (beyond it each factor is 1 to 1e-9): the others skip the costly per-class terms.
    near = label.min(1) - top[:, 0] - shift < SAFE * sigma
    if near.any():
        below[near] = _untracked_factor(label[near], top[near], rest_mean[near], rest, shift[near], sigma[near])
    return (wins * below).mean(1)


def _untracked_factor(label: np.ndarray, top: np.ndarray, rest_mean: np.ndarray, rest: int, shift: np.ndarray,
                      sigma: np.ndarray) -> np.ndarray:
    """P(every untracked class stays below each label draw) [I, R]: the UNTRACKED one by one, the rest lumped."""
    gap = label[:, :, None] - (top + shift[:, None])[:, None, :]  # [I, R, U]
    below = _below(gap, sigma[:, None, None]).prod(-1)  # Phi itself, not its log: three times faster
    if rest:
        below *= np.exp(rest * _log_below(label - (rest_mean + shift)[:, None], sigma[:, None]))
    return below


def _below(gap: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """P(a class's noisy logit stays below the label's) for gap = label - its mean logit."""
    ratio = gap / np.maximum(sigma, 1e-300)  # no noise: a step at the label's logit
    return special.ndtr(ratio, out=ratio)


def _log_below(gap: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """log P(a class's noisy logit stays below the label's) for gap = label - its mean logit."""
    with np.errstate(divide="ignore"):
        sharp = np.where(gap > 0, 0.0, -np.inf)
    safe = np.where(sigma > 0, sigma, 1.0)
    return np.where(sigma > 0, special.log_ndtr(gap / safe), sharp)


def kappas(profile: Profile, errors: list[LayerError], c: Compounding | None) -> tuple[float, float]:
    """The compounding factors (frozen/weight-space, per-output) at the scheme's linear noise level."""
    if c is None:
        return 1.0, 1.0
    weight, output, common = noise_pairs(profile, errors)
    level = float(np.mean(margin_variance(weight + output, profile.tracked.shape[1]) + common))
    return c.factor("weight", level), c.factor("output", level)


def predict_from_errors(profile: Profile, errors: list[LayerError], c: Compounding | None = None) -> Prediction:
    """The predicted top-1 (mean over images), its chip-to-chip spread and the attribution of the loss."""
    logits, extra, cov = logit_moments(profile, errors, c)
    per_image = correct_probability(profile.tracked, logits, extra, cov)
    accuracy = float(per_image.mean())
    kappa_weight, kappa_output = kappas(profile, errors, c)
    spread = _spread(profile, errors, (logits, extra, cov), per_image, kappa_weight)
    loss = profile.digital_accuracy - accuracy
    mean = np.take_along_axis(logits, profile.tracked, axis=1) + extra - np.take_along_axis(
        profile.logits.astype(np.float64), profile.tracked, axis=1)
    by_layer, by_source, raw = _attribution(profile, errors, mean, (kappa_weight, kappa_output))
    return Prediction(accuracy, spread, profile.digital_accuracy, per_image,
                      {k: loss * v for k, v in by_layer.items()}, {k: loss * v for k, v in by_source.items()},
                      {k: v / profile.images for k, v in raw.items()})


def _margin_slope(profile: Profile, moments: tuple, per_image: np.ndarray) -> np.ndarray:
    """dP_i / dm_i [I] by a forward difference of a quarter margin standard deviation; zero for the images
    whose outcome is certain either way (P within CERTAIN of 0 or 1), which a shift of the margin cannot move."""
    logits, extra, cov = moments
    slope = np.zeros(len(per_image))
    active = np.flatnonzero((per_image > CERTAIN) & (per_image < 1 - CERTAIN))
    if not len(active):
        return slope
    c = cov[active]
    step = 0.25 * np.sqrt(np.maximum(c[:, 0, 0] + c[:, 1, 1] - 2 * c[:, 0, 1], 1e-12))
    shifted = extra[active].copy()
    shifted[:, 0] += step
    moved = correct_probability(profile.tracked[active], logits[active], shifted, c)
    slope[active] = (moved - per_image[active]) / step
    return slope


def _spread(profile: Profile, errors: list[LayerError], moments: tuple, per_image: np.ndarray,
            kappa: float) -> float:
    """Chip-to-chip standard deviation of the accuracy (module doc)."""
    slope = _margin_slope(profile, moments, per_image)
    frozen = np.array([e.frozen + e.common for e in errors])
    r = profile.projection.shape[2]
    shared = np.einsum("i,ilr->lr", slope, profile.projection) / len(per_image)  # [L, R]
    variance = kappa * float((frozen[:, None] / r * shared**2).sum())
    binomial = float((per_image * (1 - per_image)).sum()) / len(per_image) ** 2
    return float(np.sqrt(variance + binomial))


def _attribution(profile: Profile, errors: list[LayerError], mean: np.ndarray,
                 kappa: tuple[float, float]) -> tuple[dict, dict, dict]:
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
        return {k: 0.0 for k in by_layer}, {k: 0.0 for k in by_source}, by_source
    return ({k: v / total for k, v in by_layer.items()}, {k: v / total for k, v in by_source.items()}, by_source)


def _share(parts: dict, li: int, w_m, t_m, g_m, c_m, cm, margin_mean, kappa) -> float:
    """One source's contribution, in one layer, to sum_i E[dm_i^2] (variance, plus mean x total mean)."""
    weight, output = kappa
    variance = (weight * ((parts.get("frozen", 0.0) + parts.get("residual", 0.0)) * w_m[:, li]
                          + parts.get("common", 0.0) * cm[:, li]) + output * parts.get("output", 0.0) * t_m[:, li])
    shift = parts.get("gain", 0.0) * g_m[:, li] + parts.get("common_shift", 0.0) * c_m[:, li]
    return float(np.sum(variance + shift * margin_mean))

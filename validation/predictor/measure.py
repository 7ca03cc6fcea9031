"""The one-time measurement of :mod:`.profile`: responses, statistics, calibration samples, injections."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo.engine import no_tf32
from aimc.montecarlo.layers import calibrate_inputs
from torch.nn import functional as F
from tqdm import tqdm

from ..accuracy import Network, normalise
from .network import DigitalLayer, Quantisation, digital_layers, digital_network
from .profile import (
    COLUMNS,
    DRAWS,
    GAINS,
    GROUP,
    LARGE_OUTPUT_LEVELS,
    LARGE_WEIGHT_LEVELS,
    OUTPUT_LEVELS,
    PARTIAL_DRAWS,
    PARTIAL_GAIN,
    PARTIAL_LEVEL,
    PROJECTIONS,
    RIVALS,
    SAMPLES,
    SLICE_BITS,
    WEIGHT_LEVELS,
    LayerProfile,
    Profile,
    cache_dir,
    load,
    pair_index,
    profile_key,
    save,
)

__all__ = ["load_or_measure", "measure", "store"]


def _entry(key: str) -> Path:
    """The cache file of the profile keyed ``key``."""
    return cache_dir() / "predictor" / f"{key}.npz"


def store(profile: Profile, net: Network, q: Quantisation, injections: bool = True) -> None:
    """Keep a profile measured on ``net`` as the cache entry :func:`load_or_measure` would have made."""
    profile.key = profile_key(net, q) + ("" if injections else "-noinj")
    save(profile, _entry(profile.key))


def load_or_measure(net: Network, q: Quantisation, *, batch_size: int = 64, progress: bool = True,
                    injections: bool = True) -> tuple[Profile, bool]:
    """The cached profile of ``net`` (measured and stored first if there is none); (profile, was cached)."""
    key = profile_key(net, q) + ("" if injections else "-noinj")
    path = _entry(key)
    if path.is_file():
        try:
            profile = load(path)
            if profile.key == key:
                return profile, True
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is measured again (and replaced atomically)
    profile = measure(net, q, batch_size=batch_size, progress=progress, injections=injections)
    store(profile, net, q, injections)
    return profile, False


def measure(net: Network, q: Quantisation, *, batch_size: int = 64, progress: bool = True,
            injections: bool = True) -> Profile:
    """The one-time measurement (see :mod:`.profile`) on ``net``'s test images, on ``net``'s device."""
    if net.input_ranges is None:
        with no_tf32():
            net.input_ranges = calibrate_inputs(net.model, net.calibration_inputs(), device=net.device)
    model = digital_network(net.model, net.input_ranges, q).to(net.device)
    layers = digital_layers(model)
    acc = _Accumulators(layers, q.weight_bits)
    with no_tf32(), tqdm(total=_steps(net, batch_size, injections), desc="predictor profile", unit="pass",
                         disable=not progress, leave=False) as bar:
        per_image = []
        for batch, labels in _batches(net, batch_size):
            per_image.append(_sensitivities(model, layers, batch, labels, acc))
            bar.update(1)
        samples = _calibration_samples(model, layers, net, batch_size)
        bar.update(1)
        columns = {k: np.concatenate([p[k] for p in per_image]) for k in per_image[0]}
        profile = Profile("", q, acc.layer_profiles(samples), net.labels.numpy(), columns["logits"],
                          columns["tracked"], columns["output_noise"], columns["weight_noise"],
                          columns["common_mode"], columns["gain"], columns["common_gain"], columns["projection"])
        if injections:
            profile.injected = _injections(model, layers, net, profile, batch_size, bar)
    return profile


def _steps(net: Network, batch_size: int, injections: bool) -> int:
    passes = ((len(WEIGHT_LEVELS) + len(OUTPUT_LEVELS)) * DRAWS + len(LARGE_WEIGHT_LEVELS) + len(LARGE_OUTPUT_LEVELS)
              + len(GAINS) + 3 * PARTIAL_DRAWS) if injections else 0
    return -(-len(net.labels) // batch_size) + 1 + passes


def _batches(net: Network, batch_size: int, calibration: bool = False):
    images = net.calibration if calibration else net.images
    for start in range(0, len(images), batch_size):
        batch = normalise(images[start : start + batch_size].to(net.device), net.mean, net.std)
        labels = None if calibration else net.labels[start : start + batch_size].to(net.device)
        yield batch, labels


def _tracked(logits: torch.Tensor, labels: torch.Tensor, rivals: int) -> torch.Tensor:
    """[B, 1 + rivals]: the label, then the strongest other classes."""
    others = logits.detach().clone()
    others[torch.arange(len(labels)), labels] = -torch.inf
    return torch.cat([labels[:, None], others.topk(rivals, dim=1).indices], 1)


def _unfold(layer: DigitalLayer, codes: torch.Tensor) -> torch.Tensor:
    """[B, K, positions]: the input vectors of every output position (im2col; a Linear has one position)."""
    if not layer.conv:
        return codes.reshape(codes.shape[0], -1, 1)
    kernel = layer.w_int.shape[2:]
    return F.unfold(codes, kernel, layer.dilation, layer.padding, layer.stride)


def _weight_gradients(layer: DigitalLayer, j: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per image and tracked logit, dz_a / dW [B, A, N, K/groups] from J [B, A, N, P] and x [B, K, P]."""
    b, a, n, p = j.shape
    g = layer.groups if layer.conv else 1
    jg = j.reshape(b, a, g, n // g, p)
    xg = x.reshape(b, g, x.shape[1] // g, p)
    return torch.einsum("bagcp,bgkp->bagck", jg, xg).reshape(b, a, n, -1)


def _gram(v: torch.Tensor) -> torch.Tensor:
    """[B, pairs]: sum over the last axis of v_a v_b for v [B, A, ...], the (a <= b) pairs in pair_index order."""
    flat = v.flatten(2)
    gram = flat @ flat.transpose(1, 2)
    a, b = zip(*pair_index(v.shape[1]), strict=True)
    return gram[:, list(a), list(b)]


def _group_sums(v: torch.Tensor, dim: int) -> torch.Tensor:
    """v summed over each group of GROUP consecutive indices of axis ``dim`` (the columns of one array)."""
    n = v.shape[dim]
    groups = torch.arange(n, device=v.device) // GROUP
    shape = list(v.shape)
    shape[dim] = -(-n // GROUP)
    return v.new_zeros(shape).index_add_(dim, groups, v)


def _sensitivities(model, layers: list[DigitalLayer], batch: torch.Tensor, labels: torch.Tensor,
                   acc: _Accumulators) -> dict[str, np.ndarray]:
    """One batch of test images: the tracked logits' responses per layer (module doc of :mod:`.profile`)."""
    for layer in layers:
        layer.record = True
    x = batch.clone().requires_grad_(True)
    logits = model(x)
    for layer in layers:
        layer.record = False
    tracked = _tracked(logits, labels, min(RIVALS, logits.shape[1] - 1))
    outputs = [layer.output for layer in layers]
    grads = [torch.autograd.grad(logits.gather(1, tracked[:, a : a + 1]).sum(), outputs,
                                 retain_graph=a < tracked.shape[1] - 1) for a in range(tracked.shape[1])]
    columns: dict[str, list] = {k: [] for k in ("output_noise", "weight_noise", "common_mode", "gain",
                                                "common_gain", "projection")}
    for li, layer in enumerate(layers):
        j = torch.stack([g[li] for g in grads], 1).detach()  # [B, A, N, (H, W)]
        for k, v in _layer_responses(li, layer, j, acc).items():
            columns[k].append(v)
        layer.codes = layer.output = None
    out = {k: torch.stack(v, 1).cpu().numpy().astype(np.float32) for k, v in columns.items()}
    out["logits"] = logits.detach().float().cpu().numpy()
    out["tracked"] = tracked.cpu().numpy()
    return out


def _layer_responses(li: int, layer: DigitalLayer, j: torch.Tensor, acc: _Accumulators) -> dict[str, torch.Tensor]:
    """The per-image responses of one layer, and its contribution to the per-layer sums."""
    b, a, n = j.shape[:3]
    codes = layer.codes.detach()
    y = layer.output.detach().reshape(b, n, -1)
    jp = j.reshape(b, a, n, -1)  # [B, A, N, P]
    x = _unfold(layer, codes)  # [B, K, P]
    g = _weight_gradients(layer, jp, x)  # [B, A, N, K/groups]
    margin_g = g[:, 0] - g[:, 1]
    common = _group_sums(margin_g, 1)  # [B, groups, K/groups]
    acc.add(li, codes, y, jp[:, 0] - jp[:, 1], margin_g)
    return {
        "output_noise": _gram(jp),
        "weight_noise": _gram(g),
        "common_mode": (common * common).sum((1, 2)),
        "gain": (jp * y[:, None]).sum((2, 3)),
        "common_gain": (_group_sums(jp, 2) * x.sum(1)[:, None, None, :]).sum((2, 3)),
        "projection": margin_g.flatten(1) @ _directions(li, margin_g[0].numel(), margin_g.device),
    }


_DIRECTIONS: dict[tuple[int, int], torch.Tensor] = {}


def _directions(li: int, size: int, device: torch.device) -> torch.Tensor:
    """PROJECTIONS fixed standard-normal directions in layer li's weight space [size, PROJECTIONS]."""
    if (li, size) not in _DIRECTIONS:
        gen = torch.Generator().manual_seed(_seed(3, li, size, 0))
        _DIRECTIONS[(li, size)] = torch.randn(size, PROJECTIONS, generator=gen)
    return _DIRECTIONS[(li, size)].to(device)


class _Accumulators:
    """Per-layer sums over the test images (see :class:`LayerProfile`)."""

    def __init__(self, layers: list[DigitalLayer], weight_bits: int):
        self.layers = layers
        self.m = (1 << (weight_bits - 1)) - 1
        self.images = 0
        self.vectors = [0] * len(layers)
        self.sums: list[dict[str, torch.Tensor]] = [{} for _ in layers]

    def add(self, li: int, codes: torch.Tensor, y: torch.Tensor, margin_j: torch.Tensor, margin_g: torch.Tensor):
        layer = self.layers[li]
        if li == 0:
            self.images += codes.shape[0]
        self.vectors[li] += y.shape[0] * y.shape[2]
        terms = _row_sums(layer, codes)
        terms["output_power"] = (y * y).sum((0, 2))
        terms["channel_sensitivity"] = (margin_j * margin_j).sum((0, 2))
        terms["input_total"] = _input_totals(layer, codes).sum()
        w = (layer.w_int.reshape(layer.w_int.shape[0], -1) + self.m).long().flatten()
        terms["weight_sensitivity"] = torch.bincount(w, (margin_g * margin_g).sum(0).flatten(), 2 * self.m + 1)
        s = self.sums[li]
        for k, v in terms.items():
            s[k] = v.double() + s[k] if k in s else v.double()

    def layer_profiles(self, samples: list[np.ndarray]) -> list[LayerProfile]:
        return [self._profile(li, layer, samples[li]) for li, layer in enumerate(self.layers)]

    def _profile(self, li: int, layer: DigitalLayer, samples: np.ndarray) -> LayerProfile:
        s, vectors = {k: v.cpu().numpy() for k, v in self.sums[li].items()}, self.vectors[li]
        rows = {k: v / vectors for k, v in s.items() if k in ("row_mean", "row_square") or k.startswith("slice")}
        w = layer.w_int.reshape(layer.w_int.shape[0], -1).cpu().numpy().astype(np.int64)
        channel = s["channel_sensitivity"] / self.images
        index = _row_index(layer, w.shape)
        powers = {0: rows["row_square"], **{b: rows[f"slice{b}"] for b in SLICE_BITS}}
        count, values = 2 * self.m + 1, (w + self.m).ravel()
        columns = np.sort(np.random.default_rng(li).choice(w.shape[0], min(COLUMNS, w.shape[0]), replace=False))
        return LayerProfile(
            name=layer.name, kernel=tuple(layer.w_int.shape), groups=layer.groups if layer.conv else 1,
            signed=layer.signed, positions=vectors / max(self.images, 1), row_mean=rows["row_mean"],
            row_square=rows["row_square"], slice_square={b: rows[f"slice{b}"] for b in SLICE_BITS},
            output_power=s["output_power"] / vectors, channel_sensitivity=channel,
            weight_sensitivity=s["weight_sensitivity"] / self.images,
            input_power=np.bincount(values, rows["row_square"][index].ravel(), count),
            read_weight={b: np.bincount(values, (channel[:, None] * p[index]).ravel(), count)
                         for b, p in powers.items()},
            input_total=float(s["input_total"]) / vectors, weight_rms=float(np.sqrt(np.mean(w.astype(np.float64) ** 2))),
            columns=columns,
            column_weights=w[columns].astype(np.int8 if self.m <= 127 else np.int16), samples=samples,
        )


def _row_index(layer: DigitalLayer, shape: tuple[int, int]) -> np.ndarray:
    """[N, K/groups]: the input row (of the im2col vector) each weight multiplies."""
    n, k = shape
    groups = layer.groups if layer.conv else 1
    return (np.arange(n)[:, None] // (n // groups)) * k + np.arange(k)[None, :]


def _row_sums(layer: DigitalLayer, codes: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sums over images and output positions of each input row's x, x^2 and input-slice powers."""
    maps = {"row_mean": codes, "row_square": codes * codes}
    maps.update({f"slice{b}": _slice_square(codes, b) for b in SLICE_BITS})
    if not layer.conv:
        return {k: v.sum(0) for k, v in maps.items()}
    return {k: _offset_sums(layer, v) for k, v in maps.items()}


def _offset_sums(layer: DigitalLayer, v: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] per-pixel values -> [C kh kw]: for each im2col row (channel, kernel offset), the sum of
    its value over every image and output position (the zero padding included), without unfolding."""
    kh, kw = layer.w_int.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    ho = (v.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (v.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = F.pad(v, (pw, pw, ph, ph))
    out = v.new_empty(v.shape[1], kh, kw, dtype=torch.float64)
    for i in range(kh):
        for jj in range(kw):
            crop = padded[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, jj * dw : jj * dw + sw * (wo - 1) + 1 : sw]
            out[:, i, jj] = crop.sum((0, 2, 3))
    return out.reshape(-1)


def _input_totals(layer: DigitalLayer, codes: torch.Tensor) -> torch.Tensor:
    """[B, positions]: sum_k x_k of the input vector of every output position."""
    if not layer.conv:
        return codes.sum(1, keepdim=True)
    ones = codes.new_ones(1, codes.shape[1], *layer.w_int.shape[2:])
    return F.conv2d(codes, ones, None, layer.stride, layer.padding, layer.dilation).flatten(1)


def _slice_square(x: torch.Tensor, bits: int) -> torch.Tensor:
    """sum_t 4^(s t) x_t^2 for the s-bit slices of the input magnitudes (sign-magnitude: |x|)."""
    magnitude = x.abs().round().long()
    mask = (1 << bits) - 1
    total = torch.zeros_like(x)
    shift = 0
    while shift < 24 and bool((magnitude >> shift).any()):
        part = ((magnitude >> shift) & mask).to(x.dtype)
        total += (4.0**shift) * part * part
        shift += bits
    return total


@torch.no_grad()
def _calibration_samples(model, layers: list[DigitalLayer], net: Network, batch_size: int) -> list[np.ndarray]:
    """Per layer, SAMPLES input code vectors drawn uniformly (fixed seed) from every output position of the
    calibration images."""
    for layer in layers:
        layer.record = True
    model(normalise(net.calibration[:1].to(net.device), net.mean, net.std))
    positions = [_unfold(layer, layer.codes).shape[2] for layer in layers]
    rng = np.random.default_rng(0)
    picks = [np.sort(rng.choice(len(net.calibration) * p, min(SAMPLES, len(net.calibration) * p), replace=False))
             for p in positions]
    kept: list[list[torch.Tensor]] = [[] for _ in layers]
    for start in range(0, len(net.calibration), batch_size):
        stop = min(start + batch_size, len(net.calibration))
        model(normalise(net.calibration[start:stop].to(net.device), net.mean, net.std))
        for li, layer in enumerate(layers):
            mine = picks[li][(picks[li] >= start * positions[li]) & (picks[li] < stop * positions[li])]
            if len(mine):
                image, position = np.divmod(mine - start * positions[li], positions[li])
                x = _unfold(layer, layer.codes[torch.as_tensor(np.unique(image), device=layer.codes.device)])
                local = np.searchsorted(np.unique(image), image)
                kept[li].append(x[torch.as_tensor(local), :, torch.as_tensor(position)].cpu())
    for layer in layers:
        layer.record = False
        layer.codes = layer.output = None
    # codes fit one byte: unsigned inputs in [0, 255], signed (sign-magnitude) ones in [-127, 127]
    return [torch.cat(v).round().to(torch.int8 if layer.signed else torch.uint8).numpy()
            for v, layer in zip(kept, layers, strict=True)]


@torch.no_grad()
def _injections(model, layers: list[DigitalLayer], net: Network, profile: Profile, batch_size: int,
                bar) -> dict[str, np.ndarray]:
    """Tracked logits and top-1 of every test image under error injected in all layers at once."""
    out: dict[str, np.ndarray] = {}
    for key, full, setting in injection_plan(layers, net, profile):
        setting()
        out.update(_pass(model, net, profile, key, batch_size, full=full))
        bar.update(1)
    _reset(layers)
    return out


def injection_plan(layers: list[DigitalLayer], net: Network, profile: Profile) -> list[tuple[str, bool, Callable]]:
    """Every injection pass, in order: (its key in ``Profile.injected``, whether every logit is kept, the
    function that sets the layers for it). Frozen weight noise and output noise at the small levels
    (``DRAWS`` draws) and at the large ones (one draw, seeded by the level in tenths), uniform gains (every
    logit kept: a gain can hand the top-1 to any class), then weight noise on the first or the second half of
    the layers only, and on every layer under a gain: how the compounding depends on where the error is."""
    rms_w = [p.weight_rms for p in profile.layers]
    rms_y = [torch.as_tensor(p.output_power, dtype=torch.float32, device=net.device).sqrt() for p in profile.layers]
    everyone = range(len(layers))
    plan = []
    for li_level, level in enumerate(WEIGHT_LEVELS):
        plan += [(f"weight/{level:g}/{draw}", False, partial(_weight_noise, layers, rms_w, level, everyone,
                                                             (1, li_level, draw))) for draw in range(DRAWS)]
    for li_level, level in enumerate(OUTPUT_LEVELS):
        plan += [(f"output/{level:g}/{draw}", False, partial(_output_noise_everywhere, layers, rms_y, level,
                                                             _seed(2, li_level, draw, 0))) for draw in range(DRAWS)]
    plan += [(f"weight/{level:g}/0", False, partial(_weight_noise, layers, rms_w, level, everyone,
                                                    (5, round(level * 10), 0))) for level in LARGE_WEIGHT_LEVELS]
    plan += [(f"output/{level:g}/0", False, partial(_output_noise_everywhere, layers, rms_y, level,
                                                    _seed(6, round(level * 10), 0, 0))) for level in LARGE_OUTPUT_LEVELS]
    plan += [(f"gain/{gain:g}/0", True, partial(_uniform_gain, layers, gain)) for gain in GAINS]
    half = len(layers) // 2
    for name, chosen, gain in (("first", range(half), 1.0), ("second", range(half, len(layers)), 1.0),
                               ("gained", everyone, PARTIAL_GAIN)):
        plan += [(f"{name}/{PARTIAL_LEVEL:g}/{draw}", False, partial(
            _weight_noise, layers, rms_w, PARTIAL_LEVEL, chosen, (4, len(name), draw), gain))
            for draw in range(PARTIAL_DRAWS)]
    return plan


def _reset(layers: list[DigitalLayer]) -> None:
    for layer in layers:
        layer.weights = layer.perturb = None


def _weight_noise(layers, rms_w, level: float, chosen, seed: tuple[int, int, int], gain: float = 1.0) -> None:
    """Frozen weight noise of ``level`` x each layer's rms integer weight on the ``chosen`` layers, under a
    uniform ``gain`` on every layer; layer li's draw seeded by (``seed``, li)."""
    _reset(layers)
    for li, layer in enumerate(layers):
        if li in chosen:
            layer.weights = layer.w_int + level * rms_w[li] * _normal(layer.w_int, _seed(*seed, li))
        layer.perturb = _gain(gain) if gain != 1.0 else None


def _output_noise_everywhere(layers, rms_y, level: float, seed: int) -> None:
    """Output noise of ``level`` x each channel's rms output on every layer, from one seeded generator."""
    _reset(layers)
    gen = torch.Generator(device=rms_y[0].device).manual_seed(seed)
    for li, layer in enumerate(layers):
        layer.perturb = _output_noise(level * rms_y[li], gen)


def _uniform_gain(layers, gain: float) -> None:
    _reset(layers)
    for layer in layers:
        layer.perturb = _gain(gain)


def _normal(like: torch.Tensor, seed: int) -> torch.Tensor:
    """Standard normals shaped like ``like``, drawn on its device from a generator seeded with ``seed``."""
    gen = torch.Generator(device=like.device).manual_seed(seed)
    return torch.randn(like.shape, generator=gen, device=like.device, dtype=like.dtype)


def _seed(kind: int, level: int, draw: int, layer: int) -> int:
    return int(np.random.SeedSequence([kind, level, draw, layer]).generate_state(1)[0])


def _output_noise(std: torch.Tensor, gen: torch.Generator):
    def perturb(layer: DigitalLayer, y: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (y.dim() - 2)
        return y + std.reshape(shape) * torch.randn(y.shape, generator=gen, device=y.device, dtype=y.dtype)

    return perturb


def _gain(gain: float):
    return lambda layer, y: y * gain


def _pass(model, net: Network, profile: Profile, name: str, batch_size: int, full: bool = False
          ) -> dict[str, np.ndarray]:
    """One pass over the test images: the tracked logits and the top-1 of each (and every logit if ``full``)."""
    tracked, correct, every, start = [], [], [], 0
    for batch, labels in _batches(net, batch_size):
        logits = model(batch)
        rows = torch.as_tensor(profile.tracked[start : start + len(labels)], device=logits.device)
        tracked.append(logits.gather(1, rows).float().cpu())
        correct.append((logits.argmax(1) == labels).cpu())
        if full:
            every.append(logits.float().cpu())
        start += len(labels)
    if not math.isfinite(float(torch.cat(tracked).abs().max())):
        raise RuntimeError(f"predictor profile: the injection {name} made the logits non-finite")
    out = {name: torch.cat(tracked).numpy().astype(np.float16), f"{name}/correct": torch.cat(correct).numpy()}
    if full:
        out[f"{name}/logits"] = torch.cat(every).numpy().astype(np.float16)
    return out

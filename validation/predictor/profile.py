"""The predictor's one-time step per model and data: what the digital network's logits respond to.

On the quantised digital network (:mod:`.network`) and the test images, one pass (a forward and one
backward per tracked logit) measures, per image i and layer l, for the label's logit and those of its
``RIVALS`` strongest rivals (the *tracked* logits a, b):

* ``output_noise`` T_ab = sum_(c,pos) J_a J_b, with J_a = dz_a / dy_l the response of logit a to the layer's
  integer output y_l: the logit covariance per unit of independent noise variance on every output;
* ``weight_noise`` W_ab = sum_(c,k) G_a G_b, with G_a = dz_a / dW_l = sum_pos J_a x^T the image's own weight
  gradient: the logit covariance per unit of independent, frozen noise variance on every integer weight
  (a chip's programming error is the same for every position and image, which output noise is not);
* ``common_mode`` the same for noise shared by the weights of the columns of one array (groups of
  ``GROUP`` output channels sharing a unit column), for the margin label - strongest rival;
* ``gain`` A_a = sum J_a y_l: the response to a gain on the layer's output, and ``common_gain``
  sum_pos (sum_(c in group) J_a) (sum_k x_k): the response to a shift of every output by the same multiple
  of the input total (a unit column's mean error);

``projection`` the margin's weight gradient projected on ``PROJECTIONS`` fixed random directions of
each layer's weights (the images' shared response to one chip's frozen error: the chip-to-chip spread);
and per layer, averaged over images: the output power per channel, the sensitivity of the margin per
channel and per weight value (how a scheme's per-weight error variance is weighed), the input statistics
the closed forms need (per-row mean, second moment, and input-slice moments), and a sample of input code
vectors from the calibration images (for the ADC ranges). Then the same network is run with injected
error (all layers at once: frozen weight noise, output noise and a gain, each at several levels) and the
tracked logits and the top-1 of every image are kept: the ground truth of the compounding through the
depth that the per-layer responses do not carry.

Computed once, cached on disk (``cache_dir()``, keyed by the weights, the test and calibration images,
the quantisation and :data:`PROFILE_VERSION`) and reused for every scheme.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from aimc.results import atomic_file

from ..accuracy import Network
from .network import Quantisation

__all__ = ["GROUP", "PROFILE_VERSION", "RIVALS", "LayerProfile", "Profile", "cache_dir", "load", "pair_index",
           "profile_key", "save"]

PROFILE_VERSION = 2
"""Bump when what is measured, or how, changes: a cached profile of another version is measured again."""
RIVALS = 3
"""Tracked rivals per image besides its label: the strongest logits of the digital network."""
GROUP = 256
"""Output channels sharing one array (and its unit column): the default ``array.columns``."""
SAMPLES = 64
"""Calibration input vectors kept per layer for the ADC ranges."""
PROJECTIONS = 8
"""Random weight directions per layer on which each image's margin gradient is projected."""
COLUMNS = 32
"""Output channels per layer whose weights the profile keeps for the ADC's sampled conversions."""
SLICE_BITS = (1, 2, 4)
"""Input slice widths whose moments are kept (0, the whole input, is the second moment)."""
WEIGHT_LEVELS = (0.05, 0.1, 0.2, 0.4)
OUTPUT_LEVELS = (0.05, 0.1, 0.2, 0.4)
GAINS = (0.65, 0.8, 0.9, 0.95, 0.98, 1.02, 1.05)
DRAWS = 3
"""Injection passes: relative frozen weight noise (std a fraction of each layer's rms integer weight),
relative output noise (a fraction of each channel's rms output), uniform gains (mostly below 1, as the gains of
clipping, ADC ranges and wire resistance are; 1.02 and 1.05 for the gains above 1 of offset slices under
state-proportional error; one beyond the grid is named where a prediction uses it);
draws per noise level."""
LARGE_WEIGHT_LEVELS = (0.7,)
LARGE_OUTPUT_LEVELS: tuple[float, ...] = ()
"""Large injections, one draw each (their loss is tens of standard errors): the compounding of the errors
that collapse a network, beyond the range the small levels resolve. One weight level: each full pass costs
about 11 minutes on a 2-core CPU for 10,000 Tiny-ImageNet images."""
PARTIAL_LEVEL, PARTIAL_GAIN, PARTIAL_DRAWS = 0.2, 0.9, 2
"""Partial injections: weight noise of this level on half of the layers, or on all under this gain."""


@dataclass
class LayerProfile:
    """Scheme-independent statistics of one layer (see the module doc); ``[W]`` indexes weight values
    w + M for w in [-M, M] (M of the profile's weight bits)."""

    name: str
    kernel: tuple[int, ...]  # the weight's shape (Conv2d: [N, C_in/groups, kh, kw]; Linear: [N, K])
    groups: int
    signed: bool
    positions: float  # output positions per image
    row_mean: np.ndarray  # [K]: E[x_k] of the layer's input vectors
    row_square: np.ndarray  # [K]: E[x_k^2]
    slice_square: dict[int, np.ndarray]  # s -> [K]: E[sum_t 4^(s t) x_t^2] for s-bit input slices
    output_power: np.ndarray  # [N]: E[y_c^2] over images and positions
    channel_sensitivity: np.ndarray  # [N]: E_i sum_pos (dm/dy_c)^2, m the margin label - strongest rival
    weight_sensitivity: np.ndarray  # [W]: E_i sum over the weights of value w of (dm/dW)^2
    input_power: np.ndarray  # [W]: sum over the weights of value w of E[x_k^2] (their input's power)
    read_weight: dict[int, np.ndarray]  # s -> [W]: sum over the weights of value w of channel_sensitivity_c
    # times E[sum_t 4^(s t) x_t^2] (s = 0: E[x_k^2]): how read noise on those weights reaches the margin
    input_total: float  # E[sum_k x_k] per output position
    weight_rms: float  # rms of the layer's integer weights (the scale of the injected weight noise)
    columns: np.ndarray  # [C] output channels whose weights are kept (for the ADC's sampled conversions)
    column_weights: np.ndarray  # [C, K] their integer weights (int16)
    samples: np.ndarray  # [SAMPLES, K] calibration input codes (uint8, int8 for signed inputs)

    @property
    def fan_in(self) -> int:
        return self.column_weights.shape[1]

    @property
    def outputs(self) -> int:
        return self.kernel[0]


@dataclass
class Profile:
    """Everything the predictor needs from a model and its images (see the module doc)."""

    key: str
    quantisation: Quantisation
    layers: list[LayerProfile]
    labels: np.ndarray  # [I]
    logits: np.ndarray  # [I, classes] of the digital network (float32)
    tracked: np.ndarray  # [I, 1 + RIVALS] class indices: label, then rivals by decreasing logit
    output_noise: np.ndarray  # [I, L, pairs] (float16)
    weight_noise: np.ndarray  # [I, L, pairs]
    common_mode: np.ndarray  # [I, L]
    gain: np.ndarray  # [I, L, 1 + RIVALS]
    common_gain: np.ndarray  # [I, L, 1 + RIVALS]
    projection: np.ndarray  # [I, L, PROJECTIONS]
    injected: dict[str, np.ndarray] = field(default_factory=dict)
    """'weight/0.1/2': tracked logits [I, 1 + RIVALS] under that injection; 'weight/0.1/2/correct': top-1;
    'gain/0.9/0/logits': every logit [I, classes] under a uniform gain (float16)."""

    @property
    def images(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray | list[int]) -> Profile:
        """The profile of some of its images (a fixed subset, as ``--images N`` picks it): the per-image
        responses of those images; the per-layer statistics, averaged over all the images, are kept."""
        index = np.asarray(indices, dtype=np.int64)
        per_image = {f.name: getattr(self, f.name)[index] for f in fields(Profile)
                     if isinstance(getattr(self, f.name), np.ndarray)}
        injected = {k: v[index] for k, v in self.injected.items()}
        return Profile(f"{self.key}[{len(index)}]", self.quantisation, self.layers, **per_image, injected=injected)

    @property
    def digital_accuracy(self) -> float:
        return float((self.logits.argmax(1) == self.labels).mean())


def pair_index(tracked: int = 1 + RIVALS) -> list[tuple[int, int]]:
    """The (a, b) with a <= b of the tracked logits, in the order the pair axes hold them."""
    return [(a, b) for a in range(tracked) for b in range(a, tracked)]


# ---------------------------------------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The user's cache folder for aimc: $AIMC_CACHE, else $XDG_CACHE_HOME/aimc, else ~/.cache/aimc."""
    if os.environ.get("AIMC_CACHE"):
        return Path(os.environ["AIMC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aimc"


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            h.update(part.detach().cpu().contiguous().numpy().tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:24]


def profile_key(net: Network, q: Quantisation) -> str:
    """The cache key: the weights, the test and calibration images and labels, the quantisation, the version."""
    weights = _digest(*(t for _, t in sorted(net.model.state_dict().items())))
    return _digest(weights, net.images, net.labels, net.calibration, q, PROFILE_VERSION, RIVALS, GROUP,
                   SAMPLES, PROJECTIONS, COLUMNS, WEIGHT_LEVELS, OUTPUT_LEVELS, GAINS, DRAWS, LARGE_WEIGHT_LEVELS,
                   LARGE_OUTPUT_LEVELS, PARTIAL_LEVEL,
                   PARTIAL_GAIN, PARTIAL_DRAWS)


SCALED = ("output_noise", "weight_noise", "common_mode", "gain", "common_gain", "projection")
"""Per-image, per-layer responses stored as float16 of value / (the layer's largest |value|): 3 significant
digits at a quarter of float32's size, whatever a layer's own scale."""


def _pack(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axes = tuple(a for a in range(values.ndim) if a != 1)
    scale = np.abs(values).max(axis=axes, keepdims=True).astype(np.float32)
    scale[scale == 0] = 1.0
    return (values / scale).astype(np.float16), scale.reshape(-1)


def _unpack(packed: np.ndarray, scale: np.ndarray) -> np.ndarray:
    shape = [1] * packed.ndim
    shape[1] = -1
    return packed.astype(np.float32) * scale.reshape(shape)


def save(profile: Profile, path: Path) -> None:
    arrays = {f.name: getattr(profile, f.name) for f in fields(Profile) if isinstance(getattr(profile, f.name),
                                                                                       np.ndarray)}
    for name in SCALED:
        arrays[name], arrays[f"{name}.scale"] = _pack(np.asarray(arrays[name], dtype=np.float32))
    for i, layer in enumerate(profile.layers):
        for f in fields(LayerProfile):
            value = getattr(layer, f.name)
            if isinstance(value, dict):
                arrays.update({f"layer{i}.{f.name}.{k}": v for k, v in value.items()})
            else:
                arrays[f"layer{i}.{f.name}"] = np.asarray(value)
    arrays.update({f"injected.{k}": v for k, v in profile.injected.items()})
    arrays["meta.key"] = np.array(profile.key)
    arrays["meta.quantisation"] = np.array([profile.quantisation.weight_bits, profile.quantisation.input_bits,
                                            int(profile.quantisation.per_channel)])
    arrays["meta.layers"] = np.array(len(profile.layers))
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **arrays)


def load(path: Path) -> Profile:
    with np.load(path, allow_pickle=False) as data:
        d = {k: data[k] for k in data.files}
    for name in SCALED:
        d[name] = _unpack(d[name], d.pop(f"{name}.scale"))
    wb, ib, pc = (int(v) for v in d["meta.quantisation"])
    layers = [_load_layer(d, i) for i in range(int(d["meta.layers"]))]
    injected = {k[len("injected."):]: v for k, v in d.items() if k.startswith("injected.")}
    return Profile(str(d["meta.key"]), Quantisation(wb, ib, bool(pc)), layers, d["labels"], d["logits"],
                   d["tracked"], d["output_noise"], d["weight_noise"], d["common_mode"], d["gain"],
                   d["common_gain"], d["projection"], injected)


def _load_layer(d: dict, i: int) -> LayerProfile:
    values = {}
    for f in fields(LayerProfile):
        prefix = f"layer{i}.{f.name}"
        if f.name in ("slice_square", "read_weight"):
            values[f.name] = {int(k.rsplit(".", 1)[1]): v for k, v in d.items() if k.startswith(prefix + ".")}
        else:
            v = d[prefix]
            values[f.name] = v.item() if v.ndim == 0 else v
    values["name"] = str(values["name"])
    values["kernel"] = tuple(int(x) for x in values["kernel"])
    values["groups"], values["signed"] = int(values["groups"]), bool(values["signed"])
    return LayerProfile(**values)

"""Top-1 accuracy of a network simulated on analog hardware, with its digital baselines.

The path, as the paper did it (Xiao et al. 2022, sections 4-7; ``shared/PAPER.md``):

1. a float network and its test images (:func:`load_network`): a reference model of
   ``aimc.validation.models`` (the two ResNet-50s, the vision transformer) on its own test set, or a user's
   torchvision ResNet-50 state dict on ImageNet validation images;
2. calibration on images separate from the test images (500 by default: the Tiny-ImageNet calibration
   zip, a seeded pick of the CIFAR-10 training set, or a held-out pick of the ImageNet images):
   :func:`aimc.montecarlo.layers.convert` folds BatchNorm, quantises weights per layer (``weights.bits``,
   8 in the paper) and activations (``inputs.bits``, signed first layer) with calibrated ranges, and
   profiles the ADC ranges;
3. K programmed chips: chip c of run ``seed`` is drawn by :func:`aimc.montecarlo.layers.reprogram` with
   :func:`chip_seed` ``(seed, c)``; the top-1 accuracy of every chip, their mean and standard deviation
   (sample, ddof = 1; 0 for one chip);
4. two digital baselines beside it: ``baseline_float`` (the float network) and ``baseline_quantized``
   (the converted network with ideal devices, no ADC and no wire resistance: the 8-bit quantised digital
   model, :func:`quantized_scheme`).

Results go to a CSV (:class:`aimc.results.ResultsCSV`, through :func:`run_cached`): written atomically
(temporary file, then ``os.replace``), and resumable: a row keyed by :data:`KEY_FIELDS` (model, data, scheme
hash, images, chips, seed and calibration size) is reused instead of recomputed.

The ImageNet path, for users with their own weights::

    aimc accuracy --model resnet50-0676ba61.pth --data /data/imagenet/val \\
        --val-map /data/imagenet/val_map.txt --preset design-a --images 1000 --chips 5 --device cuda

``--model`` is a torchvision ``resnet50`` state dict (1000 classes), ``--data`` a folder of
``ILSVRC2012_val_*.JPEG`` files or a zip of them (such as ``shared/data/imagenet-val-1300.zip``), labels
from ``--val-map`` (MLPerf format ``<file> <label>``, label 0-999 in sorted-synset order; default the
``val_map.txt`` inside the folder or zip). Images get the torchvision evaluation preprocessing (resize
256, center crop 224, ImageNet mean and std). Unless ``--calibration`` names a file, a seeded
class-balanced pick of ``--calibration-images`` (500) images is held out of the data for calibration and
the test images are drawn from the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo.engine import no_tf32, resolve_device
from aimc.montecarlo.layers import analog_layers, calibrate_inputs, convert, reprogram, unconverted_layers
from torch import nn
from tqdm import tqdm

from aimc.results import ResultsCSV
from aimc.scheme import Scheme

from .data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetValFolder,
    ImageNetValZip,
    ZipImageFolder,
    balanced_subset,
    calibration_set,
    load_images,
    normalise,
)
from .models import REFERENCE_MODELS, load_model, reference_model, shared_file

__all__ = [
    "CALIBRATION_IMAGES",
    "CALIBRATION_SEED",
    "KEY_FIELDS",
    "Network",
    "accuracy_for_scheme",
    "chip_seed",
    "evaluate_chips",
    "load_network",
    "quantized_scheme",
    "scheme_hash",
]

CALIBRATION_IMAGES = 500
"""Calibration images, as the paper (the 500-image MLPerf calibration list)."""
CALIBRATION_SEED = 12345
"""Seed of the held-out calibration pick from user ImageNet data (separate from the test subset's seed)."""
KEY_FIELDS = ("model", "data", "scheme_hash", "images", "chips", "seed", "calibration_images")
"""Columns that identify a finished accuracy result in a CSV."""
CPU_BUDGET = 1 << 25
GPU_BUDGET = 1 << 28
"""Elements of the largest intermediate tensor of an analog layer (``_AnalogBase.budget``): the engine's
default on the CPU; a larger one on a GPU, where few large launches beat many small ones."""


def scheme_hash(scheme: Scheme) -> str:
    """A short, stable hash of the full scheme (its JSON with sorted keys)."""
    text = json.dumps(scheme.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# Network and data
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Network:
    """A float network with its test images and calibration images (all uint8, normalised on use).

    Attributes:
        name: the ``--model`` argument (registry name or weight-file path).
        data: the test data's description (``""`` for a reference model's own test set).
        model: float32 eval-mode network (on ``device``).
        images, labels: test images uint8 [N, 3, H, W] and int64 labels [N].
        calibration: calibration images uint8 [M, 3, H, W].
        mean, std: per-channel normalisation.
        subset: the ``--images`` argument (None: all test images).
    """

    name: str
    data: str
    model: nn.Module
    images: torch.Tensor
    labels: torch.Tensor
    calibration: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    subset: int | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    baselines: dict = field(default_factory=dict)
    input_ranges: dict | None = None
    """The activation calibration (``calibrate_inputs``), made once and shared by every scheme."""

    def calibration_inputs(self) -> torch.Tensor:
        return normalise(self.calibration, self.mean, self.std)


def _take(dataset, images: int | None, seed: int, exclude: Sequence[int] = ()) -> list[int] | None:
    """Indices of a balanced subset of ``images`` (None: all) among the dataset's images not in ``exclude``."""
    if not exclude and images is None:
        return None
    held = set(exclude)
    pool = [i for i in range(len(dataset)) if i not in held]
    if images is None:
        return pool
    labels = [dataset.samples[i][1] for i in pool]
    return [pool[i] for i in balanced_subset(labels, images, seed)]


def _load_calibration_file(path: str | os.PathLike) -> torch.Tensor:
    """Calibration images from a ``.pt`` uint8 tensor [N, 3, H, W] or an ImageFolder-layout zip."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--calibration: {path} not found")
    if path.suffix == ".pt":
        images = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(images, dict):
            images = images.get("images")
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(
                f"--calibration: {path} must hold a uint8 tensor [N, 3, H, W] (or {{'images': ...}})"
            )
        return images
    if path.suffix == ".zip":
        return load_images(ZipImageFolder(path))[0]
    raise ValueError(f"--calibration: {path} must be a .pt tensor or an ImageFolder .zip")


def _pick(images: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    """A seeded pick of ``n`` of the images (all if n is None or >= their number)."""
    if n is None or n >= len(images):
        return images
    if n < 1:
        raise ValueError(f"--calibration-images: must be >= 1, got {n}")
    order = np.random.default_rng(seed).permutation(len(images))[:n]
    return images[torch.as_tensor(np.sort(order))]


def load_network(
    model: str,
    *,
    data: str | os.PathLike | None = None,
    val_map: str | os.PathLike | None = None,
    calibration: str | os.PathLike | None = None,
    calibration_images: int | None = CALIBRATION_IMAGES,
    images: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    shared_dir: str | os.PathLike | None = None,
) -> Network:
    """The float network ``model``, its test images and its calibration images.

    Args:
        model: a reference model name (``resnet50-tinyimagenet``, ``resnet50-cifar10``, ``vit-cifar10``)
            or a ``.pt``/``.pth`` torchvision ResNet-50 state dict (ImageNet path).
        data: reference models: another ImageFolder-layout test zip (default: the model's own);
            ImageNet path (required): a folder or zip of ILSVRC2012 validation JPEGs.
        val_map: ImageNet path: MLPerf-format labels (default: ``val_map.txt`` in ``data``).
        calibration: a ``.pt`` uint8 tensor [N, 3, H, W] or an ImageFolder zip of calibration images
            (default: the model's calibration set; ImageNet path: images held out of ``data``).
        calibration_images: how many calibration images to use (500, as the paper; fewer for quick runs:
            a seeded pick of the set). ImageNet path: how many to hold out.
        images: test images, a fixed seeded class-balanced subset (None: all).
        seed: seed of that subset.
    """
    if images is not None and images < 1:
        raise ValueError(f"--images: must be >= 1, got {images}")
    if calibration_images is not None and calibration_images < 1:
        raise ValueError(f"--calibration-images: must be >= 1, got {calibration_images}")
    dev = resolve_device(device)
    if model in REFERENCE_MODELS:
        x, y, cal, (mean, std) = _reference_images(model, data, calibration, calibration_images, images, seed,
                                                    shared_dir)
    else:
        x, y, cal = _imagenet_images(data, val_map, calibration, calibration_images, images, seed)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    net = load_model(model, shared_dir).to(dev).eval()
    return Network(
        name=str(model),
        data="" if data is None else str(data),
        model=net,
        images=x,
        labels=y,
        calibration=cal,
        mean=tuple(mean),
        std=tuple(std),
        subset=images,
        device=dev,
    )


def _reference_images(model, data, calibration, calibration_images, images, seed, shared_dir) -> tuple:
    """(test images, labels, calibration images, (mean, std)) of a reference model."""
    spec = reference_model(model)
    test = ZipImageFolder(data if data is not None else shared_file("data", spec.test_zip, shared_dir))
    if test.classes and len(test.classes) != spec.num_classes:
        raise ValueError(f"--data: {len(test.classes)} classes, but {model} has {spec.num_classes} outputs")
    x, y = load_images(test, _take(test, images, seed))
    cal = _load_calibration_file(calibration) if calibration is not None else calibration_set(model, shared_dir)[0]
    return x, y, _pick(cal, calibration_images, CALIBRATION_SEED), (spec.mean, spec.std)


def _imagenet_images(data, val_map, calibration, calibration_images, images, seed) -> tuple:
    """(test images, labels, calibration images) of the ImageNet path; unless a calibration file is given,
    the calibration images are a seeded, class-balanced pick held out of ``data``."""
    if data is None:
        raise ValueError("--data: the ImageNet path (--model PATH) needs --data, a folder or zip of "
                         "ILSVRC2012 validation images")
    path = Path(data)
    if path.is_dir():
        dataset = ImageNetValFolder(path, val_map)
    elif path.is_file():
        dataset = ImageNetValZip(path, val_map)
    else:
        raise FileNotFoundError(f"--data: {path} not found")
    held: list[int] = []
    if calibration is not None:
        cal = _pick(_load_calibration_file(calibration), calibration_images, CALIBRATION_SEED)
    else:
        n_cal = min(calibration_images or CALIBRATION_IMAGES, len(dataset) - 1)
        held = balanced_subset(dataset.targets, n_cal, CALIBRATION_SEED)
        cal = load_images(dataset, held)[0]
    x, y = load_images(dataset, _take(dataset, images, seed, held))
    return x, y, cal


# ---------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------


def chip_seed(seed: int, chip: int) -> int:
    """The :func:`reprogram` seed of chip ``chip`` of run ``seed`` (independent streams per (seed, chip))."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(chip)]).generate_state(1)[0])


def quantized_scheme(scheme: Scheme) -> Scheme:
    """The digital quantised model of a scheme: its weight and input quantisation on ideal arrays.

    Ideal devices (infinite On/Off, no error), no ADC, no wire resistance, whole inputs and one array
    partition: the analog product equals the integer product of the quantised weights and activations.
    """
    w, i = scheme.weights, scheme.inputs
    return Scheme.from_dict(
        {
            "weights": {"bits": w.bits, "per_channel": w.per_channel},
            "inputs": {"bits": i.bits, "slice_bits": 0},
            "adc": {"bits": 0},
            "array": {"rows": 1 << 20},
        }
    )


@torch.no_grad()
def _correct(model: nn.Module, net: Network, batch_size: int, bar: tqdm | None) -> int:
    correct = 0
    for start in range(0, len(net.labels), batch_size):
        batch = normalise(net.images[start : start + batch_size].to(net.device), net.mean, net.std)
        logits = model(batch)
        finite = torch.isfinite(logits).all()
        predictions = logits.argmax(dim=1).cpu()  # the device sync of this batch; `finite` is ready with it
        if not bool(finite):  # any NaN/inf inside the network reaches the logits (the layers skip the check)
            raise RuntimeError(f"network output is not finite for test images {start}..{start + len(batch) - 1}")
        correct += int((predictions == net.labels[start : start + batch_size]).sum())
        if bar is not None:
            bar.update(len(predictions))
    return correct


def _budget(device: torch.device) -> int:
    return GPU_BUDGET if device.type == "cuda" else CPU_BUDGET


def float_accuracy(net: Network, batch_size: int = 128) -> float:
    """Top-1 accuracy of the float network (TF32 off: full float32 arithmetic)."""
    with no_tf32():
        return _correct(net.model, net, batch_size, None) / len(net.labels)


def convert_network(
    net: Network,
    scheme: Scheme,
    seed: int = 0,
    budget: int | None = None,
    read_noise_mode: str = "per_device",
) -> nn.Module:
    """The analog network of ``scheme`` calibrated on ``net``'s calibration images, chip 0 of ``seed``.

    ``read_noise_mode``: ``per_device`` (reference) or ``output_referred`` (the engine's equivalent
    Gaussian draw per column current; see :mod:`aimc.montecarlo.engine`).
    """
    with no_tf32():  # BatchNorm folding is checked on the float model: full float32 convolutions
        if net.input_ranges is None:  # activation ranges depend on the model and data, not the scheme
            net.input_ranges = calibrate_inputs(net.model, net.calibration_inputs(), device=net.device)
        analog = convert(
            net.model,
            scheme,
            net.calibration_inputs(),
            seed=chip_seed(seed, 0),
            device=net.device,
            read_noise_mode=read_noise_mode,
            input_ranges=net.input_ranges,
            check_fold=False,
        )
    for layer in analog_layers(analog):
        layer.budget = budget or _budget(net.device)
        layer.check_finite = False  # _correct checks the logits instead: one check per batch, not per layer
    return analog


def evaluate_chips(
    net: Network,
    scheme: Scheme,
    chips: int = 1,
    seed: int = 0,
    *,
    batch_size: int = 128,
    progress: bool = True,
    description: str = "",
    budget: int | None = None,
) -> list[float]:
    """Top-1 accuracy of each of ``chips`` programmed chips (chip c: :func:`chip_seed` ``(seed, c)``)."""
    if chips < 1:
        raise ValueError(f"--chips: must be >= 1, got {chips}")
    if batch_size < 1:
        raise ValueError(f"--batch-size: must be >= 1, got {batch_size}")
    analog = convert_network(net, scheme, seed, budget)
    accuracies = []
    with tqdm(
        total=chips * len(net.labels),
        desc=description or "analog accuracy",
        unit="img",
        disable=not progress,
        leave=False,
    ) as bar:
        for chip in range(chips):
            if chip > 0:
                reprogram(analog, chip_seed(seed, chip))
            accuracies.append(_correct(analog, net, batch_size, bar) / len(net.labels))
            bar.set_postfix(chip=chip, top1=f"{accuracies[-1]:.4f}")
    return accuracies


def baselines(
    net: Network, scheme: Scheme, batch_size: int = 128, progress: bool = False
) -> dict[str, float]:
    """``baseline_float`` and ``baseline_quantized`` of ``scheme``'s quantisation (cached on ``net``)."""
    if "float" not in net.baselines:
        net.baselines["float"] = float_accuracy(net, batch_size)
    q = quantized_scheme(scheme)
    key = scheme_hash(q)
    if key not in net.baselines:
        net.baselines[key] = evaluate_chips(
            net, q, 1, 0, batch_size=batch_size, progress=progress, description="quantised baseline"
        )[0]
    return {"baseline_float": net.baselines["float"], "baseline_quantized": net.baselines[key]}


def summarize(accuracies: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single chip)."""
    a = np.asarray(accuracies, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def accuracy_for_scheme(
    net: Network,
    scheme: Scheme,
    *,
    chips: int = 1,
    seed: int = 0,
    batch_size: int = 128,
    progress: bool = True,
    description: str = "",
    budget: int | None = None,
    with_baselines: bool = True,
) -> dict:
    """Accuracy of ``scheme`` over ``chips`` chips, with the baselines: the result dict of ``aimc accuracy``.

    ``digital_layers``: what the conversion leaves digital (:func:`aimc.montecarlo.layers.unconverted_layers`:
    LayerNorms, attention products, loose parameters; empty for the ResNet-50s), as ``"name: kind"``.
    """
    start = time.perf_counter()
    per_chip = evaluate_chips(
        net,
        scheme,
        chips,
        seed,
        batch_size=batch_size,
        progress=progress,
        description=description,
        budget=budget,
    )
    seconds = time.perf_counter() - start
    if chips == 1 and scheme_hash(scheme) == scheme_hash(quantized_scheme(scheme)):
        net.baselines.setdefault(
            scheme_hash(scheme), per_chip[0]
        )  # this scheme is its own quantised baseline
    mean, std = summarize(per_chip)
    result = {
        "accuracy_mean": mean,
        "accuracy_std": std,
        "accuracies": per_chip,
        "images": len(net.labels),
        "chips": chips,
        "seed": seed,
        "seconds": round(seconds, 3),
        "digital_layers": [str(part) for part in unconverted_layers(net.model)],
    }
    if with_baselines:
        result.update(baselines(net, scheme, batch_size))
    return result


def result_key(
    model: str,
    data: str | None,
    scheme: Scheme,
    images: int,
    chips: int,
    seed: int,
    calibration_images: int | None,
) -> dict[str, str]:
    """The CSV key of a result (``images``: the number of test images evaluated)."""
    return {
        "model": str(model),
        "data": "" if data is None else str(data),
        "scheme_hash": scheme_hash(scheme),
        "images": str(images),
        "chips": str(chips),
        "seed": str(seed),
        "calibration_images": "all" if calibration_images is None else str(calibration_images),
    }


def row_to_result(row: dict[str, str]) -> dict:
    """A stored CSV row back as a result dict (numbers parsed)."""
    out: dict = dict(row)
    for name in ("accuracy_mean", "accuracy_std", "baseline_float", "baseline_quantized", "seconds"):
        if row.get(name, "") != "":
            out[name] = float(row[name])
    for name in ("accuracies", "digital_layers"):
        if row.get(name):
            out[name] = json.loads(row[name])
    for name in ("chips", "seed", "images"):
        if row.get(name, "").lstrip("-").isdigit():
            out[name] = int(row[name])
    return out


def run_cached(
    store: ResultsCSV | None,
    key: dict,
    compute: Callable[[], dict],
    extra: dict | None = None,
) -> tuple[dict, bool]:
    """The stored result of ``key`` if ``store`` holds it, else ``compute()`` stored at once; (result, cached)."""
    if store is not None:
        row = store.find(key)
        if row is not None:
            return row_to_result(row), True
    result = compute()
    if store is not None:
        store.add({**(extra or {}), **key, **result})
    return result, False

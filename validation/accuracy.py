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

import contextlib
import datetime
import hashlib
import json
import os
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo.engine import no_tf32, resolve_device
from aimc.montecarlo.layers import analog_layers, calibrate_inputs, convert, reprogram, unconverted_layers
from torch import nn
from tqdm import tqdm

from aimc import __version__
from aimc.results import ResultsCSV, current_versions, is_current, read_csv, row_versions, set_resume_note
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
KEY_FIELDS = ("model", "data", "calibration", "scheme_hash", "images", "chips", "seed", "calibration_images")
"""Columns that identify an accuracy result in a CSV (``data`` and ``calibration``: the files given, "" for the
model's own; a row written before ``calibration`` was a column reads as "", the model's own set). The code
that made a row is its version (:data:`aimc.results.VERSION_FIELDS`): the tables are versioned, so a row of
another version is stale and computed again."""
UNFINISHED = "unfinished"
"""The start of the ``error_message`` of a row that holds the first chips of a result (resumed there)."""
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
    identity: dict = field(default_factory=dict)
    """Hashes of the weights, test images and calibration images (:func:`network_identity`), made once."""

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
    if images > len(pool):
        raise ValueError(f"--images: {images} asked, the test set holds {len(pool)}")
    labels = [dataset.samples[i][1] for i in pool]
    return [pool[i] for i in balanced_subset(labels, images, seed)]


def _load_calibration_file(path: str | os.PathLike) -> torch.Tensor:
    """Calibration images from a ``.pt`` uint8 tensor [N, 3, H, W] or an ImageFolder-layout zip."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--calibration: {path} not found")
    if path.suffix == ".pt":
        try:
            images = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise ValueError(f"--calibration: {path} is not a torch tensor file ({type(e).__name__})") from None
        if isinstance(images, dict):
            images = images.get("images")
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(
                f"--calibration: {path} must hold a uint8 tensor [N, 3, H, W] (or {{'images': ...}})"
            )
        return images
    if path.suffix == ".zip":
        return load_images(_named("--calibration", lambda: ZipImageFolder(path)))[0]
    raise ValueError(f"--calibration: {path} must be a .pt tensor or an ImageFolder .zip")


def _pick(images: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    """A seeded pick of ``n`` of the images (all if n is None or their number); more than there are is refused."""
    if n is not None and n > len(images):
        raise ValueError(f"--calibration-images: {n} asked, the calibration set holds {len(images)}")
    if n is None or n == len(images):
        return images
    if n < 1:
        raise ValueError(f"--calibration-images: must be >= 1, got {n}")
    order = np.random.default_rng(seed).permutation(len(images))[:n]
    return images[torch.as_tensor(np.sort(order))]


def _named(flag: str, build: Callable):
    """``build()``, with any error it raises about its files as one ValueError naming ``flag``."""
    try:
        return build()
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{flag}: {e}") from None


def _check_zip(flag: str, path: str | os.PathLike) -> None:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{flag}: no such file {str(path)!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{flag}: {str(path)!r} is not a zip archive; allowed: an ImageFolder-layout zip of images")


def check_network_arguments(
    model: str,
    *,
    data: str | os.PathLike | None = None,
    val_map: str | os.PathLike | None = None,
    calibration: str | os.PathLike | None = None,
    calibration_images: int | None = CALIBRATION_IMAGES,
    images: int | None = None,
    seed: int = 0,
    shared_dir: str | os.PathLike | None = None,
) -> None:
    """Refuse at once, naming the flag, what :func:`load_network` could refuse only after reading files: counts
    below 1, a negative seed, a missing or unreadable model, data, labels or calibration file, a file of the
    wrong kind (not a zip, not a .pt/.pth), a missing shared folder. Nothing is loaded."""
    for flag, value in (("--images", images), ("--calibration-images", calibration_images)):
        if value is not None and value < 1:
            raise ValueError(f"{flag}: must be >= 1, got {value}")
    if seed < 0:
        raise ValueError(f"--seed: must be >= 0, got {seed}")
    if model in REFERENCE_MODELS:
        spec = reference_model(model)
        _named("--model", lambda: shared_file("models", spec.file, shared_dir))
        if data is None:
            _named("--data", lambda: shared_file("data", spec.test_zip, shared_dir))
        else:
            _check_zip("--data", data)
        if calibration is None:
            _named("--calibration", lambda: shared_file("data", spec.calibration_zip, shared_dir))
    else:
        _check_weight_file(model, data)
    if val_map is not None and not Path(val_map).is_file():
        raise FileNotFoundError(f"--val-map: no such file {str(val_map)!r}")
    if calibration is not None:
        if Path(calibration).suffix not in (".pt", ".zip"):
            raise ValueError(f"--calibration: {str(calibration)!r} must be a .pt tensor or an ImageFolder .zip")
        if Path(calibration).suffix == ".zip":
            _check_zip("--calibration", calibration)
        elif not Path(calibration).is_file():
            raise FileNotFoundError(f"--calibration: no such file {str(calibration)!r}")


def _check_weight_file(model: str, data: str | os.PathLike | None) -> None:
    """The ImageNet path: a .pt/.pth file and a folder or zip of images."""
    if Path(model).suffix not in (".pt", ".pth"):
        raise ValueError(f"--model: {model!r} is neither a reference model ({', '.join(sorted(REFERENCE_MODELS))}) "
                         "nor a .pt/.pth state dict")
    if not Path(model).is_file():
        raise FileNotFoundError(f"--model: no such weight file {model!r}")
    if data is None:
        raise ValueError("--data: the ImageNet path (--model PATH) needs --data, a folder or zip of "
                         "ILSVRC2012 validation images")
    if Path(data).is_file():
        _check_zip("--data", data)
    elif not Path(data).is_dir():
        raise FileNotFoundError(f"--data: no such file or folder {str(data)!r}")


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
    progress: bool = True,
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
        progress: a progress bar while many images are decoded.
    """
    check_network_arguments(model, data=data, val_map=val_map, calibration=calibration,
                            calibration_images=calibration_images, images=images, seed=seed, shared_dir=shared_dir)
    dev = resolve_device(device)
    if model in REFERENCE_MODELS:
        x, y, cal, (mean, std) = _reference_images(model, data, calibration, calibration_images, images, seed,
                                                    shared_dir, progress)
    else:
        x, y, cal = _imagenet_images(data, val_map, calibration, calibration_images, images, seed, progress)
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


def _reference_images(model, data, calibration, calibration_images, images, seed, shared_dir, progress) -> tuple:
    """(test images, labels, calibration images, (mean, std)) of a reference model."""
    spec = reference_model(model)
    test = _named("--data", lambda: ZipImageFolder(data if data is not None else
                                                 shared_file("data", spec.test_zip, shared_dir)))
    if test.classes and len(test.classes) != spec.num_classes:
        raise ValueError(f"--data: {len(test.classes)} classes, but {model} has {spec.num_classes} outputs")
    x, y = load_images(test, _take(test, images, seed), progress)
    cal = _load_calibration_file(calibration) if calibration is not None else calibration_set(model, shared_dir)[0]
    return x, y, _pick(cal, calibration_images, CALIBRATION_SEED), (spec.mean, spec.std)


def _imagenet_images(data, val_map, calibration, calibration_images, images, seed, progress) -> tuple:
    """(test images, labels, calibration images) of the ImageNet path; unless a calibration file is given,
    the calibration images are a seeded, class-balanced pick held out of ``data``."""
    if data is None:
        raise ValueError("--data: the ImageNet path (--model PATH) needs --data, a folder or zip of "
                         "ILSVRC2012 validation images")
    path = Path(data)
    if path.is_dir():
        dataset = _named("--data", lambda: ImageNetValFolder(path, val_map))
    elif path.is_file():
        dataset = _named("--data", lambda: ImageNetValZip(path, val_map))
    else:
        raise FileNotFoundError(f"--data: {path} not found")
    held: list[int] = []
    if calibration is not None:
        cal = _pick(_load_calibration_file(calibration), calibration_images, CALIBRATION_SEED)
    else:
        n_cal = min(calibration_images or CALIBRATION_IMAGES, len(dataset) - 1)
        held = balanced_subset(dataset.targets, n_cal, CALIBRATION_SEED)
        cal = load_images(dataset, held, progress)[0]
    x, y = load_images(dataset, _take(dataset, images, seed, held), progress)
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
    read_noise_mode: str | None = None,
) -> nn.Module:
    """The analog network of ``scheme`` calibrated on ``net``'s calibration images, chip 0 of ``seed``.

    ``read_noise_mode``: ``per_device`` (reference) or ``output_referred`` (the engine's equivalent
    Gaussian draw per column current; see :mod:`aimc.montecarlo.engine`); None (default): output-referred
    wherever it is identical in distribution (no wire resistance), per-device otherwise.
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
    start_chip: int = 0,
    on_chip: Callable[[list[float]], None] | None = None,
    errors_in: Callable[[str], bool] | None = None,
) -> list[float]:
    """Top-1 accuracy of chips ``start_chip`` .. ``chips - 1`` (chip c: :func:`chip_seed` ``(seed, c)``).

    ``on_chip(accuracies)`` is called after each chip with the accuracies so far (to store them at once). The
    progress bar shows the calibration first (its elapsed time ticking), then the images of every chip.
    ``errors_in(layer name)``: only the layers it accepts carry device errors (:func:`reprogram`).
    """
    if chips < 1:
        raise ValueError(f"--chips: must be >= 1, got {chips}")
    if batch_size < 1:
        raise ValueError(f"--batch-size: must be >= 1, got {batch_size}")
    accuracies: list[float] = []
    label = description or "analog accuracy"
    with tqdm(total=(chips - start_chip) * len(net.labels), desc=f"{label}: calibrating on "
              f"{len(net.calibration)} images", unit="img", disable=not progress, leave=False) as bar:
        with _ticking(bar):
            analog = convert_network(net, scheme, seed, budget)
        bar.set_description(label)
        if errors_in is not None and not any(errors_in(layer.name) for layer in analog_layers(analog)):
            raise ValueError(f"errors_in: no analog layer of {net.name} is selected; its layers are "
                             f"{[layer.name for layer in analog_layers(analog)][:4]} ...")
        for chip in range(start_chip, chips):
            if chip > 0 or errors_in is not None:
                reprogram(analog, chip_seed(seed, chip), errors_in)
            accuracies.append(_correct(analog, net, batch_size, bar) / len(net.labels))
            bar.set_postfix(chip=chip, top1=f"{accuracies[-1]:.4f}")
            if on_chip is not None:
                on_chip(accuracies)
    return accuracies


@contextlib.contextmanager
def _ticking(bar: tqdm, interval: float = 1.0) -> Iterator[None]:
    """Refresh ``bar`` every ``interval`` seconds while the block runs (a step with no count of its own)."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    if not bar.disable:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()


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
    done: Sequence[float] = (),
    on_chip: Callable[[list[float]], None] | None = None,
    errors_in: Callable[[str], bool] | None = None,
) -> dict:
    """Accuracy of ``scheme`` over ``chips`` chips, with the baselines: the result dict of ``aimc accuracy``.

    ``digital_layers``: what the conversion leaves digital (:func:`aimc.montecarlo.layers.unconverted_layers`:
    LayerNorms, attention products, loose parameters; empty for the ResNet-50s), as ``"name: kind"``.
    """
    start = time.perf_counter()
    done = list(done)  # chips of an earlier, interrupted run: resumed at the first one missing
    per_chip = done + evaluate_chips(
        net,
        scheme,
        chips,
        seed,
        batch_size=batch_size,
        progress=progress,
        description=description,
        budget=budget,
        start_chip=len(done),
        on_chip=None if on_chip is None else (lambda new: on_chip(done + new)),
        errors_in=errors_in,
    )
    seconds = time.perf_counter() - start
    if chips == 1 and errors_in is None and scheme_hash(scheme) == scheme_hash(quantized_scheme(scheme)):
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
    calibration: str | None = None,
) -> dict[str, str]:
    """The CSV key of a result (``images``: the number of test images evaluated)."""
    return {
        "model": str(model),
        "data": "" if data is None else str(data),
        "calibration": "" if calibration is None else str(calibration),
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


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_stored(
    store: ResultsCSV | None,
    key: dict,
    network: Callable[[], Network],
    scheme: Scheme,
    *,
    chips: int,
    seed: int = 0,
    batch_size: int = 128,
    progress: bool = True,
    description: str = "",
    extra: dict | None = None,
    log: Callable[[str], None] = _stderr,
    reuse: bool = True,
) -> tuple[dict, bool]:
    """The result of ``key``: its stored row if the current code finished it, else computed and stored.

    Every finished chip is stored at once (a row whose ``error_message`` says :data:`UNFINISHED`), so an
    interrupted run keeps its chips and the next one resumes at the first chip missing, not chip 0. A row of
    another code version is stale: ``log`` says so and the result is computed afresh. ``reuse`` False
    computes whatever is stored (a rerun). ``network()`` is called only when there is work. Returns
    (result, cached); every stored row carries :func:`provenance`.
    """
    row = None if store is None else store.find(key)
    if reuse and row is not None and store.finished(key):
        return row_to_result(row), True
    done, before = _stored_chips(row, chips, log) if reuse else ([], 0.0)
    net = network()
    where = {**(extra or {}), **key}

    def keep(per_chip: list[float]) -> None:
        if store is None or len(per_chip) == chips:
            return
        store.add({**where, "accuracies": per_chip, "chips_done": len(per_chip), **provenance(net, scheme),
                   "error_message": f"{UNFINISHED}: {len(per_chip)} of {chips} chips"})
        set_resume_note(f"kept {len(per_chip)} of {chips} chips in {store.path}; the same command resumes at "
                        f"chip {len(per_chip)}")

    result = accuracy_for_scheme(net, scheme, chips=chips, seed=seed, batch_size=batch_size, progress=progress,
                                 description=description, done=done, on_chip=keep)
    result["seconds"] = round(result["seconds"] + before, 3)
    result["resumed_at_chip"] = len(done)
    if store is not None:
        store.add({**where, **result, "chips_done": chips, **provenance(net, scheme), "error_message": ""})
        set_resume_note("")
    return result, False


def _stored_chips(row: dict | None, chips: int, log: Callable[[str], None]) -> tuple[list[float], float]:
    """The chips (and seconds) an interrupted run of the current code stored for this result; a stale or
    failed row gives none."""
    if row is None:
        return [], 0.0
    if not is_current(row):
        versions = row_versions(row)
        log(f"the stored row of this result is stale (engine version {versions['engine_version']}, scheme "
            f"version {versions['scheme_version']}; this code: {current_versions()['engine_version']}, "
            f"{current_versions()['scheme_version']}): computing it again")
        return [], 0.0
    if not str(row.get("error_message", "")).startswith(UNFINISHED):
        return [], 0.0
    kept = json.loads(row.get("accuracies") or "[]")[:chips]
    if kept:
        log(f"resuming at chip {len(kept)} of {chips} (chips 0-{len(kept) - 1} were stored)")
    seconds = float(row.get("seconds") or 0.0)
    return [float(a) for a in kept], seconds


# ---------------------------------------------------------------------------------------------------------
# Rows that describe themselves
# ---------------------------------------------------------------------------------------------------------


def _tensor_hash(named: Sequence[tuple[str, torch.Tensor]]) -> str:
    digest = hashlib.sha256()
    for name, tensor in named:
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def network_identity(net: Network) -> dict[str, str]:
    """Hashes that identify what a result was computed on, whatever files it came from: ``model_hash`` (the
    float network's weights and buffers, in state-dict order), ``data_hash`` (the test images and labels, in
    order), ``calibration_hash`` (the calibration images). Computed once per network."""
    if not net.identity:
        net.identity.update(
            model_hash=_tensor_hash(list(net.model.state_dict().items())),
            data_hash=_tensor_hash([("images", net.images), ("labels", net.labels)]),
            calibration_hash=_tensor_hash([("calibration", net.calibration)]),
        )
    return dict(net.identity)


def device_description(device: torch.device) -> str:
    """The device a result ran on: the GPU's name, or the CPU and its torch threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def provenance(net: Network, scheme: Scheme) -> dict[str, str]:
    """The columns that let a row be read back and re-run from its file alone: the full scheme (its JSON), the
    identity of the network and images (:func:`network_identity`), the package and code versions
    (:func:`aimc.results.current_versions`), the device and the time the row was written (UTC)."""
    return {
        "scheme_json": scheme.to_json(indent=None),
        **network_identity(net),
        "aimc_version": __version__,
        **current_versions(),
        "device": device_description(net.device),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass(frozen=True)
class RowRequest:
    """What a stored row asks for, read from its file alone (:func:`row_request`)."""

    model: str
    data: str | None
    calibration: str | None
    scheme: Scheme
    images: int
    chips: int
    seed: int
    calibration_images: int | None
    row: dict
    path: str = ""
    number: int = 0


def row_numbers(spec: str) -> tuple[str, list[int]]:
    """``FILE:ROWS`` as the file and its row numbers (ROWS: ``N``, or a list such as ``1,4-9``; 1 = the first
    row after the header). ValueError naming ``--from-row`` for anything else."""
    path, sep, rows = str(spec).rpartition(":")
    numbers: list[int] = []
    for part in rows.split(",") if sep else ["?"]:
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()) or int(low) < 1 or int(high or low) < int(low):
            raise ValueError(f"--from-row: expected FILE:N or FILE:N,M-K with N >= 1 (row numbers after the "
                             f"header); got {spec!r}")
        numbers += range(int(low), int(high or low) + 1)
    return path, numbers


def row_request(spec: str) -> RowRequest:
    """The request of row N of a results CSV, ``FILE:N`` (N = 1 for the first row after the header).

    The scheme is the row's ``scheme_json``; a row written before that column (the experiments' rows)
    gives its experiment and point, whose scheme is rebuilt from the experiment's definition. Either way the
    scheme must have the row's ``scheme_hash``. ValueError naming ``--from-row`` otherwise.
    """
    path, (number, *more) = row_numbers(spec)
    if more:
        raise ValueError(f"--from-row: one row at a time here; got {spec!r}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"--from-row: no such file {path!r}")
    rows = read_csv(path)
    if int(number) > len(rows):
        raise ValueError(f"--from-row: {path} has {len(rows)} rows; got row {number}")
    row = rows[int(number) - 1]
    missing = [c for c in ("model", "scheme_hash", "images", "chips", "seed") if not row.get(c)]
    if missing:
        raise ValueError(f"--from-row: row {number} of {path} lacks {', '.join(missing)}: not an accuracy result")
    scheme = row_scheme(row, f"row {number} of {path}")
    calibration_images = row.get("calibration_images", str(CALIBRATION_IMAGES))
    return RowRequest(row["model"], row.get("data") or None, row.get("calibration") or None, scheme,
                      int(row["images"]), int(row["chips"]), int(row["seed"]),
                      None if calibration_images == "all" else int(calibration_images), row, path, number)


_RESULT_COLUMNS = ("accuracy_mean", "accuracy_std", "accuracies", "seconds", "baseline_float", "baseline_quantized",
                   "digital_layers")


def replace_row(path: str | os.PathLike, row: dict, result: dict, net: Network, scheme: Scheme) -> None:
    """Replace ``row`` of the results CSV ``path`` by its re-run ``result``: the row's own columns (its
    experiment, point, overrides, ...) kept, its result, versions and provenance new, its place in the file
    kept. The row is found by the experiments' key (experiment, point, ...) or by :data:`KEY_FIELDS`."""
    from .experiments import POINT_KEY  # the experiments' tables: rows named by experiment and point

    fields = POINT_KEY if row.get("experiment") and row.get("point") else KEY_FIELDS
    order = {tuple(r.get(f, "") for f in fields): i for i, r in enumerate(read_csv(path))}
    table = ResultsCSV(path, fields, versioned=True, sort_key=lambda r: order.get(tuple(r.get(f, "") for f in fields),
                                                                                   len(order)))
    new = {**row, **{name: result[name] for name in _RESULT_COLUMNS if name in result}, **provenance(net, scheme),
           "error_message": ""}
    table.add(new)


def row_scheme(row: dict, where: str, flag: str = "--from-row") -> Scheme:
    """The scheme of a stored result row (its ``scheme_json``, or its experiment's definition), checked
    against the row's ``scheme_hash``; ValueError naming ``flag`` and ``where`` otherwise."""
    if row.get("scheme_json"):
        scheme = Scheme.from_json(row["scheme_json"])
    elif row.get("experiment") and row.get("point"):
        from .experiments import point_scheme  # rows written before scheme_json: the experiment's definition

        scheme = point_scheme(f"{row['experiment']}/{row['point']}")
    else:
        raise ValueError(f"{flag}: {where} holds neither scheme_json nor an experiment and point")
    if scheme_hash(scheme) != row["scheme_hash"]:
        raise ValueError(f"{flag}: {where} has scheme hash {row['scheme_hash']}, but its scheme hashes to "
                         f"{scheme_hash(scheme)} (the experiment's definition changed since the row was made)")
    return scheme

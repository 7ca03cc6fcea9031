"""The reference network for the network-level figures: the Tiny-ImageNet ResNet-50 and its images.

Needs the shared folder (``../shared``, or ``$AIMC_SHARED``); without it the figures that use it are
skipped with a message saying what is missing.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._base import FigureSkipped

__all__ = ["MODEL", "calibration_images", "folded_model", "matrix_layers", "model"]

MODEL = "resnet50-tinyimagenet"
"""The main reference model (``shared/models/README.md``): the stand-in for the paper's ImageNet ResNet-50."""


def _load() -> nn.Module:
    from aimc.validation.models import load_reference_model

    try:
        return load_reference_model(MODEL)
    except FileNotFoundError as e:
        raise FigureSkipped(f"the reference model {MODEL} is not available ({e})") from None


def folded_model() -> nn.Module:
    """The float model with every BatchNorm folded into its convolution (:func:`aimc.montecarlo.fold_batchnorm`)."""
    from aimc.montecarlo import fold_batchnorm

    return fold_batchnorm(copy.deepcopy(_load()).eval())


def model() -> nn.Module:
    return _load()


def matrix_layers(net: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(name, weight matrix [outputs, fan-in]) of every Conv2d and Linear, in execution order (54)."""
    return [(name, m.weight.detach().reshape(m.weight.shape[0], -1).to(torch.float64))
            for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def calibration_images(count: int, crop: int | None = None) -> torch.Tensor:
    """``count`` calibration images, evenly strided over the 500 (all classes), normalised for the model.

    ``crop``: keep only the central crop x crop pixels (quick runs: fewer positions per convolution).
    """
    from aimc.validation.data import calibration_set, normalise
    from aimc.validation.models import reference_model

    try:
        images, _ = calibration_set(MODEL)
    except FileNotFoundError as e:
        raise FigureSkipped(f"the calibration images of {MODEL} are not available ({e})") from None
    stride = max(1, len(images) // count)
    spec = reference_model(MODEL)
    images = images[::stride][:count]
    if crop is not None:
        top, left = (images.shape[2] - crop) // 2, (images.shape[3] - crop) // 2
        images = images[:, :, top : top + crop, left : left + crop]
    return normalise(images, spec.mean, spec.std)

"""ResNet-50 (torchvision layout), a small vision transformer, and the reference models trained for the
validation layer.

The networks are written here from their architectures so that torchvision is not needed. ResNet-50's
``state_dict`` keys and shapes are exactly those of ``torchvision.models.resnet50``, so torchvision-format
weight files load with ``strict=True``; the vision transformer (:class:`VisionTransformer`) is built from
plain torch modules (``nn.TransformerEncoder``), with the keys of the reference file ``vit_cifar10.pt``.

Reference weights live outside the repository in the shared folder (``<shared>/models/``); see
:func:`find_shared_dir` for how it is located.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

# Bottleneck output channels = EXPANSION x the block's inner width.
EXPANSION = 4
# (inner width, number of blocks, stride of the first block) for layer1..layer4.
RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
SHARED_ENV_VAR = "AIMC_SHARED"
REPO_ROOT = Path(__file__).resolve().parents[1]


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: 1x1 reduce, 3x3 (carries the stride), 1x1 expand, plus shortcut.

    The shortcut is the identity, or ``downsample = Sequential(conv1x1(stride), BatchNorm)`` when
    the stride or the channel count changes.
    """

    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width * EXPANSION
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + shortcut)


class ResNet50(nn.Module):
    """ResNet-50 with torchvision's module names (``conv1, bn1, layer1..layer4, fc``).

    Args:
        num_classes: number of output logits.
        small_stem: if True, ``conv1`` is a 3x3 stride-1 padding-1 convolution (for 32x32 or
            64x64 inputs) instead of the ImageNet 7x7 stride-2 padding-3 one; both have no bias.
        maxpool: if False, the 3x3 stride-2 max-pool after the stem is replaced by ``nn.Identity``.
    """

    def __init__(self, num_classes: int = 1000, small_stem: bool = False, maxpool: bool = True) -> None:
        super().__init__()
        if small_stem:
            self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if maxpool else nn.Identity()
        in_channels = 64
        for index, (width, blocks, stride) in enumerate(RESNET50_STAGES, start=1):
            layer = [Bottleneck(in_channels, width, stride)]
            layer += [Bottleneck(width * EXPANSION, width, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*layer))
            in_channels = width * EXPANSION
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """He (fan-out) initialisation for convolutions; BatchNorm starts as the identity."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalised float batch [N, 3, H, W] to logits [N, num_classes]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(num_classes: int = 1000, small_stem: bool = False, maxpool: bool = True) -> ResNet50:
    """A randomly initialised :class:`ResNet50` (25,557,032 parameters with the ImageNet defaults)."""
    return ResNet50(num_classes=num_classes, small_stem=small_stem, maxpool=maxpool)


class VisionTransformer(nn.Module):
    """The reference vision transformer (``vit_cifar10.pt``): patches, class token, pre-norm encoder.

    ``patch``: a Conv2d of kernel and stride ``patch_size`` ((image / patch_size)^2 tokens of ``width``);
    a learned class token ``cls`` [1, 1, width] is prepended and a learned position embedding ``pos``
    [1, tokens + 1, width] added; ``encoder``: ``depth`` pre-norm ``nn.TransformerEncoderLayer`` (``heads``
    heads, GELU MLP of ``mlp_width``, no dropout, batch first); ``norm``: a LayerNorm of the class token's
    output; ``head``: its Linear classifier. 4,249,354 parameters with the defaults (32x32 images).
    """

    def __init__(self, num_classes: int = 10, image_size: int = 32, patch_size: int = 4, width: int = 256,
                 depth: int = 8, heads: int = 4, mlp_width: int = 512) -> None:
        super().__init__()
        tokens = (image_size // patch_size) ** 2
        self.patch = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(0.02 * torch.randn(1, tokens + 1, width))
        layer = nn.TransformerEncoderLayer(d_model=width, nhead=heads, dim_feedforward=mlp_width, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalised float batch [N, 3, H, W] to logits [N, num_classes]."""
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        return self.head(self.norm(self.encoder(t))[:, 0])


@dataclass(frozen=True)
class ReferenceModel:
    """A reference network trained for the validation layer, and how to feed it.

    Attributes:
        name: registry key.
        file: weight file name in ``<shared>/models/`` (float16 state dict, loaded strictly).
        num_classes: number of output logits.
        architecture: builds the randomly initialised network from ``num_classes``.
        mean: per-channel RGB mean applied after dividing pixels by 255.
        std: per-channel RGB standard deviation applied after dividing pixels by 255.
        test_zip: test set in ``<shared>/data/`` (ImageFolder layout zip); images are fed at their
            stored size, without resizing.
        calibration_zip: zip in ``<shared>/data/`` the calibration images come from.
        calibration_images: None to use every image of ``calibration_zip``; otherwise the size
            of a fixed, seeded, class-balanced pick from it (see ``aimc.validation.data``).
        published_top1: digital float32 top-1 accuracy on the full test set, as a fraction.
    """

    name: str
    file: str
    num_classes: int
    architecture: Callable[[int], nn.Module]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    test_zip: str
    calibration_zip: str
    calibration_images: int | None
    published_top1: float

    def build(self) -> nn.Module:
        """A randomly initialised network of this model's architecture."""
        return self.architecture(self.num_classes)


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    model.name: model
    for model in (
        ReferenceModel(
            name="resnet50-tinyimagenet",
            file="resnet50_tinyimagenet.pt",
            num_classes=200,
            architecture=partial(resnet50, small_stem=True, maxpool=True),
            mean=(0.4802, 0.4481, 0.3975),
            std=(0.2770, 0.2691, 0.2821),
            test_zip="tinyimagenet-val.zip",
            calibration_zip="tinyimagenet-calibration-500.zip",
            calibration_images=None,
            published_top1=0.6327,
        ),
        ReferenceModel(
            name="resnet50-cifar10",
            file="resnet50_cifar10.pt",
            num_classes=10,
            architecture=partial(resnet50, small_stem=True, maxpool=False),
            mean=(0.4914, 0.4822, 0.4465),
            std=(0.2470, 0.2435, 0.2616),
            test_zip="cifar10-test.zip",
            calibration_zip="cifar10-train.zip",
            calibration_images=500,
            published_top1=0.9183,
        ),
        ReferenceModel(
            name="vit-cifar10",
            file="vit_cifar10.pt",
            num_classes=10,
            architecture=VisionTransformer,
            mean=(0.4914, 0.4822, 0.4465),
            std=(0.2470, 0.2435, 0.2616),
            test_zip="cifar10-test.zip",
            calibration_zip="cifar10-train.zip",
            calibration_images=500,
            published_top1=0.7723,
        ),
    )
}


def reference_model(name: str) -> ReferenceModel:
    """The registry entry ``name``; ValueError naming the allowed names otherwise."""
    if name not in REFERENCE_MODELS:
        raise ValueError(f"model name {name!r} is not a reference model; allowed: {sorted(REFERENCE_MODELS)}")
    return REFERENCE_MODELS[name]


def _shared_candidates() -> list[Path]:
    """Shared folders to try, in order: $AIMC_SHARED alone if set, else ../shared of repo and cwd."""
    if os.environ.get(SHARED_ENV_VAR):
        return [Path(os.environ[SHARED_ENV_VAR])]
    return [REPO_ROOT.parent / "shared", Path.cwd().parent / "shared"]


def find_shared_dir(shared_dir: str | os.PathLike | None = None) -> Path:
    """Locate the shared folder holding ``data/`` and ``models/``.

    Order: the ``shared_dir`` argument (used as given); else the environment variable
    ``AIMC_SHARED``; else ``../shared`` next to the repository root, then ``../shared`` relative to
    the current directory. Raises FileNotFoundError listing what was tried when none exists.
    """
    if shared_dir is not None:
        return Path(shared_dir)
    candidates = _shared_candidates()
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the shared folder of the reference models and data was not found (tried "
        f"{', '.join(map(str, candidates))}); set the environment variable {SHARED_ENV_VAR} to the folder that "
        "holds data/ and models/"
    )


def shared_file(subdir: str, file: str, shared_dir: str | os.PathLike | None = None) -> Path:
    """Path of ``<shared>/<subdir>/<file>``; FileNotFoundError naming the path if it is missing."""
    path = find_shared_dir(shared_dir) / subdir / file
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; set the environment variable {SHARED_ENV_VAR} to the folder that holds "
            f"{subdir}/{file}"
        )
    return path


def _load_state_dict(model: nn.Module, path: Path) -> nn.Module:
    """Load a state dict file into ``model`` (floating tensors cast to float32), strict; eval mode.

    ValueError naming ``--model`` for a file that is not a torch state dict of this architecture."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise ValueError(f"--model: {path} is not a torch state dict file ({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"--model: {path} does not hold a state dict (a mapping of names to tensors)")
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ValueError(f"--model: {path} does not fit the model's architecture ({first})") from None
    return model.eval()


def load_reference_model(name: str, shared_dir: str | os.PathLike | None = None) -> nn.Module:
    """The trained reference model ``name`` (a key of REFERENCE_MODELS), float32, in eval mode.

    Weights are read from ``<shared>/models/<file>`` (see :func:`find_shared_dir`).
    """
    spec = reference_model(name)
    return _load_state_dict(spec.build(), shared_file("models", spec.file, shared_dir))


def load_model(spec: str | os.PathLike, shared_dir: str | os.PathLike | None = None) -> nn.Module:
    """A float32 eval-mode network from a registry name, or a ResNet-50 from a torchvision-format weight file.

    Args:
        spec: a key of REFERENCE_MODELS, or the path of a ``.pt``/``.pth`` state dict of a
            standard ImageNet ResNet-50 (1000 classes, 7x7 stem, max-pool), e.g. torchvision's
            ``resnet50-0676ba61.pth``. Feed the latter with the ImageNet preprocessing of
            ``aimc.validation.data``.
        shared_dir: shared folder for registry names (see :func:`find_shared_dir`).
    """
    if str(spec) in REFERENCE_MODELS:
        return load_reference_model(str(spec), shared_dir)
    path = Path(spec)
    if path.suffix not in (".pt", ".pth"):
        raise ValueError(
            f"--model: {str(spec)!r} is neither a reference model ({', '.join(sorted(REFERENCE_MODELS))}) "
            "nor a .pt/.pth state dict"
        )
    if not path.is_file():
        raise FileNotFoundError(f"--model: no such weight file {str(path)!r}")
    return _load_state_dict(resnet50(), path)

"""Real image data for the validation layer: zipped image sets, fixed subsets, preprocessing.

Conventions:
    * Images are handed around as uint8 tensors [N, 3, H, W] (RGB, 0-255, channel-first);
      greyscale or palette images are converted to RGB on decoding.
    * :func:`normalise` turns them into the float32 model input: divide by 255, then subtract the
      per-channel mean and divide by the per-channel standard deviation.
    * Labels are int64 class indices. For ImageFolder-layout data the class index is the position
      of the class folder name in sorted order (the torchvision ``ImageFolder`` convention).
    * Zips are read in place (``zipfile`` + PIL from bytes), never unpacked to disk.

ImageNet: :class:`ImageNetValZip` and :class:`ImageNetValFolder` apply the torchvision evaluation
preprocessing (resize the shorter side to 256 with PIL bilinear, center-crop 224x224); then
normalise with IMAGENET_MEAN and IMAGENET_STD. The shared ``imagenet-val-1300.zip`` copies were
pre-scaled to 227x227 by their source, not resized from the originals, so accuracies on them read
slightly below published figures.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from aimc.validation.models import reference_model, shared_file
from PIL import Image
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_RESIZE = 256  # shorter side after resizing, pixels
IMAGENET_CROP = 224  # side of the center crop, pixels
VAL_MAP_NAME = "val_map.txt"
# Seed of the class-balanced calibration pick for models whose calibration_images is set
# (CIFAR-10: 500 training images, 50 per class).
CALIBRATION_SEED = 0
# Decoding more images than this shows a progress bar.
PROGRESS_THRESHOLD = 2000


def decode_image(data: bytes) -> Image.Image:
    """Decode encoded image bytes (JPEG, PNG, ...) into an RGB PIL image."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as a uint8 tensor [3, H, W]."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def imagenet_transform(image: Image.Image) -> Image.Image:
    """Resize the shorter side to 256 (PIL bilinear), then center-crop 224x224 (torchvision rules)."""
    width, height = image.size
    if min(width, height) != IMAGENET_RESIZE:
        if width <= height:
            size = (IMAGENET_RESIZE, int(IMAGENET_RESIZE * height / width))
        else:
            size = (int(IMAGENET_RESIZE * width / height), IMAGENET_RESIZE)
        image = image.resize(size, Image.Resampling.BILINEAR)
    left = round((image.width - IMAGENET_CROP) / 2)
    top = round((image.height - IMAGENET_CROP) / 2)
    return image.crop((left, top, left + IMAGENET_CROP, top + IMAGENET_CROP))


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


class _LazyZip:
    """A zip archive opened on first read in each process, so DataLoader workers get their own."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file {str(self.path)!r}")
        if not zipfile.is_zipfile(self.path):
            raise ValueError(f"{str(self.path)!r} is not a zip archive")
        self._archive: zipfile.ZipFile | None = None
        self._pid: int | None = None

    def namelist(self) -> list[str]:
        with zipfile.ZipFile(self.path) as archive:
            return archive.namelist()

    def read(self, name: str) -> bytes:
        if self._archive is None or self._pid != os.getpid():
            self._archive = zipfile.ZipFile(self.path)
            self._pid = os.getpid()
        return self._archive.read(name)

    def __getstate__(self) -> dict:
        return {"path": self.path, "_archive": None, "_pid": None}


class _LabelledImages(Dataset):
    """Base of the datasets here: ``samples`` is a sorted list of (name, label)."""

    samples: list[tuple[str, int]]

    def _read(self, name: str) -> bytes:
        raise NotImplementedError

    def _transform(self, image: Image.Image) -> Image.Image:
        return image

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in sample order."""
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """(uint8 RGB image [3, H, W], label) of sample ``index``."""
        name, label = self.samples[index]
        return to_uint8_tensor(self._transform(decode_image(self._read(name)))), label


class ZipImageFolder(_LabelledImages):
    """An ImageFolder-layout zip, ``<root>/<class>/.../<image>``, read without unpacking.

    Args:
        zip_path: the zip file.
        root: top folder inside the zip (e.g. ``"val"``, ``"test"``); None: the only top folder
            that holds images.

    ``classes`` are the sorted class folder names (label = position in that list); ``samples``
    are (member name, label) sorted by member name. Images are returned at their stored size.
    """

    def __init__(self, zip_path: str | os.PathLike, root: str | None = None) -> None:
        self._zip = _LazyZip(zip_path)
        names = [name for name in self._zip.namelist() if _is_image(name) and name.count("/") >= 2]
        roots = sorted({name.split("/", 1)[0] for name in names})
        if root is None and len(roots) != 1:
            found = f"images under the top folders {roots}" if roots else "no images in class folders"
            raise ValueError(f"{zip_path} holds {found}; allowed: one top folder of class folders of images "
                             "(<top>/<class>/<image>, the ImageFolder layout)")
        root = roots[0] if root is None else root.strip("/")
        if root not in roots:
            raise ValueError(f"top folder {root!r} holds no class folders of images in {zip_path}; found {roots}")
        names = sorted(name for name in names if name.split("/", 1)[0] == root)
        self.root = root
        self.classes = sorted({name.split("/")[1] for name in names})
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.samples = [(name, self.class_to_idx[name.split("/")[1]]) for name in names]

    def _read(self, name: str) -> bytes:
        return self._zip.read(name)


def read_val_map(text: str) -> dict[str, int]:
    """Parse MLPerf-format ImageNet labels (lines ``<file> <label>``) into {file name: label}.

    Labels are 0-999 in sorted-synset order; file names are reduced to their base name.
    """
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {PurePosixPath(file).name: int(label) for file, label in pairs}


def _label_files(names: Sequence[str], labels: dict[str, int]) -> list[tuple[str, int]]:
    """(name, label) for each image name, sorted; ValueError if val_map lacks any of them."""
    missing = [name for name in names if PurePosixPath(name).name not in labels]
    if missing:
        raise ValueError(f"val_map has no label for {len(missing)} images, e.g. {missing[:3]}")
    return sorted((name, labels[PurePosixPath(name).name]) for name in names)


class ImageNetValZip(_LabelledImages):
    """ILSVRC2012 validation images in a zip (e.g. the shared ``imagenet-val-1300.zip``).

    Args:
        zip_path: zip holding the JPEGs (any folder) and, unless ``val_map`` is given, a
            ``val_map.txt``.
        val_map: an external MLPerf-format label file, e.g. ``imagenet-val_map-50000.txt``;
            None: the zip's own ``val_map.txt``.

    Items are (uint8 [3, 224, 224], label) after :func:`imagenet_transform`; normalise them with
    IMAGENET_MEAN and IMAGENET_STD.
    """

    def __init__(self, zip_path: str | os.PathLike, val_map: str | os.PathLike | None = None) -> None:
        self._zip = _LazyZip(zip_path)
        members = self._zip.namelist()
        if val_map is None:
            map_names = [name for name in members if PurePosixPath(name).name == VAL_MAP_NAME]
            if not map_names:
                raise ValueError(f"{zip_path} holds no {VAL_MAP_NAME}; give the labels as a separate file (--val-map)")
            text = self._zip.read(map_names[0]).decode()
        else:
            text = Path(val_map).read_text()
        self.samples = _label_files([name for name in members if _is_image(name)], read_val_map(text))

    def _read(self, name: str) -> bytes:
        return self._zip.read(name)

    def _transform(self, image: Image.Image) -> Image.Image:
        return imagenet_transform(image)


class ImageNetValFolder(_LabelledImages):
    """ILSVRC2012 validation images as a plain folder of JPEGs (e.g. the full 50,000-image set).

    Args:
        folder: directory holding the images directly (not in class subfolders).
        val_map: MLPerf-format label file; None: ``<folder>/val_map.txt``.

    Items are as for :class:`ImageNetValZip`.
    """

    def __init__(self, folder: str | os.PathLike, val_map: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{str(self.folder)!r} is not a directory")
        val_map = self.folder / VAL_MAP_NAME if val_map is None else Path(val_map)
        if not val_map.is_file():
            raise FileNotFoundError(f"no labels file {str(val_map)!r}; give one with --val-map")
        names = [path.name for path in self.folder.iterdir() if _is_image(path.name)]
        self.samples = _label_files(names, read_val_map(val_map.read_text()))

    def _read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def _transform(self, image: Image.Image) -> Image.Image:
        return imagenet_transform(image)


def load_images(dataset: Dataset, indices: Sequence[int] | None = None,
                progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``dataset[i]`` for each index (all if None) into (uint8 [N, 3, H, W], int64 [N]).

    All images must have the same size. A progress bar is shown above PROGRESS_THRESHOLD images, unless
    ``progress`` is False.
    """
    indices = range(len(dataset)) if indices is None else indices
    images, labels = [], []
    quiet = not progress or len(indices) <= PROGRESS_THRESHOLD
    for index in tqdm(indices, desc="decoding images", disable=quiet):
        image, label = dataset[index]
        images.append(image)
        labels.append(label)
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)


def balanced_subset(labels: Sequence[int] | np.ndarray | torch.Tensor, n: int, seed: int) -> list[int]:
    """A fixed, seeded, class-balanced pick of ``n`` indices into ``labels``, sorted ascending.

    Per-class counts differ by at most one, except where a class runs out of images (its
    remainder is spread over the others). The classes receiving the extra image and the images
    themselves are drawn from ``numpy.random.default_rng(seed)``: the same labels, ``n`` and
    ``seed`` always give the same indices, and the pick for ``n`` contains the pick for ``n - 1``.
    """
    labels = np.asarray(labels)
    if not 1 <= n <= labels.size:
        raise ValueError(f"images must be between 1 and {labels.size} (the size of the set), got {n}")
    rng = np.random.default_rng(seed)
    classes, inverse = np.unique(labels, return_inverse=True)
    rank = np.empty(labels.size, dtype=np.int64)  # position of each image in its class's draw order
    for index in range(classes.size):
        members = np.flatnonzero(inverse == index)
        rank[rng.permutation(members)] = np.arange(members.size)
    class_order = rng.permutation(classes.size)[inverse]  # seeded order of the classes within a rank
    picked = np.lexsort((class_order, rank))[:n]
    return sorted(picked.tolist())


def calibration_set(
    model_name: str, shared_dir: str | os.PathLike | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibration images of a reference model: (uint8 [N, 3, H, W], int64 labels [N]).

    Tiny-ImageNet: the 500 training images of ``tinyimagenet-calibration-500.zip``. CIFAR-10: a
    class-balanced pick of 500 images (50 per class) from ``cifar10-train.zip`` with
    ``balanced_subset(..., seed=CALIBRATION_SEED)``.
    """
    spec = reference_model(model_name)
    dataset = ZipImageFolder(shared_file("data", spec.calibration_zip, shared_dir))
    indices = None
    if spec.calibration_images is not None:
        indices = balanced_subset(dataset.targets, spec.calibration_images, CALIBRATION_SEED)
    return load_images(dataset, indices)


def load_eval_set(
    model_name: str, images: int | None = None, seed: int = 0, shared_dir: str | os.PathLike | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images of a reference model: (uint8 [N, 3, H, W], int64 labels [N]).

    Args:
        model_name: a key of ``REFERENCE_MODELS``.
        images: None for the whole test set, else the size of a ``balanced_subset`` of it.
        seed: seed of that subset.
        shared_dir: shared folder (see ``aimc.validation.models.find_shared_dir``).
    """
    spec = reference_model(model_name)
    dataset = ZipImageFolder(shared_file("data", spec.test_zip, shared_dir))
    indices = None if images is None else balanced_subset(dataset.targets, images, seed)
    return load_images(dataset, indices)


def normalise(batch_uint8: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """float32 model input ``(batch / 255 - mean) / std`` per RGB channel, for [N, 3, H, W] or [3, H, W]."""
    if batch_uint8.dtype != torch.uint8:
        raise TypeError(f"batch_uint8 must be a uint8 tensor (0-255), got {batch_uint8.dtype}")
    mean_t = torch.tensor(mean, dtype=torch.float32, device=batch_uint8.device).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=batch_uint8.device).view(-1, 1, 1)
    return (batch_uint8.float() / 255 - mean_t) / std_t


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images_uint8: torch.Tensor,
    labels: torch.Tensor | Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of ``model`` on uint8 images [N, 3, H, W].

    The model is put in eval mode and moved to ``device`` (both in place); images are normalised
    with ``mean``/``std`` batch by batch.
    """
    labels = torch.as_tensor(labels)
    if len(labels) != len(images_uint8) or len(labels) == 0:
        raise ValueError(
            f"labels ({len(labels)}) must match images_uint8 ({len(images_uint8)}) and be non-empty"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model.eval().to(device)
    correct = 0
    for start in range(0, len(labels), batch_size):
        batch = normalise(images_uint8[start : start + batch_size].to(device), mean, std)
        predictions = model(batch).argmax(dim=1).cpu()
        correct += int((predictions == labels[start : start + batch_size]).sum())
    return correct / len(labels)

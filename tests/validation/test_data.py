"""Tests of aimc.validation.data: zip readers, ImageNet preprocessing, subsets, evaluation."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from aimc.validation.data import (
    ImageNetValFolder,
    ImageNetValZip,
    ZipImageFolder,
    balanced_subset,
    calibration_set,
    evaluate,
    imagenet_transform,
    load_eval_set,
    normalise,
    read_val_map,
)
from aimc.validation.models import REFERENCE_MODELS
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader


def encoded(
    colour: tuple[int, int, int] | int, mode: str = "RGB", size: tuple[int, int] = (6, 4), fmt: str = "PNG"
) -> bytes:
    """Bytes of a uniform image (size is width x height)."""
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def folder_zip(tmp_path: Path) -> Path:
    """val/<class>/ zip: classes 'cat' (2 images, one greyscale) and 'ant' (1), plus a non-image."""
    path = tmp_path / "set.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("val/cat/2.png", encoded(200, mode="L"))
        archive.writestr("val/cat/1.png", encoded((10, 20, 30)))
        archive.writestr("val/ant/0.png", encoded((40, 50, 60)))
        archive.writestr("val/README.txt", b"not an image")
    return path


def test_zip_image_folder_classes_labels_and_pixels(folder_zip: Path) -> None:
    dataset = ZipImageFolder(folder_zip)
    assert dataset.classes == ["ant", "cat"]
    assert [name for name, _ in dataset.samples] == ["val/ant/0.png", "val/cat/1.png", "val/cat/2.png"]
    assert dataset.targets == [0, 1, 1]
    image, label = dataset[1]
    assert image.dtype == torch.uint8 and image.shape == (3, 4, 6) and label == 1
    assert image[:, 0, 0].tolist() == [10, 20, 30]
    grey, _ = dataset[2]
    assert grey.shape == (3, 4, 6) and grey[:, 0, 0].tolist() == [200, 200, 200]


def test_zip_image_folder_root_choice(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train/a/0.png", encoded((1, 2, 3)))
        archive.writestr("test/b/0.png", encoded((1, 2, 3)))
    with pytest.raises(ValueError, match="root"):
        ZipImageFolder(path)
    assert ZipImageFolder(path, root="test").classes == ["b"]
    with pytest.raises(ValueError, match="'val'"):
        ZipImageFolder(path, root="val")


def test_zip_image_folder_works_in_workers_and_pickles(folder_zip: Path) -> None:
    dataset = ZipImageFolder(folder_zip)
    dataset[0]  # opens the archive in this process before the workers start
    direct = torch.stack([dataset[i][0] for i in range(len(dataset))])
    loader = DataLoader(dataset, batch_size=1, num_workers=2)
    assert torch.equal(torch.cat([images for images, _ in loader]), direct)
    assert torch.equal(pickle.loads(pickle.dumps(dataset))[2][0], direct[2])


def test_imagenet_transform_resizes_shorter_side_then_center_crops() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (500, 200, 3), dtype=np.uint8))
    expected = image.resize((256, 640), Image.Resampling.BILINEAR).crop((16, 208, 240, 432))
    result = imagenet_transform(image)
    assert result.size == (224, 224)
    assert np.array_equal(np.asarray(result), np.asarray(expected))
    assert imagenet_transform(image.resize((227, 227))).size == (224, 224)


def test_imagenet_folder_labels_from_val_map(tmp_path: Path) -> None:
    for index, colour in ((2, 0), (1, 128)):
        (tmp_path / f"ILSVRC2012_val_{index:08d}.JPEG").write_bytes(
            encoded((colour,) * 3, size=(300, 240), fmt="JPEG")
        )
    (tmp_path / "val_map.txt").write_text(
        "ILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 970\n"
    )
    dataset = ImageNetValFolder(tmp_path)
    assert dataset.targets == [65, 970]
    image, _ = dataset[0]
    assert image.shape == (3, 224, 224) and image.dtype == torch.uint8
    (tmp_path / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 65\n")
    with pytest.raises(ValueError, match="val_map"):
        ImageNetValFolder(tmp_path)


def test_balanced_subset_is_deterministic_sorted_and_balanced() -> None:
    labels = np.repeat(np.arange(10), 100)
    picked = balanced_subset(labels, 205, seed=3)
    assert picked == balanced_subset(labels, 205, seed=3)
    assert picked != balanced_subset(labels, 205, seed=4)
    assert picked == sorted(set(picked)) and len(picked) == 205
    assert sorted(Counter(labels[picked].tolist()).values()) == [20] * 5 + [21] * 5
    assert set(balanced_subset(labels, 204, seed=3)) < set(picked)


def test_balanced_subset_spreads_exhausted_classes() -> None:
    labels = [0] * 2 + [1] * 50 + [2] * 50
    picked = balanced_subset(labels, 60, seed=0)
    assert Counter(labels[i] for i in picked) == {0: 2, 1: 29, 2: 29}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=60), st.data())
def test_balanced_subset_counts_differ_by_at_most_one(labels: list[int], data: st.DataObject) -> None:
    n = data.draw(st.integers(1, len(labels)))
    counts = Counter(labels[i] for i in balanced_subset(labels, n, seed=1))
    available = Counter(labels)
    unfilled = [counts[c] for c in available if counts[c] < available[c]]
    assert sum(counts.values()) == n
    if unfilled:
        assert max(counts.values()) - min(unfilled) <= 1


@pytest.mark.parametrize("n", [0, -3, 11])
def test_balanced_subset_rejects_bad_sizes(n: int) -> None:
    with pytest.raises(ValueError, match=r"images must be between 1 and 10"):
        balanced_subset(list(range(10)), n, seed=0)


def test_normalise_maps_pixels_per_channel() -> None:
    batch = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    out = normalise(batch, mean=(0.0, 0.5, 0.2), std=(1.0, 0.5, 0.1))
    assert out.dtype == torch.float32 and out.shape == (2, 3, 2, 2)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(TypeError, match="batch_uint8"):
        normalise(batch.float(), (0.0,) * 3, (1.0,) * 3)


class ChannelMean(nn.Module):
    """Logits = per-channel mean: predicts the brightest channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_evaluate_counts_top1_across_batches() -> None:
    brightest = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    images = torch.zeros(7, 3, 2, 2, dtype=torch.uint8)
    images[torch.arange(7), brightest] = 255
    labels = brightest.clone()
    labels[[1, 4]] = 0  # two wrong
    accuracy = evaluate(ChannelMean(), images, labels, (0.0,) * 3, (1.0,) * 3, batch_size=3)
    assert accuracy == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="labels"):
        evaluate(ChannelMean(), images, labels[:3], (0.0,) * 3, (1.0,) * 3)


@pytest.mark.parametrize(
    ("zip_name", "classes", "side"), [("tinyimagenet-val.zip", 200, 64), ("cifar10-test.zip", 10, 32)]
)
def test_shared_test_zips(zip_name: str, classes: int, side: int, shared_path) -> None:
    dataset = ZipImageFolder(shared_path("data", zip_name))
    assert len(dataset.classes) == classes and len(dataset) == 10_000
    assert set(Counter(dataset.targets).values()) == {10_000 // classes}
    for index in (0, 4321, len(dataset) - 1):
        image, label = dataset[index]
        assert image.shape == (3, side, side) and image.dtype == torch.uint8
        assert 0 <= label < classes


def test_cifar10_class_order_is_standard(shared_path) -> None:
    dataset = ZipImageFolder(shared_path("data", "cifar10-test.zip"))
    assert dataset.classes == [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]


def test_tinyimagenet_calibration_uses_model_class_order(shared_path) -> None:
    spec = REFERENCE_MODELS["resnet50-tinyimagenet"]
    calibration = ZipImageFolder(shared_path("data", spec.calibration_zip))
    assert calibration.classes == ZipImageFolder(shared_path("data", spec.test_zip)).classes
    images, labels = calibration_set("resnet50-tinyimagenet")
    assert images.shape == (500, 3, 64, 64) and labels.tolist() == calibration.targets


def test_cifar10_calibration_is_fixed_and_balanced(shared_path) -> None:
    shared_path("data", "cifar10-train.zip")
    images, labels = calibration_set("resnet50-cifar10")
    assert images.shape == (500, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [50] * 10
    again, _ = calibration_set("resnet50-cifar10")
    assert torch.equal(images, again)


def test_load_eval_set_subset_is_balanced(shared_path) -> None:
    shared_path("data", "tinyimagenet-val.zip")
    images, labels = load_eval_set("resnet50-tinyimagenet", images=400, seed=0)
    assert images.shape == (400, 3, 64, 64)
    assert torch.bincount(labels, minlength=200).tolist() == [2] * 200
    with pytest.raises(ValueError, match="10000"):
        load_eval_set("resnet50-tinyimagenet", images=10_001)


def test_imagenet_val_zip_labels_match_val_maps(shared_path) -> None:
    path = shared_path("data", "imagenet-val-1300.zip")
    external = shared_path("data", "imagenet-val_map-50000.txt")
    dataset = ImageNetValZip(path)
    labels_50000 = read_val_map(external.read_text())
    assert len(dataset) == 1300
    assert dataset.samples == ImageNetValZip(path, val_map=external).samples
    assert all(labels_50000[Path(name).name] == label for name, label in dataset.samples)
    for index in (0, 777):
        image, label = dataset[index]
        assert image.shape == (3, 224, 224) and image.dtype == torch.uint8
        assert label == labels_50000[Path(dataset.samples[index][0]).name]

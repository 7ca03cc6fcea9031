"""Tests of aimc.validation.models: architecture, registry, loaders, reference accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from aimc.validation.data import evaluate, load_eval_set
from aimc.validation.models import (
    REFERENCE_MODELS,
    find_shared_dir,
    load_model,
    load_reference_model,
    resnet50,
)
from scipy.stats import binom
from torch import nn

# Subset size of the accuracy check: large enough for a useful interval, small enough for a CPU.
ACCURACY_IMAGES = 200
CONFIDENCE = 0.999




def test_parameter_count_matches_torchvision_resnet50() -> None:
    model = resnet50(num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032


def test_state_dict_uses_torchvision_names() -> None:
    state = resnet50().state_dict()
    assert len(state) == 320  # 53 conv + 53 BN x 5 tensors + fc weight and bias
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer1.0.downsample.1.running_mean"].shape == (256,)
    assert state["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert state["fc.weight"].shape == (1000, 2048)
    assert "layer1.1.downsample.0.weight" not in state
    assert not [key for key in state if "relu" in key or "maxpool" in key]


def test_bottleneck_is_v1_5_with_stride_on_3x3() -> None:
    block = resnet50().layer2[0]
    assert block.conv1.stride == (1, 1)
    assert block.conv2.stride == (2, 2)
    assert block.downsample[0].stride == (2, 2)


def test_stem_options() -> None:
    small = resnet50(num_classes=10, small_stem=True, maxpool=False)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert small.conv1.padding == (1, 1) and small.conv1.bias is None
    assert isinstance(small.maxpool, nn.Identity)
    standard = resnet50()
    assert standard.conv1.kernel_size == (7, 7) and standard.conv1.stride == (2, 2)
    assert isinstance(standard.maxpool, nn.MaxPool2d)


@pytest.mark.parametrize(
    ("kwargs", "side", "classes"),
    [
        ({}, 224, 1000),
        ({"num_classes": 200, "small_stem": True}, 64, 200),
        ({"num_classes": 10, "small_stem": True, "maxpool": False}, 32, 10),
    ],
)
def test_output_shape(kwargs: dict, side: int, classes: int) -> None:
    model = resnet50(**kwargs).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, side, side)).shape == (2, classes)


@pytest.mark.parametrize("name", sorted(REFERENCE_MODELS))
def test_architecture_matches_reference_file(name: str, shared_path) -> None:
    spec = REFERENCE_MODELS[name]
    stored = torch.load(shared_path("models", spec.file), map_location="cpu", weights_only=True)
    built = spec.build().state_dict()
    assert {key: value.shape for key, value in built.items()} == {
        key: value.shape for key, value in stored.items()
    }


@pytest.mark.parametrize("name", sorted(REFERENCE_MODELS))
def test_reference_accuracy_within_binomial_interval(name: str, shared_path) -> None:
    spec = REFERENCE_MODELS[name]
    shared_path("models", spec.file)
    shared_path("data", spec.test_zip)
    model = load_reference_model(name)
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    images, labels = load_eval_set(name, images=ACCURACY_IMAGES, seed=0)
    correct = round(evaluate(model, images, labels, spec.mean, spec.std) * ACCURACY_IMAGES)
    low, high = binom.interval(CONFIDENCE, ACCURACY_IMAGES, spec.published_top1)
    assert low <= correct <= high, f"{correct}/{ACCURACY_IMAGES} outside [{low}, {high}]"


def test_missing_reference_file_names_path_and_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="AIMC_SHARED") as error:
        load_reference_model("resnet50-cifar10", shared_dir=tmp_path)
    assert str(tmp_path / "models" / "resnet50_cifar10.pt") in str(error.value)


def test_find_shared_dir_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMC_SHARED", str(tmp_path))
    assert find_shared_dir() == tmp_path
    assert find_shared_dir(tmp_path / "given") == tmp_path / "given"
    monkeypatch.setenv("AIMC_SHARED", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="shared_dir"):
        find_shared_dir()


def test_load_model_reads_torchvision_format_file(tmp_path: Path) -> None:
    state = {
        key: value.half() if value.is_floating_point() else value
        for key, value in resnet50().state_dict().items()
    }
    path = tmp_path / "resnet50-user.pth"
    torch.save(state, path)
    model = load_model(path)
    assert not model.training and model.fc.out_features == 1000
    loaded = model.state_dict()
    for key, value in state.items():
        expected = value.float() if value.is_floating_point() else value
        assert loaded[key].dtype == expected.dtype and torch.equal(loaded[key], expected), key


def test_load_model_rejects_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="resnet50-tinyimagenet"):
        load_model("resnet18-imagenet")
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_model(tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="reference model"):
        load_reference_model("resnet50")

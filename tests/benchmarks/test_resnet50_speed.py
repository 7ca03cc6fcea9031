"""The speed benchmark times (and reports the top-1 of) a class-balanced pick of the test images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from aimc.validation.accuracy import Network
from torch import nn

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "resnet50_speed.py"


def _module():
    spec = importlib.util.spec_from_file_location("resnet50_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _network(classes: int = 10, per_class: int = 30) -> Network:
    labels = torch.arange(classes).repeat_interleave(per_class)  # stored class by class, as the test zips
    images = labels.to(torch.uint8).reshape(-1, 1, 1, 1).expand(-1, 3, 2, 2).contiguous()
    return Network("toy", "", nn.Identity(), images, labels, images[:1], (0.0,) * 3, (1.0,) * 3)


def test_subset_is_class_balanced_not_the_first_images():
    net = _network()
    sub = _module()._subset(net, 20)
    counts = torch.bincount(sub.labels, minlength=10)
    assert counts.tolist() == [2] * 10  # the first 20 images would be 20 of class 0
    # every image keeps its own label
    assert torch.equal(sub.images[:, 0, 0, 0].long(), sub.labels)


def test_subset_is_fixed():
    net = _network()
    module = _module()
    assert torch.equal(module._subset(net, 17).labels, module._subset(net, 17).labels)
    assert len(module._subset(net, 300).labels) == 300
    assert module._subset(net, 2000) is net  # the profile asks for 2,000 of a smaller timed pick

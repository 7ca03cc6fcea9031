"""The small network the predictor's tests run on, and its one-time step and compounding as fixtures
(shared through the folder's conftest)."""

from __future__ import annotations

import pytest
import torch
from aimc.validation.accuracy import Network
from aimc.validation.predictor.compounding import calibrate
from aimc.validation.predictor.measure import measure
from aimc.validation.predictor.network import Quantisation
from torch import nn

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def small_network(images: int = 300, seed: int = 0) -> Network:
    """A 4-layer CNN with random weights and BatchNorm statistics of its own activations (so that every
    layer's signal carries its share of the logits); labels are its float top-1, a quarter of them moved to
    the second choice (a task it gets 75 % right, with margins of every size)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 24, 3, padding=1), nn.BatchNorm2d(24, momentum=None), nn.ReLU(),
        nn.Conv2d(24, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32, momentum=None), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10, bias=False),
    )
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randint(0, 256, (images, 3, 12, 12), dtype=torch.uint8, generator=gen)
    calibration = torch.randint(0, 256, (60, 3, 12, 12), dtype=torch.uint8, generator=gen)
    with torch.no_grad():
        model.train()(torch.cat([x, calibration]).float().sub(127.5).div(63.75))  # BatchNorm statistics
        top2 = model.eval()((x.float() / 255 - 0.5) / 0.25).topk(2, 1).indices
    moved = torch.rand(images, generator=gen) < 0.25
    return Network("small", "", model, x, torch.where(moved, top2[:, 1], top2[:, 0]), calibration, MEAN, STD)


@pytest.fixture(scope="module")
def net() -> Network:
    return small_network()


@pytest.fixture(scope="module")
def profile(net):
    return measure(net, Quantisation(), batch_size=100, progress=False)


@pytest.fixture(scope="module")
def compounding(profile):
    return calibrate(profile)

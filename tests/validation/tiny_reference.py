"""A tiny network that stands in for a reference model in the experiment runner's tests (seconds, not hours).

The tests use it in their own process through ``monkeypatch`` (:func:`load`), in a command they start as a
subprocess (:func:`patch`), and on Dask workers as a preload (:func:`dask_setup`, run by each worker as it
starts; the worker's process id goes to the folder named by ``AIMC_TEST_WORKER_PIDS`` if set), so that
``aimc experiments run --model resnet50-cifar10`` runs on it everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from aimc.validation import experiments
from aimc.validation.accuracy import Network
from aimc.validation.data import normalise
from torch import nn

IMAGES = 12
MEAN, STD = (0.5,) * 3, (0.25,) * 3


class TinyCNN(nn.Module):
    def __init__(self, classes: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8 * 4 * 4, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.fc(x.flatten(1))


def tiny_network(name: str, images: int = IMAGES, seed: int = 0, device: str = "cpu", calibration: int = 8
                 ) -> Network:
    """A seeded random CNN on 8x8 images, its labels its own predictions with every third one changed (so
    that accuracies are not trivial), with ``calibration`` calibration images."""
    torch.manual_seed(seed)
    model = TinyCNN().eval()
    for bn in (model.bn1, model.bn2):
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (images, 3, 8, 8), dtype=torch.uint8, generator=gen)
    cal = torch.randint(0, 256, (calibration, 3, 8, 8), dtype=torch.uint8, generator=gen)
    with torch.no_grad():
        labels = model(normalise(x, MEAN, STD)).argmax(1)
    labels[::3] = (labels[::3] + 1) % 4
    return Network(name, "", model.to(device), x, labels, cal, MEAN, STD, device=torch.device(device))


def load(source: experiments.ReferenceNetwork) -> Network:
    """Stands in for :meth:`ReferenceNetwork.load`."""
    return tiny_network(source.model, images=source.images or IMAGES, seed=source.seed, device=source.device)


def patch() -> None:
    experiments.ReferenceNetwork.load = load


def dask_setup(worker) -> None:
    patch()
    folder = os.environ.get("AIMC_TEST_WORKER_PIDS")
    if folder:
        Path(folder, str(os.getpid())).touch()

"""The reference vision transformer (``vit-cifar10``): float and 8-bit quantised accuracy, and ``aimc accuracy``.

Skipped with a message when the shared folder (models and CIFAR-10 data) is absent.
"""

from __future__ import annotations

import json

import pytest
import torch
from aimc.montecarlo.attention import ATTENTION_PRODUCTS
from aimc.validation import accuracy as acc
from aimc.validation.data import normalise
from aimc.validation.models import REFERENCE_MODELS
from scipy.stats import binom

from aimc.cli import main as aimc_main
from aimc.scheme import Scheme

MODEL = "vit-cifar10"
IMAGES = 200
CONFIDENCE = 0.999
LAYERS = 8


@pytest.fixture
def vit_files(shared_path) -> None:
    spec = REFERENCE_MODELS[MODEL]
    for subdir, file in (("models", spec.file), ("data", spec.test_zip), ("data", spec.calibration_zip)):
        shared_path(subdir, file)


def test_float_and_quantised_accuracy_are_the_documented_one(vit_files):
    """On a fixed balanced subset, both inside the binomial interval of the documented 77.23 %; 8-bit
    quantisation (weights and activations, calibrated on 500 training images) changes few predictions."""
    spec = REFERENCE_MODELS[MODEL]
    net = acc.load_network(MODEL, images=IMAGES)
    x = normalise(net.images, net.mean, net.std)
    quantised = acc.convert_network(net, acc.quantized_scheme(Scheme()))
    with torch.no_grad():
        float_top1, quantised_top1 = net.model(x).argmax(1), quantised(x).argmax(1)
    low, high = binom.interval(CONFIDENCE, IMAGES, spec.published_top1)
    for top1 in (float_top1, quantised_top1):
        correct = int((top1 == net.labels).sum())
        assert low <= correct <= high, f"{correct}/{IMAGES} outside [{low}, {high}]"
    assert float((quantised_top1 == float_top1).float().mean()) >= 0.9


def test_aimc_accuracy_runs_the_transformer_and_lists_what_stays_digital(vit_files, tmp_path, capsys):
    argv = ["accuracy", "--model", MODEL, "--images", "10", "--calibration-images", "4", "--set", "adc.range=max",
            "--out", str(tmp_path / "acc.csv"), "--no-progress"]
    assert aimc_main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["baseline_float"] >= 0.3  # trained: far above chance (10 %) on 10 balanced images
    digital = result["digital_layers"]
    attention = [part for part in digital if part.endswith(ATTENTION_PRODUCTS)]
    norms = [part for part in digital if part.endswith(": LayerNorm")]
    assert len(attention) == LAYERS and len(norms) == 2 * LAYERS + 1
    assert sorted(set(digital) - set(attention) - set(norms)) == ["cls: parameter [1, 1, 256]",
                                                                   "pos: parameter [1, 65, 256]"]
    assert aimc_main(argv) == 0  # the text output, from the results CSV: the list survives the round trip
    text = capsys.readouterr().out
    assert "(from the results CSV)" in text
    assert f"digital layers    parameter x2 (cls, pos), {ATTENTION_PRODUCTS} x8, LayerNorm x17" in text

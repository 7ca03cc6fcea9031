"""What the speed benchmarks compare with: the right peak for the machine, CrossSim only like for like, and
throughput counted as documented."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _script(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_an_h200_is_compared_with_its_dense_fp32_peak_without_measuring():
    """The CUDA branch, reached by name (no GPU needed): an H200 gets the datasheet figure the exact float32
    products can reach, not a tensor-core or sparse figure."""
    limits = _script("limits")
    peak = limits.machine_peak("cuda", gpu_name="NVIDIA H200")
    assert peak["flops"] == limits.H200_DENSE_PEAKS["fp32"] == 66.9e12
    assert "datasheet" in peak["source"]
    assert limits.H200_DENSE_PEAKS["bf16"] == 2 * limits.H200_DENSE_PEAKS["tf32"]


def test_the_cpu_peak_is_measured():
    limits = _script("limits")
    peak = limits.machine_peak("cpu")
    assert peak["source"] == "measured"
    assert 1e8 < peak["flops"] < 1e14  # a float32 matrix product on any CPU


def test_crosssim_ratio_only_like_for_like():
    limits = _script("limits")
    assert limits.crosssim_ratio("design-a", "resnet50-tinyimagenet", "NVIDIA H200", 0.2) == pytest.approx(25.5)
    assert limits.crosssim_ratio("heaviest-per-device", "resnet50-tinyimagenet", "NVIDIA H200", 59.26) == (
        pytest.approx(100.0))
    assert limits.crosssim_ratio("design-a", "resnet50-cifar10", "NVIDIA H200", 0.2) is None  # another network
    assert limits.crosssim_ratio("design-a", "resnet50-tinyimagenet", None, 0.2) is None  # the CPU
    assert limits.crosssim_ratio("design-a", "resnet50-tinyimagenet", "NVIDIA A100", 0.2) is None
    assert limits.crosssim_ratio("design-b", "resnet50-tinyimagenet", "NVIDIA H200", 0.2) is None  # not measured


def test_resnet50_speed_names_both_read_noise_modes_of_the_heaviest_configuration():
    module = _script("resnet50_speed")
    scheme, mode = module.scheme_of("heaviest-per-device")
    assert mode == "per_device" and scheme.device.read_noise.active
    assert module.scheme_of("heaviest")[1] == "output_referred"


def test_mvm_throughput_counts_hardware_and_evaluated_macs():
    """Hardware MACs count every device and input slice; the fraction of peak counts what the engine computed
    (one read of the whole input for analog accumulation of linear currents)."""
    module = _script("mvm_throughput")
    row = module.measure("design-A-like", "cpu", chips=1, vectors=2, repeats=1, peak={"flops": 1e12})
    assert row["devices"] == 256 * 1152 * 2 and row["input_slices"] == 8 and row["reads_evaluated"] == 1
    assert row["macs"] == row["devices"] * 8 * 2
    assert row["evaluated_macs_per_second"] == pytest.approx(row["macs_per_second"] / 8)
    assert row["fraction_of_peak"] == pytest.approx(2 * row["evaluated_macs_per_second"] / 1e12)
    assert row["vectors_per_second"] == pytest.approx(2 / row["seconds"])
    assert math.isfinite(row["seconds"]) and torch.get_num_threads() >= 1

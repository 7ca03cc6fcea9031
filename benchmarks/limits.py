"""What the speed benchmarks measure against: the machine's peak arithmetic rate and CrossSim's figures.

* CPU: the peak is measured, as the best rate of a large float32 matrix product (:func:`cpu_float32_peak`):
  the rate this machine's BLAS reaches, which an elementwise or random-number-bound path cannot exceed.
* CUDA on an H200: the dense peaks of the datasheet (:data:`H200_DENSE_PEAKS`); other GPUs: a float32 matrix
  product measured the same way as on the CPU (TF32 off).
* CrossSim 3.2.0 on one H200 (:data:`CROSSSIM_H200_MS_PER_IMAGE`): the Tiny-ImageNet reference ResNet-50,
  measured side by side with aimc (same images and configurations, forward passes only, calibration timed
  apart, CrossSim at its script's batch of 32). A ratio is only meaningful for the same network, the same
  configuration and an H200 (:func:`crosssim_ratio`).

The exact products of the engine run in float32 with TF32 disabled, so the FP32 (CUDA-core) peak is the
relevant one for them (:data:`PATH_PEAK`).
"""

from __future__ import annotations

import time

import torch

__all__ = [
    "CROSSSIM_H200_MS_PER_IMAGE",
    "CROSSSIM_MODEL",
    "H200_DENSE_PEAKS",
    "H200_SOURCE",
    "PATH_PEAK",
    "cpu_float32_peak",
    "crosssim_ratio",
    "machine_peak",
]

H200_DENSE_PEAKS = {"fp32": 66.9e12, "tf32": 494.7e12, "bf16": 989.4e12, "int8": 1978.9e12}
"""Operations per second of one H200 SXM, dense (no 2:4 sparsity): FP32 on the CUDA cores, TF32, BF16 and
INT8 on the tensor cores (multiply and add counted as two)."""

H200_SOURCE = ("NVIDIA H200 Tensor Core GPU datasheet, SXM (FP32 67 TFLOPS; TF32 989, BF16 1,979 TFLOPS and INT8 "
               "3,958 TOPS there are with 2:4 sparsity, halved here for dense products); the NVIDIA Hopper "
               "architecture whitepaper's H100 SXM5 table gives the same 66.9 / 494.7 / 989.4 / 1978.9 (the H200 has "
               "the same GH100 compute)")

PATH_PEAK = "fp32"
"""The peak the engine's products are compared with: float32 with TF32 off (integer-exact ideal cells)."""

CROSSSIM_MODEL = "resnet50-tinyimagenet"
CROSSSIM_H200_MS_PER_IMAGE = {"design-a": 5.1, "design-e": 277.0, "heaviest": 5926.0, "heaviest-per-device": 5926.0}
"""CrossSim 3.2.0, ms per image on one H200, the Tiny-ImageNet reference ResNet-50: design-A shape (differential,
1152 rows, 8 input bits accumulated in analog, 8-bit ADC), design-E shape (offset, four 2-bit slices, 72 rows,
an ADC per input bit) and the heaviest configuration (four 2-bit slices of 9-bit weights, 288 rows, an ADC per
input bit, read noise: CrossSim draws it per device, so both of aimc's read-noise modes are compared with it)."""


def cpu_float32_peak(size: int = 2048, repeats: int = 5) -> float:
    """The best float32 matrix-product rate (FLOP/s, 2 n^3 per product) of ``repeats`` products on the CPU."""
    return _matmul_peak(torch.device("cpu"), size, repeats)


def _matmul_peak(device: torch.device, size: int, repeats: int) -> float:
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, generator=gen, device=device)
    b = torch.randn(size, size, generator=gen, device=device)
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        best = float("inf")
        for _ in range(repeats + 1):  # the first product warms the library up
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            torch.mm(a, b)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * size**3 / best


def machine_peak(device: str | torch.device, gpu_name: str | None = None) -> dict:
    """{"name", "flops", "source"}: the peak the benchmark compares a run on ``device`` with.

    ``gpu_name`` (default: the CUDA device's name) picks the H200 datasheet figure; any other GPU, and the CPU,
    is measured.
    """
    device = torch.device(device)
    if device.type == "cuda":
        gpu_name = gpu_name if gpu_name is not None else torch.cuda.get_device_name(device)
        if "H200" in gpu_name:
            return {"name": f"H200 dense {PATH_PEAK}", "flops": H200_DENSE_PEAKS[PATH_PEAK], "source": H200_SOURCE}
        return {"name": f"{gpu_name} float32 matrix product (measured, TF32 off)",
                "flops": _matmul_peak(device, 8192, 5), "source": "measured"}
    return {"name": "CPU float32 matrix product (measured)", "flops": cpu_float32_peak(), "source": "measured"}


def crosssim_ratio(config: str, model: str, gpu_name: str | None, ms_per_image: float) -> float | None:
    """CrossSim's ms per image over ours for a configuration it was measured on, on the same network and an
    H200; None where the comparison would not be like for like."""
    if config not in CROSSSIM_H200_MS_PER_IMAGE or model != CROSSSIM_MODEL or not gpu_name or "H200" not in gpu_name:
        return None
    return CROSSSIM_H200_MS_PER_IMAGE[config] / ms_per_image

"""Speed of the closed-form budget of a ResNet-50-shaped network (54 layers) from cached layer statistics.

Layer statistics (digit histograms of per-row input second moments, see aimc.theory.network) are
synthesised for the ResNet-50 conv/fc shapes (fan-ins 27..4608; Laplace weights, rectified-normal inputs,
8-bit codes), built once, then one scheme and 100 schemes (alpha, On/Off, read noise, ADC bits swept) are
evaluated. Targets (DESIGN 7): one scheme < 1 s, 100 schemes < 10 s on a 2-core CPU.
Measured (2-core x86 CPU, torch 2.13 CPU): one scheme 27 ms, 100 schemes 3.2 s; building the cached
statistics once 8 s.

    python benchmarks/theory_speed.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
from aimc.theory.network import LayerStatistics, network_budget

from aimc import Scheme


def resnet50_shapes() -> list[tuple[int, int]]:
    """(outputs, fan_in) of the 53 convolutions and the fc layer of ResNet-50 (3x3 stem)."""
    shapes = [(64, 27)]  # 3x3 stem on 3 channels, as in the CIFAR-style reference models
    in_ch = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            shapes += [(width, in_ch), (width, width * 9), (width * 4, width)]
            if b == 0:
                shapes.append((width * 4, in_ch))
            in_ch = width * 4
    shapes.append((1000, 2048))
    return shapes


def synthesise(scheme: Scheme, seed: int = 0) -> list[LayerStatistics]:
    rng = np.random.default_rng(seed)
    out = []
    for n, k in resnet50_shapes():
        w = np.clip(np.round(rng.laplace(0, 12, size=(n, k))), -127, 127).astype(np.int64)
        x2 = rng.gamma(2.0, 1500.0, size=k)
        activity = np.clip(rng.uniform(0.05, 0.5, size=(8, 1)) * np.ones((1, k)), 0, 1)
        out.append(LayerStatistics.build(torch.from_numpy(w), x2, scheme, mean=np.sqrt(x2) * 0.6,
                                         slice_second_moment=activity))
    return out


def schemes(count: int) -> list[Scheme]:
    base = Scheme().with_overrides({"device.programming.model": "state_independent",
                                    "device.programming.alpha": 0.01, "adc.range": "max"})
    rng = np.random.default_rng(1)
    out = []
    for _ in range(count):
        out.append(base.with_overrides({
            "device.programming.alpha": float(rng.uniform(0.005, 0.05)),
            "device.on_off": float(rng.choice([10.0, 100.0, 1e4])),
            "device.read_noise.model": "state_proportional",
            "device.read_noise.alpha": float(rng.uniform(0.001, 0.02)),
            "adc.bits": int(rng.integers(6, 11)),
        }))
    return out


def main() -> None:
    torch.set_num_threads(2)
    many = schemes(100)
    t = time.perf_counter()
    stats = synthesise(many[0])
    build = time.perf_counter() - t
    network_budget(stats[:1], many[0])  # first use compiles the sympy derivations
    t = time.perf_counter()
    one = network_budget(stats, many[0])
    single = time.perf_counter() - t
    t = time.perf_counter()
    for s in many:
        network_budget(stats, s)
    hundred = time.perf_counter() - t
    print(f"layers: {len(stats)} (fan-ins {min(s.fan_in for s in stats)}..{max(s.fan_in for s in stats)})")
    print(f"build cached statistics: {build:.2f} s (once)")
    print(f"one scheme:   {single * 1e3:.1f} ms   (target < 1 s)")
    print(f"100 schemes:  {hundred:.2f} s    (target < 10 s)")
    print(f"example: layer 0 relative_rms {one[0]['relative_rms']:.4g}, fc {one[-1]['relative_rms']:.4g}")


if __name__ == "__main__":
    main()

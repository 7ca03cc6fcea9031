"""Monte Carlo speed of a whole ResNet-50 on simulated analog hardware (DESIGN section 7).

Times ``aimc.validation.accuracy`` end to end for a few configurations: conversion (BatchNorm folding,
input and ADC calibration on the 500 calibration images) and one programmed chip's pass over the test
images. Prints images/s, ms per image, seconds per 10,000 images, simulated analog MACs/s, the fraction
of the machine's peak and, where the configuration is one CrossSim was measured on (the Tiny-ImageNet
ResNet-50 on an H200, :mod:`limits`), CrossSim's time over ours. Targets (CIFAR-10 ResNet-50, 10,000 test
images, one H200): design A < 7 s, design E < 60 s, the heaviest configuration < 5 min.

MACs: ``network`` MACs are the multiply-accumulates of the network's Conv2d/Linear products (counted by
forward hooks on the float model); ``cell`` MACs multiply them by what the hardware does per weight:
weight slices x input slices read separately x cells per weight (2 for differential pairs, plus the unit
column). The fraction of peak compares 2 x network MACs/s with the machine's peak (:func:`limits.machine_peak`:
the H200's dense FP32 CUDA-core rate, 66.9 TFLOP/s, or a measured float32 matrix product on the CPU or
another GPU): the general path disables TF32 to keep integer products exact; the no-ADC fast path runs two
TF32 products, a TF32-exact high part and the rest, at float32 accuracy.

Configurations: ``design-a``, ``design-e`` (the presets, SONOS programming error), ``heaviest`` (four 2-bit
slices of 9-bit weights, differential, 8 input bits with an ADC per bit, 288 rows, 8-bit calibrated ADC,
read noise state-proportional 1 %, output-referred read-noise mode), ``heaviest-per-device`` (the same with
per-device read noise), or ``EXPERIMENT/POINT`` from ``aimc.validation.experiments``. ``NAME@N`` measures on
N images and extrapolates to --images.

    python benchmarks/resnet50_speed.py --model resnet50-cifar10 --device cuda \\
        --configs design-a design-e heaviest@500 --json-out speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from aimc.montecarlo.layers import analog_layers, reprogram
from aimc.validation.accuracy import _correct, chip_seed, convert_network, float_accuracy, load_network
from aimc.validation.data import balanced_subset
from aimc.validation.experiments import point_scheme
from torch import nn

from aimc.presets import get_preset
from aimc.scheme import Scheme

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import crosssim_ratio, machine_peak  # a sibling script, not a package

HEAVIEST = {
    "mapping.kind": "differential",
    "weights.bits": 9,
    "weights.slices": 4,
    "inputs.bits": 8,
    "inputs.slice_bits": 1,
    "inputs.accumulation": "digital",
    "array.rows": 288,
    "adc.bits": 8,
    "adc.range": "calibrated",
    "device.read_noise.model": "state_proportional",
    "device.read_noise.alpha": 0.01,
}


def scheme_of(name: str) -> tuple[Scheme, str]:
    """(scheme, read-noise mode) of a configuration name."""
    if name in ("heaviest", "heaviest-per-device"):
        return Scheme().with_overrides(HEAVIEST), "per_device" if name.endswith("per-device") else "output_referred"
    if "/" in name:
        return point_scheme(name), "per_device"
    return get_preset(name), "per_device"


def network_macs(model: nn.Module, image: torch.Tensor) -> int:
    """Multiply-accumulates of the Conv2d/Linear layers for one image."""
    total = 0

    def hook(module, args, out):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.in_channels * module.kernel_size[0] * module.kernel_size[1] // module.groups
            total += out[0].numel() * k
        else:
            total += out[0].numel() * module.in_features

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model(image)
    for h in handles:
        h.remove()
    return total


def cell_factor(scheme: Scheme, signed_first: bool = False) -> int:
    """Device reads per network MAC: input slices x devices per weight (slices x arrays)."""
    from aimc.inputs import slice_count
    from aimc.mapping import SliceLayout

    i = scheme.inputs
    return slice_count(i.bits, i.slice_bits, signed_first) * SliceLayout.from_scheme(scheme).cells_per_weight


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _subset(net, n: int):
    """The network with a fixed, seeded, class-balanced pick of ``n`` of its test images (the reference
    test sets are stored class by class, so their first ``n`` images would be one class and the top-1
    reported beside a timing would say nothing). All of them if ``n`` is larger."""
    if n >= len(net.labels):
        return net
    pick = torch.as_tensor(balanced_subset(net.labels.cpu(), n, seed=0), device=net.labels.device)
    return type(net)(**{**net.__dict__, "images": net.images[pick], "labels": net.labels[pick]})


def profile(analog: nn.Module, net, batch_size: int, name: str, path: str) -> None:
    """Append the operators that take the most device (or CPU) time in a pass over ``net``'s first 2,000 images."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    net = _subset(net, 2000)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if net.device.type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        _correct(analog, net, batch_size, None)
        _sync(net.device)
    key = "self_cuda_time_total" if net.device.type == "cuda" else "self_cpu_time_total"
    with open(path, "a") as handle:
        handle.write(f"## {name}: {len(net.labels)} images, batch {batch_size}\n")
        handle.write(prof.key_averages().table(sort_by=key, row_limit=30) + "\n")


def measure(
    net, name: str, images: int, total: int, batch_size: int, budget: int | None, peak: dict,
    profile_out: str | None = None,
) -> dict:
    scheme, mode = scheme_of(name)
    dev = net.device
    _sync(dev)
    t0 = time.perf_counter()
    analog = convert_network(net, scheme, 0, budget, read_noise_mode=mode)
    _sync(dev)
    t_convert = time.perf_counter() - t0
    sub = _subset(net, images)
    _correct(
        analog,
        _subset(sub, 8),
        batch_size,
        None,
    )  # warm-up
    _sync(dev)
    t0 = time.perf_counter()
    reprogram(analog, chip_seed(0, 1))
    _sync(dev)
    t_program = time.perf_counter() - t0
    t0 = time.perf_counter()
    for layer in analog_layers(analog):
        if layer.input_linear:
            layer.effective_weights()
    _sync(dev)
    t_effective = time.perf_counter() - t0
    t0 = time.perf_counter()
    correct = _correct(analog, sub, batch_size, None)
    _sync(dev)
    seconds = time.perf_counter() - t0 + t_program + t_effective
    if profile_out:
        profile(analog, sub, batch_size, name, profile_out)
    macs = network_macs(net.model, net.images[:1].float().to(dev))
    per_s = images / seconds
    factor = cell_factor(scheme)
    return {
        "config": name,
        "images_timed": images,
        "seconds_timed": round(seconds, 3),
        "images_per_s": round(per_s, 1),
        f"seconds_per_{total}_images": round(total / per_s, 2),
        "extrapolated": images < total,
        "convert_seconds": round(t_convert, 2),
        "program_seconds": round(t_program, 3),
        "effective_weights_seconds": round(t_effective, 3),
        "top1_on_timed_images": correct / images,
        "network_macs_per_image": macs,
        "network_macs_per_s": macs * per_s,
        "cell_reads_per_mac": factor,
        "cell_macs_per_s": macs * per_s * factor,
        "ms_per_image": 1000 / per_s,
        "fraction_of_peak": 2 * macs * per_s / peak["flops"],
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
        if dev.type == "cuda"
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50-cifar10")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=10000, help="test images to report for (default 10000)")
    parser.add_argument("--configs", nargs="+", default=["design-a", "design-e", "heaviest@500"])
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--budget", type=int, default=None, help="analog-layer chunk budget in elements")
    parser.add_argument("--calibration", default=None)
    parser.add_argument("--json-out", default=None)
    parser.add_argument("--profile-out", default=None,
                        help="append torch.profiler tables (one extra pass per configuration) to this file")
    args = parser.parse_args()
    t0 = time.perf_counter()
    net = load_network(args.model, device=args.device, calibration=args.calibration)
    images = min(args.images, len(net.labels))
    print(f"loaded {args.model}: {len(net.labels)} images in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    top1 = float_accuracy(net, args.batch_size)
    _sync(net.device)
    print(f"float: top-1 {top1:.4f}, {len(net.labels) / (time.perf_counter() - t0):.0f} images/s", flush=True)
    gpu = torch.cuda.get_device_name(net.device) if net.device.type == "cuda" else None
    peak = machine_peak(net.device, gpu)
    results = []
    for spec in args.configs:
        name, _, count = spec.partition("@")
        n = min(int(count), images) if count else images
        result = measure(net, name, n, images, args.batch_size, args.budget, peak, args.profile_out)
        result.update(device=gpu or "cpu", model=args.model, peak=peak,
                      crosssim_ratio=crosssim_ratio(name, args.model, gpu, result["ms_per_image"]),
                      command="python " + " ".join(sys.argv))
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(results, handle, indent=2)
    _print_table(results, images, peak)


def _print_table(results: list[dict], images: int, peak: dict) -> None:
    print(f"\n{'config':<40} {'img/s':>9} {'ms/img':>8} {'s/' + str(images):>10} {'net TMAC/s':>11} "
          f"{'of peak':>8} {'CrossSim/aimc':>13}")
    for r in results:
        ratio = f"{r['crosssim_ratio']:.1f}x" if r["crosssim_ratio"] is not None else "-"
        print(
            f"{r['config']:<40} {r['images_per_s']:>9.1f} {r['ms_per_image']:>8.2f} "
            f"{r[f'seconds_per_{images}_images']:>10.2f} {r['network_macs_per_s'] / 1e12:>11.2f} "
            f"{100 * r['fraction_of_peak']:>7.2f}% {ratio:>13}" + ("  (extrapolated)" if r["extrapolated"] else "")
        )
    print(f"peak: {peak['name']}, {peak['flops'] / 1e12:.3g} TFLOP/s ({peak['source']}); CrossSim/aimc only for "
          "its measured configurations on the Tiny-ImageNet ResNet-50 and an H200")


if __name__ == "__main__":
    main()

"""Where the time of an experiment point's conversion (activation and ADC calibration) goes.

Loads a reference model with a few calibration images, converts it once for one experiment point (so the
activation ranges are cached), then converts it again under torch.profiler and prints the operators that
took the most time, beside the time of evaluating the same number of test images.

    python benchmarks/calibration_profile.py --model resnet50-cifar10 --point "adc-rows/offset-2b rows=144" \
        --calibration-images 16 --device cpu
"""

from __future__ import annotations

import argparse
import time

import torch
from aimc.validation.accuracy import _correct, convert_network, load_network
from aimc.validation.experiments import point_scheme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50-cifar10")
    parser.add_argument("--point", default="adc-rows/offset-2b rows=144", help="EXPERIMENT/POINT LABEL")
    parser.add_argument("--calibration-images", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rows", type=int, default=14, help="operators to list")
    args = parser.parse_args()
    try:
        scheme = point_scheme(args.point)
    except ValueError as e:
        raise SystemExit(f"--{e}") from None
    n = args.calibration_images
    net = load_network(args.model, device=args.device, images=n, calibration_images=n)
    convert_network(net, scheme)  # activation ranges (cached on net) and warm-up
    activities = [torch.profiler.ProfilerActivity.CPU]
    if net.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        start = time.perf_counter()
        analog = convert_network(net, scheme)
        if net.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    key = "self_cuda_time_total" if net.device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=args.rows))
    start = time.perf_counter()
    _correct(analog, net, n, None)
    print(f"conversion on {n} calibration images: {seconds:.1f} s; evaluating {n} test images: "
          f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

"""Speed of ``aimc predict``: the one-time step per model and images, then each scheme from its cache.

Two parts, each written to ``--out`` (JSON):

* ``--one-time-step``: the one-time step (:func:`aimc.validation.predictor.measure.measure`, what the first
  ``aimc predict`` on a model runs) on ``--images`` test images of ``--model``, on ``--device``, and the
  calibration of its compounding;
* ``--schemes``: 100 schemes predicted from the cached one-time step of the model's images (all of them
  unless ``--images``): the predictor's held-out draw across the vocabulary, then the paper's ADC sweep
  points, each timed alone (errors, ADCs, accuracy, spread, attribution); the first scheme of a process
  pays the imports and the sympy derivations, reported apart.

Targets: one scheme under 1 s and 100 schemes under 30 s on the 2-core CPU (10,000 Tiny-ImageNet images).

    python benchmarks/predictor_speed.py --schemes --out benchmarks/results/predictor_speed_cpu.json
    python benchmarks/predictor_speed.py --one-time-step --images 500 --out benchmarks/results/predictor_one_time_cpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from aimc.validation.accuracy import load_network
from aimc.validation.predictor.accuracy_model import predict_from_errors
from aimc.validation.predictor.compounding import calibrate, load_or_calibrate
from aimc.validation.predictor.core import layer_errors
from aimc.validation.predictor.heldout import draw_heldout
from aimc.validation.predictor.measure import load_or_measure, measure, store
from aimc.validation.predictor.network import Quantisation

from aimc import Scheme
from aimc.results import atomic_file


def _machine(device: str) -> dict:
    name = torch.cuda.get_device_name() if device == "cuda" else f"{platform.processor() or 'CPU'}"
    return {"device": name, "torch_threads": torch.get_num_threads(), "torch": torch.__version__}


def one_time_step(model: str, images: int | None, device: str, batch_size: int, keep: bool = False) -> dict:
    start = time.perf_counter()
    net = load_network(model, images=images, device=device)
    loaded = time.perf_counter()
    profile = measure(net, Quantisation(), batch_size=batch_size, progress=True)
    measured = time.perf_counter()
    if keep:  # the entry the first aimc predict would have made: later schemes on this cache reuse it
        store(profile, net, Quantisation())
    calibrate(profile)
    return {"model": model, "images": profile.images, "load_seconds": loaded - start,
            "measure_seconds": measured - loaded, "calibrate_seconds": time.perf_counter() - measured,
            "batch_size": batch_size, **_machine(device)}


def benchmark_schemes(count: int = 100) -> list[Scheme]:
    """The held-out draw, then ADC-bit and range points of design A, ``count`` in all."""
    schemes = [Scheme().with_overrides(overrides) for _, overrides in draw_heldout()]
    for bits in (4, 5, 6, 7, 8, 9, 10):
        for policy in ("calibrated", "max", "granular", "aligned", "optimal"):
            for kind in ("differential", "offset"):
                schemes.append(Scheme().with_overrides({"adc.bits": bits, "adc.range": policy,
                                                        "mapping.kind": kind}))
    return schemes[:count]


def scheme_times(model: str, images: int | None) -> dict:
    net = load_network(model, images=images)
    profile, cached = load_or_measure(net, Quantisation(), progress=True)
    compounding = load_or_calibrate(profile)
    seconds, refused = [], 0
    for scheme in benchmark_schemes():
        start = time.perf_counter()
        try:
            predict_from_errors(profile, layer_errors(profile, scheme), compounding)
        except ValueError:
            refused += 1
        seconds.append(time.perf_counter() - start)
    later = np.array(seconds[1:])
    return {"model": model, "images": profile.images, "one_time_step_cached": cached, "schemes": len(seconds),
            "refused": refused, "first_scheme_seconds": seconds[0], "median_seconds": float(np.median(later)),
            "largest_seconds": float(later.max()), "total_seconds": float(sum(seconds)), **_machine("cpu")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-time-step", action="store_true")
    parser.add_argument("--schemes", action="store_true")
    parser.add_argument("--model", default="resnet50-tinyimagenet")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--store", action="store_true",
                        help="keep the measured one-time step in the user's cache, as aimc predict does")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = {"command": "python benchmarks/predictor_speed.py " + " ".join(sys.argv[1:])}
    if args.one_time_step:
        result["one_time_step"] = one_time_step(args.model, args.images, args.device, args.batch_size, args.store)
    if args.schemes:
        result["schemes"] = scheme_times(args.model, args.images)
    with atomic_file(Path(args.out), "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""MVM throughput of the Monte Carlo engine: vectors per second, simulated analog MACs per second, and the
fraction of the machine's peak.

One layer of 1152 inputs x 256 outputs (the paper's array shape), random 8-bit weights and inputs, for
representative schemes, on CPU and (if available) CUDA. Prints a table and writes JSON to ``--out`` (with the
command that made it and the peak it was compared with).

Counting: simulated analog MACs = devices x input slices x input vectors x chips, where devices counts
every cell (both cells of a differential pair, every weight slice) and input slices are the hardware's
reads (8 for bit-serial 8-bit inputs). The engine may evaluate fewer reads when that is exactly
equivalent (analog accumulation of linear currents is one read of the whole input; an analog-subtracted
pair without read noise is one array of g+ - g-): ``macs_per_second`` is the hardware-equivalent rate,
``reads_evaluated`` says what the engine actually computed, and ``fraction_of_peak`` compares the
arithmetic it did (2 x devices x reads evaluated x vectors x chips per second) with the machine's peak
(:func:`limits.machine_peak`: a measured float32 matrix product on the CPU, the H200's dense FP32 figure
on an H200; the engine's products run in float32 with TF32 off). ``vectors_per_second`` counts one input
vector on one chip.

CrossSim's published comparison (:mod:`limits`) is for a whole ResNet-50, not one layer, so no ratio is
given here; ``benchmarks/resnet50_speed.py`` gives it where the configuration matches.

Usage: ``python benchmarks/mvm_throughput.py --out results.json [--device cpu cuda] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo.engine import calibrate_ranges, simulate_mvm

from aimc.inputs import slice_count
from aimc.layers import QuantizedLayer
from aimc.mapping import SliceLayout
from aimc.scheme import Scheme

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import machine_peak  # a sibling script, not a package

SCHEMES = {
    "design-A-like": {  # differential, unsliced, 1152 rows, 8-bit bit-serial inputs, analog accumulation
        "mapping.kind": "differential", "weights.bits": 8, "weights.slices": 1, "array.rows": 1152,
        "inputs.bits": 8, "inputs.slice_bits": 1, "inputs.accumulation": "analog", "adc.bits": 8,
        "adc.range": "calibrated", "device.programming.model": "state_independent",
        "device.programming.alpha": 0.01,
    },
    "design-E-like": {  # offset, four 2-bit slices, 72 rows, an ADC per input bit
        "mapping.kind": "offset", "weights.bits": 8, "weights.slices": 4, "array.rows": 72,
        "inputs.bits": 8, "inputs.slice_bits": 1, "inputs.accumulation": "digital", "adc.bits": 8,
        "adc.range": "calibrated", "device.programming.model": "state_independent",
        "device.programming.alpha": 0.01,
    },
    "heavy": {  # four 2-bit slices of 9-bit weights, 8 input bits with an ADC per bit, 288 rows, read noise
        "mapping.kind": "differential", "weights.bits": 9, "weights.slices": 4, "array.rows": 288,
        "inputs.bits": 8, "inputs.slice_bits": 1, "inputs.accumulation": "digital", "adc.bits": 8,
        "adc.range": "calibrated", "device.programming.model": "state_independent",
        "device.programming.alpha": 0.01, "device.read_noise.model": "state_independent",
        "device.read_noise.alpha": 0.005,
    },
    "heavy-output-referred": None,  # the heavy scheme with read_noise_mode=output_referred
}


def _layer(outputs: int = 256, fan_in: int = 1152, vectors: int = 256, seed: int = 0) -> QuantizedLayer:
    rng = np.random.default_rng(seed)
    w = np.clip(np.round(rng.laplace(0, 20, (outputs, fan_in))), -127, 127).astype(np.int64)
    x = np.clip(np.round(np.maximum(rng.normal(0, 60, (vectors, fan_in)), 0)), 0, 255).astype(np.int64)
    return QuantizedLayer(torch.from_numpy(w), torch.from_numpy(x), torch.tensor(1.0), torch.tensor(1.0), False)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(name: str, device: str, chips: int, vectors: int, repeats: int, peak: dict) -> dict:
    base = name.replace("-output-referred", "")
    mode = "output_referred" if name.endswith("output-referred") else "per_device"
    scheme = Scheme().with_overrides(SCHEMES[base])
    if scheme.weights.bits == 9:
        layer = _layer(vectors=vectors)
        layer = QuantizedLayer(layer.w_int * 2, layer.x_int, layer.w_scale, layer.x_scale, False)
    else:
        layer = _layer(vectors=vectors)
    ranges = calibrate_ranges(scheme, layer.w_int, layer.x_int, False)
    run = lambda: simulate_mvm(layer, scheme, chips=chips, seed=0, device=device, ranges=ranges,
                               read_noise_mode=mode)
    run()  # warm-up
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        _sync(device)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    n, k = layer.w_int.shape
    i = scheme.inputs
    t = slice_count(i.bits, i.slice_bits, False)
    devices = n * k * SliceLayout.from_scheme(scheme).cells_per_weight
    macs = devices * t * vectors * chips
    linear = not scheme.device.read_noise.active and scheme.parasitics.r == 0
    reads = 1 if (linear and i.accumulation == "analog") else t
    evaluated = devices * reads * vectors * chips
    return {
        "scheme": name, "device": device, "read_noise_mode": mode if scheme.device.read_noise.active else None,
        "chips": chips, "vectors": vectors, "outputs": n, "inputs": k, "devices": devices, "input_slices": t,
        "reads_evaluated": reads, "seconds": seconds, "vectors_per_second": vectors * chips / seconds,
        "macs": macs, "macs_per_second": macs / seconds, "evaluated_macs_per_second": evaluated / seconds,
        "fraction_of_peak": 2 * evaluated / seconds / peak["flops"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON results file")
    parser.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda if present)")
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=list(SCHEMES))
    parser.add_argument("--quick", action="store_true", help="fewer chips and vectors")
    args = parser.parse_args()
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    rows, peaks = [], {}
    print(f"{'scheme':24s} {'device':6s} {'chips x vectors':>15s} {'seconds':>8s} {'vectors/s':>10s} "
          f"{'MAC/s':>9s} {'evaluated':>9s} {'of peak':>8s}")
    for device in devices:
        gpu = device.startswith("cuda")
        peaks[device] = machine_peak(device)
        for name in args.schemes:
            noisy = name.startswith("heavy")
            chips = (2 if args.quick else 8) if not gpu else (4 if args.quick else 32)
            vectors = (32 if noisy else 128) if not gpu else 256
            if not gpu and noisy and not args.quick:
                chips = 2
            row = measure(name, device, chips, vectors, 1 if args.quick else 3, peaks[device])
            rows.append(row)
            print(f"{name:24s} {device:6s} {f'{chips} x {vectors}':>15s} {row['seconds']:8.3f} "
                  f"{row['vectors_per_second']:10.3g} {row['macs_per_second']:9.2e} "
                  f"{row['evaluated_macs_per_second']:9.2e} {100 * row['fraction_of_peak']:7.2f}%", flush=True)
    for device, peak in peaks.items():
        print(f"peak on {device}: {peak['name']}, {peak['flops'] / 1e12:.3g} TFLOP/s ({peak['source']})")
    meta = {"command": "python " + " ".join(sys.argv), "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu_threads": torch.get_num_threads(), "load_average": os.getloadavg(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "peaks": peaks}
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()

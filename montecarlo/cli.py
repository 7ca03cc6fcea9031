"""``aimc simulate``: device-level Monte Carlo of one layer's analog MVM against its digital reference.

The scheme comes from the arguments of :mod:`aimc.cli_common` (--preset, --config, --set; default
design-a, the paper's reference design), as for ``aimc estimate``, so the two answer for the same scheme.
``--layer FILE.npz`` holds ``weights`` [outputs, inputs] and ``inputs`` [vectors, inputs] (float); without
it the built-in synthetic layer (:func:`aimc.layers.synthetic_layer`: Laplace weights, rectified-normal
inputs, 1152 inputs x 256 outputs, 64 vectors, fixed seed). ``--trials`` is the number of simulated chips.
Calibrated ADC ranges are profiled on the layer's own inputs with ideal arrays.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from aimc.cli_common import add_scheme_arguments, scheme_from_args
from aimc.layers import load_layer, quantize_layer, synthetic_layer

from .engine import READ_NOISE_MODES, resolve_device, simulate_mvm

__all__ = ["add_simulate_arguments", "format_simulation", "run_simulate"]


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheme_arguments(parser)
    parser.add_argument("--layer", default=None, metavar="FILE.npz",
                        help="layer with arrays weights [outputs, inputs] and inputs [vectors, inputs]; "
                        "default: the built-in synthetic layer")
    parser.add_argument("--trials", type=int, default=10, metavar="N", help="simulated chips (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--float64", action="store_true", help="simulate in float64 (default float32)")
    parser.add_argument("--read-noise-mode", default="per_device", choices=READ_NOISE_MODES,
                        help="per_device (reference) or output_referred (same distribution, faster)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run_simulate(args: argparse.Namespace) -> dict:
    """Run the simulation the arguments describe; ValueError/ConfigError on bad input."""
    if args.trials < 1:
        raise ValueError(f"--trials: must be >= 1, got {args.trials}")
    device = resolve_device(args.device)
    scheme, name = scheme_from_args(args)
    layer = load_layer(args.layer) if args.layer else synthetic_layer()
    quantized = quantize_layer(layer, scheme)
    start = time.perf_counter()
    result = simulate_mvm(
        quantized,
        scheme,
        chips=args.trials,
        seed=args.seed,
        device=device,
        dtype=torch.float64 if getattr(args, "float64", False) else torch.float32,
        read_noise_mode=getattr(args, "read_noise_mode", "per_device"),
    )
    seconds = time.perf_counter() - start
    summary = result.summary()
    if not all(math.isfinite(float(summary[k])) for k in ("relative_rms", "bias")):
        raise ValueError(f"simulate: the simulated error is not finite (relative rms {summary['relative_rms']}, "
                         f"bias {summary['bias']}): a float overflow of this scheme's error sizes")
    return {
        "scheme": name,
        "layer": layer.name,
        "relative_rms": summary["relative_rms"],
        "relative_rms_ci": summary["relative_rms_ci"],
        "bias": summary["bias"],
        "chips": summary["chips"],
        "vectors": int(quantized.x_int.shape[0]),
        "outputs": int(quantized.w_int.shape[0]),
        "inputs": int(quantized.w_int.shape[1]),
        "signed_inputs": quantized.signed_inputs,
        "adc_ranges": None if result.ranges is None else [[r.low, r.high] for r in result.ranges],
        "seed": args.seed,
        "device": str(device),
        "seconds": seconds,
    }


def format_simulation(result: dict) -> str:
    """The simulated error with its confidence interval over chips, and the layer's size."""
    ci = result["relative_rms_ci"]
    ci_text = f"  (95 % CI {ci[0]:.4g} .. {ci[1]:.4g} over chips)" if ci else ""
    return "\n".join([
        f"Monte Carlo: {result['scheme']}, layer {result['layer']}",
        f"  relative_rms = {result['relative_rms']:.4g}{ci_text}",
        f"  bias         = {result['bias']:.3g}",
        f"  chips        = {result['chips']}",
        f"  vectors      = {result['vectors']}",
        f"  outputs      = {result['outputs']}",
        f"  inputs       = {result['inputs']}",
        f"  seconds      = {result['seconds']:.2f}",
    ])

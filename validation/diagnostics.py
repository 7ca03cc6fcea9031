"""Why a scheme loses accuracy: the systematic gain of a programmed chip's weights and of its logits.

The MVM-level error budget compares one layer's analog output with the ideal output *on the same input*.
A network also feels how errors compound through its depth, and a systematic error compounds where a
random one does not. The clearest case: with clipping to [g_min, Gmax] and g_min = 0, a differential
pair's cell programmed at g_min keeps only its positive programming errors (mean 0.4 sigma), so every
nonzero weight shrinks toward zero by the same amount on every chip: a weight gain below 1 in every
layer, and logits that shrink layer after layer.

* :func:`weight_gains`: per analog layer, the least-squares gain of the chip's effective weights
  W_eff (:meth:`aimc.montecarlo.layers.AnalogConv2d.effective_weights`, integer-weight units) on the
  intended integer weights, ``gain = <W_eff, W> / <W, W>``, and the residual
  ``||W_eff - gain W|| / ||gain W||``. Needs input-linear layers (no ADC, read noise or wire resistance).
* :func:`output_gain`: the same for the network's outputs against a reference network on the same
  inputs, and the fraction of inputs whose top-1 class agrees.

The command line also prints the closed-form prediction of the mean weight gain
(:func:`aimc.theory.weight_gain`, the mean over chips), beside the one chip it measures.

Command line (one programmed chip per scheme, the reference is the 8-bit quantised digital network). The
scheme is built as for every ``aimc`` command (--preset, --config, --set; default design-a), with
:data:`MEASUREMENT_CONDITIONS` applied before --set::

    aimc diagnostics --model resnet50-tinyimagenet --images 16 --set device.on_off=inf \\
        --set device.programming.model=state_independent --set device.programming.alpha=0.02 \\
        --vary mapping.kind=differential,offset --vary device.clip=range,none
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence

import numpy as np
import torch
from aimc.montecarlo.layers import analog_layers
from torch import nn
from tqdm import tqdm

from aimc.cli_common import add_scheme_arguments, scheme_from_args
from aimc.scheme import Scheme

__all__ = ["add_diagnostics_arguments", "format_diagnosis", "output_gain", "run_diagnostics", "weight_gains"]


def _gain(y: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """Least-squares gain of ``y`` on ``ref``, <y, ref> / <ref, ref>, and the residual ||y - g ref|| / ||g ref||."""
    y, ref = y.to(torch.float64), ref.to(torch.float64)
    norm = float((ref * ref).sum())
    if norm == 0:
        return float("nan"), float("nan")
    gain = float((y * ref).sum()) / norm
    return gain, float((y - gain * ref).norm() / (abs(gain) * ref.norm()))


def weight_gains(analog: nn.Module, predict: bool = False) -> list[dict]:
    """Per analog layer: name, gain and residual of the programmed effective weights on the intended ones,
    and their ``bias``, the mean of W_eff - W over all weights (integer-weight units: a shift every weight
    shares, which a gain cannot express; e.g. offset mapping with clipped cells in its slices).

    ``predict``: also the closed-form values of the mean chip (``predicted_gain``,
    :func:`aimc.theory.weight_gain`; ``predicted_bias``, from :func:`aimc.theory.expected_weight_error`).
    """
    if predict:
        from aimc.theory import expected_weight_error, weight_gain
    rows = []
    for layer in analog_layers(analog):
        if not layer.input_linear:
            raise ValueError(
                f"{layer.name}: weight gain needs input-linear layers (no ADC, read noise or wire "
                "resistance): set adc.bits=0, no read noise and parasitics.r=0"
            )
        w_eff = layer.effective_weights()
        gain, residual = _gain(w_eff, layer.w_int)
        bias = float((w_eff.to(torch.float64) - layer.w_int.to(torch.float64)).mean())
        row = {"layer": layer.name, "gain": gain, "residual": residual, "bias": bias}
        if predict:
            row["predicted_gain"] = weight_gain(layer.w_int.cpu(), layer.scheme)
            row["predicted_bias"] = float(expected_weight_error(layer.w_int.cpu(), layer.scheme).mean())
        rows.append(row)
    return rows


@torch.no_grad()
def output_gain(model: nn.Module, reference: nn.Module, inputs: torch.Tensor) -> dict:
    """Gain and residual of ``model``'s outputs on ``reference``'s, and their top-1 agreement."""
    y, ref = model(inputs), reference(inputs)
    gain, residual = _gain(y, ref)
    agree = float((y.argmax(1) == ref.argmax(1)).to(torch.float64).mean())
    return {"output_gain": gain, "output_residual": residual, "top1_agreement": agree}


def _variations(vary: Sequence[str]) -> list[dict]:
    axes = []
    for item in vary:
        path, sep, values = item.partition("=")
        if not sep or not path or not values:
            raise ValueError(f"--vary: expected PATH=V1,V2,..., got {item!r}")
        axes.append([(path, v) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


MEASUREMENT_CONDITIONS = {"adc.bits": 0}
"""Applied to the scheme before --set: a gain of the effective weights needs input-linear layers (no ADC)."""


def add_diagnostics_arguments(parser: argparse.ArgumentParser) -> None:
    """``aimc diagnostics``: the model, the images, the scheme (--preset/--config/--set) and --vary."""
    from .models import REFERENCE_MODELS

    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--model", default=None, metavar="MODEL",
                        help=f"reference model: {', '.join(sorted(REFERENCE_MODELS))} (required)")
    parser.add_argument("--images", type=int, default=16, metavar="N",
                        help="test images (a fixed, seeded, class-balanced subset) fed to both networks (default 16)")
    add_scheme_arguments(parser)
    parser.add_argument("--vary", action="append", default=[], metavar="PATH=V1,V2",
                        help="one scheme per combination of the listed values, on top of the scheme (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the chips and of the image subset (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print one JSON object per scheme, as each finishes")


def _diagnose(net, reference: nn.Module, inputs: torch.Tensor, scheme: Scheme, seed: int) -> dict:
    """The measured and predicted weight gains of one programmed chip, and its output gain."""
    from .accuracy import convert_network

    analog = convert_network(net, scheme, seed=seed)
    layers = weight_gains(analog, predict=True)
    gains = np.array([r["gain"] for r in layers])
    return {
        "weight_gain_mean": float(gains.mean()),
        "weight_gain_min": float(gains.min()),
        "weight_gain_min_layer": layers[int(gains.argmin())]["layer"],
        "predicted_weight_gain_mean": float(np.mean([r["predicted_gain"] for r in layers])),
        "predicted_weight_gain_min": float(np.min([r["predicted_gain"] for r in layers])),
        "weight_residual_mean": float(np.mean([r["residual"] for r in layers])),
        "weight_bias_mean": float(np.mean([r["bias"] for r in layers])),
        "predicted_weight_bias_mean": float(np.mean([r["predicted_bias"] for r in layers])),
        **output_gain(analog, reference, inputs),
        "images": int(inputs.shape[0]),
    }


def format_diagnosis(row: dict) -> str:
    """One scheme's diagnosis on one line."""
    return "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def run_diagnostics(args: argparse.Namespace) -> int:
    """``aimc diagnostics``: one line (or JSON object) per scheme, printed as each finishes."""
    from .accuracy import convert_network, load_network, quantized_scheme
    from .data import normalise
    from .models import REFERENCE_MODELS

    if args.model not in REFERENCE_MODELS:
        got = "missing" if args.model is None else f"got {args.model!r}"
        raise ValueError(f"--model: {got}; allowed: {', '.join(sorted(REFERENCE_MODELS))}")
    if args.images < 1:
        raise ValueError(f"--images: must be >= 1, got {args.images}")
    base, _ = scheme_from_args(args, MEASUREMENT_CONDITIONS)
    schemes = [(v, base.with_overrides(v)) for v in _variations(args.vary)]
    with tqdm(total=len(schemes), desc="diagnostics", unit="scheme", disable=args.no_progress) as bar:
        net = load_network(args.model, images=args.images, seed=args.seed, device=args.device,
                           progress=not args.no_progress)
        inputs = normalise(net.images, net.mean, net.std).to(net.device)
        reference = convert_network(net, quantized_scheme(schemes[0][1]))
        for varied, scheme in schemes:
            row = {**{k: str(v) for k, v in varied.items()}, **_diagnose(net, reference, inputs, scheme, args.seed)}
            bar.write(json.dumps(row) if args.json else format_diagnosis(row), file=sys.stdout)
            sys.stdout.flush()
            bar.update()
    return 0

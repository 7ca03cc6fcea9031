"""``aimc predict``: a network's top-1 accuracy under a scheme from the closed forms, without simulation.

The model, data and ``--images`` mean what they mean for ``aimc accuracy`` (the same test images, the same
calibration images); the scheme is built by the same arguments (:mod:`aimc.cli_common`). The one-time step
(:mod:`.measure`) runs on the first call for a model, its images and its quantisation, with a progress bar,
and is cached in the user's cache folder; every later scheme takes well under a second.
"""

from __future__ import annotations

import argparse
import time

from aimc.montecarlo.engine import resolve_device

from aimc.cli_common import add_scheme_arguments, scheme_from_args

from ..accuracy import CALIBRATION_IMAGES, check_network_arguments, load_network
from ..models import REFERENCE_MODELS
from .accuracy_model import predict_from_errors
from .compounding import load_or_calibrate
from .core import layer_errors
from .measure import load_or_measure
from .network import Quantisation
from .validate import reason

__all__ = ["add_predict_arguments", "format_predict", "run_predict"]

DEFAULT_MODEL = "resnet50-tinyimagenet"
WORST_LAYERS = 5


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --data, --val-map, --calibration, --calibration-images, --images, --seed, --device, --batch-size."""
    models = ", ".join(sorted(REFERENCE_MODELS))
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"{models}, or a torchvision ResNet-50 state dict .pt/.pth (needs --data); "
                        f"default {DEFAULT_MODEL}")
    parser.add_argument("--data", default=None, help="test images, as for aimc accuracy (default the model's own)")
    parser.add_argument("--val-map", default=None, help="ImageNet labels, as for aimc accuracy")
    parser.add_argument("--calibration", default=None, help="calibration images, as for aimc accuracy")
    parser.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES,
                        help=f"calibration images used (default {CALIBRATION_IMAGES})")
    parser.add_argument("--images", type=int, default=None,
                        help="the fixed, seeded, class-balanced subset of N test images aimc accuracy --images N "
                        "evaluates (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image subset (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda, for the one-time step (default cpu)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per pass of the one-time step (64)")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheme_arguments(parser)
    add_network_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def check_network(args: argparse.Namespace) -> None:
    """Refuse bad model, data, image and device arguments before any work."""
    if args.batch_size < 1:
        raise ValueError(f"--batch-size: must be >= 1, got {args.batch_size}")
    check_network_arguments(args.model, data=args.data, val_map=args.val_map, calibration=args.calibration,
                            calibration_images=args.calibration_images, images=args.images, seed=args.seed)
    resolve_device(args.device)


def load_profile(args: argparse.Namespace, scheme) -> tuple:
    """(the network, its profile for the scheme's quantisation, the profile's compounding, cached?, seconds
    to load or measure them)."""
    start = time.perf_counter()
    net = load_network(args.model, data=args.data, val_map=args.val_map, calibration=args.calibration,
                       calibration_images=args.calibration_images, images=args.images, seed=args.seed,
                       device=args.device, progress=not args.no_progress)
    profile, cached = load_or_measure(net, Quantisation.of(scheme), batch_size=args.batch_size,
                                      progress=not args.no_progress)
    return net, profile, load_or_calibrate(profile), cached, time.perf_counter() - start


def run_predict(args: argparse.Namespace) -> dict:
    """The prediction of ``aimc predict`` (see the module doc); ValueError on bad input, before any work."""
    scheme, name = scheme_from_args(args)
    check_network(args)
    _, profile, compounding, cached, profile_seconds = load_profile(args, scheme)
    start = time.perf_counter()
    errors = layer_errors(profile, scheme)
    p = predict_from_errors(profile, errors, compounding)
    linear = predict_from_errors(profile, errors, None)
    worst = sorted(p.by_layer.items(), key=lambda kv: -kv[1])[:WORST_LAYERS]
    return {
        "model": args.model,
        "scheme": name,
        "accuracy_predicted": p.accuracy,
        "accuracy_spread": p.spread,
        "accuracy_linear": linear.accuracy,
        "baseline_quantized": p.digital,
        "images": profile.images,
        "by_source": {k: v for k, v in sorted(p.by_source.items(), key=lambda kv: -abs(kv[1])) if v},
        "by_layer": dict(worst),
        "notes": reason(profile, errors, compounding, p),
        "seconds": round(time.perf_counter() - start, 3),
        "one_time_step": {"cached": cached, "seconds": round(profile_seconds, 1)},
        "method": "compounded: the per-layer closed-form errors through the measured responses, with the "
                  "compounding through the depth calibrated on the one-time step's injections; linear: the same "
                  "errors through the per-layer responses only (first order)",
        "attribution": "the predicted loss split in proportion to each part's share of the margin's mean "
                       "squared error (label against its strongest rival)",
        "scheme_json": scheme.to_dict(),
    }


def format_predict(result: dict) -> str:
    pct = 100.0
    loss = result["baseline_quantized"] - result["accuracy_predicted"]
    lines = [
        (f"{result['model']}, {result['scheme']}: predicted top-1 {pct * result['accuracy_predicted']:.2f} % "
         f"+- {pct * result['accuracy_spread']:.2f} % (chip to chip), {result['images']} images"),
        (f"  digital quantised {pct * result['baseline_quantized']:.2f} %   predicted loss {pct * loss:.2f} points"
        f"   (first order, no compounding: {pct * result['accuracy_linear']:.2f} %)"),
        "  loss by source    " + ", ".join(f"{k} {pct * v:.2f}" for k, v in result["by_source"].items()),
        "  worst layers      " + ", ".join(f"{k} {pct * v:.2f}" for k, v in result["by_layer"].items()),
        *([f"  notes             {result['notes']}"] if result["notes"] else []),
        f"  seconds           {result['seconds']:.2f}  (one-time step "
        + ("cached" if result["one_time_step"]["cached"] else f"{result['one_time_step']['seconds']:.0f} s") + ")",
    ]
    return "\n".join(lines)

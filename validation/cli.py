"""Command-line entry points of ``aimc.validation``, routed by :mod:`aimc.cli`.

Each sub-command is a trio ``add_<name>_arguments(parser)``, ``run_<name>(args) -> dict`` and
``format_<name>(result) -> str``; the work itself lives in the modules beside this one (``accuracy``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aimc.cli_common import add_scheme_arguments, scheme_from_args
from aimc.results import DEFAULT_RESULTS_DIR, ResultsCSV

from .accuracy import (
    CALIBRATION_IMAGES,
    KEY_FIELDS,
    accuracy_for_scheme,
    load_network,
    result_key,
    run_cached,
)
from .models import REFERENCE_MODELS

__all__ = ["add_accuracy_arguments", "format_accuracy", "run_accuracy"]

DEFAULT_MODEL = "resnet50-tinyimagenet"
DEFAULT_CSV = "aimc_accuracy.csv"


# ---------------------------------------------------------------------------------------------------------
# aimc accuracy
# ---------------------------------------------------------------------------------------------------------


def add_accuracy_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheme_arguments(parser)
    models = ", ".join(sorted(REFERENCE_MODELS))
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"{models}, or a torchvision ResNet-50 state dict .pt/.pth (ImageNet path; needs "
                        f"--data); default {DEFAULT_MODEL}")
    parser.add_argument("--data", default=None,
                        help="test images: an ImageFolder zip for a reference model (default its own test set); "
                        "for --model PATH a folder or zip of ImageNet validation JPEGs")
    parser.add_argument("--val-map", default=None,
                        help="ImageNet labels, MLPerf format '<file> <label>' (default val_map.txt in --data)")
    parser.add_argument("--calibration", default=None,
                        help="calibration images: a .pt uint8 tensor [N, 3, H, W] or an ImageFolder zip "
                        "(default: the model's calibration set; ImageNet path: held out of --data)")
    parser.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES,
                        help=f"calibration images used (default {CALIBRATION_IMAGES}, as the paper)")
    parser.add_argument("--images", type=int, default=None,
                        help="a fixed, seeded, class-balanced subset of N test images (default: all)")
    parser.add_argument("--chips", type=int, default=1, help="programmed chips (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the chips and of the image subset (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per forward pass (default 128)")
    parser.add_argument("--out", default=DEFAULT_CSV,
                        help=f"results CSV, appended atomically; a finished result is reused (default {DEFAULT_CSV})")
    parser.add_argument("--no-save", action="store_true", help="neither read nor write a results CSV")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run_accuracy(args: argparse.Namespace) -> dict:
    """Run ``aimc accuracy`` as the arguments say; ValueError/ConfigError/FileNotFoundError on bad input."""
    for name in ("chips", "batch_size", "images", "calibration_images"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")
    if args.model not in REFERENCE_MODELS and Path(args.model).suffix not in (".pt", ".pth"):
        raise ValueError(f"--model: {args.model!r} is neither a reference model ({', '.join(sorted(REFERENCE_MODELS))}) "
                         "nor a .pt/.pth state dict")
    scheme, scheme_name = scheme_from_args(args)
    store = None if args.no_save else ResultsCSV(args.out, KEY_FIELDS)
    net = None

    def network():
        nonlocal net
        if net is None:
            net = load_network(args.model, data=args.data, val_map=args.val_map, calibration=args.calibration,
                               calibration_images=args.calibration_images, images=args.images, seed=args.seed,
                               device=args.device)
        return net

    images = args.images if args.images is not None else len(network().labels)
    key = result_key(args.model, args.data, scheme, images, args.chips, args.seed, args.calibration_images)
    extra = {"scheme": scheme_name, "device": args.device}

    def compute() -> dict:
        return accuracy_for_scheme(network(), scheme, chips=args.chips, seed=args.seed,
                                   batch_size=args.batch_size, progress=not args.no_progress,
                                   description=f"{scheme_name} on {args.model}")

    result, cached = run_cached(store, key, compute, extra)
    out = {
        "model": args.model,
        "scheme": scheme_name,
        "scheme_hash": key["scheme_hash"],
        "accuracy_mean": result["accuracy_mean"],
        "accuracy_std": result["accuracy_std"],
        "baseline_float": result["baseline_float"],
        "baseline_quantized": result["baseline_quantized"],
        "images": int(result["images"]),
        "chips": int(result["chips"]),
        "seed": args.seed,
        "accuracies": result["accuracies"],
        "seconds": result["seconds"],
        "digital_layers": result.get("digital_layers", []),
        "cached": cached,
    }
    if store is not None:
        out["csv"] = str(store.path)
    return out


def format_accuracy(result: dict) -> str:
    pct = 100.0
    lines = [
        (
            f"{result['model']}, {result['scheme']}: top-1 {pct * result['accuracy_mean']:.2f} % "
            f"+- {pct * result['accuracy_std']:.2f} % over {result['chips']} chip(s), {result['images']} images"
        ),
        f"  digital float     {pct * result['baseline_float']:.2f} %",
        f"  digital quantised {pct * result['baseline_quantized']:.2f} %",
        "  per chip          " + ", ".join(f"{pct * a:.2f}" for a in result["accuracies"]),
        f"  seconds           {result['seconds']:.1f}" + ("  (from the results CSV)" if result.get("cached") else ""),
    ]
    if result.get("digital_layers"):
        lines.append(f"  digital layers    {_digital_summary(result['digital_layers'])}")
    if "csv" in result:
        lines.append(f"  results CSV       {result['csv']}")
    return "\n".join(lines)


def _digital_summary(parts: list[str]) -> str:
    """'name: kind' entries counted by kind, with the names of the kinds that occur once or twice."""
    by_kind: dict[str, list[str]] = {}
    for part in parts:
        name, _, kind = part.partition(": ")
        by_kind.setdefault(kind.split(" [")[0], []).append(name)
    return ", ".join(f"{kind} x{len(names)}" + (f" ({', '.join(names)})" if len(names) <= 2 else "")
                     for kind, names in by_kind.items()) + "; on no array (--json lists each)"


# ---------------------------------------------------------------------------------------------------------
# aimc validate (MVM-level validation: theory against Monte Carlo; the work lives in .sweep and .conformance)
# ---------------------------------------------------------------------------------------------------------

__all__ += ["add_validate_arguments", "format_validation", "run_validate"]


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=("mvm", "conformance"),
                        help="mvm: the published sweep (theory vs Monte Carlo: a CSV and a summary; the plots are "
                        "aimc figures mvm_identity mvm_regimes); conformance: every registered option of the "
                        "vocabulary, one check each")
    parser.add_argument("--quick", action="store_true", help="a small subset (the CI subset for conformance)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"results folder; a rerun resumes, skipping finished points (default "
                        f"{DEFAULT_RESULTS_DIR}/mvm or {DEFAULT_RESULTS_DIR}/conformance; aimc figures reads "
                        f"the sweep from {DEFAULT_RESULTS_DIR}/mvm by default)")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel processes for the mvm sweep (each uses --threads torch threads; default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda for the Monte Carlo (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_validate(args: argparse.Namespace) -> dict:
    """Run ``aimc validate mvm|conformance``; ValueError on bad arguments."""
    from .conformance import run_conformance
    from .sweep import run_sweep

    for name in ("workers", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}: must be >= 1, got {getattr(args, name)}")
    out = args.out or str(Path(DEFAULT_RESULTS_DIR) / args.target)
    if args.target == "conformance":
        result = run_conformance("quick" if args.quick else "full", out, progress=not args.no_progress,
                                 device=args.device)
    else:
        result = run_sweep(out, quick=args.quick, workers=args.workers, threads=args.threads, device=args.device,
                           progress=not args.no_progress)
    if result.get("csv") is not None:
        result["csv"] = str(result["csv"])  # a path, for --json
    result["target"] = args.target
    return result


def format_validation(result: dict) -> str:
    from .conformance import format_conformance
    from .sweep import format_summary

    return format_conformance(result) if result.get("target") == "conformance" else format_summary(result)

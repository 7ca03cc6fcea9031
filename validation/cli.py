"""Command-line entry points of ``aimc.validation``, routed by :mod:`aimc.cli`.

Each sub-command is a trio ``add_<name>_arguments(parser)``, ``run_<name>(args) -> dict`` and
``format_<name>(result) -> str``; the work itself lives in the modules beside this one (``accuracy``).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from aimc.montecarlo.engine import resolve_device

from aimc.cli_common import add_scheme_arguments, scheme_from_args
from aimc.results import (
    DEFAULT_RESULTS_DIR,
    ResultsCSV,
    check_output,
    read_csv,
    row_versions,
    set_resume_note,
)

from .accuracy import (
    CALIBRATION_IMAGES,
    KEY_FIELDS,
    RowRequest,
    check_network_arguments,
    load_network,
    network_identity,
    replace_row,
    result_key,
    row_numbers,
    row_request,
    run_stored,
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
    parser.add_argument("--model", default=None,
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
    parser.add_argument("--calibration-images", type=int, default=None,
                        help=f"calibration images used (default {CALIBRATION_IMAGES}, as the paper)")
    parser.add_argument("--images", type=int, default=None,
                        help="a fixed, seeded, class-balanced subset of N test images (default: all)")
    parser.add_argument("--chips", type=int, default=None, help="programmed chips (default 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the chips and of the image subset, >= 0 (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per forward pass (default 128)")
    parser.add_argument("--out", default=None,
                        help=f"results CSV, written atomically after every chip; a finished result of the current "
                        f"code is reused, an interrupted one resumed at its first missing chip (default {DEFAULT_CSV})")
    parser.add_argument("--no-save", action="store_true", help="neither read nor write a results CSV")
    parser.add_argument("--from-row", default=None, metavar="FILE:ROWS",
                        help="re-run rows of a results CSV from the file alone (ROWS: N, or a list such as 1,4-9; "
                        "1 = the first row after the header): each row's scheme, model, images, chips, seed and "
                        "calibration; prints whether its numbers reproduce (--data/--calibration may point to a "
                        "copy of the row's files: the images must hash alike where the row records their hashes)")
    parser.add_argument("--in-place", action="store_true",
                        help="with --from-row: replace each re-run row in FILE (its own columns kept, its result, "
                        "versions and provenance new), to bring stale rows up to the current code")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


_FROM_ROW_CONFLICTS = ("preset", "config", "model", "images", "chips", "seed", "calibration_images")


def _check_accuracy_arguments(args: argparse.Namespace) -> None:
    """Every check that needs no loading, before any work: counts, conflicts, the device, the output file."""
    for name in ("chips", "batch_size", "images", "calibration_images"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")
    if args.no_save and args.out is not None:
        raise ValueError("--no-save: cannot be combined with --out (--no-save writes no CSV)")
    if args.in_place and (args.from_row is None or args.out is not None or args.no_save):
        raise ValueError("--in-place: needs --from-row, and writes into its file (no --out or --no-save)")
    if args.from_row is not None:
        given = [f"--{n.replace('_', '-')}" for n in _FROM_ROW_CONFLICTS if getattr(args, n) is not None]
        given += ["--set"] if args.set else []
        if given:
            raise ValueError(f"--from-row: the row names the scheme, model, images, chips, seed and calibration; "
                             f"cannot be combined with {', '.join(given)}")
    resolve_device(args.device)
    if args.in_place:
        check_output(args.from_row.rpartition(":")[0], "--from-row")
    elif not args.no_save:
        check_output(args.out or DEFAULT_CSV, "--out")
        _check_accuracy_csv(args.out or DEFAULT_CSV)


def _check_accuracy_csv(path: str) -> None:
    """An existing --out must be a results CSV of accuracies (it is read, then replaced with a row added)."""
    try:
        rows = read_csv(path)
    except (UnicodeDecodeError, OSError) as e:
        raise ValueError(f"--out: cannot read {path!r} as a CSV ({e})") from None
    if rows and not {"model", "scheme_hash"} <= set(rows[0]):
        raise ValueError(f"--out: {path!r} is not an aimc accuracy CSV (no model and scheme_hash columns)")


def _row_args(args: argparse.Namespace, request: RowRequest) -> argparse.Namespace:
    """The arguments of one re-run row: the row's request, with --data/--calibration where given."""
    row_args = copy.copy(args)
    row_args.model, row_args.images, row_args.chips = request.model, request.images, request.chips
    row_args.seed, row_args.calibration_images = request.seed, request.calibration_images
    row_args.data = args.data if args.data is not None else request.data
    row_args.calibration = args.calibration if args.calibration is not None else request.calibration
    return row_args


def run_accuracy(args: argparse.Namespace) -> dict:
    """Run ``aimc accuracy`` as the arguments say; ValueError/ConfigError/FileNotFoundError on bad input,
    before any work. With --from-row, every row is read and checked first, then re-run in order (rows that
    share their network and images load them once)."""
    _check_accuracy_arguments(args)
    if args.from_row is None:
        args.model = args.model or DEFAULT_MODEL
        args.chips = 1 if args.chips is None else args.chips
        args.seed = 0 if args.seed is None else args.seed
        if args.calibration_images is None:
            args.calibration_images = CALIBRATION_IMAGES
        scheme, scheme_name = scheme_from_args(args)
        _check_network(args)
        return _run_one(args, scheme, scheme_name, None, {})
    path, numbers = row_numbers(args.from_row)
    jobs = [(_row_args(args, request), request) for request in (row_request(f"{path}:{n}") for n in numbers)]
    for row_args, _ in jobs:
        _check_network(row_args)
    networks: dict = {}
    outs = [_run_one(row_args, request.scheme, request.row.get("scheme") or request.row.get("point") or "row",
                     request, networks) for row_args, request in jobs]
    if len(outs) == 1:
        return outs[0]
    return {"rows": outs, "reproduced": sum(o["from_row"]["reproduced"] for o in outs), "of": len(outs)}


def _check_network(args: argparse.Namespace) -> None:
    if args.model not in REFERENCE_MODELS and Path(args.model).suffix not in (".pt", ".pth"):
        raise ValueError(f"--model: {args.model!r} is neither a reference model ({', '.join(sorted(REFERENCE_MODELS))}) "
                         "nor a .pt/.pth state dict")
    check_network_arguments(args.model, data=args.data, val_map=args.val_map, calibration=args.calibration,
                            calibration_images=args.calibration_images, images=args.images, seed=args.seed)


def _run_one(args: argparse.Namespace, scheme, scheme_name: str, request: RowRequest | None, networks: dict) -> dict:
    """One result: computed (or read from --out), or one re-run row (written to --out or, --in-place, to its file)."""
    store = None if args.no_save or args.in_place else ResultsCSV(args.out or DEFAULT_CSV, KEY_FIELDS, versioned=True)
    where = (args.model, args.data, args.val_map, args.calibration, args.calibration_images, args.images, args.seed)

    def network():
        if where not in networks:
            networks.clear()  # one network in memory at a time
            networks[where] = load_network(args.model, data=args.data, val_map=args.val_map,
                                           calibration=args.calibration, calibration_images=args.calibration_images,
                                           images=args.images, seed=args.seed, device=args.device,
                                           progress=not args.no_progress)
        if request is not None:
            _check_row_identity(request.row, networks[where])
        return networks[where]

    images = args.images if args.images is not None else len(network().labels)
    key = result_key(args.model, request.data if request else args.data, scheme, images, args.chips, args.seed,
                     args.calibration_images, request.calibration if request else args.calibration)
    result, cached = run_stored(store, key, network, scheme, chips=args.chips, seed=args.seed,
                                batch_size=args.batch_size, progress=not args.no_progress,
                                description=f"{scheme_name} on {args.model}", extra={"scheme": scheme_name},
                                reuse=request is None)
    if args.in_place:
        replace_row(args.from_row.rpartition(":")[0], request.row, result, network(), scheme)
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
    out["resumed_at_chip"] = result.get("resumed_at_chip", 0)
    if store is not None:
        out["csv"] = str(store.path)
    if request is not None:
        out["from_row"] = _reproduction(request, result)
    return out


def _check_row_identity(row: dict, net) -> None:
    """The network and images of a re-run must be the row's, where the row records their hashes."""
    identity = network_identity(net)
    for name, flag in (("model_hash", "--model"), ("data_hash", "--data"), ("calibration_hash", "--calibration")):
        if row.get(name) and row[name] != identity[name]:
            raise ValueError(f"{flag}: these are not the row's {name.split('_')[0]} files (hash {identity[name]}, "
                             f"the row's {row[name]})")


def _reproduction(request: RowRequest, result: dict) -> dict:
    """The stored numbers of a re-run row beside the new ones, and whether every chip's accuracy is the same."""
    row = request.row
    stored = [float(a) for a in json.loads(row.get("accuracies") or "[]")]
    return {
        "row": f"{request.path}:{request.number}",
        "stored_accuracies": stored,
        "stored_versions": row_versions(row),
        "stored_device": row.get("device", ""),
        "reproduced": stored == [float(a) for a in result["accuracies"]],
        "identity_checked": [n for n in ("model_hash", "data_hash", "calibration_hash") if row.get(n)],
    }


def format_accuracy(result: dict) -> str:
    if "rows" in result:
        return "\n".join([format_accuracy(row) for row in result["rows"]]
                         + [f"{result['reproduced']} of {result['of']} rows reproduced exactly"])
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
    if result.get("resumed_at_chip"):
        lines.append(f"  resumed at chip   {result['resumed_at_chip']} (the chips before it were stored)")
    if "from_row" in result:
        row = result["from_row"]
        stored = ", ".join(f"{pct * a:.2f}" for a in row["stored_accuracies"])
        verdict = "reproduced exactly" if row["reproduced"] else "NOT reproduced"
        lines.append(f"  row {row['row']}: stored per chip {stored} ({row['stored_device'] or 'device not recorded'}, "
                     f"engine version {row['stored_versions']['engine_version']}): {verdict}")
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
    parser.add_argument("target", choices=("mvm", "conformance", "predictor"),
                        help="mvm: the published sweep (theory vs Monte Carlo: a CSV and a summary; the plots are "
                        "aimc figures mvm_identity mvm_regimes); conformance: every registered option of the "
                        "vocabulary, one check each; predictor: aimc predict against every simulated accuracy "
                        "of --results")
    parser.add_argument("--model", default="resnet50-tinyimagenet",
                        help="predictor: the model whose sweeps are compared (default resnet50-tinyimagenet)")
    parser.add_argument("--data", default=None, help="predictor: the model's test images, for a model file")
    parser.add_argument("--results", default=DEFAULT_RESULTS_DIR,
                        help=f"predictor: the folder aimc experiments wrote (<results>/<model>/*.csv; default "
                        f"{DEFAULT_RESULTS_DIR})")
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
    resolve_device(args.device)
    out = args.out or str(Path(DEFAULT_RESULTS_DIR) / args.target)
    check_output(out, "--out", folder=True)
    if args.target == "predictor":
        from .predictor.validate import run_predictor_validation

        summary = run_predictor_validation(args.model, Path(args.results), Path(out), data=args.data,
                                           device=args.device, progress=not args.no_progress)
        # the summary's "target" is the tolerance in accuracy; here "target" names what was validated
        return {**summary, "tolerance": summary["target"], "target": "predictor"}
    set_resume_note(f"every finished {'case' if args.target == 'conformance' else 'point'} is kept in {out}; the "
                    "same command resumes, skipping them")
    if args.target == "conformance":
        result = run_conformance("quick" if args.quick else "full", out, progress=not args.no_progress,
                                 device=args.device)
    else:
        result = run_sweep(out, quick=args.quick, workers=args.workers, threads=args.threads, device=args.device,
                           progress=not args.no_progress)
    if result.get("csv") is not None:
        result["csv"] = str(result["csv"])  # a path, for --json
    result["target"] = args.target
    if result.get("counts", {}).get("error"):
        result["exit_status"] = 1  # a case that raised is a fault of the toolkit, not a verdict on the theory
    return result


def format_validation(result: dict) -> str:
    from .conformance import format_conformance
    from .sweep import format_summary

    if result.get("target") == "predictor":
        from .predictor.validate import format_predictor_validation

        return format_predictor_validation(result)
    return format_conformance(result) if result.get("target") == "conformance" else format_summary(result)

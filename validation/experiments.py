"""The paper's network-level experiments as data, and a resumable runner.

An :class:`Experiment` is a named list of :class:`Point` (a label and the scheme overrides of that point,
applied on top of the experiment's base scheme). :func:`run_experiment` evaluates every point on a
reference network and writes one CSV row per finished point at once, atomically, to
``<out>/<model>/<experiment>.csv``; a rerun skips the points already there (same point, scheme, images,
chips and seed). ``--out`` defaults to :data:`aimc.results.DEFAULT_RESULTS_DIR` (``aimc_results`` in the
current directory); the repository's committed results are in ``validation/results``, so a command that
extends them names it (``--out validation/results``).

Command line::

    python -m aimc.validation.experiments list
    python -m aimc.validation.experiments run designs cell-si-mapping --model resnet50-tinyimagenet \\
        --images 2000 --chips 5 --device cuda [--match LABEL] [--max-seconds 500] [--out DIR]

Conventions shared by the sweeps (the paper's where it states them, ``shared/PAPER.md`` sections 4-7):
8-bit weights per layer, 8-bit activations (signed first layer), calibration on 500 separate images;
conductances normalised to Gmax; state-independent alpha relative to Gmax. Experiments with ideal devices
are deterministic and run one chip; those with device errors run ``chips`` (default 5) chips per point.

* ``baselines``: the float network and the 8-bit quantised digital network.
* ``designs``: the paper's designs A, B, C, E (presets) with the SONOS error model, and each with ideal
  cells; design E also with a granular ADC range and with an aligned one (the paper's bit-sliced rule: the
  calibrated range widened to the granular range times a power of two), since its inner-percentile 8-bit
  range does not line up with the signal levels of its 2-bit cells. Design D is not described in any
  available source.
* ``cell-si-mapping`` / ``cell-sp-mapping``: accuracy vs alpha of state-independent (0.25-2 % of Gmax)
  and state-proportional (2-40 %) programming error, differential vs offset, unsliced; no ADC (the cell
  error alone), 1152 rows, infinite On/Off, clipping to [g_min, 1].
* ``cell-si-noclip``: ``cell-si-mapping`` without clipping the programmed conductances. With clipping, a
  differential pair's cell programmed at g_min = 0 keeps only its positive errors: a mean shift of
  0.4 alpha Gmax that shrinks every nonzero weight toward zero, the same on every chip, compounding through
  the network's depth (``python -m aimc.validation.diagnostics``).
* ``cell-si-slices`` / ``cell-sp-slices``: the same with 1-, 2- and 4-bit weight slices (differential:
  the 7 magnitude bits in 7, 4 or 2 slices, the top slice under-used for 2 and 4 bits; offset: the 8 bits
  of u = w + M in 8, 4 or 2 slices).
* ``adc-bits``: ideal devices, calibrated ADC of 4-10 bits, differential vs offset, 144 and 1152 rows,
  unsliced; bit-serial inputs with analog accumulation (one conversion per MVM) for both mappings.
* ``adc-rows``: ideal devices, 8-bit calibrated ADC, rows 72-1152 x bits per cell (1, 2, 4, unsliced),
  differential vs offset (the paper's Fig. 17); inputs as in ``adc-bits``.
* ``parasitics``: ideal devices, 8-bit calibrated ADC, normalised wire resistance r (1e-5 to 1e-3, the
  paper's Fig. 21 topology: inputs on gates, bit-line resistance, 1-bit input slices with analog
  accumulation), 144 and 1152 rows, differential vs offset. Exact circuit solves: expensive; run on few
  images.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aimc._fields import ConfigError
from aimc.cli_common import quiet_broken_pipe
from aimc.presets import get_preset
from aimc.results import DEFAULT_RESULTS_DIR
from aimc.scheme import Scheme

from .accuracy import (
    CALIBRATION_IMAGES,
    Network,
    ResultsCSV,
    accuracy_for_scheme,
    baselines,
    load_network,
    scheme_hash,
)
from .models import REFERENCE_MODELS

__all__ = ["EXPERIMENTS", "Experiment", "Point", "main", "point_scheme", "results_path", "run_experiment"]

RESULTS_DIR = Path(DEFAULT_RESULTS_DIR)
"""Where results files go unless told otherwise: relative to the current directory, never the package."""
DEFAULT_CHIPS = 5
POINT_KEY = ("experiment", "point", "model", "scheme_hash", "images", "chips", "seed", "calibration_images")


@dataclass(frozen=True)
class Point:
    """One point of a sweep: a label and scheme overrides (dotted paths) on the experiment's base."""

    label: str
    overrides: dict = field(default_factory=dict)
    preset: str | None = None
    """A preset to start from instead of the experiment's base (the designs)."""


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    points: tuple[Point, ...]
    base: dict = field(default_factory=dict)
    """Overrides applied to the default Scheme before each point's own (unless the point names a preset)."""
    deterministic: bool = False
    """Ideal devices: one chip says everything, whatever ``--chips`` asks."""

    def scheme(self, point: Point) -> Scheme:
        start = get_preset(point.preset) if point.preset else Scheme().with_overrides(self.base)
        return start.with_overrides(point.overrides)


_IDEAL_CELLS = {"device.programming.model": "none", "device.programming.alpha": 0.0}
_NO_ADC_CELL_BASE = {"adc.bits": 0, "array.rows": 1152, "device.on_off": "inf", "device.clip": "range"}
SI_ALPHAS = (0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02)
SP_ALPHAS = (0.02, 0.04, 0.07, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40)
ROWS = (72, 144, 288, 576, 1152)
# (label, overrides) of the mapping and slicing choices with 8-bit weights
UNSLICED = (
    ("differential", {"mapping.kind": "differential", "weights.slices": 1}),
    ("offset", {"mapping.kind": "offset", "mapping.offset": "digital", "weights.slices": 1}),
)
SLICED = (
    ("differential-1b", {"mapping.kind": "differential", "weights.slices": 7}),
    ("differential-2b", {"mapping.kind": "differential", "weights.slices": 4}),
    ("differential-4b", {"mapping.kind": "differential", "weights.slices": 2}),
    ("offset-1b", {"mapping.kind": "offset", "mapping.offset": "digital", "weights.slices": 8}),
    ("offset-2b", {"mapping.kind": "offset", "mapping.offset": "digital", "weights.slices": 4}),
    ("offset-4b", {"mapping.kind": "offset", "mapping.offset": "digital", "weights.slices": 2}),
)
_ANALOG_ACCUMULATION = {"inputs.slice_bits": 1, "inputs.accumulation": "analog"}


def _cell_sweep(model: str, alphas: tuple[float, ...], mappings: tuple) -> tuple[Point, ...]:
    return tuple(
        Point(
            f"{label} alpha={alpha:g}",
            {**over, "device.programming.model": model, "device.programming.alpha": alpha},
        )
        for label, over in mappings
        for alpha in alphas
    )


def _design_points() -> tuple[Point, ...]:
    designs = tuple(
        Point(f"design-{d}{suffix}", dict(extra), preset=f"design-{d}")
        for d in "abce"
        for suffix, extra in (("", {}), (" ideal cells", _IDEAL_CELLS))
    )
    return designs + tuple(  # design E with ranges whose levels line up with the signal levels (see README)
        Point(f"design-e {name} ADC{suffix}", {"adc.range": name, **extra}, preset="design-e")
        for name in ("granular", "aligned")
        for suffix, extra in (("", {}), (" ideal cells", _IDEAL_CELLS))
    )


def _cell_experiments() -> list[Experiment]:
    """The programming-error sweeps (no ADC: the cell error alone)."""
    return [
        Experiment(
            "cell-si-mapping",
            "state-independent programming error vs alpha, differential vs offset, unsliced, no ADC",
            _cell_sweep("state_independent", SI_ALPHAS, UNSLICED),
            _NO_ADC_CELL_BASE,
        ),
        Experiment(
            "cell-sp-mapping",
            "state-proportional programming error vs alpha, differential vs offset, unsliced, no ADC",
            _cell_sweep("state_proportional", SP_ALPHAS, UNSLICED),
            _NO_ADC_CELL_BASE,
        ),
        Experiment(
            "cell-si-noclip",
            "state-independent programming error vs alpha, differential vs offset, unsliced, no ADC, "
            "programmed conductances not clipped (isolates the clipping bias of cells programmed at g_min)",
            _cell_sweep("state_independent", SI_ALPHAS, UNSLICED),
            {**_NO_ADC_CELL_BASE, "device.clip": "none"},
        ),
        Experiment(
            "cell-si-slices",
            "state-independent programming error vs alpha with 1-, 2- and 4-bit weight slices, no ADC",
            _cell_sweep("state_independent", SI_ALPHAS, SLICED),
            _NO_ADC_CELL_BASE,
        ),
        Experiment(
            "cell-sp-slices",
            "state-proportional programming error vs alpha with 1-, 2- and 4-bit weight slices, no ADC",
            _cell_sweep("state_proportional", SP_ALPHAS, SLICED),
            _NO_ADC_CELL_BASE,
        ),
    ]


def _array_experiments() -> list[Experiment]:
    """The ideal-device sweeps of the ADC, the array size and the wire resistance."""
    return [
        Experiment(
            "adc-bits",
            "ideal devices, calibrated ADC 4-10 bits, differential vs offset, 144 and 1152 rows",
            tuple(
                Point(f"{label} rows={rows} adc={bits}", {**over, "array.rows": rows, "adc.bits": bits})
                for label, over in UNSLICED
                for rows in (1152, 144)
                for bits in range(4, 11)
            ),
            {**_ANALOG_ACCUMULATION, "adc.range": "calibrated"},
            deterministic=True,
        ),
        Experiment(
            "adc-rows",
            "ideal devices, 8-bit calibrated ADC, rows x bits per cell, differential vs offset",
            tuple(
                Point(f"{label} rows={rows}", {**over, "array.rows": rows})
                for label, over in UNSLICED + SLICED
                for rows in ROWS
            ),
            {**_ANALOG_ACCUMULATION, "adc.bits": 8, "adc.range": "calibrated"},
            deterministic=True,
        ),
        Experiment(
            "parasitics",
            "ideal devices, 8-bit calibrated ADC, wire resistance r, 144 and 1152 rows, "
            "differential vs offset (exact circuit solves)",
            tuple(
                Point(f"{label} rows={rows} r={r:g}", {**over, "array.rows": rows, "parasitics.r": r})
                for label, over in UNSLICED
                for rows in (144, 1152)
                for r in (1e-5, 1e-4, 3e-4, 1e-3)
            ),
            {
                **_ANALOG_ACCUMULATION,
                "adc.bits": 8,
                "adc.range": "calibrated",
                "parasitics.topology": "gate_bitline",
            },
            deterministic=True,
        ),
    ]


def _experiments() -> list[Experiment]:
    return [
        Experiment("baselines", "float and 8-bit quantised digital accuracy (no analog simulation)", ()),
        Experiment(
            "designs",
            "the paper's designs A, B, C, E with SONOS programming error, and with ideal cells",
            _design_points(),
        ),
        *_cell_experiments(),
        *_array_experiments(),
    ]


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in _experiments()}


def point_scheme(spec: str) -> Scheme:
    """The scheme of one point named ``EXPERIMENT/POINT LABEL`` (e.g. ``adc-rows/offset-2b rows=144``)."""
    name, _, label = spec.partition("/")
    if name not in EXPERIMENTS:
        raise ValueError(f"point: unknown experiment {name!r}; allowed: {', '.join(sorted(EXPERIMENTS))}")
    points = {p.label: p for p in EXPERIMENTS[name].points}
    if label not in points:
        raise ValueError(f"point: {name} has no point {label!r}; allowed: {', '.join(points)}")
    return EXPERIMENTS[name].scheme(points[label])


def results_path(model: str, experiment: str, root: str | Path = RESULTS_DIR) -> Path:
    return Path(root) / model / f"{experiment}.csv"


def _device_name(net: Network) -> str:
    if net.device.type == "cuda":
        return torch.cuda.get_device_name(net.device)
    return f"cpu ({socket.gethostname()}, {torch.get_num_threads()} threads)"


def _run_baselines(store: ResultsCSV, common: dict, net: Network, batch_size: int, log) -> None:
    """The baselines experiment: the float and 8-bit quantised digital accuracy, one row."""
    key = {**common, "point": "digital", "scheme_hash": scheme_hash(Scheme()), "chips": "1"}
    if store.find(key) is None:
        start = time.perf_counter()
        row = baselines(net, Scheme(), batch_size)
        store.add({**key, **row, "seconds": round(time.perf_counter() - start, 3), "device": _device_name(net)})
    log(f"{common['experiment']}: {store.find(key)}")


def _point_row(key: dict, point: Point, result: dict, net: Network) -> dict:
    """The CSV row of a finished point: its key, how its scheme was made, the result, where it ran."""
    return {
        **key,
        "preset": point.preset or "",
        "overrides": json.dumps(point.overrides, sort_keys=True),
        **{f"set:{k}": v for k, v in point.overrides.items()},
        **result,
        "device": _device_name(net),
    }


def run_experiment(
    experiment: str | Experiment,
    net: Network,
    *,
    chips: int = DEFAULT_CHIPS,
    seed: int = 0,
    batch_size: int = 128,
    root: str | Path = RESULTS_DIR,
    match: str | None = None,
    deadline: float | None = None,
    calibration_images: int | None = CALIBRATION_IMAGES,
    progress: bool = True,
    log=print,
) -> Path:
    """Evaluate every point of ``experiment`` on ``net``, one CSV row per finished point, resumable.

    Args:
        match: only points whose label contains this text.
        deadline: a ``time.time()`` after which no new point is started (the run stops cleanly).
    """
    exp = EXPERIMENTS[experiment] if isinstance(experiment, str) else experiment
    store = ResultsCSV(results_path(net.name, exp.name, root), POINT_KEY)
    common = {
        "experiment": exp.name,
        "model": net.name,
        "images": str(len(net.labels)),
        "seed": str(seed),
        "calibration_images": "all" if calibration_images is None else str(calibration_images),
    }
    if not exp.points:
        _run_baselines(store, common, net, batch_size, log)
        return store.path
    for point in exp.points:
        if match and match not in point.label:
            continue
        scheme = exp.scheme(point)
        n_chips = 1 if exp.deterministic or not scheme.device.random else chips
        key = {**common, "point": point.label, "scheme_hash": scheme_hash(scheme), "chips": str(n_chips)}
        if store.find(key) is not None:
            continue
        if deadline is not None and time.time() > deadline:
            log(f"{exp.name}: deadline reached, stopping before {point.label!r}")
            break
        result = accuracy_for_scheme(net, scheme, chips=n_chips, seed=seed, batch_size=batch_size,
                                     progress=progress, description=f"{exp.name}: {point.label}")
        store.add(_point_row(key, point, result, net))
        log(f"{exp.name}: {point.label}: top-1 {result['accuracy_mean']:.4f} +- {result['accuracy_std']:.4f} "
            f"({n_chips} chips, {result['seconds']:.1f} s)")
    return store.path


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aimc.validation.experiments", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments and their points")
    run = sub.add_parser("run", help="run experiments on a reference model")
    run.add_argument("names", nargs="+", metavar="NAME", help=f"experiments: {', '.join(EXPERIMENTS)}")
    run.add_argument("--model", required=True, choices=sorted(REFERENCE_MODELS))
    run.add_argument("--images", type=int, default=None, help="balanced test subset (default: all)")
    run.add_argument(
        "--chips", type=int, default=DEFAULT_CHIPS, help=f"chips per noisy point (default {DEFAULT_CHIPS})"
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cpu")
    run.add_argument("--batch-size", type=int, default=128)
    run.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES)
    run.add_argument("--calibration", default=None, help=".pt uint8 tensor or zip of calibration images")
    run.add_argument("--match", default=None, help="only points whose label contains this text")
    run.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="start no new point after this many seconds (finished points are saved)",
    )
    run.add_argument("--out", "--root", dest="out", default=str(RESULTS_DIR), metavar="DIR",
                     help=f"results folder, one CSV per model and experiment, resumed where it stopped (default "
                     f"{RESULTS_DIR}, in the current directory; the repository's own results: validation/results)")
    run.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_broken_pipe()
    args = _parser().parse_args(argv)
    if args.command == "list":
        for exp in EXPERIMENTS.values():
            print(f"{exp.name} ({len(exp.points)} points): {exp.description}")
            for point in exp.points:
                print(f"    {point.label}")
        return 0
    try:
        unknown = [n for n in args.names if n not in EXPERIMENTS]
        if unknown:
            raise ValueError(f"unknown experiment(s) {unknown}; known: {', '.join(EXPERIMENTS)}")
        if args.chips < 1:
            raise ValueError(f"--chips: must be >= 1, got {args.chips}")
        deadline = None if args.max_seconds is None else time.time() + args.max_seconds
        start = time.perf_counter()
        net = load_network(
            args.model,
            images=args.images,
            seed=args.seed,
            device=args.device,
            calibration=args.calibration,
            calibration_images=args.calibration_images,
        )
        print(
            f"loaded {args.model}: {len(net.labels)} test images, {len(net.calibration)} calibration "
            f"images ({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
        for name in args.names:
            path = run_experiment(
                name,
                net,
                chips=args.chips,
                seed=args.seed,
                batch_size=args.batch_size,
                root=args.out,
                match=args.match,
                deadline=deadline,
                calibration_images=args.calibration_images,
                progress=not args.no_progress,
                log=lambda m: print(m, flush=True),
            )
            print(f"{name}: {path}", flush=True)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"experiments: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

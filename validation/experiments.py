"""The paper's network-level experiments as data, and a resumable runner that runs them here or on a cluster.

An :class:`Experiment` is a named list of :class:`Point` (a label and the scheme overrides of that point,
applied on top of the experiment's base scheme). :func:`run_experiment` evaluates every point on a
reference network, one task per point (in this process, or on Dask workers: :mod:`aimc.validation.cluster`),
and this process alone writes one CSV row per finished point at once, atomically, to
``<out>/<model>/<experiment>.csv``; a rerun skips the points already there (same point, scheme, images,
chips and seed, made by the current code). Each row describes itself (the scheme's JSON, hashes of the
weights and images, the code's versions: :func:`aimc.validation.accuracy.provenance`) and is the same
wherever its point ran, apart from ``seconds``, ``device`` and ``finished_at``.
``--out`` defaults to :data:`aimc.results.DEFAULT_RESULTS_DIR` (``aimc_results`` in the current
directory); the repository's committed results are in ``validation/results``, so a command that extends
them names it (``--out validation/results``).

Command line::

    aimc experiments list
    aimc experiments run designs cell-si-mapping --model resnet50-tinyimagenet \\
        --images 2000 --chips 5 --device cuda [--match LABEL] [--max-seconds 500] [--out DIR]

With ``--device cuda`` on a machine with several GPUs the points run on one Dask worker per GPU;
``--workers N`` starts N local workers (CPU or GPU), ``--cluster ADDRESS`` uses a running Dask scheduler,
``--slurm JOBS`` / ``--pbs JOBS`` submit workers as batch jobs. Ctrl-C or SIGTERM stops the run at once,
keeping every finished point (exit status 130 or 143); the same command resumes it.

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
* ``design-e-factorial``: which part of design E decides its accuracy: the offset removed by a unit column
  or digitally, x the paper-era or the 2022 SONOS fit, x the calibrated, aligned or granular ADC range, each
  beside the same offset and range with ideal cells.
* ``cell-si-mapping`` / ``cell-sp-mapping``: accuracy vs alpha of state-independent (0.25-2 % of Gmax)
  and state-proportional (2-40 %) programming error, differential vs offset, unsliced; no ADC (the cell
  error alone), 1152 rows, infinite On/Off, clipping to [g_min, 1].
* ``cell-si-noclip``: ``cell-si-mapping`` without clipping the programmed conductances. With clipping, a
  differential pair's cell programmed at g_min = 0 keeps only its positive errors: a mean shift of
  0.4 alpha Gmax that shrinks every nonzero weight toward zero, the same on every chip, compounding through
  the network's depth (``aimc diagnostics``).
* ``cell-si-slices`` / ``cell-sp-slices``: the same with 1-, 2- and 4-bit weight slices (differential:
  the 7 magnitude bits in 7, 4 or 2 slices, the top slice under-used for 2 and 4 bits; offset: the 8 bits
  of u = w + M in 8, 4 or 2 slices).
* ``adc-bits``: ideal devices, calibrated ADC of 4-10 bits, differential vs offset, 144 and 1152 rows,
  unsliced; bit-serial inputs with analog accumulation (one conversion per MVM) for both mappings.
* ``adc-rows``: ideal devices, 8-bit calibrated ADC, rows 72-1152 x bits per cell (1, 2, 4, unsliced),
  differential vs offset (the paper's Fig. 17); inputs as in ``adc-bits``.
* ``adc-rows-input-bits``: ``adc-rows`` for offset with an ADC conversion per input bit (1-bit input slices
  accumulated digitally), the input handling of the paper's offset designs.
* ``parasitics-unit-column``: ``parasitics`` for offset with a unit column instead of a digital offset
  (the paper's offset designs), whose column sees the same wire resistance as the weights.
* ``cell-si-crosssim``: ``cell-si-mapping`` under CrossSim 3.2's default conventions (On/Off 100, clipping
  at 0 only), to tell a property of the mappings from one of the clipping rule.
* ``layers-vit`` / ``layers-resnet50``: which layers cost the accuracy. Programming error (state-independent
  2 %, state-proportional 20 %) in one group of layers (ViT: patch embedding, attention projections, MLP,
  head; ResNet-50: stem, stages 1-4, classifier), the other layers programmed with ideal cells; each
  layer's errors depend on (chip, layer) only, so every group point shares its chips with the all-layers one.
* ``predictor-heldout`` / ``predictor-development``: the accuracy predictor's held-out schemes (drawn once,
  seeded, across the vocabulary; never tuned on) and its development points (:mod:`.predictor.heldout`).
* ``parasitics``: ideal devices, 8-bit calibrated ADC, normalised wire resistance r (1e-5 to 1e-3, the
  paper's Fig. 21 topology: inputs on gates, bit-line resistance, 1-bit input slices with analog
  accumulation), 144 and 1152 rows, differential vs offset. Exact circuit solves: expensive; run on few
  images.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from aimc.montecarlo.engine import resolve_device
from tqdm import tqdm

from aimc.presets import get_preset
from aimc.results import DEFAULT_RESULTS_DIR, check_output, set_resume_note
from aimc.scheme import Scheme

from .accuracy import (
    CALIBRATION_IMAGES,
    Network,
    ResultsCSV,
    accuracy_for_scheme,
    baselines,
    load_network,
    provenance,
    scheme_hash,
)
from .cluster import Cluster, Runner, add_cluster_arguments, cluster_from_args, open_runner
from .models import REFERENCE_MODELS
from .predictor.heldout import predictor_experiments

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Point",
    "ReferenceNetwork",
    "add_experiments_arguments",
    "experiment_table",
    "format_experiments",
    "point_scheme",
    "results_path",
    "run_experiment",
    "run_experiments",
]

RESULTS_DIR = Path(DEFAULT_RESULTS_DIR)
"""Where results files go unless told otherwise: relative to the current directory, never the package."""
DEFAULT_CHIPS = 5
POINT_KEY = ("experiment", "point", "model", "calibration", "scheme_hash", "images", "chips", "seed",
             "calibration_images")
"""Columns that identify a point's result (``calibration``: the --calibration file, "" for the model's own set;
rows written before it was a column read as "")."""


@dataclass(frozen=True)
class Point:
    """One point of a sweep: a label and scheme overrides (dotted paths) on the experiment's base."""

    label: str
    overrides: dict = field(default_factory=dict)
    preset: str | None = None
    """A preset to start from instead of the experiment's base (the designs)."""
    errors_in: str = ""
    """A regular expression over analog layer names (``re.search``): only those layers carry device errors,
    the others are programmed with ideal cells; "" for every layer."""


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


DESIGN_E_OFFSETS = ("unit_column", "digital")
DESIGN_E_FITS = ("sonos-paper", "sonos-2022")
DESIGN_E_RANGES = ("calibrated", "aligned", "granular")


def _design_e_factorial() -> tuple[Point, ...]:
    """Design E with each part that could decide its accuracy varied: the offset's removal x the SONOS fit
    x the ADC range rule, and each offset x range with ideal cells (what the range alone costs)."""
    with_errors = tuple(
        Point(f"{offset} {fit} {policy}", {"mapping.offset": offset, "device.programming.model": fit,
                                           "adc.range": policy}, preset="design-e")
        for offset in DESIGN_E_OFFSETS for fit in DESIGN_E_FITS for policy in DESIGN_E_RANGES
    )
    ideal = tuple(
        Point(f"{offset} ideal cells {policy}", {"mapping.offset": offset, "adc.range": policy, **_IDEAL_CELLS},
              preset="design-e")
        for offset in DESIGN_E_OFFSETS for policy in DESIGN_E_RANGES
    )
    return with_errors + ideal


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
            "cell-si-crosssim",
            "cell-si-mapping under CrossSim's default conventions: On/Off 100 (g_min = 0.01 Gmax), programmed "
            "conductances clipped at 0 only (whether the mapping verdict is a property of the mappings or of "
            "the clipping rule)",
            _cell_sweep("state_independent", SI_ALPHAS, UNSLICED),
            {**_NO_ADC_CELL_BASE, "device.on_off": 100, "device.clip": "zero"},
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
            "adc-rows-input-bits",
            "adc-rows with the paper's offset input handling: an ADC conversion per input bit (1-bit input "
            "slices accumulated digitally), offset, rows x bits per cell",
            tuple(
                Point(f"{label} rows={rows}", {**over, "array.rows": rows})
                for label, over in UNSLICED[1:] + SLICED[3:]
                for rows in ROWS
            ),
            {"inputs.slice_bits": 1, "inputs.accumulation": "digital", "adc.bits": 8, "adc.range": "calibrated"},
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


def _wire_experiments() -> list[Experiment]:
    """Wire resistance with the offset removed by a unit column (beside ``parasitics``' digital offset)."""
    return [
        Experiment(
            "parasitics-unit-column",
            "parasitics for offset with the offset removed by a unit column in each array (the closed form: "
            "the column sees the same wire resistance, so subtracting it cancels most of the offset's error)",
            tuple(
                Point(f"offset unit column rows={rows} r={r:g}", {"array.rows": rows, "parasitics.r": r})
                for rows in (144, 1152)
                for r in (1e-5, 1e-4, 3e-4, 1e-3)
            ),
            {
                **_ANALOG_ACCUMULATION,
                "mapping.kind": "offset",
                "mapping.offset": "unit_column",
                "weights.slices": 1,
                "adc.bits": 8,
                "adc.range": "calibrated",
                "parasitics.topology": "gate_bitline",
            },
            deterministic=True,
        ),
    ]


# (group, layer-name pattern) of the reference architectures, for the layer-group experiments
VIT_GROUPS = (
    ("patch embedding", r"^patch$"),
    ("attention projections", r"\.self_attn\."),
    ("MLP", r"\.linear[12]$"),
    ("head", r"^head$"),
)
RESNET50_GROUPS = (
    ("stem", r"^conv1$"),
    *((f"stage {k}", rf"^layer{k}\.") for k in range(1, 5)),
    ("classifier", r"^fc$"),
)
_GROUP_ERRORS = (
    ("si 2%", {"device.programming.model": "state_independent", "device.programming.alpha": 0.02}),
    ("sp 20%", {"device.programming.model": "state_proportional", "device.programming.alpha": 0.2}),
)


def _group_points(groups: tuple) -> tuple[Point, ...]:
    every = (("all layers", ""), *groups)
    return tuple(Point(f"{error} {group}", dict(over), errors_in=pattern)
                 for error, over in _GROUP_ERRORS for group, pattern in every)


def _layer_experiments() -> list[Experiment]:
    """Which layers cost the accuracy: programming error in one group of layers, the others ideal."""
    base = {**_NO_ADC_CELL_BASE, "mapping.kind": "differential", "weights.slices": 1}
    return [
        Experiment(
            f"layers-{arch}",
            f"{arch} layer groups: state-independent (2 %) or state-proportional (20 %) programming error in "
            "one group of layers, the others ideal cells (same chips), differential, unsliced, no ADC",
            _group_points(groups),
            base,
        )
        for arch, groups in (("vit", VIT_GROUPS), ("resnet50", RESNET50_GROUPS))
    ]


def _experiments() -> list[Experiment]:
    return [
        Experiment("baselines", "float and 8-bit quantised digital accuracy (no analog simulation)", ()),
        Experiment(
            "designs",
            "the paper's designs A, B, C, E with SONOS programming error, and with ideal cells",
            _design_points(),
        ),
        Experiment(
            "design-e-factorial",
            "design E: offset removal (unit column, digital) x SONOS fit (paper-era, 2022) x ADC range rule "
            "(calibrated, aligned, granular), and each offset x range with ideal cells",
            _design_e_factorial(),
        ),
        *_cell_experiments(),
        *_array_experiments(),
        *_wire_experiments(),
        *_layer_experiments(),
        *predictor_experiments(),
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


def experiment_table(model: str, experiment: Experiment, root: str | Path = RESULTS_DIR) -> ResultsCSV:
    """The results table of one experiment on one model: keyed by :data:`POINT_KEY`, rows in the experiment's
    order of points whatever order they finished in (rows of points it no longer defines last); versioned: a
    row made by another version of the code is stale and computed again (:mod:`aimc.results`)."""
    order = {p.label: i for i, p in enumerate(experiment.points)}
    return ResultsCSV(results_path(model, experiment.name, root), POINT_KEY, versioned=True,
                      sort_key=lambda row: order.get(row.get("point", ""), len(order)))


# ---------------------------------------------------------------------------------------------------------
# The network a point runs on, and the tasks that run on it (in this process or on a Dask worker)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceNetwork:
    """A reference network as a worker loads it: the arguments of :func:`load_network` (small, picklable)."""

    model: str
    images: int | None = None
    seed: int = 0
    device: str = "cpu"
    calibration: str | None = None
    calibration_images: int | None = CALIBRATION_IMAGES
    progress: bool = True

    def load(self) -> Network:
        return load_network(self.model, images=self.images, seed=self.seed, device=self.device,
                            calibration=self.calibration, calibration_images=self.calibration_images,
                            progress=self.progress)


NetworkSource = Network | ReferenceNetwork
"""What the runner is given: a loaded network (sent once to each worker) or how to load one (on each worker)."""
_LOADED: dict[ReferenceNetwork, Network] = {}
"""The network this process loaded, by its source: loaded once per process, kept for the next point."""


def network_of(source: NetworkSource) -> Network:
    """The network of ``source``, loading a :class:`ReferenceNetwork` once per process."""
    if isinstance(source, Network):
        return source
    if source not in _LOADED:
        _LOADED.clear()  # one network at a time: a worker's memory holds one set of images
        _LOADED[source] = source.load()
    return _LOADED[source]


@dataclass(frozen=True)
class PointTask:
    """One point as a worker runs it."""

    scheme: Scheme
    chips: int
    seed: int
    batch_size: int
    progress: bool
    description: str
    errors_in: str = ""


def _describe_task(source: NetworkSource, _item: object) -> dict:
    net = network_of(source)
    return {"name": net.name, "images": len(net.labels), "calibration": len(net.calibration)}


def _point_task(source: NetworkSource, task: PointTask) -> dict:
    """The result of one point, and what it was computed on, by which code, where (:func:`provenance`)."""
    net = network_of(source)
    errors_in = re.compile(task.errors_in).search if task.errors_in else None
    result = accuracy_for_scheme(net, task.scheme, chips=task.chips, seed=task.seed, batch_size=task.batch_size,
                                 progress=task.progress, description=task.description, errors_in=errors_in)
    return {**result, **provenance(net, task.scheme)}


def _baselines_task(source: NetworkSource, batch_size: int) -> dict:
    """The float and 8-bit quantised digital accuracy, and what they were computed on (:func:`provenance`)."""
    net = network_of(source)
    start = time.perf_counter()
    row = baselines(net, Scheme(), batch_size)
    return {**row, "seconds": round(time.perf_counter() - start, 3), **provenance(net, Scheme())}


def describe_network(source: NetworkSource, runner: Runner | None = None) -> dict:
    """The network's name and its numbers of test and calibration images (loaded by a worker if need be)."""
    if isinstance(source, Network):
        return _describe_task(source, None)
    return next(iter((runner or Runner()).map(_describe_task, [None], shared=source)))[1]


# ---------------------------------------------------------------------------------------------------------
# The runner: one task per point, this process writes every row
# ---------------------------------------------------------------------------------------------------------


def _point_row(key: dict, point: Point, result: dict) -> dict:
    """The CSV row of a finished point: its key, how its scheme was made, the result, where it ran."""
    return {
        **key,
        "preset": point.preset or "",
        "overrides": json.dumps(point.overrides, sort_keys=True),
        **({"errors_in": point.errors_in} if point.errors_in else {}),
        **{f"set:{k}": v for k, v in point.overrides.items()},
        **result,
    }


def _pending(exp: Experiment, store: ResultsCSV, common: dict, chips: int, match: str | None,
             log) -> tuple[list, int]:
    """The selected points not finished by the current code, as (point, scheme, chips, key), and how many points
    are selected; ``log`` says how many stored rows of them are stale (another code version)."""
    finished, stale = store.finished_keys(), store.stale()
    todo, selected = [], 0
    for point in exp.points:
        if match and match not in point.label:
            continue
        selected += 1
        scheme = exp.scheme(point)
        n_chips = 1 if exp.deterministic or not scheme.device.random else chips
        key = {**common, "point": point.label, "scheme_hash": scheme_hash(scheme), "chips": str(n_chips)}
        if store.key(key) not in finished:
            todo.append((point, scheme, n_chips, key))
    again = sum(store.key(key) in stale for *_, key in todo)
    if again:
        log(f"{exp.name}: {again} stored row(s) made by another version of the code: computing them again")
    return todo, selected


def _run_baselines(store: ResultsCSV, common: dict, source, runner: Runner, batch_size: int, report: dict) -> dict:
    """The baselines experiment: the float and 8-bit quantised digital accuracy, one row (returned)."""
    key = {**common, "point": "digital", "scheme_hash": scheme_hash(Scheme()), "chips": "1"}
    report.update(points=1, finished=int(store.finished(key)), computed=0)
    if not report["finished"]:
        for _, row in runner.map(_baselines_task, [batch_size], shared=source,
                                 broadcast=isinstance(source, Network)):
            store.add({**key, **row})
            report.update(finished=1, computed=1)
    return store.find(key)


def run_experiment(
    experiment: str | Experiment,
    net: NetworkSource,
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
    runner: Runner | None = None,
    report: dict | None = None,
) -> Path:
    """Evaluate every point of ``experiment`` on ``net``, one CSV row per finished point, resumable.

    Each point is one task of ``runner`` (default: this process; :mod:`aimc.validation.cluster` for a Dask
    cluster); this process alone writes the table, a row as each point finishes.

    Args:
        match: only points whose label contains this text.
        deadline: a ``time.time()`` after which no new point is started (the run stops cleanly).
        report: filled as the run goes: the experiment, its CSV, its selected points, how many are finished
            and how many of those this run computed (what an interrupted run kept).
    """
    exp = EXPERIMENTS[experiment] if isinstance(experiment, str) else experiment
    runner = runner or Runner()
    report = {} if report is None else report
    info = describe_network(net, runner)
    store = experiment_table(info["name"], exp, root)
    report.update(experiment=exp.name, csv=str(store.path))
    common = {
        "experiment": exp.name,
        "model": info["name"],
        "calibration": (net.calibration or "") if isinstance(net, ReferenceNetwork) else "",
        "images": str(info["images"]),
        "seed": str(seed),
        "calibration_images": "all" if calibration_images is None else str(calibration_images),
    }
    if not exp.points:
        row = _run_baselines(store, common, net, runner, batch_size, report)
        log(f"{exp.name}: float {float(row['baseline_float']):.4f}, 8-bit quantised "
            f"{float(row['baseline_quantized']):.4f}")
        return store.path
    todo, selected = _pending(exp, store, common, chips, match, log)
    report.update(points=selected, finished=selected - len(todo), computed=0)
    tasks = [PointTask(scheme, n, seed, batch_size, progress and runner.in_process, f"{exp.name}: {point.label}",
                       point.errors_in)
             for point, scheme, n, _ in todo]
    expired = (lambda: False) if deadline is None else (lambda: time.time() > deadline)
    with tqdm(total=len(todo), desc=exp.name, unit="point", disable=not progress or not todo) as bar:
        for index, result in runner.map(_point_task, tasks, shared=net, stop=expired,
                                        broadcast=isinstance(net, Network)):
            _store_point(store, todo[index], result, report, log)
            bar.update()
    if report["finished"] < selected:
        log(f"{exp.name}: deadline reached, {selected - report['finished']} point(s) not started")
    return store.path


def _store_point(store: ResultsCSV, pending: tuple, result: dict, report: dict, log) -> None:
    """Write a finished point's row at once and say so."""
    point, _, n_chips, key = pending
    store.add(_point_row(key, point, result))
    report["finished"] += 1
    report["computed"] += 1
    log(f"{key['experiment']}: {point.label}: top-1 {result['accuracy_mean']:.4f} +- {result['accuracy_std']:.4f} "
        f"({n_chips} chips, {result['seconds']:.1f} s)")


# ---------------------------------------------------------------------------------------------------------
# Command line: aimc experiments list|run
# ---------------------------------------------------------------------------------------------------------


def add_experiments_arguments(parser: argparse.ArgumentParser) -> None:
    """``aimc experiments list`` and ``aimc experiments run NAME... --model M``."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="{list,run}")
    listing = sub.add_parser("list", help="the experiments and their points", description="The experiments "
                             "and their points (aimc experiments run NAME runs one).")
    listing.add_argument("--json", action="store_true", help="print the experiments and points as JSON")
    run = sub.add_parser("run", help="run experiments on a reference model, resumable",
                         description="Run experiments on a reference model: one CSV row per finished point, "
                         "written at once; the same command resumes an interrupted run.")
    run.add_argument("names", nargs="+", metavar="NAME", help=f"experiments: {', '.join(EXPERIMENTS)}")
    _add_run_arguments(run)
    add_cluster_arguments(run, "default: this machine's cores shared out between the local workers; torch's "
                          "default in this process; a cluster worker's cores divided by its points at once")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--json", action="store_true", help="print the summary as JSON (no line per point)")


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--model", default=None, metavar="MODEL",
                     help=f"reference model: {', '.join(sorted(REFERENCE_MODELS))} (required)")
    run.add_argument("--images", type=int, default=None, metavar="N",
                     help="a fixed, seeded, class-balanced subset of N test images (default: all)")
    run.add_argument("--chips", type=int, default=DEFAULT_CHIPS, metavar="N",
                     help=f"programmed chips per point with random devices (default {DEFAULT_CHIPS}; "
                     "ideal devices run one)")
    run.add_argument("--seed", type=int, default=0, help="seed of the chips and of the image subset (default 0)")
    run.add_argument("--device", default="cpu", help="cpu or cuda (default cpu); with cuda and several GPUs, "
                     "one worker per GPU unless --workers says otherwise")
    run.add_argument("--batch-size", type=int, default=128, metavar="N", help="images per forward pass (default 128)")
    run.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES, metavar="N",
                     help=f"calibration images used (default {CALIBRATION_IMAGES}, as the paper)")
    run.add_argument("--calibration", default=None, metavar="FILE",
                     help="calibration images: a .pt uint8 tensor [N, 3, H, W] or an ImageFolder zip "
                     "(default: the model's calibration set)")
    run.add_argument("--match", default=None, metavar="TEXT", help="only points whose label contains TEXT")
    run.add_argument("--max-seconds", type=float, default=None, metavar="S",
                     help="start no new point after S seconds; points started finish and are saved")
    run.add_argument("--out", "--root", dest="out", default=str(RESULTS_DIR), metavar="DIR",
                     help=f"results folder, one CSV per model and experiment, resumed where it stopped (default "
                     f"{RESULTS_DIR}, in the current directory; the repository's own results: validation/results)")


def _listing() -> dict:
    return {"action": "list", "experiments": [
        {"name": e.name, "description": e.description, "points": [p.label for p in e.points]}
        for e in EXPERIMENTS.values()]}


def _check_run_arguments(args: argparse.Namespace) -> None:
    unknown = [n for n in args.names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"NAME: unknown experiment(s) {', '.join(unknown)}; allowed: {', '.join(EXPERIMENTS)}")
    if args.model not in REFERENCE_MODELS:
        got = "missing" if args.model is None else f"got {args.model!r}"
        raise ValueError(f"--model: {got}; allowed: {', '.join(sorted(REFERENCE_MODELS))}")
    for name in ("images", "chips", "batch_size", "calibration_images"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {value}")
    if args.max_seconds is not None and not args.max_seconds >= 0:
        raise ValueError(f"--max-seconds: must be >= 0, got {args.max_seconds}")


def run_experiments(args: argparse.Namespace) -> dict:
    """``aimc experiments list|run``: a dict for the formatter. Interrupted (Ctrl-C, SIGTERM), the command line
    says what was kept, from the note this run keeps up to date (:func:`aimc.results.set_resume_note`)."""
    if args.action == "list":
        return _listing()
    _check_run_arguments(args)
    cluster = cluster_from_args(args, args.device)
    if cluster.local_workers():  # a remote cluster's workers may have GPUs where this machine has none
        resolve_device(args.device)
    check_output(args.out, "--out", folder=True)
    log = (lambda m: None) if args.json else tqdm.write
    reports: list[dict] = []
    start = time.perf_counter()
    try:
        _run_all(args, cluster, reports, log)
    except KeyboardInterrupt:
        raise  # Ctrl-C or SIGTERM: the command line prints the note
    except BaseException:
        set_resume_note("")
        raise
    set_resume_note("")
    return {"action": "run", "model": args.model, "out": args.out, "runner": cluster.describe(),
            "experiments": reports, "seconds": round(time.perf_counter() - start, 3)}


def _run_all(args: argparse.Namespace, cluster: Cluster, reports: list[dict], log) -> None:
    source = ReferenceNetwork(args.model, images=args.images, seed=args.seed, device=args.device,
                              calibration=args.calibration, calibration_images=args.calibration_images,
                              progress=not args.no_progress)
    deadline = None if args.max_seconds is None else time.time() + args.max_seconds

    def noted(message: str) -> None:  # every message follows a step: the note says what is kept now
        set_resume_note(resume_text(reports))
        log(message)

    with open_runner(cluster) as runner:
        noted(f"{args.model}: points run in {cluster.describe()}")
        for name in args.names:
            reports.append({"experiment": name})
            run_experiment(name, source, chips=args.chips, seed=args.seed, batch_size=args.batch_size,
                           root=args.out, match=args.match, deadline=deadline,
                           calibration_images=args.calibration_images, progress=not args.no_progress, log=noted,
                           runner=runner, report=reports[-1])


def resume_text(reports: list[dict]) -> str:
    """What a run has kept so far and how to resume it, in one line (for an interrupted run)."""
    parts = [f"{r['experiment']} {r['finished']} of {r['points']} point(s) in {r['csv']}"
             for r in reports if "points" in r]
    kept = "kept " + "; ".join(parts) if parts else "no point had finished"
    return f"{kept}; run the same command again to resume"


def format_experiments(result: dict) -> str:
    if result["action"] == "list":
        lines = []
        for exp in result["experiments"]:
            lines.append(f"{exp['name']} ({len(exp['points'])} points): {exp['description']}")
            lines += [f"    {label}" for label in exp["points"]]
        return "\n".join(lines)
    lines = [f"{r['experiment']}: {r['finished']} of {r['points']} point(s) finished, {r['computed']} computed "
             f"now: {r['csv']}" for r in result["experiments"]]
    return "\n".join(lines + [f"{result['seconds']:.1f} s, points run in {result['runner']}"])

"""The MVM-level validation sweep (``aimc validate mvm``): its design, its runner and its summary.

The design (:func:`sweep_points`) crosses mapping x slicing x error type x alpha x On/Off x rows x ADC x
input encoding x wire resistance around base points, plus grids, published devices and a seeded random
sample; every point (:class:`SweepPoint`) is one theory-vs-Monte-Carlo comparison of
:mod:`aimc.validation.comparison` on :data:`SWEEP_LAYER`, with the verdict rule documented there.

The runner (:func:`run_sweep`) writes one row per finished point to ``<out>/mvm.csv``, a
:class:`aimc.results.ResultsCSV` keyed by :meth:`SweepPoint.key` (:func:`sweep_table`): rows in design order,
each written at once and atomically, under the folder lock, so that an interrupted run loses at most the
points in progress, a rerun skips the finished points and retries the failed ones, and concurrent runs on
one folder lose no row. :func:`summarize` and :func:`format_summary` give the verdict over the finished
rows (``aimc validate mvm --json``).

The plots are figures, drawn from that CSV: ``aimc figures mvm_identity mvm_regimes --results DIR``
(:mod:`aimc.figures.mvm_identity`, :mod:`aimc.figures.mvm_regimes`; :func:`figures_command` names it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aimc.mapping import SliceLayout
from aimc.results import ResultsCSV, flag, number
from aimc.scheme import ADC, Scheme

from .cluster import Cluster, open_runner
from .comparison import TOLERANCE, LayerSpec, compare, scheme_label

__all__ = [
    "ALPHAS",
    "CSV_COLUMNS",
    "MAPPINGS",
    "SWEEP_BASE",
    "SWEEP_LAYER",
    "SweepPoint",
    "describe_point",
    "device_presets",
    "figures_command",
    "format_summary",
    "run_point",
    "run_sweep",
    "summarize",
    "sweep_points",
    "sweep_table",
]

SWEEP_LAYER = LayerSpec(outputs=64, fan_in=1152, vectors=16)
"""The sweep's layer: 64 outputs of the built-in synthetic layer, its full fan-in (1152: one to sixteen
partitions as the rows vary), 16 input vectors."""
MAPPINGS: dict[str, dict[str, Any]] = {
    "differential": {"mapping.kind": "differential"},
    "two-sided": {"mapping.kind": "differential_two_sided"},
    "offset-digital": {"mapping.kind": "offset", "mapping.offset": "digital"},
    "offset-unit-column": {"mapping.kind": "offset", "mapping.offset": "unit_column"},
}
"""The published sweep's mappings (its design: the committed rows are keyed by these labels)."""
GRID_MAPPING = "differential"
"""The sweep mapping around whose base points the full ADC and clipping grids are run."""
QUICK_MAPPINGS = ("differential", "offset-digital")
"""The sweep mappings whose base points the quick subset keeps."""
ALPHAS = {
    "state_independent": (0.0025, 0.005, 0.01, 0.015, 0.02),
    "state_proportional": (0.02, 0.05, 0.1, 0.2, 0.4),
}
"""The paper's ranges: state-independent 0.25 %..2 % of Gmax, state-proportional 2 %..40 %."""
BASE_ALPHA = {"state_independent": 0.01, "state_proportional": 0.1}
DEVICE_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
"""Scale factors (alpha) on each published device law."""
ON_OFF = ("10", "100", "1000", "inf")
ROWS = (72, 144, 288, 576, 1152)
ADC_BITS = tuple(range(4, 11))
SLICE_BITS = (4, 2, 1)
"""Bits per weight slice besides unsliced: 1, 2, 4 or 8 slices as the weight bits allow."""
R_VALUES = (1e-6, 1e-5, 1e-4, 1e-3)
R_GRID = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
SWEEP_BASE = {
    "weights.bits": 8,
    "inputs.bits": 8,
    "inputs.slice_bits": 1,
    "inputs.accumulation": "analog",
    "array.rows": 1152,
    "adc.bits": 8,
    "adc.range": "calibrated",
    "device.on_off": "inf",
    "device.clip": "range",
}
"""The base point (paper design A's structure): 8-bit weights and inputs, 1-bit input slices with analog
accumulation, 1152 rows, 8-bit calibrated ADC, infinite On/Off, clipping to [g_min, 1]."""
RANDOM_POINTS = 100
RANDOM_SEED = 2022
CSV_COLUMNS = (
    "key", "index", "design", "factor", "base", "mapping", "slices", "bits_per_slice", "error", "alpha", "on_off",
    "rows", "adc_bits", "adc_range", "accumulation", "slice_bits", "r", "layer", "chips", "theory_sigma",
    "mc_sigma", "mc_ci_low", "mc_ci_high", "mc_half_width", "ratio", "deviation", "judged_by", "within_tolerance",
    "expected", "reason", "theory_bias", "mc_bias", "mc_bias_half_width", "bias_relevant", "bias_ratio", "bias_ok",
    "sigma_analog_lsb", "r_n_imax", "parasitic_share", "seconds_theory", "seconds_mc", "error_message",
    "overrides",
)


@dataclass(frozen=True)
class SweepPoint:
    """One point of the sweep: overrides on Scheme(), where it comes from in the design, and its chips."""

    design: str
    factor: str
    base: str
    overrides: dict
    chips: int = 48
    max_chips: int = 384

    def scheme(self) -> Scheme:
        return Scheme().with_overrides(self.overrides)

    def key(self, layer: LayerSpec) -> str:
        text = json.dumps({"o": self.scheme().to_dict(), "l": asdict(layer), "c": [self.chips, self.max_chips]},
                          sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def _error_overrides(error: str, alpha: float) -> dict[str, Any]:
    if error in ALPHAS:
        return {"device.programming.model": error, "device.programming.alpha": alpha}
    from aimc.presets import PRESETS

    over = {k: v for k, v in PRESETS[error].overrides.items() if k.startswith("device.")}
    for k in list(over):
        if k.endswith(".alpha"):
            over[k] = float(over[k]) * alpha
    return over


def device_presets() -> list[str]:
    """The published-device presets (group ``device`` of :data:`aimc.presets.PRESETS`)."""
    from aimc.presets import PRESETS

    return [name for name, p in PRESETS.items() if p.group == "device"]


def slice_counts(mapping: dict) -> list[int]:
    """Weight slice counts of the sweep for a mapping: ceil(encoded bits / b) for b in SLICE_BITS, if valid."""
    mag = Scheme().with_overrides(mapping).encoded_bits
    out = []
    for b in SLICE_BITS:
        s = -(-mag // b)
        if s > 1 and s not in out and Scheme().accepts({**mapping, "weights.slices": s}):
            out.append(s)
    return out


def _point(design: str, factor: str, base: str, over: dict, **kw: Any) -> SweepPoint:
    full = {**SWEEP_BASE, **over}
    errors = "device.programming.model" in full or "device.read_noise.model" in full
    if float(full.get("parasitics.r", 0)) > 0:
        full["inputs.slice_bits"] = 1  # gate/bit-line wire resistance needs binary gate inputs
        if errors:
            kw = {"chips": 16, "max_chips": 48, **kw}  # the circuit is solved for every chip
    elif SliceLayout.from_scheme(Scheme().with_overrides(full)).shared:
        # a shared column's error is common to all outputs of an array: per-chip errors vary much more
        kw = {"max_chips": 2048, **kw}
    return SweepPoint(design, factor, base, full, **kw)




def sweep_points(quick: bool = False) -> list[SweepPoint]:
    """The documented design (README of ``validation/results/mvm``):

    1. base points: every mapping x {state-independent 1 %, state-proportional 10 %} on SWEEP_BASE;
    2. one factor at a time around each base point: alpha (5 values), On/Off (10, 100, 1e3), rows (72..576),
       weight slices (4-, 2-, 1-bit slices as the bits allow), ADC (none; 4, 6, 10 bits calibrated; every
       range policy at 8 bits), input encoding (digital accumulation; whole inputs), wire resistance r;
    3. the full ADC grid (bits 4..10 x every range policy) around the differential base points;
    4. every published device preset on every mapping (as published), and its scale alpha on the
       differential mapping;
    5. wire resistance alone: r x rows grid (differential, no ADC, no device error: deterministic);
    6. clipping: alpha x On/Off (10, 100) for both error types (differential);
    7. a seeded random sample of RANDOM_POINTS combinations of every factor.

    Points are unique by key, in this order. ``quick``: the base points of the differential and
    offset-digital mappings and one point per factor.
    """
    points: list[SweepPoint] = []
    for m_name, mapping in MAPPINGS.items():
        for error in ("state_independent", "state_proportional"):
            points += _around_base(m_name, mapping, error)
    points += _device_points() + _parasitic_grid() + _random_points(RANDOM_POINTS, RANDOM_SEED)
    points = _unique(points)
    return _quick(points) if quick else points


def _around_base(m_name: str, mapping: dict, error: str) -> list[SweepPoint]:
    """A base point, one factor at a time around it, and (differential mapping) the ADC and clipping grids."""
    base_name = f"{m_name}/{error}"
    base = {**mapping, **_error_overrides(error, BASE_ALPHA[error])}
    points = [_point("base", "base", base_name, base)]
    points += [_point("ofat", factor, base_name, over) for factor, over in _one_factor(mapping, error, base)]
    if m_name == GRID_MAPPING:
        points += [_point("grid", factor, base_name, over) for factor, over in _grids(error, base)]
    return points


def _one_factor(mapping: dict, error: str, base: dict) -> list[tuple[str, dict]]:
    """(factor, overrides) of every one-factor-at-a-time variation of ``base``."""
    out = [("alpha", {**base, **_error_overrides(error, a)}) for a in ALPHAS[error]]
    out += [("on_off", {**base, "device.on_off": on_off}) for on_off in ON_OFF[:-1]]
    out += [("rows", {**base, "array.rows": rows}) for rows in ROWS[:-1]]
    out += [("slices", {**base, "weights.slices": s}) for s in slice_counts(mapping)]
    out += [("adc", {**base, "adc.bits": bits}) for bits in (0, 4, 6, 10)]
    out += [("adc", {**base, "adc.range": policy}) for policy in _adc_policies()]
    out += [("inputs", {**base, "inputs.accumulation": "digital"}),
            ("inputs", {**base, "inputs.slice_bits": 0})]
    out += [("parasitics", {**base, "parasitics.r": r}) for r in R_VALUES]
    return out


def _grids(error: str, base: dict) -> list[tuple[str, dict]]:
    """(factor, overrides) of the ADC grid (every policy x ADC_BITS) and of the clipping grid (On/Off x
    alpha)."""
    out = [("adc", {**base, "adc.range": policy, "adc.bits": bits})
           for policy in _adc_policies() for bits in ADC_BITS]
    out += [("clipping", {**base, **_error_overrides(error, a), "device.on_off": on_off})
            for on_off in ON_OFF[:2] for a in ALPHAS[error]]
    return out


def _device_points() -> list[SweepPoint]:
    """Every published device preset on every mapping, then its alpha scaled on the differential mapping."""
    points = []
    for dev in device_presets():
        points += [_point("device", "device", f"{m_name}/{dev}", {**mapping, **_error_overrides(dev, 1.0)})
                   for m_name, mapping in MAPPINGS.items()]
        points += [_point("device", "alpha", f"differential/{dev}",
                          {**MAPPINGS["differential"], **_error_overrides(dev, scale)})
                   for scale in DEVICE_SCALES]
    return points


def _parasitic_grid() -> list[SweepPoint]:
    """Wire resistance alone: rows x r on ideal differential devices without an ADC (deterministic)."""
    return [_point("grid", "parasitics", "differential/ideal",
                   {**MAPPINGS["differential"], "array.rows": rows, "adc.bits": 0, "parasitics.r": r})
            for rows in ROWS for r in R_GRID]


def _adc_policies() -> tuple[str, ...]:
    """Every ADC range policy the vocabulary declares (a new policy joins the sweep)."""
    return next(f.metadata["choices"] for f in dataclasses.fields(ADC) if f.name == "range")


def _unique(points: list[SweepPoint]) -> list[SweepPoint]:
    seen: dict[str, SweepPoint] = {}
    for p in points:
        k = p.key(SWEEP_LAYER)
        if k not in seen:
            seen[k] = p
    return list(seen.values())


def _quick(points: list[SweepPoint]) -> list[SweepPoint]:
    keep, factors = [], set()
    for p in points:
        if p.design == "base" and p.base.split("/")[0] in QUICK_MAPPINGS:
            keep.append(p)
        elif p.design in ("ofat", "device") and p.base.startswith(f"{GRID_MAPPING}/") and p.factor not in factors:
            factors.add(p.factor)
            keep.append(p)
    return keep


def _random_points(n: int, seed: int) -> list[SweepPoint]:
    rng = np.random.default_rng(seed)
    devices = device_presets()
    out = []
    policies = _adc_policies()
    for _ in range(n):
        m_name = str(rng.choice(list(MAPPINGS)))
        mapping = MAPPINGS[m_name]
        over: dict[str, Any] = dict(mapping)
        slices = [1, *slice_counts(mapping)]
        over["weights.slices"] = int(rng.choice(slices))
        kind = rng.random()
        if kind < 0.35:
            err, alpha = "state_independent", float(rng.choice(ALPHAS["state_independent"]))
        elif kind < 0.7:
            err, alpha = "state_proportional", float(rng.choice(ALPHAS["state_proportional"]))
        else:
            err, alpha = str(rng.choice(devices)), float(rng.choice(DEVICE_SCALES))
        over.update(_error_overrides(err, alpha))
        if err in ALPHAS:
            over["device.on_off"] = str(rng.choice(ON_OFF))
        over["array.rows"] = int(rng.choice(ROWS))
        if rng.random() < 0.15:
            over["adc.bits"] = 0
        else:
            over["adc.bits"] = int(rng.choice(ADC_BITS))
            over["adc.range"] = str(rng.choice(policies))
        over["inputs.accumulation"] = str(rng.choice(("analog", "digital")))
        if rng.random() < 0.25:
            over["parasitics.r"] = float(rng.choice(R_VALUES))
        out.append(_point("random", "random", f"{m_name}/{err}", over))
    return out


def describe_point(point: SweepPoint) -> dict[str, Any]:
    """The configuration columns of a point's CSV row."""
    s = point.scheme()
    prog = s.device.programming
    return {
        "design": point.design,
        "factor": point.factor,
        "base": point.base,
        "mapping": scheme_label(s),
        "slices": s.weights.slices,
        "bits_per_slice": s.bits_per_slice,
        "error": prog.model,
        "alpha": prog.alpha,
        "on_off": s.device.on_off,
        "rows": s.array.rows,
        "adc_bits": s.adc.bits,
        "adc_range": s.adc.range if s.adc.bits else "none",
        "accumulation": s.inputs.accumulation,
        "slice_bits": s.inputs.slice_bits,
        "r": s.parasitics.r,
    }



def overrides_of(scheme: Scheme) -> dict[str, Any]:
    """The dotted paths where ``scheme`` differs from the default Scheme()."""
    default, here = _flat(Scheme().to_dict()), _flat(scheme.to_dict())
    return {k: v for k, v in here.items() if default.get(k) != v}


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flat(v, path))
        else:
            out[path] = json.dumps(v) if isinstance(v, list) else v
    return out



def run_point(point: SweepPoint, layer: LayerSpec = SWEEP_LAYER, device: str = "cpu") -> dict[str, Any]:
    """Compare one sweep point; returns its CSV row (an ``error_message`` instead of numbers if it failed)."""
    key = point.key(layer)
    row: dict[str, Any] = {"key": key, **describe_point(point), "layer": layer.label(),
                           "overrides": json.dumps(overrides_of(point.scheme()), sort_keys=True)}
    seed = int(key[:8], 16) & 0x7FFFFFFF
    try:
        c = compare(point.scheme(), layer, chips=point.chips, max_chips=point.max_chips, seed=seed, device=device)
    except Exception as e:  # noqa: BLE001 - a failing point is recorded, and retried by the next run
        row["error_message"] = f"{type(e).__name__}: {e}"
        return row
    full = c.row()
    for k in CSV_COLUMNS:
        if k in full and k not in row:
            row[k] = full[k]
    row["error_message"] = ""
    return row




# ---------------------------------------------------------------------------------------------------------
# the results table and the runner
# ---------------------------------------------------------------------------------------------------------


def design_order(row: dict[str, str]) -> tuple[int, str]:
    """A row's place in the CSV: its ``index`` in the design (rows without one last), then its key."""
    return int(row.get("index") or 1 << 30), row["key"]


def sweep_table(path: str | os.PathLike, columns: tuple[str, ...] = CSV_COLUMNS) -> ResultsCSV:
    """The sweep's CSV (``columns``: those of another sweep, such as the conformance suite's): one row per
    point, keyed by its ``key`` column, written in :func:`design_order`."""
    return ResultsCSV(path, ("key",), columns, sort_key=design_order)


def _work(_shared: None, args: tuple[int, SweepPoint, LayerSpec, str]) -> dict[str, Any]:
    """One point as a task (in this process or on a Dask worker): its row, numbered in the design."""
    index, point, layer, device = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        row = run_point(point, layer, device)
    row["index"] = index
    return row


def run_sweep(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    layer: LayerSpec | None = None,
    workers: int = 1,
    threads: int = 1,
    device: str = "cpu",
    progress: bool = True,
    points: list[SweepPoint] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep into ``out_dir/mvm.csv``; the plots are drawn by :func:`figures_command`.

    Returns :func:`summarize` of the design's points. ``workers`` > 1 runs the points on a local Dask cluster of
    that many worker processes (:mod:`aimc.validation.cluster`, each point with ``threads`` torch threads);
    this process writes every row. Results do not depend on it (every point has its own seed).
    ``layer``: default :data:`SWEEP_LAYER`; ``points``: default :func:`sweep_points` ``(quick)``.
    """
    start = time.perf_counter()
    layer = SWEEP_LAYER if layer is None else layer
    points = sweep_points(quick) if points is None else points
    table = sweep_table(Path(out_dir) / "mvm.csv")
    keys = [p.key(layer) for p in points]
    finished = _renumber_finished(table, keys)
    todo = [(i, p, layer, device) for i, (p, k) in enumerate(zip(points, keys)) if k not in finished]
    _run_points(table, todo, workers, threads, progress, device)
    stored = table.rows
    summary = summarize([stored[k] for k in keys if k in stored])
    summary.update({"csv": str(table.path), "plots": figures_command(out_dir),
                    "seconds": time.perf_counter() - start, "quick": quick, "layer": layer.label()})
    return summary


def _renumber_finished(table: ResultsCSV, keys: list[str]) -> set[str]:
    """The keys of the points finished by an earlier run, their rows renumbered to this run's design order
    (a quick and a full run may share one CSV). Only finished rows are rewritten: the others are this run's
    to recompute, and another run may be replacing them."""
    finished = table.finished_keys()
    rows = table.rows
    table.add([{**rows[k], "index": str(i)} for i, k in enumerate(keys)
               if k in finished and rows[k].get("index") != str(i)])
    return finished


def _run_points(table: ResultsCSV, todo: list[tuple], workers: int, threads: int, progress: bool,
                device: str) -> None:
    """Run the points of ``todo`` (one task each: this process, or a local Dask cluster of ``workers``), adding
    each row to ``table`` as soon as it is finished."""
    from tqdm import tqdm

    cluster = Cluster(workers=min(workers, max(1, len(todo))), threads=threads, device=device)
    with tqdm(total=len(todo), desc="validate mvm", unit="point", disable=not progress) as bar:
        if not todo:
            return
        with open_runner(cluster) as runner:
            for _, row in runner.map(_work, todo):
                table.add(row)
                bar.update()


def figures_command(out_dir: str | os.PathLike) -> str:
    """The ``aimc figures`` command that draws the identity and regimes plots of the sweep in ``out_dir``
    (the figures read ``<results>/mvm/mvm.csv``, or ``<results>/mvm.csv``)."""
    out = Path(out_dir)
    results = out.parent if out.name == "mvm" else out
    return f"aimc figures mvm_identity mvm_regimes --results {shlex.quote(str(results))}"


# ---------------------------------------------------------------------------------------------------------
# the summary
# ---------------------------------------------------------------------------------------------------------


def configuration(row: dict) -> dict[str, Any]:
    """The configuration of a CSV row, compactly (for the JSON summary)."""
    keys = ("design", "factor", "base", "mapping", "slices", "error", "alpha", "on_off", "rows", "adc_bits",
            "adc_range", "accumulation", "r")
    return {k: row.get(k) for k in keys}


def summarize(rows: list[dict]) -> dict[str, Any]:
    """{points, worst_deviation, outside, ...} of finished CSV rows (see ``aimc validate mvm --json``)."""
    done = [r for r in rows if not r.get("error_message")]
    failed = [r for r in rows if r.get("error_message")]
    expected = [r for r in done if flag(r, "expected")]
    worst = max(expected, key=lambda r: number(r, "deviation"), default=None)
    outside = [r for r in done if not flag(r, "within_tolerance")]
    by_how: dict[str, int] = {}
    for r in done:
        by_how[r["judged_by"]] = by_how.get(r["judged_by"], 0) + 1
    return {
        "points": len(done),
        "should_agree": len(expected),
        "within_tolerance": len(done) - len(outside),
        "judged_by": by_how,
        "worst_deviation": number(worst, "deviation") if worst else None,
        "worst_point": None if worst is None else {**configuration(worst), "ratio": number(worst, "ratio"),
                                                   "judged_by": worst["judged_by"]},
        "worst_deviation_all": max((number(r, "deviation") for r in done), default=None),
        "outside": [
            {
                "key": r["key"],
                "configuration": configuration(r),
                "theory_sigma": number(r, "theory_sigma"),
                "mc_sigma": number(r, "mc_sigma"),
                "mc_ci": [number(r, "mc_ci_low"), number(r, "mc_ci_high")],
                "ratio": number(r, "ratio"),
                "judged_by": r["judged_by"],
                "sigma_within_3_percent": abs(number(r, "ratio") - 1) <= TOLERANCE,
                "bias": {"theory": number(r, "theory_bias"), "mc": number(r, "mc_bias"),
                         "relevant": flag(r, "bias_relevant"), "ok": flag(r, "bias_ok")},
                "reason": r.get("reason") or "",
            }
            for r in outside
        ],
        "errors": [{"key": r["key"], "configuration": configuration(r), "error": r["error_message"]} for r in failed],
    }



def format_summary(summary: dict[str, Any]) -> str:
    """A readable summary of :func:`run_sweep` / :func:`summarize`."""
    worst = summary.get("worst_deviation")
    lines = [
        (f"MVM validation: {summary['points']} points compared, {summary['within_tolerance']} within tolerance "
         "(3 % where the 95 % interval half-width <= 1.5 %, else inside the interval)"),
        "  judged by: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["judged_by"].items())),
        f"  should agree (no documented approximation): {summary['should_agree']}, worst |ratio - 1| = "
        + ("n/a" if worst is None else f"{100 * worst:.2f} %"),
    ]
    if summary.get("worst_point"):
        lines.append(f"  worst point: {json.dumps(summary['worst_point'])}")
    if summary.get("worst_deviation_all") is not None:
        lines.append(f"  worst |ratio - 1| over all points: {100 * summary['worst_deviation_all']:.2f} %")
    lines.append(f"  outside tolerance: {len(summary['outside'])}")
    for o in summary["outside"]:
        c = o["configuration"]
        lines.append(f"    {c['mapping']}, {c['error']} alpha {c['alpha']}, On/Off {c['on_off']}, rows {c['rows']}, "
                     f"ADC {c['adc_bits']} {c['adc_range']}, r {c['r']}: ratio {o['ratio']:.4f} "
                     f"[{o['judged_by']}]" + (f" -- {o['reason']}" if o["reason"] else " -- no documented reason"))
    for e in summary.get("errors", []):
        lines.append(f"  FAILED {e['key']}: {e['error']}")
    if summary.get("csv"):
        lines.append(f"  csv: {summary['csv']}")
    if summary.get("plots"):
        lines.append(f"  plots: {summary['plots']}")
    return "\n".join(lines)

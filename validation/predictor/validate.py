"""``aimc validate predictor``: the predictor against every simulated accuracy of a results folder.

For every row of ``<results>/<model>/*.csv`` (the sweeps of ``aimc experiments``; not the digital
baselines nor the gain diagnostics) the scheme is rebuilt from the row (its ``scheme_json``, or its
experiment's definition, either way checked against its ``scheme_hash``) and predicted on the very images
the row was simulated on (the row's ``--images`` subset of the profile's images), twice: with the
compounding calibrated on the profile's injections, and linearly (the per-layer responses summed, kappa 1,
the gains' response linear) as the baseline a first-order method gives. Each row of the output says how
far each is from the simulation and, as facts, why a prediction may be off: the source that dominates the
predicted loss, a noise level beyond the strongest injection (kappa extrapolated), an effective uniform gain
outside the measured grid, a predicted collapse. Rows made by an older simulator version (``is_current``
false) are compared all the same and marked, since the predictor does not reuse them.

The summary, for both methods: the share of points within ``TARGET`` of the simulation among those the
simulation puts above ``HIGH``; the share of collapses (simulated below ``COLLAPSE``) predicted below
``COLLAPSE_PREDICTED``; the mean error; the rank correlation (Spearman) over every point.
"""

from __future__ import annotations

import csv
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from aimc.results import atomic_file, is_current, read_csv
from aimc.scheme import Scheme

from ..accuracy import row_scheme, scheme_hash
from ..data import balanced_subset
from .accuracy_model import Compounding, margin_variance, noise_pairs, predict_from_errors
from .core import layer_errors
from .errors import LayerError
from .profile import Profile

__all__ = ["COLUMNS", "TARGET", "compare_rows", "result_rows", "summarise", "write_validation"]

TARGET = 0.015
"""The predictor's target: within 1.5 points of the simulated accuracy."""
HIGH = 0.5
"""Points whose simulated accuracy is above this are judged against TARGET."""
COLLAPSE, COLLAPSE_PREDICTED = 0.10, 0.25
"""A simulated accuracy below COLLAPSE is a collapse; it is caught when predicted below COLLAPSE_PREDICTED."""
SKIPPED_FILES = ("baselines.csv",)
SKIPPED_PREFIXES = ("gain-diagnostics",)
COLUMNS = ("experiment", "point", "scheme_hash", "images", "simulated", "simulated_std", "simulation_current",
           "predicted", "predicted_spread", "predicted_linear", "error", "error_linear", "within_target",
           "reason", "seconds")


@dataclass
class SimulatedRow:
    experiment: str
    point: str
    scheme: Scheme
    images: int
    seed: int
    simulated: float
    simulated_std: float
    current: bool
    calibration_images: int | None = None


def result_rows(results: Path, model: str) -> list[SimulatedRow]:
    """Every finished accuracy row of ``results/model/*.csv`` (module doc), in file then row order."""
    folder = Path(results) / model
    if not folder.is_dir():
        raise FileNotFoundError(f"--results: no folder {folder} (the sweeps of aimc experiments for {model})")
    out = []
    for path in sorted(folder.glob("*.csv")):
        if path.name in SKIPPED_FILES or path.name.startswith(SKIPPED_PREFIXES):
            continue
        for number, row in enumerate(read_csv(path), start=1):
            if row.get("error_message") or not row.get("accuracy_mean"):
                continue  # a point that failed or has not run: nothing to compare
            out.append(SimulatedRow(row.get("experiment") or path.stem, row.get("point") or f"row {number}",
                                    row_scheme(row, f"row {number} of {path}", "--results"), int(row["images"]),
                                    int(row.get("seed") or 0), float(row["accuracy_mean"]),
                                    float(row.get("accuracy_std") or 0.0), is_current(row),
                                    _count(row.get("calibration_images"))))
    return out


def _count(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class Subsets:
    """The profile and compounding of each (images, seed) subset the rows use, made once each."""

    def __init__(self, profile: Profile, compounding: Compounding):
        self.profile, self.compounding, self._made = profile, compounding, {}

    def get(self, images: int, seed: int) -> tuple[Profile, Compounding]:
        if images == self.profile.images:
            return self.profile, self.compounding
        if images > self.profile.images:
            raise ValueError(f"a row simulated {images} images; the profile holds {self.profile.images}")
        if (images, seed) not in self._made:
            index = np.array(balanced_subset(self.profile.labels, images, seed))
            self._made[images, seed] = (self.profile.subset(index), self.compounding.subset(index))
        return self._made[images, seed]


def reason(profile: Profile, errors: list[LayerError], c: Compounding, prediction) -> str:
    """Facts that bear on a prediction's trust (module doc), '; '-separated."""
    facts = []
    shares = {k: v for k, v in prediction.margin_error.items() if v > 0}
    if shares:
        top = max(shares, key=shares.get)
        facts.append(f"{top} {100 * shares[top] / sum(shares.values()):.0f} % of the margin error")
    weight, output, common = noise_pairs(profile, errors)
    level = float(np.mean(margin_variance(weight + output, profile.tracked.shape[1]) + common))
    strongest = max(float(c.levels[k][-1]) for k in c.levels)
    if level > strongest:
        facts.append(f"noise {level / strongest:.1f}x the strongest injection (kappa extrapolated)")
    gain = np.array([e.gain for e in errors])
    uniform = 1.0 + float(gain @ c.layer_weight / c.layer_weight.sum())
    if not c.gains[0] <= uniform <= c.gains[-1]:
        facts.append(f"uniform gain {uniform:.3f} outside the measured {c.gains[0]:g}-{c.gains[-1]:g}")
    if prediction.accuracy < COLLAPSE_PREDICTED:
        facts.append("collapse predicted")
    return "; ".join(facts)


def compare_rows(rows: list[SimulatedRow], subsets: Subsets, bar=None, calibration_images: int | None = None
                 ) -> list[dict]:
    """One output row (COLUMNS) per simulated row; a scheme the predictor refuses keeps its reason, and so
    does a row calibrated on another number of images than the profile (other activation ranges)."""
    out = []
    for row in rows:
        start = time.perf_counter()
        profile, compounding = subsets.get(row.images, row.seed)
        result = {"experiment": row.experiment, "point": row.point, "scheme_hash": scheme_hash(row.scheme),
                  "images": row.images, "simulated": row.simulated, "simulated_std": row.simulated_std,
                  "simulation_current": row.current}
        if None not in (calibration_images, row.calibration_images) and calibration_images != row.calibration_images:
            out.append(result | {"reason": f"not compared: simulated with {row.calibration_images} calibration "
                                           f"images, the one-time step with {calibration_images}"})
            continue
        try:
            errors = layer_errors(profile, row.scheme)
        except ValueError as refusal:
            out.append(result | {"reason": f"refused: {refusal}"})
            continue
        compounded = predict_from_errors(profile, errors, compounding)
        linear = predict_from_errors(profile, errors, None)
        error = compounded.accuracy - row.simulated
        out.append(result | {
            "predicted": compounded.accuracy, "predicted_spread": compounded.spread,
            "predicted_linear": linear.accuracy, "error": error, "error_linear": linear.accuracy - row.simulated,
            "within_target": abs(error) <= TARGET, "reason": reason(profile, errors, compounding, compounded),
            "seconds": round(time.perf_counter() - start, 3)})
        if bar is not None:
            bar.update(1)
    return out


def _method_summary(rows: list[dict], column: str) -> dict:
    simulated = np.array([r["simulated"] for r in rows])
    predicted = np.array([r[column] for r in rows])
    high, collapse = simulated > HIGH, simulated < COLLAPSE
    within = np.abs(predicted - simulated) <= TARGET
    return {
        "within_target_high": f"{int(within[high].sum())}/{int(high.sum())}",
        "within_target_high_share": float(within[high].mean()) if high.any() else None,
        "mean_error_high": float((predicted - simulated)[high].mean()) if high.any() else None,
        "collapses_caught": f"{int((predicted[collapse] < COLLAPSE_PREDICTED).sum())}/{int(collapse.sum())}",
        "spearman": float(stats.spearmanr(predicted, simulated).statistic) if len(rows) > 2 else None,
        "largest_error": float(np.abs(predicted - simulated).max()) if len(rows) else None,
    }


def summarise(rows: list[dict]) -> dict:
    """The summary of the module doc, for the compounded and the linear predictions."""
    predicted = [r for r in rows if r.get("predicted") is not None]
    return {"points": len(rows), "predicted": len(predicted),
            "refused": sum(str(r.get("reason", "")).startswith("refused") for r in rows),
            "not_compared": sum(str(r.get("reason", "")).startswith("not compared") for r in rows),
            "compounded": _method_summary(predicted, "predicted"),
            "linear": _method_summary(predicted, "predicted_linear"),
            "seconds_per_point": float(np.mean([r["seconds"] for r in predicted])) if predicted else None,
            "target": TARGET, "high": HIGH, "collapse": COLLAPSE, "collapse_predicted": COLLAPSE_PREDICTED}


HELDOUT_EXPERIMENT = "predictor-heldout"
"""The held-out set's rows: summarised apart from the sweeps (the predictor is never tuned on them)."""


def split_heldout(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the rows of every other experiment, the held-out set's rows)."""
    return ([r for r in rows if r["experiment"] != HELDOUT_EXPERIMENT],
            [r for r in rows if r["experiment"] == HELDOUT_EXPERIMENT])


def write_validation(rows: list[dict], path: Path) -> None:
    """The comparison CSV (COLUMNS), written whole and atomically."""
    with atomic_file(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def run_predictor_validation(model: str, results: Path, out: Path, *, data: str | None = None,
                             device: str = "cpu", batch_size: int = 64, progress: bool = True) -> dict:
    """``aimc validate predictor``: compare, write ``out/<model>.csv`` and ``out/<model>-summary.json``."""
    import json

    from tqdm import tqdm

    from ..accuracy import load_network
    from .compounding import load_or_calibrate
    from .measure import load_or_measure
    from .network import Quantisation

    rows = result_rows(results, model)
    if not rows:
        raise ValueError(f"--results: {Path(results) / model} holds no finished accuracy rows")
    net = load_network(model, data=data, device=device)
    profile, _ = load_or_measure(net, Quantisation.of(rows[0].scheme), batch_size=batch_size, progress=progress)
    subsets = Subsets(profile, load_or_calibrate(profile))
    with tqdm(total=len(rows), desc="predicting", unit="point", disable=not progress) as bar:
        compared = compare_rows(rows, subsets, bar, calibration_images=int(net.calibration.shape[0]))
    sweeps, heldout = split_heldout(compared)
    summary = {"model": model, "results": str(results), **summarise(sweeps),
               "heldout": summarise(heldout) if heldout else None, "csv": str(Path(out) / f"{model}.csv")}
    write_validation(compared, Path(out) / f"{model}.csv")
    with atomic_file(Path(out) / f"{model}-summary.json", "w") as handle:
        json.dump(summary, handle, indent=2)
    return summary


def format_predictor_validation(summary: dict) -> str:
    lines = [(f"predictor against {summary['points']} simulated points of {summary['model']} "
             f"({summary['refused']} refused): {summary['csv']}")]
    tolerance = summary.get("tolerance", summary["target"])  # as the command line returns it, or as stored
    parts = [("", summary)] + ([("held-out ", summary["heldout"])] if summary.get("heldout") else [])
    for (label, part), method in itertools.product(parts, ("compounded", "linear")):
        m = part[method]
        lines.append(f"  {label}{method:10s} within {100 * tolerance:.1f} points (simulated > "
                     f"{100 * summary['high']:.0f} %): {m['within_target_high']}, mean error "
                     f"{100 * (m['mean_error_high'] or 0):+.2f}; collapses caught {m['collapses_caught']}; "
                     f"Spearman {m['spearman']:.3f}")
    return "\n".join(lines)

"""The paper's conclusions as claims, each with a verdict computed from the committed accuracy rows.

Every conclusion of Xiao et al. (2022) that the experiments of :mod:`aimc.validation.experiments` can test
(``shared/PAPER.md`` section 6, items 1-4, 6 and 7, and the claims of sections 3-5) is a :class:`Claim`: a
short id, the statement, where the paper makes it, and a rule that turns the rows of
``<results>/<model>/<experiment>.csv`` into one verdict per model:

* ``reproduced`` / ``contradicted``: what the rows say, under the conditions they were made with;
* ``depends``: the verdict changes with a convention the paper's claim does not name (the clipping rule and
  On/Off ratio, an ADC conversion per input bit or analog accumulation, the ADC range rule): the experiments
  that run each convention give different verdicts;
* ``not tested``: a row the rule needs is missing, or was made by earlier code; the evidence names the
  experiment and the command that would make it. A verdict that already differs between the conventions
  that ran is ``depends`` whatever a missing one would say.

Rows. Only rows of the current code are used (:func:`aimc.results.is_current`; ``--stale`` also uses rows
of earlier code, and says so in the conditions), and only rows whose scheme hash is the one the experiment
defines for the point today. The rows of one comparison all have the same number of images and seed (the
largest image count at which every point of the comparison exists). The conditions (clipping rule, On/Off,
alpha convention, ADC and its range rule, input accumulation, images, chips, code) are read from the rows'
schemes (``scheme_json``, or for rows made before it the experiment's definition of the point, checked
against the row's scheme hash: :func:`aimc.validation.accuracy.row_scheme`), never typed.

Statistics. The standard error of a point's mean accuracy p over ``chips`` chips and ``images`` images is
``sqrt(std^2 / chips + p (1 - p) / images)``: the chip-to-chip spread of the mean (``std``: the sample std
over chips, nothing for one chip) and the binomial sampling error of the images. Two accuracies a and b are a
tie when ``|a - b| <= 2 sqrt(SE_a^2 + SE_b^2)`` (:data:`TIE_SE`): a tie is never a ranking. The points of a
comparison share their images, so treating the two sampling errors as independent overstates the error of
the difference: ties are called generously, never a ranking the rows cannot support. A threshold is met in
the same way: an amount exceeds a margin only when it exceeds it by more than two standard errors
(:func:`exceeds`). The thresholds that define the claims (:data:`NEAR_IDEAL`, :data:`SMALL_BENEFIT`,
:data:`FIG17_ROWS`, :data:`FIG17_BITS_PER_CELL`, :data:`DESIGN_A_SONOS_LOSS`) are stated below with the
paper's wording they come from.

A result (:func:`evaluate_claims`) is a dict: ``claim``, ``model``, ``verdict``; ``conditions``, per
experiment (or convention, or sub-claim) the rule rests on, the conventions its rows were made under;
``evidence``, a list of entries, each with ``on`` (what it rests on), ``verdict`` (its part of the verdict),
``missing`` (whether it says what is missing), ``numbers`` (the decisive numbers, in words), ``files``
(``FILE:ROWS`` as ``aimc accuracy --from-row`` reads them) and ``commands`` (the ``aimc experiments run``
command that made those rows, or that would make the missing ones). :func:`format_claims` writes them for
people.

Command line (registered by :mod:`aimc.cli` as ``aimc claims``): ``--model M`` (repeatable; default both
ResNet-50s), ``--results DIR`` (default the repository's ``validation/results``; a missing folder exits 2),
``--json`` (the list of results), ``--stale``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from aimc.adc import fpg_bits
from aimc.results import is_current, number, read_csv, row_versions
from aimc.scheme import Scheme

from .accuracy import row_scheme, scheme_hash
from .experiments import DEFAULT_CHIPS, EXPERIMENTS

__all__ = [
    "CLAIMS",
    "VERDICTS",
    "Claim",
    "Measurement",
    "ModelRows",
    "Outcome",
    "across_conventions",
    "add_claims_arguments",
    "all_of",
    "compare",
    "evaluate_claims",
    "exceeds",
    "format_claims",
    "near_ideal",
    "points_of",
    "run_claims",
    "select",
]

REPRODUCED, CONTRADICTED, NOT_TESTED, DEPENDS = "reproduced", "contradicted", "not tested", "depends"
VERDICTS = (REPRODUCED, CONTRADICTED, NOT_TESTED, DEPENDS)
REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""The committed results (``validation/results`` of the repository), the default ``--results``."""
DEFAULT_MODELS = ("resnet50-tinyimagenet", "resnet50-cifar10")

TIE_SE = 2.0
"""Two accuracies within this many standard errors of their difference are a tie (module doc)."""
NEAR_IDEAL = 0.01
"""Near-ideal (the paper's "near-ideal", "high accuracy"): within 1 point of the row's own 8-bit digital
baseline. The paper calls design A with ideal cells and a calibrated 8-bit ADC ideal-like at 0.38 points
below digital (Table 5: 76.082 % vs 76.466 %); 1 point leaves room for the smaller test sets here."""
SMALL_BENEFIT = 0.754 - 0.740
"""The benefit the paper calls small: design B (1-bit slices) over design A (unsliced) with the same SONOS
errors, 75.4 % vs 74.0 % (Table 4), weighed against B's 7.5x energy (PAPER.md section 6, item 1)."""
FIG17_ROWS = 144
FIG17_BITS_PER_CELL = 2
"""Fig. 17 (p. 44): with 8-bit ADC quantisation alone, offset subtraction reaches high accuracy only with
<= 144 rows and <= 2 bits per cell."""
DESIGN_A_SONOS_LOSS = 0.76466 - 0.74296
"""Design A's loss to SONOS errors against the fully digital network on the full ImageNet (Table 5:
74.296 % vs 76.466 %)."""
PAPER_DESIGN_A, PAPER_DESIGN_E, PAPER_DESIGN_E_STD = 0.740, 0.502, 0.053
"""Table 4 (1,000 images, SONOS errors), quoted beside design E's verdict (not used by a rule)."""
RUN_IMAGES = {"designs": 1000, "adc-bits": 2000, "adc-rows": 2000, "adc-rows-input-bits": 2000, "parasitics": 200}
"""Test images of a command that would make a missing experiment, where no row of the claim says: the counts
of the committed runs (validation/results/README.md, "Reproducing the results"); the cell sweeps use all."""


# ---------------------------------------------------------------------------------------------------------
# Measurements: the committed rows, their errors and the comparisons
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One committed row: a point's mean top-1 over its chips, on its images, with its own baselines."""

    experiment: str
    point: str
    path: Path
    row: int
    """The row's number in its file (1 = the first row after the header, as ``aimc accuracy --from-row``)."""
    accuracy: float
    std: float
    chips: int
    images: int
    group: tuple
    """(images, seed, calibration images, calibration): rows of one comparison share it."""
    baseline: float
    """The row's 8-bit quantised digital accuracy, on the same images by the same code."""
    baseline_float: float
    scheme: Scheme
    current: bool
    version: str
    gpu: bool

    @property
    def se(self) -> float:
        chip = self.std ** 2 / self.chips if self.chips > 1 else 0.0
        return math.sqrt(chip + _binomial(self.accuracy, self.images))

    @property
    def baseline_se(self) -> float:
        return math.sqrt(_binomial(self.baseline, self.images))


def _binomial(p: float, n: int) -> float:
    return p * (1.0 - p) / n


def compare(a: Measurement, b: Measurement) -> int:
    """+1 when a is ahead of b beyond the tie band, -1 when behind, 0 for a tie (:data:`TIE_SE`)."""
    diff = a.accuracy - b.accuracy
    if abs(diff) <= TIE_SE * math.hypot(a.se, b.se):
        return 0
    return 1 if diff > 0 else -1


def exceeds(amount: float, margin: float, se: float) -> bool:
    """Whether ``amount`` is larger than ``margin`` by more than :data:`TIE_SE` standard errors ``se``."""
    return amount - margin > TIE_SE * se


def near_ideal(m: Measurement, baseline: str = "baseline") -> bool:
    """Whether the point's loss against its own digital baseline does not exceed :data:`NEAR_IDEAL`."""
    return not exceeds(getattr(m, baseline) - m.accuracy, NEAR_IDEAL, math.hypot(m.se, m.baseline_se))


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _shown(m: Measurement) -> str:
    """The accuracy with its chip-to-chip std where there are several chips."""
    return f"{_pct(m.accuracy)} +- {_pct(m.std)} %" if m.chips > 1 else f"{_pct(m.accuracy)} %"


def _band(a: Measurement, b: Measurement) -> str:
    return f"2 SE {_pct(TIE_SE * math.hypot(a.se, b.se))}"


# ---------------------------------------------------------------------------------------------------------
# Reading the rows of one model
# ---------------------------------------------------------------------------------------------------------


@cache
def points_of(experiment: str) -> tuple[tuple[str, Scheme, str], ...]:
    """The points an experiment defines today: (label, scheme, scheme hash), errors in every layer only."""
    exp = EXPERIMENTS[experiment]
    return tuple((p.label, s, scheme_hash(s)) for p in exp.points if not p.errors_in for s in [exp.scheme(p)])


@dataclass
class ExperimentRows:
    """The rows of one experiment's CSV: the usable ones, and why the others of each point are not."""

    path: Path
    exists: bool
    usable: list[Measurement] = field(default_factory=list)
    unusable: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    """point label -> (row number, why not used, images)."""


@dataclass
class ModelRows:
    """The committed rows of one model under ``results``, read once per experiment."""

    results: Path
    model: str
    stale: bool = False
    """Also use rows made by earlier code (marked in the conditions)."""
    _read: dict[str, ExperimentRows] = field(default_factory=dict)

    def of(self, experiment: str) -> ExperimentRows:
        if experiment not in self._read:
            self._read[experiment] = self._load(experiment)
        return self._read[experiment]

    def _load(self, experiment: str) -> ExperimentRows:
        path = self.results / self.model / f"{experiment}.csv"
        table = ExperimentRows(path, path.is_file())
        defined = {label: (scheme, digest) for label, scheme, digest in points_of(experiment)}
        for row_number, row in enumerate(read_csv(path), start=1):
            label = row.get("point", "")
            if row.get("error_message") or not row.get("accuracy_mean") or label not in defined:
                continue
            why, scheme = self._why_not(row, defined[label][1], f"row {row_number} of {path}")
            if why:
                table.unusable.setdefault(label, []).append((row_number, why, int(row.get("images") or 0)))
            else:
                table.usable.append(_measurement(experiment, path, row_number, row, scheme))
        return table

    def _why_not(self, row: dict, digest: str, where: str) -> tuple[str, Scheme | None]:
        """Why a row cannot stand for its point today ("" when it can), and its scheme."""
        if row.get("scheme_hash") != digest:
            return "made for an earlier definition of the point (another scheme hash)", None
        try:
            scheme = row_scheme(row, where, "--results")  # its scheme_json, checked against its hash
        except ValueError as e:
            return str(e), None
        if not is_current(row) and not self.stale:
            return f"made by earlier code (engine version {row_versions(row)['engine_version']}, stale)", None
        return "", scheme


def _measurement(experiment: str, path: Path, row_number: int, row: dict, scheme: Scheme) -> Measurement:
    images = int(row["images"])
    group = (images, row.get("seed", ""), row.get("calibration_images", ""), row.get("calibration", ""))
    std = number(row, "accuracy_std")
    return Measurement(experiment, row["point"], path, row_number, number(row, "accuracy_mean"),
                       0.0 if math.isnan(std) else std, int(row.get("chips") or 1), images, group,
                       number(row, "baseline_quantized"), number(row, "baseline_float"),
                       scheme, is_current(row),
                       row_versions(row)["engine_version"], not str(row.get("device", "")).startswith("cpu"))


# ---------------------------------------------------------------------------------------------------------
# Selecting the rows of one comparison, and saying what is missing
# ---------------------------------------------------------------------------------------------------------

Wanted = tuple[str, str]
"""(experiment, point label)."""


@dataclass
class Outcome:
    """One part of a claim's verdict: one convention's experiment, or one sub-claim."""

    on: str
    """What it rests on: an experiment (``A + B`` for several) or a sub-claim's id."""
    verdict: str
    numbers: list[str] = field(default_factory=list)
    used: list[Measurement] = field(default_factory=list)
    missing: list[Gap] = field(default_factory=list)
    """The experiments whose rows are missing, each with the command that would make them."""
    described: list[Measurement] | None = None
    """The rows whose schemes state its conditions (default: ``used``)."""
    conditions: dict | None = None
    """Its conditions where they are not one set of rows' (a sub-claim: the sub-claim's conditions)."""


@dataclass
class Gap:
    """What one experiment lacks for a comparison: its evidence entry, and the conditions its missing points
    would run under (from the experiment's definition)."""

    entry: dict
    conditions: dict


def select(rows: ModelRows, wanted: list[Wanted]) -> tuple[dict[Wanted, Measurement] | None, list[Gap]]:
    """The usable rows of every wanted point at one image count and seed (the largest at which all exist),
    or None and an evidence entry per experiment saying what is missing."""
    found, gaps = select_partial(rows, wanted)
    return (None, gaps) if gaps else (found, [])


def select_partial(rows: ModelRows, wanted: list[Wanted]) -> tuple[dict[Wanted, Measurement], list[Gap]]:
    """The usable rows of the wanted points at the image count and seed where most of them exist, and the
    evidence entries of those missing there (none when all exist)."""
    wanted_set, groups = set(wanted), {}
    for experiment in dict.fromkeys(e for e, _ in wanted):
        for m in rows.of(experiment).usable:
            if (experiment, m.point) in wanted_set:
                groups.setdefault(m.group, {})[(experiment, m.point)] = m
    if not groups:
        return {}, _gaps(rows, wanted, None)
    group, found = max(groups.items(), key=lambda item: (len(item[1]), item[0][0]))
    missing = [w for w in wanted if w not in found]
    return found, (_gaps(rows, missing, group[0]) if missing else [])


def _gaps(rows: ModelRows, missing: list[Wanted], images: int | None) -> list[Gap]:
    """Per experiment: which of its points lack a usable row and why, the rows that exist but cannot be used,
    and the command that would make the points (at the comparison's image count, else the unusable rows',
    else the committed runs')."""
    by_experiment: dict[str, list[str]] = {}
    for experiment, label in missing:
        by_experiment.setdefault(experiment, []).append(label)
    out = []
    for experiment, labels in by_experiment.items():
        table = rows.of(experiment)
        unusable = [u for label in labels for u in table.unusable.get(label, [])]
        run_images = images or max((u[2] for u in unusable), default=0) or RUN_IMAGES.get(experiment)
        entry = {"on": experiment, "verdict": NOT_TESTED, "missing": True,
                 "numbers": [_gap_text(rows, table, experiment, labels, images)],
                 "files": [_ref(table.path, [u[0] for u in unusable])] if unusable else [],
                 "commands": [run_command(rows, experiment, run_images)]}
        out.append(Gap(entry, _definition_conditions(experiment, labels)))
    return out


def _gap_text(rows: ModelRows, table: ExperimentRows, experiment: str, labels: list[str], images: int | None) -> str:
    if not table.exists:
        return f"missing: {_display(table.path)} does not exist (experiment {experiment} has not run on {rows.model})"
    reasons: dict[str, int] = {}
    for label in labels:
        if label in table.unusable:
            why = table.unusable[label][0][1]
        elif any(m.point == label for m in table.usable):
            why = f"no row at {images} images" if images else "no row"
        else:
            why = "no row"
        reasons[why] = reasons.get(why, 0) + 1
    parts = "; ".join(f"{count} point(s): {why}" for why, count in reasons.items())
    return f"missing: {len(labels)} of the {experiment} points needed have no usable row ({parts})"


def _display(path: Path) -> str:
    """A path as the repository names it (relative to its root) where it is inside the repository."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _ref(path: Path, numbers: Iterable[int]) -> str:
    """``FILE:ROWS`` as ``aimc accuracy --from-row`` reads it (``1-14,20``)."""
    numbers, spans = sorted(set(numbers)), []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return f"{_display(path)}:" + ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def run_command(rows: ModelRows, experiment: str, images: int | None, chips: int | None = None,
                gpu: bool = True) -> str:
    """The ``aimc experiments run`` command that makes (or made) an experiment's rows for this model."""
    parts = ["aimc experiments run", experiment, "--model", rows.model]
    if images:
        parts += ["--images", str(images)]
    if not EXPERIMENTS[experiment].deterministic:
        parts += ["--chips", str(chips or DEFAULT_CHIPS)]
    return " ".join(parts + ["--device", "cuda" if gpu else "cpu", "--out", _display(rows.results)])


def _made_by(rows: ModelRows, used: list[Measurement]) -> list[str]:
    by_experiment: dict[str, list[Measurement]] = {}
    for m in used:
        by_experiment.setdefault(m.experiment, []).append(m)
    return [run_command(rows, experiment, ms[0].images, max(m.chips for m in ms), any(m.gpu for m in ms))
            for experiment, ms in by_experiment.items()]


def _refs(used: list[Measurement]) -> list[str]:
    by_path: dict[Path, list[int]] = {}
    for m in used:
        by_path.setdefault(m.path, []).append(m.row)
    return [_ref(path, numbers) for path, numbers in by_path.items()]


def _untested(on: str, gaps: list[Gap]) -> Outcome:
    return Outcome(on, NOT_TESTED, missing=gaps)


# ---------------------------------------------------------------------------------------------------------
# Conditions, read from the rows' schemes
# ---------------------------------------------------------------------------------------------------------


def _accumulation(s: Scheme) -> str:
    if s.inputs.slice_bits == 0:
        return "whole inputs (no input slices)"
    text = f"{s.inputs.accumulation} accumulation of {s.inputs.slice_bits}-bit input slices"
    if not s.adc.bits:
        return text
    return text + (" (one conversion)" if s.inputs.accumulation == "analog" else " (an ADC conversion per input slice)")


SCHEME_CONDITIONS: dict[str, Callable[[Scheme], object]] = {
    "mapping": lambda s: s.mapping.kind,
    "offset subtraction": lambda s: s.mapping.offset if s.mapping.kind == "offset" else None,
    "programming error": lambda s: s.device.programming.model,
    "alpha relative to": lambda s: s.device.programming.alpha_relative_to,
    "clipping": lambda s: s.device.clip,
    "On/Off": lambda s: "inf" if math.isinf(s.device.on_off) else f"{s.device.on_off:g}",
    "ADC": lambda s: f"{s.adc.bits}-bit" if s.adc.bits else "none",
    "ADC range": lambda s: s.adc.range if s.adc.bits else None,
    "input accumulation": _accumulation,
}
"""The conventions a verdict can depend on, as the scheme of each row states them."""


def _merged(values: Iterable[object]) -> object:
    found = sorted({v for v in values if v is not None}, key=str)
    return found[0] if len(found) == 1 else found


def _conditions_of(ms: list[Measurement]) -> dict:
    out = {name: _merged(get(m.scheme) for m in ms) for name, get in SCHEME_CONDITIONS.items()}
    out.update(images=_merged(m.images for m in ms), chips=_merged(m.chips for m in ms),
               seed=_merged(m.group[1] for m in ms),
               code=_merged("current" if m.current else f"stale (engine version {m.version})" for m in ms))
    return {name: value for name, value in out.items() if value != []}


def _definition_conditions(experiment: str, labels: list[str]) -> dict:
    """The conditions the points of an experiment that have no usable row would run under (its definition)."""
    schemes = [s for label, s, _ in points_of(experiment) if label in labels]
    out = {name: _merged(get(s) for s in schemes) for name, get in SCHEME_CONDITIONS.items()}
    return {**{name: value for name, value in out.items() if value != []}, "code": "no usable row"}


def _conditions(outcomes: list[Outcome]) -> dict:
    """Per outcome (by what it rests on): the conditions of its rows, or of the experiment it misses."""
    out: dict[str, dict] = {}
    for o in outcomes:
        if o.conditions is not None:
            out.update(o.conditions)
        elif o.used:
            out[o.on] = _conditions_of(o.described or o.used)
        for gap in o.missing:
            out.setdefault(gap.entry["on"], gap.conditions)
    return out


# ---------------------------------------------------------------------------------------------------------
# Combining verdicts
# ---------------------------------------------------------------------------------------------------------


def across_conventions(verdicts: list[str]) -> str:
    """One verdict from the verdicts under each convention: ``depends`` when those that ran differ (whatever
    a missing one would say), ``not tested`` while one is missing, else the common verdict."""
    tested = {v for v in verdicts if v != NOT_TESTED}
    if len(tested) > 1 or DEPENDS in tested:
        return DEPENDS
    if not tested or NOT_TESTED in verdicts:
        return NOT_TESTED
    return tested.pop()


def all_of(verdicts: list[str]) -> str:
    """A claim that needs every part: contradicted if one part is, else depends, else not tested."""
    for verdict in (CONTRADICTED, DEPENDS, NOT_TESTED):
        if verdict in verdicts:
            return verdict
    return REPRODUCED


# ---------------------------------------------------------------------------------------------------------
# The rules: differential against offset
# ---------------------------------------------------------------------------------------------------------

def _ranked(sign: int, first: str = "differential", second: str = "offset") -> str:
    """What :func:`compare` said, in words."""
    return {1: f"{first} ahead", -1: f"{second} ahead", 0: "a tie"}[sign]


def _alpha_text(alpha: float) -> str:
    return f"alpha {100 * alpha:g} %"


def mapping_ranking(rows: ModelRows, experiment: str, key: Callable[[Scheme], object],
                    describe: Callable[[object], str]) -> Outcome:
    """Differential against offset (digital offset) at each point pair of ``experiment`` with the same
    ``key``: reproduced when differential is ahead somewhere and behind nowhere; a tie everywhere shows no
    advantage (contradicted)."""
    pairs: dict[object, dict[str, str]] = {}
    for label, s, _ in points_of(experiment):
        if s.mapping.kind == "differential" or s.mapping.offset == "digital":
            pairs.setdefault(key(s), {})[s.mapping.kind] = label
    pairs = {k: v for k, v in pairs.items() if len(v) == 2}
    found, gaps = select(rows, [(experiment, label) for v in pairs.values() for label in v.values()])
    if found is None:
        return _untested(experiment, gaps)
    signs, lines = [], []
    for k in sorted(pairs):
        d, o = (found[(experiment, pairs[k][kind])] for kind in ("differential", "offset"))
        signs.append(compare(d, o))
        lines.append(f"{describe(k)}: differential {_shown(d)}, offset {_shown(o)}: {_ranked(signs[-1])} "
                     f"({_band(d, o)})")
    summary = (f"differential ahead at {signs.count(1)}, offset ahead at {signs.count(-1)}, a tie at "
               f"{signs.count(0)} of {len(signs)} points")
    verdict = REPRODUCED if 1 in signs and -1 not in signs else CONTRADICTED
    return Outcome(experiment, verdict, [summary, *lines], list(found.values()))


def _alpha(s: Scheme) -> float:
    return s.device.programming.alpha


def judge_mapping_si(rows: ModelRows, done: dict) -> list[Outcome]:
    return [mapping_ranking(rows, e, _alpha, _alpha_text)
            for e in ("cell-si-mapping", "cell-si-noclip", "cell-si-crosssim")]


def judge_mapping_sp(rows: ModelRows, done: dict) -> list[Outcome]:
    return [mapping_ranking(rows, "cell-sp-mapping", _alpha, _alpha_text)]


def judge_parasitics(rows: ModelRows, done: dict) -> list[Outcome]:
    return [mapping_ranking(rows, "parasitics", lambda s: (s.array.rows, s.parasitics.r),
                            lambda k: f"{k[0]} rows, r {k[1]:g}")]


# ---------------------------------------------------------------------------------------------------------
# The rules: bit slicing
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SlicingCase:
    """One mapping and alpha: unsliced cells and every slicing of the same weights."""

    kind: str
    alpha: float
    unsliced: Measurement
    sliced: list[Measurement]

    @property
    def best(self) -> Measurement:
        return max(self.sliced, key=lambda m: m.accuracy)


def slicing_cases(rows: ModelRows, error: str) -> tuple[list[SlicingCase], Outcome | None]:
    """The cases of ``cell-<error>-mapping`` (unsliced) and ``cell-<error>-slices`` at one image count, or
    an untested outcome."""
    unsliced_exp, sliced_exp = f"cell-{error}-mapping", f"cell-{error}-slices"
    unsliced = {(s.mapping.kind, _alpha(s)): label for label, s, _ in points_of(unsliced_exp)}
    sliced: dict[tuple, list[str]] = {}
    for label, s, _ in points_of(sliced_exp):
        sliced.setdefault((s.mapping.kind, _alpha(s)), []).append(label)
    keys = sorted(set(unsliced) & set(sliced))
    wanted = [(unsliced_exp, unsliced[k]) for k in keys] + [(sliced_exp, label) for k in keys for label in sliced[k]]
    found, gaps = select(rows, wanted)
    if found is None:
        return [], _untested(f"{unsliced_exp} + {sliced_exp}", gaps)
    return [SlicingCase(*k, found[(unsliced_exp, unsliced[k])], [found[(sliced_exp, label)] for label in sliced[k]])
            for k in keys], None


def _used(cases: list[SlicingCase]) -> list[Measurement]:
    return [m for c in cases for m in (c.unsliced, *c.sliced)]


def slicing_benefit(rows: ModelRows, error: str) -> Outcome:
    """The best slicing's gain over unsliced cells at each mapping and alpha: small when it does not exceed
    :data:`SMALL_BENEFIT` (by more than two standard errors) anywhere."""
    cases, untested = slicing_cases(rows, error)
    if untested:
        return untested
    lines, large = [], 0
    for kind in dict.fromkeys(c.kind for c in cases):
        parts = []
        for c in (c for c in cases if c.kind == kind):
            gain = c.best.accuracy - c.unsliced.accuracy
            big = exceeds(gain, SMALL_BENEFIT, math.hypot(c.best.se, c.unsliced.se))
            large += big
            parts.append(f"{100 * c.alpha:g} %: {100 * gain:+.2f} ({c.best.scheme.bits_per_slice}-bit){'*' if big else ''}")
        lines.append(f"{kind}, best slicing minus unsliced (points) at alpha " + ", ".join(parts))
    summary = (f"the gain exceeds the small benefit ({100 * SMALL_BENEFIT:.1f} points, Table 4) by more than 2 SE "
               f"(*) at {large} of {len(cases)} points")
    return Outcome(f"cell-{error}-mapping + cell-{error}-slices", CONTRADICTED if large else REPRODUCED,
                   [summary, *lines], _used(cases))


def _loss_text(m: Measurement) -> str:
    return f"{_shown(m)}, {_pct(m.baseline - m.accuracy)} points below digital {_pct(m.baseline)} %"


def no_rescue(rows: ModelRows, error: str) -> Outcome:
    """Where unsliced cells are not near-ideal (the device is error-prone), whether some slicing is: rescued
    anywhere contradicts the claim; no error-prone point leaves it untested."""
    cases, untested = slicing_cases(rows, error)
    if untested:
        return untested
    prone = [c for c in cases if not near_ideal(c.unsliced)]
    lines, rescued = [], 0
    for c in prone:
        saved = [m for m in c.sliced if near_ideal(m)]
        rescued += bool(saved)
        lines.append(f"{c.kind} {_alpha_text(c.alpha)}: unsliced {_loss_text(c.unsliced)}; best "
                     f"{c.best.scheme.bits_per_slice}-bit slices {_loss_text(c.best)}: "
                     + ("rescued (near-ideal)" if saved else "not rescued"))
    summary = (f"{len(prone)} of {len(cases)} points have unsliced cells more than {100 * NEAR_IDEAL:g} point + 2 SE "
               f"below digital; slicing brings {rescued} of them within it")
    verdict = NOT_TESTED if not prone else CONTRADICTED if rescued else REPRODUCED
    return Outcome(f"cell-{error}-mapping + cell-{error}-slices", verdict, [summary, *lines], _used(cases))


def _design(preset: str, **overrides) -> str:
    """The label of the designs point of ``preset`` with exactly these overrides."""
    return next(p.label for p in EXPERIMENTS["designs"].points if p.preset == preset and p.overrides == overrides)


def judge_design_slicing(rows: ModelRows, done: dict) -> list[Outcome]:
    """Design B (1-bit slices) against design A (unsliced), both with SONOS errors, on the same images."""
    a, b = _design("design-a"), _design("design-b")
    found, gaps = select(rows, [("designs", a), ("designs", b)])
    if found is None:
        return [_untested("designs", gaps)]
    ma, mb = found[("designs", a)], found[("designs", b)]
    gain = mb.accuracy - ma.accuracy
    big = exceeds(gain, SMALL_BENEFIT, math.hypot(ma.se, mb.se))
    line = (f"design B {_shown(mb)}, design A {_shown(ma)}: gain {100 * gain:+.2f} points "
            f"({_ranked(compare(ma, mb), 'A', 'B')}, {_band(ma, mb)}); "
            f"the paper's gain {100 * SMALL_BENEFIT:.1f} points: " + ("exceeded by more than 2 SE" if big else "not exceeded"))
    return [Outcome("designs", CONTRADICTED if big else REPRODUCED, [line], [ma, mb])]


# ---------------------------------------------------------------------------------------------------------
# The rules: array size, ADC resolution (ideal cells)
# ---------------------------------------------------------------------------------------------------------


def _size_points(rows: ModelRows, experiment: str, kind: str) -> tuple[list[Measurement], Outcome | None]:
    labels = [label for label, s, _ in points_of(experiment) if s.mapping.kind == kind]
    found, gaps = select(rows, [(experiment, label) for label in labels])
    return ([], _untested(experiment, gaps)) if found is None else (list(found.values()), None)


def _baselines(ms: list[Measurement]) -> str:
    values = sorted({_pct(m.baseline) for m in ms})
    return values[0] if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _size_table(ms: list[Measurement]) -> list[str]:
    """One line per bits per cell: the accuracy at each array size, * where near-ideal."""
    by_bits: dict[int, list[Measurement]] = {}
    for m in ms:
        by_bits.setdefault(m.scheme.bits_per_slice, []).append(m)
    lines = []
    for bits, row in sorted(by_bits.items()):
        row.sort(key=lambda m: m.scheme.array.rows)
        lines.append(f"{bits} bit(s) per cell at {' / '.join(str(m.scheme.array.rows) for m in row)} rows: "
                     + " / ".join(_pct(m.accuracy) + ("*" if near_ideal(m) else "") for m in row)
                     + f" % (digital {_baselines(row)} %)")
    return lines


def _where(ms: list[Measurement]) -> str:
    ms = sorted(ms, key=lambda m: (m.scheme.bits_per_slice, m.scheme.array.rows))
    return ", ".join(f"{m.scheme.bits_per_slice} b/cell at {m.scheme.array.rows} rows" for m in ms) or "none"


def _near_note() -> str:
    return f"* near-ideal: within {100 * NEAR_IDEAL:g} point + 2 SE of the row's 8-bit digital accuracy"


def fig17_offset(rows: ModelRows, experiment: str) -> Outcome:
    """Offset is near-ideal only within <= FIG17_ROWS rows and <= FIG17_BITS_PER_CELL bits per cell, and
    somewhere within them. One near-ideal point outside those bounds contradicts the claim whatever the points
    not run yet show, so a partial sweep can contradict it; only the whole sweep can reproduce it."""
    labels = [label for label, s, _ in points_of(experiment) if s.mapping.kind == "offset"]
    found, gaps = select_partial(rows, [(experiment, label) for label in labels])
    ms = list(found.values())
    if not ms:
        return _untested(experiment, gaps)
    near = [m for m in ms if near_ideal(m)]
    beyond_rows = [m for m in near if m.scheme.array.rows > FIG17_ROWS]
    beyond_bits = [m for m in near if m.scheme.bits_per_slice > FIG17_BITS_PER_CELL]
    inside = [m for m in ms if m.scheme.array.rows <= FIG17_ROWS and m.scheme.bits_per_slice <= FIG17_BITS_PER_CELL]
    reached = [m for m in inside if m in near]
    verdict = REPRODUCED if reached and not beyond_rows and not beyond_bits else CONTRADICTED
    within = f"<= {FIG17_ROWS} rows and <= {FIG17_BITS_PER_CELL} bits per cell"
    numbers = [f"near-ideal beyond {FIG17_ROWS} rows: {_where(beyond_rows)}",
               f"near-ideal with more than {FIG17_BITS_PER_CELL} bits per cell: {_where(beyond_bits)}",
               f"near-ideal within {within}: {len(reached)} of {len(inside)} points", *_size_table(ms), _near_note()]
    if gaps:
        # A counterexample must be near-ideal as measured, not only within the uncertainty (2 SE of 1,000
        # images is several points): the claim is judged before the sweep that could balance it has run.
        sure = [m for m in near if (m in beyond_rows or m in beyond_bits) and m.baseline - m.accuracy <= NEAR_IDEAL]
        verdict = CONTRADICTED if sure else NOT_TESTED
        numbers.insert(0, f"{len(ms)} of {len(labels)} points run" + (
            f": near-ideal outside the bounds, as measured (at most {_pct(NEAR_IDEAL)} points below digital): "
            f"{_where(sure)}, which contradicts the claim whatever the others show"
            if sure else ": none of them contradicts the claim yet"))
    return Outcome(experiment, verdict, numbers, ms, missing=gaps)


def judge_fig17_offset(rows: ModelRows, done: dict) -> list[Outcome]:
    """The paper's configuration (an ADC conversion per input bit) and the other (analog accumulation)."""
    return [fig17_offset(rows, "adc-rows-input-bits"), fig17_offset(rows, "adc-rows")]


def judge_fig17_differential(rows: ModelRows, done: dict) -> list[Outcome]:
    ms, untested = _size_points(rows, "adc-rows", "differential")
    if untested:
        return [untested]
    far = [m for m in ms if not near_ideal(m)]
    return [Outcome("adc-rows", CONTRADICTED if far else REPRODUCED,
                    [f"not near-ideal at: {_where(far)}", *_size_table(ms), _near_note()], ms)]


def _design_a() -> Scheme:
    from aimc.presets import get_preset

    return get_preset("design-a")


def adc_series(rows: ModelRows) -> tuple[dict[tuple[str, int], list[Measurement]], Outcome | None]:
    """The adc-bits points by (mapping, rows), each sorted by ADC bits, at one image count."""
    labels = [label for label, _, _ in points_of("adc-bits")]
    found, gaps = select(rows, [("adc-bits", label) for label in labels])
    if found is None:
        return {}, _untested("adc-bits", gaps)
    series: dict[tuple[str, int], list[Measurement]] = {}
    for m in sorted(found.values(), key=lambda m: m.scheme.adc.bits):
        series.setdefault((m.scheme.mapping.kind, m.scheme.array.rows), []).append(m)
    return series, None


def fewest_bits(series: list[Measurement]) -> int | None:
    """The fewest ADC bits from which every point of the series is near-ideal (None: not even the most)."""
    fewest = None
    for m in reversed(series):
        if not near_ideal(m):
            break
        fewest = m.scheme.adc.bits
    return fewest


def _series_text(series: list[Measurement]) -> str:
    return (" / ".join(str(m.scheme.adc.bits) for m in series) + " bits: "
            + " / ".join(_pct(m.accuracy) + ("*" if near_ideal(m) else "") for m in series)
            + f" % (digital {_baselines(series)} %)")


def _from_bits(fewest: int | None, series: list[Measurement]) -> str:
    return f"{fewest} bits" if fewest else f"no resolution (not even {series[-1].scheme.adc.bits} bits)"


def judge_adc_near_ideal(rows: ModelRows, done: dict) -> list[Outcome]:
    """Design A's array (differential, its rows) with its calibrated ADC bits, ideal cells."""
    series, untested = adc_series(rows)
    if untested:
        return [untested]
    a = _design_a()
    point = [m for m in series[("differential", a.array.rows)] if m.scheme.adc.bits == a.adc.bits]
    m = point[0]
    verdict = REPRODUCED if near_ideal(m) else CONTRADICTED
    line = f"differential, {a.array.rows} rows, {a.adc.bits}-bit {m.scheme.adc.range} ADC: {_loss_text(m)}"
    return [Outcome("adc-bits", verdict, [line, _near_note()], [m])]


def judge_fpg(rows: ModelRows, done: dict) -> list[Outcome]:
    """The fewest ADC bits at which design A's array is near-ideal, against the FPG's B_out (Eq. 2-3)."""
    series, untested = adc_series(rows)
    if untested:
        return [untested]
    ms = series[("differential", _design_a().array.rows)]
    s = ms[0].scheme
    input_bits = s.inputs.bits if s.inputs.accumulation == "analog" else s.inputs.slice_bits
    fpg = fpg_bits(s.bits_per_slice, input_bits, s.array.rows)
    fewest = fewest_bits(ms)
    verdict = REPRODUCED if fewest is not None and fewest < fpg else CONTRADICTED
    guarantee = (f"the full-precision guarantee asks B_out = {s.bits_per_slice} + {input_bits} + log2 "
                 f"{s.array.rows} = {fpg:.1f} bits")
    return [Outcome("adc-bits", verdict, [f"differential, {s.array.rows} rows: near-ideal from {_from_bits(fewest, ms)}",
                                          guarantee, _series_text(ms), _near_note()], ms)]


def judge_adc_fewer_bits(rows: ModelRows, done: dict) -> list[Outcome]:
    """At each array size of adc-bits: differential near-ideal from fewer ADC bits than offset."""
    series, untested = adc_series(rows)
    if untested:
        return [untested]
    lines, holds = [], []
    for n_rows in sorted({r for _, r in series}):
        d, o = fewest_bits(series[("differential", n_rows)]), fewest_bits(series[("offset", n_rows)])
        holds.append(d is not None and (o is None or d < o))
        lines.append(f"{n_rows} rows: near-ideal from {_from_bits(d, series[('differential', n_rows)])} with "
                     f"differential, from {_from_bits(o, series[('offset', n_rows)])} with offset")
        lines += [f"  {kind}: {_series_text(series[(kind, n_rows)])}" for kind in ("differential", "offset")]
    used = [m for ms in series.values() for m in ms]
    return [Outcome("adc-bits", REPRODUCED if all(holds) else CONTRADICTED, [*lines, _near_note()], used)]


# ---------------------------------------------------------------------------------------------------------
# The rules: the designs, and the claims made of other claims
# ---------------------------------------------------------------------------------------------------------


def _design_e(rows: ModelRows, a: str, e: str) -> Outcome:
    """Design E (one ADC range rule) far below design A, both with SONOS errors, on the same images: below
    beyond the tie band and not near-ideal."""
    found, gaps = select(rows, [("designs", a), ("designs", e)])
    if found is None:
        return _untested(f"designs: {e}", gaps)
    ma, me = found[("designs", a)], found[("designs", e)]
    sign = compare(ma, me)
    far = sign == 1 and not near_ideal(me)
    line = (f"design A {_shown(ma)}, {e} {_shown(me)}: {_ranked(sign, 'A', 'E')} ({_band(ma, me)}); E {_loss_text(me)},"
            f" {100 * me.accuracy / ma.accuracy:.0f} % of A's accuracy (paper, Table 4: A {_pct(PAPER_DESIGN_A)} %, "
            f"E {_pct(PAPER_DESIGN_E)} +- {_pct(PAPER_DESIGN_E_STD)} %, {100 * PAPER_DESIGN_E / PAPER_DESIGN_A:.0f} %)")
    return Outcome(f"designs: {e}", REPRODUCED if far else CONTRADICTED, [line], [ma, me], described=[me])


def judge_design_e(rows: ModelRows, done: dict) -> list[Outcome]:
    """One outcome per ADC range rule of design E (the experiment's design-E points with SONOS errors)."""
    variants = [p.label for p in EXPERIMENTS["designs"].points
                if p.preset == "design-e" and "device.programming.model" not in p.overrides]
    return [_design_e(rows, _design("design-a"), e) for e in variants]


def judge_design_a_sonos(rows: ModelRows, done: dict) -> list[Outcome]:
    """Design A with SONOS errors against the float network: its loss not beyond the paper's (Table 5)."""
    found, gaps = select(rows, [("designs", _design("design-a"))])
    if found is None:
        return [_untested("designs", gaps)]
    m = next(iter(found.values()))
    loss = m.baseline_float - m.accuracy
    big = exceeds(loss, DESIGN_A_SONOS_LOSS, math.hypot(m.se, math.sqrt(_binomial(m.baseline_float, m.images))))
    return [Outcome("designs", CONTRADICTED if big else REPRODUCED, [
        f"design A {_shown(m)}, float {_pct(m.baseline_float)} %: loss {100 * loss:.2f} points (paper: "
        f"{100 * DESIGN_A_SONOS_LOSS:.2f})" + (", beyond it by more than 2 SE" if big else "")], [m])]


PROPORTIONAL_PARTS = ("mapping-sp", "fig17-offset", "parasitics-offset-worse", "design-e-below-a")
"""The evidence the paper gives for proportional mapping (PAPER.md section 6, item 3), as claims."""


def judge_proportional(rows: ModelRows, done: dict) -> list[Outcome]:
    """One outcome per part: the part's verdict, rows and missing experiments."""
    out = []
    for part in PROPORTIONAL_PARTS:
        verdict, outcomes = done[part]
        out.append(Outcome(part, verdict, [f"the verdict of the claim {part} (its block above)"], [m for o in outcomes for m in o.used],
                           [gap for o in outcomes for gap in o.missing], conditions=_conditions(outcomes)))
    return out


def judge_qat(rows: ModelRows, done: dict) -> list[Outcome]:
    why = ("no experiment of aimc.validation.experiments runs a quantisation-aware-trained network, and the "
           "reference models have none (Fig. 19 needs a 4-bit QAT model beside the 8-bit one)")
    return [Outcome("no experiment", NOT_TESTED, [why])]


# ---------------------------------------------------------------------------------------------------------
# The claims
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A conclusion of the paper, where the paper makes it, and the rule that judges it on one model."""

    id: str
    statement: str
    source: str
    judge: Callable[[ModelRows, dict], list[Outcome]]
    combine: Callable[[list[str]], str] = across_conventions
    """One verdict from the outcomes' (default: the same under every convention, else ``depends``)."""


_SMALL = f"no more than the paper's {100 * SMALL_BENEFIT:.1f} points"
_FIG17 = f"<= {FIG17_ROWS} rows and <= {FIG17_BITS_PER_CELL} bits per cell"

CLAIMS: tuple[Claim, ...] = (
    Claim("slicing-small-benefit", "Bit slicing gives only a small accuracy benefit: design B (1-bit slices) gains "
          f"{_SMALL} over design A (unsliced) with the same SONOS errors",
          "PAPER.md 6 item 1; Table 4 (B 75.4 %, A 74.0 %)", judge_design_slicing),
    Claim("slicing-benefit-si", "Under state-independent programming error, bit slicing gains little over "
          f"unsliced cells at the same error ({_SMALL})",
          "PAPER.md 2 (3.1), 5 (sections 5.2-5.3); derived bound 0.58x error std, PAPER.md 3.3",
          lambda rows, done: [slicing_benefit(rows, "si")]),
    Claim("slicing-benefit-sp", "Under state-proportional programming error, bit slicing gains little over "
          f"unsliced cells at the same error ({_SMALL})",
          "PAPER.md 5 (sections 5.2-5.3); derived variance bound 3x, PAPER.md 3.3",
          lambda rows, done: [slicing_benefit(rows, "sp")]),
    Claim("slicing-no-rescue-si", "Bit slicing cannot rescue error-prone devices: where unsliced cells are not "
          "near-ideal under state-independent error, no slicing brings the network back to near-ideal",
          "PAPER.md 6 item 2, 2 (3.1)", lambda rows, done: [no_rescue(rows, "si")]),
    Claim("slicing-no-rescue-sp", "Bit slicing cannot rescue error-prone devices: where unsliced cells are not "
          "near-ideal under state-proportional error, no slicing brings the network back to near-ideal",
          "PAPER.md 6 item 2, 2 (3.1)", lambda rows, done: [no_rescue(rows, "sp")]),
    Claim("mapping-si", "Differential cells tolerate state-independent programming error better than offset "
          "subtraction", "PAPER.md 2.3, 5; derived error ratio sqrt(2), PAPER.md 3.3", judge_mapping_si),
    Claim("mapping-sp", "Offset subtraction is more sensitive to state-proportional programming error than "
          "differential cells (zero weights sit at mid-conductance)", "PAPER.md 5 (manual 7.2), 6 item 3",
          judge_mapping_sp),
    Claim("fig17-offset", "With 8-bit ADC quantisation alone (ideal cells), offset subtraction reaches "
          f"near-ideal accuracy only with {_FIG17}", "PAPER.md 5 (Fig. 17, p. 44), 6 item 3",
          judge_fig17_offset),
    Claim("fig17-differential", "With an 8-bit calibrated ADC (ideal cells), differential cells with analog "
          "subtraction stay near-ideal at every array size (72-1152 rows) and every bits per cell",
          "PAPER.md 5 (Fig. 17), 6 item 4", judge_fig17_differential),
    Claim("parasitics-offset-worse", "Offset subtraction is more sensitive to bit-line wire resistance than "
          "differential cells", "PAPER.md 8 (p. 44), 6 item 3 (Fig. 20)", judge_parasitics),
    Claim("design-e-below-a", "With the same SONOS errors, design E (offset, 2-bit cells, 72 rows, an ADC per "
          "input bit) is far below design A: below it beyond the noise and not near-ideal",
          "PAPER.md 6 item 3, Table 4 (E 50.2 +- 5.3 %, A 74.0 %)", judge_design_e),
    Claim("proportional-mapping", "Proportional mapping (differential cells, analog subtraction) is the key "
          "enabler of accuracy and robustness: every piece of the paper's evidence for it holds "
          f"({', '.join(PROPORTIONAL_PARTS)})", "PAPER.md 6 item 3", judge_proportional, all_of),
    Claim("adc-8bit-near-ideal", "A calibrated 8-bit ADC gives near-ideal accuracy with 1152-row differential "
          "arrays (ideal cells)", "PAPER.md 6 item 4 (summary, manual 9.3.3)", judge_adc_near_ideal),
    Claim("fpg-fallacy", "The full-precision guarantee is a fallacy: design A's array is near-ideal with "
          "fewer ADC bits than the guarantee's B_out (Eq. 2-3) asks", "PAPER.md 6 item 4, 2 (3.3)", judge_fpg),
    Claim("adc-differential-fewer-bits", "Differential cells with analog subtraction tolerate lower-resolution "
          "ADCs than offset subtraction", "PAPER.md 5 (section 6, Fig. 16)", judge_adc_fewer_bits),
    Claim("qat-robustness", "A 4-bit quantisation-aware-trained network is much more tolerant of "
          "state-independent error than the 8-bit post-training-quantised one", "PAPER.md 6 item 6, 5 (7, Fig. 19)",
          judge_qat),
    Claim("design-a-sonos", f"Design A with SONOS errors loses no more than the paper's {100 * DESIGN_A_SONOS_LOSS:.2f} "
          "points against the float network", "PAPER.md 6 item 7, Table 5 (74.296 % vs 76.466 %)", judge_design_a_sonos),
)


# ---------------------------------------------------------------------------------------------------------
# Evaluation, output and the command line
# ---------------------------------------------------------------------------------------------------------


def _entries(rows: ModelRows, o: Outcome) -> list[dict]:
    """The evidence of one outcome: its numbers with the rows and commands they come from, then what is
    missing."""
    main = [{"on": o.on, "verdict": o.verdict, "missing": False, "numbers": o.numbers, "files": _refs(o.used),
             "commands": _made_by(rows, o.used)}] if o.numbers or o.used else []
    return main + [gap.entry for gap in o.missing]


def judge_model(rows: ModelRows) -> list[dict]:
    """Every claim's result on one model (claims that rest on others come after them in :data:`CLAIMS`)."""
    done: dict[str, tuple[str, list[Outcome]]] = {}
    out = []
    for claim in CLAIMS:
        outcomes = claim.judge(rows, done)
        verdict = claim.combine([o.verdict for o in outcomes])
        done[claim.id] = (verdict, outcomes)
        out.append({"claim": claim.id, "model": rows.model, "verdict": verdict,
                    "conditions": _conditions(outcomes),
                    "evidence": [entry for o in outcomes for entry in _entries(rows, o)]})
    return out


def evaluate_claims(results: str | Path = RESULTS_DIR, models: Iterable[str] = DEFAULT_MODELS,
                    stale: bool = False) -> list[dict]:
    """Every claim on every model, claim by claim: ``claim``, ``model``, ``verdict``, ``conditions``,
    ``evidence``."""
    by_model = [judge_model(ModelRows(Path(results), model, stale)) for model in models]
    return [result for index in range(len(CLAIMS)) for result in (results_of[index] for results_of in by_model)]


def _condition_text(conditions: dict) -> str:
    return ", ".join(f"{name} {'/'.join(map(str, v)) if isinstance(v, list) else v}" for name, v in conditions.items())


def _entry_lines(entry: dict, conditions: dict) -> list[str]:
    lines = [f"    {entry['on']}: {entry['verdict']}"]
    if entry["on"] in conditions:
        lines.append(f"      conditions: {_condition_text(conditions[entry['on']])}")
    lines += [f"      {text}" for text in entry["numbers"]]
    lines += [f"      {'rows not usable' if entry['missing'] else 'rows'}: {ref}" for ref in entry["files"]]
    lines += [f"      {'to make them' if entry['missing'] else 'made by'}: {command}" for command in entry["commands"]]
    return lines


def format_claims(results: list[dict]) -> str:
    """One block per claim: its id and statement, where the paper says it, then per model the verdict and
    the numbers that decide it (for the command line and the results README)."""
    blocks = []
    for claim in CLAIMS:
        mine = [r for r in results if r["claim"] == claim.id]
        if not mine:
            continue
        lines = [f"{claim.id}: {claim.statement}", f"  paper: {claim.source}"]
        for result in mine:
            lines.append(f"  {result['model']}: {result['verdict']}")
            for entry in result["evidence"]:
                lines += _entry_lines(entry, result["conditions"])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _first_numbers(result: dict | None) -> str:
    if result is None:
        return ""
    numbers = [text for entry in result["evidence"] for text in entry["numbers"]]
    return numbers[0] if numbers else ""


def format_claims_table(results: list[dict]) -> str:
    """A markdown table: one row per claim, each model's verdict and the first numbers that decide it (the
    results README quotes it; a test regenerates it, so it cannot drift from the rows)."""
    models = list(dict.fromkeys(r["model"] for r in results))
    lines = ["| claim | " + " | ".join(models) + " | decisive numbers (" + models[0] + ") |",
             "|---" * (len(models) + 2) + "|"]
    for claim in CLAIMS:
        mine = {r["model"]: r for r in results if r["claim"] == claim.id}
        if not mine:
            continue
        verdicts = [mine[m]["verdict"] if m in mine else "" for m in models]
        numbers = _first_numbers(mine.get(models[0])).replace("|", "/")
        lines.append(f"| {claim.id} | " + " | ".join(verdicts) + f" | {numbers} |")
    return "\n".join(lines)


def add_claims_arguments(parser: argparse.ArgumentParser) -> None:
    """``aimc claims [--model M]... [--results DIR] [--stale] [--json]``."""
    parser.add_argument("--model", action="append", default=None, metavar="MODEL",
                        help=f"a reference model whose rows are judged (repeatable; default {', '.join(DEFAULT_MODELS)})")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="the folder aimc experiments wrote (<DIR>/<model>/<experiment>.csv; default the "
                        f"repository's committed results, {_display(RESULTS_DIR)})")
    parser.add_argument("--stale", action="store_true",
                        help="also use rows made by earlier code (marked stale in the conditions); by default only "
                        "rows of the current code count")
    parser.add_argument("--json", action="store_true",
                        help="print a list of objects with claim, model, verdict, conditions, evidence")
    parser.add_argument("--table", action="store_true", help="print one markdown table row per claim")


def run_claims(args: argparse.Namespace) -> int:
    """Judge every claim and print the verdicts; 2 (one line on stderr) for a bad --results or --model."""
    from .models import REFERENCE_MODELS

    results = Path(args.results) if getattr(args, "results", None) else RESULTS_DIR
    models = list(dict.fromkeys(getattr(args, "model", None) or DEFAULT_MODELS))
    unknown = [m for m in models if m not in REFERENCE_MODELS]
    if not results.is_dir() or unknown:
        problem = (f"--results: no folder {results}" if not results.is_dir() else
                   f"--model: unknown {', '.join(unknown)}; allowed: {', '.join(sorted(REFERENCE_MODELS))}")
        print(f"aimc claims: error: {problem}", file=sys.stderr)
        return 2
    out = evaluate_claims(results, models, stale=getattr(args, "stale", False))
    if getattr(args, "json", False):
        print(json.dumps(out, indent=2))
    else:
        print(format_claims_table(out) if getattr(args, "table", False) else format_claims(out))
    return 0

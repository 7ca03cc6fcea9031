"""Conformance suite: every registered option of the vocabulary, theory against Monte Carlo.

In the style of scikit-learn's estimator checks, :func:`check_cases` *generates* the checks from what the
vocabulary declares, so that a new option joins the suite by being registered:

* every field with declared ``choices`` (and every bool field) of :class:`aimc.Scheme`, found by walking the
  dataclasses (:func:`registered_options`): each choice is checked, crossed where options interact (the
  three mapping fields; input slicing x accumulation x signed inputs);
* error laws: every entry of :data:`aimc.scheme.ERROR_MODELS` (device fits of :data:`aimc.devices.DEVICE_LAWS`
  included, at their own On/Off), as programming error and as read noise;
* weight slicing: every slice count the scheme accepts for each mapping (under-used top slices included);
* ADC: bits 4..10 for every range policy, no ADC, power-of-two slice ranges on and off;
* On/Off 10, 100, 1e3, infinite; drift with and without compensation; stuck cells; wire resistance for
  every topology;
* (full set only) every mapping combination crossed with every ADC policy and input accumulation.

A check case is a scheme (dotted overrides on :data:`BASE`), a small layer and a chip budget; its verdict
is :func:`aimc.validation.comparison.compare` (3 % where the 95 % interval is tight enough, else inside the
interval). An option the theory explicitly refuses (:class:`aimc.validation.comparison.Unsupported`) is
reported as unsupported, with the theory's message. A choice that the generator cannot turn into a valid scheme (a new option needing parameters it
does not know) becomes a case that *fails* with the configuration error, rather than being skipped.

``check_cases("quick")`` is a cover: the first (cheapest) case of every tag, so that every registered
option is checked at least once (the CI test); ``"full"`` is everything (``aimc validate conformance``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import time
import zlib
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from aimc._fields import ConfigError
from aimc.adc_ranges import RANGE_POLICIES
from aimc.devices import DEVICE_LAWS
from aimc.mapping import SliceLayout
from aimc.scheme import ERROR_MODELS, Scheme

from .comparison import Comparison, LayerSpec, Unsupported, compare
from .sweep import sweep_table

__all__ = [
    "ADC_BITS",
    "BASE",
    "LAYER",
    "Case",
    "check_cases",
    "coverage",
    "format_conformance",
    "registered_options",
    "run_case",
    "run_conformance",
]

LAYER = LayerSpec(outputs=32, fan_in=288, vectors=8)
"""The conformance layer: a corner of the built-in synthetic layer (two 144-row partitions)."""
BASE = {"array.rows": 144, "adc.bits": 8, "adc.range": "calibrated"}
"""Overrides on the default Scheme shared by every case (differential, 8-bit weights and inputs, 1-bit input
slices with analog accumulation, 8-bit calibrated ADC, ideal devices, infinite On/Off)."""
ADC_BITS = tuple(range(4, 11))
ON_OFF = ("10", "100", "1000", "inf")
SI = {"device.programming.model": "state_independent", "device.programming.alpha": 0.01}
SP = {"device.programming.model": "state_proportional", "device.programming.alpha": 0.1}
READ = {"device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.005}
DRIFT = {"device.drift.time": 3600.0, "device.drift.t0": 20.0, "device.drift.nu_mean": 0.05,
         "device.drift.nu_std": 0.02}
QUICK_TAGS = (
    "weights.underused", "weights.slices=7", "error=sp", "inputs.signed=True", "inputs.slice_bits=0",
    "inputs.slice_bits=2", "device.on_off=10", "drift.nu_std=0.02", "drift.read_noise", "stuck=both",
    "stuck.with_programming", "adc.bits=0", "adc.bits=4", "adc.bits=10", "parasitics.with_errors",
)
"""Besides every registered choice, what the quick cover must include."""
POLYNOMIAL = (0.005, 0.02, -0.01)
TABLE = ((0.0, 0.25, 0.5, 1.0), (0.004, 0.01, 0.015, 0.012))


@dataclass(frozen=True)
class Case:
    """One check: ``overrides`` on Scheme() (BASE included), the layer, chips, and the options it exercises."""

    name: str
    overrides: dict
    tags: tuple[str, ...]
    layer: LayerSpec = LAYER
    chips: int = 64
    max_chips: int = 1024
    error: str = ""
    """Why no valid scheme could be built for this option (the case then fails)."""

    @property
    def seed(self) -> int:
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF

    def scheme(self) -> Scheme:
        if self.error:
            raise ConfigError("", self.error)
        return Scheme().with_overrides(self.overrides)


# ---------------------------------------------------------------------------------------------------------
# what the vocabulary declares
# ---------------------------------------------------------------------------------------------------------


def _nested(cls: type) -> dict[str, type]:
    """Sub-dataclasses of a config class, from their default factories."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            if dataclasses.is_dataclass(value):
                out[f.name] = type(value)
    return out


def registered_options(cls: type = Scheme, prefix: str = "") -> dict[str, tuple]:
    """Every option field of the vocabulary: {dotted path: its choices} (bools as (False, True))."""
    out: dict[str, tuple] = {}
    nested = _nested(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in nested:
            out.update(registered_options(nested[f.name], path))
            continue
        meta = f.metadata
        if meta.get("choices") is not None:
            out[path] = tuple(meta["choices"])
        elif meta.get("kind") is bool:
            out[path] = (False, True)
    return out


def _valid_mappings() -> list[dict[str, Any]]:
    """Every combination of the mapping options that the vocabulary accepts with some weight slice count (e.g.
    not unit_column with a differential mapping)."""
    opts = registered_options()
    fields = ("mapping.kind", "mapping.offset", "mapping.subtraction")
    combos = (dict(zip(fields, combo, strict=True)) for combo in itertools.product(*(opts[f] for f in fields)))
    return [mapping for mapping in combos if valid_slice_counts(mapping)]


def _with_slices(mapping: dict[str, Any]) -> dict[str, Any]:
    """The mapping options, with the smallest slice count it accepts when unsliced weights are not allowed."""
    first = valid_slice_counts(mapping)[0]
    return mapping if first == 1 else {**mapping, "weights.slices": first}


def valid_slice_counts(mapping: dict) -> list[int]:
    """Every weight slice count the scheme accepts for this mapping (8-bit weights)."""
    return [s for s in range(1, 17) if Scheme().accepts({**mapping, "weights.slices": s})]


def _underused(overrides: dict) -> bool:
    s = Scheme().with_overrides(overrides)
    return s.bits_per_slice * s.weights.slices > s.encoded_bits


def error_model_overrides(target: str, model: str) -> dict[str, Any]:
    """Overrides that switch on error law ``model`` for ``target`` (programming or read_noise) with a
    representative magnitude; device fits as published (alpha 1) at their own On/Off."""
    p = f"device.{target}"
    read = target == "read_noise"
    if model == "state_independent":
        return {f"{p}.model": model, f"{p}.alpha": 0.005 if read else 0.01}
    if model == "state_proportional":
        return {f"{p}.model": model, f"{p}.alpha": 0.05 if read else 0.1}
    if model == "polynomial":
        return {f"{p}.model": model, f"{p}.alpha": 0.5 if read else 1.0, f"{p}.coefficients": list(POLYNOMIAL)}
    if model == "table":
        return {f"{p}.model": model, f"{p}.alpha": 0.5 if read else 1.0, f"{p}.table_g": list(TABLE[0]),
                f"{p}.table_sigma": list(TABLE[1])}
    if model in DEVICE_LAWS:
        on_off = DEVICE_LAWS[model].on_off
        return {f"{p}.model": model, f"{p}.alpha": 1.0, "device.on_off": "inf" if math.isinf(on_off) else on_off}
    return {f"{p}.model": model, f"{p}.alpha": 0.01}


# ---------------------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------------------


def _case(name: str, overrides: dict, tags: list[str], **kw: Any) -> Case:
    full = {**BASE, **overrides}
    error = ""
    try:
        Scheme().with_overrides(full)
    except ConfigError as e:
        error = f"cannot build a check case for {', '.join(tags)}: {e}"
    return Case(name, full, tuple(tags), error=error, **kw)


def _mapping_cases() -> list[Case]:
    out = []
    for mapping in _valid_mappings():
        label = "/".join(str(v) for v in mapping.values())
        tags = [f"{f}={v}" for f, v in mapping.items()]
        slices = valid_slice_counts(mapping)
        for err_name, err in (("si", SI), ("sp", SP)):
            for s in slices if err_name == "si" else list(dict.fromkeys(slices[:1] + slices[-1:])):
                over = {**mapping, "weights.slices": s, **err}
                extra = [f"weights.slices={s}"] + (["weights.underused"] if _underused(over) else [])
                out.append(_case(f"mapping[{label}]-slices{s}-{err_name}", over, tags + extra + [f"error={err_name}"]))
    return out


def _input_cases() -> list[Case]:
    opts = registered_options()
    out = []
    for slice_bits, acc, signed in itertools.product((1, 0, 2, 3, 8), opts["inputs.accumulation"], (False, True)):
        over = {"inputs.slice_bits": slice_bits, "inputs.accumulation": acc, **SI, **READ}
        tags = [f"inputs.slice_bits={slice_bits}", f"inputs.accumulation={acc}", f"inputs.signed={signed}"]
        layer = dataclasses.replace(LAYER, signed=signed)
        out.append(_case(f"inputs[s{slice_bits}-{acc}{'-signed' if signed else ''}]", over, tags, layer=layer))
    return out


def _error_cases() -> list[Case]:
    out = []
    for target in ("programming", "read_noise"):
        for model in ERROR_MODELS:
            if model == "none":
                continue
            over = error_model_overrides(target, model)
            out.append(_case(f"error[{target}={model}]", over, [f"device.{target}.model={model}"]))
    for rel in registered_options()["device.programming.alpha_relative_to"]:
        over = {**SI, "device.programming.alpha_relative_to": rel, "device.on_off": 10}
        out.append(_case(f"alpha_relative_to[{rel}]", over, [f"device.programming.alpha_relative_to={rel}"]))
    for rel in registered_options()["device.read_noise.alpha_relative_to"]:
        over = {**READ, "device.read_noise.alpha_relative_to": rel, "device.on_off": 10}
        out.append(_case(f"read_alpha_relative_to[{rel}]", over, [f"device.read_noise.alpha_relative_to={rel}"]))
    for clip in registered_options()["device.clip"]:
        for err_name, err in (("si", {**SI, "device.programming.alpha": 0.03}),
                              ("sp", {**SP, "device.programming.alpha": 0.3})):
            over = {**err, "device.clip": clip, "device.on_off": 10}
            out.append(_case(f"clip[{clip}]-{err_name}", over, [f"device.clip={clip}", f"clip.error={err_name}"]))
    for on_off in ON_OFF:
        for err_name, err in (("si", SI), ("sp", SP)):
            out.append(_case(f"on_off[{on_off}]-{err_name}", {**err, "device.on_off": on_off},
                             [f"device.on_off={on_off}"]))
    return out


def _drift_stuck_cases() -> list[Case]:
    out = []
    for comp in registered_options()["device.drift.compensation"]:
        for nu_std in (0.0, 0.02):
            over = {**SP, **DRIFT, "device.drift.nu_std": nu_std, "device.drift.compensation": comp}
            tags = [f"device.drift.compensation={comp}", f"drift.nu_std={nu_std}"]
            out.append(_case(f"drift[{comp}-nu_std{nu_std}]", over, tags))
    out.append(_case("drift[read-noise]", {**SP, **DRIFT, "device.read_noise.model": "state_proportional",
                                           "device.read_noise.alpha": 0.05}, ["drift.read_noise"]))
    for name, stuck in (("off", {"device.stuck.p_off": 0.01}), ("on", {"device.stuck.p_on": 0.005}),
                        ("both", {"device.stuck.p_off": 0.01, "device.stuck.p_on": 0.005})):
        out.append(_case(f"stuck[{name}]", stuck, [f"stuck={name}"]))
        out.append(_case(f"stuck[{name}]-si", {**SI, **stuck}, [f"stuck={name}", "stuck.with_programming"]))
    return out


def _adc_cases() -> list[Case]:
    out = [_case("adc[none]", {**SI, "adc.bits": 0}, ["adc.bits=0"])]
    for policy in registered_options()["adc.range"]:
        for bits in (8, 6, *ADC_BITS):
            if bits in (6, 8) and any(c.name == f"adc[{policy}-{bits}]" for c in out):
                continue
            out.append(_case(f"adc[{policy}-{bits}]", {**SI, "adc.range": policy, "adc.bits": bits},
                             [f"adc.range={policy}", f"adc.bits={bits}"]))
    for pow2 in registered_options()["adc.power_of_two_slices"]:
        for policy in (name for name, p in RANGE_POLICIES.items() if p.power_of_two):
            over = {**SI, "weights.slices": 4, "adc.range": policy, "adc.power_of_two_slices": pow2}
            out.append(_case(f"adc[{policy}-pow2={pow2}]", over, [f"adc.power_of_two_slices={pow2}"]))
    return out


def _parasitic_cases() -> list[Case]:
    out = []
    for topology in registered_options()["parasitics.topology"]:
        for r in (1e-5, 1e-4):
            over = {"parasitics.topology": topology, "parasitics.r": r, "adc.bits": 0}
            out.append(_case(f"parasitics[{topology}-r{r:g}]", over, [f"parasitics.topology={topology}",
                                                                      f"parasitics.r={r:g}"]))
    # with device errors and an ADC: the circuit is solved for every chip (the row/column solver is slow on a
    # CPU, so this variant uses the paper's topology only)
    over = {**SI, "parasitics.r": 1e-5}
    out.append(_case("parasitics[gate_bitline-r1e-05-si-adc]", over, ["parasitics.with_errors"], chips=16,
                     max_chips=128))
    return out


def _cross_cases() -> list[Case]:
    """Full set only: every valid mapping combination x every ADC range policy (4 and 8 bits) x input
    accumulation, state-independent error (tags prefixed ``cross:``, so the quick cover ignores them)."""
    opts = registered_options()
    out = []
    for mapping in _valid_mappings():
        label = "/".join(str(v) for v in mapping.values())
        for policy, bits, acc in itertools.product(opts["adc.range"], (4, 8), opts["inputs.accumulation"]):
            over = {**_with_slices(mapping), **SI, "adc.range": policy, "adc.bits": bits, "inputs.accumulation": acc}
            name = f"cross[{label}-{policy}{bits}-{acc}]"
            out.append(_case(name, over, [f"cross:{label}", f"cross:adc.range={policy}"]))
    return out


def _other_options(covered: set[str]) -> list[Case]:
    """Any registered option not yet exercised by a family above, with the default context (SI + ADC)."""
    out = []
    for path, choices in registered_options().items():
        for choice in choices:
            tag = f"{path}={choice}"
            if tag in covered:
                continue
            for context in (SI, READ, {}):  # the first context in which the choice makes a valid scheme
                case = _case(f"option[{tag}]", {**context, path: choice}, [tag])
                if not case.error:
                    break
            out.append(case)
    return out


def check_cases(level: str = "full") -> list[Case]:
    """The generated check cases: ``full`` (everything) or ``quick`` (the first case of every tag)."""
    if level not in ("quick", "full"):
        raise ValueError(f"level: quick or full, got {level!r}")
    cases = _mapping_cases() + _input_cases() + _error_cases() + _drift_stuck_cases() + _adc_cases()
    cases += _parasitic_cases()
    covered = {t for c in cases for t in c.tags}
    cases += _other_options(covered)
    if level == "full":
        return cases + _cross_cases()
    wanted = {f"{p}={v}" for p, choices in registered_options().items() for v in choices} | set(QUICK_TAGS)
    quick = []
    for c in sorted(cases, key=_cost):
        if set(c.tags) & wanted:
            quick.append(c)
            wanted -= set(c.tags)
    return sorted(quick, key=cases.index)


def _cost(case: Case) -> float:
    """A rough relative cost (for choosing the quick cover): slices, input slices, circuits, chips."""
    if case.error:
        return 0.0
    s = case.scheme()
    cost = s.weights.slices * (8 if s.inputs.accumulation == "digital" else 1)
    if s.parasitics.r > 0:
        cost *= 20 if s.device.programming.active else 2
    if SliceLayout.from_scheme(s).shared:
        cost *= 4
    return cost


def run_case(case: Case, device: str = "cpu") -> Comparison:
    """Run one check case (raises ConfigError for a case that could not be built)."""
    return compare(case.scheme(), case.layer, chips=case.chips, max_chips=case.max_chips, seed=case.seed,
                   device=device)


def coverage(cases: list[Case]) -> dict[str, list[str]]:
    """For each registered option choice, the cases that exercise it (an empty list: not covered)."""
    return {f"{p}={v}": [c.name for c in cases if f"{p}={v}" in c.tags]
            for p, choices in registered_options().items() for v in choices}


CONFORMANCE_COLUMNS = (
    "key", "index", "case", "tags", "status", "theory_sigma", "mc_sigma", "mc_ci_low", "mc_ci_high", "mc_half_width",
    "ratio", "judged_by", "within_tolerance", "reason", "theory_bias", "mc_bias", "bias_relevant", "bias_ok", "chips",
    "seconds_theory", "seconds_mc", "error_message", "overrides",
)


def case_key(case: Case) -> str:
    text = json.dumps({"n": case.name, "o": case.overrides, "l": dataclasses.asdict(case.layer),
                       "c": [case.chips, case.max_chips]}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def case_status(comparison: Comparison | None, error: str = "") -> str:
    """pass; xfail (outside tolerance where a documented approximation applies); fail; error (and
    ``unsupported``, set by :func:`run_conformance`, where the theory refuses an option)."""
    if error:
        return "error"
    assert comparison is not None
    if comparison.within_tolerance:
        return "pass"
    return "xfail" if comparison.reason else "fail"


def run_conformance(level: str = "full", out_dir: str | None = None, progress: bool = True,
                    device: str = "cpu") -> dict[str, Any]:
    """Run the check cases; with ``out_dir``, write (and resume) ``conformance.csv`` there atomically."""
    start = time.perf_counter()
    cases = check_cases(level)
    table = sweep_table(os.path.join(out_dir, "conformance.csv"), CONFORMANCE_COLUMNS) if out_dir else None
    rows = []
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for index, case in enumerate(tqdm(cases, desc=f"conformance ({level})", unit="case", disable=not progress)):
            key = case_key(case)
            if table is not None and table.finished(key):
                rows.append(table.rows[key])
                continue
            row: dict[str, Any] = {"key": key, "index": index, "case": case.name, "tags": " ".join(case.tags),
                                   "overrides": json.dumps(case.overrides, sort_keys=True, default=str)}
            try:
                c = run_case(case, device)
            except Unsupported as e:
                row.update(status="unsupported", error_message=str(e))
            except (ConfigError, ValueError, RuntimeError) as e:
                row.update(status="error", error_message=f"{type(e).__name__}: {e}")
            else:
                full = c.row()
                row.update({k: full[k] for k in CONFORMANCE_COLUMNS if k in full and k not in row})
                row.update(status=case_status(c), error_message="")
            rows.append(row)
            if table is not None:
                table.add(row)
    finally:
        torch.set_num_threads(old)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    bad = [r for r in rows if r["status"] != "pass"]
    return {
        "level": level,
        "cases": len(rows),
        "counts": counts,
        "not_passed": [{"case": r["case"], "status": r["status"], "ratio": r.get("ratio"),
                        "theory_sigma": r.get("theory_sigma"), "mc_sigma": r.get("mc_sigma"),
                        "mc_ci": [r.get("mc_ci_low"), r.get("mc_ci_high")], "reason": r.get("reason", ""),
                        "error": r.get("error_message", "")} for r in bad],
        "csv": table.path if table is not None else None,
        "seconds": time.perf_counter() - start,
    }


def format_conformance(summary: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items()))
    lines = [f"conformance ({summary['level']}): {summary['cases']} cases: {counts}"]
    for r in summary["not_passed"]:
        detail = r["error"] or (f"ratio {float(r['ratio']):.4f}, theory {float(r['theory_sigma']):.5g}, "
                                f"MC {float(r['mc_sigma']):.5g}" + (f" -- {r['reason']}" if r["reason"] else ""))
        lines.append(f"  {r['status'].upper()} {r['case']}: {detail}")
    if summary.get("csv"):
        lines.append(f"  csv: {summary['csv']}")
    return "\n".join(lines)

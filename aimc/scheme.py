"""The vocabulary: a typed, validated, JSON-serialisable description of an analog hardware scheme.

A :class:`Scheme` says how a quantised layer is mapped onto analog arrays (signed-weight mapping, weight
bit slicing, input encoding, array size, ADC) and which device errors the arrays have. Every field is
documented where it is declared (meaning, unit, default) and checked at construction; a bad value raises
:class:`~aimc.ConfigError` naming the dotted path of the field and the allowed values.

Units: conductances are normalised to the largest, g = G / Gmax in [g_min, 1], g_min = 1 / on_off.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from ._fields import ConfigError, spec, validate_fields
from .adc_ranges import RANGE_POLICIES
from .devices import DEVICE_LAWS, NUMPY, TORCH, Ops
from .mappings import MAPPINGS, get_mapping

__all__ = [
    "ADC",
    "ERROR_MODELS",
    "Array",
    "Device",
    "Drift",
    "ErrorModel",
    "Inputs",
    "Mapping",
    "Parasitics",
    "Scheme",
    "StuckCells",
    "Weights",
]

MAX_SIGMA = 10.0
"""The largest error sigma(g) of a cell, in units of Gmax, anywhere in [g_min, 1] (and so the largest alpha of
state_independent and state_proportional): beyond ten times the conductance window no array holds a signal,
and the variance sums of the closed form and the simulation lose it to float64 rounding."""

ERROR_MODELS = ("none", "state_independent", "state_proportional", "polynomial", "table") + tuple(
    sorted(DEVICE_LAWS)
)


@dataclass(frozen=True)
class ErrorModel:
    """A conductance error law sigma(g) (programming error or read noise), in units of Gmax."""

    model: str = spec(
        "none",
        choices=ERROR_MODELS,
        doc="Error law. none; state_independent: sigma = alpha (x Gmax or x (Gmax - Gmin), see "
        "alpha_relative_to); state_proportional: sigma = alpha g; polynomial: sigma = alpha * sum_i "
        "coefficients[i] g^i; table: sigma = alpha * piecewise-linear interpolation of (table_g, "
        "table_sigma); or a published device fit by name (sigma = alpha * fit), see aimc.devices.",
    )
    alpha: float = spec(
        0.0,
        kind=float,
        minimum=0.0,
        maximum=MAX_SIGMA,
        doc="Magnitude: the relative sigma for state_independent/state_proportional (0.01 = 1 %), a "
        "dimensionless scale factor on the law for polynomial, table and device fits (1 = as published). "
        "Must be 0 with model none and > 0 otherwise; at most 10, and sigma(g) at most 10 Gmax anywhere in "
        "[g_min, 1] (MAX_SIGMA: an error ten times the whole conductance window leaves no signal, and "
        "larger ones exhaust float64 in the variance sums).",
    )
    alpha_relative_to: str = spec(
        "gmax",
        choices=("gmax", "range"),
        doc="Convention for state_independent alpha: gmax: sigma = alpha * Gmax (CrossSim 3, the v2 manual); "
        "range: sigma = alpha * (Gmax - Gmin) (CrossSim 2 code). Must stay gmax for other models.",
    )
    coefficients: tuple = spec(
        (),
        kind=tuple,
        minimum=-1e3,
        maximum=1e3,
        doc="Polynomial coefficients c0, c1, ... of sigma(g) in units of Gmax (model polynomial only), each "
        "in [-1000, 1000]; the law they make must stay in [0, 10] Gmax on [g_min, 1].",
    )
    table_g: tuple = spec(
        (),
        kind=tuple,
        minimum=0.0,
        maximum=1.0,
        doc="Strictly increasing conductances (units of Gmax, in [0, 1]) of a sigma table covering [g_min, 1] "
        "(model table only).",
    )
    table_sigma: tuple = spec(
        (),
        kind=tuple,
        minimum=0.0,
        maximum=MAX_SIGMA,
        doc="sigma at each table_g, in units of Gmax, in [0, 10] (model table only).",
    )

    @property
    def active(self) -> bool:
        return self.model != "none"

    def sigma(self, g: Any, g_min: float, ops: Ops = TORCH) -> Any:
        """Standard deviation of the error of a device of target conductance g (units of Gmax)."""
        m, a = self.model, self.alpha
        if m == "none":
            return g * 0
        if m == "state_independent":
            scale = 1.0 if self.alpha_relative_to == "gmax" else 1.0 - g_min
            return g * 0 + a * scale
        if m == "state_proportional":
            return a * g
        if m == "polynomial":
            return a * sum(c * g**i for i, c in enumerate(self.coefficients))
        if m == "table":
            return a * ops.interp(g, self.table_g, self.table_sigma)
        return a * DEVICE_LAWS[m].sigma(g, ops)

    def check(self, path: str, g_min: float) -> None:
        """Cross-field rules that need the device's g_min."""
        m = self.model
        if m == "none" and self.alpha != 0:
            raise ConfigError(f"{path}.alpha", "must be 0 when model is none (set a model to apply an error)")
        if m != "none" and self.alpha == 0:
            raise ConfigError(f"{path}.alpha", f"must be > 0 with model {m} (use model none for no error)")
        if self.alpha_relative_to != "gmax" and m != "state_independent":
            raise ConfigError(f"{path}.alpha_relative_to", "applies to state_independent only; leave it gmax")
        if (m == "polynomial") != bool(self.coefficients):
            raise ConfigError(f"{path}.coefficients", "must be given exactly when model is polynomial")
        if (m == "table") != bool(self.table_g):
            raise ConfigError(f"{path}.table_g", "must be given exactly when model is table")
        if m == "table":
            self._check_table(path, g_min)
        if m in ("polynomial", "table") or m in DEVICE_LAWS:
            import numpy as np  # here: a scheme without such a law is checked without loading numpy

            # numpy, not torch: checking a scheme (aimc check, show, every command's --set) must not load torch
            grid = np.linspace(g_min, 1.0, 1001, dtype=np.float64)
            sigma = self.sigma(grid, g_min, NUMPY)
            worst, largest = float(sigma.min()), float(sigma.max())
            if worst < 0:
                raise ConfigError(
                    f"{path}.model", f"{m} gives a negative sigma ({worst:.3g}) inside [g_min, 1]"
                )
            if largest > MAX_SIGMA:
                raise ConfigError(
                    f"{path}.alpha", f"{m} with alpha {self.alpha:g} gives sigma up to {largest:.3g} Gmax inside "
                    f"[g_min, 1]; allowed: at most {MAX_SIGMA:g} Gmax"
                )

    def _check_table(self, path: str, g_min: float) -> None:
        g, s = self.table_g, self.table_sigma
        if len(g) < 2 or len(g) != len(s):
            raise ConfigError(f"{path}.table_sigma", "needs as many entries as table_g, at least 2")
        if any(b <= a for a, b in itertools.pairwise(g)):
            raise ConfigError(f"{path}.table_g", "must be strictly increasing")
        if g[0] > g_min + 1e-12 or g[-1] < 1.0 - 1e-12:
            raise ConfigError(f"{path}.table_g", f"must cover [g_min, 1] = [{g_min:.6g}, 1]")
        if min(s) < 0:
            raise ConfigError(f"{path}.table_sigma", "must be >= 0")


@dataclass(frozen=True)
class Drift:
    """PCM-style conductance drift g(t) = g(t0) (t / t0)^(-nu), nu drawn per device from N(nu_mean, nu_std)."""

    time: float = spec(
        0.0,
        kind=float,
        minimum=0.0,
        maximum=1e9,
        doc="Time since programming, seconds; 0 = no drift, else t0 <= time <= 1e9 s (about 32 years).",
    )
    t0: float = spec(
        20.0, kind=float, minimum=1e-3, maximum=1e6, doc="Reference time t0, seconds, in [1 ms, 1e6 s]."
    )
    nu_mean: float = spec(
        0.0,
        kind=float,
        minimum=0.0,
        maximum=0.5,
        doc="Mean drift exponent nu (dimensionless), in [0, 0.5] (PCM: 0.005-0.1; 0.5 halves g in 4x time).",
    )
    nu_std: float = spec(
        0.0,
        kind=float,
        minimum=0.0,
        maximum=0.2,
        doc="Standard deviation of nu across devices, in [0, 0.2] (PCM: 0.01-0.04); the spread of "
        "(t/t0)^(-nu) grows as exp(nu_std^2 ln(t/t0)^2), which a larger value makes meaningless.",
    )
    compensation: str = spec(
        "none",
        choices=("none", "global"),
        doc="none; global: one analog gain c = 1 / E[(t/t0)^(-nu)] applied to every array output before "
        "its ADC (ideal global drift compensation).",
    )

    @property
    def active(self) -> bool:
        return self.time > 0

    @property
    def random(self) -> bool:
        """Whether drift differs from device to device (nu has a spread)."""
        return self.active and self.nu_std > 0

    @property
    def compensation_gain(self) -> float:
        """c = 1 / E[(t/t0)^(-nu)] with global compensation, 1 otherwise. For Gaussian nu,
        E[exp(-nu L)] = exp(-nu_mean L + nu_std^2 L^2 / 2) with L = ln(t / t0) (the mean of a lognormal)."""
        if not self.active or self.compensation == "none":
            return 1.0
        log_ratio = math.log(self.time / self.t0)
        return 1.0 / math.exp(-self.nu_mean * log_ratio + 0.5 * (self.nu_std * log_ratio) ** 2)

    def check(self, path: str) -> None:
        if self.time > 0 and self.time < self.t0:
            raise ConfigError(f"{path}.time", f"must be 0 (no drift) or >= t0 = {self.t0} s")
        if self.time == 0 and (self.nu_mean or self.nu_std or self.compensation != "none"):
            raise ConfigError(f"{path}.time", "is 0 (no drift) while drift exponents or compensation are set")


@dataclass(frozen=True)
class StuckCells:
    """Cells stuck at g_min or at Gmax, drawn once per programmed chip."""

    p_off: float = spec(
        0.0, kind=float, minimum=0.0, maximum=1.0, doc="Probability a cell is stuck at g_min, in [0, 1]."
    )
    p_on: float = spec(
        0.0,
        kind=float,
        minimum=0.0,
        maximum=1.0,
        doc="Probability a cell is stuck at 1 (Gmax), in [0, 1]; p_off + p_on <= 1.",
    )

    @property
    def active(self) -> bool:
        return self.p_off > 0 or self.p_on > 0

    def check(self, path: str) -> None:
        if self.p_off + self.p_on > 1:
            raise ConfigError(f"{path}.p_on", "p_off + p_on must be <= 1")


@dataclass(frozen=True)
class Device:
    """The memory cell: conductance window and error laws.

    Order of application (frozen per chip): target conductance -> programming error -> clipping ->
    drift -> stuck cells. Read noise, drawn afresh at every MVM and input slice, adds to the resulting
    conductance with sigma evaluated there, and is not clipped.
    """

    on_off: float = spec(
        math.inf,
        kind=float,
        minimum=1.0,
        exclusive_minimum=True,
        allow_inf=True,
        doc="On/Off ratio Gmax / Gmin (> 1; inf = infinite, g_min = 0).",
    )
    clip: str = spec(
        "range",
        choices=("none", "zero", "range"),
        doc="Clipping after programming error: none; zero: g >= 0; range: g in [g_min, 1] (paper era).",
    )
    programming: ErrorModel = dataclasses.field(default_factory=ErrorModel)
    read_noise: ErrorModel = dataclasses.field(default_factory=ErrorModel)
    drift: Drift = dataclasses.field(default_factory=Drift)
    stuck: StuckCells = dataclasses.field(default_factory=StuckCells)

    @property
    def g_min(self) -> float:
        return 0.0 if math.isinf(self.on_off) else 1.0 / self.on_off

    @property
    def clip_bounds(self) -> tuple[float, float]:
        """(low, high) of the programmed conductance after clipping (infinite where it is not clipped)."""
        return {"none": (-math.inf, math.inf), "zero": (0.0, math.inf), "range": (self.g_min, 1.0)}[self.clip]

    @property
    def exact_conductances(self) -> bool:
        """Whether every frozen conductance equals its target (no programming error, drift or stuck cell)."""
        return not (self.programming.active or self.drift.active or self.stuck.active)

    @property
    def random(self) -> bool:
        """Whether two chips, or two reads, differ: programming error, drift spread, stuck cells, read noise."""
        return self.programming.active or self.drift.random or self.stuck.active or self.read_noise.active


@dataclass(frozen=True)
class Mapping:
    """How signed weights become non-negative conductances."""

    kind: str = spec(
        "differential",
        choices=tuple(MAPPINGS),
        doc="The signed-weight mapping (aimc.mappings, one module each): "
        + "; ".join(f"{name}: {rule.description}" for name, rule in MAPPINGS.items())
        + ".",
    )
    offset: str = spec(
        "digital",
        choices=("digital", "unit_column"),
        doc="Removal of a single-cell mapping's offset and g_min pedestal (offset, twos_complement, "
        "ones_complement): digital (exact) or unit_column (an analog reference column, at u = M for offset and "
        "at code 0 for the complements, in every array, read with its own errors and subtracted after the "
        "ADC). Must stay digital for the differential mappings.",
    )
    subtraction: str = spec(
        "analog",
        choices=("analog", "digital"),
        doc="Differential mappings: analog current subtraction before one ADC, or two ADCs and digital "
        "subtraction.",
    )


@dataclass(frozen=True)
class Weights:
    """Weight quantisation and weight bit slicing."""

    bits: int = spec(
        8, kind=int, minimum=2, maximum=16, doc="B_w: signed integers in [-M, M], M = 2^(B_w-1) - 1."
    )
    slices: int = spec(
        1,
        kind=int,
        minimum=1,
        maximum=16,
        doc="S: weight slices of b bits each (1 = unsliced). The mapping's code is split: a differential pair's "
        "magnitude (B_w - 1 bits), offset's u = w + M (B_w bits), a complement code (B_w bits, one per slice); "
        "b = ceil(encoded bits / S), the top slice may be under-used.",
    )
    per_channel: bool = spec(
        False, kind=bool, doc="Quantisation scale per output channel instead of per layer."
    )


@dataclass(frozen=True)
class Inputs:
    """Activation quantisation and input encoding."""

    bits: int = spec(
        8,
        kind=int,
        minimum=1,
        maximum=16,
        doc="B_in: unsigned inputs in [0, 2^B_in - 1]; signed (first layer) sign-magnitude, magnitude in "
        "[0, 2^(B_in-1) - 1].",
    )
    slice_bits: int = spec(
        1,
        kind=int,
        minimum=0,
        maximum=16,
        doc="s: bits per input slice applied in one MVM (bit-serial); 0 = whole input through a DAC.",
    )
    accumulation: str = spec(
        "analog",
        choices=("digital", "analog"),
        doc="Input slices accumulated digitally (an ADC conversion per slice, then shift-and-add) or in analog "
        "(sum of 2^(s t) I_t, one conversion).",
    )


@dataclass(frozen=True)
class Array:
    """Physical array size."""

    rows: int = spec(
        1152,
        kind=int,
        minimum=1,
        maximum=1 << 20,
        doc="N_rows: rows per array; a layer of fan-in K uses ceil(K / rows) partitions, digitised separately.",
    )
    columns: int = spec(
        256,
        kind=int,
        minimum=1,
        maximum=1 << 20,
        doc="Columns per array (outputs sharing one array; the unit column is shared by them).",
    )


@dataclass(frozen=True)
class ADC:
    """Analog-to-digital converter of every array output."""

    bits: int = spec(8, kind=int, minimum=0, maximum=24, doc="B_adc; 0 = no ADC (ideal readout).")
    range: str = spec(
        "calibrated",
        choices=tuple(RANGE_POLICIES),
        doc="The range policy (aimc.adc_ranges, one module each): "
        + "; ".join(f"{name}: {policy.description}" for name, policy in RANGE_POLICIES.items())
        + ".",
    )
    percentile: float = spec(
        99.98,
        kind=float,
        minimum=0.0,
        maximum=100.0,
        exclusive_minimum=True,
        doc="P for the calibrated and aligned ranges, percent of profiled outputs inside the range (paper: "
        "99.98).",
    )
    power_of_two_slices: bool = spec(
        True,
        kind=bool,
        doc="Calibrated/optimal ranges of the weight slices of a layer differ by powers of two only (aligned "
        "ranges are each their own slice's granular range times a power of two already).",
    )


@dataclass(frozen=True)
class Parasitics:
    """Wire resistance of the array."""

    r: float = spec(
        0.0,
        kind=float,
        minimum=0.0,
        maximum=0.01,
        doc="Normalised wire resistance per segment, r = R_wire Gmax (0 = none), at most 0.01 (a segment with "
        "1 % of a cell's on-resistance; crossbars measure 1e-6 to 1e-3).",
    )
    topology: str = spec(
        "gate_bitline",
        choices=("gate_bitline", "row_column"),
        doc="gate_bitline: the paper's Fig. 21, inputs on transistor gates, bit-line resistance only, virtual "
        "ground (needs 1-bit input slices); row_column: voltage inputs on rows, row and column resistance.",
    )


_SECTIONS = {
    "mapping": Mapping,
    "weights": Weights,
    "inputs": Inputs,
    "array": Array,
    "adc": ADC,
    "device": Device,
    "parasitics": Parasitics,
}
_NESTED = {"programming": ErrorModel, "read_noise": ErrorModel, "drift": Drift, "stuck": StuckCells}


@dataclass(frozen=True)
class Scheme:
    """A complete analog mapping scheme. Construct, then ``with_overrides`` / ``to_json`` / ``from_json``."""

    mapping: Mapping = dataclasses.field(default_factory=Mapping)
    weights: Weights = dataclasses.field(default_factory=Weights)
    inputs: Inputs = dataclasses.field(default_factory=Inputs)
    array: Array = dataclasses.field(default_factory=Array)
    adc: ADC = dataclasses.field(default_factory=ADC)
    device: Device = dataclasses.field(default_factory=Device)
    parasitics: Parasitics = dataclasses.field(default_factory=Parasitics)

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(name, f"must be a {cls.__name__}")
        for name in _SECTIONS:
            validate_fields(getattr(self, name), name)
        for name in _NESTED:
            validate_fields(getattr(self.device, name), f"device.{name}")
        self._check_cross_fields()

    # -- rules that involve several fields -------------------------------------------------------------
    def _check_cross_fields(self) -> None:
        m, w, i = self.mapping, self.weights, self.inputs
        get_mapping(m.kind).check(m, w)
        encoded = self.encoded_bits
        if w.slices > encoded:
            raise ConfigError(
                "weights.slices", f"{w.slices} slices cannot hold {encoded} bits ({m.kind}); allowed 1..{encoded}"
            )
        b = -(-encoded // w.slices)
        used = -(-encoded // b)
        if used != w.slices:
            raise ConfigError(
                "weights.slices",
                f"{encoded} bits in {w.slices} slices of {b} bits leave {w.slices - used} slice(s) empty; "
                f"allowed: a slice count whose ceil(bits/S)-bit slices are all used, e.g. {used}",
            )
        if i.slice_bits > i.bits:
            raise ConfigError("inputs.slice_bits", f"must be 0 (whole input) or 1..inputs.bits = {i.bits}")
        p = self.parasitics
        if p.r > 0 and p.topology == "gate_bitline" and i.slice_bits != 1:
            raise ConfigError(
                "inputs.slice_bits", "must be 1 with parasitics.topology gate_bitline (binary gate inputs)"
            )
        d = self.device
        d.programming.check("device.programming", d.g_min)
        d.read_noise.check("device.read_noise", d.g_min)
        d.drift.check("device.drift")
        d.stuck.check("device.stuck")

    # -- derived quantities --------------------------------------------------------------------------------
    @property
    def encoded_bits(self) -> int:
        """Bits that the slices encode: the bit length of the mapping's largest code (B_w - 1 for a one-sided
        magnitude, B_w for u = w + M or a B_w-bit complement code)."""
        return get_mapping(self.mapping.kind).encoded_bits(self.weights.bits)

    @property
    def bits_per_slice(self) -> int:
        """b = ceil(encoded_bits / S)."""
        return -(-self.encoded_bits // self.weights.slices)

    # -- serialisation ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (infinite values written as the string "inf")."""
        return _jsonable(dataclasses.asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scheme:
        """Build from a (possibly partial) dict; unknown keys are refused with their path."""
        if not isinstance(data, dict):
            raise ConfigError("", "a scheme must be a JSON object")
        _reject_unknown(data, set(_SECTIONS), "")
        sections = {}
        for name, sec_cls in _SECTIONS.items():
            sections[name] = _build(sec_cls, data.get(name, {}), name)
        return cls(**sections)

    @classmethod
    def from_json(cls, text: str) -> Scheme:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError("", f"not valid JSON: {e}") from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: dict[str, Any]) -> Scheme:
        """A copy with fields set by dotted path ('adc.bits': 6, or strings as typed on a command line)."""
        data = self.to_dict()
        for path, value in overrides.items():
            target, key, meta = _resolve(data, path)
            target[key] = _parse_value(path, value, meta)
        return Scheme.from_dict(data)

    def accepts(self, overrides: dict[str, Any]) -> bool:
        """Whether :meth:`with_overrides` takes ``overrides`` (the vocabulary's rules, without the message)."""
        try:
            self.with_overrides(overrides)
        except ConfigError:
            return False
        return True

    @staticmethod
    def paths() -> list[str]:
        """Every settable dotted path."""
        return sorted(_all_paths(Scheme, ""))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    return obj


def _reject_unknown(data: dict, known: set[str], path: str) -> None:
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else key
            raise ConfigError(where, f"unknown field; allowed here: {', '.join(sorted(known))}")


def _coerce(value: Any, meta: dict) -> Any:
    kind = meta.get("kind")
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    if kind is float and isinstance(value, str) and value.strip().lower() in ("inf", "infinity", "+inf"):
        return math.inf
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(path, "must be a JSON object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(data, set(fields), path)
    kwargs = {}
    for name, value in data.items():
        sub = _NESTED.get(name) if cls is Device else None
        if sub is not None:
            kwargs[name] = _build(sub, value, f"{path}.{name}")
        else:
            kwargs[name] = _coerce(value, fields[name].metadata)
    return cls(**kwargs)


def _all_paths(cls: type, prefix: str) -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        path = f"{prefix}.{f.name}" if prefix else f.name
        sub = _SECTIONS.get(f.name) if cls is Scheme else (_NESTED.get(f.name) if cls is Device else None)
        out.extend(_all_paths(sub, path) if sub is not None else [path])
    return out


def _meta_for(path: str) -> dict:
    cls: type = Scheme
    parts = path.split(".")
    for part in parts[:-1]:
        cls = _SECTIONS.get(part) if cls is Scheme else _NESTED.get(part) if cls is Device else None
        if cls is None:
            break
    if cls is not None:
        for f in dataclasses.fields(cls):
            if f.name == parts[-1] and "doc" in f.metadata:
                return dict(f.metadata)
    raise ConfigError(path, "unknown setting; see `aimc show NAME --json` for the settable paths")


def _resolve(data: dict, path: str) -> tuple[dict, str, dict]:
    meta = _meta_for(path)
    parts = path.split(".")
    target = data
    for part in parts[:-1]:
        target = target[part]
    return target, parts[-1], meta


def _parse_value(path: str, value: Any, meta: dict) -> Any:
    if not isinstance(value, str):
        return _coerce(value, meta)
    text = value.strip()
    kind = meta.get("kind")
    try:
        if meta.get("choices") is not None:
            return text
        if kind is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return _coerce(text, meta) if text.lower() in ("inf", "infinity", "+inf") else float(text)
        if kind is tuple:
            return tuple(json.loads(text))
    except (ValueError, json.JSONDecodeError, TypeError):
        raise ConfigError(path, f"cannot read {value!r} as {getattr(kind, '__name__', kind)}") from None
    return text

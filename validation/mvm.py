r"""MVM-level validation: the closed-form error budget against the device-level Monte Carlo, point by point.

One *comparison* (:func:`compare`) takes a scheme and a layer and computes, for the **same** quantised
layer, the **same** ADC ranges (computed once by :func:`aimc.montecarlo.calibrate_ranges` and passed to
both sides) and the **same** quantity:

* theory: :func:`aimc.theory.error_budget` -> ``relative_rms`` = sqrt(mean over outputs and vectors of
  (bias^2 + variance)) / rms(reference), and ``bias`` = mean error / rms(reference);
* Monte Carlo: :func:`aimc.montecarlo.simulate_mvm` on C programmed chips (float64) -> the same two
  statistics (:func:`aimc.metrics.error_summary`), with a 95 % Student-t interval over chips.

Verdict (:func:`judge`), the rule of DESIGN section 7, never loosened:

* where the Monte Carlo interval is tight enough to judge 3 % (relative half-width <=
  :data:`JUDGE_HALF_WIDTH` = 1.5 %): ``|sigma_theory / sigma_MC - 1| <= TOLERANCE`` (3 %);
* elsewhere: the theory value must lie inside the 95 % interval;
* the bias is judged by the same rule wherever it is relevant (``|bias_MC| >= BIAS_RELEVANT x sigma_MC``).

Chips are adaptive: a first batch, then more (independent seeds) until the half-width reaches
:data:`TARGET_HALF_WIDTH` or ``max_chips``; a scheme without any random device effect is simulated on one
chip (its error is deterministic, half-width 0).

Documented approximations of the theory (:func:`approximation_reasons`) are stated per point, with the
measured parameter that places the point in that regime and the theory's own documentation:

* ``adc_rounding``: with an ADC, the theory's rounding moments are exact for a Gaussian analog error per
  conversion (:mod:`aimc.theory.adc`); below ``sigma_analog / LSB`` = :data:`aimc.theory.adc.REGIME_BOUNDARY`
  the result depends on the shape of that error, and with digital accumulation of frozen errors the
  covariance between input-slice conversions is first order (Bussgang/Price);
* ``parasitics``: first order in r, with a stated relative error of 0.40 r N I_max and validity
  ``r N I_max <=`` :data:`aimc.theory.parasitics.VALIDITY_RN_IMAX` (:mod:`aimc.theory.parasitics`); a point is
  marked beyond the validity, or where that error times the parasitic share of the MSE exceeds half the
  tolerance (for the ``row_column`` topology the scale is r (N G_col + M G_row) of
  :func:`aimc.theory.parasitics.row_column_scale`, with the same constants); added as a bias
  computed on the ideal conductances (:mod:`aimc.theory.budget`): with random device errors the IR drop
  also attenuates the error currents (first order in r), which the budget does not model.

A point with a reason is still judged and reported; it is left out of ``worst_deviation`` (the largest
deviation among the points that should agree).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from aimc.montecarlo import calibrate_ranges, simulate_mvm
from aimc.theory import decode_coefficients, error_budget
from aimc.theory.adc import REGIME_BOUNDARY
from aimc.theory.parasitics import ERROR_SLOPE, VALIDITY_RN_IMAX, parasitic_scale, scale_name
from scipy import stats

from aimc._fields import ConfigError
from aimc.adc import ADCRange, step
from aimc.inputs import slice_significance
from aimc.layers import Layer, QuantizedLayer, quantize_layer, synthetic_layer
from aimc.mapping import SliceLayout, partitions
from aimc.metrics import error_summary
from aimc.results import read_csv, write_csv_atomic
from aimc.scheme import ADC, Scheme

__all__ = [
    "BIAS_RELEVANT",
    "CONFIDENCE",
    "JUDGE_HALF_WIDTH",
    "SWEEP_LAYER",
    "TARGET_HALF_WIDTH",
    "TOLERANCE",
    "Comparison",
    "LayerSpec",
    "ResultsTable",
    "SweepPoint",
    "Unsupported",
    "adc_ranges",
    "approximation_reasons",
    "compare",
    "format_summary",
    "is_random",
    "judge",
    "make_layer",
    "plot_identity",
    "plot_regimes",
    "run_point",
    "run_sweep",
    "summarize",
    "sweep_points",
]

TOLERANCE = 0.03
"""|sigma_theory / sigma_MC - 1| allowed wherever the interval can judge it (DESIGN section 7)."""
JUDGE_HALF_WIDTH = 0.015
"""Relative half-width of the 95 % Monte Carlo interval below which the 3 % tolerance is applied."""
TARGET_HALF_WIDTH = 0.01
"""Relative half-width the adaptive chip count aims at (a margin below JUDGE_HALF_WIDTH)."""
CONFIDENCE = 0.95
BIAS_RELEVANT = 0.25
"""The bias is judged where |bias_MC| >= 0.25 sigma_MC (it then carries >= 6 % of the mean squared error)."""
ANALOG_SOURCES = ("programming", "drift", "stuck", "read_noise", "unit_column")
PARASITIC_ERROR_SLOPE = ERROR_SLOPE
"""Relative error of the first-order parasitic term, 0.40 r N I_max, as measured and stated in
:mod:`aimc.theory.parasitics` (documentation of VALIDITY_RN_IMAX)."""


class Unsupported(ValueError):
    """The theory refuses a scheme the vocabulary accepts (the message is the theory's)."""


# ---------------------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """A sub-layer of the built-in synthetic layer: its first ``outputs`` x ``fan_in`` weights and first
    ``vectors`` input vectors. ``signed``: inputs N(0, 1) drawn with numpy seed 4321 instead (signed,
    sign-magnitude codes, as a first layer)."""

    outputs: int = 64
    fan_in: int = 1152
    vectors: int = 16
    signed: bool = False

    def label(self) -> str:
        return f"{self.outputs}x{self.fan_in}x{self.vectors}" + ("s" if self.signed else "")


@lru_cache(maxsize=8)
def _synthetic() -> Layer:
    return synthetic_layer()


def make_layer(spec: LayerSpec) -> Layer:
    """The layer of ``spec`` (see :class:`LayerSpec`); identical on every machine."""
    base = _synthetic()
    n_max, k_max = base.weights.shape
    if not (1 <= spec.outputs <= n_max and 1 <= spec.fan_in <= k_max and 1 <= spec.vectors <= base.inputs.shape[0]):
        raise ValueError(f"layer: {spec.label()} exceeds the synthetic layer ({n_max} x {k_max}, "
                         f"{base.inputs.shape[0]} vectors)")
    w = base.weights[: spec.outputs, : spec.fan_in]
    if spec.signed:
        x = torch.from_numpy(np.random.default_rng(4321).standard_normal((spec.vectors, spec.fan_in)))
    else:
        x = base.inputs[: spec.vectors, : spec.fan_in]
    return Layer(w, x, f"synthetic[{spec.label()}]")


# ---------------------------------------------------------------------------------------------------------
# one comparison
# ---------------------------------------------------------------------------------------------------------


def is_random(scheme: Scheme) -> bool:
    """Whether the scheme has a random device effect (otherwise every chip is identical)."""
    d = scheme.device
    return bool(
        d.programming.active or d.read_noise.active or d.stuck.active or (d.drift.active and d.drift.nu_std > 0)
    )


def adc_ranges(scheme: Scheme, q: QuantizedLayer) -> list[ADCRange] | None:
    """One ADC range per weight slice for the scheme's policy, shared by theory and Monte Carlo.

    Calibrated/optimal ranges are profiled on ideal arrays (no device error, no wire resistance) on the
    layer's own inputs, so they are computed on the scheme without parasitics (identical profile).
    """
    if scheme.adc.bits == 0:
        return None
    ideal = scheme.with_overrides({"parasitics.r": 0.0}) if scheme.parasitics.r > 0 else scheme
    return calibrate_ranges(ideal, q.w_int, q.x_int, q.signed_inputs, dtype=torch.float64)


def _interval(values: np.ndarray) -> float:
    """Half-width of the Student-t interval of the mean of ``values`` (0 for one value)."""
    n = len(values)
    if n < 2:
        return 0.0
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


@dataclass
class MonteCarloEstimate:
    sigma: float
    ci: tuple[float, float]
    bias: float
    bias_half_width: float
    chips: int
    seconds: float

    @property
    def half_width(self) -> float:
        """Relative half-width of the sigma interval."""
        if self.sigma == 0:
            return 0.0
        return (self.ci[1] - self.ci[0]) / 2 / self.sigma


def _simulate(
    q: QuantizedLayer,
    scheme: Scheme,
    ranges: list[ADCRange] | None,
    *,
    chips: int,
    max_chips: int,
    seed: int,
    target: float,
    device: str,
) -> MonteCarloEstimate:
    mode = "output_referred" if scheme.parasitics.r == 0 else "per_device"
    random = is_random(scheme)
    batch = chips if random else 1
    start = time.perf_counter()
    outputs = []
    done, index = 0, 0
    while True:
        res = simulate_mvm(q, scheme, chips=batch, seed=seed + 7919 * index, device=device, dtype=torch.float64,
                           ranges=ranges, read_noise_mode=mode)
        outputs.append(res.outputs)
        done += batch
        index += 1
        if not random:
            break
        summary = error_summary(torch.cat(outputs), q.reference, CONFIDENCE)
        lo, hi = summary["relative_rms_ci"]
        hw = (hi - lo) / 2 / summary["relative_rms"] if summary["relative_rms"] > 0 else 0.0
        if hw <= target or done >= max_chips:
            break
        need = math.ceil(done * (hw / target) ** 2 * 1.1)
        batch = max(8, min(max_chips, need) - done)
    out = torch.cat(outputs)
    summary = error_summary(out, q.reference, CONFIDENCE)
    ci = tuple(summary["relative_rms_ci"]) if summary["relative_rms_ci"] else (summary["relative_rms"],) * 2
    ref_rms = float(q.reference.pow(2).mean().sqrt())
    per_chip_bias = (out - q.reference.unsqueeze(0)).mean(dim=(1, 2)).numpy() / ref_rms
    return MonteCarloEstimate(summary["relative_rms"], ci, summary["bias"], _interval(per_chip_bias), out.shape[0],
                              time.perf_counter() - start)


def judge(value: float, estimate: float, low: float, high: float) -> tuple[bool, str, float]:
    """(within, how, ratio): the DESIGN-section-7 rule for a theory value against an MC estimate and interval."""
    if estimate == 0:
        ratio = 1.0 if value == 0 else math.inf
        return value == 0, "exact", ratio
    ratio = value / estimate
    half = (high - low) / 2 / abs(estimate)
    if half <= JUDGE_HALF_WIDTH:
        return abs(ratio - 1) <= TOLERANCE, "tolerance", ratio
    return low <= value <= high, "interval", ratio


@dataclass
class Comparison:
    """Theory against Monte Carlo for one scheme and layer (see the module docstring)."""

    scheme: Scheme
    layer: str
    theory_sigma: float
    theory_bias: float
    mc_sigma: float
    mc_ci_low: float
    mc_ci_high: float
    mc_half_width: float
    mc_bias: float
    mc_bias_half_width: float
    chips: int
    ratio: float
    judged_by: str
    sigma_ok: bool
    bias_relevant: bool
    bias_ratio: float
    bias_ok: bool
    within_tolerance: bool
    reason: str
    sigma_analog_lsb: float
    r_n_imax: float
    parasitic_share: float
    seconds_theory: float
    seconds_mc: float
    extra: dict = field(default_factory=dict)

    @property
    def expected(self) -> bool:
        """Whether the point should agree to the tolerance (no documented approximation applies)."""
        return not self.reason

    @property
    def deviation(self) -> float:
        return abs(self.ratio - 1)

    def row(self) -> dict[str, Any]:
        """A flat, CSV-ready dict (scheme as JSON)."""
        out = asdict(self)
        out.pop("extra")
        out["scheme"] = self.scheme.to_json(indent=None)
        out["expected"] = self.expected
        out["deviation"] = self.deviation
        out.update(self.extra)
        return out

    def describe(self) -> str:
        status = "ok" if self.within_tolerance else "OUTSIDE"
        bias = f", bias theory {self.theory_bias:.4g} MC {self.mc_bias:.4g}" if self.bias_relevant else ""
        return (f"{status}: sigma theory {self.theory_sigma:.5g}, MC {self.mc_sigma:.5g} "
                f"[{self.mc_ci_low:.5g}, {self.mc_ci_high:.5g}] ({self.chips} chips), ratio {self.ratio:.4f} "
                f"judged by {self.judged_by}{bias}" + (f"; reason: {self.reason}" if self.reason else ""))


def compare(
    scheme: Scheme,
    layer: Layer | QuantizedLayer | LayerSpec,
    *,
    chips: int = 64,
    max_chips: int = 512,
    seed: int = 0,
    target_half_width: float = TARGET_HALF_WIDTH,
    device: str = "cpu",
) -> Comparison:
    """Compare the closed-form budget of ``layer`` under ``scheme`` with the Monte Carlo estimate."""
    if isinstance(layer, LayerSpec):
        layer = make_layer(layer)
    q = layer if isinstance(layer, QuantizedLayer) else quantize_layer(layer, scheme)
    name = getattr(layer, "name", "quantized")
    ranges = adc_ranges(scheme, q)
    t0 = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(over="ignore", under="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            budget = error_budget(q, scheme, ranges=ranges)
        except ValueError as e:
            raise Unsupported(f"theory: {e}") from None
    t_theory = time.perf_counter() - t0
    mc = _simulate(q, scheme, ranges, chips=chips, max_chips=max_chips, seed=seed, target=target_half_width,
                   device=device)
    th_sigma, th_bias = budget.relative_rms, budget.relative_bias
    sigma_ok, how, ratio = judge(th_sigma, mc.sigma, *mc.ci)
    bias_relevant = mc.sigma > 0 and abs(mc.bias) >= BIAS_RELEVANT * mc.sigma
    bias_ok, bias_ratio = True, (th_bias / mc.bias if mc.bias != 0 else math.nan)
    if bias_relevant:
        bias_ok, _, bias_ratio = judge(th_bias, mc.bias, mc.bias - mc.bias_half_width, mc.bias + mc.bias_half_width)
    x_lsb = sigma_analog_over_lsb(budget, scheme, ranges, q)
    rni = parasitic_scale(scheme, q)
    share = abs(budget.by_source.get("parasitics", 0.0)) if scheme.parasitics.r > 0 else 0.0
    reason = "; ".join(approximation_reasons(scheme, x_lsb, rni, share, q))
    return Comparison(
        scheme=scheme, layer=name, theory_sigma=th_sigma, theory_bias=th_bias, mc_sigma=mc.sigma,
        mc_ci_low=mc.ci[0], mc_ci_high=mc.ci[1], mc_half_width=mc.half_width, mc_bias=mc.bias,
        mc_bias_half_width=mc.bias_half_width, chips=mc.chips, ratio=ratio, judged_by=how, sigma_ok=sigma_ok,
        bias_relevant=bias_relevant, bias_ratio=bias_ratio, bias_ok=bias_ok, within_tolerance=sigma_ok and bias_ok,
        reason=reason, sigma_analog_lsb=x_lsb, r_n_imax=rni, parasitic_share=share, seconds_theory=t_theory,
        seconds_mc=mc.seconds,
    )


# ---------------------------------------------------------------------------------------------------------
# the parameters that place a point in an approximation's regime
# ---------------------------------------------------------------------------------------------------------


def sigma_analog_over_lsb(budget: Any, scheme: Scheme, ranges: list[ADCRange] | None, q: QuantizedLayer) -> float:
    """RMS analog error over RMS LSB, both referred to the output: sqrt(V_analog / V_lsb).

    V_analog is the budget's mean analog variance (programming, drift, stuck, read noise, unit column);
    V_lsb = sum over conversions of (c_k w_t Delta_k)^2, c_k the decode coefficient of weight slice k,
    w_t the input-slice weight (digital accumulation) and Delta_k the LSB. With one kind of conversion
    this is sigma / Delta at the ADC input, the variable of :data:`aimc.theory.adc.REGIME_BOUNDARY`.
    ``nan`` without an ADC, ``0`` without analog error.
    """
    if ranges is None:
        return math.nan
    v_analog = float(np.mean(sum(budget.variance[s] for s in ANALOG_SOURCES)))
    if v_analog <= 0:
        return 0.0
    layout = SliceLayout.from_scheme(scheme)
    coef = decode_coefficients(layout)
    i = scheme.inputs
    t_sig = np.array(slice_significance(i.bits, i.slice_bits, q.signed_inputs), dtype=np.float64)
    per_conv = float(np.sum(t_sig**2)) if (i.accumulation == "digital" and len(t_sig) > 1) else 1.0
    sets = 2 if (layout.differential and scheme.mapping.subtraction == "digital") else 1
    if scheme.mapping.kind == "offset" and scheme.mapping.offset == "unit_column":
        sets = 2
    parts = len(partitions(q.w_int.shape[1], scheme.array.rows))
    v_lsb = sum((coef[k] * step(scheme.adc.bits, ranges[k])) ** 2 for k in range(layout.slices))
    return math.sqrt(v_analog / (v_lsb * per_conv * sets * parts))


def approximation_reasons(scheme: Scheme, x_lsb: float, rni: float, parasitic_share: float,
                          q: QuantizedLayer | None = None) -> list[str]:
    """The documented approximations of the theory that apply at this point, each with its parameter."""
    out = []
    i = scheme.inputs
    if scheme.adc.bits > 0 and math.isfinite(x_lsb) and 0 < x_lsb < REGIME_BOUNDARY:
        signed = bool(q.signed_inputs) if q is not None else False
        slices = len(slice_significance(i.bits, i.slice_bits, signed))
        text = (f"ADC rounding regime: sigma_analog/LSB = {x_lsb:.3g} < {REGIME_BOUNDARY} (aimc.theory.adc: "
                "rounding moments exact for a Gaussian analog error per conversion")
        if i.accumulation == "digital" and slices > 1:
            text += "; correlation between input-slice conversions first order (Bussgang/Price)"
        out.append(text + ")")
    p = scheme.parasitics
    if p.r > 0 and is_random(scheme):
        out.append(f"parasitics with device errors (r N I_max = {rni:.3g}): the theory adds the first-order "
                   "parasitic error of the ideal conductances as a bias; the IR drop's attenuation of the "
                   "device-error currents, also first order in r, is not modelled (aimc.theory.budget)")
    if p.r > 0:
        name = scale_name(p.topology)
        if rni > VALIDITY_RN_IMAX:
            out.append(f"first-order parasitics beyond stated validity: {name} = {rni:.3g} > {VALIDITY_RN_IMAX} "
                       "(aimc.theory.parasitics)")
        elif PARASITIC_ERROR_SLOPE * rni * parasitic_share > TOLERANCE / 2:
            out.append(f"first-order parasitics: stated error {PARASITIC_ERROR_SLOPE} {name} = "
                       f"{100 * PARASITIC_ERROR_SLOPE * rni:.1g} % of the parasitic term, which carries "
                       f"{100 * parasitic_share:.0f} % of the MSE (aimc.theory.parasitics)")
    return out


def scheme_label(scheme: Scheme) -> str:
    """A short name of the signed-weight mapping (the identity plot's colour)."""
    m = scheme.mapping
    if m.kind == "offset":
        return "offset, unit column" if m.offset == "unit_column" else "offset, digital"
    name = "differential" if m.kind == "differential" else "two-sided"
    return name + (", digital subtraction" if m.subtraction == "digital" else "")


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


# ---------------------------------------------------------------------------------------------------------
# the sweep (aimc validate mvm)
# ---------------------------------------------------------------------------------------------------------

SWEEP_LAYER = LayerSpec(outputs=64, fan_in=1152, vectors=16)
"""The sweep's layer: 64 outputs of the built-in synthetic layer, its full fan-in (1152: one to sixteen
partitions as the rows vary), 16 input vectors."""
MAPPINGS: dict[str, dict[str, Any]] = {
    "differential": {"mapping.kind": "differential"},
    "two-sided": {"mapping.kind": "differential_two_sided"},
    "offset-digital": {"mapping.kind": "offset", "mapping.offset": "digital"},
    "offset-unit-column": {"mapping.kind": "offset", "mapping.offset": "unit_column"},
}
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


def _valid(overrides: dict) -> bool:
    try:
        Scheme().with_overrides(overrides)
    except ConfigError:
        return False
    return True


def slice_counts(mapping: dict) -> list[int]:
    """Weight slice counts of the sweep for a mapping: ceil(magnitude bits / b) for b in SLICE_BITS, if valid."""
    mag = Scheme().with_overrides(mapping).magnitude_bits
    out = []
    for b in SLICE_BITS:
        s = -(-mag // b)
        if s > 1 and s not in out and _valid({**mapping, "weights.slices": s}):
            out.append(s)
    return out


def _point(design: str, factor: str, base: str, over: dict, **kw: Any) -> SweepPoint:
    full = {**SWEEP_BASE, **over}
    errors = "device.programming.model" in full or "device.read_noise.model" in full
    if float(full.get("parasitics.r", 0)) > 0:
        full["inputs.slice_bits"] = 1  # gate/bit-line wire resistance needs binary gate inputs
        if errors:
            kw = {"chips": 16, "max_chips": 48, **kw}  # the circuit is solved for every chip
    elif full.get("mapping.offset") == "unit_column":
        # the unit column's error is common to all outputs of an array: per-chip errors vary much more
        kw = {"max_chips": 2048, **kw}
    return SweepPoint(design, factor, base, full, **kw)


def sweep_points(quick: bool = False) -> list[SweepPoint]:
    """The documented design (module docstring of :mod:`aimc.validation.cli`, README of the results):

    1. base points: every mapping x {state-independent 1 %, state-proportional 10 %} on SWEEP_BASE;
    2. one factor at a time around each base point: alpha (5 values), On/Off (10, 100, 1e3), rows (72..576),
       weight slices (4-, 2-, 1-bit slices as the bits allow), ADC (none; 4, 6, 10 bits calibrated; max,
       granular, optimal at 8 bits), input encoding (digital accumulation; whole inputs), wire resistance r;
    3. the full ADC grid (bits 4..10 x every range policy) around the differential base points;
    4. every published device preset on every mapping (as published), and its scale alpha on the
       differential mapping;
    5. wire resistance alone: r x rows grid (differential, no ADC, no device error: deterministic);
    6. clipping: alpha x On/Off (10, 100) for both error types (differential);
    7. a seeded random sample of RANDOM_POINTS combinations of every factor.

    ``quick``: the base points of the differential and offset-digital mappings and one point per factor.
    """
    pts: list[SweepPoint] = []
    errors = ("state_independent", "state_proportional")
    for m_name, mapping in MAPPINGS.items():
        for err in errors:
            base_name = f"{m_name}/{err}"
            base = {**mapping, **_error_overrides(err, BASE_ALPHA[err])}
            pts.append(_point("base", "base", base_name, base))
            for a in ALPHAS[err]:
                pts.append(_point("ofat", "alpha", base_name, {**base, **_error_overrides(err, a)}))
            for on_off in ON_OFF[:-1]:
                pts.append(_point("ofat", "on_off", base_name, {**base, "device.on_off": on_off}))
            for rows in ROWS[:-1]:
                pts.append(_point("ofat", "rows", base_name, {**base, "array.rows": rows}))
            for s in slice_counts(mapping):
                pts.append(_point("ofat", "slices", base_name, {**base, "weights.slices": s}))
            pts.append(_point("ofat", "adc", base_name, {**base, "adc.bits": 0}))
            for bits in (4, 6, 10):
                pts.append(_point("ofat", "adc", base_name, {**base, "adc.bits": bits}))
            for policy in _adc_policies():
                pts.append(_point("ofat", "adc", base_name, {**base, "adc.range": policy}))
            pts.append(_point("ofat", "inputs", base_name, {**base, "inputs.accumulation": "digital"}))
            pts.append(_point("ofat", "inputs", base_name, {**base, "inputs.slice_bits": 0}))
            for r in R_VALUES:
                pts.append(_point("ofat", "parasitics", base_name, {**base, "parasitics.r": r}))
            if m_name == "differential":
                for policy in _adc_policies():
                    for bits in ADC_BITS:
                        pts.append(_point("grid", "adc", base_name, {**base, "adc.range": policy, "adc.bits": bits}))
                for on_off in ON_OFF[:2]:
                    for a in ALPHAS[err]:
                        over = {**base, **_error_overrides(err, a), "device.on_off": on_off}
                        pts.append(_point("grid", "clipping", base_name, over))
    for dev in device_presets():
        for m_name, mapping in MAPPINGS.items():
            pts.append(_point("device", "device", f"{m_name}/{dev}", {**mapping, **_error_overrides(dev, 1.0)}))
        for scale in DEVICE_SCALES:
            over = {**MAPPINGS["differential"], **_error_overrides(dev, scale)}
            pts.append(_point("device", "alpha", f"differential/{dev}", over))
    for rows in ROWS:
        for r in R_GRID:
            over = {**MAPPINGS["differential"], "array.rows": rows, "adc.bits": 0, "parasitics.r": r}
            pts.append(_point("grid", "parasitics", "differential/ideal", over))
    pts += _random_points(RANDOM_POINTS, RANDOM_SEED)
    pts = _unique(pts)
    if quick:
        pts = _quick(pts)
    return pts


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
        if p.design == "base" and p.base.split("/")[0] in ("differential", "offset-digital"):
            keep.append(p)
        elif p.design in ("ofat", "device") and p.base.startswith("differential/") and p.factor not in factors:
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
# results: CSV (atomic, resumable), summary, plots
# ---------------------------------------------------------------------------------------------------------


class ResultsTable:
    """The sweep's CSV: one row per point, rewritten atomically (temporary file + ``os.replace``) after
    every finished point, so that an interrupted run loses at most the points in progress. Rows are keyed
    by :meth:`SweepPoint.key`; rows of other designs already in the file are kept."""

    def __init__(self, path: str | os.PathLike, columns: tuple[str, ...] = CSV_COLUMNS):
        self.path = os.fspath(path)
        self.columns = columns
        self.rows: dict[str, dict[str, str]] = {row["key"]: row for row in read_csv(self.path) if row.get("key")}

    def finished(self, key: str) -> bool:
        row = self.rows.get(key)
        return row is not None and not row.get("error_message")

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row["key"]] = {k: _cell(row.get(k)) for k in self.columns}
        self.write()

    def write(self) -> None:
        ordered = sorted(self.rows.values(), key=lambda r: (int(r.get("index") or 1 << 30), r["key"]))
        write_csv_atomic(self.path, ordered, self.columns)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    warnings.simplefilter("ignore", RuntimeWarning)


def _work(args: tuple[int, SweepPoint, LayerSpec, str]) -> dict[str, Any]:
    index, point, layer, device = args
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
    plots: bool = True,
    points: list[SweepPoint] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep into ``out_dir``: ``mvm.csv``, ``identity.png``, ``ratio_regimes.png``.

    Returns :func:`summarize` of the design's points. ``workers`` > 1 runs points in parallel processes
    (each with ``threads`` torch threads); results do not depend on it (every point has its own seed).
    ``layer``: default :data:`SWEEP_LAYER`; ``points``: default :func:`sweep_points` ``(quick)``.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    layer = SWEEP_LAYER if layer is None else layer
    points = sweep_points(quick) if points is None else points
    table = ResultsTable(os.path.join(out_dir, "mvm.csv"))
    keys = [p.key(layer) for p in points]
    todo = [(i, p, layer, device) for i, (p, k) in enumerate(zip(points, keys)) if not table.finished(k)]
    for i, k in enumerate(keys):  # keep the design order of points finished by an earlier run
        if k in table.rows:
            table.rows[k]["index"] = str(i)
    bar = tqdm(total=len(todo), desc="validate mvm", unit="point", disable=not progress)
    if workers <= 1 or len(todo) <= 1:
        old = torch.get_num_threads()
        _init_worker(threads)
        try:
            for item in todo:
                table.add(_work(item))
                bar.update()
        finally:
            torch.set_num_threads(old)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
            futures = [pool.submit(_work, item) for item in todo]
            for fut in as_completed(futures):
                table.add(fut.result())
                bar.update()
    bar.close()
    rows = [table.rows[k] for k in keys if k in table.rows]
    paths = []
    if plots:
        paths = [plot_identity(rows, os.path.join(out_dir, "identity.png")),
                 plot_regimes(rows, os.path.join(out_dir, "ratio_regimes.png"))]
    summary = summarize(rows)
    summary.update({"csv": table.path, "plots": paths, "seconds": time.perf_counter() - start,
                    "quick": quick, "layer": layer.label()})
    return summary


def _f(row: dict, key: str) -> float:
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return math.nan


def _b(row: dict, key: str) -> bool:
    return str(row.get(key, "")).lower() == "true"


def configuration(row: dict) -> dict[str, Any]:
    """The configuration of a CSV row, compactly (for the JSON summary)."""
    keys = ("design", "factor", "base", "mapping", "slices", "error", "alpha", "on_off", "rows", "adc_bits",
            "adc_range", "accumulation", "r")
    return {k: row.get(k) for k in keys}


def summarize(rows: list[dict]) -> dict[str, Any]:
    """{points, worst_deviation, outside, ...} of finished CSV rows (see ``aimc validate mvm --json``)."""
    done = [r for r in rows if not r.get("error_message")]
    failed = [r for r in rows if r.get("error_message")]
    expected = [r for r in done if _b(r, "expected")]
    worst = max(expected, key=lambda r: _f(r, "deviation"), default=None)
    outside = [r for r in done if not _b(r, "within_tolerance")]
    by_how: dict[str, int] = {}
    for r in done:
        by_how[r["judged_by"]] = by_how.get(r["judged_by"], 0) + 1
    return {
        "points": len(done),
        "should_agree": len(expected),
        "within_tolerance": len(done) - len(outside),
        "judged_by": by_how,
        "worst_deviation": _f(worst, "deviation") if worst else None,
        "worst_point": None if worst is None else {**configuration(worst), "ratio": _f(worst, "ratio"),
                                                   "judged_by": worst["judged_by"]},
        "worst_deviation_all": max((_f(r, "deviation") for r in done), default=None),
        "outside": [
            {
                "key": r["key"],
                "configuration": configuration(r),
                "theory_sigma": _f(r, "theory_sigma"),
                "mc_sigma": _f(r, "mc_sigma"),
                "mc_ci": [_f(r, "mc_ci_low"), _f(r, "mc_ci_high")],
                "ratio": _f(r, "ratio"),
                "judged_by": r["judged_by"],
                "sigma_within_3_percent": abs(_f(r, "ratio") - 1) <= TOLERANCE,
                "bias": {"theory": _f(r, "theory_bias"), "mc": _f(r, "mc_bias"), "relevant": _b(r, "bias_relevant"),
                         "ok": _b(r, "bias_ok")},
                "reason": r.get("reason") or "",
            }
            for r in outside
        ],
        "errors": [{"key": r["key"], "configuration": configuration(r), "error": r["error_message"]} for r in failed],
    }


def plot_identity(rows: list[dict], path: str) -> str:
    """Theory sigma against Monte Carlo sigma (log-log, 95 % intervals), coloured by mapping."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if not r.get("error_message") and _f(r, "mc_sigma") > 0 and _f(r, "theory_sigma") > 0]
    fig, ax = plt.subplots(figsize=(7.5, 7))
    labels = sorted({r["mapping"] for r in done})
    colours = dict(zip(labels, plt.cm.tab10.colors))
    for label in labels:
        for expected, marker in ((True, "o"), (False, "^")):
            sel = [r for r in done if r["mapping"] == label and _b(r, "expected") == expected]
            if not sel:
                continue
            x = np.array([_f(r, "mc_sigma") for r in sel])
            y = np.array([_f(r, "theory_sigma") for r in sel])
            err = np.array([[x[i] - _f(r, "mc_ci_low"), _f(r, "mc_ci_high") - x[i]] for i, r in enumerate(sel)]).T
            ax.errorbar(x, y, xerr=np.maximum(err, 0), fmt=marker, ms=4, color=colours[label], alpha=0.75, lw=0.8,
                        label=label + ("" if expected else " (documented approximation)"))
    bad = [r for r in done if not _b(r, "within_tolerance")]
    if bad:
        ax.scatter([_f(r, "mc_sigma") for r in bad], [_f(r, "theory_sigma") for r in bad], s=90,
                   facecolors="none", edgecolors="red", lw=1.2, label="outside tolerance", zorder=5)
    lo = min(min(_f(r, "mc_sigma"), _f(r, "theory_sigma")) for r in done) if done else 1e-3
    hi = max(max(_f(r, "mc_sigma"), _f(r, "theory_sigma")) for r in done) if done else 1.0
    line = np.array([lo / 1.5, hi * 1.5])
    ax.plot(line, line, "k-", lw=0.8)
    ax.fill_between(line, line * (1 - TOLERANCE), line * (1 + TOLERANCE), color="0.85", zorder=0,
                    label=f"+-{100 * TOLERANCE:.0f} %")
    ax.set(xscale="log", yscale="log", xlabel="Monte Carlo relative RMS error (95 % interval)",
           ylabel="theory relative RMS error", title=f"MVM-level validation: theory vs Monte Carlo, {len(done)} points")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _noise_split_errorbars(ax: Any, rows: list[dict], x_of: Any, window: tuple, yerr: Any, color: Any, label: str) -> None:
    """Ratio points of one group, circles without device errors and squares with them."""
    for noisy, marker in ((False, "o"), (True, "s")):
        sel = [r for r in rows if (r["error"] != "none") == noisy]
        if sel:
            ax.errorbar([x_of(r) for r in sel], np.clip([_f(r, "ratio") for r in sel], *window), yerr=yerr(sel),
                        fmt=marker, ms=4, lw=0.6, alpha=0.8, color=color,
                        label=label + (", device errors" if noisy else ""))


def plot_regimes(rows: list[dict], path: str) -> str:
    """Ratio theory / MC against the parameter where each approximation breaks: sigma_analog/LSB (ADC
    rounding), r x rows and r N I_max (first-order parasitics), alpha per On/Off (clipping)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if not r.get("error_message") and math.isfinite(_f(r, "ratio"))]
    fig, grid = plt.subplots(2, 2, figsize=(14, 10))
    axes = [grid[0, 0], grid[0, 1], grid[1, 1], grid[1, 0]]

    def band(ax: Any) -> None:
        ax.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.88", zorder=0)
        ax.axhline(1, color="k", lw=0.6)
        ax.grid(True, which="both", lw=0.3)

    def yerr(sel: list[dict]) -> np.ndarray:
        return np.array([[_f(r, "ratio") * (1 - _f(r, "mc_sigma") / _f(r, "mc_ci_high")),
                          _f(r, "ratio") * (_f(r, "mc_sigma") / max(_f(r, "mc_ci_low"), 1e-300) - 1)]
                         for r in sel]).T

    ax = axes[0]
    adc = [r for r in done if _f(r, "adc_bits") > 0 and _f(r, "sigma_analog_lsb") > 0 and _f(r, "r") == 0]
    window = (0.9, 1.1)
    for i, policy in enumerate(sorted({r["adc_range"] for r in adc})):
        sel = [r for r in adc if r["adc_range"] == policy]
        y = np.clip([_f(r, "ratio") for r in sel], *window)
        ax.errorbar([_f(r, "sigma_analog_lsb") for r in sel], y, yerr=yerr(sel), fmt="o", ms=3.5, lw=0.6,
                    alpha=0.75, color=plt.cm.tab10.colors[i], label=policy)
    ax.axvline(REGIME_BOUNDARY, color="C3", ls="--", lw=1, label=f"REGIME_BOUNDARY {REGIME_BOUNDARY}")
    band(ax)
    ax.set(xscale="log", ylim=(window[0] - 0.005, window[1] + 0.005), ylabel="sigma_theory / sigma_MC",
           xlabel="sigma_analog / LSB (output-referred RMS)",
           title="ADC rounding regime (no wire resistance; clipped to the window)")
    ax.legend(fontsize=7)

    ax = axes[1]
    par = [r for r in done if _f(r, "r") > 0]
    par_window = (0.8, 1.6)
    for i, rows_n in enumerate(sorted({int(_f(r, "rows")) for r in par})):
        group = [r for r in par if int(_f(r, "rows")) == rows_n]
        _noise_split_errorbars(ax, group, lambda r: _f(r, "r") * _f(r, "rows"), par_window, yerr,
                               plt.cm.viridis(i / 4), f"{rows_n} rows")
    band(ax)
    ax.set(xscale="log", ylim=(par_window[0] - 0.02, par_window[1] + 0.02), xlabel="r x rows",
           ylabel="sigma_theory / sigma_MC (clipped to the window)",
           title=f"first-order parasitics (stated: 10 % for r N I_max <= {VALIDITY_RN_IMAX})")
    ax.legend(fontsize=6, ncol=2)

    ax = axes[3]
    for i, mapping in enumerate(sorted({r["mapping"] for r in par})):
        group = [r for r in par if r["mapping"] == mapping]
        _noise_split_errorbars(ax, group, lambda r: _f(r, "r_n_imax"), par_window, yerr,
                               plt.cm.tab10.colors[i], mapping)
    xs = np.logspace(-3, math.log10(VALIDITY_RN_IMAX), 50)
    ax.plot(xs, 1 + PARASITIC_ERROR_SLOPE * xs, "k:", lw=1, label=f"1 + {PARASITIC_ERROR_SLOPE} r N I_max (stated)")
    ax.axvline(VALIDITY_RN_IMAX, color="C3", ls="--", lw=1, label=f"VALIDITY_RN_IMAX {VALIDITY_RN_IMAX}")
    band(ax)
    ax.set(xscale="log", ylim=(par_window[0] - 0.02, par_window[1] + 0.02), xlabel="r N I_max",
           ylabel="sigma_theory / sigma_MC (clipped to the window)",
           title="first-order parasitics against its documented parameter")
    ax.legend(fontsize=6)

    ax = axes[2]
    clip = [r for r in done if r["error"] in ALPHAS and _f(r, "r") == 0 and r["mapping"] == "differential"
            and r["design"] in ("grid", "ofat", "base") and r["factor"] in ("alpha", "clipping", "base", "on_off")]
    for i, on_off in enumerate(sorted({_f(r, "on_off") for r in clip})):
        for err, marker in (("state_independent", "o"), ("state_proportional", "s")):
            sel = [r for r in clip if _f(r, "on_off") == on_off and r["error"] == err]
            if sel:
                sel.sort(key=lambda r: _f(r, "alpha"))
                ax.errorbar([_f(r, "alpha") for r in sel], [_f(r, "ratio") for r in sel], yerr=yerr(sel), fmt=marker,
                            ms=4, lw=0.6, ls="-", alpha=0.8, color=plt.cm.tab10.colors[i],
                            label=f"On/Off {on_off:g} (g_min {0 if math.isinf(on_off) else 1 / on_off:.3g}), "
                            f"{'SI' if err == 'state_independent' else 'SP'}")
    band(ax)
    ax.set(xscale="log", xlabel="alpha", ylabel="sigma_theory / sigma_MC",
           title="clipping to [g_min, 1]: alpha against g_min (differential)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    for k in ("csv", "plots"):
        if summary.get(k):
            lines.append(f"  {k}: {summary[k]}")
    return "\n".join(lines)

r"""One comparison at MVM level: the closed-form error budget against the device-level Monte Carlo.

:func:`compare` takes a scheme and a layer (a :class:`LayerSpec` of the built-in synthetic layer, or any
layer) and computes, for the **same** quantised layer, the **same** ADC ranges (:func:`adc_ranges`, computed
once by :func:`aimc.montecarlo.calibrate_ranges` and passed to both sides) and the **same** quantity:

* theory: :func:`theory_budget` (:func:`aimc.theory.error_budget`) -> ``relative_rms`` = sqrt(mean over
  outputs and vectors of (bias^2 + variance)) / rms(reference), and ``bias`` = mean error / rms(reference);
* Monte Carlo: :func:`aimc.montecarlo.simulate_mvm` on C programmed chips (float64) -> the same two
  statistics (:func:`aimc.metrics.error_summary`), with a 95 % Student-t interval over chips.

Verdict (:func:`judge`), the rule of DESIGN section 7, never loosened:

* where the Monte Carlo interval is tight enough to judge 3 % (relative half-width <=
  :data:`JUDGE_HALF_WIDTH` = 1.5 %): ``|sigma_theory / sigma_MC - 1| <= TOLERANCE`` (3 %);
* elsewhere: the theory value must lie inside the 95 % interval;
* the bias is judged by the same rule wherever it is relevant (``|bias_MC| >= BIAS_RELEVANT x sigma_MC``).

Chips are adaptive: a first batch, then more (independent seeds) until the half-width reaches
:data:`TARGET_HALF_WIDTH` or ``max_chips``; a scheme without any random device effect (:attr:`aimc.scheme.Device.random`)
is simulated on one chip (its error is deterministic, half-width 0).

Documented approximations of the theory (:func:`approximation_reasons`) are stated per point, with the
measured parameter that places the point in that regime and the theory's own documentation:

* ``adc_rounding``: with an ADC, the theory's rounding moments are exact for a Gaussian analog error per
  conversion (:mod:`aimc.theory.adc`); below ``sigma_analog / LSB`` (:func:`sigma_analog_over_lsb`) =
  :data:`aimc.theory.adc.REGIME_BOUNDARY` the result depends on the shape of that error, and with digital
  accumulation of frozen errors the covariance between input-slice conversions is first order
  (Bussgang/Price);
* ``parasitics``: first order in r, with a stated relative error of 0.40 r N I_max and validity
  ``r N I_max <=`` :data:`aimc.theory.parasitics.VALIDITY_RN_IMAX` (:mod:`aimc.theory.parasitics`); a point is
  marked beyond the validity, or where that error times the parasitic share of the MSE exceeds half the
  tolerance (for the ``row_column`` topology the scale is r (N G_col + M G_row) of
  :func:`aimc.theory.parasitics.row_column_scale`, with the same constants); added as a bias
  computed on the ideal conductances (:mod:`aimc.theory.budget`): with random device errors the IR drop
  also attenuates the error currents (first order in r), which the budget does not model.

A point with a reason is still judged and reported; the sweep (:mod:`aimc.validation.sweep`) leaves it out
of ``worst_deviation`` (the largest deviation among the points that should agree). The conformance suite
(:mod:`aimc.validation.conformance`) and the MVM figures (:mod:`aimc.figures._mvm`) use the same
functions, so every theory-vs-Monte-Carlo number in the repository is computed one way.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from aimc.montecarlo import calibrate_ranges, simulate_mvm
from aimc.theory import Budget, conversion_scales, error_budget
from aimc.theory.adc import REGIME_BOUNDARY
from aimc.theory.parasitics import ERROR_SLOPE, VALIDITY_RN_IMAX, parasitic_scale, scale_name
from scipy import stats

from aimc.adc import ADCRange, step
from aimc.inputs import conversion_significances, slice_significance
from aimc.layers import Layer, QuantizedLayer, quantize_layer, synthetic_layer
from aimc.mapping import SliceLayout, partitions
from aimc.mappings import get_mapping
from aimc.metrics import error_summary
from aimc.scheme import Scheme

__all__ = [
    "BIAS_RELEVANT",
    "CONFIDENCE",
    "JUDGE_HALF_WIDTH",
    "PARASITIC_ERROR_SLOPE",
    "TARGET_HALF_WIDTH",
    "TOLERANCE",
    "Comparison",
    "LayerSpec",
    "MonteCarloEstimate",
    "Unsupported",
    "adc_ranges",
    "approximation_reasons",
    "compare",
    "judge",
    "make_layer",
    "scheme_label",
    "sigma_analog_over_lsb",
    "theory_budget",
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


def adc_ranges(scheme: Scheme, q: QuantizedLayer) -> list[ADCRange] | None:
    """One ADC range per weight slice for the scheme's policy, shared by theory and Monte Carlo.

    Calibrated/optimal ranges are profiled on ideal arrays (no device error, no wire resistance) on the
    layer's own inputs, so they are computed on the scheme without parasitics (identical profile).
    """
    if scheme.adc.bits == 0:
        return None
    ideal = scheme.with_overrides({"parasitics.r": 0.0}) if scheme.parasitics.r > 0 else scheme
    return calibrate_ranges(ideal, q.w_int, q.x_int, q.signed_inputs, dtype=torch.float64)


def theory_budget(q: QuantizedLayer, scheme: Scheme, ranges: list[ADCRange] | None) -> Budget:
    """The closed-form error budget of ``q`` under ``scheme`` on the given ADC ranges (:func:`adc_ranges`);
    :class:`Unsupported` with the theory's message where it refuses the scheme."""
    with warnings.catch_warnings(), np.errstate(over="ignore", under="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # far ADC tails of the Gaussian density: harmlessly 0
        try:
            return error_budget(q, scheme, ranges=ranges)
        except ValueError as e:
            raise Unsupported(f"theory: {e}") from None


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
    random = scheme.device.random
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
    budget = theory_budget(q, scheme, ranges)
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
    V_lsb = sum over conversions of (c_kc w_t Delta_k)^2, c_kc the weight of conversion c of weight slice k
    (:func:`aimc.theory.conversion_scales`), w_t the input-slice weight (digital accumulation) and Delta_k
    the LSB. With one kind of conversion
    this is sigma / Delta at the ADC input, the variable of :data:`aimc.theory.adc.REGIME_BOUNDARY`.
    ``nan`` without an ADC, ``0`` without analog error.
    """
    if ranges is None:
        return math.nan
    v_analog = float(np.mean(sum(budget.variance[s] for s in ANALOG_SOURCES)))
    if v_analog <= 0:
        return 0.0
    layout = SliceLayout.from_scheme(scheme)
    scales = conversion_scales(layout)
    per_conv = float(np.sum(np.square(conversion_significances(scheme.inputs, q.signed_inputs), dtype=np.float64)))
    parts = len(partitions(q.w_int.shape[1], scheme.array.rows))
    v_lsb = sum(float(np.sum(scales[k] ** 2)) * step(scheme.adc.bits, ranges[k]) ** 2 for k in range(layout.slices))
    return math.sqrt(v_analog / (v_lsb * per_conv * parts))


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
    if p.r > 0 and scheme.device.random:
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
    """A short name of the signed-weight mapping with its options (the identity plot's colour)."""
    return get_mapping(scheme.mapping.kind).label(scheme.mapping)


r"""Symbolic derivations (sympy) of the moments of one programmed device and of one decoded weight.

Everything here is *computed* from the shared definitions, not typed in:

* the error law sigma(g) is :meth:`aimc.scheme.ErrorModel.sigma` called on sympy symbols;
* clipping after programming is censoring, X = min(max(g + sigma z, lo), hi) with z ~ N(0, 1); its moments
  are sympy integrals of the standard normal density, E[Y^n] with Y = min(max(z, a), b),
  a = (lo - g) / sigma, b = (hi - g) / sigma (the mass beyond a bound sits on the bound);
* drift D = (t/t0)^(-nu), nu ~ N(nu_mean, nu_std): E[D^k] is a sympy integral over nu;
* stuck cells are a three-point mixture (g_min with p_off, 1 with p_on, the drifted cell otherwise);
* the decoded weight of a slice layout is the sympy expression of the digital recombination
  (:func:`aimc.mapping.recombine`, the same function the signal path runs) evaluated on the conductance
  symbols of every array of the mapping; its variance is the expectation of that linear expression, with
  coefficients obtained by differentiation, and so is each conversion's weight in the output.

Numeric evaluation uses the sympy results compiled with :func:`sympy.lambdify` (numpy + scipy.special).
Every derivation is kept on disk (:mod:`aimc.theory.derivation_cache`, keyed by the source of the modules
that define it), so a command that finds them there neither derives nor imports sympy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from aimc.devices import DEVICE_LAWS, NUMPY, SYMPY
from aimc.mapping import SliceLayout, recombine
from aimc.scheme import Device, ErrorModel

from . import derivation_cache

if TYPE_CHECKING:
    import sympy as sp

__all__ = [
    "STANDARD_LIMIT",
    "DeviceMoments",
    "censored_moment",
    "censored_standard_moment",
    "conversion_scales",
    "decode_expression",
    "device_moments",
    "drift_moment",
    "drift_moment_expression",
    "formulas",
    "formulas_latex",
    "programmed_mean_var",
]

STANDARD_LIMIT = 40.0
"""Standardised bounds are clipped to +-40: Phi(-40) underflows to 0, so the formulas are exact in float64."""

_DEFINITIONS = ("aimc.theory.symbolic",)
"""The modules whose source defines the device-moment derivations (their cache key)."""


@cache
def _symbols() -> SimpleNamespace:
    """The symbols of the derivations, made on first use (evaluating stored derivations needs no sympy)."""
    import sympy as sp

    z, a, b = sp.symbols("z a b", real=True)
    g = sp.Symbol("g", nonnegative=True)
    sigma = sp.Symbol("sigma", positive=True)
    nu_mean, nu_std, log_t = sp.symbols("nu_mean nu_std L", positive=True)
    return SimpleNamespace(z=z, a=a, b=b, g=g, sigma=sigma, nu_mean=nu_mean, nu_std=nu_std, log_t=log_t)


def _phi(v: Any) -> Any:
    import sympy as sp

    return sp.exp(-(v**2) / 2) / sp.sqrt(2 * sp.pi)


def _cdf(v: Any) -> Any:
    import sympy as sp

    return (1 + sp.erf(v / sp.sqrt(2))) / 2


def _derived(
    name: str, n: int, derive: Callable[[int], sp.Expr], arguments: Callable[[], tuple], modules: list[str]
) -> dict:
    """The stored derivation ``derive(n)``: its expression (srepr) and its function of ``arguments()``, lambdified
    with ``modules``."""

    def make() -> dict:
        import sympy as sp

        expr = derive(n)
        function = sp.lambdify(arguments(), expr, modules=modules)
        return {"expression": sp.srepr(expr), **derivation_cache.function_payload(function)}

    return derivation_cache.cached_payload(name, [n, modules], _DEFINITIONS, make,
                                           check=lambda p: isinstance(p, dict) and "source" in p)


def _expression(payload: dict) -> sp.Expr:
    import sympy as sp

    return sp.sympify(payload["expression"])


def _censored_standard_moment(n: int) -> sp.Expr:
    """The derivation of :func:`censored_standard_moment`."""
    import sympy as sp

    s = _symbols()
    inner = sp.integrate(s.z**n * _phi(s.z), (s.z, s.a, s.b))
    return s.a**n * _cdf(s.a) + s.b**n * (1 - _cdf(s.b)) + inner


def _censored_payload(n: int) -> dict:
    return _derived("censored_standard_moment", n, _censored_standard_moment,
                    lambda: (_symbols().a, _symbols().b), ["numpy", "scipy"])


@cache
def censored_standard_moment(n: int) -> sp.Expr:
    """E[min(max(z, a), b)^n], z ~ N(0, 1): the mass below a sits at a, above b at b (sympy)."""
    return _expression(_censored_payload(n))


@cache
def _standard_moment_fn(n: int) -> Any:
    return derivation_cache.compile_function(_censored_payload(n))


def _standardised(g: np.ndarray, sigma: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    safe = np.where(sigma > 0, sigma, 1.0)
    lim = STANDARD_LIMIT
    lo_std = np.clip((lo - g) / safe, -lim, lim) if np.isfinite(lo) else np.full_like(g, -lim)
    hi_std = np.clip((hi - g) / safe, -lim, lim) if np.isfinite(hi) else np.full_like(g, lim)
    return lo_std, hi_std


def censored_moment(n: int, g: np.ndarray, sigma: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[X^n], X = min(max(g + sigma z, lo), hi), from the standard moments by the binomial expansion."""
    g = np.asarray(g, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), g.shape)
    lo_std, hi_std = _standardised(g, sigma, lo, hi)
    total = np.zeros_like(g)
    for j in range(n + 1):
        m_j = np.ones_like(g) if j == 0 else np.broadcast_to(_standard_moment_fn(j)(lo_std, hi_std), g.shape)
        total = total + math.comb(n, j) * g ** (n - j) * sigma**j * m_j
    # sigma = 0, or g so far outside [lo, hi] that X sits on a bound: X = clip(g) exactly
    return np.where((sigma > 0) & ~_on_bound(g, sigma, lo, hi), total, np.clip(g, lo, hi) ** n)


def _on_bound(g: np.ndarray, sigma: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Where the whole distribution lies beyond one bound (the clipped standard bounds would mislead)."""
    lim = STANDARD_LIMIT * sigma
    return (g - hi >= lim) | (lo - g >= lim)


def programmed_mean_var(g: np.ndarray, sigma: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the censored programmed conductance (numerically stable centred form)."""
    g = np.asarray(g, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), g.shape)
    lo_std, hi_std = _standardised(g, sigma, lo, hi)
    m1 = _standard_moment_fn(1)(lo_std, hi_std)
    m2 = _standard_moment_fn(2)(lo_std, hi_std)
    random = (sigma > 0) & ~_on_bound(g, sigma, lo, hi)
    mean = np.where(random, g + sigma * m1, np.clip(g, lo, hi))
    var = np.where(random, sigma**2 * np.maximum(m2 - m1**2, 0.0), 0.0)
    return mean, var


def _drift_moment_expression(k: int) -> sp.Expr:
    """The derivation of :func:`drift_moment_expression`."""
    import sympy as sp

    s = _symbols()
    nu_free = sp.Symbol("nu", real=True)
    density = sp.exp(-((nu_free - s.nu_mean) ** 2) / (2 * s.nu_std**2)) / (s.nu_std * sp.sqrt(2 * sp.pi))
    integral = sp.integrate(sp.exp(-k * nu_free * s.log_t) * density, (nu_free, -sp.oo, sp.oo), conds="none")
    return sp.simplify(integral)


def _drift_payload(k: int) -> dict:
    return _derived("drift_moment", k, _drift_moment_expression,
                    lambda: (_symbols().nu_mean, _symbols().nu_std, _symbols().log_t), ["numpy"])


@cache
def drift_moment_expression(k: int) -> sp.Expr:
    """E[D^k], D = exp(-nu L), L = ln(t/t0), nu ~ N(nu_mean, nu_std^2) (sympy integral over nu)."""
    return _expression(_drift_payload(k))


@cache
def _drift_fn(k: int) -> Any:
    return derivation_cache.compile_function(_drift_payload(k))


def drift_moment(k: int, time: float, t0: float, mean: float, std: float) -> float:
    """E[((t/t0)^(-nu))^k]; 1 without drift (time 0)."""
    if time <= 0:
        return 1.0
    log_ratio = math.log(time / t0)
    if std == 0:
        return math.exp(-k * mean * log_ratio)
    return float(_drift_fn(k)(mean, std, log_ratio))


def _sigma_numeric(model: ErrorModel, g: np.ndarray, g_min: float) -> np.ndarray:
    """The error law evaluated through its one definition (numpy back end: the closed forms need no torch)."""
    return np.array(model.sigma(np.asarray(g, dtype=np.float64), g_min, NUMPY), dtype=np.float64)


@lru_cache(maxsize=256)
def _squared_law_polynomial(model: ErrorModel, g_min: float) -> tuple[float, ...] | None:
    """Coefficients of sigma(g)^2 as a polynomial in g, when it is one (sympy), else None."""
    if not model.active:
        return (0.0,)
    law = _law_definition(model)
    if law is None:
        return _derive_squared_law_polynomial(model, g_min)
    payload = derivation_cache.cached_payload(
        "squared_law_polynomial", [repr(model), repr(g_min), law], [*_DEFINITIONS, "aimc.scheme", "aimc.devices"],
        lambda: {"coefficients": _derive_squared_law_polynomial(model, g_min)},
        check=lambda p: isinstance(p, dict) and "coefficients" in p)
    return None if payload["coefficients"] is None else tuple(float(c) for c in payload["coefficients"])


def _law_definition(model: ErrorModel) -> list | None:
    """What defines the model's law beyond its own fields (a published law of :mod:`aimc.devices`: its
    function and full scale), for the cache key; None for a law registered at run time from other code,
    which the key could not describe (it is derived every time)."""
    if model.model not in DEVICE_LAWS:
        return []
    law = DEVICE_LAWS[model.model]
    function = law.sigma_physical
    if getattr(function, "__module__", None) != "aimc.devices" or getattr(function, "__closure__", True):
        return None
    return [function.__qualname__, repr(law.full_scale)]


def _derive_squared_law_polynomial(model: ErrorModel, g_min: float) -> list[float] | None:
    import sympy as sp

    g_sym = _symbols().g
    try:
        expr = sp.expand(sp.sympify(model.sigma(g_sym, g_min, SYMPY)) ** 2)
        poly = sp.Poly(expr, g_sym)
    except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError):
        return None
    if not all(c.is_number for c in poly.all_coeffs()):
        return None
    return [float(c) for c in reversed(poly.all_coeffs())]


@dataclass(frozen=True)
class DeviceMoments:
    """Per target conductance: effective conductance moments after each frozen stage, and read noise.

    ``mean[stage]``, ``var[stage]`` for stage in ("programming", "drift", "stuck") are cumulative (each
    includes the earlier ones); the effective conductance includes the drift-compensation gain.
    ``read_var`` is E[gain^2 sigma_r(g')^2] over the frozen distribution of g'.
    """

    g: np.ndarray
    mean: dict[str, np.ndarray]
    var: dict[str, np.ndarray]
    read_var: np.ndarray
    gain: float


def _gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / weights.sum()


def device_moments(device: Device, g: np.ndarray) -> DeviceMoments:
    """Moments of one device of target conductance ``g`` (any shape) under ``device``'s error model."""
    g = np.asarray(g, dtype=np.float64)
    g_min, (lo, hi) = device.g_min, device.clip_bounds
    sigma = _sigma_numeric(device.programming, g, g_min)
    m_prog, v_prog = programmed_mean_var(g, sigma, lo, hi)
    second_prog = v_prog + m_prog**2
    d = device.drift
    d1 = drift_moment(1, d.time, d.t0, d.nu_mean, d.nu_std)
    d2 = drift_moment(2, d.time, d.t0, d.nu_mean, d.nu_std)
    gain = d.compensation_gain
    m_drift, s_drift = d1 * m_prog, d2 * second_prog
    p_off, p_on = device.stuck.p_off, device.stuck.p_on
    keep = 1.0 - p_off - p_on
    m_stuck = p_off * g_min + p_on + keep * m_drift
    s_stuck = p_off * g_min**2 + p_on + keep * s_drift
    means = {"programming": m_prog, "drift": m_drift, "stuck": m_stuck}
    seconds = {"programming": second_prog, "drift": s_drift, "stuck": s_stuck}
    mean = {k: gain * v for k, v in means.items()}
    var = {k: gain**2 * np.maximum(seconds[k] - means[k] ** 2, 0.0) for k in means}
    read = _read_noise_variance(device, g, sigma, lo, hi)
    return DeviceMoments(g, mean, var, gain**2 * read, gain)


def _read_noise_variance(device: Device, g: np.ndarray, sigma: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[sigma_r(g')^2], g' the frozen conductance (programmed, clipped, drifted, possibly stuck)."""
    model, g_min, d = device.read_noise, device.g_min, device.drift
    if not model.active:
        return np.zeros_like(g)
    p_off, p_on = device.stuck.p_off, device.stuck.p_on
    keep = 1.0 - p_off - p_on
    ends = np.array([g_min, 1.0])
    s_ends = _sigma_numeric(model, ends, g_min) ** 2
    poly = _squared_law_polynomial(model, g_min)
    if poly is not None:
        body = sum(
            c * drift_moment(n, d.time, d.t0, d.nu_mean, d.nu_std) * censored_moment(n, g, sigma, lo, hi)
            for n, c in enumerate(poly)
        )
    else:
        body = _read_noise_quadrature(device, g, sigma, lo, hi)
    return p_off * s_ends[0] + p_on * s_ends[1] + keep * body


def _read_noise_quadrature(device: Device, g: np.ndarray, sigma: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Gauss-Hermite quadrature over z (and nu) for a law whose square is not a polynomial."""
    zs, wz = _gauss_hermite(64)
    d = device.drift
    if d.active and d.nu_std > 0:
        nus, wn = _gauss_hermite(24)
        factors = np.exp(-(d.nu_mean + d.nu_std * nus) * math.log(d.time / d.t0))
    else:
        factors, wn = np.array([drift_moment(1, d.time, d.t0, d.nu_mean, 0.0)]), np.array([1.0])
    programmed = np.clip(g[..., None] + sigma[..., None] * zs, lo, hi)
    drifted = programmed[..., None] * factors
    s2 = _sigma_numeric(device.read_noise, drifted, device.g_min) ** 2
    return np.einsum("...zn,z,n->...", s2, wz, wn)


# ---------------------------------------------------------------------------------------------------------
# weight level: the decode of one weight from its slice conductances
# ---------------------------------------------------------------------------------------------------------


def conductance_symbols(layout: SliceLayout) -> dict[str, list[sp.Symbol]]:
    """One symbol g^array_k per array of the mapping (shared arrays included) and weight slice k."""
    import sympy as sp

    names = list(layout.arrays) + list(layout.shared_digits)
    return {name: list(sp.symbols(f"g^{name}_0:{layout.slices}", real=True)) for name in names}


def decode_expression(layout: SliceLayout) -> tuple[sp.Expr, dict[str, list[sp.Symbol]]]:
    """The digital recombination of one weight (per unit input, no ADC) as a sympy expression of the
    conductances: :func:`aimc.mapping.recombine` on the conductance symbols, e.g.
    y = sum_k 2^(b k) L_k / (1 - g_min) (g^positive_k - g^negative_k) for a differential pair, or
    y = sum_k 2^(b k) L_k / (1 - g_min) (g^cells_k - g_min) - M for offset with the digital offset removal.
    Returns (y, the symbols by array)."""
    import sympy as sp

    symbols = conductance_symbols(layout)

    def converted(k: int, c: int) -> sp.Expr:
        return sum(sp.nsimplify(coef) * symbols[name][k] for name, coef in layout.conversions[c].reads)

    return sp.expand(recombine(layout, converted, sp.Integer(1), exact=True)), symbols


@lru_cache(maxsize=256)
def conversion_scales(layout: SliceLayout) -> np.ndarray:
    """[S, C]: dy/dQ_kc, the output units per unit of conversion c of slice k (its signed weight in the
    recombination), by sympy differentiation of :func:`aimc.mapping.recombine`."""
    payload = derivation_cache.cached_payload(
        "conversion_scales", [repr(layout)], [*_DEFINITIONS, "aimc.mapping", "aimc.mappings._base"],
        lambda: {"scales": _derive_conversion_scales(layout)},
        check=lambda p: isinstance(p, dict) and "scales" in p)
    scales = np.array(payload["scales"], dtype=np.float64)
    return scales.reshape(layout.slices, len(layout.conversions))


def _derive_conversion_scales(layout: SliceLayout) -> list[list[float]]:
    import sympy as sp

    q = [[sp.Symbol(f"Q_{k}_{c}") for c in range(len(layout.conversions))] for k in range(layout.slices)]
    y = recombine(layout, lambda k, c: q[k][c], sp.Integer(1), exact=True)
    return [[float(sp.diff(y, q[k][c])) for c in range(len(layout.conversions))] for k in range(layout.slices)]


def decoded_weight_variance(layout: SliceLayout) -> sp.Expr:
    """Var of the decoded weight for independent cells: E[(sum_c dy/dg_c (g_c - E g_c))^2] (sympy)."""
    import sympy as sp

    y, symbols = decode_expression(layout)
    cells = [c for group in symbols.values() for c in group]
    deviations = sp.symbols(f"delta_0:{len(cells)}", real=True)
    variances = [sp.Symbol(f"Var({c})", nonnegative=True) for c in cells]
    linear = sum(sp.diff(y, c) * dv for c, dv in zip(cells, deviations))
    square = sp.expand(linear**2)
    # E[delta_c delta_d] = 0 for c != d (independent cells), Var(g_c) for c == d
    expectation = square.subs({dv * dw: 0 for i, dv in enumerate(deviations) for dw in deviations[i + 1:]})
    return sp.simplify(expectation.subs({dv**2: v for dv, v in zip(deviations, variances)}))


# ---------------------------------------------------------------------------------------------------------
# formulas for display
# ---------------------------------------------------------------------------------------------------------


def formulas(device: Device | None = None, layout: SliceLayout | None = None) -> dict[str, sp.Expr]:
    """The derived expressions, keyed by name (for ``aimc formulas``)."""
    import sympy as sp

    s = _symbols()
    g_sym, s_sym, a, b = s.g, s.sigma, s.a, s.b
    g_min = sp.Symbol("g_min", nonnegative=True)
    a_g = (sp.Symbol("lo") - g_sym) / s_sym
    b_g = (sp.Symbol("hi") - g_sym) / s_sym
    m1, m2 = censored_standard_moment(1), censored_standard_moment(2)
    out: dict[str, sp.Expr] = {
        "censored E[Y]": m1,
        "censored E[Y^2]": m2,
        "E[g'] (clipped)": g_sym + s_sym * m1.subs({a: a_g, b: b_g}, simultaneous=True),
        "Var[g'] (clipped)": s_sym**2 * (m2 - m1**2).subs({a: a_g, b: b_g}, simultaneous=True),
        "E[D]": drift_moment_expression(1),
        "E[D^2]": drift_moment_expression(2),
        "stuck E[g'']": sp.Symbol("p_off") * g_min + sp.Symbol("p_on")
        + (1 - sp.Symbol("p_off") - sp.Symbol("p_on")) * sp.Symbol("E[D]") * sp.Symbol("E[g']"),
    }
    if device is not None and device.programming.active:
        out["sigma_programming(g)"] = sp.sympify(device.programming.sigma(g_sym, device.g_min, SYMPY))
    if device is not None and device.read_noise.active:
        out["sigma_read(g)"] = sp.sympify(device.read_noise.sigma(g_sym, device.g_min, SYMPY))
    if layout is not None:
        y, _ = decode_expression(layout)
        out["decoded weight"] = y
        out["Var decoded weight"] = decoded_weight_variance(layout)
    return out


def formulas_latex(device: Device | None = None, layout: SliceLayout | None = None) -> dict[str, str]:
    import sympy as sp

    return {name: sp.latex(expr) for name, expr in formulas(device, layout).items()}

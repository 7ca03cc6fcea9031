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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import sympy as sp
import torch

from aimc.devices import SYMPY, TORCH
from aimc.mapping import SliceLayout, recombine
from aimc.scheme import Device, ErrorModel

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

z, a, b = sp.symbols("z a b", real=True)
g_sym = sp.Symbol("g", nonnegative=True)
mu_sym, s_sym = sp.symbols("mu sigma", positive=True)
nu, nu_mean, nu_std, log_t = sp.symbols("nu nu_mean nu_std L", positive=True)

STANDARD_LIMIT = 40.0
"""Standardised bounds are clipped to +-40: Phi(-40) underflows to 0, so the formulas are exact in float64."""


def _phi(v: Any) -> Any:
    return sp.exp(-(v**2) / 2) / sp.sqrt(2 * sp.pi)


def _cdf(v: Any) -> Any:
    return (1 + sp.erf(v / sp.sqrt(2))) / 2


@cache
def censored_standard_moment(n: int) -> sp.Expr:
    """E[min(max(z, a), b)^n], z ~ N(0, 1): the mass below a sits at a, above b at b (sympy)."""
    inner = sp.integrate(z**n * _phi(z), (z, a, b))
    return a**n * _cdf(a) + b**n * (1 - _cdf(b)) + inner


@cache
def _standard_moment_fn(n: int) -> Any:
    return sp.lambdify((a, b), censored_standard_moment(n), modules=["numpy", "scipy"])


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


@cache
def drift_moment_expression(k: int) -> sp.Expr:
    """E[D^k], D = exp(-nu L), L = ln(t/t0), nu ~ N(nu_mean, nu_std^2) (sympy integral over nu)."""
    nu_free = sp.Symbol("nu", real=True)
    density = sp.exp(-((nu_free - nu_mean) ** 2) / (2 * nu_std**2)) / (nu_std * sp.sqrt(2 * sp.pi))
    integral = sp.integrate(sp.exp(-k * nu_free * log_t) * density, (nu_free, -sp.oo, sp.oo), conds="none")
    return sp.simplify(integral)


@cache
def _drift_fn(k: int) -> Any:
    return sp.lambdify((nu_mean, nu_std, log_t), drift_moment_expression(k), modules=["numpy"])


def drift_moment(k: int, time: float, t0: float, mean: float, std: float) -> float:
    """E[((t/t0)^(-nu))^k]; 1 without drift (time 0)."""
    if time <= 0:
        return 1.0
    log_ratio = math.log(time / t0)
    if std == 0:
        return math.exp(-k * mean * log_ratio)
    return float(_drift_fn(k)(mean, std, log_ratio))


def _sigma_numeric(model: ErrorModel, g: np.ndarray, g_min: float) -> np.ndarray:
    """The error law evaluated through its one definition (torch back end)."""
    return model.sigma(torch.as_tensor(g, dtype=torch.float64), g_min, TORCH).numpy().astype(np.float64)


@lru_cache(maxsize=256)
def _squared_law_polynomial(model: ErrorModel, g_min: float) -> tuple[float, ...] | None:
    """Coefficients of sigma(g)^2 as a polynomial in g, when it is one (sympy), else None."""
    if not model.active:
        return (0.0,)
    try:
        expr = sp.expand(sp.sympify(model.sigma(g_sym, g_min, SYMPY)) ** 2)
        poly = sp.Poly(expr, g_sym)
    except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError):
        return None
    if not all(c.is_number for c in poly.all_coeffs()):
        return None
    return tuple(float(c) for c in reversed(poly.all_coeffs()))


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
    names = list(layout.arrays) + list(layout.shared_digits)
    return {name: list(sp.symbols(f"g^{name}_0:{layout.slices}", real=True)) for name in names}


def decode_expression(layout: SliceLayout) -> tuple[sp.Expr, dict[str, list[sp.Symbol]]]:
    """The digital recombination of one weight (per unit input, no ADC) as a sympy expression of the
    conductances: :func:`aimc.mapping.recombine` on the conductance symbols, e.g.
    y = sum_k 2^(b k) L_k / (1 - g_min) (g^positive_k - g^negative_k) for a differential pair, or
    y = sum_k 2^(b k) L_k / (1 - g_min) (g^cells_k - g_min) - M for offset with the digital offset removal.
    Returns (y, the symbols by array)."""
    symbols = conductance_symbols(layout)

    def converted(k: int, c: int) -> sp.Expr:
        return sum(sp.nsimplify(coef) * symbols[name][k] for name, coef in layout.conversions[c].reads)

    return sp.expand(recombine(layout, converted, sp.Integer(1), exact=True)), symbols


@lru_cache(maxsize=256)
def conversion_scales(layout: SliceLayout) -> np.ndarray:
    """[S, C]: dy/dQ_kc, the output units per unit of conversion c of slice k (its signed weight in the
    recombination), by sympy differentiation of :func:`aimc.mapping.recombine`."""
    q = [[sp.Symbol(f"Q_{k}_{c}") for c in range(len(layout.conversions))] for k in range(layout.slices)]
    y = recombine(layout, lambda k, c: q[k][c], sp.Integer(1), exact=True)
    return np.array([[float(sp.diff(y, q[k][c])) for c in range(len(layout.conversions))]
                     for k in range(layout.slices)])


def decoded_weight_variance(layout: SliceLayout) -> sp.Expr:
    """Var of the decoded weight for independent cells: E[(sum_c dy/dg_c (g_c - E g_c))^2] (sympy)."""
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
    return {name: sp.latex(expr) for name, expr in formulas(device, layout).items()}

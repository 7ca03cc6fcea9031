r"""The error budget of one layer: per-output bias and variance by source, in closed form.

For a scheme and a layer, the digital output is y = sum_p sum_k sum_c c_kc (sum_t 2^(s t) Q(S_pkct) - pedestal),
c_kc = dy/dQ_kc the weight of conversion c of slice k in the recombination (from
:func:`aimc.theory.symbolic.conversion_scales`), S its ADC input: the signed sum of the currents of the
conversion's arrays (:class:`aimc.mappings.Conversion`). Its error is, per output j and input vector b,

* frozen device error (programming, drift, stuck): bias sum_kc c_kc sum_i x_i E[h_i - g_i] and variance
  sum_kc c_kc^2 sum_i x_i^2 Var h_i (h the effective conductance of the conversion's cells, combined with
  their coefficients, including the drift-compensation gain);
* read noise (fresh per MVM and per input slice): sum_kc c_kc^2 sum_i (sum_t 4^(s t) x_ti^2) E[sigma_r^2];
* shared arrays (the offset mapping's unit column): their own frozen, read and ADC error, common to every
  output of one array: a covariance between those outputs;
* parasitics: the first-order systematic error of :mod:`aimc.theory.parasitics` (a bias);
* the ADC, per conversion (partition, weight slice, input slice with digital accumulation): exact
  rounding and clipping moments of :mod:`aimc.theory.adc` for given inputs; Delta^2/12 per conversion for
  input statistics. ``adc_quantization`` is the change the rounding makes to the error (negative when the
  ADC rounds analog error away), ``adc_clipping`` the further change clipping makes.

Sources that act together (programming, then drift, then stuck cells) are attributed sequentially: each
gets the change it makes to the moments. Each source's share of the mean squared error is
(mean variance_s + mean bias_s x bias) / MSE; the shares add up to one.

Everything here computes on numpy arrays: a layer given as torch tensors is converted on entry (its integer
codes, and so every term, are the same), and ``aimc estimate`` runs without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from aimc import adc as adc_mod
from aimc._arrays import to_float64, to_numpy
from aimc.adc import ADCRange
from aimc.adc_ranges import range_policy, slice_ranges
from aimc.inputs import conversion_significances, input_slices, slice_significance
from aimc.layers import QuantizedLayer
from aimc.mapping import SliceLayout, column_groups, partitions, weight_digits
from aimc.scheme import Scheme

from . import adc as theory_adc
from .parasitics import gate_bitline_error, row_column_error
from .symbolic import DeviceMoments, conversion_scales, device_moments

if TYPE_CHECKING:
    import torch

__all__ = ["SOURCES", "Budget", "InputStatistics", "error_budget", "expected_weight_error", "weight_error_variance",
           "weight_gain"]

SOURCES = (
    "programming",
    "drift",
    "stuck",
    "read_noise",
    "unit_column",
    "parasitics",
    "adc_quantization",
    "adc_clipping",
)
_FROZEN = ("programming", "drift", "stuck")
CANCELLATION = 1e-12
"""Relative size below which a total error is float residue of sources that cancel exactly (float64)."""


@dataclass(frozen=True)
class InputStatistics:
    """A distribution of input codes: per-row E[x_i^2], optional E[x_i], and per-slice E[x_ti^2] [T, K]."""

    second_moment: np.ndarray
    mean: np.ndarray | None = None
    slice_second_moment: np.ndarray | None = None
    signed: bool = False

    @classmethod
    def from_inputs(
        cls, x_int: torch.Tensor | np.ndarray, scheme: Scheme, signed: bool = False
    ) -> InputStatistics:
        i = scheme.inputs
        x = to_float64(x_int)
        slices = to_float64(input_slices(x_int, i.bits, i.slice_bits, signed))
        return cls(
            to_numpy((x**2).mean(0)), to_numpy(x.mean(0)), to_numpy((slices**2).mean(1)), signed
        )

    @classmethod
    def from_activity(
        cls, second_moment: np.ndarray, activity: np.ndarray, mean: np.ndarray | None = None, signed: bool = False
    ) -> InputStatistics:
        """1-bit input slices: E[x_t^2] = P(bit t of x is 1) (``activity`` [T, K] or [T])."""
        k = len(second_moment)
        act = np.asarray(activity, dtype=np.float64)
        act = np.broadcast_to(act[:, None] if act.ndim == 1 else act, (act.shape[0], k))
        return cls(np.asarray(second_moment, dtype=np.float64), mean, np.array(act), signed)


@dataclass
class Budget:
    """Per-output bias and variance by source, [vectors, outputs] (one row for input statistics).

    Integer output units. ``common_variance`` [vectors, groups] is the unit column's variance, shared by
    every output of a column group (``groups``): the covariance between two outputs of one group.
    """

    scheme: Scheme
    bias: dict[str, np.ndarray]
    variance: dict[str, np.ndarray]
    reference_ms: float
    groups: list[tuple[int, int]]
    common_variance: np.ndarray | None = None
    ranges: list[ADCRange] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def total_bias(self) -> np.ndarray:
        return sum(self.bias.values())

    @property
    def total_variance(self) -> np.ndarray:
        return sum(self.variance.values())

    @property
    def mse(self) -> float:
        """Mean squared error; 0 where the sources cancel to float precision (an ADC that rounds every analog
        error away removes exactly the variance the analog sources add, up to the rounding of their sum)."""
        total = float(np.mean(self.total_bias**2 + self.total_variance))
        scale = float(np.mean(sum(np.abs(v) for v in self.variance.values())
                              + sum(np.abs(b) for b in self.bias.values()) ** 2))
        return 0.0 if abs(total) <= CANCELLATION * scale else total

    @property
    def relative_rms(self) -> float:
        return math.sqrt(max(self.mse, 0.0) / self.reference_ms)

    @property
    def relative_bias(self) -> float:
        return float(np.mean(self.total_bias)) / math.sqrt(self.reference_ms)

    @property
    def by_source(self) -> dict[str, float]:
        """Each source's share of the mean squared error (adds up to 1; a negative share removes error)."""
        mse, total = self.mse, self.total_bias
        if mse <= 0:
            return {s: 0.0 for s in SOURCES}
        return {s: float(np.mean(self.variance[s] + self.bias[s] * total)) / mse for s in SOURCES}

    def relative_rms_of(self, source: str) -> float:
        """sqrt(mean(bias_s^2 + variance_s)) / rms_ref: the error of one source alone.

        Negative (-sqrt|.|) for an ADC term that removes more analog error than it adds.
        """
        value = float(np.mean(self.bias[source] ** 2 + self.variance[source])) / self.reference_ms
        return math.copysign(math.sqrt(abs(value)), value)

    def covariance(self, vector: int = 0) -> np.ndarray:
        """Output error covariance [N, N] for one input vector (diagonal plus the unit-column blocks)."""
        cov = np.diag(self.total_variance[vector])
        if self.common_variance is not None:
            for gi, (a, b) in enumerate(self.groups):
                block = cov[a:b, a:b]
                block += self.common_variance[vector, gi] * (1 - np.eye(b - a))
        return cov

    def summary(self) -> dict:
        return {
            "relative_rms": self.relative_rms,
            "bias": self.relative_bias,
            "by_source": self.by_source,
            "relative_rms_by_source": {s: self.relative_rms_of(s) for s in SOURCES},
        }


# ---------------------------------------------------------------------------------------------------------
# per-weight device tables
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Cells:
    """Per-cell arrays for one physical column set of one weight slice: target g and error moments."""

    g: np.ndarray
    bias: dict[str, np.ndarray]
    var: dict[str, np.ndarray]
    read: np.ndarray


def _level_moments(scheme: Scheme, layout: SliceLayout, k: int) -> tuple[np.ndarray, DeviceMoments]:
    grid = layout.level_conductances(k, np.float64)
    return grid, device_moments(scheme.device, grid)


def _cells(digits: np.ndarray, grid: np.ndarray, moments: DeviceMoments) -> _Cells:
    g = grid[digits]
    bias = {s: moments.mean[s][digits] - g for s in _FROZEN}
    var = {s: moments.var[s][digits] for s in _FROZEN}
    return _Cells(g, bias, var, moments.read_var[digits])


def _combine(parts: list[tuple[_Cells, float]]) -> _Cells:
    """Cells read together with coefficients (analog subtraction: one ADC sees g+ - g-): independent cells,
    so means combine linearly and variances with squared coefficients."""
    if len(parts) == 1 and parts[0][1] == 1:
        return parts[0][0]
    return _Cells(
        sum(c * cells.g for cells, c in parts),
        {s: sum(c * cells.bias[s] for cells, c in parts) for s in _FROZEN},
        {s: sum(c * c * cells.var[s] for cells, c in parts) for s in _FROZEN},
        sum(c * c * cells.read for cells, c in parts),
    )


@dataclass
class _ColumnSet:
    """One conversion: its combined cells, its weight c_kc in the output, the physical columns it reads
    (conductances and coefficients), and whether it reads shared arrays (one column per group)."""

    cells: _Cells
    scale: float
    physical: list[tuple[np.ndarray, float]]
    common: bool = False


def _column_sets(w_int: np.ndarray, scheme: Scheme, layout: SliceLayout, groups: list) -> list[list[_ColumnSet]]:
    """For each weight slice, one :class:`_ColumnSet` per conversion of the mapping."""
    digits = weight_digits(w_int, layout)
    scales = conversion_scales(layout)
    out = []
    for k in range(layout.slices):
        grid, moments = _level_moments(scheme, layout, k)
        cells = {name: _cells(d[k], grid, moments) for name, d in digits.items()}
        for name, shared in layout.shared:
            cells[name] = _cells(np.full((len(groups), w_int.shape[1]), shared[k]), grid, moments)
        out.append([
            _ColumnSet(_combine([(cells[name], coef) for name, coef in conversion.reads]), float(scales[k, c]),
                       [(cells[name].g, coef) for name, coef in conversion.reads], layout.is_shared(conversion))
            for c, conversion in enumerate(layout.conversions)
        ])
    return out


# ---------------------------------------------------------------------------------------------------------
# the budget
# ---------------------------------------------------------------------------------------------------------


def error_budget(
    layer: QuantizedLayer | tuple,
    scheme: Scheme,
    ranges: list[ADCRange] | None = None,
    progress: bool = False,
) -> Budget:
    """The error budget of a layer under a scheme.

    ``layer``: a :class:`~aimc.layers.QuantizedLayer` (given inputs), ``(w_int, x_int)`` with integer
    tensors [N, K] and [B, K] (unsigned inputs; ``(w_int, x_int, signed)`` for signed ones), or
    ``(w_int, InputStatistics)``. ``ranges``: one ADC range per weight slice; by default the scheme's range
    policy (calibrated/optimal on the exact ideal signals of the given inputs). ``progress``: a progress bar
    on stderr over the column sets of the ADC terms, shown only once they take more than two seconds (design
    E's 512 conversions per output). ValueError naming the source when a term is not finite.
    """
    w_int, x, signed = _unpack(layer)
    layout = SliceLayout.from_scheme(scheme)
    n_out = w_int.shape[0]
    groups = column_groups(n_out, scheme.array.columns)
    group_index = np.concatenate([np.full(b - a, gi) for gi, (a, b) in enumerate(groups)])
    sets = _column_sets(w_int, scheme, layout, groups)
    if isinstance(x, InputStatistics):
        budget = _statistics_budget(w_int, x, scheme, layout, sets, ranges, groups, group_index)
    else:
        budget = _given_budget(w_int, x, signed, scheme, layout, sets, ranges, groups, group_index, progress)
    _check_finite(budget)
    return budget


def _check_finite(budget: Budget) -> None:
    """Refuse a budget with a NaN or infinite term, naming the source, instead of printing nan or 0."""
    for kind, terms in (("bias", budget.bias), ("variance", budget.variance)):
        for source, values in terms.items():
            if not np.isfinite(values).all():
                raise ValueError(
                    f"error budget: the {source} {kind} is not finite (float64 overflow or NaN) for this scheme; "
                    "its error sizes are outside what the closed form can sum (see the field ranges in "
                    "aimc/scheme.py)"
                )
    if budget.common_variance is not None and not np.isfinite(budget.common_variance).all():
        raise ValueError("error budget: the unit column's common variance is not finite for this scheme")


def expected_weight_error(w_int: torch.Tensor | np.ndarray, scheme: Scheme) -> np.ndarray:
    """E[W_eff - W] [N, K], integer-weight units: the mean error of every decoded weight over chips.

    W_eff is the weight a programmed chip computes with when no ADC, read noise or wire resistance acts
    (the response of the output to a unit input code): sum_k c_k (effective conductance of the slice-k
    cells, signed by their role) in the decode. Its mean error is the frozen device errors' bias
    (programming with clipping, drift with its compensation gain, stuck cells), per cell, through the
    decode coefficients; with a unit column its cells' bias is shared by every output of its group.
    A nonzero mean is the same on every chip: a systematic error, not averaged away by more chips.
    """
    return _per_weight(w_int, scheme, lambda cs: cs.scale * cs.cells.bias[_FROZEN[-1]])


def _per_weight(w_int: torch.Tensor | np.ndarray, scheme: Scheme, term) -> np.ndarray:
    """sum over slices k and conversions of ``term(column_set)`` (per cell, cumulative over the frozen
    stages), a shared column's term added to every weight of its group: [N, K]."""
    w_int = _integers(w_int)
    if w_int.ndim != 2:
        raise ValueError(f"w_int: expected [outputs, inputs], got shape {list(w_int.shape)}")
    layout = SliceLayout.from_scheme(scheme)
    groups = column_groups(w_int.shape[0], scheme.array.columns)
    group_index = np.concatenate([np.full(b - a, gi) for gi, (a, b) in enumerate(groups)])
    out = np.zeros(tuple(w_int.shape))
    for slice_sets in _column_sets(w_int, scheme, layout, groups):
        for cs in slice_sets:
            total = term(cs)
            out += total[group_index] if cs.common else total
    return out


def weight_error_variance(w_int: torch.Tensor | np.ndarray, scheme: Scheme) -> np.ndarray:
    """Var[W_eff - W] [N, K], integer-weight units: the chip-to-chip variance of every decoded weight.

    The frozen device errors' variance (programming with clipping, drift, stuck cells) per cell, through
    the squared decode coefficients; the cells of a weight are independent, so their variances add. A unit
    column's cells add their variance to every weight of their group: that part is shared by the outputs
    of the group (one draw per chip), which a per-weight variance does not show.
    """
    return _per_weight(w_int, scheme, lambda cs: cs.scale**2 * cs.cells.var[_FROZEN[-1]])


def weight_gain(w_int: torch.Tensor | np.ndarray, scheme: Scheme) -> float:
    """The least-squares gain of the mean programmed weights on the intended ones: 1 + <W, E[W_eff - W]> / <W, W>.

    Below 1 when the systematic error shrinks the weights (clipped cells at g_min in differential pairs).
    """
    w = np.asarray(to_numpy(w_int), dtype=np.float64)
    norm = float((w * w).sum())
    if norm == 0:
        raise ValueError("w_int: all weights are zero; the gain is undefined")
    return 1.0 + float((w * expected_weight_error(w_int, scheme)).sum()) / norm


def _integers(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """Integer codes as an int64 numpy array (the same integers whichever library held them)."""
    return np.asarray(to_numpy(values)).astype(np.int64)


def _unpack(layer: QuantizedLayer | tuple) -> tuple[np.ndarray, np.ndarray | InputStatistics, bool]:
    if isinstance(layer, QuantizedLayer):
        return _integers(layer.w_int), _integers(layer.x_int), layer.signed_inputs
    if not isinstance(layer, tuple) or len(layer) not in (2, 3):
        raise ValueError("layer: give a QuantizedLayer, (w_int, x_int[, signed]) or (w_int, InputStatistics)")
    w_int = _integers(layer[0])
    x = layer[1]
    if isinstance(x, InputStatistics):
        if len(x.second_moment) != w_int.shape[1]:
            raise ValueError(f"inputs: {len(x.second_moment)} row moments for a fan-in of {w_int.shape[1]}")
        return w_int, x, x.signed
    x = _integers(x)
    signed = bool(layer[2]) if len(layer) == 3 else bool((x < 0).any())
    if x.ndim != 2 or x.shape[1] != w_int.shape[1]:
        raise ValueError(f"inputs: expected [vectors, {w_int.shape[1]}], got {list(x.shape)}")
    return w_int, x, signed


def _empty(shape: tuple) -> dict[str, np.ndarray]:
    return {s: np.zeros(shape) for s in SOURCES}


def _analog_terms(
    bias: dict, var: dict, cells: _Cells, x: np.ndarray, x2: np.ndarray, xt2: np.ndarray, scale: float
) -> None:
    """Add the frozen and read-noise terms of one column set (x [B, K] or moments) into bias/var."""
    prev_b = prev_v = 0.0
    for s in _FROZEN:
        b_s = x @ cells.bias[s].T
        v_s = x2 @ cells.var[s].T
        bias[s] += scale * (b_s - prev_b)
        var[s] += scale**2 * (v_s - prev_v)
        prev_b, prev_v = b_s, v_s
    var["read_noise"] += scale**2 * (xt2 @ cells.read.T)


def _expand(terms: dict[str, np.ndarray], group_index: np.ndarray) -> dict[str, np.ndarray]:
    return {s: v[:, group_index] for s, v in terms.items()}


def _given_budget(w_int, x_int, signed, scheme, layout, sets, ranges, groups, group_index, progress) -> Budget:
    i = scheme.inputs
    xs = input_slices(x_int, i.bits, i.slice_bits, signed).astype(np.float64)  # [T, B, K]
    t_sig = np.array(slice_significance(i.bits, i.slice_bits, signed), dtype=np.float64)
    x = np.tensordot(t_sig, xs, axes=1)
    x2, xt2 = x**2, np.tensordot(t_sig**2, xs**2, axes=1)
    n_vec, n_out = x.shape[0], w_int.shape[0]
    bias, var = _empty((n_vec, n_out)), _empty((n_vec, n_out))
    common_bias, common_var = _empty((n_vec, len(groups))), _empty((n_vec, len(groups)))
    digital_acc = i.accumulation == "digital" and xs.shape[0] > 1
    parts = partitions(x_int.shape[1], scheme.array.rows)
    conversions = _conversions(xs, t_sig, sets, parts, digital_acc, scheme)
    if ranges is None and scheme.adc.bits > 0:
        ranges = _default_ranges(scheme, layout, conversions, x_int.shape[1], signed)
    from tqdm import tqdm  # here, not at the top: aimc estimate imports this module on every start

    bar = tqdm(total=sum(len(c) for c in sets), desc="error budget", unit="column set", delay=2.0,
               leave=False, disable=not progress or ranges is None)
    for k, slice_sets in enumerate(sets):
        for cs, conv in zip(slice_sets, conversions[k]):
            b_t, v_t = (common_bias, common_var) if cs.common else (bias, var)
            scale = cs.scale
            _analog_terms(b_t, v_t, cs.cells, x, x2, xt2, scale)
            for p in conv:
                b_t["parasitics"] += scale * p["parasitic_total"]
            if ranges is not None:
                _adc_terms(b_t, v_t, conv, xs, t_sig, cs.cells, scheme.adc.bits, ranges[k], scale, digital_acc)
            bar.update()
    bar.close()
    if layout.shared:
        bias["unit_column"] += sum(_expand(common_bias, group_index).values())
        var["unit_column"] += sum(_expand(common_var, group_index).values())
    reference = x_int.astype(np.float64) @ w_int.astype(np.float64).T
    ms = float(np.mean(reference**2))
    if ms == 0:
        raise ValueError("the digital reference output is identically zero; relative errors are undefined")
    common = sum(common_var.values()) if layout.shared else None
    return Budget(scheme, bias, var, ms, groups, common, ranges)


def _conversions(xs, t_sig, sets, parts, digital_acc, scheme) -> list[list[list[dict]]]:
    """Ideal ADC inputs (and first-order parasitic shifts) per slice, column set and partition.

    Each entry holds ``mu`` [C, B, N] for the C conversions of that partition (C = T with digital
    accumulation, else 1), the row range, and ``parasitic`` [C, B, N] in signal units.
    """
    parasitics = scheme.parasitics
    out = []
    for slice_sets in sets:
        per_set = []
        for cs in slice_sets:
            per_part = []
            for start, stop in parts:
                x_p = xs[:, :, start:stop]
                mu = np.einsum("tbk,nk->tbn", x_p, cs.cells.g[:, start:stop])
                para = np.zeros_like(mu)
                if parasitics.r > 0:
                    for g_phys, sgn in cs.physical:
                        g_p = g_phys[:, start:stop]
                        if parasitics.topology == "gate_bitline":
                            para += sgn * gate_bitline_error(g_p, x_p, parasitics.r)
                        else:  # row_column: each group of array.columns outputs is one array
                            para += sgn * row_column_error(g_p, x_p, parasitics.r, scheme.array.columns)
                entry = {"rows": (start, stop), "parasitic_total": np.tensordot(t_sig, para, axes=1)}
                if digital_acc:
                    entry["mu"], entry["parasitic"] = mu, para
                else:
                    entry["mu"] = np.tensordot(t_sig, mu, axes=1)[None]
                    entry["parasitic"] = entry["parasitic_total"][None]
                per_part.append(entry)
            per_set.append(per_part)
        out.append(per_set)
    return out


def _default_ranges(scheme, layout, conversions, fan_in, signed) -> list[ADCRange]:
    """The scheme's ADC ranges; a profiled policy profiles the exact ideal signals of the given inputs."""
    def signals(k: int) -> np.ndarray:
        return np.concatenate([e["mu"].ravel() for parts in conversions[k] for e in parts])

    return slice_ranges(scheme, fan_in, signed, signals)


def _adc_terms(bias, var, conv, xs, t_sig, cells: _Cells, bits, rng, scale, digital_acc) -> None:
    """Rounding and clipping of every conversion of one column set, exact for Gaussian analog error."""
    grid = theory_adc.level_grid(bits, rng)
    unclipped = (grid[0], grid[1], -math.inf, math.inf)
    frozen_b, frozen_v = cells.bias["stuck"], cells.var["stuck"]
    weights = t_sig if digital_acc else np.ones(1)
    for entry in conv:
        start, stop = entry["rows"]
        x_p = xs[:, :, start:stop]
        if digital_acc:
            xc = x_p
            read_x2 = x_p**2
        else:
            xc = np.tensordot(t_sig, x_p, axes=1)[None]
            read_x2 = np.tensordot(t_sig**2, x_p**2, axes=1)[None]
        m = np.einsum("tbk,nk->tbn", xc, frozen_b[:, start:stop]) + entry["parasitic"]
        v_frozen = np.einsum("tbk,nk->tbn", xc**2, frozen_v[:, start:stop])
        s2 = v_frozen + np.einsum("tbk,nk->tbn", read_x2, cells.read[:, start:stop])
        sigma = np.sqrt(np.maximum(s2, 0.0))
        mu = entry["mu"]
        f_nc, sq_nc, k_nc = theory_adc.rounding_moments(mu, m, sigma, unclipped)
        f_c, sq_c, k_c = theory_adc.rounding_moments(mu, m, sigma, grid)
        w = weights[:, None, None]
        for label, f, sq, gain, f_ref, v_ref in (
            ("adc_quantization", f_nc, sq_nc, k_nc, m, s2),
            ("adc_clipping", f_c, sq_c, k_c, f_nc, sq_nc - f_nc**2),
        ):
            var_conv = sq - f**2
            bias[label] += scale * np.sum(w * (f - f_ref), axis=0)
            change = np.sum(w**2 * (var_conv - v_ref), axis=0)
            if label == "adc_quantization":
                change += _cross_change(xc, frozen_v[:, start:stop], w, gain, np.ones_like(gain))
            else:
                change += _cross_change(xc, frozen_v[:, start:stop], w, gain, k_nc)
            var[label] += scale**2 * change


def _cross_change(xc, frozen_v, w, gain, gain_ref) -> np.ndarray:
    """Change of sum_{t != t'} w_t w_t' K_t K_t' Cov(e_t, e_t') from gains ``gain_ref`` to ``gain``."""
    n = xc.shape[0]
    total = np.zeros(gain.shape[1:])
    if n == 1:
        return total
    for t in range(n):
        for u in range(t + 1, n):
            factor = gain[t] * gain[u] - gain_ref[t] * gain_ref[u]
            if not np.any(np.abs(factor) > 1e-12):
                continue
            cov = (xc[t] * xc[u]) @ frozen_v.T
            total += 2 * w[t, 0, 0] * w[u, 0, 0] * factor * cov
    return total


def _statistics_budget(w_int, stats, scheme, layout, sets, ranges, groups, group_index) -> Budget:
    """Input-statistics form: expectations over inputs of independent rows; ADC by Delta^2/12."""
    i = scheme.inputs
    t_sig = np.array(slice_significance(i.bits, i.slice_bits, stats.signed), dtype=np.float64)
    x2 = stats.second_moment[None].astype(np.float64)
    mean = np.zeros_like(x2) if stats.mean is None else np.asarray(stats.mean, dtype=np.float64)[None]
    if stats.slice_second_moment is not None:
        xt2 = np.tensordot(t_sig**2, np.asarray(stats.slice_second_moment, dtype=np.float64), axes=1)[None]
    elif len(t_sig) == 1:
        xt2 = x2
    elif scheme.device.read_noise.active:
        raise ValueError("inputs: bit-serial read noise needs per-slice moments (InputStatistics.from_activity)")
    else:
        xt2 = x2
    n_out = w_int.shape[0]
    bias, var = _empty((1, n_out)), _empty((1, n_out))
    common_bias, common_var = _empty((1, len(groups))), _empty((1, len(groups)))
    fluct = x2 - mean**2
    if scheme.adc.bits > 0 and ranges is None:
        if range_policy(scheme.adc.range).profiled:
            raise ValueError(f"adc.range: {scheme.adc.range} needs given inputs or explicit ranges in statistics form")
        ranges = slice_ranges(scheme, w_int.shape[1], stats.signed)
    conversions = len(partitions(w_int.shape[1], scheme.array.rows)) * float(
        np.sum(np.square(conversion_significances(i, stats.signed), dtype=np.float64)))
    for k, slice_sets in enumerate(sets):
        for cs in slice_sets:
            b_t, v_t = (common_bias, common_var) if cs.common else (bias, var)
            scale = cs.scale
            prev_v, prev_b = 0.0, 0.0
            for s in _FROZEN:
                b_mean = mean @ cs.cells.bias[s].T
                v_s = x2 @ cs.cells.var[s].T + fluct @ (cs.cells.bias[s] ** 2).T
                b_t[s] += scale * (b_mean - prev_b)
                v_t[s] += scale**2 * (v_s - prev_v)
                prev_b, prev_v = b_mean, v_s
            v_t["read_noise"] += scale**2 * (xt2 @ cs.cells.read.T)
            if ranges is not None:
                delta = adc_mod.step(scheme.adc.bits, ranges[k])
                v_t["adc_quantization"] += scale**2 * conversions * theory_adc.quantization_variance(delta)
    if layout.shared:
        bias["unit_column"] += sum(_expand(common_bias, group_index).values())
        var["unit_column"] += sum(_expand(common_var, group_index).values())
    w = w_int.astype(np.float64)
    ref_ms = float(np.mean(fluct @ (w**2).T + (mean @ w.T) ** 2))
    if ref_ms <= 0:
        raise ValueError("the expected reference output is zero; relative errors are undefined")
    common = sum(common_var.values()) if layout.shared else None
    return Budget(scheme, bias, var, ref_ms, groups, common, ranges)

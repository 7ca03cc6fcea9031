"""A device law sigma(g) fitted to measurements of repeated programming (``aimc device fit``).

**Input**: a CSV file with a header row, in one of three forms (lines starting with ``#`` are comments):

- long, ``target,measured``: one row per programming of a device to ``target``, with the conductance read back;
- wide, ``target,m1,m2,...``: one row per target, its repeated measurements in the further columns (a ragged
  row may leave cells empty);
- a sigma table, ``g,sigma`` (or ``target,sigma``), optionally with ``n``, the repeats behind each sigma.

Rows with the same target are pooled. Conductances are normalised to Gmax (targets in [0, 1]) unless
``gmax`` gives Gmax in the data's own unit (uS, or nA for a current). Every target needs at least two
measurements.

**Estimate**: at each target, the sample standard deviation s (n - 1 in the denominator) estimates
sigma(target). For Gaussian errors (the scheme's model g' = g + sigma(g) z), its sampling error is
sigma / sqrt(2 (n - 1)); that is the error bar of every chi-square below.

**Laws**, both stated as the scheme's own error models, so they are evaluated through
:meth:`aimc.scheme.ErrorModel.sigma` like every other law:

- ``polynomial``: sigma(g) = sum_i c_i g^i by weighted least squares, the weights from the sampling error of
  the fitted sigma (iterated, so that a low measured s does not pull the fit down). The order is given, or
  the one of 0..4 with the smallest small-sample Akaike criterion (AICc: the chi-square plus a price per
  coefficient, which weighs a misfit against the noise of more coefficients) among those whose sigma stays
  >= 0 on [g_min, 1]; a chi-square p-value below :data:`ACCEPTED_P_VALUE` is reported as a poor fit. For a
  sigma table without ``n`` (no sampling errors), the lowest order whose leave-one-out error is within 5 %
  of the smallest.
- ``table``: the measured s at each target, linear between targets, held at the lowest target's value
  down to g = 0 and at the highest target's up to g = 1. Its quality is a leave-one-out chi-square: each
  interior s against the interpolation between its neighbours.

**On/Off**: Gmax / Gmin, Gmin the smallest target unless stated (``gmin``, in the data's unit).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ._fields import ConfigError
from .devices import TORCH, UserDevice, device_law
from .scheme import ErrorModel

__all__ = [
    "ACCEPTED_P_VALUE",
    "MAX_AUTO_ORDER",
    "Measurements",
    "PolynomialFit",
    "TableFit",
    "fit_device",
    "fit_polynomial",
    "fit_table",
    "read_measurements",
    "sample_measurements",
]

ACCEPTED_P_VALUE = 0.05
"""A fit whose chi-square p-value is below this is reported as not fitting within the sampling error."""

MAX_AUTO_ORDER = 4
"""The highest polynomial order tried when the order is not given."""

_EXPECTED = "a header target,measured (long form), target,m1,m2,... (wide form) or g,sigma[,n] (sigma table)"
_IRLS_STEPS = 4


@dataclass(frozen=True)
class Measurements:
    """sigma estimates at each target conductance, in units of Gmax."""

    source: str
    form: str
    targets: np.ndarray
    sigma: np.ndarray
    repeats: np.ndarray | None
    """measurements per target; None for a sigma table without n (no sampling error known)."""
    mean_offset: np.ndarray | None
    """mean measured conductance minus the target (units of Gmax); None for a sigma table."""
    gmax: float | None
    """Gmax in the data's unit, None when the data were normalised."""
    g_min: float
    g_min_from: str

    @property
    def on_off(self) -> float:
        return math.inf if self.g_min == 0 else 1.0 / self.g_min

    def standard_error(self, sigma: np.ndarray | None = None) -> np.ndarray | None:
        """Sampling error of the sigma estimates, sigma / sqrt(2 (n - 1)), at the given (default measured) sigma."""
        if self.repeats is None:
            return None
        return (self.sigma if sigma is None else sigma) / np.sqrt(2.0 * (self.repeats - 1))


# ---------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-empty, non-comment row; the header first."""
    if not path.is_file():
        raise ConfigError("MEASUREMENTS", f"no such file {str(path)!r}; allowed: a CSV file ({_EXPECTED})")
    data = path.read_bytes()
    try:
        if b"\0" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        rows = list(enumerate(csv.reader(io.StringIO(data.decode("utf-8-sig"))), start=1))
    except (UnicodeDecodeError, csv.Error):
        raise ValueError(f"{path}: not a CSV text file; expected {_EXPECTED}") from None
    rows = [(n, row) for n, row in rows if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        raise ValueError(f"{path}: empty file; expected {_EXPECTED}, then data rows")
    if rows[0][1][0].lstrip()[:1] in ("{", "[", "<"):
        raise ValueError(f"{path}: not a CSV file (it reads as JSON or markup); expected {_EXPECTED}")
    return rows


def _form(header: list[str], path: Path) -> str:
    """long, wide or sigma table, from the header; a one-line error for missing or unexpected columns."""
    if "sigma" in header:
        extra = [c for c in header if c not in ("g", "target", "sigma", "n")]
        if extra or header[0] not in ("g", "target"):
            raise ValueError(f"{path}: a sigma table has the columns g (or target), sigma and optionally n, "
                             f"g first; got {','.join(header)}")
        return "sigma table"
    if len(header) < 2 or header[0] != "target":
        raise ValueError(f"{path}: missing columns: expected {_EXPECTED}; got {','.join(header)}")
    return "long" if len(header) == 2 else "wide"


def _number(text: str, where: str, negative_is: str | None = "a negative conductance") -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text!r} is not a finite number (NaN and inf are not measurements)")
    if negative_is and value < 0:
        raise ValueError(f"{where}: {text} is {negative_is}; allowed: >= 0")
    return value


def _cells(path: Path, header: list[str], line: int, row: list[str]) -> list[tuple[str, str]]:
    """(text, where) of the non-empty cells of a data row, checked against the header's width."""
    if len(row) > len(header):
        raise ValueError(f"{path} line {line}: {len(row)} cells for {len(header)} columns ({','.join(header)})")
    return [(cell.strip(), f"{path} line {line}, column {header[j]}") for j, cell in enumerate(row)
            if cell.strip()]


def _repeated(path: Path, rows: list[tuple[int, list[str]]], header: list[str]) -> dict[float, list[float]]:
    """The measurements of a long or wide file, by target (data units)."""
    groups: dict[float, list[float]] = {}
    for line, row in rows:
        cells = _cells(path, header, line, row)
        if not cells or cells[0][1] != f"{path} line {line}, column target":
            raise ValueError(f"{path} line {line}, column target: missing")
        if len(cells) == 1:
            raise ValueError(f"{path} line {line}: no measured value for target {cells[0][0]}")
        target = _number(*cells[0], negative_is="a negative target conductance")
        groups.setdefault(target, []).extend(_number(*cell) for cell in cells[1:])
    for target, values in groups.items():
        if len(values) < 2:
            raise ValueError(f"{path}: target {target:g} has a single measurement; sigma needs at least 2 "
                             "repeats per target (or give a g,sigma table)")
    return groups


def _sigma_table(path: Path, rows: list[tuple[int, list[str]]], header: list[str]) -> tuple[np.ndarray, ...]:
    """(g, sigma, n or None) of a sigma table, in data units, sorted by g."""
    table: dict[float, tuple[float, float]] = {}
    for line, row in rows:
        if len(row) > len(header):
            raise ValueError(f"{path} line {line}: {len(row)} cells for {len(header)} columns ({','.join(header)})")
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        where = f"{path} line {line}, column"
        for column in header:
            if not cells.get(column):
                raise ValueError(f"{where} {column}: missing")
        g = _number(cells[header[0]], f"{where} {header[0]}", "a negative conductance")
        sigma = _number(cells["sigma"], f"{where} sigma", "a negative sigma")
        n = _number(cells["n"], f"{where} n", "a negative count") if "n" in cells else math.nan
        if "n" in cells and (n != int(n) or n < 2):
            raise ValueError(f"{where} n: {cells['n']} repeats; allowed: an integer >= 2")
        if g in table:
            raise ValueError(f"{where} {header[0]}: {g:g} appears twice; give one sigma per conductance")
        table[g] = (sigma, n)
    g = np.array(sorted(table))
    sigma, n = (np.array([table[v][k] for v in g]) for k in (0, 1))
    return g, sigma, (None if "n" not in header else n)


def _g_min(targets: np.ndarray, gmin: float | None, scale: float) -> tuple[float, str]:
    if gmin is None:
        return float(targets[0]), "the smallest target"
    if not (math.isfinite(gmin) and 0 <= gmin < scale):
        raise ConfigError("--gmin", f"must be >= 0 and below Gmax = {scale:g} (data units), got {gmin!r}")
    if gmin / scale > targets[0] * (1 + 1e-12):
        raise ConfigError("--gmin", f"{gmin:g} is above the smallest target {targets[0] * scale:g}")
    return gmin / scale, "--gmin"


def read_measurements(path: str | Path, gmax: float | None = None, gmin: float | None = None) -> Measurements:
    """The sigma estimates of a measurements file (see the module docstring); ValueError naming the line."""
    if gmax is not None and not (math.isfinite(gmax) and gmax > 0):
        raise ConfigError("--gmax", f"must be a finite number > 0 (Gmax in the data's unit), got {gmax!r}")
    path = Path(path)
    rows = _csv_rows(path)
    header = [c.strip().lower() for c in rows[0][1]]
    form = _form(header, path)
    if len(rows) == 1:
        raise ValueError(f"{path}: no data rows after the header")
    scale = 1.0 if gmax is None else gmax
    if form == "sigma table":
        g, sigma, repeats = _sigma_table(path, rows[1:], header)
        offsets = None
    else:
        groups = _repeated(path, rows[1:], header)
        g = np.array(sorted(groups))
        values = [np.array(groups[t]) for t in g]
        sigma = np.array([v.std(ddof=1) for v in values])
        repeats = np.array([v.size for v in values], dtype=float)
        offsets = np.array([v.mean() - t for v, t in zip(values, g, strict=True)]) / scale
    _check_targets(path, g, scale, gmax is None)
    g_min, g_min_from = _g_min(g / scale, gmin, scale)
    return Measurements(str(path), form, g / scale, sigma / scale, repeats, offsets, gmax, g_min, g_min_from)


def _check_targets(path: Path, g: np.ndarray, scale: float, normalised: bool) -> None:
    if g[-1] > scale * (1 + 1e-12):
        hint = ("the data are read as normalised to Gmax unless --gmax VALUE gives Gmax in their unit"
                if normalised else "raise --gmax if Gmax is larger")
        raise ValueError(f"{path}: target {g[-1]:g} outside [0, Gmax] = [0, {scale:g}]; {hint}")
    if g.size < 2:
        raise ValueError(f"{path}: {g.size} target conductance; a law needs at least 2")


# ---------------------------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------------------------


def _evaluate(law: ErrorModel, g: np.ndarray, g_min: float) -> np.ndarray:
    """sigma(g) through the one definition of every law (ErrorModel.sigma, torch back end)."""
    return law.sigma(torch.as_tensor(g, dtype=torch.float64), g_min, TORCH).numpy()


def _nonnegative(law: ErrorModel, g_min: float) -> bool:
    """Whether sigma >= 0 on [g_min, 1], on the grid the scheme itself checks."""
    return bool(_evaluate(law, np.linspace(g_min, 1.0, 1001), g_min).min() >= 0)


def _chi_square_p(chi2: float, dof: int) -> float:
    from scipy.stats import chi2 as chi2_distribution

    return float(chi2_distribution.sf(chi2, dof))


@dataclass(frozen=True)
class PolynomialFit:
    """A polynomial sigma(g) = sum_i c_i g^i (units of Gmax) and how well it fits."""

    order: int
    coefficients: tuple[float, ...]
    covariance: np.ndarray
    dof: int
    chi2: float | None
    p_value: float | None
    r_squared: float
    max_standardised_residual: float | None
    rms_residual: float
    loo_rms: float
    nonnegative: bool

    @property
    def law(self) -> ErrorModel:
        return ErrorModel("polynomial", alpha=1.0, coefficients=self.coefficients)

    def standard_error(self, g: np.ndarray) -> np.ndarray:
        """The statistical error of the fitted sigma at g (from the coefficients' covariance)."""
        basis = np.vander(np.asarray(g, dtype=float), self.order + 1, increasing=True)
        return np.sqrt(np.einsum("ij,jk,ik->i", basis, self.covariance, basis))


def _weighted_least_squares(basis: np.ndarray, y: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, ...]:
    """(coefficients, their covariance, leverage of each point) of a fit with known errors."""
    weighted = basis / error[:, None]
    coefficients, *_ = np.linalg.lstsq(weighted, y / error, rcond=None)
    covariance = np.linalg.pinv(weighted.T @ weighted)
    leverage = np.einsum("ij,jk,ik->i", weighted, covariance, weighted)
    return coefficients, covariance, leverage


def _polynomial(measurements: Measurements, order: int) -> PolynomialFit:
    g, s = measurements.targets, measurements.sigma
    basis = np.vander(g, order + 1, increasing=True)
    known = measurements.repeats is not None
    error = measurements.standard_error() if known else np.ones_like(s)
    floor = 1e-3 * max(float(s.max()), 1e-300)
    for _ in range(_IRLS_STEPS if known else 1):
        coefficients, covariance, leverage = _weighted_least_squares(basis, s, np.maximum(error, floor))
        law = ErrorModel("polynomial", alpha=1.0, coefficients=tuple(float(c) for c in coefficients))
        fitted = _evaluate(law, g, measurements.g_min)
        if known:
            error = measurements.standard_error(np.maximum(fitted, floor))
    residual = s - fitted
    dof = g.size - order - 1
    chi2 = float(np.sum((residual / error) ** 2)) if known else None
    if not known:  # no sampling error: the scatter about the fit sets the scale of the covariance
        covariance = covariance * float(np.sum(residual**2)) / dof
    total = float(np.sum((s - s.mean()) ** 2))
    return PolynomialFit(
        order, law.coefficients, covariance, dof, chi2, None if chi2 is None else _chi_square_p(chi2, dof),
        1.0 - float(np.sum(residual**2)) / total if total > 0 else math.nan,
        float(np.max(np.abs(residual / error))) if known else None,
        float(np.sqrt(np.mean(residual**2))), float(np.sqrt(np.mean((residual / (1 - leverage)) ** 2))),
        _nonnegative(law, measurements.g_min),
    )


def fit_polynomial(measurements: Measurements, order: int | None = None) -> tuple[PolynomialFit, list, str]:
    """(the chosen fit, every order tried, why that order) for the given or the automatically chosen order."""
    targets = measurements.targets.size
    if order is not None and not 0 <= order <= targets - 2:
        raise ConfigError("--order", f"{order} needs at least {order + 2} targets; allowed 0..{targets - 2} here")
    orders = [order] if order is not None else range(min(MAX_AUTO_ORDER, targets - 2) + 1)
    fits = [_polynomial(measurements, k) for k in orders]
    usable = [f for f in fits if f.nonnegative]
    if not usable:
        raise ValueError(f"every polynomial of order {orders[0]}..{orders[-1]} gives a negative sigma on "
                         f"[g_min, 1] = [{measurements.g_min:.4g}, 1]; use --law table")
    if order is not None:
        return usable[0], fits, "given by --order"
    if measurements.repeats is None:  # the lowest order within 5 % of the best (exact data tie at rounding level)
        limit = 1.05 * min(f.loo_rms for f in usable) + 1e-12 * float(measurements.sigma.max())
        best = next(f for f in usable if f.loo_rms <= limit)
        return best, fits, ("lowest order within 5 % of the smallest leave-one-out error (a sigma table "
                            "without n has no sampling errors)")
    best = min(usable, key=_aicc)
    reason = "smallest AICc = chi2 + 2k + 2k(k+1)/(N-k-1), k coefficients, N targets"
    if best.p_value < ACCEPTED_P_VALUE:
        reason += (f"; its chi-square p = {best.p_value:.2g} < {ACCEPTED_P_VALUE}: no order up to {orders[-1]} "
                   "fits within the sampling error")
    return best, fits, reason


def _aicc(fit: PolynomialFit) -> float:
    """Akaike's criterion with the small-sample correction: the chi-square plus a price per coefficient."""
    k, n = fit.order + 1, fit.order + 1 + fit.dof
    return fit.chi2 + 2 * k + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf)


@dataclass(frozen=True)
class TableFit:
    """The measured sigma at each target as a piecewise-linear table over [0, 1], and its interpolation check."""

    table_g: tuple[float, ...]
    table_sigma: tuple[float, ...]
    loo_dof: int
    loo_chi2: float | None
    loo_p_value: float | None
    loo_rms: float | None

    @property
    def law(self) -> ErrorModel:
        return ErrorModel("table", alpha=1.0, table_g=self.table_g, table_sigma=self.table_sigma)


def fit_table(measurements: Measurements) -> TableFit:
    """The table law, with each interior sigma predicted from its two neighbours (leave-one-out)."""
    g, s = measurements.targets, measurements.sigma
    table_g, table_sigma = list(g), list(s)
    if g[0] > 0:
        table_g, table_sigma = [0.0, *table_g], [s[0], *table_sigma]
    if g[-1] < 1:
        table_g, table_sigma = [*table_g, 1.0], [*table_sigma, s[-1]]
    dof = g.size - 2
    if dof < 1:
        return TableFit(tuple(map(float, table_g)), tuple(map(float, table_sigma)), 0, None, None, None)
    w = (g[1:-1] - g[:-2]) / (g[2:] - g[:-2])
    residual = s[1:-1] - ((1 - w) * s[:-2] + w * s[2:])
    error = measurements.standard_error()
    chi2 = p = None
    if error is not None:
        variance = error[1:-1] ** 2 + ((1 - w) * error[:-2]) ** 2 + (w * error[2:]) ** 2
        chi2 = float(np.sum(residual**2 / variance))
        p = _chi_square_p(chi2, dof)
    return TableFit(tuple(map(float, table_g)), tuple(map(float, table_sigma)), dof, chi2, p,
                    float(np.sqrt(np.mean(residual**2))))


# ---------------------------------------------------------------------------------------------------------
# the device and its report
# ---------------------------------------------------------------------------------------------------------


def _polynomial_report(best: PolynomialFit, fits: list[PolynomialFit], reason: str) -> dict:
    def row(f: PolynomialFit) -> dict:
        return {"order": f.order, "chi2_per_dof": None if f.chi2 is None else f.chi2 / f.dof, "dof": f.dof,
                "p_value": f.p_value, "r_squared": f.r_squared, "max_standardised_residual":
                f.max_standardised_residual, "rms_residual": f.rms_residual, "loo_rms": f.loo_rms,
                "nonnegative": f.nonnegative}

    return {**row(best), "coefficients": list(best.coefficients), "order_chosen_by": reason,
            "nonnegative_from": _nonnegative_from(best.law), "orders": [row(f) for f in fits]}


def _nonnegative_from(law: ErrorModel) -> float:
    """The lowest g0 such that sigma >= 0 on [g0, 1] (on a grid of step 1e-4): a scheme with g_min below
    it refuses the law."""
    grid = np.linspace(0.0, 1.0, 10001)
    negative = np.flatnonzero(_evaluate(law, grid, 0.0) < 0)
    return 0.0 if negative.size == 0 else float(grid[min(negative[-1] + 1, grid.size - 1)])


def _table_report(table: TableFit) -> dict:
    return {"points": len(table.table_g), "loo_chi2_per_dof": None if table.loo_chi2 is None else
            table.loo_chi2 / table.loo_dof, "loo_dof": table.loo_dof, "loo_p_value": table.loo_p_value,
            "loo_rms": table.loo_rms, "table_g": list(table.table_g), "table_sigma": list(table.table_sigma)}


def _largest_of_p(z: float, count: int) -> float:
    """The chance that the largest |z| of ``count`` independent standard normal scores is at least ``z``."""
    return -math.expm1(count * math.log1p(-math.erfc(z / math.sqrt(2))))


def _measurement_report(m: Measurements) -> dict:
    offset = None
    if m.mean_offset is not None:
        standard_errors = np.abs(m.mean_offset) / np.maximum(m.sigma / np.sqrt(m.repeats), 1e-300)
        i = int(np.argmax(standard_errors))
        offset = {"target": float(m.targets[i]), "offset": float(m.mean_offset[i]),
                  "standard_errors": float(standard_errors[i]),
                  "p_value": _largest_of_p(float(standard_errors[i]), m.targets.size)}
    relative = None if m.repeats is None else float(np.median(1 / np.sqrt(2 * (m.repeats - 1))))
    low, high = float(m.targets[0]), float(m.targets[-1])
    outside = [[m.g_min, low]] * (m.g_min < low) + [[high, 1.0]] * (high < 1)
    return {
        "source": m.source, "form": m.form, "targets": int(m.targets.size),
        "target_range": [low, high],
        "repeats_min": None if m.repeats is None else int(m.repeats.min()),
        "repeats_max": None if m.repeats is None else int(m.repeats.max()),
        "gmax": m.gmax, "g_min": m.g_min, "on_off": "inf" if math.isinf(m.on_off) else m.on_off,
        "on_off_from": m.g_min_from, "relative_standard_error": relative, "largest_mean_offset": offset,
        "extrapolated": outside,
    }


def fit_device(measurements: Measurements, name: str, law: str = "polynomial",
               order: int | None = None) -> tuple[UserDevice, dict]:
    """The named device with the chosen law (``polynomial`` or ``table``), and the report of both fits."""
    best, fits, reason = fit_polynomial(measurements, order)
    table = fit_table(measurements)
    report = {**_measurement_report(measurements), "law": law,
              "polynomial": _polynomial_report(best, fits, reason), "table": _table_report(table)}
    chosen = best.law if law == "polynomial" else table.law
    fields = {"coefficients": chosen.coefficients} if law == "polynomial" else {
        "table_g": chosen.table_g, "table_sigma": chosen.table_sigma}
    detail = f"order {best.order}" if law == "polynomial" else f"{len(table.table_g)} points"
    description = (f"{law} sigma(g) ({detail}) fitted by aimc device fit to {measurements.targets.size} "
                   f"targets of {Path(measurements.source).name} ({measurements.form} form)")
    return UserDevice(name, description, law, fields, measurements.on_off, report), report


# ---------------------------------------------------------------------------------------------------------
# measurements drawn from a known law
# ---------------------------------------------------------------------------------------------------------


def sample_measurements(law_name: str, targets: int = 20, repeats: int = 200, seed: int = 0,
                        lowest: float = 0.05, normalised: bool = False) -> tuple[list[list[str]], str, float]:
    """Long-form rows (header first) of programming a published law's device ``repeats`` times at each of
    ``targets`` evenly spaced targets from ``lowest`` to 1 (units of Gmax), g' = g + sigma(g) z, unclipped;
    in the law's own unit unless ``normalised``. Returns (rows, unit, Gmax in that unit)."""
    try:
        law = device_law(law_name)
    except KeyError as e:
        raise ConfigError("LAW", e.args[0]) from None
    if targets < 2 or repeats < 2:
        raise ConfigError("--targets" if targets < 2 else "--repeats", "must be >= 2")
    if not 0 <= lowest < 1:
        raise ConfigError("--lowest", f"must be in [0, 1) (units of Gmax), got {lowest!r}")
    g = torch.linspace(lowest, 1.0, targets, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((targets, repeats), generator=generator, dtype=torch.float64)
    measured = g[:, None] + law.sigma(g, TORCH)[:, None] * noise
    if bool((measured < 0).any()):
        worst = float(g[(measured < 0).any(dim=1)].max())
        raise ConfigError("--lowest", f"{law_name} gives negative conductances at target {worst:.3g}; raise it")
    scale, unit = (1.0, "Gmax") if normalised else (law.full_scale, law.unit)
    rows = [["target", "measured"]]
    rows += [[f"{scale * float(t):.10g}", f"{scale * float(v):.8g}"]
             for t, row in zip(g, measured, strict=True) for v in row]
    return rows, unit, (1.0 if normalised else law.full_scale)

"""The network-level predictor against the simulated chips: identity plot and error distribution.

Plot-only: draws ``<results>/predictor/<model>.csv`` (written by ``aimc validate predictor``,
:mod:`aimc.validation.predictor.validate`; the repository's own under ``validation/results/predictor``):
left, the predicted top-1 against the simulated mean over chips, the compounded prediction as filled
markers coloured by experiment and the first-order one as grey crosses, with the +-1.5 point band; right,
the distribution of the errors (predicted - simulated) of both methods on the points the simulation puts
above 50 %. One figure per model with such a CSV; skipped with a message while there is none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from aimc.validation.predictor.validate import HIGH, TARGET

from aimc.results import number

from . import _base

NAME = "predictor_identity"
TITLE = "Predicted against simulated ResNet-50 top-1 over the committed sweeps (aimc predict)"


def _tables() -> list[Path]:
    folder = _base.RESULTS_DIR / "predictor"
    return sorted(p for p in folder.glob("*.csv")) if folder.is_dir() else []


def plot(quick: bool = False) -> list[Path]:
    tables = _tables()
    if not tables:
        raise _base.FigureSkipped(f"{NAME}: no predictor CSV under {_base.RESULTS_DIR}/predictor yet; run "
                                  "`aimc validate predictor --results validation/results`, then "
                                  f"`aimc figures {NAME}`")
    return [_plot_model(path, quick) for path in tables]


def _plot_model(path: Path, quick: bool) -> Path:
    rows = [r for r in _base.read_rows(path) if r.get("predicted")]
    fig, (identity, errors) = _base.new_figure(1, 2, size=(12, 5.5))
    colours = _base.colormap("tab20").colors
    for colour, experiment in zip(colours, sorted({r["experiment"] for r in rows})):
        group = [r for r in rows if r["experiment"] == experiment]
        identity.scatter([100 * number(r, "simulated") for r in group], [100 * number(r, "predicted") for r in group],
                         s=14, color=colour, label=experiment, zorder=3)
    identity.scatter([100 * number(r, "simulated") for r in rows], [100 * number(r, "predicted_linear") for r in rows],
                     s=10, marker="x", color="0.6", lw=0.7, label="first order (no compounding)", zorder=2)
    top = 100 * max([number(r, "simulated") for r in rows] + [number(r, "predicted") for r in rows])
    line = np.array([0.0, top + 2])
    identity.plot(line, line, "k-", lw=0.8)
    identity.fill_between(line, line - 100 * TARGET, line + 100 * TARGET, color="0.85", zorder=0,
                          label=f"+-{100 * TARGET:.1f} points")
    identity.set(xlabel="simulated top-1, mean over chips (%)", ylabel="predicted top-1 (%)",
                 title=f"{path.stem}: {len(rows)} simulated points")
    identity.legend(fontsize=6, loc="upper left", ncols=2)
    _error_histogram(errors, rows)
    return _base.save_figure(fig, NAME, quick, suffix=f"-{path.stem}", dpi=130)


def _error_histogram(ax, rows: list[dict]) -> None:
    high = [r for r in rows if number(r, "simulated") > HIGH]
    bins = np.linspace(-10, 10, 41)
    for column, label, colour in (("error", "compounded", "tab:blue"), ("error_linear", "first order", "0.6")):
        values = np.clip([100 * number(r, column) for r in high], bins[0], bins[-1])
        within = np.mean(np.abs(values) <= 100 * TARGET) if len(values) else 0.0
        ax.hist(values, bins=bins, alpha=0.6, color=colour,
                label=f"{label}: {100 * within:.0f} % within {100 * TARGET:.1f} points")
    ax.axvspan(-100 * TARGET, 100 * TARGET, color="0.9", zorder=0)
    ax.set(xlabel="predicted - simulated (points; clipped at +-10)", ylabel="points",
           title=f"errors where the simulation is above {100 * HIGH:.0f} % ({len(high)} points)")
    ax.legend(fontsize=8)

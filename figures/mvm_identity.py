"""Theory against Monte Carlo at MVM level: the identity plot of the published validation sweep.

Plot-only: draws ``validation/results/mvm/*.csv`` (written by ``aimc validate mvm --out
validation/results/mvm``, :mod:`aimc.validation.mvm`) with that module's own identity plot
(:func:`aimc.validation.mvm.plot_identity`: theory relative RMS error against the Monte Carlo one with its
95 % interval, log-log, coloured by mapping, the +-3 % tolerance band, points outside it circled). The
sweep's design and its verdict rule are documented there. Skipped with a message while no CSV exists.
"""

from __future__ import annotations

from pathlib import Path

from . import _base

NAME = "mvm_identity"
TITLE = "Theory vs Monte Carlo relative RMS MVM error over the validation sweep (identity plot)"


def _csvs() -> list[Path]:
    folder = _base.RESULTS_DIR / "mvm"
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


def plot(quick: bool = False) -> list[Path]:
    rows = [row for path in _csvs() for row in _base.read_rows(path)]
    if not rows:
        raise _base.FigureSkipped(
            f"{NAME}: no MVM validation CSV under {_base.RESULTS_DIR / 'mvm'} yet; run "
            f"`aimc validate mvm --out validation/results/mvm`, then `aimc figures {NAME}`")
    try:
        from aimc.validation.mvm import plot_identity
    except ImportError as e:
        raise _base.FigureSkipped(f"{NAME}: aimc.validation.mvm is not available ({e})") from None
    return [_base.save_png(lambda tmp: plot_identity(rows, tmp), NAME, quick)]

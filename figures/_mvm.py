"""MVM-level pieces shared by the theory-vs-Monte-Carlo figures: the layer, one evaluation, the sweep's rows.

Full runs use the built-in synthetic layer (:func:`aimc.layers.synthetic_layer`: Laplace(0, 0.02) weights,
rectified-normal inputs, 1152 inputs x 256 outputs, 64 vectors). Quick runs use a smaller layer drawn by
the same recipe (same law, same seed, fewer rows, outputs and vectors). :func:`evaluate` is the comparison
of :mod:`aimc.validation.comparison` at a fixed chip count: one set of ADC ranges for both sides, the same
theory call, the same rule for which schemes are deterministic. :func:`sweep_rows` reads the validation
sweep (``aimc validate mvm``) for the plot-only figures ``mvm_identity`` and ``mvm_regimes``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo import simulate_mvm
from aimc.validation.comparison import adc_ranges, theory_budget

from aimc.layers import SYNTHETIC, Layer, quantize_layer, synthetic_layer
from aimc.scheme import Scheme

from . import _base

__all__ = ["QUICK_LAYER", "evaluate", "layer_for", "layer_label", "sweep_rows"]

QUICK_LAYER = {"outputs": 32, "inputs": 288, "vectors": 8}


def layer_for(quick: bool) -> Layer:
    if not quick:
        return synthetic_layer()
    rng = np.random.default_rng(SYNTHETIC["seed"])
    q = QUICK_LAYER
    w = rng.laplace(0.0, SYNTHETIC["laplace_scale"], size=(q["outputs"], q["inputs"]))
    x = np.maximum(rng.standard_normal(size=(q["vectors"], q["inputs"])), 0.0)
    return Layer(torch.from_numpy(w), torch.from_numpy(x), "synthetic-small")


def layer_label(quick: bool) -> str:
    """outputs x inputs x vectors of the layer (a key column of every MVM point)."""
    q = QUICK_LAYER if quick else SYNTHETIC
    return f"{'small' if quick else 'synthetic'} {q['outputs']}x{q['inputs']}x{q['vectors']}"


def evaluate(layer: Layer, scheme: Scheme, chips: int, seed: int = 0) -> dict:
    """Theory (closed-form budget) and Monte Carlo (``chips`` chips, float64) relative errors of one scheme,
    on the same ADC ranges.

    A scheme without a random device effect is deterministic: one chip is simulated whatever ``chips`` says.
    """
    q = quantize_layer(layer, scheme)
    ranges = adc_ranges(scheme, q)
    budget = theory_budget(q, scheme, ranges)
    row: dict = {"theory_relative_rms": budget.relative_rms, "theory_bias": budget.relative_bias}
    row.update({f"share_{s}": v for s, v in budget.by_source.items() if v != 0})
    result = simulate_mvm(q, scheme, chips=chips if scheme.device.random else 1, seed=seed, dtype=torch.float64,
                          ranges=ranges)
    summary = result.summary()
    ci = summary["relative_rms_ci"] or [math.nan, math.nan]
    row.update({
        "mc_relative_rms": summary["relative_rms"],
        "mc_ci_low": ci[0],
        "mc_ci_high": ci[1],
        "mc_bias": summary["bias"],
        "mc_chips": summary["chips"],
    })
    return row


def sweep_csv() -> Path:
    """The validation sweep's CSV: ``<results>/mvm/mvm.csv`` as ``aimc validate mvm`` writes it by default, or
    ``<results>/mvm.csv`` where ``--results`` names the sweep's own folder."""
    nested = _base.RESULTS_DIR / "mvm" / "mvm.csv"
    return nested if nested.is_file() else _base.RESULTS_DIR / "mvm.csv"


def sweep_rows(name: str) -> list[dict[str, str]]:
    """The finished rows of the validation sweep, or :class:`FigureSkipped` telling what to run first."""
    rows = [r for r in _base.read_rows(sweep_csv()) if not r.get("error_message")]
    if not rows:
        raise _base.FigureSkipped(
            f"{name}: no MVM validation CSV under {_base.RESULTS_DIR} (mvm/mvm.csv) yet; run "
            f"`aimc validate mvm --out {_base.RESULTS_DIR / 'mvm'}`, then `aimc figures {name} --results "
            f"{_base.RESULTS_DIR}`")
    return rows

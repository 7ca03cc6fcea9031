"""MVM-level points shared by the theory-vs-Monte-Carlo figures: the layer, and one evaluation.

Full runs use the built-in synthetic layer (:func:`aimc.layers.synthetic_layer`: Laplace(0, 0.02) weights,
rectified-normal inputs, 1152 inputs x 256 outputs, 64 vectors). Quick runs use a smaller layer drawn by
the same recipe (same law, same seed, fewer rows, outputs and vectors).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from aimc.montecarlo import simulate_mvm
from aimc.theory import error_budget

from aimc.layers import SYNTHETIC, Layer, quantize_layer, synthetic_layer
from aimc.scheme import Scheme

__all__ = ["QUICK_LAYER", "evaluate", "layer_for", "layer_label"]

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


def evaluate(layer: Layer, scheme: Scheme, chips: int, seed: int = 0, theory: bool = True) -> dict:
    """Theory (closed-form budget) and Monte Carlo (``chips`` chips, float64) relative errors of one scheme.

    Ideal devices are deterministic: one chip is simulated whatever ``chips`` says.
    """
    q = quantize_layer(layer, scheme)
    row: dict = {}
    if theory:
        with np.errstate(over="ignore"):  # far ADC tails of the Gaussian density overflow harmlessly to 0
            budget = error_budget(q, scheme)
        row.update({"theory_relative_rms": budget.relative_rms, "theory_bias": budget.relative_bias})
        row.update({f"share_{s}": v for s, v in budget.by_source.items() if v != 0})
    noisy = scheme.device.programming.active or scheme.device.read_noise.active
    result = simulate_mvm(q, scheme, chips=chips if noisy else 1, seed=seed, dtype=torch.float64)
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

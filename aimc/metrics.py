"""The error statistics reported by ``aimc simulate`` and ``aimc estimate``, defined once.

``relative_rms`` = sqrt(mean of squared error) / sqrt(mean of squared reference output), means over
outputs, input vectors and (for simulation) chips; the reference is the digital product of the quantised
weights and inputs. ``bias`` = mean error / sqrt(mean squared reference). The 95 % confidence interval of
a simulated ``relative_rms`` is taken over chips: a Student-t interval on the chips' mean squared errors,
mapped through the square root.
"""

from __future__ import annotations

import math

import torch
from scipy import stats

__all__ = ["error_summary", "reference_rms"]


def reference_rms(reference: torch.Tensor) -> float:
    rms = float(reference.to(torch.float64).pow(2).mean().sqrt())
    if rms == 0:
        raise ValueError("the digital reference output is identically zero; relative errors are undefined")
    return rms


def error_summary(outputs: torch.Tensor, reference: torch.Tensor, confidence: float = 0.95) -> dict:
    """Statistics of simulated outputs [chips, vectors, outputs] against the reference [vectors, outputs]."""
    err = outputs.to(torch.float64) - reference.to(torch.float64).unsqueeze(0)
    ref = reference_rms(reference)
    per_chip = err.pow(2).mean(dim=(1, 2))
    chips = per_chip.numel()
    mse = float(per_chip.mean())
    summary = {
        "relative_rms": math.sqrt(mse) / ref,
        "bias": float(err.mean()) / ref,
        "chips": chips,
        "relative_rms_ci": None,
    }
    if chips >= 2:
        half = (
            stats.t.ppf(0.5 + confidence / 2, chips - 1)
            * float(per_chip.std(unbiased=True))
            / math.sqrt(chips)
        )
        summary["relative_rms_ci"] = [math.sqrt(max(mse - half, 0.0)) / ref, math.sqrt(mse + half) / ref]
    return summary

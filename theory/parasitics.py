r"""Wire resistance to first order in r: a systematic, input-dependent error.

Gate/bit-line topology (the paper's Fig. 21; circuit conventions of :mod:`aimc.montecarlo.parasitics`):
cell i of a column conducts c_i = x_i g_i from the supply (1) to bit-line node i; segment k of resistance r
joins node k-1 to node k, node -1 being the virtual ground, so row 0 is nearest the ground. To zeroth order
every node is at 0 V and segment k carries the current of all cells at or beyond it, J_k = sum_{i>=k} c_i.
The node voltage is then V_i = r sum_{k<=i} J_k, and the output loses sum_i c_i V_i:

    I - I_ideal = -r sum_i c_i sum_{k<=i} J_k = -r sum_k J_k^2 + O(r^2)

(since sum_{i>=k} c_i = J_k). With all N cells on at g = 1: -r N (N+1)(2N+1)/6, i.e. a relative error
of about r N^2 / 3, the scale that sets the validity range: the first-order term is within 10 % of the
exact error while r N I_max <= :data:`VALIDITY_RN_IMAX` (measured against the exact solver in
tests/theory/test_parasitics.py; I_max = sum_i c_i <= N the column current in units of Gmax).
"""

from __future__ import annotations

import numpy as np

__all__ = ["VALIDITY_RN_IMAX", "gate_bitline_error", "relative_error_scale"]

VALIDITY_RN_IMAX = 0.24
"""r N I_max below which the first-order term is within 10 % of the exact error. Measured against the
exact solver (64 and 256 rows, random columns and inputs): the relative error of the first-order term is
0.40 r N I_max, I_max the largest column current (units of Gmax x input)."""


def gate_bitline_error(g: np.ndarray, x: np.ndarray, r: float, chunk: int = 16) -> np.ndarray:
    """First-order current error -r sum_k (sum_{i>=k} x_i g_ji)^2 for g [N, K] and inputs x [..., B, K].

    Returns [..., B, N] (same units as x @ g.T). Row 0 is nearest the virtual ground.
    """
    g = np.asarray(g, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty((flat.shape[0], g.shape[0]))
    for a in range(0, flat.shape[0], chunk):
        c = flat[a:a + chunk, None, :] * g[None]  # [b, N, K]
        suffix = np.cumsum(c[..., ::-1], axis=-1)
        out[a:a + chunk] = -r * np.sum(suffix**2, axis=-1)
    return out.reshape(*lead, g.shape[0])


def relative_error_scale(r: float, rows: int, current: float) -> float:
    """r N I_max: the dimensionless size of the parasitic error (validity below VALIDITY_RN_IMAX)."""
    return r * rows * current

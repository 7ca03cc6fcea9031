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

Row/column topology (1T1R crossbar; :func:`aimc.montecarlo.parasitics.solve_row_column`): input voltages
v_i drive row wires from their column-0 end, each group of ``array.columns`` outputs being one physical
array, and the column wires end in the virtual ground at row 0; every segment has resistance r. To zeroth
order cell (i, j) passes g_ij v_i. Row wire i then drops, at column j, r sum_{k<=j} sum_{m>=k} g_im v_i =
r v_i sum_m g_im (min(j, m) + 1) (m over the columns of j's array), and column wire j rises, at row i,
r sum_m g_mj v_m (min(i, m) + 1). Both shrink cell (i, j)'s voltage, so the output loses

    I_j - I_ideal,j = -r sum_i v_i g_ij [ sum_m g_im (min(j, m) + 1) + sum_m g_mj (min(i, m) + 1) ] + O(r^2),

which is linear in the inputs: a fixed effective conductance change per cell, -r g_ij (A_ij + B_ij).
With every cell at g = 1 it is about r (M^2 + N^2) / 3 of the current (M columns, N rows): both wires
count, and a wide array hurts as a tall one does. Unlike the gate topology, a cell whose input is 0 still
loads the column wire (its row sits at 0 V), so the size of the second-order remainder is set by the
conductances, not the currents: the first-order term is within 0.40 :func:`row_column_scale` of the exact
error (0.36-0.41 measured against the exact solver on 10 shapes from 16 x 256 to 64 x 1152 and 300 x 72,
tests/theory/test_parasitics.py), so within 10 % while that scale is <= :data:`VALIDITY_RN_IMAX`.
"""

from __future__ import annotations

import numpy as np

from aimc._arrays import is_tensor
from aimc.inputs import input_slices
from aimc.layers import QuantizedLayer
from aimc.mapping import column_groups, partitions
from aimc.scheme import Scheme

__all__ = ["ERROR_SLOPE", "VALIDITY_RN_IMAX", "gate_bitline_error", "parasitic_scale", "relative_error_scale",
           "row_column_error", "row_column_scale", "row_column_shift", "scale_name"]

ERROR_SLOPE = 0.40
"""The first-order term's relative error per unit of :func:`parasitic_scale` (both topologies; measured,
see VALIDITY_RN_IMAX and the module doc)."""

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


def _distance_weights(n: int) -> np.ndarray:
    """min(a, b) + 1 for a, b < n: the shared wire length (in segments) from the grounded or driven end."""
    idx = np.arange(n)
    return np.minimum.outer(idx, idx) + 1.0


def row_column_shift(g: np.ndarray, r: float, columns: int) -> np.ndarray:
    """The first-order effective conductance change -r g_ij (A_ij + B_ij) of every cell, [N, K] like ``g``.

    ``g`` [N outputs, K rows] of one row partition; each group of ``columns`` outputs is one physical
    array (its own row wires). A_ij = sum_m g_im (min(j, m) + 1) over the group's columns (row wire),
    B_ij = sum_m g_mj (min(i, m) + 1) over the rows (column wire). See the module doc.
    """
    g = np.asarray(g, dtype=np.float64)
    n, k = g.shape
    b_col = g @ _distance_weights(k)  # [N, K]: B[j, i] = sum_m g[j, m] (min(i, m) + 1)
    a_row = np.empty_like(g)
    for a0, a1 in column_groups(n, columns):
        a_row[a0:a1] = _distance_weights(a1 - a0) @ g[a0:a1]  # A[j, i] = sum_m (min(j, m) + 1) g[m, i]
    return -r * g * (a_row + b_col)


def row_column_error(g: np.ndarray, x: np.ndarray, r: float, columns: int) -> np.ndarray:
    """First-order current error of the row/column topology for g [N, K] and input voltages x [..., B, K]:
    x @ row_column_shift(g).T, [..., B, N] (same units as x @ g.T)."""
    return np.asarray(x, dtype=np.float64) @ row_column_shift(g, r, columns).T


def row_column_scale(g: np.ndarray, r: float, columns: int) -> float:
    """r (N G_col + M G_row): the dimensionless size of the row/column parasitic error (validity below
    :data:`VALIDITY_RN_IMAX`), for g [outputs, N rows] of one partition; G_col the largest total
    conductance of a column (all its cells, active or not), G_row that of a row within one physical array
    (``columns`` outputs), M the array's width."""
    g = np.asarray(g, dtype=np.float64)
    n = g.shape[0]
    g_row, width = 0.0, 0
    for a0, a1 in column_groups(n, columns):
        width = max(width, a1 - a0)
        g_row = max(g_row, float(g[a0:a1].sum(0).max()))
    return r * (g.shape[1] * float(g.sum(1).max()) + width * g_row)


def parasitic_scale(scheme: Scheme, q: QuantizedLayer) -> float:
    """The size of the first-order parasitic error of a layer under a scheme, 0 without wire resistance;
    the first-order term is within 0.40 of it (relative), so it is valid while this is <=
    :data:`VALIDITY_RN_IMAX`.

    gate_bitline: r N I_max (:func:`relative_error_scale`), N the rows of the largest partition, I_max the
    largest ideal column current of one read (units of Gmax x input code). row_column: the largest
    r (N G_col + M G_row) of :func:`row_column_scale` over the arrays, slices and partitions.
    """
    r = scheme.parasitics.r
    if r == 0:
        return 0.0
    import torch  # here, not at the top: the closed forms without wire resistance run without torch

    from aimc.pipeline import program_ideal

    w_int, x_int = (v if is_tensor(v) else torch.from_numpy(np.asarray(v)) for v in (q.w_int, q.x_int))
    ideal = program_ideal(w_int, scheme, torch.float64)
    parts = partitions(w_int.shape[1], scheme.array.rows)
    if scheme.parasitics.topology == "row_column":
        return max(row_column_scale(g[0, s, :, start:stop].numpy(), r, scheme.array.columns)
                   for g in ideal.tensors() for s in range(g.shape[1]) for start, stop in parts)
    i = scheme.inputs
    xs = input_slices(x_int, i.bits, i.slice_bits, q.signed_inputs).to(torch.float64).abs()
    worst, rows = 0.0, 0
    for start, stop in parts:
        rows = max(rows, stop - start)
        for g in ideal.tensors():
            cur = torch.einsum("snk,tbk->stbn", g[0, :, :, start:stop], xs[..., start:stop])
            worst = max(worst, float(cur.max()))
    return relative_error_scale(r, rows, worst)


def scale_name(topology: str) -> str:
    """What :func:`parasitic_scale` measures for ``topology``, as written in messages."""
    return "r N I_max" if topology == "gate_bitline" else "r (N G_col + M G_row)"

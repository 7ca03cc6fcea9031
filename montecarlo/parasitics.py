r"""Exact solvers for wire (parasitic) resistance in analog in-memory-computing arrays.

Two array circuits are solved exactly (direct linear solves, no fixed-point iteration),
plus a dense reference used by the tests.

Units (normalised, as in Xiao et al. 2022, Fig. 21)
---------------------------------------------------
* Conductances ``g`` are in units of ``Gmax``: ``g[i, j]`` in ``[g_min, 1]`` for programmed cells
  (any finite value ``>= 0`` is accepted).
* A wire segment's resistance is the dimensionless ``r = R_wire * Gmax``.
* Voltages are in units of the read voltage (drain supply = 1); currents in units of
  ``Gmax * V_read``.  The ideal (r = 0) output is therefore ``x @ g``.

Array indexing: ``g[i, j]`` is the cell on row ``i`` (input ``i``) and column ``j`` (output ``j``).
A leading chips dimension ``g[c, i, j]`` solves independent arrays with the same inputs.

Topology 1: ``solve_gate_bitline`` (the paper's topology, bit-line resistance only)
----------------------------------------------------------------------------------
Input bits drive transistor gates.  For input vector ``b``:

* Bit-line node ``(i, j)`` (row ``i``, column ``j``) has voltage ``V[b, i, j]``.
* Cell ``(i, j)``: conductance ``c_ij = x[b, i] * g[i, j]`` from the drain supply (1 V) to node
  ``(i, j)``; the cell is an open circuit when ``x[b, i] == 0``.
* Column ``j`` is a chain of segments of resistance ``r``: segment ``k`` (``k = 0 .. rows-1``)
  joins node ``(k-1, j)`` to node ``(k, j)``, where "node ``(-1, j)``" is the virtual ground
  (0 V).  So row 0 is the node NEAREST the grounded (bottom) end, and row ``rows-1`` is the far,
  open end of the column.  An open cell's node still conducts along the wire.
* Output: the current ``I[b, j] = V[b, 0, j] / r`` flowing through segment 0 into the ground.
  Kirchhoff: ``I[b, j] = sum_i c_ij * (1 - V[b, i, j])``.

First-order behaviour (small r): the current through segment ``k`` is, to zeroth order,
``sum_{m >= k} c_mj``, hence ``V[b, i, j] ~= r * sum_m c_mj * (min(i, m) + 1)`` and

    ideal - I  ~=  r * sum_{i, m} c_ij * c_mj * (min(i, m) + 1)  + O(r^2)

with ``ideal = sum_i c_ij``.

Topology 2: ``solve_row_column`` (1T1R crossbar, row and column resistance)
---------------------------------------------------------------------------
Inputs are voltages ``v[b, i]`` at the left end (driver) of row wire ``i``.

* Each cell has a row node ``R(i, j)`` and a column node ``C(i, j)``, joined by ``g[i, j]``.
* Row wire ``i``: segment ``k`` (``k = 0 .. cols-1``) of resistance ``r_row`` joins
  ``R(i, k-1)`` to ``R(i, k)``, where ``R(i, -1)`` is the driver held at ``v[b, i]``.  Column
  ``cols-1`` is the far, open end of the row.
* Column wire ``j``: segment ``k`` (``k = 0 .. rows-1``) of resistance ``r_col`` joins
  ``C(k-1, j)`` to ``C(k, j)``, where ``C(-1, j)`` is the virtual ground (0 V), i.e. as in
  topology 1, row 0 is nearest the grounded end of every column.
* Output: ``I[b, j] = C(0, j) / r_col`` into the virtual ground
  (``= sum_i g_ij (R(i, j) - C(i, j))``; when ``r_col == 0`` all column nodes are at 0 V).

First order: ``ideal - I[b, j] ~= sum_i g_ij [ r_row * v_i * sum_m g_im (min(j, m) + 1)
+ r_col * sum_m g_mj v_m (min(i, m) + 1) ]``.

Solvers, dtype and device
-------------------------
* ``solve_gate_bitline``: every column is a tridiagonal, diagonally dominant system, solved with
  the Thomas algorithm, eliminating from the open (far) end towards ground so that every pivot
  is ``1 + (positive terms)`` (no cancellation), written in a form that never divides by ``r``.
  Because every cell meets the same 1 V supply, the elimination reduces to one admittance
  recurrence per column, ``Y <- c + Y / (1 + r Y)``, ``I = Y / (1 + r Y)``; open cells (input bit
  0) only lengthen the wire between active rows, so for the currents each vector steps through its
  active rows only, ``Y <- c + Y / (1 + m r Y)`` across ``m`` segments (``_bitline_currents``
  derives both).  Vectorised in torch over chips, input vectors and columns; runs in ``g``'s
  dtype (float32 or float64) on ``g``'s device.  Input vectors are processed ``chunk`` at a time
  to bound memory.
* ``solve_row_column``: if ``r_row == 0`` (``r_col == 0``) the row (column) wires are
  equipotential and the problem reduces to independent tridiagonal chains, solved as above in
  ``g``'s dtype/device.  If both are ``> 0`` the coupled system (``2 * rows * cols`` unknowns) is
  LU-factorised once per chip with ``scipy.sparse.linalg.splu`` on the CPU in float64 and solved
  for ``chunk`` input vectors at a time; the result is cast back to ``g``'s dtype and device.
* ``dense_nodal_solve``: REFERENCE ONLY (tests, small arrays).  Builds the full nodal
  conductance matrix of every node (including ground, supply and drivers) in numpy float64 and
  solves it with ``numpy.linalg.solve``.

This module must not import the theory package.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

__all__ = ["dense_nodal_solve", "solve_gate_bitline", "solve_row_column"]

Tensor = torch.Tensor

_CPU_SWEEP_ELEMENTS = 1 << 18
"""Most elements of one sweep buffer [chips, vectors, cols] on the CPU: a cache-sized block measured
~2x faster than one of 27k vectors x 64 columns (each vector's currents do not depend on its chunk)."""


# --------------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------------


def _check_resistance(value: float, name: str) -> float:
    try:
        r = float(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be a finite real number >= 0, got {value!r}") from exc
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"{name} must be a finite real number >= 0 (normalised R_wire * Gmax), got {r}")
    return r


def _check_chunk(chunk: int) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int (input vectors per block), got {chunk!r}")
    return chunk


def _check_g(g: Tensor) -> Tensor:
    """g: float32/float64 tensor of shape [rows, cols] or [chips, rows, cols], finite, >= 0."""
    g = torch.as_tensor(g)
    if g.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"g must have dtype float32 or float64, got {g.dtype}")
    if g.dim() not in (2, 3) or g.shape[-1] == 0 or g.shape[-2] == 0:
        raise ValueError(
            f"g must have shape [rows, cols] or [chips, rows, cols] (non-empty), got {tuple(g.shape)}"
        )
    if not bool(torch.isfinite(g).all()):
        raise ValueError("g must be finite: conductances must lie in [0, inf), found NaN or inf")
    if bool((g < 0).any()):
        raise ValueError("g must lie in [0, inf) (units of Gmax), found negative conductances")
    return g


def _as_inputs(inp, g: Tensor, name: str) -> Tensor:
    """Inputs: shape [batch, rows], real, cast to g's dtype and device."""
    t = torch.as_tensor(inp)
    if t.dim() != 2 or t.shape[1] != g.shape[-2]:
        raise ValueError(
            f"{name} must have shape [batch, rows] with rows = g.shape[-2] = {g.shape[-2]}, got {tuple(t.shape)}"
        )
    if t.is_complex():
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    return t.to(device=g.device, dtype=g.dtype)


def _check_inputs(inp, g: Tensor, name: str) -> Tensor:
    """Inputs: shape [batch, rows], cast to g's dtype and device; must be finite."""
    t = _as_inputs(inp, g, name)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return t


def _check_bits(x, g: Tensor) -> Tensor:
    x = _as_inputs(x, g, "x")
    if not bool(((x == 0) | (x == 1)).all()):  # bits are finite: test finiteness only to explain
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite, found NaN or inf")
        raise ValueError("x must contain only input bits 0 or 1 (they switch transistor gates)")
    return x


# --------------------------------------------------------------------------------------------
# Exact tridiagonal chain solver (Thomas algorithm, eliminated from the open end)
# --------------------------------------------------------------------------------------------


def _chain_solve(
    n: int,
    cond: Callable[[int], Tensor],
    src: Callable[[int], Tensor],
    r: float,
    return_voltages: bool,
) -> tuple[Tensor, Tensor | None]:
    """Solve a resistive chain exactly, vectorised over all other dimensions.

    Node k (k = 0..n-1) is joined to node k-1 by resistance r, node -1 being a terminal at 0 V;
    node n-1 is the open end.  Node k has conductance ``c_k = cond(k)`` to a source of voltage
    s_k, with ``src(k) = c_k * s_k``.  Scaled by r, KCL at node k reads
        (2 + r c_k) V_k - V_{k-1} - V_{k+1} = r c_k s_k   (1 + r c_k for the open end, V_{-1} = 0).
    Eliminating V_{k+1} from the open end down gives pivots d_k = 1 + e_k and right-hand sides
    r * beta_k with
        e_k = r c_k + e_{k+1} / (1 + e_{k+1}),   beta_k = c_k s_k + beta_{k+1} / (1 + e_{k+1}),
    all terms non-negative for c >= 0, so there is no cancellation and no division by r.
    Returns the current into the terminal, I = V_0 / r = beta_0 / (1 + e_0), and optionally the
    node voltages V_k = (r beta_k + V_{k-1}) / (1 + e_k) stacked along dim -2.
    """
    c = cond(n - 1)
    e = r * c
    beta = src(n - 1)
    es, betas = [e], [beta]
    for k in range(n - 2, -1, -1):
        t = 1.0 / (1.0 + e)
        e = r * cond(k) + e * t
        beta = src(k) + beta * t
        if return_voltages:
            es.append(e)
            betas.append(beta)
    current = beta / (1.0 + e)
    if not return_voltages:
        return current, None
    es.reverse()
    betas.reverse()
    volts = [r * current]
    for k in range(1, n):
        volts.append((r * betas[k] + volts[-1]) / (1.0 + es[k]))
    return current, torch.stack(volts, dim=-2)


def _chunks(batch: int, chunk: int) -> list[slice]:
    return [slice(s, min(s + chunk, batch)) for s in range(0, batch, chunk)]


def _as_chips(g: Tensor) -> Tensor:
    return g if g.dim() == 3 else g.unsqueeze(0)


def _squeeze_chips(t: Tensor, had_chips: bool) -> Tensor:
    return t if had_chips else t.squeeze(0)


# --------------------------------------------------------------------------------------------
# Topology 1: gate-driven cells, bit-line resistance only
# --------------------------------------------------------------------------------------------


def solve_gate_bitline(
    g: Tensor,
    x: Tensor,
    r: float,
    *,
    chunk: int = 256,
    return_voltages: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Column currents of the gate-driven array with bit-line resistance ``r`` (see module doc).

    Args:
        g: conductances, [rows, cols] or [chips, rows, cols], float32/float64, finite, >= 0.
        x: input bits, [batch, rows], values exactly 0 or 1 (any dtype).
        r: bit-line segment resistance R_wire * Gmax, finite, >= 0.
        chunk: input vectors solved together (bounds memory to ~chunk * rows * cols elements
            per chip when voltages are requested, ~chunk * (cols + rows) otherwise).
        return_voltages: also return the bit-line node voltages.

    Returns:
        I: [batch, cols] (or [chips, batch, cols]), current into the virtual ground, in g's
        dtype and device.  With ``return_voltages``: ``(I, V)`` where V is [batch, rows, cols]
        (or [chips, batch, rows, cols]), V[..., b, i, j] the voltage of bit-line node (i, j).
    """
    g = _check_g(g)
    x = _check_bits(x, g)
    r = _check_resistance(r, "r")
    chunk = _check_chunk(chunk)
    if r == 0.0:
        current = torch.matmul(x, g)  # ideal product, exactly x @ g
        if not return_voltages:
            return current
        return current, g.new_zeros(*current.shape[:-1], g.shape[-2], g.shape[-1])

    had_chips = g.dim() == 3
    g3 = _as_chips(g)  # [chips, rows, cols]
    if not return_voltages:
        if g.device.type == "cpu":  # the CPU sweeps fastest with its state in cache (results: the same)
            chunk = min(chunk, max(1, _CPU_SWEEP_ELEMENTS // (g3.shape[0] * g3.shape[2])))
        g_open = torch.cat([g3, g3.new_zeros(g3.shape[0], 1, g3.shape[2])], dim=1)  # row `rows`: no cell
        parts = [_bitline_currents(g_open, x[sl], r) for sl in _chunks(x.shape[0], chunk)]
        return _squeeze_chips(torch.cat(parts, dim=1), had_chips)
    currents, voltages = [], []
    for sl in _chunks(x.shape[0], chunk):
        xb = x[sl]  # [B, rows]

        def cond(k: int, xb: Tensor = xb) -> Tensor:  # c_k = x[b, k] * g[k, j] -> [chips, B, cols]
            return xb[None, :, k, None] * g3[:, None, k, :]

        cur, volt = _chain_solve(g3.shape[1], cond, cond, r, True)  # supply at s = 1: src = cond
        currents.append(cur)
        voltages.append(volt)
    current = _squeeze_chips(torch.cat(currents, dim=1), had_chips)
    return current, _squeeze_chips(torch.cat(voltages, dim=1), had_chips)


def _add_row(y: Tensor, cell: Tensor, r_gap: Tensor | float, den: Tensor) -> Tensor:
    """``cell + y / (1 + r_gap * y)`` written into ``cell``: the admittance one row lower.

    ``den`` is scratch space.  Elementwise, correctly rounded operations (the product and the sum in
    the denominator are not fused), so a vector's result does not depend on where it sits in the batch.
    """
    torch.mul(y, r_gap, out=den)
    den.add_(1.0)
    return cell.addcdiv_(y, den)


def _bitline_currents(g_open: Tensor, xb: Tensor, r: float) -> Tensor:
    """Currents [chips, B, cols] of the gate-driven bit lines, skipping every open cell.

    ``g_open`` is g [chips, rows + 1, cols] with an all-zero row appended (index ``rows``).

    Every cell joins the same 1 V supply, so the part of a column above a bit-line node is a
    two-terminal network between that node and the supply: a conductance.  Let ``Y_k`` be the
    conductance, seen from node k, of node k's cell in parallel with everything above it.  Segment
    k + 1 (resistance r) in series with ``Y_{k+1}`` conducts ``Y_{k+1} / (1 + r Y_{k+1})``, so
        Y_{rows-1} = c_{rows-1},   Y_k = c_k + Y_{k+1} / (1 + r Y_{k+1}),   I = Y_0 / (1 + r Y_0),
    the ground segment 0 being in series with ``Y_0`` and the supply at 1 V.  (This is the Thomas
    elimination of ``_chain_solve`` with s = 1: there ``beta_k = e_k / r = Y_k``.)  An open cell
    (x = 0, c = 0) only adds wire: resistances in series add, so for consecutive ACTIVE rows
    a > a' of one vector, a - a' segments apart,
        Y_{a'} = c_{a'} + Y_a / (1 + (a - a') r Y_a),
    and the lowest active row a_0 reaches ground through a_0 + 1 segments: I = Y / (1 + (a_0 + 1) r Y).
    The same circuit, solved in as many steps as the busiest vector of the chunk has active rows
    instead of ``rows``; every term is non-negative (no cancellation) and nothing is divided by r.

    Implementation: each vector's active rows, highest first, then -1 (the ground terminal), padded
    with -1 to a common length.  A -1 entry gathers the zero row and its gap to a preceding -1 is 0;
    a step with ``c = 0`` and gap 0 leaves Y unchanged exactly, so padding is inert and the final Y
    is I (exactly 0 for a vector with no active row).
    """
    counts = xb.sum(dim=1).long()  # active rows per vector
    steps = int(counts.max()) + 1  # the busiest vector's active rows, then the ground
    vec, row = xb.bool().nonzero(as_tuple=True)  # row-major: each vector's rows ascending
    rank = counts.cumsum(0)[vec] - 1 - torch.arange(vec.numel(), device=xb.device)  # 0: highest row
    order = torch.full((steps, xb.shape[0]), -1, dtype=torch.long, device=xb.device)
    order[rank, vec] = row  # [steps, B]: step q of vector b is row order[q, b] (-1: ground)
    r_gap = (r * (order[:-1] - order[1:]).to(g_open.dtype)).unsqueeze(-1)  # [steps - 1, B, 1]
    index = torch.where(order < 0, g_open.shape[1] - 1, order)  # -1 -> the zero row
    y = g_open.index_select(1, index[0])  # [chips, B, cols]
    cell, den = torch.empty_like(y), torch.empty_like(y)
    for q in range(1, steps):
        torch.index_select(g_open, 1, index[q], out=cell)
        y, cell = _add_row(y, cell, r_gap[q - 1], den), y
    return y


# --------------------------------------------------------------------------------------------
# Topology 2: voltage-driven rows, row and column resistance (1T1R crossbar)
# --------------------------------------------------------------------------------------------


def solve_row_column(
    g: Tensor,
    v: Tensor,
    r_row: float,
    r_col: float,
    *,
    chunk: int = 256,
    return_voltages: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Column currents of the voltage-driven crossbar with row and column wire resistance.

    Args:
        g: conductances, [rows, cols] or [chips, rows, cols], float32/float64, finite, >= 0.
        v: row driver voltages, [batch, rows], finite (any sign).
        r_row, r_col: row / column segment resistances R_wire * Gmax, finite, >= 0.
        chunk: input vectors solved together.
        return_voltages: also return row-node and column-node voltages.

    Returns:
        I: [batch, cols] (or [chips, batch, cols]) current into the virtual ground, in g's
        dtype and device.  With ``return_voltages``: ``(I, V_row, V_col)``, each voltage
        [batch, rows, cols] (or [chips, batch, rows, cols]) for nodes R(i, j) and C(i, j).

    Both resistances > 0 use a float64 sparse LU on the CPU (see module doc); otherwise exact
    tridiagonal chains in g's dtype on g's device.
    """
    g = _check_g(g)
    v = _check_inputs(v, g, "v")
    r_row = _check_resistance(r_row, "r_row")
    r_col = _check_resistance(r_col, "r_col")
    chunk = _check_chunk(chunk)
    had_chips = g.dim() == 3
    g3 = _as_chips(g)
    if r_row == 0.0 and r_col == 0.0:
        current = torch.matmul(v, g)
        if not return_voltages:
            return current
        v_row = torch.broadcast_to(v[:, :, None], (*current.shape[:-1], g.shape[-2], g.shape[-1]))
        return current, v_row.clone(), torch.zeros_like(v_row)
    if r_row == 0.0:
        solver = _rc_column_chains
        r_arg = r_col
    elif r_col == 0.0:
        solver = _rc_row_chains
        r_arg = r_row
    else:
        solver = _rc_sparse
        r_arg = (r_row, r_col)
    parts = [solver(g3, v[sl], r_arg) for sl in _chunks(v.shape[0], chunk)]
    current, v_row, v_col = (torch.cat(p, dim=1) for p in zip(*parts))
    current = _squeeze_chips(current, had_chips)
    if not return_voltages:
        return current
    return current, _squeeze_chips(v_row, had_chips), _squeeze_chips(v_col, had_chips)


def _rc_column_chains(g3: Tensor, vb: Tensor, r_col: float) -> tuple[Tensor, Tensor, Tensor]:
    """r_row == 0: row nodes sit at v_i; each column is a chain with cells g_ij to sources v_i."""

    def cond(k: int) -> Tensor:  # [chips, 1, cols], broadcasts against src
        return g3[:, None, k, :]

    def src(k: int) -> Tensor:  # g_kj * v_k -> [chips, B, cols]
        return g3[:, None, k, :] * vb[None, :, k, None]

    current, v_col = _chain_solve(g3.shape[1], cond, src, r_col, True)
    current = torch.broadcast_to(current, (g3.shape[0], vb.shape[0], g3.shape[2]))
    v_col = torch.broadcast_to(v_col, (g3.shape[0], vb.shape[0], *g3.shape[1:]))
    v_row = torch.broadcast_to(vb[None, :, :, None], v_col.shape)
    return current, v_row.clone(), v_col.clone()


def _rc_row_chains(g3: Tensor, vb: Tensor, r_row: float) -> tuple[Tensor, Tensor, Tensor]:
    """r_col == 0: column nodes sit at 0 V; each row is a chain fed by its driver.

    Shifting voltages by -v_i puts the driver terminal at 0 V and the cells' far ends at -v_i,
    which is the chain of ``_chain_solve`` laid along the columns.
    """
    gt = g3.transpose(1, 2)  # [chips, cols, rows]: chain index k = column

    def cond(k: int) -> Tensor:  # [chips, 1, rows]
        return gt[:, None, k, :]

    def src(k: int) -> Tensor:  # g_ik * (-v_i) -> [chips, B, rows]
        return -gt[:, None, k, :] * vb[None, :, :]

    _, shifted = _chain_solve(g3.shape[2], cond, src, r_row, True)  # [chips, B, cols, rows]
    v_row = shifted.transpose(-1, -2) + vb[None, :, :, None]  # [chips, B, rows, cols]
    v_row = torch.broadcast_to(v_row, (g3.shape[0], vb.shape[0], *g3.shape[1:]))
    current = (g3[:, None] * v_row).sum(dim=-2)  # column wires are ideal: cell currents sum
    return current, v_row.clone(), torch.zeros_like(v_row)


def _rc_matrix(g: np.ndarray, r_row: float, r_col: float) -> scipy.sparse.csc_matrix:
    """Nodal matrix over unknowns R(i, j) -> i*cols + j and C(i, j) -> rows*cols + i*cols + j."""
    rows, cols = g.shape
    n = rows * cols
    idx = np.arange(n).reshape(rows, cols)
    a_r, a_c = 1.0 / r_row, 1.0 / r_col
    ia, ib, y = [], [], []

    def link(a: np.ndarray, b: np.ndarray, cond: np.ndarray | float) -> None:
        w = np.broadcast_to(cond, a.shape).ravel()
        a, b = a.ravel(), b.ravel()
        ia.extend([a, b])
        ib.extend([b, a])
        y.extend([w, w])

    link(idx[:, :-1], idx[:, 1:], a_r)  # row segments between cells
    link(n + idx[:-1, :], n + idx[1:, :], a_c)  # column segments between cells
    link(idx, n + idx, g)  # cells
    a = np.concatenate(ia)
    b = np.concatenate(ib)
    w = np.concatenate(y)
    diag = np.bincount(a, weights=w, minlength=2 * n)
    diag[idx[:, 0]] += a_r  # driver segment of every row
    diag[n + idx[0, :]] += a_c  # ground segment of every column
    off = scipy.sparse.coo_matrix((-w, (a, b)), shape=(2 * n, 2 * n))
    return (off + scipy.sparse.diags(diag)).tocsc()


def _rc_sparse(g3: Tensor, vb: Tensor, rr: tuple[float, float]) -> tuple[Tensor, Tensor, Tensor]:
    """Both resistances > 0: exact sparse LU solve, CPU float64, one factorisation per chip."""
    r_row, r_col = rr
    chips, rows, cols = g3.shape
    n = rows * cols
    g_np = g3.detach().to("cpu", torch.float64).numpy()
    v_np = vb.detach().to("cpu", torch.float64).numpy()  # [B, rows]
    rhs = np.zeros((2 * n, v_np.shape[0]))
    rhs[np.arange(rows) * cols, :] = v_np.T / r_row  # drivers feed R(i, 0) through r_row
    sols = [scipy.sparse.linalg.splu(_rc_matrix(g_np[c], r_row, r_col)).solve(rhs) for c in range(chips)]
    sol = np.stack(sols).transpose(0, 2, 1)  # [chips, B, 2n]
    v_row = sol[:, :, :n].reshape(chips, -1, rows, cols)
    v_col = sol[:, :, n:].reshape(chips, -1, rows, cols)
    current = v_col[:, :, 0, :] / r_col

    def back(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=g3.device, dtype=g3.dtype)

    return back(current), back(v_row), back(v_col)


# --------------------------------------------------------------------------------------------
# Dense reference (tests only)
# --------------------------------------------------------------------------------------------


def dense_nodal_solve(
    g,
    inputs,
    *,
    topology: Literal["gate_bitline", "row_column"],
    r: float | None = None,
    r_row: float | None = None,
    r_col: float | None = None,
    return_voltages: bool = False,
):
    """REFERENCE ONLY: dense float64 nodal analysis of a small array (O(nodes^3) per input).

    Builds the full conductance matrix over every node of the circuit -- ground, supply or
    drivers, and all wire nodes -- and solves the free nodes with ``numpy.linalg.solve`` given
    the fixed ones.  A zero-resistance wire is equipotential with its terminal, so its nodes are
    fixed instead of being joined by an infinite conductance.  Conventions as in the module doc.

    Args:
        g: [rows, cols] conductances (2-D only).
        inputs: [batch, rows]; bits x for ``gate_bitline``, voltages v for ``row_column``.
        topology: ``"gate_bitline"`` (needs ``r``) or ``"row_column"`` (needs ``r_row``, ``r_col``).

    Returns numpy float64 ``I`` [batch, cols]; with ``return_voltages`` also ``V`` [batch, rows,
    cols] (gate_bitline) or ``V_row, V_col`` (row_column).
    """
    gt = _check_g(torch.as_tensor(np.asarray(g, dtype=np.float64)))
    if gt.dim() != 2:
        raise ValueError(f"g must have shape [rows, cols] for the dense reference, got {tuple(gt.shape)}")
    g_np = gt.numpy()
    if topology == "gate_bitline":
        if r is None or r_row is not None or r_col is not None:
            raise ValueError("topology 'gate_bitline' takes r only (not r_row / r_col)")
        x = _check_bits(torch.as_tensor(np.asarray(inputs)), gt).numpy()
        out = _dense_gate_bitline(g_np, x, _check_resistance(r, "r"))
        return out if return_voltages else out[0]
    if topology == "row_column":
        if r_row is None or r_col is None or r is not None:
            raise ValueError("topology 'row_column' takes r_row and r_col (not r)")
        v = _check_inputs(torch.as_tensor(np.asarray(inputs)), gt, "v").numpy()
        out = _dense_row_column(g_np, v, _check_resistance(r_row, "r_row"), _check_resistance(r_col, "r_col"))
        return out if return_voltages else out[0]
    raise ValueError(f"topology must be 'gate_bitline' or 'row_column', got {topology!r}")


def _stamp(G: np.ndarray, a: int, b: int, y: float) -> None:
    G[a, a] += y
    G[b, b] += y
    G[a, b] -= y
    G[b, a] -= y


def _dense_partition_solve(G: np.ndarray, fixed: np.ndarray, v_fixed: np.ndarray) -> np.ndarray:
    """Solve G V = 0 on free nodes given fixed voltages; v_fixed is [nodes, batch]."""
    free = ~fixed
    V = v_fixed.copy()
    if not free.any():
        return V
    rhs = -G[np.ix_(free, fixed)] @ v_fixed[fixed]
    V[free] = np.linalg.solve(G[np.ix_(free, free)], rhs)
    return V


def _dense_gate_bitline(g: np.ndarray, x: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = g.shape
    ground, supply = 0, 1

    def node(i: int, j: int) -> int:
        return 2 + i * cols + j

    n_nodes = 2 + rows * cols
    fixed = np.zeros(n_nodes, dtype=bool)
    fixed[[ground, supply]] = True
    if r == 0.0:
        fixed[2:] = True  # ideal bit lines are shorted to ground
    currents, volts = [], []
    for xb in x:
        G = np.zeros((n_nodes, n_nodes))
        for i in range(rows):
            for j in range(cols):
                _stamp(G, supply, node(i, j), xb[i] * g[i, j])
                if r > 0.0:
                    _stamp(G, ground if i == 0 else node(i - 1, j), node(i, j), 1.0 / r)
        v_fixed = np.zeros((n_nodes, 1))
        v_fixed[supply] = 1.0
        V = _dense_partition_solve(G, fixed, v_fixed)[:, 0]
        Vb = V[2:].reshape(rows, cols)
        currents.append(Vb[0] / r if r > 0.0 else xb @ g)
        volts.append(Vb)
    return np.array(currents), np.array(volts)


def _dense_row_column(
    g: np.ndarray, v: np.ndarray, r_row: float, r_col: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = g.shape
    ground = 0

    def driver(i: int) -> int:
        return 1 + i

    def rnode(i: int, j: int) -> int:
        return 1 + rows + i * cols + j

    def cnode(i: int, j: int) -> int:
        return 1 + rows + rows * cols + i * cols + j

    n_nodes = 1 + rows + 2 * rows * cols
    G = np.zeros((n_nodes, n_nodes))
    fixed = np.zeros(n_nodes, dtype=bool)
    v_fixed = np.zeros((n_nodes, v.shape[0]))
    fixed[ground] = True
    for i in range(rows):
        fixed[driver(i)] = True
        v_fixed[driver(i)] = v[:, i]
        for j in range(cols):
            _stamp(G, rnode(i, j), cnode(i, j), g[i, j])
            if r_row > 0.0:
                _stamp(G, driver(i) if j == 0 else rnode(i, j - 1), rnode(i, j), 1.0 / r_row)
            else:  # ideal row wire: node at the driver's voltage
                fixed[rnode(i, j)] = True
                v_fixed[rnode(i, j)] = v[:, i]
            if r_col > 0.0:
                _stamp(G, ground if i == 0 else cnode(i - 1, j), cnode(i, j), 1.0 / r_col)
            else:  # ideal column wire: node at ground
                fixed[cnode(i, j)] = True
    V = _dense_partition_solve(G, fixed, v_fixed)  # [nodes, batch]
    base = 1 + rows
    v_row = V[base : base + rows * cols].T.reshape(-1, rows, cols)
    v_col = V[base + rows * cols :].T.reshape(-1, rows, cols)
    if r_col > 0.0:
        current = v_col[:, 0, :] / r_col
    else:
        current = (g[None] * v_row).sum(axis=1)
    return current, v_row, v_col

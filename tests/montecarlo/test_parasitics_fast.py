"""The gate-driven bit-line currents skip open cells: checks against the dense nodal reference.

``solve_gate_bitline`` without voltages steps each input vector through its active rows only, joining the
open rows between them into one series resistance; these tests aim at what that could get wrong: runs of
open rows (first, last, all, all but one), both dtypes, chunk boundaries, and the engine's hook.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aimc.montecarlo.engine import CurrentModel
from aimc.montecarlo.parasitics import dense_nodal_solve, solve_gate_bitline

R_VALUES = [1e-6, 1e-4, 1e-3, 1e-2]


def _array(rows: int, cols: int, seed: int, chips: int | None = None) -> torch.Tensor:
    """Conductances in [0.02, 1] with a few exact zeros (unprogrammed cells), float64."""
    rng = np.random.default_rng(seed)
    shape = (rows, cols) if chips is None else (chips, rows, cols)
    g = rng.uniform(0.02, 1.0, shape)
    g[rng.random(shape) < 0.1] = 0.0
    return torch.tensor(g)


def _open_runs(rows: int, seed: int) -> torch.Tensor:
    """Input bits [batch, rows] with runs of open rows of every kind, then random vectors."""
    rng = np.random.default_rng(seed)
    x = [np.zeros(rows), np.ones(rows)]  # all open, all active
    for row in {0, rows // 2, rows - 1}:  # a single active row: nearest ground, middle, far end
        one = np.zeros(rows)
        one[row] = 1.0
        x.append(one)
    ends = np.zeros(rows)
    ends[[0, -1]] = 1.0  # everything between the two ends open
    x.append(ends)
    for density in (0.11, 0.5, 0.9):
        x.append((rng.random(rows) < density).astype(float))
    inner = (rng.random(rows) < 0.5).astype(float)
    inner[[0, -1]] = 0.0  # open first and last rows
    x.append(inner)
    blocks = np.ones(rows)
    for start in rng.integers(0, rows, 3):  # long open runs
        blocks[start : start + rng.integers(1, max(2, rows // 2))] = 0.0
    x.append(blocks)
    return torch.tensor(np.array(x))


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("rows,cols", [(1, 3), (2, 4), (7, 5), (40, 3), (150, 1)])
@pytest.mark.parametrize("r", R_VALUES)
def test_currents_match_dense_reference(rows, cols, r):
    g, x = _array(rows, cols, rows), _open_runs(rows, rows)
    current = solve_gate_bitline(g, x, r)
    ref = dense_nodal_solve(g, x, topology="gate_bitline", r=r)
    assert _rel_err(current, ref) < 1e-10
    assert torch.all(current[0] == 0)  # no active row: exactly no current
    ideal = (x @ g).numpy()
    drop, ref_drop = ideal - current.numpy(), ideal - ref
    active = ref_drop > 0
    assert np.all(np.abs(drop - ref_drop)[active] <= 1e-7 * ref_drop[active] + 1e-15)  # the IR drop itself


@pytest.mark.parametrize("r", R_VALUES)
def test_float32_matches_float64_reference(r):
    g, x = _array(40, 6, 1, chips=2), _open_runs(40, 1)
    current = solve_gate_bitline(g.float(), x, r)
    assert current.dtype == torch.float32
    for c in range(2):
        ref = dense_nodal_solve(g[c], x, topology="gate_bitline", r=r)
        assert _rel_err(current[c], ref) < 2e-6


def test_sparse_inputs_on_a_long_column_match_dense_reference():
    """A realistic column length with ~11 % active rows (1-bit input slices), one column at a time."""
    rows, r = 300, 1e-3
    g = _array(rows, 2, 2)
    x = torch.tensor((np.random.default_rng(2).random((6, rows)) < 0.11).astype(float))
    current = solve_gate_bitline(g, x, r)
    for j in range(2):
        ref = dense_nodal_solve(g[:, j : j + 1], x, topology="gate_bitline", r=r)[:, 0]
        assert _rel_err(current[:, j], ref) < 1e-10
        ideal = (x @ g[:, j]).numpy()
        assert np.all(np.abs((ideal - current[:, j].numpy()) / (ideal - ref) - 1.0) < 1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chunk_boundaries_are_invisible(dtype):
    """Each vector's steps do not depend on its chunk (padding steps are exact identities)."""
    rows = 23
    g = _array(rows, 5, 3, chips=2).to(dtype)
    x = torch.cat([_open_runs(rows, 3), torch.tensor(np.random.default_rng(3).random((9, rows)) < 0.2)])
    whole = solve_gate_bitline(g, x, 0.01, chunk=x.shape[0])
    for chunk in (1, 2, 5, 12, x.shape[0] - 1, 1000):
        assert torch.equal(solve_gate_bitline(g, x, 0.01, chunk=chunk), whole)
    swept = solve_gate_bitline(g, x, 0.01, return_voltages=True)[0]  # every row a step, no skipping
    assert _rel_err(whole, swept) < (1e-5 if dtype == torch.float32 else 1e-13)


@pytest.mark.parametrize("budget", [40, 1 << 25])
def test_current_model_matches_dense_reference(mc, budget):
    """The engine's hook (signed 1-bit slices, chunks from its element budget) against per-read solves."""
    r, kp = 5e-3, 9
    s = mc.scheme(parasitics__r=r)
    g = _array(3, kp, 4, chips=2)  # [C, N, Kp]
    rng = np.random.default_rng(4)
    x = rng.integers(-1, 2, (3, 5, kp)).astype(float)  # [T, B, Kp]
    x[0, 0] = 0.0
    x[0, 1] = 1.0
    x[1, 0] = -1.0
    x[1, 1, :-1] = 0.0
    x[2, 0, 1:] = 0.0
    x = torch.tensor(x)
    got = CurrentModel(s, None, budget=budget)(g, x)
    expected = np.zeros((2, 3, 5, 3))
    for c in range(2):
        for t in range(3):
            pos = dense_nodal_solve(g[c].T, x[t].clamp(min=0), topology="gate_bitline", r=r)
            neg = dense_nodal_solve(g[c].T, (-x[t]).clamp(min=0), topology="gate_bitline", r=r)
            expected[c, t] = pos - neg
    assert _rel_err(got, expected) < 1e-10
    assert float(np.abs(got.numpy() - np.einsum("tbk,cnk->ctbn", x.numpy(), g.numpy())).max()) > 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    g, x = _array(40, 6, 5, chips=2).to(dtype), _open_runs(40, 5)
    out = solve_gate_bitline(g.cuda(), x.cuda(), 0.01, chunk=4)
    assert out.device.type == "cuda"
    tol = 1e-6 if dtype == torch.float32 else 1e-13
    torch.testing.assert_close(out.cpu(), solve_gate_bitline(g, x, 0.01), rtol=tol, atol=0)

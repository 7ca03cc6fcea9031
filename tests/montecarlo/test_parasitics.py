"""Tests for aimc.montecarlo.parasitics: exact wire-resistance solvers vs a dense nodal reference."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest
import torch
from aimc.montecarlo import parasitics
from aimc.montecarlo.parasitics import dense_nodal_solve, solve_gate_bitline, solve_row_column

R_VALUES = [1e-6, 1e-4, 1e-2, 1e-1]
SHAPES = [(7, 5), (16, 9)]


def _array(rows: int, cols: int, seed: int, chips: int | None = None) -> torch.Tensor:
    """Conductances in [0.02, 1] with a few exact zeros (unprogrammed cells)."""
    rng = np.random.default_rng(seed)
    shape = (rows, cols) if chips is None else (chips, rows, cols)
    g = rng.uniform(0.02, 1.0, shape)
    g[rng.random(shape) < 0.1] = 0.0
    return torch.tensor(g, dtype=torch.float64)


def _bits(batch: int, rows: int, seed: int) -> torch.Tensor:
    """Random 0/1 inputs; vector 0 is all zero, vector 1 all one."""
    rng = np.random.default_rng(seed + 1000)
    x = rng.integers(0, 2, (batch, rows)).astype(np.float64)
    x[0] = 0.0
    x[1] = 1.0
    return torch.tensor(x)


def _volts(batch: int, rows: int, seed: int, positive: bool = False) -> torch.Tensor:
    rng = np.random.default_rng(seed + 2000)
    v = rng.uniform(0.0 if positive else -1.0, 1.0, (batch, rows))
    v[0] = 0.0
    return torch.tensor(v)


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


# ------------------------------------------------------------------ ideal limit


def test_zero_resistance_is_exact_ideal_product():
    g, x = _array(16, 9, 0), _bits(8, 16, 0)
    assert torch.equal(solve_gate_bitline(g, x, 0.0), x @ g)
    g3 = _array(16, 9, 1, chips=3)
    assert torch.equal(solve_gate_bitline(g3, x, 0.0), torch.matmul(x, g3))
    v = _volts(8, 16, 0)
    assert torch.equal(solve_row_column(g, v, 0.0, 0.0), v @ g)


# ------------------------------------------------------------------ dense reference agreement


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("r", R_VALUES)
def test_gate_bitline_matches_dense_reference(shape, r):
    rows, cols = shape
    g, x = _array(rows, cols, rows), _bits(10, rows, rows)
    current, volts = solve_gate_bitline(g, x, r, return_voltages=True)
    ref_current, ref_volts = dense_nodal_solve(g, x, topology="gate_bitline", r=r, return_voltages=True)
    assert _rel_err(current, ref_current) < 1e-10
    assert _rel_err(volts, ref_volts) < 1e-10
    assert torch.all(current[0] == 0)  # all-zero input draws no current
    # the IR-drop itself (what the theory predicts) must agree, not only the total current
    ideal = (x @ g).numpy()
    active = ideal > 0
    drop, ref_drop = ideal - current.numpy(), ideal - ref_current
    assert np.all(np.abs(drop - ref_drop)[active] <= 1e-8 * np.abs(ref_drop[active]) + 1e-15)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("r", R_VALUES)
@pytest.mark.parametrize("row_factor,col_factor", [(1.0, 1.0), (0.3, 2.0), (0.0, 1.0), (1.0, 0.0)])
def test_row_column_matches_dense_reference(shape, r, row_factor, col_factor):
    rows, cols = shape
    g, v = _array(rows, cols, rows + 1), _volts(6, rows, rows)
    r_row, r_col = r * row_factor, r * col_factor
    current, v_row, v_col = solve_row_column(g, v, r_row, r_col, return_voltages=True)
    ref = dense_nodal_solve(g, v, topology="row_column", r_row=r_row, r_col=r_col, return_voltages=True)
    assert _rel_err(current, ref[0]) < 1e-10
    assert _rel_err(v_row, ref[1]) < 1e-10
    assert _rel_err(v_col, ref[2]) < 1e-10


# ------------------------------------------------------------------ physics


def test_gate_current_decreases_monotonically_with_r():
    g = _array(16, 9, 3).clamp_min(0.05)  # strictly positive g
    x = _bits(12, 16, 3)
    rs = np.concatenate([[0.0], np.logspace(-6, 0, 25)])
    currents = torch.stack([solve_gate_bitline(g, x, r) for r in rs])  # [r, batch, cols]
    active = x.sum(dim=1) > 0
    assert torch.all(currents[1:, active] < currents[:-1, active])
    assert torch.all(currents[:, ~active] == 0)


def test_row_column_current_decreases_with_each_resistance():
    g = _array(7, 5, 4).clamp_min(0.05)
    v = _volts(5, 7, 4, positive=True)[1:]  # positive drive, no all-zero vector
    rs = np.logspace(-4, -0.5, 8)
    by_row = torch.stack([solve_row_column(g, v, r, 0.01) for r in rs])
    by_col = torch.stack([solve_row_column(g, v, 0.01, r) for r in rs])
    assert torch.all(by_row[1:] < by_row[:-1])
    assert torch.all(by_col[1:] < by_col[:-1])


@pytest.mark.parametrize("r", [1e-5, 1e-2, 0.3])
def test_gate_kirchhoff_supply_equals_ground_current(r):
    g, x = _array(16, 9, 5), _bits(10, 16, 5)
    current, volts = solve_gate_bitline(g, x, r, return_voltages=True)
    supplied = (x[:, :, None] * g[None] * (1.0 - volts)).sum(dim=1)  # drain -> cells
    assert _rel_err(supplied, current) < 1e-12
    assert _rel_err(volts[:, 0, :] / r, current) < 1e-12  # ground segment current
    assert torch.all((volts >= 0) & (volts <= 1))


@pytest.mark.parametrize("r_row,r_col", [(1e-3, 2e-3), (0.05, 0.0), (0.0, 0.05)])
def test_row_column_kirchhoff(r_row, r_col):
    g, v = _array(7, 5, 6), _volts(6, 7, 6)
    current, v_row, v_col = solve_row_column(g, v, r_row, r_col, return_voltages=True)
    cell_sum = (g[None] * (v_row - v_col)).sum(dim=1)  # current each column collects from its cells
    assert _rel_err(cell_sum, current) < 1e-12
    if r_row > 0:  # everything the drivers supply leaves through the grounds
        supplied = ((v - v_row[:, :, 0]) / r_row).sum(dim=1)
        assert _rel_err(supplied, current.sum(dim=1)) < 1e-10


def _min_plus_one(n: int) -> torch.Tensor:
    idx = torch.arange(n, dtype=torch.float64)
    return torch.minimum(idx[:, None], idx[None, :]) + 1.0


def test_gate_first_order_drop_is_linear_in_r():
    g, x = _array(16, 9, 7), _bits(10, 16, 7)[1:]  # drop the all-zero vector
    ideal = x @ g
    r = 1e-5

    def rel_drop(rr: float) -> torch.Tensor:
        return (ideal - solve_gate_bitline(g, x, rr)) / ideal

    ratio = rel_drop(2 * r) / rel_drop(r)
    assert torch.all((ratio - 2.0).abs() < 0.02)
    # first-order closed form from the module doc: sum_{i,m} c_i c_m (min(i, m) + 1)
    c = x[:, :, None] * g[None]  # [batch, rows, cols]
    first = torch.einsum("bij,im,bmj->bj", c, _min_plus_one(16), c)
    assert torch.all(((ideal - solve_gate_bitline(g, x, r)) / (r * first) - 1.0).abs() < 0.01)


def test_row_column_first_order_drop_is_linear_in_r():
    rows, cols = 7, 5
    g, v = _array(rows, cols, 8), _volts(5, rows, 8, positive=True)[1:]
    ideal = v @ g
    r_row, r_col = 1e-5, 2e-5

    def drop(scale: float) -> torch.Tensor:
        return ideal - solve_row_column(g, v, scale * r_row, scale * r_col)

    assert torch.all((drop(2.0) / drop(1.0) - 2.0).abs() < 0.02)
    row_term = torch.einsum("ij,jm,im,bi->bj", g, _min_plus_one(cols), g, v)
    col_term = torch.einsum("ij,im,mj,bm->bj", g, _min_plus_one(rows), g, v)
    first = r_row * row_term + r_col * col_term
    assert torch.all((drop(1.0) / first - 1.0).abs() < 0.01)


# ------------------------------------------------------------------ numerics, shapes


def test_chunking_gives_identical_results():
    g, x, v = _array(16, 9, 9), _bits(11, 16, 9), _volts(11, 16, 9)
    full = solve_gate_bitline(g, x, 0.02, chunk=1000, return_voltages=True)
    for chunk in (1, 3, 11):
        part = solve_gate_bitline(g, x, 0.02, chunk=chunk, return_voltages=True)
        assert all(torch.equal(a, b) for a, b in zip(full, part))
    for r_row, r_col in [(0.01, 0.02), (0.0, 0.02), (0.01, 0.0)]:
        full = solve_row_column(g, v, r_row, r_col, chunk=1000)
        for chunk in (1, 4):
            torch.testing.assert_close(
                solve_row_column(g, v, r_row, r_col, chunk=chunk), full, rtol=1e-14, atol=0
            )


def test_float32_close_to_float64():
    g, x, v = _array(16, 9, 10), _bits(10, 16, 10), _volts(10, 16, 10, positive=True)
    for r in (1e-4, 1e-2, 0.1):
        lo = solve_gate_bitline(g.float(), x, r)
        assert lo.dtype == torch.float32
        assert _rel_err(lo, solve_gate_bitline(g, x, r)) < 1e-5
    for r_row, r_col in [(0.01, 0.02), (0.0, 0.02), (0.01, 0.0)]:
        lo = solve_row_column(g.float(), v, r_row, r_col)
        assert lo.dtype == torch.float32
        assert _rel_err(lo, solve_row_column(g, v, r_row, r_col)) < 1e-5


def test_chips_dimension():
    chips, rows, cols, batch = 3, 7, 5, 6
    g3, x, v = _array(rows, cols, 11, chips=chips), _bits(batch, rows, 11), _volts(batch, rows, 11)
    current, volts = solve_gate_bitline(g3, x.bool(), 0.05, chunk=4, return_voltages=True)
    assert current.shape == (chips, batch, cols) and volts.shape == (chips, batch, rows, cols)
    for r_row, r_col in [(0.01, 0.02), (0.0, 0.02), (0.01, 0.0), (0.0, 0.0)]:
        out = solve_row_column(g3, v, r_row, r_col, chunk=4, return_voltages=True)
        assert out[0].shape == (chips, batch, cols)
        assert out[1].shape == out[2].shape == (chips, batch, rows, cols)
        for c in range(chips):
            single = solve_row_column(g3[c], v, r_row, r_col, return_voltages=True)
            for a, b in zip(out, single):
                torch.testing.assert_close(a[c], b, rtol=1e-14, atol=1e-15)
    for c in range(chips):
        single = solve_gate_bitline(g3[c], x, 0.05, return_voltages=True)
        torch.testing.assert_close(current[c], single[0], rtol=1e-15, atol=0)
        torch.testing.assert_close(volts[c], single[1], rtol=1e-15, atol=0)


# ------------------------------------------------------------------ argument validation

_G = _array(4, 3, 12)
_X = _bits(2, 4, 12)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"r": -1e-3}, "r must be"),
        ({"r": float("nan")}, "r must be"),
        ({"r": float("inf")}, "r must be"),
        ({"x": _X * 0.5}, "x must contain only"),
        ({"x": _X * 2}, "x must contain only"),
        ({"x": torch.full((2, 4), float("nan"))}, "x must be finite"),
        ({"x": _X[:, :3]}, "x must have shape"),
        ({"x": _X[0]}, "x must have shape"),
        ({"g": -_G}, r"g must lie in \[0, inf\)"),
        ({"g": _G.clone().fill_(float("nan"))}, "g must be finite"),
        ({"g": _G.clone().fill_(float("inf"))}, "g must be finite"),
        ({"g": _G.to(torch.int64)}, "g must have dtype"),
        ({"g": _G[0]}, "g must have shape"),
        ({"chunk": 0}, "chunk must be"),
    ],
)
def test_gate_bitline_rejects_bad_arguments(kwargs, match):
    args = {"g": _G, "x": _X, "r": 0.01} | kwargs
    with pytest.raises(ValueError, match=match):
        solve_gate_bitline(**args)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"r_row": -1.0}, "r_row must be"),
        ({"r_col": float("nan")}, "r_col must be"),
        ({"v": torch.full((2, 4), float("inf"))}, "v must be finite"),
        ({"v": torch.ones(2, 5)}, "v must have shape"),
        ({"g": -_G}, r"g must lie in \[0, inf\)"),
    ],
)
def test_row_column_rejects_bad_arguments(kwargs, match):
    args = {"g": _G, "v": _X, "r_row": 0.01, "r_col": 0.01} | kwargs
    with pytest.raises(ValueError, match=match):
        solve_row_column(**args)


def test_dense_reference_rejects_bad_arguments():
    with pytest.raises(ValueError, match="topology"):
        dense_nodal_solve(_G, _X, topology="mesh", r=0.1)
    with pytest.raises(ValueError, match="takes r only"):
        dense_nodal_solve(_G, _X, topology="gate_bitline", r_row=0.1, r_col=0.1)
    with pytest.raises(ValueError, match="r must be"):
        dense_nodal_solve(_G, _X, topology="gate_bitline", r=-0.1)


def test_module_does_not_import_theory():
    tree = ast.parse(inspect.getsource(parasitics))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert not relative and not any("theory" in name for name in names)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    g, x = _array(16, 9, 13), _bits(10, 16, 13)
    out = solve_gate_bitline(g.cuda(), x, 0.01)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), solve_gate_bitline(g, x, 0.01), rtol=1e-12, atol=0)
    out = solve_row_column(g.cuda(), x, 0.01, 0.02)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), solve_row_column(g, x, 0.01, 0.02), rtol=1e-12, atol=0)

"""First-order parasitic error against the exact circuit solver; its validity range."""

import numpy as np
import pytest
import torch
from aimc.montecarlo.parasitics import solve_gate_bitline, solve_row_column
from aimc.theory.parasitics import (
    VALIDITY_RN_IMAX,
    gate_bitline_error,
    row_column_error,
    row_column_scale,
    row_column_shift,
)

from aimc.mapping import column_groups


@pytest.mark.parametrize("rows", [64, 200])
def test_first_order_within_10_percent_inside_the_validity_range(rows):
    rng = np.random.default_rng(rows)
    g = torch.from_numpy(rng.uniform(0, 1, (rows, 6)))
    g[:, 0] = 1.0
    x = torch.from_numpy((rng.uniform(size=(12, rows)) < 0.5).astype(np.float64))
    x[0] = 1.0
    ideal = (x @ g).numpy()
    for scale in (0.01, 0.1, VALIDITY_RN_IMAX):
        r = scale / (rows * ideal.max())
        exact = solve_gate_bitline(g, x, r).numpy() - ideal
        first = gate_bitline_error(g.numpy().T, x.numpy(), r)
        rel = np.abs(first - exact) / np.abs(exact)
        assert rel.max() <= 0.1 and rel.max() == pytest.approx(0.4 * scale, rel=0.15)


def test_uniform_column_closed_form():
    n = 50
    err = gate_bitline_error(np.ones((1, n)), np.ones((1, n)), 1e-4)
    assert err[0, 0] == pytest.approx(-1e-4 * n * (n + 1) * (2 * n + 1) / 6)


def _exact_row_column(g: np.ndarray, x: np.ndarray, r: float, columns: int) -> np.ndarray:
    """Exact current error, [B, N]: each group of ``columns`` outputs solved as its own array."""
    out = np.zeros((x.shape[0], g.shape[0]))
    for a0, a1 in column_groups(g.shape[0], columns):
        out[:, a0:a1] = solve_row_column(torch.from_numpy(g[a0:a1].T), torch.from_numpy(x), r, r).numpy()
    return out - x @ g.T


# (outputs, rows, columns per array, fraction of inputs on): tall, wide (row wires dominate), several arrays
SHAPES = [(16, 256, 16, 1.0), (64, 144, 64, 0.5), (256, 72, 256, 0.5), (300, 72, 100, 0.5), (32, 576, 32, 0.3)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:3])))
def test_row_column_first_order_error_is_0_4_of_its_scale(shape):
    n, k, columns, on = shape
    rng = np.random.default_rng(n + k)
    g = rng.uniform(0, 1, (n, k))
    x = (rng.uniform(size=(6, k)) < on).astype(np.float64)
    for target in (0.02, VALIDITY_RN_IMAX):
        r = target / row_column_scale(g, 1.0, columns)
        assert row_column_scale(g, r, columns) == pytest.approx(target)
        exact = _exact_row_column(g, x, r, columns)
        deviation = np.abs(row_column_error(g, x, r, columns) - exact).max() / np.abs(exact).max()
        assert 0.3 * target <= deviation <= 0.45 * target  # the stated 0.40 r (N G_col + M G_row)


def test_row_column_row_wires_count():
    """A wide array's error comes mostly from its row wires: the column-wire term alone misses it."""
    rng = np.random.default_rng(5)
    g = rng.uniform(0, 1, (256, 72))
    x = (rng.uniform(size=(4, 72)) < 0.5).astype(np.float64)
    r = 1e-6
    exact = _exact_row_column(g, x, r, 256)
    one_wide_array = row_column_error(g, x, r, 256)
    column_wires_only = row_column_error(g, x, r, 1)  # arrays one column wide: no row-wire drop to speak of
    assert np.abs(one_wide_array - exact).max() < 0.45 * row_column_scale(g, r, 256) * np.abs(exact).max()
    assert np.abs(column_wires_only - exact).max() > 0.5 * np.abs(exact).max()


def test_row_column_error_is_linear_in_signed_voltages():
    rng = np.random.default_rng(9)
    g = rng.uniform(0, 1, (12, 40))
    v = rng.normal(size=(5, 40))
    r = 1e-5
    assert np.allclose(row_column_error(g, -v, r, 12), -row_column_error(g, v, r, 12))
    exact = _exact_row_column(g, v, r, 12)
    assert np.abs(row_column_error(g, v, r, 12) - exact).max() < 0.45 * row_column_scale(g, r, 12) * np.abs(exact).max()


def test_row_column_uniform_array_closed_form():
    """All cells at g = 1 and all inputs at 1: column j of an M-wide, N-tall array loses
    r sum_i [sum_m (min(j, m) + 1) + sum_m (min(i, m) + 1)]."""
    n_rows, width, r = 30, 7, 1e-4
    shift = row_column_shift(np.ones((width, n_rows)), r, width)
    lost = -shift.sum(1)  # [columns]
    idx_r, idx_c = np.arange(n_rows), np.arange(width)
    column_part = np.minimum.outer(idx_r, idx_r).sum() + n_rows**2
    for j in range(width):
        row_part = n_rows * (np.minimum(j, idx_c).sum() + width)
        assert lost[j] == pytest.approx(r * (row_part + column_part))

"""First-order parasitic error against the exact circuit solver; its validity range."""

import numpy as np
import pytest
import torch
from aimc.montecarlo.parasitics import solve_gate_bitline
from aimc.theory.parasitics import VALIDITY_RN_IMAX, gate_bitline_error


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

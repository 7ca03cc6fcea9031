"""The engine's wire-resistance hook: gate-driven reads of signed bit slices, noisy reads, array groups."""

from __future__ import annotations

import torch
from aimc.montecarlo.engine import CurrentModel, simulate_mvm
from aimc.montecarlo.parasitics import solve_gate_bitline, solve_row_column

from aimc.pipeline import analog_mvm, program_ideal


def _loop_gate_bitline(r):
    """Reference hook: one gate-driven solve per read, positive and negative bits separately."""

    def currents(g, x):
        c, n, _ = g.shape
        out = g.new_zeros(c, x.shape[0], x.shape[1], n)
        for t in range(x.shape[0]):
            for b in range(x.shape[1]):
                pos, neg = x[t, b].clamp(min=0), (-x[t, b]).clamp(min=0)
                for ci in range(c):
                    gt = g[ci].T
                    out[ci, t, b] = solve_gate_bitline(gt, pos[None], r)[0] - solve_gate_bitline(gt, neg[None], r)[0]
        return out

    return currents


def test_gate_bitline_engine_matches_per_read_solves(mc):
    r = 2e-3
    s = mc.scheme(mapping__kind="offset", adc__bits=0, array__rows=8, device__on_off=10.0,
                  parasitics__r=r, inputs__bits=4)
    q = mc.quantized(5, 12, 3, input_bits=4, signed=True, seed=1)
    res = simulate_mvm(q, s, chips=1, seed=0, dtype=torch.float64)
    expected = analog_mvm(q.x_int, program_ideal(q.w_int, s), s, signed_inputs=True, currents=_loop_gate_bitline(r))
    torch.testing.assert_close(res.outputs, expected, rtol=1e-10, atol=1e-8)
    assert float((res.outputs - res.reference).abs().max()) > 1e-3  # the wires do matter here


def test_gate_bitline_with_read_noise_folds_each_read(mc):
    """Noisy reads: every read solves its own noisy array (same draws reproduced here by seed)."""
    r = 5e-3
    s = mc.scheme(parasitics__r=r, device__read_noise__model="state_independent", device__read_noise__alpha=0.02)
    g = torch.rand(2, 4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # [C, N, Kp]
    x = torch.randint(-1, 2, (3, 5, 6), generator=torch.Generator().manual_seed(1)).double()  # [T, B, Kp]
    model = CurrentModel(s, torch.Generator().manual_seed(7))
    got = model(g, x)
    z = torch.randn((2, 3, 5, 4, 6), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    noisy = (g[:, None, None] + 0.02 * z).clamp(min=0)
    expected = torch.zeros(2, 3, 5, 4, dtype=torch.float64)
    for c in range(2):
        for t in range(3):
            for b in range(5):
                pos, neg = x[t, b].clamp(min=0), (-x[t, b]).clamp(min=0)
                gt = noisy[c, t, b].T
                expected[c, t, b] = solve_gate_bitline(gt, pos[None], r)[0] - solve_gate_bitline(gt, neg[None], r)[0]
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_row_column_solves_each_array_separately(mc):
    """Row wires span one array: outputs are solved in groups of array.columns."""
    r = 1e-2
    s = mc.scheme(parasitics__r=r, parasitics__topology="row_column", array__columns=3, inputs__slice_bits=0)
    g = torch.rand(1, 6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = torch.rand(1, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    got = CurrentModel(s, None)(g, x)
    for a in (0, 3):
        ref = solve_row_column(g[0, a : a + 3].T, x[0], r, r)
        torch.testing.assert_close(got[0, 0, :, a : a + 3], ref)
    whole = solve_row_column(g[0].T, x[0], r, r)
    assert not torch.allclose(got[0, 0], whole)

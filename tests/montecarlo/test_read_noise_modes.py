"""Per-device and output-referred read noise: the same distribution, the same independence structure, and the
per-device reference wherever it is asked for or needed.

Every statistical check uses a fixed seed and a bound of several standard errors; each says which wrong model
it would catch. Noise is read at the column-current hook (:class:`CurrentModel`) where each read, column,
slice, vector and chip can be told apart, then through the whole simulation.
"""

from __future__ import annotations

import math

import pytest
import torch
from aimc.montecarlo import engine
from aimc.montecarlo.engine import CurrentModel, default_read_noise_mode, simulate_mvm
from scipy import stats

MODES = ("per_device", "output_referred")


def _scheme(mc, **extra):
    return mc.scheme(adc__bits=0, device__read_noise__model="state_proportional", device__read_noise__alpha=0.05,
                     **extra)


def _reads(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """g [C=3, N=8, K=24] and inputs [T=4, B=6, K] with zeros, signed and multi-level values, one read that
    drives no row and one that drives every row."""
    gen = torch.Generator().manual_seed(seed)
    g = 0.05 + 0.95 * torch.rand(3, 8, 24, generator=gen, dtype=torch.float64)
    x = torch.randint(-3, 4, (4, 6, 24), generator=gen).to(torch.float64)
    x[torch.rand(x.shape, generator=gen) < 0.5] = 0
    x[0, 0] = 0
    x[1, 1] = 2
    return g, x


def _standardised_noise(mc, mode: str, repeats: int = 400, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(I - ideal) / sqrt(sum_k sigma^2 x^2) over repeated reads, [repeats, C, T, B, N] (the raw noise where
    nothing is driven), and where something is driven [C, T, B, N]."""
    s = _scheme(mc)
    g, x = _reads()
    model = CurrentModel(s, torch.Generator().manual_seed(seed), mode)
    ideal = torch.einsum("cnk,tbk->ctbn", g, x)
    var = torch.einsum("cnk,tbk->ctbn", (0.05 * g) ** 2, x * x)
    out = torch.stack([model(g, x) - ideal for _ in range(repeats)])
    return torch.where(var > 0, out / var.clamp(min=1e-300).sqrt(), out), var > 0


@pytest.mark.parametrize("mode", MODES)
def test_noise_has_the_per_device_variance_and_is_gaussian(mc, mode):
    """Per output (chip, slice, vector, column): variance sum_k sigma_k^2 x_k^2 (fails for a missing or doubled
    device, a sigma at the wrong conductance, x instead of x^2), normal shape, zero where no row is driven."""
    z, driven_outputs = _standardised_noise(mc, mode)
    assert not bool(driven_outputs[:, 0, 0].any())
    assert torch.equal(z[:, :, 0, 0], torch.zeros_like(z[:, :, 0, 0]))
    driven = z[:, driven_outputs]
    repeats = driven.shape[0]
    per_output = driven.pow(2).mean(0)  # chi2(repeats) / repeats for each output
    assert float((per_output - 1).abs().max()) < 6 * math.sqrt(2 / repeats)
    assert abs(float(per_output.mean()) - 1) < 5 * math.sqrt(2 / driven.numel())
    assert stats.kstest(driven.flatten().numpy()[::7], "norm").pvalue > 1e-3


def _disjoint_pair_products(z: torch.Tensor, driven: torch.Tensor, dim: int) -> torch.Tensor:
    """z_i z_j for disjoint pairs (0, 1), (2, 3), ... along ``dim`` (of z; dim - 1 of ``driven``), both driven:
    iid with mean 0 and variance 1 when the noise is independent along that axis."""
    size = z.shape[dim] // 2 * 2

    def halves(t: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
        paired = t.narrow(d, 0, size).unflatten(d, (size // 2, 2))
        return paired.select(d + 1, 0), paired.select(d + 1, 1)

    first, second = halves(z, dim)
    keep = torch.logical_and(*halves(driven, dim - 1))
    return (first * second)[:, keep]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("axis", "dim"), [("chips", 1), ("slices", 2), ("vectors", 3), ("columns", 4)])
def test_noise_is_independent_across_chips_slices_vectors_and_columns(mc, mode, axis, dim):
    """No correlation between two outputs that differ in one index (fails for a draw shared by the columns of
    a read, by the input slices of a vector, by the vectors of a block or by the chips)."""
    products = _disjoint_pair_products(*_standardised_noise(mc, mode), dim)
    assert abs(float(products.mean())) < 5 / math.sqrt(products.numel()), axis


@pytest.mark.parametrize("mode", MODES)
def test_two_reads_of_one_array_are_independent(mc, mode):
    """The pipeline reads the two cells of a differential pair (and a unit column) by separate calls: two
    calls must draw afresh (fails for noise frozen per model or per array)."""
    s = _scheme(mc)
    g, x = _reads()
    model = CurrentModel(s, torch.Generator().manual_seed(3), mode)
    var = torch.einsum("cnk,tbk->ctbn", (0.05 * g) ** 2, x * x)
    ideal = torch.einsum("cnk,tbk->ctbn", g, x)
    keep = var > 0
    pairs = []
    for _ in range(200):
        first, second = ((model(g, x) - ideal)[keep] / var[keep].sqrt() for _ in range(2))
        pairs.append(first * second)
    products = torch.stack(pairs)
    assert abs(float(products.mean())) < 5 / math.sqrt(products.numel())


def test_the_two_modes_agree_in_distribution(mc):
    """Two-sample test of the standardised noise of the two modes (fixed seeds), and the ratio of their mean
    variances within its confidence interval."""
    (a, driven), (b, _) = _standardised_noise(mc, "per_device", seed=11), _standardised_noise(mc, "output_referred", seed=12)
    fa, fb = a[:, driven].flatten(), b[:, driven].flatten()
    assert stats.ks_2samp(fa.numpy()[::5], fb.numpy()[::5]).pvalue > 1e-3
    ratio = float(fa.pow(2).mean() / fb.pow(2).mean())
    assert abs(ratio - 1) < 5 * math.sqrt(4 / fa.numel())


def test_undriven_rows_cost_no_draw(mc):
    """Per-device draws are made only for the devices a read drives: appending rows whose input is 0 leaves
    every draw, and so the noise, as it was (a dense draw over every device would shift the stream)."""
    s = _scheme(mc)
    g, x = _reads()
    g_more = torch.cat([g, 0.5 * torch.ones(3, 8, 10, dtype=torch.float64)], dim=2)
    x_more = torch.cat([x, torch.zeros(4, 6, 10, dtype=torch.float64)], dim=2)
    first = CurrentModel(s, torch.Generator().manual_seed(5), "per_device")(g, x)
    second = CurrentModel(s, torch.Generator().manual_seed(5), "per_device")(g_more, x_more)
    assert torch.allclose(first, second, rtol=1e-12, atol=1e-12)


def test_blocks_do_not_change_the_law(mc):
    """A budget that forces one read per block gives the same variance (fails if blocking reused or skipped
    draws at block edges)."""
    s = _scheme(mc)
    g, x = _reads()
    small = CurrentModel(s, torch.Generator().manual_seed(7), "per_device", budget=1)
    var = torch.einsum("cnk,tbk->ctbn", (0.05 * g) ** 2, x * x)
    ideal = torch.einsum("cnk,tbk->ctbn", g, x)
    keep = var > 0
    z = torch.stack([((small(g, x) - ideal)[keep] / var[keep].sqrt()) for _ in range(300)])
    assert abs(float(z.pow(2).mean()) - 1) < 5 * math.sqrt(2 / z.numel())
    assert float((z.pow(2).mean(0) - 1).abs().max()) < 6 * math.sqrt(2 / 300)


def test_output_referred_is_the_default_only_where_it_is_exact(mc):
    """Without wire resistance the default is output-referred; with it, per-device (the circuit needs each
    cell's noisy conductance), and output-referred is refused there."""
    plain = _scheme(mc)
    wired = _scheme(mc, parasitics__r=1e-4)
    assert default_read_noise_mode(plain) == "output_referred"
    assert default_read_noise_mode(wired) == "per_device"
    assert CurrentModel(plain, None).mode == "output_referred"
    assert CurrentModel(wired, None).mode == "per_device"
    assert CurrentModel(plain, None, "per_device").mode == "per_device"
    with pytest.raises(ValueError, match="output_referred is exact only without parasitics"):
        CurrentModel(wired, None, "output_referred")
    with pytest.raises(ValueError, match="read_noise_mode: must be one of"):
        CurrentModel(plain, None, "per_column")


@pytest.mark.parametrize(("requested", "per_device_calls"), [(None, 0), ("output_referred", 0), ("per_device", 1)])
def test_simulation_uses_the_mode_asked_for(mc, monkeypatch, requested, per_device_calls):
    """A requested per-device mode runs the per-device draws; the default runs the output-referred draw."""
    calls = []
    original = engine.CurrentModel._per_device_noise
    monkeypatch.setattr(engine.CurrentModel, "_per_device_noise",
                        lambda self, sigma, x: calls.append(1) or original(self, sigma, x))
    s = _scheme(mc, inputs__slice_bits=0)
    q = mc.quantized(4, 6, 2, seed=1)
    simulate_mvm(q, s, chips=1, seed=0, dtype=torch.float64, read_noise_mode=requested)
    assert (len(calls) > 0) == bool(per_device_calls)


def test_whole_simulation_modes_agree_per_output(mc):
    """Through the signal path (two-sided differential pairs read cell by cell, bit-serial inputs, digital
    accumulation): per-output error variances of the two modes agree within their confidence interval, and
    the errors of different outputs and vectors are uncorrelated in both."""
    s = _scheme(mc, mapping__kind="differential_two_sided", inputs__slice_bits=1, inputs__accumulation="digital",
                array__rows=12)
    q = mc.quantized(12, 20, 4, seed=9)
    chips = 300
    err = {mode: (simulate_mvm(q, s, chips=chips, seed=seed, dtype=torch.float64, read_noise_mode=mode).outputs
                  - q.reference.unsqueeze(0)) for mode, seed in (("per_device", 1), ("output_referred", 2))}
    var_a, var_b = err["per_device"].var(0), err["output_referred"].var(0)
    log_ratio = torch.log(var_a / var_b)  # each variance: chi2(chips - 1) / (chips - 1), sd of log ~ sqrt(2 / chips)
    assert float(log_ratio.abs().max()) < 5 * math.sqrt(4 / chips)
    assert abs(float(log_ratio.mean())) < 5 * math.sqrt(4 / (chips * log_ratio.numel()))
    for e in err.values():
        z = (e - e.mean(0)) / e.std(0)
        columns = (z[:, :, 0::2] * z[:, :, 1::2]).mean()
        vectors = (z[:, 0::2] * z[:, 1::2]).mean()
        bound = 5 / math.sqrt(z[:, :, 0::2].numel())
        assert abs(float(columns)) < bound and abs(float(vectors)) < bound

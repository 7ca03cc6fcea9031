"""SignalProfile: the bounded uniform sample of ADC input signals that calibrated ranges are read from.

Whole-stream mode (``total_cap``): a bottom-k sketch that keeps exactly min(total_cap, count) signals, each
one a signal seen, a uniform sample without replacement whatever the calls' sizes, reproducible by seed.
The statistical checks use fixed seeds, so they are deterministic; their thresholds are loose (p < 1e-4
for a correct sampler), while a sampler favouring the fill phase, late calls or large calls fails them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aimc.montecarlo import SignalProfile
from aimc.montecarlo.engine import _bernoulli_positions
from scipy import stats

from aimc.adc import calibrated_range

P_MIN = 1e-4


def _chunks(n: int, seed: int) -> list[int]:
    """Unequal chunk sizes summing to n: a large first chunk, then a mix of tiny, medium and large ones."""
    rng = np.random.default_rng(seed)
    sizes, left = [], n
    first = n // 6
    sizes.append(first)
    left -= first
    while left > 0:
        size = int(rng.choice([1, 2, 7, n // 1000 + 1, n // 100 + 1, n // 20 + 1]))
        size = min(size, left)
        sizes.append(size)
        left -= size
    return sizes


def _feed(profile: SignalProfile, k: int, values: torch.Tensor, sizes: list[int]) -> None:
    at = 0
    for size in sizes:
        profile(k, values[at : at + size])
        at += size
    assert at == values.numel()


def _profile_of_range(n: int, total_cap: int, seed: int = 0, chunk_seed: int = 0) -> torch.Tensor:
    profile = SignalProfile(1, seed=seed, total_cap=total_cap)
    _feed(profile, 0, torch.arange(n, dtype=torch.float32), _chunks(n, chunk_seed))
    assert profile.count[0] == n
    return profile.signals(0)


@pytest.mark.parametrize("total_cap", [1, 7, 100, 4096])
@pytest.mark.parametrize("sizes", [[], [0], [3], [5, 0, 2], [99, 1], [100], [101], [4096], [10_000], [1] * 300,
                                   [3000, 2000, 1, 50_000, 7]])
def test_total_cap_keeps_exactly_min_of_cap_and_count(total_cap, sizes):
    n = sum(sizes)
    profile = SignalProfile(1, total_cap=total_cap)
    _feed(profile, 0, torch.arange(n, dtype=torch.float32), sizes)
    kept = profile.signals(0)
    assert profile.count[0] == n
    assert kept.numel() == min(total_cap, n)
    assert kept.dtype == torch.float64 and kept.device.type == "cpu"
    # every kept value is a signal seen, each at most once (a sample without replacement)
    assert torch.equal(kept, kept.round()) and bool(((kept >= 0) & (kept < n)).all())
    assert torch.unique(kept).numel() == kept.numel()
    assert torch.equal(profile.signals(0), kept)  # reading is idempotent


def test_signals_keep_their_values_and_shapes():
    """Any shape is flattened; float64 values come back bit-exact; the CPU float64 copy is of kept signals."""
    torch.manual_seed(1)
    stream = [torch.randn(3, 50, 7, dtype=torch.float64) for _ in range(40)]
    seen = torch.cat([s.reshape(-1) for s in stream])
    profile = SignalProfile(2, total_cap=500)
    for s in stream:
        profile(1, s)
    kept = profile.signals(1)
    assert kept.numel() == 500 and profile.signals(0).numel() == 0
    assert bool(torch.isin(kept, seen).all())


def test_total_cap_sample_is_uniform_over_the_stream():
    """One stream of 0..n-1 in unequal calls: kept values spread evenly over position bins and calls."""
    n, cap = 400_000, 20_000
    sizes = _chunks(n, 3)
    kept = _profile_of_range(n, cap, seed=0, chunk_seed=3).numpy()
    # 20 equal bins of position: the first one lies inside the fill phase, the rest after it
    counts = np.bincount((kept * 20 // n).astype(int), minlength=20)
    assert stats.chisquare(counts).pvalue > P_MIN, counts
    # each call's share is hypergeometric(n, size, cap): no call is off (two-sided, Bonferroni over calls),
    # and calls pooled by size (tiny, medium, large) hold their expected share
    ends = np.cumsum(sizes)
    call = np.searchsorted(ends, kept, side="right")
    per_call = np.bincount(call, minlength=len(sizes))
    size = np.asarray(sizes)
    share = stats.hypergeom(n, size, cap)
    p_call = np.minimum(1.0, 2 * np.minimum(share.cdf(per_call), share.sf(per_call - 1)))
    assert p_call.min() > P_MIN / len(sizes), (per_call, share.mean())
    mean = share.mean()
    groups = np.digitize(size, [10, 1000])
    observed = np.bincount(groups, weights=per_call, minlength=3)
    expected = np.bincount(groups, weights=mean, minlength=3)
    assert stats.chisquare(observed[expected > 0], expected[expected > 0]).pvalue > P_MIN, (observed, expected)


def test_total_cap_inclusion_probability_is_equal_for_every_signal():
    """Over many seeds, every one of n signals is kept cap/n of the time (fill phase, boundary, every call's
    first and last signal, before and after each merge of the survivors)."""
    n, cap, seeds = 4000, 40, 500
    hits = np.zeros(n)
    for seed in range(seeds):
        hits[_profile_of_range(n, cap, seed=seed, chunk_seed=7).numpy().astype(int)] += 1
    assert hits.sum() == cap * seeds
    assert stats.chisquare(hits).pvalue > P_MIN
    # the first cap signals (all kept with a key while filling) are not favoured over the rest
    first, rest = hits[:cap].mean(), hits[cap:].mean()
    assert abs(first - rest) < 0.15 * seeds * cap / n


def test_total_cap_bounds_what_is_held():
    """Between reads, at most total_cap kept values plus fewer than total_cap buffered survivors are held."""
    cap = 1000
    profile = SignalProfile(1, total_cap=cap)
    for chunk in torch.arange(2_000_000, dtype=torch.float32).split(3_001):
        profile(0, chunk)
        held = profile.samples[0][0].numel() + sum(v.numel() for _, v in profile._pending[0])
        assert held < 2 * cap
    assert profile.signals(0).numel() == cap


def test_reading_mid_stream_keeps_the_sample_uniform():
    """signals() merges the buffered survivors; the stream can go on after it."""
    n, cap = 200_000, 5_000
    profile = SignalProfile(1, total_cap=cap, seed=4)
    values = torch.arange(n, dtype=torch.float32)
    for i, chunk in enumerate(values.split(7_919)):
        profile(0, chunk)
        if i % 5 == 0:
            assert profile.signals(0).numel() == min(cap, (i + 1) * 7_919)
    kept = profile.signals(0).numpy()
    assert kept.size == cap and np.unique(kept).size == cap
    assert stats.chisquare(np.bincount((kept * 10 // n).astype(int), minlength=10)).pvalue > P_MIN


def test_total_cap_is_reproducible_by_seed():
    a = _profile_of_range(100_000, 2_000, seed=11)
    b = _profile_of_range(100_000, 2_000, seed=11)
    c = _profile_of_range(100_000, 2_000, seed=12)
    assert torch.equal(a, b)
    assert not torch.equal(torch.sort(a).values, torch.sort(c).values)
    assert np.intersect1d(a.numpy(), c.numpy()).size < 200  # two independent samples share about cap^2/n


def test_slices_are_sampled_independently():
    """Each slice keeps min(cap, its count) of its own signals, whatever the calls to the other slices."""
    cap = 3_000
    profile = SignalProfile(3, total_cap=cap, seed=5)
    streams = [torch.arange(50_000, dtype=torch.float32), 1e6 + torch.arange(2_000, dtype=torch.float32),
               -1.0 - torch.arange(120_000, dtype=torch.float32)]
    splits = [s.split(size) for s, size in zip(streams, (4_999, 300, 11_111))]
    for step in range(max(len(s) for s in splits)):
        for k in (2, 0, 1):
            if step < len(splits[k]):
                profile(k, splits[k][step])
    assert profile.count == [s.numel() for s in streams]
    for k, s in enumerate(streams):
        kept = profile.signals(k)
        assert kept.numel() == min(cap, s.numel())
        assert torch.unique(kept).numel() == kept.numel() and bool(torch.isin(kept, s.double()).all())
        where = ((kept - float(s[0])).abs() * 10 // s.numel()).long()
        if kept.numel() < s.numel():
            assert stats.chisquare(torch.bincount(where, minlength=10).numpy()).pvalue > P_MIN


def test_calibrated_range_from_the_sample_matches_the_stream():
    """The calibrated range of the kept sample is close to the one of every signal seen."""
    gen = torch.Generator().manual_seed(0)
    stream = [torch.randn(int(s), generator=gen) * 3 + 1 for s in np.linspace(10, 60_000, 40)]
    profile = SignalProfile(1, total_cap=1 << 14)
    for s in stream:
        profile(0, s)
    everything = torch.cat(stream).double()
    exact, sampled = (calibrated_range(x, 99.0, signed=True) for x in (everything, profile.signals(0)))
    assert sampled.high == pytest.approx(exact.high, rel=0.03)


def test_per_call_cap_mode_still_subsamples_each_call():
    profile = SignalProfile(1, cap=100)
    profile(0, torch.arange(1000, dtype=torch.float32))
    profile(0, 5000 + torch.arange(40, dtype=torch.float32))
    kept = profile.signals(0)
    assert profile.count[0] == 1040 and kept.numel() == 140 and kept.dtype == torch.float64
    assert torch.unique(kept[:100]).numel() == 100 and bool((kept[:100] < 1000).all())
    assert torch.equal(kept[100:], 5000 + torch.arange(40, dtype=torch.float64))


@pytest.mark.parametrize("draws", [None, 1, 3])
def test_bernoulli_positions_are_bernoulli_trials(draws):
    """Geometric gaps give the successes of n Bernoulli(p) trials: increasing, in range, evenly spread,
    Binomial(n, p) in number (also when many rounds of ``draws`` gaps are needed)."""
    gen = torch.Generator().manual_seed(2)
    n, p, rounds = 10_000, 0.003, 300
    counts, hits = [], np.zeros(10)
    for _ in range(rounds):
        where = _bernoulli_positions(n, p, gen, torch.device("cpu"), draws=draws)
        assert where.dtype == torch.int64
        assert bool((where[1:] > where[:-1]).all()) and bool(((where >= 0) & (where < n)).all())
        counts.append(where.numel())
        hits += np.bincount(where.numpy() * 10 // n, minlength=10)
    mean = n * p
    assert abs(np.mean(counts) - mean) < 5 * np.sqrt(mean * (1 - p) / rounds)
    assert abs(np.var(counts) / (mean * (1 - p)) - 1) < 0.3
    assert stats.chisquare(hits).pvalue > P_MIN


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_total_cap_sample_stays_on_the_signals_device():
    n, cap = 300_000, 10_000
    profile = SignalProfile(2, total_cap=cap)
    values = torch.arange(n, dtype=torch.float32, device="cuda")
    _feed(profile, 1, values, _chunks(n, 1))
    assert profile.samples[1][0].device.type == "cuda"
    kept = profile.signals(1)
    assert kept.device.type == "cpu" and kept.dtype == torch.float64 and kept.numel() == cap
    assert torch.unique(kept).numel() == cap and bool(((kept >= 0) & (kept < n)).all())
    assert stats.chisquare(np.bincount((kept.numpy() * 20 // n).astype(int), minlength=20)).pvalue > P_MIN


def test_bernoulli_positions_hit_every_trial_with_probability_p():
    """Every trial, the first and the last included, succeeds with probability p."""
    gen = torch.Generator().manual_seed(4)
    n, p, rounds = 6, 0.25, 4000
    hits = np.zeros(n)
    for _ in range(rounds):
        hits[_bernoulli_positions(n, p, gen, torch.device("cpu")).numpy()] += 1
    sd = np.sqrt(rounds * p * (1 - p))
    assert np.all(np.abs(hits - rounds * p) < 5 * sd), hits


@pytest.mark.parametrize("draws", [None, 1, 2])
def test_bernoulli_positions_gaps_are_geometric(draws):
    """The trials up to each success (from the start, then from the previous success) are Geometric(p):
    no trial is skipped or counted twice between rounds or calls."""
    gen = torch.Generator().manual_seed(3)
    n, p = 200, 0.3
    gaps = []
    for _ in range(400):
        where = _bernoulli_positions(n, p, gen, torch.device("cpu"), draws=draws).numpy()
        gaps.append(np.diff(where, prepend=-1))
    gaps = np.concatenate(gaps)
    top = 10
    observed = np.bincount(np.minimum(gaps, top), minlength=top + 1)[1:]
    law = stats.geom(p)
    expected = np.append(law.pmf(np.arange(1, top)), law.sf(top - 1)) * gaps.size
    assert stats.chisquare(observed, expected).pvalue > P_MIN

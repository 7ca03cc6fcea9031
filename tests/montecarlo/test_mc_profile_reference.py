"""The whole-stream sampler of :class:`aimc.montecarlo.SignalProfile` against its straightforward reference.

The reference below is the sampler as first written (engine version of the committed results): one
``torch.cat`` per merge, a boolean mask per round of geometric gaps, values widened to float64 before
they wait. The package's sampler must keep exactly the same samples, in the same order (the ``optimal``
range subsamples the profile by position), and leave its generator in the same state (the same random
numbers drawn, so what is drawn after the profile is unchanged too): then no calibrated range and no
committed result moves. Streams cover a fill that spans calls, a first call many times the cap (every
signal a survivor), empty calls, a cap larger than the stream, several slices on one generator, mixed
value dtypes, reads mid-stream, and ties among keys (a coarse ``torch.rand``).
"""

from __future__ import annotations

import pytest
import torch
from aimc.montecarlo import SignalProfile

from aimc.adc import calibrated_range, optimal_range


def _reference_positions(n: int, p: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    parts = []
    at = 0.0
    while True:
        expected = (n - at) * p
        count = int(expected + 4.0 * expected**0.5) + 16
        gaps = torch.empty(count, dtype=torch.float64, device=device).geometric_(p, generator=generator)
        ends = gaps.cumsum_(0).add_(at)
        last = float(ends[-1])
        parts.append(ends[ends <= n])
        if last >= n:
            break
        at = last
    return (torch.cat(parts) - 1).to(torch.int64)


class ReferenceProfile:
    """The bottom-k sketch of whole-stream mode, one slice list per profile, as first committed."""

    def __init__(self, slices: int, total_cap: int, seed: int = 0):
        self.total_cap = total_cap
        self.generator = torch.Generator().manual_seed(seed)
        self.samples: list[list[torch.Tensor]] = [[] for _ in range(slices)]
        self.keys: list[torch.Tensor | None] = [None] * slices
        self.threshold: list[float | None] = [None] * slices
        self.pending: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(slices)]
        self.pending_size = [0] * slices
        self.count = [0] * slices

    def __call__(self, k: int, signal: torch.Tensor) -> None:
        flat = signal.detach().reshape(-1)
        self.count[k] += flat.numel()
        gen, start = self.generator, 0
        if self.threshold[k] is None:
            kept = 0 if self.keys[k] is None else self.keys[k].numel()
            start = min(self.total_cap - kept, flat.numel())
            keys = torch.rand(start, generator=gen, dtype=torch.float64)
            values = flat[:start].to(torch.float64)
            if self.keys[k] is not None:
                keys, values = torch.cat([self.keys[k], keys]), torch.cat([self.samples[k][0], values])
            self.keys[k], self.samples[k] = keys, [values]
            if keys.numel() < self.total_cap:
                return
            self.threshold[k] = float(keys.max())
        rest = flat[start:]
        t = self.threshold[k]
        if rest.numel() == 0 or t <= 0.0:
            return
        where = _reference_positions(rest.numel(), t, gen, rest.device)
        if where.numel() == 0:
            return
        keys = t * torch.rand(where.numel(), generator=gen, dtype=torch.float64)
        self.pending[k].append((keys, rest[where].to(torch.float64)))
        self.pending_size[k] += where.numel()
        if self.pending_size[k] >= self.total_cap:
            self.merge(k)

    def merge(self, k: int) -> None:
        if not self.pending[k]:
            return
        keys = torch.cat([self.keys[k], *(p[0] for p in self.pending[k])])
        values = torch.cat([self.samples[k][0], *(p[1] for p in self.pending[k])])
        keys, pick = torch.topk(keys, self.total_cap, largest=False, sorted=False)
        self.keys[k], self.samples[k] = keys, [values[pick]]
        self.threshold[k] = float(keys.max())
        self.pending[k], self.pending_size[k] = [], 0

    def signals(self, k: int) -> torch.Tensor:
        self.merge(k)
        if not self.samples[k]:
            return torch.zeros(0, dtype=torch.float64)
        return torch.cat(self.samples[k]).to("cpu", torch.float64)


# (name, total_cap, calls as (slice, size)); the values of each call are its own range of positions
STREAMS = {
    "nothing": (8, []),
    "empty-calls": (8, [(0, 0), (0, 0), (0, 5), (0, 0), (0, 40), (0, 0)]),
    "cap-larger-than-stream": (1000, [(0, 3), (0, 500), (0, 0), (0, 496)]),
    "cap-one": (1, [(0, 1), (0, 1), (0, 17), (0, 1000), (0, 3)]),
    "fill-exactly-then-one": (100, [(0, 100), (0, 1)]),
    "fill-spans-calls": (100, [(0, 30), (0, 30), (0, 30), (0, 30), (0, 700), (0, 2)]),
    # the conversion's case: the first call holds many caps, so nearly every signal survives the threshold
    "first-call-many-caps": (1000, [(0, 8 * 1000 + 7), (0, 33), (0, 4096), (0, 1)]),
    "many-tiny-calls": (50, [(0, 1)] * 2000 + [(0, 2)] * 500),
    "rounds-of-gaps": (64, [(0, 200_000), (0, 150_000)]),
    "slices-interleaved": (300, [(k, size) for size in (250, 1, 3000, 0, 77, 12_000) for k in (2, 0, 1)]),
}


def _values(size: int, at: int, dtype: torch.dtype) -> torch.Tensor:
    """Distinct values naming their position in the stream (exact in every dtype used here)."""
    return (at + torch.arange(size, dtype=torch.float64)).to(dtype).reshape(-1, 1) if size else torch.zeros(0, 1)


def _run(profile, calls, dtypes=(torch.float32,), read_every: int = 0) -> list[torch.Tensor]:
    """Feed the calls; the signals of every slice at each read and at the end."""
    slices = 1 + max((k for k, _ in calls), default=0)
    at = [0] * slices
    reads = []
    for i, (k, size) in enumerate(calls):
        profile(k, _values(size, at[k], dtypes[i % len(dtypes)]))
        at[k] += size
        if read_every and i % read_every == read_every - 1:
            reads.append(profile.signals(k))
    return reads + [profile.signals(k) for k in range(slices)]


def _assert_same(new: SignalProfile, ref: ReferenceProfile, got: list, want: list) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == torch.float64
        assert torch.equal(a, b)  # the same signals in the same order
    assert new.count == ref.count
    assert torch.equal(new.generator.get_state(), ref.generator.get_state())  # the same numbers drawn


def _both(name: str, seed: int):
    cap, calls = STREAMS[name]
    slices = 1 + max((k for k, _ in calls), default=0)
    return SignalProfile(slices, seed=seed, total_cap=cap), ReferenceProfile(slices, cap, seed=seed), calls


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_sampler_keeps_the_reference_samples(name, seed):
    new, ref, calls = _both(name, seed)
    _assert_same(new, ref, _run(new, calls), _run(ref, calls))


@pytest.mark.parametrize("name", ["fill-spans-calls", "first-call-many-caps", "many-tiny-calls",
                                  "slices-interleaved"])
def test_sampler_keeps_the_reference_samples_when_read_mid_stream(name):
    new, ref, calls = _both(name, 3)
    _assert_same(new, ref, _run(new, calls, read_every=3), _run(ref, calls, read_every=3))


@pytest.mark.parametrize("name", ["first-call-many-caps", "slices-interleaved", "fill-spans-calls"])
def test_sampler_keeps_the_reference_samples_of_mixed_dtypes(name):
    """Values of any float dtype are kept exactly (widening to float64 commutes with selecting)."""
    new, ref, calls = _both(name, 5)
    dtypes = (torch.float32, torch.float64, torch.float16)
    _assert_same(new, ref, _run(new, calls, dtypes), _run(ref, calls, dtypes))


@pytest.mark.parametrize("name", ["first-call-many-caps", "slices-interleaved", "cap-one", "many-tiny-calls"])
def test_sampler_keeps_the_reference_samples_with_tied_keys(name, monkeypatch):
    """Keys on a coarse grid (eight values, zero included): ties at the cut and a zero threshold are broken
    as the reference breaks them."""
    fine = torch.rand

    def coarse(*args, **kwargs):
        return fine(*args, **kwargs).mul_(8).floor_().div_(8)

    monkeypatch.setattr(torch, "rand", coarse)
    new, ref, calls = _both(name, 2)
    _assert_same(new, ref, _run(new, calls), _run(ref, calls))


def test_sampler_keeps_the_reference_ranges_of_signals_with_ties():
    """ADC-like signals (few distinct values, many ties among them): the calibrated and optimal ranges read
    from the two samples are equal, not just close."""
    gen = torch.Generator().manual_seed(0)
    sizes = (700_000, 0, 900, 300_000)  # a sample above optimal_range's subsample of 200,000 (by position)
    blocks = [torch.randint(-40, 41, (size,), generator=gen).float() * 0.25 for size in sizes]
    new, ref = SignalProfile(1, seed=9, total_cap=250_000), ReferenceProfile(1, 250_000, seed=9)
    for block in blocks:
        new(0, block)
        ref(0, block)
    a, b = new.signals(0), ref.signals(0)
    assert torch.equal(a, b)
    assert calibrated_range(a, 99.0, signed=True) == calibrated_range(b, 99.0, signed=True)
    assert optimal_range(a, 6, signed=True) == optimal_range(b, 6, signed=True)

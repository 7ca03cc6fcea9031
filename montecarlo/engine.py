"""The Monte Carlo engine: device-level simulation of a layer's analog MVM on many chips at once.

The signal path is :func:`aimc.pipeline.analog_mvm` (the reference, shared with the theory), or its
batched form :func:`aimc.montecarlo.fast.linear_mvm` when the currents are linear; this module supplies
what the pipeline leaves open:

* programmed chips (:func:`montecarlo.devices.program_chips`: programming error, clipping, drift, stuck
  cells, frozen per chip);
* the column-current model (:class:`CurrentModel`, the pipeline's ``currents`` hook): read noise drawn per
  device afresh for every input vector and input slice, and wire resistance (exact circuit solvers of
  :mod:`montecarlo.parasitics`);
* ADC ranges (:func:`aimc.adc_ranges.slice_ranges`): structural policies from the structure, profiled
  ones from signals profiled on ideal arrays (observe -> calibrate -> convert);
* batching over chips, input vectors and input slices, with memory bounded by chunking.

Read noise modes. ``per_device`` (reference): every device of every read gets its own N(0, 1) draw,
``I = sum_i (g_i + sigma_i z_i) x_i`` (drawn for the devices the read drives: one with x_i = 0 adds exactly
0). ``output_referred``: the same Gaussian sum drawn directly per column current,
``I = sum_i g_i x_i + sqrt(sum_i sigma_i^2 x_i^2) z``; identical in distribution (a sum of independent
Gaussians; independent across columns, slices, vectors, and between the two cells of a differential pair,
each read separately), tested in ``tests/montecarlo``. Without a mode, the engine uses output-referred
noise wherever that identity holds (no wire resistance: :func:`default_read_noise_mode`) and per-device
noise with wire resistance, where the circuit needs every cell's noisy conductance.

Exactness: the ideal reference (:attr:`aimc.layers.QuantizedLayer.reference`) is an int64 product; products on
CUDA run with TF32 disabled (:func:`no_tf32`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from aimc.adc import ADCRange
from aimc.adc_ranges import range_policy, slice_ranges
from aimc.layers import Layer, QuantizedLayer, quantize_layer
from aimc.mapping import SliceLayout, column_groups
from aimc.metrics import error_summary
from aimc.pipeline import Programmed, analog_mvm, matmul_currents, program_ideal
from aimc.scheme import Scheme

from .devices import program_chips, read_noise_sigma, stream_generator
from .fast import linear_mvm

__all__ = [
    "CurrentModel",
    "MVMResult",
    "SignalProfile",
    "calibrate_ranges",
    "default_read_noise_mode",
    "no_tf32",
    "profile_signals",
    "ranges_from_profile",
    "resolve_device",
    "simulate_mvm",
    "tf32",
    "tf32_truncate",
]

READ_NOISE_MODES = ("per_device", "output_referred")
DEFAULT_BUDGET = 1 << 25
"""Elements of the largest intermediate tensor one block may create (chunking bound)."""
NOISE_BLOCK = 1 << 21
"""Elements of one block of per-device read-noise draws on the CPU: small enough to stay in cache while it is
scaled and summed (on CUDA a block is the budget: fewer, larger kernels)."""


@contextlib.contextmanager
def _allow_tf32(allowed: bool) -> Iterator[None]:
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def no_tf32() -> contextlib.AbstractContextManager[None]:
    """Disable TF32 for CUDA matmuls and convolutions inside the block (integer-exact products)."""
    return _allow_tf32(False)


def tf32() -> contextlib.AbstractContextManager[None]:
    """Allow TF32 for CUDA matmuls and convolutions inside the block (for operands exact in TF32 only)."""
    return _allow_tf32(True)


def tf32_truncate(w: torch.Tensor) -> torch.Tensor:
    """float32 ``w`` with its 13 lowest mantissa bits cleared: exactly representable in TF32."""
    if w.dtype != torch.float32:
        raise ValueError(f"tf32_truncate: needs float32, got {w.dtype}")
    return (w.contiguous().view(torch.int32) & ~0x1FFF).view(torch.float32)


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch.device; ValueError (one line) for an unknown name or CUDA without a GPU."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device: unknown device {device!r}; allowed: cpu, cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device: cuda requested but no CUDA GPU is available; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device: unsupported device {device!r}; allowed: cpu, cuda")
    return dev


# ---------------------------------------------------------------------------------------------------------
# Column currents: read noise and parasitics
# ---------------------------------------------------------------------------------------------------------


def default_read_noise_mode(scheme: Scheme) -> str:
    """``output_referred`` where it is identical in distribution to the per-device reference (no wire
    resistance: the column current is then a sum of independent Gaussians), else ``per_device``."""
    return "output_referred" if scheme.parasitics.r == 0 else "per_device"


class CurrentModel:
    """The pipeline's ``currents(g [C, N, Kp], x [T, B, Kp]) -> [C, T, B, N]`` hook for one scheme.

    Every call is one read of one array (one cell polarity) for T input slices of B vectors: read noise is
    drawn afresh for each call, vector and slice. When :attr:`linear` holds, the pipeline may read a
    differential pair as one array of g+ - g- (:func:`aimc.montecarlo.fast.linear_mvm`). ``mode``: a
    read-noise mode of :data:`READ_NOISE_MODES`, or None for :func:`default_read_noise_mode`.
    """

    def __init__(
        self,
        scheme: Scheme,
        generator: torch.Generator | None,
        mode: str | None = None,
        budget: int = DEFAULT_BUDGET,
    ):
        mode = default_read_noise_mode(scheme) if mode is None else mode
        if mode not in READ_NOISE_MODES:
            raise ValueError(f"read_noise_mode: must be one of {', '.join(READ_NOISE_MODES)}, got {mode!r}")
        self.device_model = scheme.device
        self.noisy = scheme.device.read_noise.active
        self.r = scheme.parasitics.r
        self.topology = scheme.parasitics.topology
        self.columns = scheme.array.columns
        if mode == "output_referred" and self.r > 0 and self.noisy:
            raise ValueError("read_noise_mode: output_referred is exact only without parasitics; use per_device")
        self.mode = mode
        self.generator = generator
        self.budget = budget

    @property
    def linear(self) -> bool:
        """Currents are a fixed linear function of the inputs (no per-read randomness, no circuit)."""
        return not self.noisy and self.r == 0

    def _randn(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, dtype=like.dtype, device=like.device)

    def __call__(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.r > 0:
            return self._parasitic(g, x)
        ideal = matmul_currents(g, x)
        if not self.noisy:
            return ideal
        sigma = read_noise_sigma(g, self.device_model)
        if self.mode == "output_referred":
            std = torch.einsum("cnk,tbk->ctbn", sigma * sigma, x * x).sqrt()
            return ideal + std * self._randn(tuple(ideal.shape), ideal)
        return ideal + self._per_device_noise(sigma, x)

    def _per_device_noise(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """sum_k sigma[c, n, k] x[t, b, k] z[c, t, b, n, k], a fresh N(0, 1) draw z for every device of every
        read, [C, T, B, N].

        A device whose input is 0 in a read adds exactly 0, so only the devices each read drives are drawn.
        Reads are taken in blocks of similar driven-row counts (sorted by count); in a block, each read's
        driven rows come first in ``order`` (then undriven ones, x = 0, up to the block's largest count). A
        block draws into one reused buffer, scales the draws by the rows' sigma and sums them with the input
        weights as one batched product: the [C, T, B, N, K] tensor of every device's draw never exists.
        """
        c, n, kp = sigma.shape
        t, b = x.shape[0], x.shape[1]
        reads = x.reshape(t * b, kp).to(sigma.dtype)
        counts = (reads != 0).sum(1)
        by_count = torch.argsort(counts, stable=True)
        reads = reads[by_count]  # from here on, reads in increasing order of their driven-row count
        order = torch.argsort((reads == 0).to(torch.uint8), dim=1, stable=True)
        per_row = sigma.permute(2, 0, 1).reshape(kp, c * n)  # sigma of row k for every chip and column
        noise = sigma.new_zeros(t * b, c * n)
        largest = counts[by_count].tolist()
        limit = self.budget if sigma.is_cuda else min(self.budget, NOISE_BLOCK)
        block = max(largest[-1] * c * n, min(limit, t * b * largest[-1] * c * n))  # at least one read
        draws, scales = sigma.new_empty(block), sigma.new_empty(block)
        r0 = next((i for i, count in enumerate(largest) if count > 0), t * b)  # reads that drive no row add 0
        while r0 < t * b:
            r1 = _block_end(largest, r0, block // (c * n))
            width = largest[r1 - 1]
            z = draws[: (r1 - r0) * width * c * n].view(r1 - r0, width, c * n).normal_(generator=self.generator)
            picked = order[r0:r1, :width]
            scale = torch.index_select(per_row, 0, picked.reshape(-1), out=scales[: z.numel()].view(-1, c * n))
            z.mul_(scale.view_as(z))
            torch.bmm(reads[r0:r1].gather(1, picked)[:, None, :], z, out=noise[r0:r1, None, :])
            r0 = r1
        out = torch.empty_like(noise).index_copy_(0, by_count, noise)
        return out.reshape(t, b, c, n).permute(2, 0, 1, 3)

    # -- wire resistance -------------------------------------------------------------------------------------
    def _noisy_reads(self, g: torch.Tensor, t: int, b: int) -> torch.Tensor:
        """g + read noise for every read: [C, T, B, N, Kp] (clamped at 0: a circuit needs g >= 0)."""
        sigma = read_noise_sigma(g, self.device_model)
        c, n, kp = g.shape
        z = self._randn((c, t, b, n, kp), g)
        return (g[:, None, None] + sigma[:, None, None] * z).clamp(min=0.0)

    def _parasitic(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        from .parasitics import solve_gate_bitline, solve_row_column

        g = g.clamp(min=0.0)  # clip none/zero may leave negative g; a resistor network needs g >= 0
        c, n, kp = g.shape
        t, b = x.shape[0], x.shape[1]
        xf = x.reshape(t * b, kp)
        if self.topology == "gate_bitline":
            if not self.noisy:  # signed slices: positive and negative bits as two gate-driven reads
                gt = g.transpose(1, 2)
                out = g.new_zeros(c, t * b, n)
                chunk = max(1, self.budget // max(c * n, kp + 1))  # solver state [C, chunk, N], [chunk, Kp]
                for sgn, part in ((1.0, xf.clamp(min=0.0)), (-1.0, (-xf).clamp(min=0.0))):
                    if bool((part != 0).any()):
                        out += sgn * solve_gate_bitline(gt, part, self.r, chunk=chunk)
                return out.reshape(c, t, b, n)
            # read noise: fold each read's gate bits into its own noisy array and drive all gates on
            step = max(1, self.budget // max(1, c * t * n * kp))
            out = g.new_zeros(c, t, b, n)
            ones = g.new_ones(1, kp)
            for b0 in range(0, b, step):
                b1 = min(b, b0 + step)
                noisy = self._noisy_reads(g, t, b1 - b0)  # [C, T, Bc, N, Kp]
                xb = x[:, b0:b1]
                for sgn, sel in ((1.0, xb.clamp(min=0.0)), (-1.0, (-xb).clamp(min=0.0))):
                    if not bool((sel != 0).any()):
                        continue
                    cells = (noisy * sel[None, :, :, None, :]).reshape(-1, n, kp).transpose(1, 2)
                    cur = solve_gate_bitline(cells, ones, self.r)  # [C*T*Bc, 1, N]
                    out[:, :, b0:b1] += sgn * cur.reshape(c, t, b1 - b0, n)
            return out
        # row_column: voltage inputs; each group of `array.columns` outputs is one physical array
        out = g.new_zeros(c, t * b, n)
        for a0, a1 in column_groups(n, self.columns):
            if not self.noisy:
                out[:, :, a0:a1] = solve_row_column(g[:, a0:a1].transpose(1, 2), xf, self.r, self.r)
                continue
            for j in range(t * b):  # a fresh noisy array for every read (slow; exact)
                noisy = self._noisy_reads(g[:, a0:a1], 1, 1)[:, 0, 0]
                out[:, j : j + 1, a0:a1] = solve_row_column(noisy.transpose(1, 2), xf[j : j + 1], self.r, self.r)
        return out.reshape(c, t, b, n)


def _block_end(counts: list[int], start: int, limit: int) -> int:
    """The largest end > start with (end - start) * counts[end - 1] <= limit (``counts`` non-decreasing; at
    least start + 1)."""
    low, high = start + 1, len(counts)
    while low < high:
        middle = (low + high + 1) // 2
        if (middle - start) * counts[middle - 1] <= limit:
            low = middle
        else:
            high = middle - 1
    return low


# ---------------------------------------------------------------------------------------------------------
# ADC range calibration: observe -> calibrate -> convert
# ---------------------------------------------------------------------------------------------------------


class SignalProfile:
    """An observer (``observer(k, signal)``) that keeps the ADC input signals of every weight slice.

    ``signals(k)`` returns the kept values of slice ``k`` as CPU float64; ``count[k]`` is how many were seen.

    Per call mode (default): at most ``cap`` values are kept per observer call (a uniform random subset,
    fixed seed), so profiling memory is bounded by the calibration set's number of blocks, not its size in
    signals.

    Whole-stream mode (``total_cap``): at most ``total_cap`` values are kept per slice over all calls, a
    uniform random sample without replacement of every signal seen (exactly ``min(total_cap, count[k])``
    values). It is a bottom-k sketch: every signal gets an independent U(0, 1) key and the values with the
    ``total_cap`` smallest keys are kept, held on the signals' device (nothing but the sample is moved).
    Until the sample is full every value is kept with a drawn key, without sorting. Once it is full, only a
    signal whose key falls below the threshold ``t`` (the largest kept key at the last merge, never below
    the current one) can enter; those signals are drawn directly, without a key per signal: the gaps
    between them are geometric with parameter ``t`` and their keys U(0, t), which is the same distribution
    as drawing every key and comparing it with ``t``, at a cost proportional to the survivors (about
    ``total_cap * ln(count / total_cap)`` over the stream). Survivors wait in a buffer that is merged
    (smallest keys kept, threshold lowered) once it holds ``total_cap`` values, and at ``signals(k)``.
    Reproducible for a fixed ``seed`` and the same calls on the same device (one generator per device).
    """

    def __init__(self, slices: int, cap: int = 1 << 22, seed: int = 0, total_cap: int | None = None):
        if total_cap is not None and total_cap < 1:
            raise ValueError("total_cap: must be at least 1")
        self.samples: list[list[torch.Tensor]] = [[] for _ in range(slices)]
        self.cap = cap
        self.total_cap = total_cap
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._generators = {"cpu": self.generator}
        self._keys: list[torch.Tensor | None] = [None] * slices  # keys of samples[k][0] (whole-stream mode)
        self._threshold: list[float | None] = [None] * slices  # None until the sample of slice k is full
        self._pending: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(slices)]
        self._pending_size = [0] * slices
        self.count = [0] * slices

    def _generator(self, device: torch.device) -> torch.Generator:
        if str(device) not in self._generators:
            self._generators[str(device)] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[str(device)]

    def __call__(self, k: int, signal: torch.Tensor) -> None:
        flat = signal.detach().reshape(-1)
        self.count[k] += flat.numel()
        if self.total_cap is not None:
            self._bottom_k(k, flat)
            return
        if flat.numel() > self.cap:  # subsample where the signal lives, then move only what is kept
            pick = torch.randperm(flat.numel(), generator=self._generator(flat.device), device=flat.device)
            flat = flat[pick[: self.cap]]
        self.samples[k].append(flat.to("cpu", torch.float64))

    def _bottom_k(self, k: int, flat: torch.Tensor) -> None:
        gen = self._generator(flat.device)
        start = 0
        if self._threshold[k] is None:
            start = self._fill(k, flat, gen)
            if self._threshold[k] is None:
                return
        rest = flat[start:]
        t = self._threshold[k]
        if rest.numel() == 0 or t <= 0.0:  # t = 0: every kept key is 0, nothing can enter (probability ~ 2**-53)
            return
        where = _bernoulli_positions(rest.numel(), t, gen, rest.device)
        if where.numel() == 0:
            return
        keys = torch.rand(where.numel(), generator=gen, dtype=torch.float64, device=rest.device).mul_(t)
        # survivors wait in the signal's own dtype: widening after the merge's selection gives the same float64
        # values and converts only the kept ones (a first call of many caps has nearly every signal survive)
        self._pending[k].append((keys, rest[where]))
        self._pending_size[k] += where.numel()
        if self._pending_size[k] >= self.total_cap:
            self._merge(k)

    def _fill(self, k: int, flat: torch.Tensor, gen: torch.Generator) -> int:
        """Keep every value until the sample of slice k is full, each with its key; how many of ``flat`` it took."""
        kept = 0 if self._keys[k] is None else self._keys[k].numel()
        start = min(self.total_cap - kept, flat.numel())
        keys = torch.rand(start, generator=gen, dtype=torch.float64, device=flat.device)
        values = flat[:start].to(torch.float64)
        if self._keys[k] is not None:
            keys, values = torch.cat([self._keys[k], keys]), torch.cat([self.samples[k][0], values])
        self._keys[k], self.samples[k] = keys, [values]
        if keys.numel() == self.total_cap:
            self._threshold[k] = float(keys.max())
        return start

    def _merge(self, k: int) -> None:
        """Keep the ``total_cap`` smallest keys of the sample and the buffered survivors; lower the threshold."""
        if not self._pending[k]:
            return
        keys = torch.cat([self._keys[k], *(p[0] for p in self._pending[k])])
        keys, pick = torch.topk(keys, self.total_cap, largest=False, sorted=False)
        self._keys[k], self.samples[k] = keys, [_take(self.samples[k][0], [p[1] for p in self._pending[k]], pick)]
        self._threshold[k] = float(keys.max())
        self._pending[k], self._pending_size[k] = [], 0

    def signals(self, k: int) -> torch.Tensor:
        if self.total_cap is not None:
            self._merge(k)
        if not self.samples[k]:
            return torch.zeros(0, dtype=torch.float64)
        return torch.cat(self.samples[k]).to("cpu", torch.float64)


def _bernoulli_positions(
    n: int, p: float, generator: torch.Generator, device: torch.device, draws: int | None = None
) -> torch.Tensor:
    """Indices of the successes among ``n`` independent Bernoulli(``p``) trials (0 < p < 1), increasing.

    Drawn as cumulative geometric gaps (trials up to and including the next success), so the cost is
    proportional to the number of successes, not to ``n``. ``draws``: gaps drawn per round (default: the
    expected number of successes left plus four standard deviations, so one round almost always does).
    """
    parts = []
    at = 0.0  # trials consumed so far
    while True:
        expected = (n - at) * p
        count = draws if draws is not None else int(expected + 4.0 * expected**0.5) + 16
        gaps = torch.empty(count, dtype=torch.float64, device=device).geometric_(p, generator=generator)
        ends = gaps.cumsum_(0)  # 1-based trial index of each success
        if at:  # later rounds only: adding 0 would change no value, at the cost of a pass
            ends.add_(at)
        last = float(ends[-1])
        # every gap is at least one trial, so the ends increase: those within n are a prefix (no mask pass)
        parts.append(ends[: int(torch.searchsorted(ends, float(n), right=True))] if last > n else ends)
        if last >= n:
            break
        at = last
    ends = parts[0] if len(parts) == 1 else torch.cat(parts)
    return ends.to(torch.int64).sub_(1)


def _take(kept: torch.Tensor, waiting: list[torch.Tensor], pick: torch.Tensor) -> torch.Tensor:
    """float64 values at ``pick`` of ``kept`` followed by ``waiting``, gathered from the two where they lie:
    the survivors (often many times the sample) are not widened and copied whole to keep a few of them."""
    held = kept.numel()
    waiting_values = waiting[0] if len(waiting) == 1 else torch.cat(waiting)
    from_kept = kept[pick.clamp(max=held - 1)]
    from_waiting = waiting_values[(pick - held).clamp_(min=0)].to(torch.float64)
    return torch.where(pick < held, from_kept, from_waiting)


def profile_signals(
    scheme: Scheme,
    w_int: torch.Tensor,
    x_int: torch.Tensor,
    signed_inputs: bool,
    *,
    dtype: torch.dtype = torch.float64,
    chunk: int | None = None,
    profile: SignalProfile | None = None,
) -> SignalProfile:
    """Run the ideal arrays (no device error, no ADC) on ``x_int`` and record every ADC input per slice."""
    layout = SliceLayout.from_scheme(scheme)
    profile = profile if profile is not None else SignalProfile(layout.slices)
    ideal = program_ideal(w_int, scheme, dtype)
    step = chunk or _vector_block(scheme, x_int.shape[1], w_int.shape[0], 1, False, DEFAULT_BUDGET, signed_inputs)
    with no_tf32():
        for b0 in range(0, x_int.shape[0], step):
            linear_mvm(x_int[b0 : b0 + step], ideal, scheme, signed_inputs=signed_inputs, observer=profile)
    return profile


def ranges_from_profile(scheme: Scheme, profile: SignalProfile, fan_in: int, signed_inputs: bool) -> list[ADCRange]:
    """The profiled policy's range per weight slice of a layer of fan-in ``fan_in`` from the profile."""
    return slice_ranges(scheme, fan_in, signed_inputs, profile.signals)


def calibrate_ranges(
    scheme: Scheme,
    w_int: torch.Tensor,
    x_int: torch.Tensor | None,
    signed_inputs: bool,
    *,
    dtype: torch.dtype = torch.float64,
    chunk: int | None = None,
) -> list[ADCRange] | None:
    """One ADC range per weight slice for the scheme's policy (``None`` without an ADC).

    Structural policies need no data; profiled ones profile the ideal arrays on the calibration inputs
    ``x_int`` (integer codes [vectors, K]).
    """
    if scheme.adc.bits == 0 or not range_policy(scheme.adc.range).profiled:
        return slice_ranges(scheme, w_int.shape[1], signed_inputs)
    if x_int is None or x_int.shape[0] == 0:
        raise ValueError(f"adc.range: {scheme.adc.range} needs calibration inputs to profile")
    profile = profile_signals(scheme, w_int, x_int, signed_inputs, dtype=dtype, chunk=chunk)
    return ranges_from_profile(scheme, profile, w_int.shape[1], signed_inputs)


# ---------------------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------------------


@dataclass
class MVMResult:
    """Simulated outputs [chips, vectors, outputs] (float64, integer units) and the exact reference."""

    outputs: torch.Tensor
    reference: torch.Tensor
    ranges: list[ADCRange] | None
    gain: float
    signed_inputs: bool

    def summary(self) -> dict:
        return error_summary(self.outputs, self.reference)


def _vector_block(
    scheme: Scheme, k: int, n: int, chips: int, per_device_noise: bool, budget: int, signed_inputs: bool
) -> int:
    from aimc.inputs import slice_count

    i = scheme.inputs
    t = slice_count(i.bits, i.slice_bits, signed_inputs)
    rows = min(k, scheme.array.rows)
    per_vector = chips * t * n * (rows if per_device_noise else 1) + t * k
    return max(1, budget // max(1, per_vector))


def _chip_block(scheme: Scheme, n: int, k: int, budget: int) -> int:
    arrays = len(SliceLayout.from_scheme(scheme).arrays)
    per_chip = scheme.weights.slices * n * k * arrays
    return max(1, budget // max(1, 4 * per_chip))


def program(
    w_int: torch.Tensor, scheme: Scheme, seed: int, chips: range | list[int], dtype: torch.dtype = torch.float32
) -> Programmed:
    """Programmed conductances of the given chips of run ``seed`` (on ``w_int``'s device)."""
    return program_chips(program_ideal(w_int, scheme, dtype), scheme.device, seed, chips)


def simulate_mvm(
    layer: Layer | QuantizedLayer,
    scheme: Scheme,
    chips: int = 1,
    seed: int = 0,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    chunk: int | None = None,
    read_noise_mode: str | None = None,
    ranges: list[ADCRange] | None | str = "auto",
    calibration_inputs: torch.Tensor | None = None,
    budget: int = DEFAULT_BUDGET,
) -> MVMResult:
    """Simulate ``chips`` programmed chips of the layer's analog MVM on all its input vectors.

    Args:
        layer: a float :class:`~aimc.layers.Layer` (quantised as ``aimc simulate`` does) or a
            :class:`~aimc.layers.QuantizedLayer`.
        chips: Monte Carlo chips; chip c's frozen errors depend only on (seed, c).
        device, dtype: where and in which float type conductances and currents live (float32 default,
            float64 for validation).
        chunk: input vectors per block (default: sized from ``budget`` elements per intermediate tensor).
        read_noise_mode: ``per_device`` (reference) or ``output_referred`` (Gaussian, same distribution);
            None (default): :func:`default_read_noise_mode`, output-referred unless there is wire resistance.
        ranges: ADC ranges per weight slice, ``None`` for no ADC, or ``"auto"``: from the scheme
            (structural, or calibrated on ``calibration_inputs``, default the layer's own inputs).
    """
    if chips < 1:
        raise ValueError(f"chips: must be >= 1, got {chips}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: float32 or float64, got {dtype}")
    dev = resolve_device(device)
    q = layer if isinstance(layer, QuantizedLayer) else quantize_layer(layer, scheme)
    w_int, x_int = q.w_int.to(dev), q.x_int.to(dev)
    signed = q.signed_inputs
    if isinstance(ranges, str):
        if ranges != "auto":
            raise ValueError(f"ranges: a list of ADCRange, None or 'auto', got {ranges!r}")
        x_cal = x_int if calibration_inputs is None else calibration_inputs.to(dev)
        ranges = calibrate_ranges(scheme, w_int, x_cal, signed, dtype=torch.float64)
    gain = scheme.device.drift.compensation_gain
    currents = CurrentModel(scheme, stream_generator(seed, 2, 0, dev), read_noise_mode, budget)
    read = _MVMReads(scheme, currents, signed, ranges, gain)
    out = _simulate_chips(program_ideal(w_int, scheme, dtype), x_int, read, chips, seed, chunk, budget)
    return MVMResult(out, q.reference, ranges, gain, signed)


@dataclass
class _MVMReads:
    """How one block of chips reads one block of vectors: the signal path with this current model."""

    scheme: Scheme
    currents: CurrentModel
    signed: bool
    ranges: list[ADCRange] | None
    gain: float

    def __call__(self, x_int: torch.Tensor, programmed: Programmed) -> torch.Tensor:
        common = {"signed_inputs": self.signed, "ranges": self.ranges, "gain": self.gain}
        if self.currents.linear:  # the batched form of the same signal path (tested against the reference)
            return linear_mvm(x_int, programmed, self.scheme, **common)
        return analog_mvm(x_int, programmed, self.scheme, currents=self.currents, **common)


def _simulate_chips(
    ideal: Programmed, x_int: torch.Tensor, read: _MVMReads, chips: int, seed: int, chunk: int | None, budget: int
) -> torch.Tensor:
    """Outputs [chips, vectors, N] (CPU float64), programming and reading chips and vectors in blocks."""
    scheme = read.scheme
    n, k = ideal.first.shape[2], ideal.first.shape[3]
    per_device = read.currents.noisy and read.currents.mode == "per_device"
    c_step = _chip_block(scheme, n, k, budget)
    b_step = chunk or _vector_block(scheme, k, n, min(c_step, chips), per_device, budget, read.signed)
    out = torch.empty(chips, x_int.shape[0], n, dtype=torch.float64)
    with no_tf32():
        for c0 in range(0, chips, c_step):
            c1 = min(chips, c0 + c_step)
            programmed = program_chips(ideal, scheme.device, seed, range(c0, c1))
            for b0 in range(0, x_int.shape[0], b_step):
                out[c0:c1, b0 : b0 + b_step] = read(x_int[b0 : b0 + b_step], programmed).to("cpu", torch.float64)
    return out


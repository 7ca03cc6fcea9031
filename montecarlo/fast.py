"""The simulator's fast paths for linear currents, each tested against the reference signal path.

With linear currents (no read noise and no wire resistance: every read is the ideal product of frozen
conductances), the signal path of :func:`aimc.pipeline.analog_mvm` can be evaluated in batched form
without changing what any ADC sees:

* :func:`linear_mvm`: all row partitions in one product over zero-padded partitions, each conversion
  read once as the signed sum of its arrays (a differential pair with analog subtraction as one array of
  g+ - g-), and input slices accumulated in analog collapsed into one read of the whole input;
* :func:`linear_conv2d`: the currents of every (weight slice, partition, conversion, input slice) of a
  convolution read as one grouped convolution over the channel-padded input, converted by the same
  digitisation (:func:`digitize_partitions`) as the im2col vectors, or, without an observer, by the fused
  integer-code conversion of :func:`_fused_codes`.

Every ADC still sees the signal the reference gives it: one conversion per (partition, weight slice,
conversion, input slice or accumulated input, vector, column); only the order of the float sums differs.
Tests: ``tests/aimc/test_exactness.py`` (ideal cells: exact integers on every path),
``tests/montecarlo/test_mc_conv_path.py`` and ``tests/montecarlo/test_design_e_speed.py`` (against the
reference and the im2col path).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from aimc import adc as adc_mod
from aimc.adc import ADCRange
from aimc.inputs import conversion_significances, input_slices
from aimc.mapping import SliceLayout, group_index, recombine
from aimc.pipeline import ObserverFn, Programmed, check_mvm_inputs, convert
from aimc.scheme import Scheme

__all__ = [
    "DEFAULT_BLOCK",
    "conv_partition_channels",
    "conversion_arrays",
    "digitize_partitions",
    "linear_conv2d",
    "linear_input_slices",
    "linear_mvm",
    "linear_vector_step",
]

DEFAULT_BLOCK = 1 << 25
"""Default bound on the elements of the largest intermediate tensor of the batched forms."""

ReadFn = Callable[[int, int], torch.Tensor]
"""read(conversion c, slice k) -> ideal currents [C, T, B, P, N] of that conversion of every row partition
(N = G column groups for a conversion of shared arrays)."""


def padded_partitions(t: torch.Tensor, rows: int) -> torch.Tensor:
    """[..., K] -> [..., P, R]: the K rows split into partitions of ``rows`` (the last zero-padded)."""
    k = t.shape[-1]
    r = min(rows, k)
    p = -(-k // r)
    if p * r != k:
        t = torch.nn.functional.pad(t, (0, p * r - k))
    return t.reshape(*t.shape[:-1], p, r)


def conversion_arrays(programmed: Programmed, layout: SliceLayout) -> list[torch.Tensor]:
    """Per conversion of the layout, the signed sum of its arrays' conductances [C, S, N or G, K].

    With linear currents the currents of a sum of arrays are the sum of their currents: one read instead of
    one per array (exact up to float rounding; exact for ideal cells).
    """
    out = []
    for conversion in layout.conversions:
        g = None
        for name, coef in conversion.reads:
            term = programmed.arrays[name] if coef == 1 else coef * programmed.arrays[name]
            g = term if g is None else g + term
        out.append(g)
    return out


def linear_input_slices(
    x_int: torch.Tensor, scheme: Scheme, signed_inputs: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t [T, ...], 2^(s t) [T]) as read with linear currents.

    Analog accumulation (or whole inputs) reads the whole input once: sum_t 2^(s t) (g . x_t) = g . x;
    digital accumulation converts every input slice, so each is read.
    """
    i = scheme.inputs
    significances = conversion_significances(i, signed_inputs)
    t_sig = torch.tensor([float(v) for v in significances], dtype=dtype, device=x_int.device)
    if i.accumulation == "analog" or i.slice_bits == 0:
        return x_int.to(dtype).unsqueeze(0), t_sig
    return input_slices(x_int, i.bits, i.slice_bits, signed_inputs).to(dtype), t_sig


def needs_input_total(layout: SliceLayout) -> bool:
    """Whether the digital side needs sum_i x_i of each partition (a g_min pedestal or an offset to remove)."""
    return bool(layout.offset) or bool(layout.pedestal and layout.g_min)


def digitize_partitions(
    read: ReadFn,
    x_total: torch.Tensor | None,
    scheme: Scheme,
    t_sig: torch.Tensor,
    ranges: list[ADCRange] | None,
    gain: float,
    observer: ObserverFn | None,
    n_out: int,
) -> torch.Tensor:
    """The digital output [C, B, N] of B vectors from the currents of every partition (linear currents).

    The conversion and recombination of :func:`aimc.pipeline.analog_mvm`, given the reads: every
    (partition, weight slice, conversion, input slice or accumulated input, vector, column) is one
    conversion. ``x_total`` [B, P] is sum_i x_i per partition (needed when :func:`needs_input_total`);
    ``n_out`` the number of outputs N (a conversion of shared arrays reads one column per group).
    """
    layout = SliceLayout.from_scheme(scheme)
    weights = t_sig.reshape(1, -1, 1, 1, 1)
    shared = any(layout.is_shared(c) for c in layout.conversions)
    index = group_index(n_out, scheme.array.columns, t_sig.device) if shared else None

    def converted(k: int, c: int) -> torch.Tensor:
        """[C, T, B, P, N] currents -> converted, accumulated over input slices: [C, B, P, N]."""
        signal = read(c, k) * gain
        if observer is not None:
            observer(k, signal if signal.shape[1] > 1 else signal[:, 0])
        q = (weights * convert(signal, k, ranges, scheme.adc.bits)).sum(1)
        return q[..., index] if layout.is_shared(layout.conversions[c]) else q

    totals = None if x_total is None else x_total.unsqueeze(0).unsqueeze(-1)  # [1, B, P, 1]
    return recombine(layout, converted, totals, reduce=lambda q: q.sum(2))


def linear_vector_step(programmed: Programmed, scheme: Scheme, signed_inputs: bool, block: int) -> int:
    """Vectors per block of the batched linear form: its largest intermediate holds at most ``block``
    elements (chips x read input slices x partitions x read columns per vector)."""
    layout = SliceLayout.from_scheme(scheme)
    t = len(conversion_significances(scheme.inputs, signed_inputs))
    arrays = conversion_arrays(programmed, layout)
    chips, fan_in = programmed.first.shape[0], programmed.first.shape[-1]
    parts = -(-fan_in // min(scheme.array.rows, fan_in))
    columns = sum(g.shape[2] for g in arrays)
    return max(1, block // max(1, chips * t * parts * columns))


def linear_mvm(
    x_int: torch.Tensor,
    programmed: Programmed,
    scheme: Scheme,
    *,
    signed_inputs: bool,
    ranges: list[ADCRange] | None = None,
    gain: float = 1.0,
    observer: ObserverFn | None = None,
    block: int = DEFAULT_BLOCK,
) -> torch.Tensor:
    """:func:`aimc.pipeline.analog_mvm` for ideal (matmul) currents, batched over partitions, vectors and
    input slices; ``block`` bounds the elements of the largest intermediate tensor."""
    layout = check_mvm_inputs(x_int, programmed, scheme, signed_inputs, ranges)
    dtype = programmed.first.dtype
    rows = scheme.array.rows
    x_slices, t_sig = linear_input_slices(x_int, scheme, signed_inputs, dtype)
    chips, n_out = programmed.first.shape[0], programmed.first.shape[2]
    arrays = [padded_partitions(g, rows) for g in conversion_arrays(programmed, layout)]  # [C, S, N, P, R]
    step = linear_vector_step(programmed, scheme, signed_inputs, block)
    out = torch.empty(chips, x_int.shape[0], n_out, dtype=dtype, device=x_int.device)
    for b0 in range(0, x_int.shape[0], step):
        xs = padded_partitions(x_slices[:, b0 : b0 + step], rows)  # [T, B, P, R]
        x_total = (t_sig.reshape(-1, 1, 1) * xs.sum(-1)).sum(0)  # [B, P]

        def read(c: int, k: int, xs: torch.Tensor = xs) -> torch.Tensor:
            return torch.einsum("cnpr,tbpr->ctbpn", arrays[c][:, k], xs)

        out[:, b0 : b0 + step] = digitize_partitions(read, x_total, scheme, t_sig, ranges, gain, observer, n_out)
    return out


# ---------------------------------------------------------------------------------------------------------
# convolutions: every read as one grouped convolution
# ---------------------------------------------------------------------------------------------------------


def conv_partition_channels(in_channels: int, kernel_size: tuple[int, int], rows: int) -> int | None:
    """Input channels per row partition of a convolution's C kh kw rows (im2col order: channel-major).

    The partitions of ``rows`` rows fall on whole input channels when all rows fit one partition or
    ``rows`` is a multiple of kh kw; then partition p holds channels [p c, (p + 1) c) with the returned c.
    None otherwise (a partition would cut a channel's kernel window).
    """
    window = kernel_size[0] * kernel_size[1]
    if in_channels * window <= rows:
        return in_channels
    if rows % window == 0:
        return rows // window
    return None


@dataclass
class ConvReads:
    """The grouped convolution that reads every conversion of a layer, and where each lands.

    ``weight`` [P x per_group, cpp, kh, kw]: in each partition's group, conversion c's channels are
    ``where[c] = (start, size)`` with size = chips x columns, slice k at [start + k size, start + (k+1) size);
    channel ``at`` (the last) is an all-ones kernel giving sum_i x_i when ``totals``.
    """

    weight: torch.Tensor
    where: list[tuple[int, int]]
    at: int
    totals: bool
    parts: int
    cpp: int
    chips: int
    n_out: int
    slices: int

    @property
    def per_group(self) -> int:
        return self.at + (1 if self.totals else 0)


def conv_reads(programmed: Programmed, scheme: Scheme, in_channels: int, kernel_size: tuple[int, int]) -> ConvReads:
    """The :class:`ConvReads` of a programmed convolution whose row partitions fall on whole channels."""
    layout = SliceLayout.from_scheme(scheme)
    kh, kw = kernel_size
    cpp = conv_partition_channels(in_channels, kernel_size, scheme.array.rows)
    if cpp is None or programmed.first.shape[-1] != in_channels * kh * kw:
        raise ValueError("linear_conv2d: the row partitions must fall on whole input channels")
    parts = -(-in_channels // cpp)
    chips, n_out = programmed.first.shape[0], programmed.first.shape[2]
    pieces, where, at = [], [], 0
    for g in conversion_arrays(programmed, layout):
        n_a = g.shape[2]
        g = g.reshape(chips, layout.slices, n_a, in_channels, kh, kw)
        g = torch.nn.functional.pad(g, (0, 0, 0, 0, 0, parts * cpp - in_channels))
        g = g.reshape(chips, layout.slices, n_a, parts, cpp, kh, kw).permute(3, 1, 0, 2, 4, 5, 6)
        pieces.append(g.reshape(parts, layout.slices * chips * n_a, cpp, kh, kw))
        where.append((at, chips * n_a))
        at += layout.slices * chips * n_a
    totals = needs_input_total(layout)
    if totals:  # x_total: an all-ones kernel over each partition's channels
        pieces.append(torch.ones(parts, 1, cpp, kh, kw, dtype=programmed.first.dtype, device=programmed.first.device))
    weight = torch.cat(pieces, 1)
    weight = weight.reshape(parts * weight.shape[1], cpp, kh, kw)
    return ConvReads(weight, where, at, totals, parts, cpp, chips, n_out, layout.slices)


@dataclass(frozen=True)
class ConvGeometry:
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1


def _read_currents(
    x_int: torch.Tensor, reads: ConvReads, geometry: ConvGeometry, scheme: Scheme, signed_inputs: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(currents [T, b, P, per_group, positions], 2^(s t) [T]) of the images ``x_int`` [b, C_in, H, W]."""
    b, c_in, h, w = x_int.shape
    xb, t_sig = linear_input_slices(x_int, scheme, signed_inputs, reads.weight.dtype)  # [T, b, C_in, H, W]
    xb = torch.nn.functional.pad(xb, (0, 0, 0, 0, 0, reads.parts * reads.cpp - c_in))
    t = xb.shape[0]
    xb = xb.reshape(t * b, reads.parts * reads.cpp, h, w)
    currents = torch.nn.functional.conv2d(xb, reads.weight, None, geometry.stride, geometry.padding,
                                          geometry.dilation, reads.parts)
    return currents.reshape(t, b, reads.parts, reads.per_group, -1), t_sig


def linear_conv2d(
    x_int: torch.Tensor,
    programmed: Programmed,
    scheme: Scheme,
    *,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    signed_inputs: bool,
    ranges: list[ADCRange] | None = None,
    gain: float = 1.0,
    observer: ObserverFn | None = None,
    chunks: list[tuple[int, int]] | None = None,
    block: int = DEFAULT_BLOCK,
) -> torch.Tensor:
    """:func:`linear_mvm` of every im2col vector of a convolution: [C, B, N, Ho, Wo].

    ``x_int`` [B, C_in, H, W] integer input codes; the programmed rows are the im2col rows (C_in kh kw,
    channel-major), and their partitions must fall on whole channels (:func:`conv_partition_channels`).
    ``chunks``: consecutive ranges of the im2col vectors (ordered image-major, then output position) passed
    to :func:`digitize_partitions` (hence to ``observer``) one at a time (default: blocks of whole images
    bounded by ``block`` elements of currents). Without an observer or chunks, and with ranges the fused
    conversion can take (:func:`_fused_conversion`), the conversions are those of :func:`_fused_codes`.
    """
    geometry = ConvGeometry(kernel_size, stride, padding, dilation)
    reads = conv_reads(programmed, scheme, x_int.shape[1], kernel_size)
    ho, wo = geometry.output_size(*x_int.shape[2:])
    significances = conversion_significances(scheme.inputs, signed_inputs)
    if observer is None and chunks is None and _fused_conversion(ranges, significances):
        out = _fused_linear_conv2d(x_int, scheme, reads, geometry, signed_inputs, ranges, gain, block)
    else:
        out = _chunked_linear_conv2d(x_int, scheme, reads, geometry, signed_inputs, ranges, gain, observer,
                                     chunks, block)
    return out.reshape(reads.chips, x_int.shape[0], reads.n_out, ho, wo)


def _chunked_linear_conv2d(
    x_int: torch.Tensor,
    scheme: Scheme,
    reads: ConvReads,
    geometry: ConvGeometry,
    signed_inputs: bool,
    ranges: list[ADCRange] | None,
    gain: float,
    observer: ObserverFn | None,
    chunks: list[tuple[int, int]] | None,
    block: int,
) -> torch.Tensor:
    """The reads of :func:`conv_reads`, converted by :func:`digitize_partitions` chunk by chunk: [C, B, N, L]."""
    b = x_int.shape[0]
    positions = math.prod(geometry.output_size(*x_int.shape[2:]))
    t = len(conversion_significances(scheme.inputs, signed_inputs))
    if chunks is None:
        step = max(1, block // max(1, t * positions * reads.parts * reads.per_group))
        chunks = [(i0 * positions, min(b, i0 + step) * positions) for i0 in range(0, b, step)]
    out = torch.empty(reads.chips, b * positions, reads.n_out, dtype=reads.weight.dtype, device=x_int.device)
    cached: tuple[int, int, torch.Tensor, torch.Tensor] | None = None
    for v0, v1 in chunks:
        i0, i1 = v0 // positions, -(-v1 // positions)
        if cached is None or cached[:2] != (i0, i1):
            cached = (i0, i1, *_read_currents(x_int[i0:i1], reads, geometry, scheme, signed_inputs))
        currents, t_sig = cached[2], cached[3]
        lo, hi = v0 - i0 * positions, v1 - i0 * positions
        read = _chunk_reader(currents, reads, lo, hi)
        x_total = None
        if reads.totals:  # [V, P]
            ones = currents[:, :, :, reads.at].permute(0, 1, 3, 2).reshape(t, -1, reads.parts)[:, lo:hi]
            x_total = (t_sig.reshape(-1, 1, 1) * ones).sum(0)
        out[:, v0:v1] = digitize_partitions(read, x_total, scheme, t_sig, ranges, gain, observer, reads.n_out)
    return out.reshape(reads.chips, b, positions, reads.n_out).permute(0, 1, 3, 2)


def _chunk_reader(currents: torch.Tensor, reads: ConvReads, lo: int, hi: int) -> ReadFn:
    """read(c, k): [T, b, P, M, L] -> [C, T, V, P, N], the chunk's vectors (image-major, then position)."""
    t, _, parts, _, positions = currents.shape

    def read(c: int, k: int) -> torch.Tensor:
        start, size = reads.where[c]
        sel = currents[:, :, :, start + k * size : start + (k + 1) * size]
        sel = sel.reshape(t, sel.shape[1], parts, reads.chips, -1, positions).permute(3, 0, 1, 5, 2, 4)
        return sel.reshape(reads.chips, t, -1, parts, sel.shape[-1])[:, :, lo:hi]

    return read


def _fused_conversion(ranges: list[ADCRange] | None, t_sig: tuple[int, ...]) -> bool:
    """Whether :func:`_fused_linear_conv2d` gives the conversions of :func:`digitize_partitions` bit for bit:
    ADC ranges of one signedness (one clip level count) and input slice significances +-2^j (scaling by
    them commutes with float rounding, so they can be folded into the ADC levels)."""
    if ranges is None or len({r.signed for r in ranges}) != 1:
        return False
    return all(v != 0 and math.frexp(abs(v))[0] == 0.5 for v in t_sig)


@dataclass
class _FusedTerms:
    """What :func:`_fused_codes` needs besides the currents (see :func:`_fused_linear_conv2d`)."""

    low: torch.Tensor  # per channel of the conversions, its slice's range low [1, 1, 1, at, 1]
    delta: torch.Tensor  # and LSB
    levels: int
    signed: bool
    t_sig: torch.Tensor
    code_weight: torch.Tensor  # [1, S, 1, 1, 1]
    constant: float
    per_x_total: float
    index: torch.Tensor | None  # output -> column group, when a conversion reads shared arrays


def _fused_terms(
    scheme: Scheme, reads: ConvReads, ranges: list[ADCRange], signed_inputs: bool, device: torch.device
) -> _FusedTerms:
    layout = SliceLayout.from_scheme(scheme)
    dtype = reads.weight.dtype
    signed = ranges[0].signed
    shape = (1, 1, 1, reads.at, 1)
    steps = [adc_mod.step(scheme.adc.bits, r) for r in ranges]
    lows = torch.tensor([r.low for r in ranges], dtype=dtype, device=device)
    deltas = torch.tensor(steps, dtype=dtype, device=device)
    low_m = torch.cat([lows.repeat_interleave(size) for _, size in reads.where]).reshape(shape)
    delta_m = torch.cat([deltas.repeat_interleave(size) for _, size in reads.where]).reshape(shape)
    sig_values = [float(v) for v in conversion_significances(scheme.inputs, signed_inputs)]
    coef = [layout.digit_scale(k) for k in range(layout.slices)]
    code_weight = torch.tensor([c * d for c, d in zip(coef, steps, strict=True)], dtype=dtype, device=device)
    signs = sum(c.sign for c in layout.conversions)  # the range's low survives unless the conversions cancel it
    constant = 0.0
    if not signed and signs:
        constant = signs * reads.parts * sum(sig_values) * sum(c * r.low for c, r in zip(coef, ranges, strict=True))
    per_x_total = layout.g_min * layout.pedestal * sum(coef) + layout.offset
    if per_x_total and not reads.totals:
        raise ValueError("linear_conv2d: the offset terms need the x_total channel")
    shared = any(layout.is_shared(c) for c in layout.conversions)
    index = group_index(reads.n_out, scheme.array.columns, device) if shared else None
    levels = (1 << (scheme.adc.bits - 1)) - 1 if signed else (1 << scheme.adc.bits) - 1
    return _FusedTerms(low_m, delta_m, levels, signed, torch.tensor(sig_values, dtype=dtype, device=device),
                       code_weight.reshape(1, layout.slices, 1, 1, 1), constant, per_x_total, index)


def _fused_linear_conv2d(
    x_int: torch.Tensor,
    scheme: Scheme,
    reads: ConvReads,
    geometry: ConvGeometry,
    signed_inputs: bool,
    ranges: list[ADCRange],
    gain: float,
    block: int,
) -> torch.Tensor:
    """:func:`linear_conv2d` without an observer: every conversion of every weight slice, array and input
    slice in one set of in-place tensor ops on the grouped convolution's output [T, b, P, M, L].

    The codes are those of :func:`digitize_partitions`, from the same float operations per element:
    (s gain - low) / delta (times the float reciprocal of delta on CUDA, as torch does there for a scalar
    divisor), rounded, clipped. Channel m of M has the range of its weight slice. The digital side then
    works on the integer codes c instead of the converted values low + c delta, which is the same sum in
    a different order (equal up to float rounding of the sums, never by a code):

        y = sum_k coef_k delta_k sum_p D_kp + [unsigned] (sum_c sign_c) P sum_k coef_k low_k sum_t 2^j_t
            - (g_min pedestal sum_k coef_k + offset) sum_p x_total_p

    with D_kp = sum_c sign_c sum_t 2^j_t codes of conversion c (the low cancels between conversions of one
    slice, which share its range; it survives where their signs do not cancel). Sums of codes times +-2^j
    are exact integers in the float dtype (below 2^24 in float32), so the big tensor is read once after
    clipping, and the per-channel scale and offset act on the P-times smaller sums.
    """
    b = x_int.shape[0]
    positions = math.prod(geometry.output_size(*x_int.shape[2:]))
    terms = _fused_terms(scheme, reads, ranges, signed_inputs, x_int.device)
    t = len(terms.t_sig)
    step = max(1, block // max(1, t * positions * reads.parts * reads.per_group))
    out = torch.empty(b, reads.chips, reads.n_out, positions, dtype=reads.weight.dtype, device=x_int.device)
    for i0 in range(0, b, step):
        i1 = min(b, i0 + step)
        currents, _ = _read_currents(x_int[i0:i1], reads, geometry, scheme, signed_inputs)
        out[i0:i1] = _fused_codes(currents, reads, terms, gain, scheme)
    return out.permute(1, 0, 2, 3)


def _fused_codes(
    currents: torch.Tensor, reads: ConvReads, terms: _FusedTerms, gain: float, scheme: Scheme
) -> torch.Tensor:
    """The digital outputs [b, C, N, L] of one block of currents [T, b, P, M, L] (converted in place)."""
    layout = SliceLayout.from_scheme(scheme)
    s = currents[:, :, :, : reads.at]  # converted in place (the convolution's own output)
    if gain != 1.0:
        s.mul_(gain)
    if not terms.signed:
        s.sub_(terms.low)
    s = s.div_(terms.delta) if s.device.type == "cpu" else s.mul_(1.0 / terms.delta)
    s.round_().clamp_(-terms.levels if terms.signed else 0, terms.levels)  # the codes
    if len(terms.t_sig) == 1:
        codes = s[0] if float(terms.t_sig[0]) == 1 else s[0] * terms.t_sig[0]  # [b, P, M, L]
    else:  # sum_t 2^j_t c_t: integers, exact in any summation order (TF32 off, as for the convolution)
        codes = torch.tensordot(terms.t_sig, s, dims=1)
    d = None
    for c, conversion in enumerate(layout.conversions):
        start, size = reads.where[c]
        part = codes[:, :, start : start + reads.slices * size].unflatten(2, (reads.slices, reads.chips, -1))
        if layout.is_shared(conversion):
            part = part.index_select(4, terms.index)  # [b, P, S, C, N, L]
        d = (part if conversion.sign == 1 else -part) if d is None else (d + part if conversion.sign == 1 else d - part)
    y = (d.sum(1) * terms.code_weight).sum(1)  # [b, C, N, L]
    if terms.constant:
        y += terms.constant
    if terms.per_x_total:
        x_total = (terms.t_sig.reshape(-1, 1, 1, 1) * currents[:, :, :, reads.at]).sum(0)  # [b, P, L]
        y -= (terms.per_x_total * x_total.sum(1)).reshape(currents.shape[1], 1, 1, -1)
    return y

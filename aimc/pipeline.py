"""Exact definition of an analog MVM's signal path: currents, ADC inputs, ADCs, digital recombination.

Given the conductances a layer was programmed to (for one or many chips) and integer input codes, this
module defines what every ADC sees and how the digital side turns the conversions back into the integer
product sum_i w_ji x_i. The Monte Carlo engine calls it with perturbed conductances and its own current
model (read noise, parasitics); with ideal conductances and a granular ADC of enough bits it returns the
integer product exactly.

Signal path, per row partition p and weight slice k (currents in units of Gmax x input code):

* the input slices x_t (see :mod:`aimc.inputs`) drive the array; a column reads I_t = sum_i g_i x_ti;
* the ADC input is s = I+ - I- (differential, analog subtraction), I+ and I- separately (digital
  subtraction) or I (offset; plus the array's unit column I_u with ``mapping.offset = unit_column``);
* digital accumulation converts every s_t and adds 2^(s t) Q(s_t); analog accumulation converts once,
  Q(sum_t 2^(s t) s_t);
* digits D_k = L_k / (1 - g_min) x (converted signal - pedestal), where the pedestal is 0 (differential),
  g_min sum_i x_i (offset, digital removal, exact) or the converted unit column (offset, unit column);
* y = sum_p sum_k 2^(b k) D_k x (1 or 1/2 for two-sided pairs), minus M sum_i x_i for the digital offset.

All ADCs of one weight slice share one range (partitions and input slices included).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import adc as adc_mod
from .adc import ADCRange
from .inputs import input_max, input_slices, slice_count, slice_significance
from .mapping import (
    SliceLayout,
    column_groups,
    digits_to_conductance,
    partitions,
    unit_column_digits,
    weight_digits,
)
from .scheme import Scheme

__all__ = [
    "DEFAULT_BLOCK",
    "CurrentsFn",
    "ObserverFn",
    "Programmed",
    "analog_mvm",
    "granular_step",
    "matmul_currents",
    "profiled_ranges",
    "program_ideal",
    "signal_is_signed",
    "structural_range",
]

CurrentsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""currents(g [C, N, Kp], x [T, B, Kp]) -> [C, T, B, N]: the column currents of one array partition."""
ObserverFn = Callable[[int, torch.Tensor], None]
"""observer(slice k, ADC input signal) called with every signal before conversion (for calibration)."""
DEFAULT_BLOCK = 1 << 25
"""Default bound on the elements of the largest intermediate tensor of the batched (linear) form."""


@dataclass
class Programmed:
    """A layer's conductances for C chips: ``g_pos``/``g_neg`` [C, S, N, K]; ``g_unit`` [C, S, G, K].

    ``g_neg`` exists for differential mappings only; ``g_unit`` (one unit column per group of
    ``array.columns`` outputs) for the offset mapping with unit-column subtraction only.
    """

    g_pos: torch.Tensor
    g_neg: torch.Tensor | None
    g_unit: torch.Tensor | None

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in (self.g_pos, self.g_neg, self.g_unit) if t is not None]


def program_ideal(w_int: torch.Tensor, scheme: Scheme, dtype: torch.dtype = torch.float64) -> Programmed:
    """Target conductances of integer weights [N, K] (one chip, no device error)."""
    layout = SliceLayout.from_scheme(scheme)
    d_pos, d_neg = weight_digits(w_int, layout)
    g_pos = digits_to_conductance(d_pos, layout, dtype).unsqueeze(0)
    g_neg = None if d_neg is None else digits_to_conductance(d_neg, layout, dtype).unsqueeze(0)
    g_unit = None
    if scheme.mapping.kind == "offset" and scheme.mapping.offset == "unit_column":
        groups = len(column_groups(w_int.shape[0], scheme.array.columns))
        unit = digits_to_conductance(unit_column_digits(layout), layout, dtype).to(w_int.device)
        g_unit = unit.reshape(1, -1, 1, 1).expand(1, layout.slices, groups, w_int.shape[1]).clone()
    return Programmed(g_pos, g_neg, g_unit)


def signal_is_signed(scheme: Scheme, signed_inputs: bool) -> bool:
    """Whether the ADC inputs can be negative: analog differential subtraction, or signed inputs."""
    analog_diff = scheme.mapping.kind != "offset" and scheme.mapping.subtraction == "analog"
    return analog_diff or signed_inputs


def _adc_input_max(scheme: Scheme, signed_inputs: bool) -> int:
    """Largest input code seen by one conversion: a slice's, or the whole input's (analog accumulation)."""
    i = scheme.inputs
    whole = input_max(i.bits, signed_inputs)
    if i.slice_bits == 0 or i.accumulation == "analog":
        return whole
    return min((1 << i.slice_bits) - 1, whole)


def granular_step(scheme: Scheme, k: int) -> float:
    """The spacing of the possible ideal ADC inputs of weight slice k (one conductance level x one input
    step), in units of Gmax x input code: the level spacing of the ``granular`` range."""
    layout = SliceLayout.from_scheme(scheme)
    two_sided_analog = layout.kind == "differential_two_sided" and scheme.mapping.subtraction == "analog"
    return (1.0 - layout.g_min) / layout.levels[k] * (2 if two_sided_analog else 1)


def structural_range(scheme: Scheme, k: int, fan_in: int, signed_inputs: bool) -> ADCRange:
    """The ``max`` or ``granular`` range of weight slice k (ranges that need no profiled data)."""
    layout = SliceLayout.from_scheme(scheme)
    signed = signal_is_signed(scheme, signed_inputs)
    bits, policy = scheme.adc.bits, scheme.adc.range
    g_range = 1.0 - layout.g_min
    if policy == "granular":
        return adc_mod.granular_range(granular_step(scheme, k), bits, signed)
    if policy != "max":
        raise ValueError(f"adc.range: {policy} needs profiled signals (calibration), not a structural range")
    rows = min(fan_in, scheme.array.rows)
    x_max = _adc_input_max(scheme, signed_inputs)
    top_fraction = layout.max_digit[k] / layout.levels[k]
    analog_diff = layout.differential and scheme.mapping.subtraction == "analog"
    g_top = g_range * top_fraction if analog_diff else layout.g_min + g_range * top_fraction
    peak = rows * x_max * g_top
    return ADCRange(-peak, peak) if signed else ADCRange(0.0, peak)


def profiled_ranges(scheme: Scheme, samples: list[torch.Tensor], signed_inputs: bool) -> list[ADCRange]:
    """The ``calibrated``, ``aligned`` or ``optimal`` range of each weight slice from its profiled ADC
    inputs (``samples[k]``), then the power-of-two constraint across slices where configured (calibrated
    and optimal only: aligned ranges are powers of two of each slice's own granular range)."""
    a = scheme.adc
    signed = signal_is_signed(scheme, signed_inputs)
    out = []
    for k, s in enumerate(samples):
        if a.range == "calibrated":
            out.append(adc_mod.calibrated_range(s, a.percentile, signed))
        elif a.range == "aligned":
            rng = adc_mod.calibrated_range(s, a.percentile, signed)
            out.append(adc_mod.aligned_range(rng, granular_step(scheme, k), a.bits))
        elif a.range == "optimal":
            out.append(adc_mod.optimal_range(s, a.bits, signed))
        else:
            raise ValueError(f"adc.range: {a.range} is structural, not calibrated from profiled signals")
    if a.power_of_two_slices and a.range != "aligned" and len(out) > 1:
        out = adc_mod.power_of_two_ranges(out)
    return out


def matmul_currents(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Ideal column currents: I[c, t, b, n] = sum_k g[c, n, k] x[t, b, k] (no wire resistance)."""
    return torch.einsum("cnk,tbk->ctbn", g, x)


def _convert(signal: torch.Tensor, k: int, ranges: list[ADCRange] | None, bits: int) -> torch.Tensor:
    return signal if ranges is None else adc_mod.quantize(signal, bits, ranges[k])


def analog_mvm(
    x_int: torch.Tensor,
    programmed: Programmed,
    scheme: Scheme,
    *,
    signed_inputs: bool,
    ranges: list[ADCRange] | None = None,
    currents: CurrentsFn = matmul_currents,
    gain: float = 1.0,
    observer: ObserverFn | None = None,
    linear_currents: bool = False,
    block: int = DEFAULT_BLOCK,
) -> torch.Tensor:
    """The digital output [C, B, N] of the analog MVM of integer inputs ``x_int`` [B, K].

    ``ranges`` holds one ADC range per weight slice (``None``: no ADC). ``gain`` is an analog gain applied
    to every ADC input (drift compensation). Inputs are converted to the conductances' dtype.
    ``linear_currents`` declares that ``currents`` is the ideal product :func:`matmul_currents` (no
    per-read randomness, no wire resistance). The same signal path is then evaluated in batched form: all
    row partitions in one product, a differential pair with analog subtraction read as one array of
    g+ - g-, and input slices accumulated in analog collapsed into one read of the whole input (exact for
    linear currents). ``block`` bounds the elements of the largest intermediate tensor of that form.
    """
    layout = SliceLayout.from_scheme(scheme)
    if ranges is not None and len(ranges) != layout.slices:
        raise ValueError(f"ADC ranges: need one per weight slice ({layout.slices}), got {len(ranges)}")
    if ranges is not None:
        for r in ranges:
            r.check_signal(signal_is_signed(scheme, signed_inputs))
    if (scheme.mapping.kind == "offset" and scheme.mapping.offset == "unit_column") != (
        programmed.g_unit is not None
    ):
        raise ValueError("programmed: g_unit must be given exactly when mapping.offset is unit_column")
    if x_int.dim() != 2 or x_int.shape[1] != programmed.g_pos.shape[-1]:
        raise ValueError(f"inputs: expected [vectors, {programmed.g_pos.shape[-1]}], got {list(x_int.shape)}")
    if linear_currents:
        return _linear_mvm(x_int, programmed, scheme, signed_inputs, ranges, gain, observer, block)
    i = scheme.inputs
    dtype = programmed.g_pos.dtype
    x_slices = input_slices(x_int, i.bits, i.slice_bits, signed_inputs).to(dtype)
    t_sig = torch.tensor(
        slice_significance(i.bits, i.slice_bits, signed_inputs), dtype=dtype, device=x_int.device
    )
    chips, n_out = programmed.g_pos.shape[0], programmed.g_pos.shape[2]
    out = torch.zeros(chips, x_int.shape[0], n_out, dtype=dtype, device=x_int.device)
    groups = column_groups(n_out, scheme.array.columns)
    group_index = torch.cat(
        [torch.full((b - a,), gi, device=x_int.device) for gi, (a, b) in enumerate(groups)]
    )
    for start, stop in partitions(x_int.shape[1], scheme.array.rows):
        xp = x_slices[..., start:stop]
        x_total = (t_sig.reshape(-1, 1) * xp.sum(-1)).sum(0)  # [B]: sum_i x_i of this partition
        for k in range(layout.slices):

            def read(
                *parts: tuple[torch.Tensor, float],
                k: int = k,
                rows: slice = slice(start, stop),
                xp: torch.Tensor = xp,
            ) -> torch.Tensor:
                """Convert the sum of coef x (currents of g) for slice k of this partition."""
                signal = sum(coef * currents(g[:, k, :, rows], xp) for g, coef in parts)
                return _accumulate_and_convert(signal, t_sig, scheme, k, ranges, gain, observer)

            digits = _slice_digits(read, programmed, layout, scheme, k, x_total, group_index)
            out += layout.significance[k] * layout.digit_weight * digits
        if layout.kind == "offset" and scheme.mapping.offset == "digital":
            out -= layout.m * x_total.reshape(1, -1, 1)
    return out


def _accumulate_and_convert(
    signal: torch.Tensor,
    t_sig: torch.Tensor,
    scheme: Scheme,
    k: int,
    ranges: list[ADCRange] | None,
    gain: float,
    observer: ObserverFn | None,
) -> torch.Tensor:
    """signal [C, T, B, N] -> converted and accumulated [C, B, N]."""
    signal = signal * gain
    weights = t_sig.reshape(1, -1, 1, 1)
    if scheme.inputs.accumulation == "analog" or signal.shape[1] == 1:
        accumulated = (weights * signal).sum(1)
        if observer is not None:
            observer(k, accumulated)
        return _convert(accumulated, k, ranges, scheme.adc.bits)
    if observer is not None:
        observer(k, signal)
    return (weights * _convert(signal, k, ranges, scheme.adc.bits)).sum(1)


def _slice_digits(
    read: Callable[..., torch.Tensor],
    programmed: Programmed,
    layout: SliceLayout,
    scheme: Scheme,
    k: int,
    x_total: torch.Tensor,
    group_index: torch.Tensor,
) -> torch.Tensor:
    """Digit-unit output of weight slice k for one partition, [C, B, N]."""
    to_digits = layout.current_to_digits(k)
    g_pos, g_neg = programmed.g_pos, programmed.g_neg
    if g_neg is not None:
        if scheme.mapping.subtraction == "analog":
            return to_digits * read((g_pos, 1.0), (g_neg, -1.0))
        return to_digits * (read((g_pos, 1.0)) - read((g_neg, 1.0)))
    converted = read((g_pos, 1.0))
    if programmed.g_unit is not None:
        unit = read((programmed.g_unit, 1.0))  # [C, B, G]
        return to_digits * (converted - unit[..., group_index])
    return to_digits * (converted - layout.g_min * x_total.reshape(1, -1, 1))


def _padded_partitions(t: torch.Tensor, rows: int) -> torch.Tensor:
    """[..., K] -> [..., P, R]: the K rows split into partitions of ``rows`` (the last zero-padded)."""
    k = t.shape[-1]
    r = min(rows, k)
    p = -(-k // r)
    if p * r != k:
        t = torch.nn.functional.pad(t, (0, p * r - k))
    return t.reshape(*t.shape[:-1], p, r)


def _read_partitions(g: torch.Tensor, k: int, xs: torch.Tensor) -> torch.Tensor:
    """Ideal currents of weight slice k of every partition: g [C, S, N, P, R], xs [T, B, P, R] -> [C, T, B, P, N]."""
    return torch.einsum("cnpr,tbpr->ctbpn", g[:, k], xs)


def linear_arrays(
    programmed: Programmed, scheme: Scheme
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The arrays read with linear currents, [C, S, N or G, K]: (signal, negative, unit column).

    ``signal`` is g+ (or g+ - g- for a differential pair with analog subtraction: exact for linear
    currents, one read instead of two); ``negative`` is g- when the pair subtracts digitally, else None;
    ``unit`` is the unit column (offset mapping with unit-column subtraction), else None.
    """
    g_pos, g_neg = programmed.g_pos, programmed.g_neg
    if g_neg is not None and scheme.mapping.subtraction == "analog":
        g_pos, g_neg = g_pos - g_neg, None
    return g_pos, g_neg, programmed.g_unit


def linear_input_slices(
    x_int: torch.Tensor, scheme: Scheme, signed_inputs: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t [T, ...], 2^(s t) [T]) as read with linear currents.

    Analog accumulation (or whole inputs) reads the whole input once: sum_t 2^(s t) (g . x_t) = g . x;
    digital accumulation converts every input slice, so each is read.
    """
    i = scheme.inputs
    t_sig = torch.tensor(t_sig_values(scheme, signed_inputs), dtype=dtype, device=x_int.device)
    if i.accumulation == "analog" or i.slice_bits == 0:
        return x_int.to(dtype).unsqueeze(0), t_sig
    return input_slices(x_int, i.bits, i.slice_bits, signed_inputs).to(dtype), t_sig


ReadFn = Callable[[str, int], torch.Tensor]
"""read(array, k) -> ideal currents [C, T, B, P, N] of weight slice k of every row partition, for array
``signal``, ``negative`` or ``unit`` of :func:`linear_arrays` (N = G unit columns for ``unit``)."""


def digitize_partitions(
    read: ReadFn,
    x_total: torch.Tensor | None,
    scheme: Scheme,
    t_sig: torch.Tensor,
    ranges: list[ADCRange] | None,
    gain: float,
    observer: ObserverFn | None,
    *,
    negative: bool,
    unit: bool,
) -> torch.Tensor:
    """The digital output [C, B, N] of B vectors from the currents of every partition (linear currents).

    The conversion, digits, offset removal and significance of :func:`analog_mvm`'s batched form, given
    the reads: every (partition, weight slice, input slice or accumulated input, vector, column) is one
    conversion. ``x_total`` [B, P] is sum_i x_i per partition (needed for the offset mapping without a
    unit column only); ``negative``/``unit`` say which arrays :func:`linear_arrays` gives.
    """
    layout = SliceLayout.from_scheme(scheme)
    weights = t_sig.reshape(1, -1, 1, 1, 1)

    def convert(signal: torch.Tensor, k: int) -> torch.Tensor:
        """[C, T, B, P, N] currents -> converted, accumulated over input slices: [C, B, P, N]."""
        signal = signal * gain
        if observer is not None:
            observer(k, signal if signal.shape[1] > 1 else signal[:, 0])
        return (weights * _convert(signal, k, ranges, scheme.adc.bits)).sum(1)

    y = None
    for k in range(layout.slices):
        q = convert(read("signal", k), k)
        if negative:
            q = q - convert(read("negative", k), k)
        elif unit:
            q = q - convert(read("unit", k), k)[..., unit_column_index(q.shape[-1], scheme, q.device)]
        elif layout.kind == "offset":
            q = q - layout.g_min * x_total.unsqueeze(-1)
        term = (layout.significance[k] * layout.digit_weight * layout.current_to_digits(k)) * q.sum(2)
        y = term if y is None else y + term
    if layout.kind == "offset" and scheme.mapping.offset == "digital":
        y = y - layout.m * x_total.sum(1).reshape(1, -1, 1)
    return y


def unit_column_index(n_out: int, scheme: Scheme, device: torch.device) -> torch.Tensor:
    """For each of ``n_out`` output columns, the index of its group's unit column (``array.columns`` a group)."""
    return torch.cat([torch.full((b - a,), gi, device=device)
                      for gi, (a, b) in enumerate(column_groups(n_out, scheme.array.columns))])


def linear_vector_step(programmed: Programmed, scheme: Scheme, signed_inputs: bool, block: int) -> int:
    """Vectors per block of the batched linear form: its largest intermediate holds at most ``block``
    elements (chips x read input slices x partitions x read columns per vector)."""
    i = scheme.inputs
    analog_acc = i.accumulation == "analog" or i.slice_bits == 0
    t = 1 if analog_acc else slice_count(i.bits, i.slice_bits, signed_inputs)
    g_signal, g_neg, g_unit = linear_arrays(programmed, scheme)
    chips, n_out, fan_in = g_signal.shape[0], g_signal.shape[2], g_signal.shape[-1]
    parts = -(-fan_in // min(scheme.array.rows, fan_in))
    columns = n_out * (2 if g_neg is not None else 1) + (0 if g_unit is None else g_unit.shape[2])
    return max(1, block // max(1, chips * t * parts * columns))


def _linear_mvm(
    x_int: torch.Tensor,
    programmed: Programmed,
    scheme: Scheme,
    signed_inputs: bool,
    ranges: list[ADCRange] | None,
    gain: float,
    observer: ObserverFn | None,
    block: int,
) -> torch.Tensor:
    """:func:`analog_mvm` for ideal (matmul) currents, batched over partitions, vectors and input slices.

    Every ADC still sees exactly the signal the loop form gives it: one conversion per (partition, weight
    slice, input slice or accumulated input, vector, column); only the order of the float sums differs.
    The reads are products over zero-padded partitions; :func:`digitize_partitions` does the rest.
    """
    dtype = programmed.g_pos.dtype
    rows = scheme.array.rows
    x_slices, t_sig = linear_input_slices(x_int, scheme, signed_inputs, dtype)
    chips, n_out = programmed.g_pos.shape[0], programmed.g_pos.shape[2]
    arrays = {
        name: None if g is None else _padded_partitions(g, rows)  # [C, S, N, P, R]
        for name, g in zip(("signal", "negative", "unit"), linear_arrays(programmed, scheme), strict=True)
    }
    negative, unit = arrays["negative"] is not None, arrays["unit"] is not None
    step = linear_vector_step(programmed, scheme, signed_inputs, block)
    out = torch.empty(chips, x_int.shape[0], n_out, dtype=dtype, device=x_int.device)
    for b0 in range(0, x_int.shape[0], step):
        xs = _padded_partitions(x_slices[:, b0 : b0 + step], rows)  # [T, B, P, R]
        x_total = (t_sig.reshape(-1, 1, 1) * xs.sum(-1)).sum(0)  # [B, P]

        def read(name: str, k: int, xs: torch.Tensor = xs) -> torch.Tensor:
            return _read_partitions(arrays[name], k, xs)

        out[:, b0 : b0 + step] = digitize_partitions(
            read, x_total, scheme, t_sig, ranges, gain, observer, negative=negative, unit=unit
        )
    return out


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
    """:func:`analog_mvm` with linear currents of every im2col vector of a convolution: [C, B, N, Ho, Wo].

    ``x_int`` [B, C_in, H, W] integer input codes; the programmed rows are the im2col rows (C_in kh kw,
    channel-major), and their partitions must fall on whole channels (:func:`conv_partition_channels`).
    The currents of every (weight slice, partition, column, input slice) are read as one grouped
    convolution over the channel-padded input (one group per partition), the sums x_total of the inputs
    of each partition as one more all-ones output channel per group; :func:`digitize_partitions` converts
    them exactly as for the im2col vectors (ordered image-major, then output position). ``chunks``:
    consecutive ranges of those vectors passed to :func:`digitize_partitions` (hence to ``observer``) one
    at a time (default: blocks of whole images bounded by ``block`` elements of currents).
    """
    dtype = programmed.g_pos.dtype
    b, c_in, h, w = x_int.shape
    kh, kw = kernel_size
    cpp = conv_partition_channels(c_in, kernel_size, scheme.array.rows)
    if cpp is None or programmed.g_pos.shape[-1] != c_in * kh * kw:
        raise ValueError("linear_conv2d: the row partitions must fall on whole input channels")
    parts = -(-c_in // cpp)
    layout = SliceLayout.from_scheme(scheme)
    chips, n_out = programmed.g_pos.shape[0], programmed.g_pos.shape[2]
    pieces, where = [], {}
    at = 0
    for name, g in zip(("signal", "negative", "unit"), linear_arrays(programmed, scheme), strict=True):
        if g is None:
            continue
        n_a = g.shape[2]
        g = g.reshape(chips, layout.slices, n_a, c_in, kh, kw)
        g = torch.nn.functional.pad(g, (0, 0, 0, 0, 0, parts * cpp - c_in))
        g = g.reshape(chips, layout.slices, n_a, parts, cpp, kh, kw).permute(3, 1, 0, 2, 4, 5, 6)
        pieces.append(g.reshape(parts, layout.slices * chips * n_a, cpp, kh, kw))
        where[name] = (at, chips * n_a)
        at += layout.slices * chips * n_a
    totals = layout.kind == "offset" and programmed.g_unit is None
    if totals:  # x_total: an all-ones kernel over each partition's channels
        pieces.append(torch.ones(parts, 1, cpp, kh, kw, dtype=dtype, device=x_int.device))
    per_group = at + (1 if totals else 0)
    weight = torch.cat(pieces, 1).reshape(parts * per_group, cpp, kh, kw)
    i = scheme.inputs
    t = 1 if i.accumulation == "analog" or i.slice_bits == 0 else slice_count(i.bits, i.slice_bits, signed_inputs)
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    positions = ho * wo
    if observer is None and chunks is None and _fused_conversion(ranges, t_sig_values(scheme, signed_inputs)):
        return _fused_linear_conv2d(
            x_int, scheme, weight, where, at, totals, (chips, n_out, parts, cpp, t, ho, wo),
            stride=stride, padding=padding, dilation=dilation, signed_inputs=signed_inputs,
            ranges=ranges, gain=gain, block=block,
        )
    if chunks is None:
        step = max(1, block // max(1, t * positions * parts * per_group))
        chunks = [(i0 * positions, min(b, i0 + step) * positions) for i0 in range(0, b, step)]
    out = torch.empty(chips, b * positions, n_out, dtype=dtype, device=x_int.device)
    cached: tuple[int, int, torch.Tensor] | None = None
    for v0, v1 in chunks:
        i0, i1 = v0 // positions, -(-v1 // positions)
        if cached is None or cached[:2] != (i0, i1):
            xb, t_sig = linear_input_slices(x_int[i0:i1], scheme, signed_inputs, dtype)  # [T, b, C_in, H, W]
            xb = torch.nn.functional.pad(xb, (0, 0, 0, 0, 0, parts * cpp - c_in))
            xb = xb.reshape(t * (i1 - i0), parts * cpp, h, w)
            currents = torch.nn.functional.conv2d(xb, weight, None, stride, padding, dilation, parts)
            cached = (i0, i1, currents.reshape(t, i1 - i0, parts, per_group, positions))
        currents = cached[2]
        lo, hi = v0 - i0 * positions, v1 - i0 * positions

        def read(name: str, k: int, currents: torch.Tensor = currents, lo: int = lo, hi: int = hi) -> torch.Tensor:
            """[T, b, P, M, L] -> [C, T, V, P, N]: the chunk's vectors (image-major, then position)."""
            start, size = where[name]
            sel = currents[:, :, :, start + k * size : start + (k + 1) * size]
            sel = sel.reshape(t, sel.shape[1], parts, chips, -1, positions).permute(3, 0, 1, 5, 2, 4)
            return sel.reshape(chips, t, -1, parts, sel.shape[-1])[:, :, lo:hi]

        x_total = None
        if totals:  # [V, P]
            ones = currents[:, :, :, at].permute(0, 1, 3, 2).reshape(t, -1, parts)[:, lo:hi]
            x_total = (t_sig.reshape(-1, 1, 1) * ones).sum(0)
        out[:, v0:v1] = digitize_partitions(
            read, x_total, scheme, t_sig, ranges, gain, observer,
            negative="negative" in where, unit="unit" in where,
        )
    return out.reshape(chips, b, positions, n_out).permute(0, 1, 3, 2).reshape(chips, b, n_out, ho, wo)


def t_sig_values(scheme: Scheme, signed_inputs: bool) -> list[float]:
    """The significances 2^(s t) of the input slices as read with linear currents (1 for a whole input)."""
    i = scheme.inputs
    if i.accumulation == "analog" or i.slice_bits == 0:
        return [1.0]
    return [float(v) for v in slice_significance(i.bits, i.slice_bits, signed_inputs)]


def _fused_conversion(ranges: list[ADCRange] | None, t_sig: list[float]) -> bool:
    """Whether :func:`_fused_linear_conv2d` gives the conversions of :func:`digitize_partitions` bit for bit:
    ADC ranges of one signedness (one clip level count) and input slice significances +-2^j (scaling by
    them commutes with float rounding, so they can be folded into the ADC levels)."""
    if ranges is None or len({r.signed for r in ranges}) != 1:
        return False
    return all(v != 0 and math.frexp(abs(v))[0] == 0.5 for v in t_sig)


def _fused_linear_conv2d(
    x_int: torch.Tensor,
    scheme: Scheme,
    weight: torch.Tensor,
    where: dict[str, tuple[int, int]],
    at: int,
    totals: bool,
    sizes: tuple[int, ...],
    *,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
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

        y = sum_k coef_k delta_k sum_p D_kp + [unsigned, no second array] P sum_k coef_k low_k sum_t 2^j_t
            - [offset without unit column] (g_min sum_k coef_k + [digital offset] m) sum_p x_total_p

    with D_kp = sum_t 2^j_t c_t of the signal array minus that of the negative array or unit column (whose
    low cancels: both use slice k's range). Sums of codes times +-2^j are exact integers in the float
    dtype (below 2^24 in float32), so the big tensor is read once after clipping, and the per-channel
    scale and offset act on the P-times smaller sums.
    """
    chips, n_out, parts, cpp, t, ho, wo = sizes
    dtype, device = weight.dtype, x_int.device
    b, c_in, h, w = x_int.shape
    layout = SliceLayout.from_scheme(scheme)
    slices, positions = layout.slices, ho * wo
    signed = ranges[0].signed
    levels = (1 << (scheme.adc.bits - 1)) - 1 if signed else (1 << scheme.adc.bits) - 1
    shape = (1, 1, 1, at, 1)
    lows = torch.tensor([r.low for r in ranges], dtype=dtype, device=device)
    steps = [adc_mod.step(scheme.adc.bits, r) for r in ranges]
    deltas = torch.tensor(steps, dtype=dtype, device=device)
    sizes_m = [size for _, size in sorted(where.values())]
    low_m = torch.cat([lows.repeat_interleave(size) for size in sizes_m]).reshape(shape)
    delta_m = torch.cat([deltas.repeat_interleave(size) for size in sizes_m]).reshape(shape)
    divide_by = delta_m if device.type == "cpu" else None
    multiply_by = None if divide_by is not None else 1.0 / delta_m
    sig_values = t_sig_values(scheme, signed_inputs)
    t_sig = torch.tensor(sig_values, dtype=dtype, device=device)
    coef = [layout.significance[k] * layout.digit_weight * layout.current_to_digits(k) for k in range(slices)]
    # per weight slice: the weight of its code sums, and its constant (partition count P aside)
    code_weight = torch.tensor([c * d for c, d in zip(coef, steps, strict=True)],
                               dtype=dtype, device=device).reshape(1, slices, 1, 1, 1)
    second = "negative" in where or "unit" in where
    constant = 0.0
    if not signed and not second:
        constant += parts * sum(sig_values) * sum(
            c * r.low for c, r in zip(coef, ranges, strict=True))
    per_x_total = 0.0
    if layout.kind == "offset" and not second:
        per_x_total += layout.g_min * sum(coef)
    if layout.kind == "offset" and scheme.mapping.offset == "digital":
        per_x_total += layout.m
    if per_x_total and not totals:
        raise ValueError("linear_conv2d: the offset terms need the x_total channel")
    index = None
    if "unit" in where:
        index = unit_column_index(n_out, scheme, device)
    per_group = weight.shape[0] // parts
    step = max(1, block // max(1, t * positions * parts * per_group))
    out = torch.empty(b, chips, n_out, positions, dtype=dtype, device=device)
    for i0 in range(0, b, step):
        i1 = min(b, i0 + step)
        xb, _ = linear_input_slices(x_int[i0:i1], scheme, signed_inputs, dtype)  # [T, b, C_in, H, W]
        xb = torch.nn.functional.pad(xb, (0, 0, 0, 0, 0, parts * cpp - c_in))
        xb = xb.reshape(t * (i1 - i0), parts * cpp, h, w)
        currents = torch.nn.functional.conv2d(xb, weight, None, stride, padding, dilation, parts)
        currents = currents.reshape(t, i1 - i0, parts, per_group, positions)
        s = currents[:, :, :, :at]  # converted in place (the convolution's own output)
        if gain != 1.0:
            s.mul_(gain)
        if not signed:
            s.sub_(low_m)
        s = s.div_(divide_by) if divide_by is not None else s.mul_(multiply_by)
        s.round_().clamp_(-levels if signed else 0, levels)  # the codes
        if t == 1:
            codes = s[0] if sig_values[0] == 1 else s[0] * sig_values[0]  # [b, P, M, L]
        else:  # sum_t 2^j_t c_t: integers, exact in any summation order (TF32 off, as for the convolution)
            codes = torch.tensordot(t_sig, s, dims=1)

        def array(name: str, codes: torch.Tensor = codes) -> torch.Tensor:
            start, size = where[name]
            return codes[:, :, start : start + slices * size].unflatten(2, (slices, chips, -1))  # [b, P, S, C, N, L]

        d = array("signal")
        if "negative" in where:
            d = d - array("negative")
        elif index is not None:
            d = d - array("unit").index_select(4, index)
        y = (d.sum(1) * code_weight).sum(1)  # [b, C, N, L]
        if constant:
            y += constant
        if per_x_total:
            x_total = (t_sig.reshape(-1, 1, 1, 1) * currents[:, :, :, at]).sum(0)  # [b, P, L]
            y -= (per_x_total * x_total.sum(1)).reshape(i1 - i0, 1, 1, positions)
        out[i0:i1] = y
    return out.permute(1, 0, 2, 3).reshape(chips, b, n_out, ho, wo)

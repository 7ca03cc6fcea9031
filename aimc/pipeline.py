"""Exact definition of an analog MVM's signal path: currents, ADC inputs, ADCs, digital recombination.

Given the conductances a layer was programmed to (for one or many chips) and integer input codes, this
module defines what every ADC sees and how the digital side turns the conversions back into the integer
product sum_i w_ji x_i. It is the reference: written for clarity, one read per (array partition, weight
slice, conversion), with the column-current model as a hook. The Monte Carlo engine calls it with
perturbed conductances and its own current model (read noise, parasitics), and its fast paths
(:mod:`aimc.montecarlo.fast`) are tested against it. With ideal conductances and a granular ADC of enough
bits it returns the integer product exactly.

Signal path, per row partition p and weight slice k (currents in units of Gmax x input code):

* the input slices x_t (see :mod:`aimc.inputs`) drive the arrays; a column reads I_t = sum_i g_i x_ti;
* each conversion of the mapping (:class:`aimc.mappings.Conversion`) sees the signed sum of its arrays'
  currents (I+ - I- for a differential pair with analog subtraction, I+ and I- alone with digital
  subtraction, I for a single cell, the unit column's I_u for its column group);
* digital accumulation converts every input slice and adds 2^(s t) Q(s_t); analog accumulation converts
  once, Q(sum_t 2^(s t) s_t);
* the conversions are recombined as :func:`aimc.mapping.recombine` defines (signs, g_min pedestal, slice
  significance, offset), and the partitions added.

All ADCs of one weight slice share one range (partitions, input slices and conversions included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import adc as adc_mod
from .adc import ADCRange
from .inputs import input_slices, slice_significance
from .mapping import (
    SliceLayout,
    column_groups,
    digits_to_conductance,
    group_index,
    partitions,
    recombine,
    weight_digits,
)
from .scheme import Scheme

__all__ = [
    "CurrentsFn",
    "ObserverFn",
    "Programmed",
    "analog_mvm",
    "check_mvm_inputs",
    "matmul_currents",
    "program_ideal",
    "signal_is_signed",
]

CurrentsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""currents(g [C, N, Kp], x [T, B, Kp]) -> [C, T, B, N]: the column currents of one array partition."""
ObserverFn = Callable[[int, torch.Tensor], None]
"""observer(slice k, ADC input signal) called with every signal before conversion (for calibration)."""


@dataclass
class Programmed:
    """A layer's conductances for C chips: ``arrays[name]`` is [C, S, N, K] for every per-weight array of
    the mapping and [C, S, G, K] for every shared array (one column per group of ``array.columns``
    outputs, G groups)."""

    arrays: dict[str, torch.Tensor]

    def tensors(self) -> list[torch.Tensor]:
        return list(self.arrays.values())

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Programmed:
        """The same arrays with ``fn`` applied to each (a dtype or device change, a perturbation)."""
        return Programmed({name: fn(g) for name, g in self.arrays.items()})

    @property
    def first(self) -> torch.Tensor:
        """The first per-weight array [C, S, N, K] (its shape is the layer's)."""
        return next(iter(self.arrays.values()))


def program_ideal(w_int: torch.Tensor, scheme: Scheme, dtype: torch.dtype = torch.float64) -> Programmed:
    """Target conductances of integer weights [N, K] (one chip, no device error)."""
    layout = SliceLayout.from_scheme(scheme)
    arrays = {name: digits_to_conductance(d, layout, dtype).unsqueeze(0)
              for name, d in weight_digits(w_int, layout).items()}
    groups = len(column_groups(w_int.shape[0], scheme.array.columns))
    for name, digits in layout.shared:
        g = digits_to_conductance(torch.tensor(digits, device=w_int.device), layout, dtype)
        arrays[name] = g.reshape(1, -1, 1, 1).expand(1, layout.slices, groups, w_int.shape[1]).clone()
    return Programmed(arrays)


def signal_is_signed(scheme: Scheme, signed_inputs: bool) -> bool:
    """Whether the ADC inputs can be negative: a conversion subtracts in analog, or the inputs are signed."""
    return SliceLayout.from_scheme(scheme).signed_signal or signed_inputs


def matmul_currents(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Ideal column currents: I[c, t, b, n] = sum_k g[c, n, k] x[t, b, k] (no wire resistance)."""
    return torch.einsum("cnk,tbk->ctbn", g, x)


def convert(signal: torch.Tensor, k: int, ranges: list[ADCRange] | None, bits: int) -> torch.Tensor:
    """The ADC of weight slice k (identity without an ADC)."""
    return signal if ranges is None else adc_mod.quantize(signal, bits, ranges[k])


def check_mvm_inputs(
    x_int: torch.Tensor, programmed: Programmed, scheme: Scheme, signed_inputs: bool, ranges: list[ADCRange] | None
) -> SliceLayout:
    """The layout, after refusing inputs, arrays or ranges that do not fit the scheme (one line naming them)."""
    layout = SliceLayout.from_scheme(scheme)
    if ranges is not None and len(ranges) != layout.slices:
        raise ValueError(f"ADC ranges: need one per weight slice ({layout.slices}), got {len(ranges)}")
    for r in ranges or ():
        r.check_signal(layout.signed_signal or signed_inputs)
    expected = set(layout.arrays) | set(layout.shared_digits)
    if set(programmed.arrays) != expected:
        raise ValueError(f"programmed: arrays {sorted(programmed.arrays)} do not fit mapping {layout.kind} "
                         f"(needs {sorted(expected)})")
    fan_in = programmed.first.shape[-1]
    if x_int.dim() != 2 or x_int.shape[1] != fan_in:
        raise ValueError(f"inputs: expected [vectors, {fan_in}], got {list(x_int.shape)}")
    return layout


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
) -> torch.Tensor:
    """The digital output [C, B, N] of the analog MVM of integer inputs ``x_int`` [B, K].

    ``ranges`` holds one ADC range per weight slice (``None``: no ADC). ``gain`` is an analog gain applied
    to every ADC input (drift compensation). Inputs are converted to the conductances' dtype.
    """
    layout = check_mvm_inputs(x_int, programmed, scheme, signed_inputs, ranges)
    i = scheme.inputs
    dtype = programmed.first.dtype
    x_slices = input_slices(x_int, i.bits, i.slice_bits, signed_inputs).to(dtype)
    t_sig = torch.tensor(slice_significance(i.bits, i.slice_bits, signed_inputs), dtype=dtype, device=x_int.device)
    chips, n_out = programmed.first.shape[0], programmed.first.shape[2]
    out = torch.zeros(chips, x_int.shape[0], n_out, dtype=dtype, device=x_int.device)
    index = group_index(n_out, scheme.array.columns, x_int.device)
    for start, stop in partitions(x_int.shape[1], scheme.array.rows):
        xp = x_slices[..., start:stop]
        x_total = (t_sig.reshape(-1, 1) * xp.sum(-1)).sum(0)  # [B]: sum_i x_i of this partition

        def converted(k: int, c: int, rows: slice = slice(start, stop), xp: torch.Tensor = xp) -> torch.Tensor:
            """Conversion c of slice k for this partition, one value per output [C, B, N]."""
            conversion = layout.conversions[c]
            signal = sum(coef * currents(programmed.arrays[name][:, k, :, rows], xp) for name, coef in conversion.reads)
            q = _accumulate_and_convert(signal, t_sig, scheme, k, ranges, gain, observer)
            return q[..., index] if layout.is_shared(conversion) else q

        out += recombine(layout, converted, x_total.reshape(1, -1, 1))
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
        return convert(accumulated, k, ranges, scheme.adc.bits)
    if observer is not None:
        observer(k, signal)
    return (weights * convert(signal, k, ranges, scheme.adc.bits)).sum(1)

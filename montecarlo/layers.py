"""Analog versions of torch Linear and Conv2d layers, and ``convert`` for any torch model.

``convert(model, scheme, calibration_data)`` follows the observe -> calibrate -> convert pattern of
``torch.ao.quantization``:

1. deep-copy the model (eval mode), replace every ``nn.MultiheadAttention`` by a
   :class:`~aimc.montecarlo.attention.ProjectedAttention` (the same function with its four projections as
   Linear layers: torch's module reads its projection weights as tensors, never through ``nn.Linear``), and
   fold every BatchNorm2d into the Conv2d registered just before it in the same parent module (the
   torchvision convention): ``W_f = gamma W / sqrt(var + eps)``, ``b_f = gamma (b - mu) / sqrt(var + eps) +
   beta``; this float model is checked against the original on the first calibration batch;
2. observe the inputs of every Conv2d/Linear on the calibration data (float model): a layer is signed if any
   calibration input is negative (the first layer of an image network, the layers after a LayerNorm or a
   GELU, the attention's projections), unsigned otherwise (after a ReLU; negative inputs met later are
   clipped to 0 by its unsigned DAC). The input full scale is the largest
   |input| (``input_percentile = 100``, default) or the given percentile of |input| (estimated from a
   bounded random subsample per batch);
3. replace the layers by :class:`AnalogLinear` / :class:`AnalogConv2d`: weights quantised per layer (or per
   channel) to ``weights.bits``, the bias kept digital (float, added after the analog product);
4. ADC ranges per layer and weight slice: ``max``/``granular`` from the structure, ``calibrated``/``optimal``
   from the ADC inputs profiled on the calibration data with ideal analog layers (no device error, no ADC);
5. program one chip (:func:`reprogram` draws another: one converted model = one chip; accuracy loops call
   ``reprogram(model, seed)`` per chip).

What runs on analog arrays: every Conv2d (grouped and depthwise ones too: each group on arrays of its
own, its fan-in C_in / groups x kh x kw partitioned by ``array.rows``) and every Linear, including the
query, key, value and output projections of every attention. What stays digital, in float: the bias of
every analog layer, the attention's activation-by-activation products (Q K^T, the masks, the softmax, its
product with V), LayerNorm and any normalisation that is not folded, embeddings and loose parameters (a
class token, a position embedding), activations, pooling and residual sums. :func:`unconverted_layers`
lists every digital part that holds weights, and every attention's products; ``aimc accuracy`` prints that
list. A model that reads a converted layer's ``weight`` itself (``F.linear(x, self.fc.weight)``) fails
with an AttributeError on the analog model: such a forward cannot be converted.

Conv2d runs through the same analog MVM as Linear: unfold (im2col) the input into [positions, C k k]
vectors, batch over images and positions. Convolution-native ADC path: with linear currents (no read
noise, no wire resistance, nothing recorded), ``groups = 1`` (a grouped convolution with an ADC runs im2col
group by group) and row partitions on whole input channels (C k k <= rows, or rows a multiple of k k), the
currents of every partition are read as grouped convolutions
(:func:`aimc.montecarlo.fast.linear_conv2d`) and converted by the same digitisation, the same
conversions as im2col without the unfolded copy (tested against im2col in
``tests/montecarlo/test_mc_conv_path.py``).

Input-linear fast path. When a layer has no ADC, no read noise and no wire resistance (and nothing is
being profiled or recorded), its analog product is a fixed linear map of the integer input codes: every
read is the ideal product of the frozen programmed conductances, and the digital side only scales, sums
and subtracts. The layer then evaluates that map once per chip, ``W_eff = analog_mvm(I_K)`` (the
pipeline itself, on the K unit input codes; :meth:`_AnalogBase.effective_weights`), and runs every
input as one plain product ``x_int W_eff^T`` (a ``conv2d`` for convolutions): the same outputs as the
loop over partitions, weight slices and input slices up to float rounding, at the cost of the digital
layer. A grouped convolution runs it as one grouped ``conv2d`` of the effective weights. Tested against the
general path in ``tests/montecarlo/test_mc_layers.py`` (grouped: ``test_mc_architectures.py``).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aimc.adc import ADCRange
from aimc.adc_ranges import range_policy, slice_ranges
from aimc.inputs import input_max, saturate_inputs, slice_count
from aimc.mapping import SliceLayout, quantize_weights
from aimc.pipeline import Programmed, analog_mvm, program_ideal
from aimc.scheme import Scheme

from .attention import ATTENTION_PRODUCTS, ProjectedAttention
from .devices import program_chips
from .engine import (
    DEFAULT_BUDGET,
    CurrentModel,
    SignalProfile,
    no_tf32,
    ranges_from_profile,
    resolve_device,
    stream_generator,
    tf32,
    tf32_truncate,
)
from .fast import DEFAULT_BLOCK, conv_partition_channels, linear_conv2d, linear_mvm, linear_vector_step

__all__ = [
    "AnalogConv2d",
    "AnalogLinear",
    "DigitalLayer",
    "InputRanges",
    "analog_layers",
    "calibrate_inputs",
    "convert",
    "fold_batchnorm",
    "project_attention",
    "reprogram",
    "unconverted_layers",
]

HISTOGRAM_BINS = 101
"""ADC input histograms: bins over [-1.25, 1.25] x the slice's range (or its largest profiled |signal|)."""


class _AnalogBase(nn.Module):
    """Shared state of an analog layer: integer weights, input quantiser, ADC ranges, programmed chip."""

    def __init__(self, weight2d: torch.Tensor, bias: torch.Tensor | None, scheme: Scheme, name: str = "",
                 groups: int = 1):
        super().__init__()
        self.scheme = scheme
        self.name = name
        self.groups = groups
        """Groups of a grouped convolution: group g's N / groups outputs read its own inputs, on arrays of its own."""
        w_int, w_scale = quantize_weights(weight2d.detach().to(torch.float64), scheme.weights.bits,
                                          scheme.weights.per_channel)
        self.register_buffer("w_int", w_int)
        self.register_buffer("w_scale", w_scale.reshape(-1).to(torch.float32))
        self.register_buffer("bias", None if bias is None else bias.detach().to(torch.float32).clone())
        self.signed_inputs = False
        self.input_full_scale = 1.0
        self.ranges: list[ADCRange] | None = None
        self.programmed = None
        self.currents: CurrentModel | None = None
        self.gain = scheme.device.drift.compensation_gain
        self.dtype = torch.float32
        self.read_noise_mode: str | None = None  # None: engine.default_read_noise_mode
        self.budget = DEFAULT_BUDGET
        self.profile: SignalProfile | None = None
        self.record_stats = False
        self.stats: dict = {}
        self._effective: torch.Tensor | None = None
        self._effective_split: tuple[torch.Tensor, torch.Tensor] | None = None
        self.check_finite = True
        """Refuse NaN/inf inputs (one reduction and device sync per call). The accuracy runs turn it off and
        check the network's logits, where a NaN ends up; layers that compute with integer codes (the ADC
        paths) check regardless."""
        self.linear_fast_path = True
        """Use the effective-weight product when the layer is input-linear (False: always the general path)."""

    def __getattr__(self, name: str):
        if name == "weight":  # nn.Module's lookup of registered names comes first; this is the fallback
            raise AttributeError(
                f"{self.name or 'analog layer'}: an analog layer holds no float weight (its weights are on the "
                "arrays); this model's forward reads a layer's weight itself (F.linear(x, layer.weight), a fused "
                "kernel), which convert cannot map onto arrays")
        return super().__getattr__(name)

    # -- programming ---------------------------------------------------------------------------------------
    def program(self, seed: int | None, ideal: bool = False) -> None:
        """Program one chip (``seed``) or the ideal arrays (``ideal=True``, for profiling)."""
        target = self._ideal_target()
        gen = None if seed is None else stream_generator(seed, 2, 0, self.w_int.device)
        self.currents = CurrentModel(self.scheme if not ideal else _ideal_scheme(self.scheme), gen,
                                     self.read_noise_mode, self.budget)
        programmed = target if ideal else program_chips(target, self.scheme.device, seed, [0])
        self.programmed = programmed
        self._effective = self._effective_split = None
        self._exact_cells = ideal or self.scheme.device.exact_conductances

    def _ideal_target(self) -> Programmed:
        """The target conductances; a grouped layer has the shared columns (a unit column) of each group.

        The groups read different inputs, so each group's columns sit on arrays of their own and never share
        a column with another group's (a shared column holds no weight: every group's is the same target).
        """
        target = program_ideal(self.w_int, self.scheme, self.dtype)
        shared = SliceLayout.from_scheme(self.scheme).shared
        if self.groups == 1 or not shared:
            return target
        one = program_ideal(self.w_int[: self.w_int.shape[0] // self.groups], self.scheme, self.dtype)
        arrays = dict(target.arrays)
        for name, _ in shared:
            arrays[name] = one.arrays[name].repeat(1, 1, self.groups, 1)
        return Programmed(arrays)

    def _group_programmed(self, group: int) -> Programmed:
        """The arrays of group ``group`` of a grouped layer (its outputs' columns and its shared columns)."""
        shared = {name for name, _ in SliceLayout.from_scheme(self.scheme).shared}

        def part(name: str, g: torch.Tensor) -> torch.Tensor:
            size = g.shape[2] // self.groups if name in shared else self.w_int.shape[0] // self.groups
            return g[:, :, group * size : (group + 1) * size]

        return Programmed({name: part(name, g) for name, g in self.programmed.arrays.items()})

    def _group_outputs(self, group: int | None) -> slice:
        if group is None:
            return slice(None)
        size = self.w_int.shape[0] // self.groups
        return slice(group * size, (group + 1) * size)

    # -- the input-linear fast path --------------------------------------------------------------------------
    @property
    def input_linear(self) -> bool:
        """Whether the programmed analog product is a fixed linear map of the input codes.

        True without an ADC, read noise or wire resistance, while nothing is profiled or recorded.
        """
        return (
            self.linear_fast_path
            and self.programmed is not None
            and self.ranges is None
            and self.currents is not None
            and self.currents.linear
            and self.profile is None
            and not self.record_stats
        )

    def effective_weights(self) -> torch.Tensor:
        """W_eff [N, K]: the programmed chip's digital output (integer-weight units) for each unit input code.

        Computed by the pipeline itself on the identity inputs (chunked), so it carries every effect the
        general path has without an ADC: programming error, clipping, drift and its compensation gain,
        stuck cells, slicing, partitions, the offset's subtraction. Cached until the next ``program``.
        """
        if not self.input_linear:
            raise RuntimeError(f"{self.name or 'analog layer'}: effective weights need an input-linear layer "
                               "(no ADC, no read noise, no wire resistance)")
        if self._effective is None:
            # Every column's response to the unit codes is its own (no ADC), so the groups of a grouped layer
            # can be read together, unless a shared column (unit column) ties outputs to their group.
            together = self.groups == 1 or not SliceLayout.from_scheme(self.scheme).shared
            programs = [self.programmed] if together else [self._group_programmed(g) for g in range(self.groups)]
            w_eff = torch.cat([self._unit_responses(programmed) for programmed in programs])
            if self._exact_cells:
                # Ideal cells: the decode returns the integer product exactly (the exactness property of
                # aimc.pipeline), so W_eff is w_int up to float rounding. Use w_int itself, after checking,
                # so that the digital baseline does not depend on the rounding of one path or another.
                deviation = float((w_eff - self.w_int.to(w_eff.dtype)).abs().max()) if w_eff.numel() else 0.0
                if deviation > 1e-3:
                    raise RuntimeError(f"{self.name or 'analog layer'}: ideal cells decode to weights "
                                       f"{deviation:g} away from the integer weights (the decode is not exact)")
                w_eff = self.w_int.to(w_eff.dtype)
            self._effective = w_eff.to(self.dtype)
        return self._effective

    def _unit_responses(self, programmed: Programmed) -> torch.Tensor:
        """The digital outputs [N, K] of the arrays ``programmed`` for each of the K unit input codes."""
        k = self.w_int.shape[1]
        n, dev = programmed.first.shape[2], self.w_int.device
        per_vector = 2 * programmed.first.shape[1] * n * -(-k // min(k, self.scheme.array.rows))
        step = max(1, min(k, self.budget // max(1, per_vector)))
        cols = []
        with no_tf32():
            for k0 in range(0, k, step):
                k1 = min(k, k0 + step)
                eye = torch.zeros(k1 - k0, k, dtype=torch.int64, device=dev)
                eye[torch.arange(k1 - k0, device=dev), torch.arange(k0, k1, device=dev)] = 1
                cols.append(linear_mvm(eye, programmed, self.scheme, signed_inputs=self.signed_inputs,
                                       ranges=None, gain=self.gain, block=self.budget)[0])
        return torch.cat(cols).T.contiguous()

    def reset_stats(self) -> None:
        self.stats = {}

    # -- the analog product ----------------------------------------------------------------------------------
    def _quantize(self, x: torch.Tensor, dtype: torch.dtype = torch.int64) -> tuple[torch.Tensor, torch.Tensor]:
        """Input codes (the DAC saturates at the calibrated full scale; unsigned inputs at 0 from below)."""
        # Float codes carry a NaN on to the logits; integer codes would turn it into a number silently, so
        # those are always checked.
        check = self.check_finite or not dtype.is_floating_point
        if check and x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{self.name or 'analog layer'}: inputs must be finite (found NaN or inf)")
        return saturate_inputs(x, self.scheme.inputs.bits, self.signed_inputs, self.input_full_scale, dtype)

    def _effective_product(self, op, x_codes: torch.Tensor) -> torch.Tensor:
        """``op(x_codes, W_eff)`` at float32 accuracy; on CUDA as two TF32 tensor-core products.

        W_eff = hi + lo with hi = W_eff truncated to TF32's 10 mantissa bits (exact in TF32) and lo the
        rest (exact in float32, |lo| < 2^-10 |W_eff|); the input codes are integers of at most 12 bits,
        exact in TF32. So x hi is exact and x lo carries a relative error of at most 2^-10 of |lo|, i.e.
        2^-20 of |W_eff|: float32's accuracy, at tensor-core speed. On the CPU: one float32 product.
        """
        w = self.effective_weights()
        exact_codes = input_max(self.scheme.inputs.bits, self.signed_inputs) <= 1 << 11
        if not (x_codes.is_cuda and w.dtype == torch.float32 and exact_codes):
            with no_tf32():
                return op(x_codes, w)
        if self._effective_split is None:
            hi = tf32_truncate(w)
            self._effective_split = (hi, w - hi)
        hi, lo = self._effective_split
        with tf32():
            return op(x_codes, hi).add_(op(x_codes, lo))

    def _observer(self, k: int, signal: torch.Tensor) -> None:
        if self.profile is not None:
            self.profile(k, signal)
        if self.record_stats:
            top = self.ranges[k].high if self.ranges is not None else None
            if top is None:
                top = self.stats.setdefault("hist_scale", {}).setdefault(k, float(signal.abs().max()) or 1.0)
            hist = torch.histc(signal.detach().float() / top, HISTOGRAM_BINS, -1.25, 1.25).cpu()
            hists = self.stats.setdefault("adc_histograms", {})
            hists[k] = hists[k] + hist if k in hists else hist
            self.stats.setdefault("adc_clipped", {}).setdefault(k, 0)
            self.stats["adc_clipped"][k] += int((signal.abs() > top).sum())

    def _currents(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.currents(g, x)
        if self.record_stats:
            s = self.stats
            s["current_sum"] = s.get("current_sum", 0.0) + float(out.abs().sum())
            s["current_count"] = s.get("current_count", 0) + out.numel()
        return out

    def _matmul_step(self, n: int | None = None) -> int:
        """Vectors per ``analog_mvm`` call of :meth:`analog_matmul` (``n``: the outputs read, default all)."""
        k = self.w_int.shape[1]
        n = self.w_int.shape[0] if n is None else n
        i = self.scheme.inputs
        t = slice_count(i.bits, i.slice_bits, self.signed_inputs)
        noisy = self.currents.noisy and self.currents.mode == "per_device"
        rows = min(k, self.scheme.array.rows)
        return max(1, self.budget // max(1, t * n * (rows if noisy else 1) + t * k))

    def analog_matmul(self, x2d: torch.Tensor, group: int | None = None) -> torch.Tensor:
        """y [B, N] = analog(W x) for float inputs [B, K]: quantise, simulate, rescale, add the bias.

        ``group``: of a grouped layer, the inputs of group ``group``, read by that group's arrays alone
        (y [B, N / groups]).
        """
        if self.programmed is None:
            raise RuntimeError(f"{self.name or 'analog layer'}: not programmed; call reprogram(model, seed)")
        if self.input_linear and group is None:
            x_codes, x_scale = self._quantize(x2d, self.dtype)
            y = self._effective_product(lambda x, w: x @ w.T, x_codes).to(torch.float32)
            y.mul_(x_scale.float() * self.w_scale)  # in place: y is this call's own temporary
            return y if self.bias is None else y.add_(self.bias)
        programmed = self.programmed if group is None else self._group_programmed(group)
        outputs = self._group_outputs(group)
        w_scale = self.w_scale if self.w_scale.numel() == 1 else self.w_scale[outputs]
        n = programmed.first.shape[2]
        step = self._matmul_step(n)
        observer = self._observer if (self.profile is not None or self.record_stats) else None
        currents = self._currents if self.record_stats else self.currents
        outs = []
        with no_tf32():
            for b0 in range(0, x2d.shape[0], step):
                x_int, x_scale = self._quantize(x2d[b0 : b0 + step])
                # recorded bit-line currents must be the physical ones, not g+ - g-
                if self.currents.linear and not self.record_stats:
                    y = linear_mvm(x_int, programmed, self.scheme, signed_inputs=self.signed_inputs,
                                   ranges=self.ranges, gain=self.gain, observer=observer)[0]
                else:
                    y = analog_mvm(x_int, programmed, self.scheme, signed_inputs=self.signed_inputs,
                                   ranges=self.ranges, currents=currents, gain=self.gain, observer=observer)[0]
                outs.append(y.to(torch.float32) * (x_scale.float() * w_scale))
        y = torch.cat(outs) if outs else x2d.new_zeros(0, n)
        return y if self.bias is None else y + self.bias[outputs]

    def mean_current(self) -> float | None:
        """Mean |bit-line current| (units of Gmax x input code) over the reads recorded since reset_stats."""
        c = self.stats.get("current_count", 0)
        return self.stats["current_sum"] / c if c else None


def _ideal_scheme(scheme: Scheme) -> Scheme:
    """The scheme without any device error or wire resistance (for profiling)."""
    return scheme.with_overrides({
        "device.programming.model": "none", "device.programming.alpha": 0.0,
        "device.read_noise.model": "none", "device.read_noise.alpha": 0.0, "parasitics.r": 0.0,
    })


class AnalogLinear(_AnalogBase):
    """nn.Linear on analog arrays: y = dequantised analog(W_int x_int) + digital bias."""

    @classmethod
    def from_float(cls, layer: nn.Linear, scheme: Scheme, name: str = "") -> AnalogLinear:
        return cls(layer.weight, layer.bias, scheme, name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = self.analog_matmul(x.reshape(-1, shape[-1]))
        return y.reshape(*shape[:-1], y.shape[-1])


class AnalogConv2d(_AnalogBase):
    """nn.Conv2d on analog arrays through im2col: every output position is one input vector of C k k rows.

    A grouped (or depthwise) convolution maps each group onto arrays of its own, as hardware would: group
    g's C_out / groups output columns read its C_in / groups x kh x kw rows, partitioned by ``array.rows``
    like any layer's fan-in; the weights are quantised as one layer (or per output channel) and the ADC
    ranges are the layer's. The input-linear fast path runs a grouped convolution of the effective weights;
    the convolution-native ADC path takes ``groups = 1`` only, and a grouped layer with an ADC runs im2col
    group by group.
    """

    conv_fast_path = True
    """Use the convolution-native ADC path when it applies (False, per layer or class: always im2col)."""

    def __init__(self, layer: nn.Conv2d, scheme: Scheme, name: str = ""):
        if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            raise ValueError(f"{name or 'conv'}: analog Conv2d supports numeric zero padding only, got "
                             f"padding={layer.padding!r}, padding_mode={layer.padding_mode!r}")
        super().__init__(layer.weight.reshape(layer.out_channels, -1), layer.bias, scheme, name, layer.groups)
        self.kernel_size, self.stride = layer.kernel_size, layer.stride
        self.padding, self.dilation = layer.padding, layer.dilation
        self.out_channels = layer.out_channels
        self.in_channels = layer.in_channels
        self.conv_path_calls = 0
        """Forward calls that took the convolution-native ADC path (to check that it ran)."""

    @property
    def conv_native(self) -> bool:
        """Whether the forward can read the arrays as grouped convolutions (:func:`aimc.pipeline.linear_conv2d`).

        True for linear currents (no read noise, no wire resistance) when the row partitions fall on whole
        input channels and no bit-line currents are recorded (``record_stats`` records physical reads);
        not for grouped convolutions (im2col per group instead).
        """
        return (
            self.conv_fast_path
            and self.groups == 1
            and self.programmed is not None
            and self.currents is not None
            and self.currents.linear
            and not self.record_stats
            and conv_partition_channels(self.in_channels, self.kernel_size, self.scheme.array.rows) is not None
        )

    @classmethod
    def from_float(cls, layer: nn.Conv2d, scheme: Scheme, name: str = "") -> AnalogConv2d:
        return cls(layer, scheme, name)

    def _output_size(self, h: int, w: int) -> tuple[int, int]:
        kh, kw = self.kernel_size
        ho = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        wo = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return ho, wo

    def _images_per_unfold(self, positions: int) -> int:
        return max(1, self.budget // max(1, 4 * positions * self.w_int.shape[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.programmed is not None and self.input_linear:
            return self._linear_forward(x)
        if self.conv_native:
            return self._conv_forward(x)
        if self.groups == 1:
            return self._im2col_forward(x)
        per_group = self.in_channels // self.groups
        return torch.cat([self._im2col_forward(x[:, g * per_group : (g + 1) * per_group], g)
                          for g in range(self.groups)], 1)

    def _im2col_forward(self, x: torch.Tensor, group: int | None = None) -> torch.Tensor:
        """The general path: every output position one input vector (of group ``group``'s arrays alone)."""
        b, _, h, w = x.shape
        ho, wo = self._output_size(h, w)
        k = self.w_int.shape[1]
        per_image = self._images_per_unfold(ho * wo)
        outs = []
        for i0 in range(0, b, per_image):
            cols = F.unfold(x[i0 : i0 + per_image], self.kernel_size, self.dilation, self.padding, self.stride)
            bi = cols.shape[0]
            y = self.analog_matmul(cols.transpose(1, 2).reshape(-1, k), group)  # [bi * L, N or N / groups]
            outs.append(y.reshape(bi, ho * wo, -1).transpose(1, 2).reshape(bi, -1, ho, wo))
        return torch.cat(outs)

    def _general_chunks(self, images: int, positions: int) -> list[tuple[int, int]]:
        """The vector ranges of the im2col path's ``analog_mvm`` blocks, in its order (image-major vectors)."""
        per_image = self._images_per_unfold(positions)
        step = self._matmul_step()
        inner = linear_vector_step(self.programmed, self.scheme, self.signed_inputs, DEFAULT_BLOCK)
        chunks = []
        for i0 in range(0, images, per_image):
            base, count = i0 * positions, min(per_image, images - i0) * positions
            for a0 in range(0, count, step):
                a1 = min(count, a0 + step)
                chunks += [(base + c0, base + min(a1, c0 + inner)) for c0 in range(a0, a1, inner)]
        return chunks

    def _conv_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution-native ADC path: the same conversions as im2col, the currents as convolutions.

        With a profile being taken the observer sees the same signals, in the same blocks, as on the
        im2col path (its random sample is then the same up to float rounding of the currents).
        """
        self.conv_path_calls += 1
        b, _, h, w = x.shape
        ho, wo = self._output_size(h, w)
        observer = self._observer if self.profile is not None else None
        chunks = self._general_chunks(b, ho * wo) if observer is not None else None
        with no_tf32():
            x_int, x_scale = self._quantize(x)
            y = linear_conv2d(x_int, self.programmed, self.scheme, kernel_size=self.kernel_size,
                              stride=self.stride, padding=self.padding, dilation=self.dilation,
                              signed_inputs=self.signed_inputs, ranges=self.ranges, gain=self.gain,
                              observer=observer, chunks=chunks, block=self.budget)[0]
        y = y.to(torch.float32) * (x_scale.float() * self.w_scale).reshape(1, -1, 1, 1)
        return y if self.bias is None else y + self.bias.reshape(1, -1, 1, 1)

    def _linear_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The input-linear layer as one convolution of the input codes with the effective weights."""
        x_codes, x_scale = self._quantize(x, self.dtype)
        shape = (self.out_channels, -1, *self.kernel_size)
        y = self._effective_product(
            lambda x, w: F.conv2d(x, w.reshape(shape), None, self.stride, self.padding, self.dilation, self.groups),
            x_codes,
        ).to(torch.float32)
        y.mul_((x_scale.float() * self.w_scale).reshape(1, -1, 1, 1))  # in place: this call's own temporary
        return y if self.bias is None else y.add_(self.bias.reshape(1, -1, 1, 1))


# -------------------------------------------------------------------------------------------------------------
# convert
# -------------------------------------------------------------------------------------------------------------


def _batchnorm_pairs(parent: nn.Module) -> list[tuple[str, str]]:
    """(Conv2d, BatchNorm2d) child names of ``parent`` that fold: the BatchNorm2d registered just after."""
    pairs = []
    for prev, cur in itertools.pairwise(list(parent._modules)):
        conv, bn = parent._modules[prev], parent._modules[cur]
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.num_features == conv.out_channels:
            pairs.append((prev, cur))
    return pairs


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold each BatchNorm2d into the Conv2d registered just before it in the same parent (in place)."""
    for parent in model.modules():
        for prev, cur in _batchnorm_pairs(parent):
            conv, bn = parent._modules[prev], parent._modules[cur]
            with torch.no_grad():
                std = torch.sqrt(bn.running_var + bn.eps)
                gamma = bn.weight if bn.affine else torch.ones_like(std)
                beta = bn.bias if bn.affine else torch.zeros_like(std)
                factor = gamma / std
                bias = conv.bias if conv.bias is not None else torch.zeros_like(std)
                conv.weight.mul_(factor.reshape(-1, 1, 1, 1))
                conv.bias = nn.Parameter(factor * (bias - bn.running_mean) + beta)
            parent._modules[cur] = nn.Identity()
    return model


def project_attention(model: nn.Module) -> nn.Module:
    """Replace every ``nn.MultiheadAttention`` by a :class:`~aimc.montecarlo.attention.ProjectedAttention`
    (in place; the model itself if it is one): the same function, its projections as Linear layers.

    Every ``nn.TransformerEncoder`` also stops converting its inputs to nested tensors, a path that runs
    torch's fused float kernel on the attention's own weights.
    """
    if isinstance(model, nn.MultiheadAttention):
        return ProjectedAttention(model)
    names = [name for name, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    for name in names:
        try:
            _set_module(model, name, ProjectedAttention(model.get_submodule(name)))
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    for m in model.modules():
        if isinstance(m, nn.TransformerEncoder):
            m.use_nested_tensor = False
    return model


@dataclass(frozen=True)
class DigitalLayer:
    """A part of a network that ``convert`` leaves digital (computed in float, on no array)."""

    name: str
    """The module's name in the model (a parameter's name for a loose parameter); "" for the model itself."""
    kind: str
    """The module's class (``LayerNorm``, ``Embedding``, ...), ``parameter [shape]``, or
    :data:`~aimc.montecarlo.attention.ATTENTION_PRODUCTS`."""

    def __str__(self) -> str:
        return f"{self.name or '(model)'}: {self.kind}"


def unconverted_layers(model: nn.Module) -> list[DigitalLayer]:
    """What ``convert`` leaves digital in ``model``, a float model or one ``convert`` returned (same list).

    Listed: every attention's activation-by-activation products (:data:`ATTENTION_PRODUCTS`), every module
    holding parameters or buffers that is neither a Conv2d/Linear (converted) nor a BatchNorm2d folded into
    the Conv2d before it (LayerNorm, an unfolded BatchNorm, Embedding, Conv1d, ...), and every parameter
    that a module holds outside such a layer (a class token, a position embedding). Not listed: what the
    forward computes with plain torch operations and no weights (activations, pooling, residual sums,
    softmax), which is digital too.
    """
    found: list[DigitalLayer] = []
    _list_digital(model, "", found)
    return found


def _list_digital(module: nn.Module, name: str, found: list[DigitalLayer]) -> None:
    if isinstance(module, (_AnalogBase, nn.Conv2d, nn.Linear)):
        return
    if isinstance(module, (ProjectedAttention, nn.MultiheadAttention)):  # its projections are converted
        found.append(DigitalLayer(name, ATTENTION_PRODUCTS))
        return
    if not module._modules:
        if any(True for _ in itertools.chain(module.parameters(False), module.buffers(False))):
            found.append(DigitalLayer(name, type(module).__name__))
        return
    for key, parameter in module.named_parameters(recurse=False):
        found.append(DigitalLayer(f"{name}.{key}" if name else key, f"parameter {list(parameter.shape)}"))
    folded = {bn for _, bn in _batchnorm_pairs(module)}
    for key, child in module._modules.items():
        if child is not None and key not in folded:
            _list_digital(child, f"{name}.{key}" if name else key, found)


def analog_layers(model: nn.Module) -> list[_AnalogBase]:
    return [m for m in model.modules() if isinstance(m, _AnalogBase)]


def _batches(data: torch.Tensor | Iterable, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(data, torch.Tensor):
        for i in range(0, data.shape[0], batch_size):
            yield data[i : i + batch_size]
        return
    for item in data:
        yield item[0] if isinstance(item, (tuple, list)) else item


class _InputObserver:
    def __init__(self, percentile: float, cap: int = 200_000):
        self.percentile, self.cap = percentile, cap
        self.peak, self.negative, self.samples = 0.0, False, []
        self.gen = torch.Generator().manual_seed(0)

    def __call__(self, module: nn.Module, args: tuple) -> None:
        x = args[0].detach()
        self.negative = self.negative or bool((x < 0).any())
        mags = x.abs().reshape(-1)
        self.peak = max(self.peak, float(mags.max()) if mags.numel() else 0.0)
        if self.percentile < 100:
            mags = mags.float().cpu()
            if mags.numel() > self.cap:
                mags = mags[torch.randperm(mags.numel(), generator=self.gen)[: self.cap]]
            self.samples.append(mags)

    def full_scale(self) -> float:
        if self.percentile >= 100 or not self.samples:
            value = self.peak
        else:
            value = float(np.percentile(torch.cat(self.samples).numpy(), self.percentile))
        return value if value > 0 else 1.0


InputRanges = dict[str, tuple[bool, float]]
"""Per Conv2d/Linear (by module name): (signed inputs, input full scale), as observed on calibration data."""


def _folded_copy(model: nn.Module, dev: torch.device) -> nn.Module:
    """The float model ``convert`` maps: a copy with its attention projected and its BatchNorm folded."""
    return fold_batchnorm(project_attention(copy.deepcopy(model).eval().to(dev)))


def _folded_with_batches(
    model: nn.Module, calibration_data: torch.Tensor | Iterable, device: str | torch.device | None,
    batch_size: int, check_fold: bool,
) -> tuple[torch.device, nn.Module, list[torch.Tensor]]:
    """The device, a BatchNorm-folded copy of ``model`` on it (checked if asked) and the calibration batches."""
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    folded = _folded_copy(model, dev)
    batches = [b.to(dev) for b in _batches(calibration_data, batch_size)]
    if not batches:
        raise ValueError("calibration_data: needs at least one batch")
    if check_fold:
        _check_fold(model, folded, batches[0], dev)
    return dev, folded, batches


def _check_fold(original: nn.Module, folded: nn.Module, batch: torch.Tensor, dev: torch.device) -> None:
    with torch.no_grad(), _standard_attention():
        ref = copy.deepcopy(original).eval().to(dev)(batch)
        got = folded(batch)
    if not torch.allclose(got, ref, rtol=1e-3, atol=1e-4 * float(ref.abs().max()) + 1e-6):
        raise ValueError("convert: BatchNorm folding changed the model's outputs (a BatchNorm2d does not "
                         "directly follow its Conv2d in registration order, or a module reads an attention's "
                         "projection weights itself); pass check_fold=False to skip")


@contextlib.contextmanager
def _standard_attention() -> Iterator[None]:
    """torch's transformer layers without their fused inference kernel: on CUDA it rounds differently from
    the layer-by-layer computation the folded copy does (beyond the fold check's tolerance on an 8-layer
    ViT), so the check compares the same arithmetic and sees only what folding changed."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def _observe_inputs(model: nn.Module, batches: list[torch.Tensor], input_percentile: float) -> InputRanges:
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    observers, handles = {}, []
    for name, m in targets:
        observers[name] = _InputObserver(input_percentile)
        handles.append(m.register_forward_pre_hook(observers[name]))
    try:
        with torch.no_grad():
            for b in batches:
                model(b)
    finally:
        for h in handles:
            h.remove()
    return {name: (obs.negative, obs.full_scale()) for name, obs in observers.items()}


def calibrate_inputs(
    model: nn.Module,
    calibration_data: torch.Tensor | Iterable,
    *,
    device: str | torch.device | None = None,
    input_percentile: float = 100.0,
    batch_size: int = 64,
    check_fold: bool = True,
) -> InputRanges:
    """The activation calibration of ``convert`` alone: signedness and full scale of every layer's inputs.

    It depends on the float model and the calibration data only, not on the scheme, so a sweep computes
    it once and hands it to every ``convert(..., input_ranges=...)``.
    """
    _, folded, batches = _folded_with_batches(model, calibration_data, device, batch_size, check_fold)
    return _observe_inputs(folded, batches, input_percentile)


def convert(
    model: nn.Module,
    scheme: Scheme,
    calibration_data: torch.Tensor | Iterable,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    input_percentile: float = 100.0,
    batch_size: int = 64,
    read_noise_mode: str | None = None,
    record_stats: bool = False,
    check_fold: bool = True,
    input_ranges: InputRanges | None = None,
) -> nn.Module:
    """An analog copy of ``model``: every Conv2d and Linear (attention projections included) runs on
    simulated analog arrays; :func:`unconverted_layers` lists what stays digital.

    ``calibration_data``: a tensor of inputs (batched by ``batch_size``) or an iterable of batches (or of
    (inputs, labels) pairs). One chip is programmed with ``seed``; :func:`reprogram` draws others.
    ``input_ranges``: the activation calibration from :func:`calibrate_inputs` on the same model and data
    (skips observing the inputs again; ``input_percentile`` is then the one it was made with). The
    calibration data are still needed for calibrated or optimal ADC ranges.
    """
    dev, model, batches = _folded_with_batches(model, calibration_data, device, batch_size, check_fold)
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if input_ranges is None:
        input_ranges = _observe_inputs(model, batches, input_percentile)
    missing = sorted({name for name, _ in targets} - set(input_ranges))
    if missing:
        raise ValueError(f"input_ranges: no calibration for layer(s) {missing[:5]}; made for another model?")
    for name, m in targets:
        if isinstance(m, nn.Conv2d):
            analog = AnalogConv2d.from_float(m, scheme, name)
        else:
            analog = AnalogLinear.from_float(m, scheme, name)
        analog.to(dev)
        analog.signed_inputs, analog.input_full_scale = input_ranges[name]
        analog.dtype, analog.read_noise_mode = dtype, read_noise_mode
        _set_module(model, name, analog)
    layers = analog_layers(model)
    _calibrate_adcs(model, layers, scheme, batches)
    reprogram(model, seed)
    for layer in layers:
        layer.record_stats = record_stats
    return model


def _calibrate_adcs(model: nn.Module, layers: list[_AnalogBase], scheme: Scheme, batches: list[torch.Tensor]) -> None:
    if scheme.adc.bits == 0:
        return
    if not range_policy(scheme.adc.range).profiled:
        for layer in layers:
            layer.ranges = slice_ranges(scheme, layer.w_int.shape[1], layer.signed_inputs)
        return
    # observe with ideal analog layers (no device error, no ADC), layer by layer through the analog model
    for layer in layers:
        layer.ranges = None
        layer.program(None, ideal=True)
        layer.profile = SignalProfile(SliceLayout.from_scheme(scheme).slices, total_cap=1 << 20)
    with torch.no_grad():
        for b in batches:
            model(b)
    for layer in layers:
        layer.ranges = ranges_from_profile(scheme, layer.profile, layer.w_int.shape[1], layer.signed_inputs)
        layer.profile = None


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent = model
    *path, last = name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, last, module)


def reprogram(model: nn.Module, seed: int, errors_in: Callable[[str], bool] | None = None) -> nn.Module:
    """Draw a new chip: every analog layer gets fresh frozen device errors from (seed, layer index).

    ``errors_in(name)``: where given, only the layers it accepts get device errors; the others are
    programmed with ideal cells (their arrays, slicing and ADC unchanged). A layer's errors depend on
    (seed, index) only, so such a chip is the all-layers chip with the other layers made ideal: which
    layers cost the accuracy, measured on the same chips.
    """
    for index, layer in enumerate(analog_layers(model)):
        layer_seed = int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, index]).generate_state(1)[0])
        if errors_in is None or errors_in(layer.name):
            layer.program(layer_seed)
        else:
            layer.program(None, ideal=True)
        layer.reset_stats()
    return model

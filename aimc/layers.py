"""Layers for MVM-level work: the built-in synthetic layer and user layers from ``.npz`` files.

A layer is float weights [outputs, inputs] and float input vectors [vectors, inputs] (one per row). Both
``aimc simulate`` and ``aimc estimate`` quantise them the same way (:func:`quantize_layer`): weights to
``weights.bits`` per layer (or per channel), inputs to ``inputs.bits`` with the full scale at the largest
input magnitude, signed (sign-magnitude) if any input is negative.

A layer holds torch tensors (the Monte Carlo engine) or numpy arrays (``tensors=False``: the closed forms,
which start without torch); quantising either gives the same integers (:mod:`aimc._arrays`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._arrays import to_float64
from .inputs import quantize_inputs
from .mapping import quantize_weights
from .scheme import Scheme

if TYPE_CHECKING:
    import torch

__all__ = ["Layer", "QuantizedLayer", "load_layer", "quantize_layer", "synthetic_layer"]

SYNTHETIC = {"outputs": 256, "inputs": 1152, "vectors": 64, "seed": 1234, "laplace_scale": 0.02}
"""The built-in layer: Laplace(0, 0.02) weights (zero-peaked like trained networks), rectified-normal
inputs max(N(0, 1), 0) (half of them zero, like post-ReLU activations), 1152 inputs x 256 outputs,
64 input vectors, numpy seed 1234."""


@dataclass(frozen=True)
class Layer:
    """Float weights [outputs, inputs] and input vectors [vectors, inputs]: torch tensors or numpy arrays."""

    weights: torch.Tensor | np.ndarray
    inputs: torch.Tensor | np.ndarray
    name: str


@dataclass(frozen=True)
class QuantizedLayer:
    """Integer weights [N, K] and inputs [B, K], their scales, and the exact digital product [B, N]."""

    w_int: torch.Tensor | np.ndarray
    x_int: torch.Tensor | np.ndarray
    w_scale: torch.Tensor | np.ndarray
    x_scale: torch.Tensor | np.ndarray
    signed_inputs: bool

    @property
    def reference(self) -> torch.Tensor | np.ndarray:
        """The digital reference: quantised inputs times quantised weights, in integer units (float64)."""
        return to_float64(self.x_int @ self.w_int.T)


def _layer(w: np.ndarray, x: np.ndarray, name: str, tensors: bool) -> Layer:
    if not tensors:
        return Layer(w, x, name)
    import torch  # here, not at the top: aimc estimate reads its layer without torch

    return Layer(torch.from_numpy(w), torch.from_numpy(x), name)


def synthetic_layer(tensors: bool = True) -> Layer:
    """The documented built-in layer (see ``SYNTHETIC``); identical on every machine. Torch tensors, or
    numpy arrays with ``tensors=False``."""
    rng = np.random.default_rng(SYNTHETIC["seed"])
    w = rng.laplace(0.0, SYNTHETIC["laplace_scale"], size=(SYNTHETIC["outputs"], SYNTHETIC["inputs"]))
    x = np.maximum(rng.standard_normal(size=(SYNTHETIC["vectors"], SYNTHETIC["inputs"])), 0.0)
    return _layer(w, x, "synthetic", tensors)


_LAYER_FORMAT = "an .npz (numpy.savez) with real arrays weights [outputs, inputs] and inputs [vectors, inputs]"


def load_layer(path: str | Path, tensors: bool = True) -> Layer:
    """Read an ``.npz`` with ``weights`` [outputs, inputs] and ``inputs`` [vectors, inputs] (real arrays),
    as float64 torch tensors, or numpy arrays with ``tensors=False``.

    ValueError naming ``--layer``, the array and what is allowed for anything else: a file that is not an
    ``.npz`` archive, a missing or pickled array, complex, boolean or non-numeric values, NaN or inf, a
    wrong number of dimensions, an empty array, or fan-ins that do not match.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--layer: no such file {str(path)!r}; allowed: {_LAYER_FORMAT}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"--layer: {str(path)!r} is not an .npz archive; allowed: {_LAYER_FORMAT}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("weights", "inputs") if k not in data.files]
            if missing:
                raise ValueError(f"--layer: {path.name} lacks array(s) {', '.join(missing)}; allowed: {_LAYER_FORMAT}")
            w, x = (_real_array(data, name, path) for name in ("weights", "inputs"))
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"--layer: cannot read {str(path)!r} as .npz ({e}); allowed: {_LAYER_FORMAT}") from None
    if w.ndim != 2 or x.ndim != 2:
        raise ValueError(
            f"--layer: weights must be 2-D [outputs, inputs] and inputs 2-D [vectors, inputs]; "
            f"got {w.shape} and {x.shape}"
        )
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"--layer: weights have {w.shape[1]} inputs but input vectors have {x.shape[1]}")
    return _layer(w.astype(np.float64), x.astype(np.float64), path.stem, tensors)


def _real_array(data, name: str, path: Path) -> np.ndarray:
    """Array ``name`` of an open .npz: real (floating or integer) and finite, not empty."""
    try:
        a = np.asarray(data[name])
    except ValueError:  # an object array, which only unpickling could read
        raise ValueError(f"--layer: {path.name}: {name} holds Python objects; allowed: {_LAYER_FORMAT}") from None
    real = np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    if not real:
        raise ValueError(f"--layer: {name} has dtype {a.dtype}; allowed: real floating or integer values "
                         "(no complex, boolean or text)")
    if a.size == 0:
        raise ValueError(f"--layer: {name} is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"--layer: {name} must be finite numbers (found NaN or inf)")
    return a


def quantize_layer(layer: Layer, scheme: Scheme) -> QuantizedLayer:
    """Quantise a layer as the scheme says; inputs are signed if any is negative."""
    w_int, w_scale = quantize_weights(layer.weights, scheme.weights.bits, scheme.weights.per_channel)
    signed = bool((layer.inputs < 0).any())
    peak = float(abs(layer.inputs).max())
    x_int, x_scale = quantize_inputs(layer.inputs, scheme.inputs.bits, signed, peak if peak > 0 else 1.0)
    return QuantizedLayer(w_int, x_int, w_scale, x_scale, signed)

"""The two array libraries of the shared definitions: torch tensors and numpy arrays.

The Monte Carlo engine computes on torch tensors (on any device); the closed forms compute on numpy arrays,
so that ``aimc estimate`` starts without importing torch, which alone takes twice the command's 1 s target
(DESIGN section 7). The definitions of :mod:`aimc.mapping`, :mod:`aimc.inputs`, :mod:`aimc.adc` and
:mod:`aimc.mappings` are written once and compute with the library of the array they are given: the same
elementwise IEEE operations in both, so integer codes, digits, conductances and quantised values are equal
bit for bit whichever library computed them.

Nothing here imports torch: an argument that is a tensor means torch is loaded already. numpy is imported
on first use, so that the commands that compute nothing (``aimc presets``) do not load it either.
"""

from __future__ import annotations

import math
import sys
from types import ModuleType
from typing import Any

__all__ = ["is_tensor", "namespace", "numel", "to_float64", "to_int64", "to_numpy"]


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (False, without importing torch, when torch is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def namespace(x: Any) -> ModuleType:
    """The module that computes on ``x``: torch for a tensor, numpy for anything else."""
    if is_tensor(x):
        return sys.modules["torch"]
    import numpy

    return numpy


def numel(x: Any) -> int:
    """The number of elements of a tensor or an array."""
    return math.prod(x.shape)


def to_int64(x: Any) -> Any:
    """``x`` as int64, in its own library (a copy only when the type changes)."""
    if is_tensor(x):
        return x.to(sys.modules["torch"].int64)
    import numpy

    return numpy.asarray(x).astype(numpy.int64, copy=False)


def to_float64(x: Any) -> Any:
    """``x`` as float64, in its own library (a copy only when the type changes)."""
    if is_tensor(x):
        return x.to(sys.modules["torch"].float64)
    import numpy

    return numpy.asarray(x).astype(numpy.float64, copy=False)


def to_numpy(x: Any) -> Any:
    """A numpy array of ``x``'s values (a CPU tensor's memory is shared, not copied)."""
    if is_tensor(x):
        return x.detach().cpu().numpy()
    import numpy

    return numpy.asarray(x)

"""Device error laws sigma(g): defined once, evaluated on torch tensors or on sympy symbols.

A law gives the standard deviation of a device's conductance error as a function of its (target)
conductance, in normalised units (g = G / Gmax, so g is in [g_min, 1]). Each law is written against a
small operations namespace (:data:`TORCH` or :data:`SYMPY`), so that the Monte Carlo engine samples from
exactly the expression the theory takes its moments from: there is no second copy of any physical law.

The published device fits (``DEVICE_LAWS``) are stated in the physical units of their source and
normalised here by their Gmax (or Imax), exactly as their source defines them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["DEVICE_LAWS", "SYMPY", "TORCH", "DeviceLaw", "Ops", "device_law"]


class Ops:
    """The few mathematical operations a law needs, for one numeric or symbolic back end."""

    def __init__(self, exp: Callable, relu: Callable, interp: Callable):
        self.exp = exp
        self.relu = relu
        self.interp = interp


def _torch_interp(x: torch.Tensor, xp: tuple[float, ...], fp: tuple[float, ...]) -> torch.Tensor:
    """Piecewise-linear interpolation through (xp, fp); x outside [xp[0], xp[-1]] is extrapolated linearly."""
    xs = torch.as_tensor(xp, dtype=x.dtype, device=x.device)
    fs = torch.as_tensor(fp, dtype=x.dtype, device=x.device)
    idx = torch.clamp(torch.searchsorted(xs, x.contiguous()) - 1, 0, len(xp) - 2)
    x0, x1, f0, f1 = xs[idx], xs[idx + 1], fs[idx], fs[idx + 1]
    return f0 + (f1 - f0) * (x - x0) / (x1 - x0)


def _sympy_ops() -> Ops:
    import sympy

    def interp(x: Any, xp: tuple[float, ...], fp: tuple[float, ...]) -> Any:
        pieces = []
        for i in range(len(xp) - 1):
            slope = (fp[i + 1] - fp[i]) / (xp[i + 1] - xp[i])
            pieces.append((sympy.Float(fp[i]) + sympy.Float(slope) * (x - sympy.Float(xp[i])), x < xp[i + 1]))
        last = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        pieces.append((sympy.Float(fp[-2]) + sympy.Float(last) * (x - sympy.Float(xp[-2])), True))
        return sympy.Piecewise(*pieces)

    return Ops(exp=sympy.exp, relu=lambda e: sympy.Max(e, 0), interp=interp)


TORCH = Ops(exp=torch.exp, relu=lambda e: torch.clamp(e, min=0.0), interp=_torch_interp)


class _LazySympy(Ops):
    """Sympy operations, imported on first use so that importing aimc stays fast."""

    def __init__(self) -> None:
        self._ops: Ops | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._ops is None:
            self._ops = _sympy_ops()
        return getattr(self._ops, name)


SYMPY = _LazySympy()


@dataclass(frozen=True)
class DeviceLaw:
    """A published conductance-error fit sigma(G), with its source and its native units.

    ``sigma_physical(x, ops)`` takes the conductance (or cell current) ``x`` in ``unit`` and returns sigma
    in the same unit; ``full_scale`` is the Gmax (or Imax) in that unit, used to normalise.
    """

    name: str
    description: str
    source: str
    unit: str
    full_scale: float
    on_off: float
    sigma_physical: Callable[[Any, Ops], Any]
    read_noise: str | None = None

    def sigma(self, g: Any, ops: Ops = TORCH) -> Any:
        """sigma in units of Gmax, for normalised conductance g."""
        return self.sigma_physical(g * self.full_scale, ops) / self.full_scale


def _sonos_paper(i: Any, ops: Ops) -> Any:
    return 39.5656 * (1 - ops.exp(-0.00188704 * i))


def _sonos_2022(i: Any, ops: Ops) -> Any:
    return 19.88665 * (1 - ops.exp(-i / 176.3115))


def _sonos_2022_read(i: Any, ops: Ops) -> Any:
    return 12.58037 * (1 - ops.exp(-i / 215.36557))


def _pcm_joshi(gs: Any, ops: Ops) -> Any:
    return ops.relu(-0.00178767 * gs**2 + 0.07585724 * gs + 0.28638599)


def _pcm_ibm(gs: Any, ops: Ops) -> Any:
    g = gs / 25.0
    return 0.26348 + 1.9650 * g - 1.1731 * g**2


def _rram_milo(gs: Any, ops: Ops) -> Any:
    return ops.relu(-0.009107 * gs + 4.782321)


def _rram_wan(gs: Any, ops: Ops) -> Any:
    return 1.536e-4 * gs**3 - 1.167e-2 * gs**2 + 0.2374 * gs + 1.053


DEVICE_LAWS: dict[str, DeviceLaw] = {
    law.name: law
    for law in (
        DeviceLaw(
            "sonos-paper",
            "SONOS programming error as used in the paper's case study: sigma_I = B (1 - exp(-A I)), "
            "A = 0.00188704 /nA, B = 39.5656 nA, Imax = 1600 nA (about 7 % of I near zero current, "
            "saturating at 2.5 % of Imax).",
            "CrossSim v2.0 weight_error_device_custom.py (fit to TCAS-I 2022 Fig. 4(d)); PAPER.md 3.2",
            "nA",
            1600.0,
            1e7,
            _sonos_paper,
        ),
        DeviceLaw(
            "sonos-2022",
            "40 nm subthreshold SONOS at t = 0: sigma_I = A (1 - exp(-I / B)), A = 19.88665 nA, "
            "B = 176.3115 nA; read noise A = 12.58037 nA, B = 215.36557 nA. Imax taken as 1600 nA "
            "(the paper's 1.6 uA; CrossSim allows up to 3200 nA): an assumption.",
            "Agrawal et al., IEDM 2022; CrossSim 3.2 simulator/devices/custom/SONOS.py; ANCHORS.md 1.5",
            "nA",
            1600.0,
            1e7,
            _sonos_2022,
            read_noise="sonos-2022-read",
        ),
        DeviceLaw(
            "sonos-2022-read",
            "Read noise of the 2022 SONOS fit: sigma_I = 12.58037 nA (1 - exp(-I / 215.36557 nA)), "
            "Imax = 1600 nA.",
            "CrossSim 3.2 simulator/devices/custom/SONOS.py; ANCHORS.md 1.5",
            "nA",
            1600.0,
            1e7,
            _sonos_2022_read,
        ),
        DeviceLaw(
            "pcm-joshi",
            "PCM programming error: sigma_G = max(-0.00178767 G^2 + 0.07585724 G + 0.28638599, 0) uS, "
            "Gmax = 25 uS, On/Off 100.",
            "Joshi et al., Nat. Commun. 2020, Fig. 3b (t0 = 27.36 s); CrossSim PCM_Joshi.py; ANCHORS.md 1.5",
            "uS",
            25.0,
            100.0,
            _pcm_joshi,
        ),
        DeviceLaw(
            "pcm-ibm",
            "IBM PCM-like programming error: sigma = 0.26348 + 1.9650 g - 1.1731 g^2 uS with g = G/Gmax, "
            "Gmax = 25 uS, g_min = 0.",
            "Nandakumar et al., ICECS 2019; aihwkit PCMLikeNoiseModel; ANCHORS.md 2.3",
            "uS",
            25.0,
            math.inf,
            _pcm_ibm,
        ),
        DeviceLaw(
            "rram-milo",
            "RRAM programming error (IGVVA-100): sigma_G = max(-0.009107 G + 4.782321, 0) uS, "
            "50 to 225 uS (On/Off 4.5).",
            "Milo et al., IRPS 2021, Fig. 4; CrossSim RRAM_Milo.py; ANCHORS.md 1.5",
            "uS",
            225.0,
            4.5,
            _rram_milo,
        ),
        DeviceLaw(
            "rram-wan",
            "RRAM programming error at t = 1 s: sigma_G = 1.536e-4 G^3 - 1.167e-2 G^2 + 0.2374 G + 1.053 uS, "
            "Gmax = 39.26 uS. On/Off not published: 100 assumed.",
            "Wan et al., Nature 2022; CrossSim RRAM_Wan.py; ANCHORS.md 1.5",
            "uS",
            39.26,
            100.0,
            _rram_wan,
        ),
    )
}


def device_law(name: str) -> DeviceLaw:
    """The published device law called ``name``; a clear error lists the known names."""
    try:
        return DEVICE_LAWS[name]
    except KeyError:
        raise KeyError(f"unknown device law {name!r}; known: {', '.join(sorted(DEVICE_LAWS))}") from None


def replace_law(law: DeviceLaw, **changes: Any) -> DeviceLaw:
    """A copy of ``law`` with some attributes changed (for tests and user variants)."""
    return dataclasses.replace(law, **changes)

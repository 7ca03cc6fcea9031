"""Device error laws sigma(g): defined once, evaluated on torch tensors, numpy arrays or sympy symbols.

A law gives the standard deviation of a device's conductance error as a function of its (target)
conductance, in normalised units (g = G / Gmax, so g is in [g_min, 1]). Each law is written against a
small operations namespace (:data:`TORCH`, :data:`NUMPY` or :data:`SYMPY`), so that the Monte Carlo engine
samples from exactly the expression the theory takes its moments from: there is no second copy of any
physical law. Each namespace imports its library on first use, so that importing the vocabulary stays fast.

The published device fits (``DEVICE_LAWS``) are stated in the physical units of their source and
normalised here by their Gmax (or Imax), exactly as their source defines them.

A user's own device (:class:`UserDevice`, written by ``aimc device fit`` from measurements) is a file that
names a fitted law. It is not a law of its own: when a scheme names it (``device.programming.model=NAME``,
with the file given by ``--devices FILE`` or listed in ``$AIMC_DEVICES``), :func:`expand_device_names`
replaces the name by the built-in ``polynomial`` or ``table`` error model with the fitted numbers, and the
device's On/Off. The scheme that results states the law in full, so it describes itself without the file,
and its JSON (and every hash of it) changes when the fitted law does.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._fields import ConfigError, UnknownName

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "DEVICES_ENV",
    "DEVICE_FILE_FORMAT",
    "DEVICE_LAWS",
    "NUMPY",
    "SYMPY",
    "TORCH",
    "DeviceLaw",
    "Ops",
    "UserDevice",
    "check_device_name",
    "device_law",
    "expand_device_names",
    "load_device_file",
    "user_devices",
]


class Ops:
    """The few mathematical operations a law needs, for one numeric or symbolic back end."""

    def __init__(self, exp: Callable, relu: Callable, interp: Callable):
        self.exp = exp
        self.relu = relu
        self.interp = interp


def _torch_interp(x: torch.Tensor, xp: tuple[float, ...], fp: tuple[float, ...]) -> torch.Tensor:
    """Piecewise-linear interpolation through (xp, fp); x outside [xp[0], xp[-1]] is extrapolated linearly."""
    import torch

    xs = torch.as_tensor(xp, dtype=x.dtype, device=x.device)
    fs = torch.as_tensor(fp, dtype=x.dtype, device=x.device)
    idx = torch.clamp(torch.searchsorted(xs, x.contiguous()) - 1, 0, len(xp) - 2)
    x0, x1, f0, f1 = xs[idx], xs[idx + 1], fs[idx], fs[idx + 1]
    return f0 + (f1 - f0) * (x - x0) / (x1 - x0)


def _numpy_interp(x: np.ndarray, xp: tuple[float, ...], fp: tuple[float, ...]) -> np.ndarray:
    """:func:`_torch_interp` on numpy arrays, operation for operation (numpy's own interp clamps outside)."""
    import numpy as np

    x = np.asarray(x)
    xs, fs = np.asarray(xp, dtype=x.dtype), np.asarray(fp, dtype=x.dtype)
    idx = np.clip(np.searchsorted(xs, x, side="left") - 1, 0, len(xp) - 2)
    x0, x1, f0, f1 = xs[idx], xs[idx + 1], fs[idx], fs[idx + 1]
    return f0 + (f1 - f0) * (x - x0) / (x1 - x0)


def _torch_ops() -> Ops:
    import torch

    return Ops(exp=torch.exp, relu=lambda e: torch.clamp(e, min=0.0), interp=_torch_interp)


def _numpy_ops() -> Ops:
    import numpy as np

    return Ops(exp=np.exp, relu=lambda e: np.maximum(e, 0.0), interp=_numpy_interp)


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


class _LazyOps(Ops):
    """The operations of one library, imported on first use: importing aimc loads neither torch (2 s) nor
    sympy, and a command loads only the library it computes with."""

    def __init__(self, make: Callable[[], Ops]) -> None:
        self._make = make
        self._ops: Ops | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._ops is None:
            self._ops = self._make()
        return getattr(self._ops, name)


TORCH = _LazyOps(_torch_ops)
"""Torch tensors: the Monte Carlo engine."""
NUMPY = _LazyOps(_numpy_ops)
"""numpy arrays: the closed forms' numeric evaluation and the scheme's checks."""
SYMPY = _LazyOps(_sympy_ops)
"""sympy expressions: the theory's derivations."""


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
        raise UnknownName(f"unknown device law {name!r}; known: {', '.join(sorted(DEVICE_LAWS))}") from None


def replace_law(law: DeviceLaw, **changes: Any) -> DeviceLaw:
    """A copy of ``law`` with some attributes changed (for tests and user variants)."""
    return dataclasses.replace(law, **changes)


# ---------------------------------------------------------------------------------------------------------
# a user's own devices: fitted laws in files, expanded into the scheme's built-in error models
# ---------------------------------------------------------------------------------------------------------

DEVICES_ENV = "AIMC_DEVICES"
"""Environment variable listing device files (written by ``aimc device fit``), separated by ``os.pathsep``
(``:`` on POSIX); read when a scheme names a model that is not built in."""

DEVICE_FILE_FORMAT = "aimc-device/1"
"""The ``format`` entry of a device file; a file without it is not read as a device."""

_DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_LAW_FIELDS = {"polynomial": ("coefficients",), "table": ("table_g", "table_sigma")}
_EXPANDABLE = ("device.programming", "device.read_noise")


@dataclass(frozen=True)
class UserDevice:
    """A device fitted from measurements: its name, its law sigma(g) in units of Gmax, its On/Off.

    ``model`` is ``polynomial`` (``law["coefficients"]``: c0, c1, ... of sigma(g) = sum_i c_i g^i) or ``table``
    (``law["table_g"]``, ``law["table_sigma"]``: piecewise-linear), exactly the scheme's error models of
    those names with alpha 1. ``fit`` records how the law was fitted; ``path`` where it was read from.
    """

    name: str
    description: str
    model: str
    law: dict
    on_off: float
    fit: dict = dataclasses.field(default_factory=dict)
    path: str = ""

    def error_model_fields(self) -> dict[str, Any]:
        """Every field of a scheme's error model, set so that it states this law in full."""
        fields: dict[str, Any] = {"model": self.model, "alpha": 1.0, "alpha_relative_to": "gmax",
                                  "coefficients": (), "table_g": (), "table_sigma": ()}
        fields.update({key: tuple(values) for key, values in self.law.items()})
        return fields

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of the device file."""
        return {
            "format": DEVICE_FILE_FORMAT,
            "name": self.name,
            "description": self.description,
            "on_off": "inf" if math.isinf(self.on_off) else self.on_off,
            "model": self.model,
            "law": {key: list(values) for key, values in self.law.items()},
            "fit": self.fit,
        }


def check_device_name(name: str, where: str, known_models: Collection[str]) -> None:
    """Refuse a device name that is not a plain word or that would hide a built-in model."""
    if not _DEVICE_NAME.match(name):
        raise ConfigError(where, f"{name!r} is not a device name; allowed: letters, digits, '.', '_', '-', "
                          "starting with a letter or digit")
    if name in known_models:
        raise ConfigError(where, f"{name!r} is a built-in model; choose another name")


def _finite_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )


def _device_from_dict(data: Any, path: str) -> UserDevice:
    if not isinstance(data, dict) or data.get("format") != DEVICE_FILE_FORMAT:
        raise ValueError(f"not a device file (no \"format\": \"{DEVICE_FILE_FORMAT}\"); write one with aimc device fit")
    model, law = data.get("model"), data.get("law")
    if model not in _LAW_FIELDS or not isinstance(law, dict) or set(law) != set(_LAW_FIELDS[model]):
        raise ValueError(f"model must be polynomial (law: coefficients) or table (law: table_g, table_sigma), "
                         f"got {model!r} with {sorted(law) if isinstance(law, dict) else law!r}")
    if not all(_finite_list(v) for v in law.values()):
        raise ValueError("the law's entries must be lists of finite numbers")
    on_off = math.inf if data.get("on_off") == "inf" else data.get("on_off")
    if isinstance(on_off, bool) or not isinstance(on_off, (int, float)) or not on_off > 1:
        raise ValueError(f"on_off must be a number > 1 or \"inf\", got {data.get('on_off')!r}")
    name = data.get("name")
    if not isinstance(name, str) or not _DEVICE_NAME.match(name):
        raise ValueError(f"name must be a device name (letters, digits, '.', '_', '-'), got {name!r}")
    return UserDevice(name, str(data.get("description", "")), model, {k: tuple(v) for k, v in law.items()},
                      float(on_off), data.get("fit", {}), path)


def load_device_file(path: str | os.PathLike, origin: str = "--devices") -> UserDevice:
    """The device in a file written by ``aimc device fit``; a ConfigError naming ``origin`` and the file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(origin, f"no such file {str(path)!r}; allowed: a device file written by aimc device fit")
    try:
        return _device_from_dict(json.loads(file.read_text()), str(path))
    except (ValueError, UnicodeDecodeError) as e:  # malformed JSON is a ValueError too
        raise ConfigError(origin, f"{path}: {e}") from None


def _device_sources(files: Sequence[str], environment: bool) -> list[tuple[str, str]]:
    """(origin, path) of the files given by --devices and, when asked, of those listed in $AIMC_DEVICES."""
    sources = [("--devices", str(f)) for f in files]
    if environment:
        listed = os.environ.get(DEVICES_ENV, "").split(os.pathsep)
        sources += [(DEVICES_ENV, f.strip()) for f in listed if f.strip()]
    return sources


def user_devices(sources: Sequence[tuple[str, str]]) -> dict[str, UserDevice]:
    """The devices in the files ``sources`` ((origin, path) pairs), by name; a name defined twice is refused."""
    devices: dict[str, UserDevice] = {}
    for origin, path in sources:
        device = load_device_file(path, origin)
        if device.name in devices:
            raise ConfigError(origin, f"device {device.name!r} is defined in both {devices[device.name].path} "
                              f"and {path}; give one of them")
        devices[device.name] = device
    return devices


def _unknown_name(name: str, known_models: Collection[str], devices: dict[str, UserDevice],
                  sources: Sequence[tuple[str, str]]) -> str:
    where = "; ".join(f"{origin} {path}" for origin, path in sources)
    looked = (f"looked in {where}" if sources else
              f"no device files given: --devices FILE (written by aimc device fit) or ${DEVICES_ENV}")
    return (f"unknown model or device {name!r}; built in: {', '.join(known_models)}; "
            f"devices: {', '.join(sorted(devices)) or 'none'} ({looked})")


def expand_device_names(overrides: dict[str, Any], files: Sequence[str],
                        known_models: Collection[str]) -> dict[str, Any]:
    """``--set`` overrides in which every device name given as ``device.programming.model`` or
    ``device.read_noise.model`` is replaced by the built-in error model that states its law in full.

    The device's alpha is 1 and, for the programming error, the scheme takes the device's On/Off, unless the
    overrides set them too. ``files`` (from --devices) are always read; the files in $AIMC_DEVICES only
    when a name is not built in. An unknown name is a ConfigError listing the known names and the files.
    """
    names = {section: overrides.get(f"{section}.model") for section in _EXPANDABLE}
    wanted = {section: str(name).strip() for section, name in names.items()
              if name is not None and str(name).strip() not in known_models}
    sources = _device_sources(files, environment=bool(wanted))
    devices = user_devices(sources)
    expanded = dict(overrides)
    for section, name in wanted.items():
        if name not in devices:
            raise ConfigError(f"{section}.model", _unknown_name(name, known_models, devices, sources))
        device = devices[name]
        for key, value in device.error_model_fields().items():
            if key == "model" or f"{section}.{key}" not in overrides:
                expanded[f"{section}.{key}"] = value
        if section == "device.programming" and "device.on_off" not in overrides:
            expanded["device.on_off"] = device.on_off
    return expanded

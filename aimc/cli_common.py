"""Command-line pieces shared by every ``aimc`` sub-command: building a scheme from --preset/--config/--set.

Every command that takes a scheme (``aimc estimate``, ``simulate``, ``accuracy``, ``predict``, ``search``,
``formulas`` and ``diagnostics``) builds it here, from the same arguments, so the same arguments
give the same scheme everywhere. Without ``--preset`` or ``--config`` the scheme is :data:`DEFAULT_PRESET`,
design A of the paper, its reference design (differential SONOS cells, 1152 rows, bit-serial inputs
accumulated in analog, 8-bit calibrated ADC). ``--set PATH=VALUE`` then changes single fields of it;
``--set device.programming.model=NAME`` may name a device fitted by ``aimc device fit`` (its file given by
``--devices FILE`` or listed in ``$AIMC_DEVICES``), which the scheme then states in full
(:func:`aimc.devices.expand_device_names`).
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from ._fields import ConfigError
from .scheme import Scheme

__all__ = ["DEFAULT_PRESET", "add_scheme_arguments", "parse_sets", "quiet_broken_pipe", "scheme_from_args"]

DEFAULT_PRESET = "design-a"
"""The scheme of every command given neither --preset nor --config: the paper's reference design."""


def add_scheme_arguments(parser: argparse.ArgumentParser) -> None:
    """--preset NAME or --config FILE.json, then --set PATH=VALUE (repeatable)."""
    group = parser.add_argument_group("scheme")
    group.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help=f"named scheme (aimc presets); default {DEFAULT_PRESET}, the paper's reference design",
    )
    group.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="scheme JSON file (as printed by aimc show --json), instead of --preset",
    )
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one field of the scheme by dotted path, e.g. --set adc.bits=6 (repeatable)",
    )
    group.add_argument(
        "--devices",
        action="append",
        default=[],
        metavar="FILE",
        help="device file written by aimc device fit, whose name --set device.programming.model=NAME "
        "(or device.read_noise.model) can then take (repeatable; also $AIMC_DEVICES, files separated by ':')",
    )


def parse_sets(items: list[str]) -> dict[str, str]:
    """``["adc.bits=6", ...]`` as ``{"adc.bits": "6"}``; a ConfigError naming --set for a malformed item."""
    out: dict[str, str] = {}
    for item in items:
        path, sep, value = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError("--set", f"expected PATH=VALUE, e.g. adc.bits=6; got {item!r}")
        out[path.strip()] = value.strip()
    return out


def _preset(name: str) -> Scheme:
    from .presets import PRESETS, get_preset

    if not name.strip():
        raise ConfigError("--preset", f"an empty name; allowed: {', '.join(PRESETS)}")
    try:
        return get_preset(name)
    except ValueError as e:
        raise ConfigError("--preset", str(e)) from None


def _config(file: str) -> Scheme:
    path = Path(file)
    if not path.is_file():
        raise ConfigError("--config", f"no such file {file!r}; allowed: a scheme JSON file (aimc show NAME --json)")
    try:
        return Scheme.from_json(path.read_text())
    except ValueError as e:  # a ConfigError naming the field, or malformed JSON
        raise ConfigError("--config", f"{file}: {e}") from None


def _expand_devices(overrides: dict[str, str], files: list[str]) -> dict:
    """The overrides with every user device name replaced by the law it names (aimc.devices)."""
    from .devices import expand_device_names
    from .scheme import ERROR_MODELS

    return expand_device_names(overrides, files, ERROR_MODELS)


def scheme_from_args(args: argparse.Namespace, conditions: dict | None = None) -> tuple[Scheme, str]:
    """The scheme the arguments describe, and a name for it (the preset's or the file's, "(modified)" after --set).

    ``conditions``: overrides a command applies to the preset or file before the user's --set: what its
    measurement needs (diagnostics: no ADC), which --set can still change.
    """
    if args.preset is not None and args.config is not None:
        raise ConfigError("--config", "cannot be combined with --preset; give one of them")
    overrides = _expand_devices(parse_sets(args.set), getattr(args, "devices", []))
    if args.config is not None:
        scheme, name = _config(args.config), Path(args.config).stem
    else:
        name = DEFAULT_PRESET if args.preset is None else args.preset
        scheme = _preset(name)
    if conditions:
        scheme = scheme.with_overrides(conditions)
    if overrides:
        scheme = scheme.with_overrides(overrides)
        name += " (modified)"
    return scheme, name


def quiet_broken_pipe() -> None:
    """End quietly when the output is closed early (``aimc presets | head``)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

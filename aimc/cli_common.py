"""Command-line pieces shared by every ``aimc`` sub-command: building a scheme from --preset/--config/--set."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from ._fields import ConfigError
from .scheme import Scheme

__all__ = ["add_scheme_arguments", "parse_sets", "quiet_broken_pipe", "scheme_from_args"]


def add_scheme_arguments(parser: argparse.ArgumentParser, default_preset: str | None = None) -> None:
    """--preset NAME, --config FILE.json, --set PATH=VALUE (repeatable)."""
    helptext = "named scheme (aimc presets)" + (f"; default {default_preset}" if default_preset else "")
    parser.add_argument("--preset", default=None, help=helptext)
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="scheme JSON file (as printed by aimc show --json)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a field by dotted path, e.g. --set adc.bits=6 (repeatable)",
    )
    parser.set_defaults(_default_preset=default_preset)


def parse_sets(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        path, sep, value = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError("--set", f"expects PATH=VALUE, got {item!r}")
        out[path.strip()] = value.strip()
    return out


def scheme_from_args(args: argparse.Namespace) -> tuple[Scheme, str]:
    """The scheme the arguments describe, and a name for it."""
    from .presets import get_preset

    if args.preset and args.config:
        raise ConfigError("--config", "give either --preset or --config, not both")
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError("--config", f"no such file {args.config!r}")
        scheme, name = Scheme.from_json(path.read_text()), path.stem
    else:
        name = args.preset or getattr(args, "_default_preset", None)
        scheme = get_preset(name) if name else Scheme()
        name = name or "default"
    overrides = parse_sets(args.set)
    if overrides:
        scheme = scheme.with_overrides(overrides)
        name += " (modified)"
    return scheme, name


def quiet_broken_pipe() -> None:
    """End quietly when the output is closed early (``aimc presets | head``)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

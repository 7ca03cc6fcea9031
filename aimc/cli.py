"""The ``aimc`` command line: presets, show, check, estimate, formulas, simulate, accuracy, predict, search,
validate, figures.

The commands that take a scheme (estimate, formulas, simulate, accuracy) build it from the same
arguments in :mod:`aimc.cli_common`: --preset NAME or --config FILE, then --set PATH=VALUE; without
--preset or --config the scheme is design-a, the paper's reference design.

Every error a user can cause (a bad value, an unknown preset, a missing file) prints one line on stderr
and exits with status 2; no traceback. Ctrl-C (SIGINT) and SIGTERM stop a command at once with one line
saying what was kept and how to resume (:func:`aimc.results.resume_note`), exit status 130 and 143.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from ._fields import ConfigError, UnknownName
from .cli_common import quiet_broken_pipe

__all__ = ["build_parser", "main"]


def _cmd_presets(args: argparse.Namespace) -> int:
    from .presets import NOT_REPRESENTED, PRESETS

    if args.json:
        print(json.dumps(list(PRESETS)))
        return 0
    width = max(len(n) for n in PRESETS)
    group = None
    for p in PRESETS.values():
        if p.group != group:
            group = p.group
            print(f"\n[{group}]")
        print(f"  {p.name:<{width}}  {p.description}")
    print("\n[not representable]")
    for name, why in NOT_REPRESENTED.items():
        print(f"  {name:<{width}}  {why}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .presets import PRESETS, get_preset

    scheme = get_preset(args.name)
    if args.json:
        print(scheme.to_json())
        return 0
    print(f"{args.name}: {PRESETS[args.name].description}\n")
    for path in scheme.paths():
        value = scheme.to_dict()
        for part in path.split("."):
            value = value[part]
        print(f"  {path} = {json.dumps(value)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .scheme import Scheme

    path = Path(args.file)
    if not path.is_file():
        raise ConfigError("FILE", f"no such file {args.file!r}")
    Scheme.from_json(path.read_text())
    print(f"{args.file}: valid scheme")
    return 0


def _print_result(result: dict, args: argparse.Namespace, formatter: Callable[[dict], str] | None) -> None:
    if getattr(args, "json", False) or formatter is None:
        print(json.dumps(result, indent=2, default=float))
    else:
        print(formatter(result))


# name: (help, module, add-arguments function, run function returning a dict, formatter name or None)
_EXTERNAL = {
    "estimate": (
        "error budget in closed form (milliseconds)",
        "aimc.theory.cli",
        "add_estimate_arguments",
        "run_estimate",
        "format_budget_table",
    ),
    "formulas": (
        "print the derived expressions",
        "aimc.theory.cli",
        "add_formulas_arguments",
        "run_formulas",
        None,
    ),
    "simulate": (
        "device-level Monte Carlo of an analog MVM",
        "aimc.montecarlo.cli",
        "add_simulate_arguments",
        "run_simulate",
        "format_simulation",
    ),
    "accuracy": (
        "top-1 accuracy of a network on simulated analog hardware",
        "aimc.validation.cli",
        "add_accuracy_arguments",
        "run_accuracy",
        "format_accuracy",
    ),
    "predict": (
        "top-1 accuracy of a network under a scheme from the closed forms, without simulation",
        "aimc.validation.predictor.cli",
        "add_predict_arguments",
        "run_predict",
        "format_predict",
    ),
    "search": (
        "the cheapest schemes of a grid that keep a network's predicted top-1 above a bound",
        "aimc.validation.predictor.search",
        "add_search_arguments",
        "run_search",
        "format_search",
    ),
    "experiments": (
        "the paper's accuracy sweeps: list them, run them (resumable; local GPUs/cores or a Dask cluster)",
        "aimc.validation.experiments",
        "add_experiments_arguments",
        "run_experiments",
        "format_experiments",
    ),
    "diagnostics": (
        "why a scheme loses accuracy: gains of a programmed chip's weights and logits",
        "aimc.validation.diagnostics",
        "add_diagnostics_arguments",
        "run_diagnostics",
        None,
    ),
    "claims": (
        "the paper's conclusions, each with its verdict from the committed results and the conventions it rests on",
        "aimc.validation.claims",
        "add_claims_arguments",
        "run_claims",
        None,
    ),
    "validate": (
        "theory against Monte Carlo sweeps",
        "aimc.validation.cli",
        "add_validate_arguments",
        "run_validate",
        "format_validation",
    ),
    "device": (
        "fit a device law to measurements (aimc device fit), or sample a known one",
        "aimc.device_cli",
        "add_device_arguments",
        "run_device",
        "format_device",
    ),
    "figures": (
        "compute and draw the figures",
        "aimc.figures.cli",
        "add_figures_arguments",
        "run_figures",
        "format_figures",
    ),
}


def _external(name: str, parser: argparse.ArgumentParser) -> None:
    """Attach the arguments and runner of a sub-command whose code lives in another package."""
    import importlib

    _, module_name, adder, runner, formatter_name = _EXTERNAL[name]
    module = importlib.import_module(module_name)
    getattr(module, adder)(parser)

    def run(args: argparse.Namespace) -> int:
        result = getattr(module, runner)(args)
        if isinstance(result, int):
            return result
        formatter = getattr(module, formatter_name) if formatter_name else None
        if isinstance(result, str):
            print(result)
        else:
            _print_result(result, args, formatter)
            return int(result.get("exit_status", 0)) if isinstance(result, dict) else 0
        return 0

    parser.set_defaults(func=run)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the arguments of an external sub-command are loaded only when it is the one named."""
    parser = argparse.ArgumentParser(prog="aimc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("presets", help="list the named schemes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_presets)
    p = sub.add_parser("show", help="print a preset's full configuration")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_show)
    p = sub.add_parser("check", help="validate a scheme JSON file")
    p.add_argument("file")
    p.set_defaults(func=_cmd_check)
    for name, entry in _EXTERNAL.items():
        p = sub.add_parser(name, help=entry[0])
        if name == command:
            _external(name, p)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it stops as after Ctrl-C: files closed, bars ended."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _interrupted(command: str | None, terminated: bool) -> int:
    """One line on what was kept and how to resume; exit status 128 + the signal's number."""
    from .results import resume_note

    what = "SIGTERM" if terminated else "Ctrl-C"
    kept = resume_note() or "nothing was kept; run the command again"
    print(f"\naimc {command or ''}: interrupted ({what}); {kept}".replace("aimc :", "aimc:"), file=sys.stderr)
    return 143 if terminated else 130


def main(argv: list[str] | None = None) -> int:
    quiet_broken_pipe()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str]) -> int:
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = build_parser(command).parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt as e:
        return _interrupted(command, isinstance(e, Terminated))
    except (ConfigError, ValueError, OSError, UnknownName, zipfile.BadZipFile) as e:
        print(f"aimc {command}: error: {_one_line(str(e))}", file=sys.stderr)
        return 2


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(text: str) -> str:
    """The message on one line: a line break inside it (a user's field name, a file's text) shown escaped."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in text.strip())


if __name__ == "__main__":
    sys.exit(main())

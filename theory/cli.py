"""``aimc estimate`` and ``aimc formulas``: argument definitions and runners (called by :mod:`aimc.cli`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aimc.scheme import Scheme

from .budget import SOURCES, error_budget
from .parasitics import ERROR_SLOPE, VALIDITY_RN_IMAX, parasitic_scale, scale_name

__all__ = [
    "add_estimate_arguments",
    "add_formulas_arguments",
    "format_budget_table",
    "run_estimate",
    "run_formulas",
]

DEFAULT_PRESET = "design-a"


def add_estimate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=None, help=f"named scheme (default {DEFAULT_PRESET})")
    parser.add_argument("--config", default=None, help="scheme JSON file (applied instead of the preset)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                        help="override one field, e.g. --set adc.bits=6 (repeatable)")
    parser.add_argument("--layer", default=None, help=".npz with weights [outputs, inputs] and inputs "
                        "[vectors, inputs] (default: the built-in synthetic layer)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _scheme(args: argparse.Namespace) -> Scheme:
    from aimc import ConfigError

    try:
        if args.config:
            path = Path(args.config)
            if not path.is_file():
                raise ValueError(f"--config: no such file {str(path)!r}")
            scheme = Scheme.from_json(path.read_text())
        else:
            from aimc.presets import get_preset

            scheme = get_preset(args.preset or DEFAULT_PRESET)
        overrides = {}
        for item in args.overrides:
            if "=" not in item:
                raise ValueError(f"--set: expected PATH=VALUE, got {item!r}")
            key, value = item.split("=", 1)
            overrides[key.strip()] = value
        return scheme.with_overrides(overrides) if overrides else scheme
    except ConfigError as e:
        raise ValueError(str(e).splitlines()[0]) from None
    except KeyError as e:
        raise ValueError(str(e.args[0]) if e.args else "unknown preset") from None


def run_estimate(args: argparse.Namespace) -> dict:
    """The error budget of the layer under the scheme: relative_rms, bias, by_source and more."""
    from aimc.layers import load_layer, quantize_layer, synthetic_layer

    scheme = _scheme(args)
    layer = load_layer(args.layer) if args.layer else synthetic_layer()
    quantized = quantize_layer(layer, scheme)
    budget = error_budget(quantized, scheme)
    summary = budget.summary()
    scale = parasitic_scale(scheme, quantized)
    notes = []
    if scale > VALIDITY_RN_IMAX:
        notes.append(f"wire resistance beyond the first-order model's validity: "
                     f"{scale_name(scheme.parasitics.topology)} = {scale:.3g} > {VALIDITY_RN_IMAX}, so the "
                     f"parasitic term may be off by about {ERROR_SLOPE * scale:.0%}; "
                     "the exact circuit solve: aimc simulate with the same arguments")
    return {
        "layer": layer.name,
        "preset": None if args.config else (args.preset or DEFAULT_PRESET),
        "relative_rms": summary["relative_rms"],
        "bias": summary["bias"],
        "by_source": summary["by_source"],
        "relative_rms_by_source": summary["relative_rms_by_source"],
        "adc_ranges": None if budget.ranges is None else [[r.low, r.high] for r in budget.ranges],
        "parasitic_scale": scale,
        "notes": notes,
        "scheme": scheme.to_dict(),
    }


def format_budget_table(result: dict) -> str:
    """A readable error-budget table."""
    lines = [
        f"error budget: layer {result['layer']}" + (f", preset {result['preset']}" if result.get("preset") else ""),
        f"  relative rms error  {result['relative_rms']:.4g}",
        f"  relative bias       {result['bias']:+.3g}",
        "",
        f"  {'source':<18}{'share of MSE':>14}{'rms alone':>12}",
    ]
    for s in SOURCES:
        share, alone = result["by_source"][s], result["relative_rms_by_source"][s]
        if share == 0 and alone == 0:
            continue
        lines.append(f"  {s:<18}{100 * share:>13.2f}%{alone:>12.4g}")
    if any(v < 0 for v in result["by_source"].values()):
        lines.append("  (a negative share: that source's bias partly cancels the others' bias)")
    lines += [f"  note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def add_formulas_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")
    parser.add_argument("--preset", default=None, help="include the preset's error laws and decode")


def run_formulas(args: argparse.Namespace) -> str:
    """The derived expressions, one per line (plain sympy text or LaTeX)."""
    import sympy as sp

    from aimc.mapping import SliceLayout

    from .symbolic import formulas

    scheme = None
    if getattr(args, "preset", None):
        ns = argparse.Namespace(preset=args.preset, config=None, overrides=[])
        scheme = _scheme(ns)
    exprs = formulas(scheme.device if scheme else None, SliceLayout.from_scheme(scheme) if scheme else None)
    render = sp.latex if args.latex else sp.sstr
    return "\n".join(f"{name}: {render(expr)}" for name, expr in exprs.items())


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry for testing: ``python -m aimc.theory.cli [estimate options]``."""
    parser = argparse.ArgumentParser(prog="aimc estimate")
    add_estimate_arguments(parser)
    args = parser.parse_args(argv)
    try:
        result = run_estimate(args)
    except ValueError as e:
        print(f"error: {e}")
        return 2
    print(json.dumps(result, indent=2) if args.json else format_budget_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

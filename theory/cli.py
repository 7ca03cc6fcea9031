"""``aimc estimate`` and ``aimc formulas``: argument definitions and runners (called by :mod:`aimc.cli`).

Both take the scheme arguments of :mod:`aimc.cli_common` (--preset, --config, --set; default design-a).
"""

from __future__ import annotations

import argparse

from aimc.cli_common import add_scheme_arguments, scheme_from_args

from .budget import SOURCES, error_budget
from .parasitics import ERROR_SLOPE, VALIDITY_RN_IMAX, parasitic_scale, scale_name

__all__ = [
    "add_estimate_arguments",
    "add_formulas_arguments",
    "format_budget_table",
    "run_estimate",
    "run_formulas",
]


def add_estimate_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheme_arguments(parser)
    parser.add_argument("--layer", default=None, metavar="FILE.npz", help=".npz with weights [outputs, inputs] "
                        "and inputs [vectors, inputs] (default: the built-in synthetic layer)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (shown on stderr only when the budget takes over two seconds)")


def run_estimate(args: argparse.Namespace) -> dict:
    """The error budget of the layer under the scheme: relative_rms, bias, by_source and more."""
    from aimc.layers import load_layer, quantize_layer, synthetic_layer

    scheme, name = scheme_from_args(args)
    # numpy arrays, not tensors: the closed form computes in numpy, and the command starts without torch
    layer = load_layer(args.layer, tensors=False) if args.layer else synthetic_layer(tensors=False)
    quantized = quantize_layer(layer, scheme)
    budget = error_budget(quantized, scheme, progress=not args.no_progress)
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
        "scheme_name": name,
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
        f"error budget: layer {result['layer']}, scheme {result['scheme_name']}",
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
    add_scheme_arguments(parser)
    parser.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")


def run_formulas(args: argparse.Namespace) -> str:
    """The derived expressions, one per line (plain sympy text or LaTeX): the general ones, then the scheme's
    error laws and weight decode."""
    import sympy as sp

    from aimc.mapping import SliceLayout

    from .symbolic import formulas

    scheme, _ = scheme_from_args(args)
    exprs = formulas(scheme.device, SliceLayout.from_scheme(scheme))
    render = sp.latex if args.latex else sp.sstr
    return "\n".join(f"{name}: {render(expr)}" for name, expr in exprs.items())

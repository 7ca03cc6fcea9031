"""``aimc figures``: argument definitions, runner and formatter (routed by :mod:`aimc.cli`)."""

from __future__ import annotations

import argparse
import time

from aimc.results import DEFAULT_RESULTS_DIR

from . import FIGURES, figure_module, run_figure
from ._base import FIGURES_DIR

__all__ = ["add_figures_arguments", "format_figures", "run_figures"]


def add_figures_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"figures to make: {', '.join(FIGURES)}")
    parser.add_argument("--all", action="store_true", help="make every figure")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (seconds; for tests), written to <name>.quick.csv/.png")
    parser.add_argument("--plot-only", action="store_true", help="redraw from the stored CSVs, compute nothing")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"where the figures' data/ (CSVs, read back to resume) and gallery/ (PNGs) are written "
                        f"(default {FIGURES_DIR}/ in the current directory; the repository's gallery: figures)")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="where the plot-only figures read the validation results: accuracy CSVs in "
                        "DIR/<model>/, the MVM sweep in DIR/mvm/mvm.csv (default "
                        f"{DEFAULT_RESULTS_DIR}/ in the current directory, where aimc validate and the "
                        "experiments write; the committed results: validation/results)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run_figures(args: argparse.Namespace) -> dict:
    """Make the named figures (or all): per figure whether it was computed, the files written, seconds."""
    if args.all and args.names:
        raise ValueError("give figure names or --all, not both")
    if not args.all and not args.names:
        raise ValueError(f"name a figure or give --all; figures: {', '.join(FIGURES)}")
    names = list(FIGURES) if args.all else list(dict.fromkeys(args.names))
    for name in names:
        figure_module(name)  # refuse an unknown name before any work
    start = time.perf_counter()
    results = [run_figure(n, quick=args.quick, plot_only=args.plot_only, progress=not args.no_progress,
                          out=args.out, results=args.results) for n in names]
    return {
        "figures": results,
        "computed": [r["name"] for r in results if r["computed"]],
        "files": [f for r in results for f in r["files"]],
        "skipped": {r["name"]: r["skipped"] for r in results if r["skipped"]},
        "quick": bool(args.quick),
        "seconds": round(time.perf_counter() - start, 2),
    }


def format_figures(result: dict) -> str:
    lines = [f"figures{' (quick)' if result['quick'] else ''}: {len(result['figures'])} in {result['seconds']:.1f} s"]
    for r in result["figures"]:
        if r["skipped"]:
            lines.append(f"  {r['name']:<16} skipped: {r['skipped']}")
            continue
        what = f"{r['new_rows']} new CSV rows, drawn" if r["computed"] else "drawn"
        lines.append(f"  {r['name']:<16} {what} in {r['seconds']:.1f} s")
        lines += [f"    {f}" for f in r["files"]]
    return "\n".join(lines)

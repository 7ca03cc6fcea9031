"""``aimc device fit`` and ``aimc device sample``: a user's device from measurements (called by :mod:`aimc.cli`).

``aimc device fit MEASUREMENTS.csv --name NAME --out NAME.json`` fits sigma(g) to repeated programming
measurements (:mod:`aimc.device_fit`: the file forms, the estimates, the laws and their quality) and writes a
device file; ``--devices NAME.json --set device.programming.model=NAME`` then puts the fitted law into any
command that takes a scheme (``estimate``, ``simulate``, ``accuracy``, ...), stated in full in its scheme
(:func:`aimc.devices.expand_device_names`). ``aimc device sample LAW`` writes measurements drawn from a
published law, to try the fit on data whose law is known.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from ._fields import ConfigError
from .results import DEFAULT_RESULTS_DIR, atomic_file

__all__ = ["add_device_arguments", "format_device", "run_device"]

_DEVICES_DIR = f"{DEFAULT_RESULTS_DIR}/devices"


def _add_fit_arguments(fit: argparse.ArgumentParser) -> None:
    fit.add_argument("measurements", metavar="MEASUREMENTS.csv",
                     help="target,measured (long), target,m1,m2,... (wide) or g,sigma[,n] (sigma table)")
    fit.add_argument("--name", default=None, help="device name (default: the file's stem)")
    fit.add_argument("--out", default=None, metavar="FILE.json",
                     help=f"device file to write (default {_DEVICES_DIR}/NAME.json)")
    fit.add_argument("--law", default="polynomial", choices=("polynomial", "table"),
                     help="the law saved: a low-order polynomial (default) or the measured table")
    fit.add_argument("--order", type=int, default=None,
                     help="polynomial order (default: the one of 0..4 with the smallest AICc, the chi-square "
                     "plus a price per coefficient)")
    fit.add_argument("--gmax", type=float, default=None, metavar="VALUE",
                     help="Gmax in the data's unit (physical data); without it the data are normalised to Gmax")
    fit.add_argument("--gmin", type=float, default=None, metavar="VALUE",
                     help="Gmin in the data's unit, for On/Off = Gmax/Gmin (default: the smallest target; "
                     "0: infinite On/Off)")
    fit.add_argument("--json", action="store_true", help="print the fit report as JSON")


def _add_sample_arguments(sample: argparse.ArgumentParser) -> None:
    from .devices import DEVICE_LAWS

    sample.add_argument("law", metavar="LAW", help=f"a published law: {', '.join(DEVICE_LAWS)}")
    sample.add_argument("--targets", type=int, default=20, help="target conductances, evenly spaced (default 20)")
    sample.add_argument("--repeats", type=int, default=200, help="programmings per target (default 200)")
    sample.add_argument("--lowest", type=float, default=0.05, help="lowest target, units of Gmax (default 0.05)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--normalised", action="store_true", help="write g/Gmax instead of the law's unit")
    sample.add_argument("--out", default=None, metavar="FILE.csv",
                        help=f"CSV to write (default {_DEVICES_DIR}/LAW-measurements.csv)")
    sample.add_argument("--json", action="store_true", help="print what was written as JSON")


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{fit,sample}")
    _add_fit_arguments(actions.add_parser(
        "fit", help="fit sigma(g) to measurements and save it as a named device",
        description="Fit a device law sigma(g) to measurements of repeated programming (table and polynomial, "
        "with the fit's quality) and save it as a named device file for --devices."))
    _add_sample_arguments(actions.add_parser(
        "sample", help="write measurements drawn from a published law",
        description="Program a published law's device repeatedly at evenly spaced targets (g' = g + sigma(g) z, "
        "unclipped) and write the measurements in long form, to try aimc device fit on a known law."))


def _run_fit(args: argparse.Namespace) -> dict:
    from .device_fit import fit_device, read_measurements
    from .devices import check_device_name
    from .scheme import ERROR_MODELS

    name = args.name if args.name is not None else Path(args.measurements).stem
    check_device_name(name, "--name", ERROR_MODELS)
    if args.order is not None and args.law != "polynomial":
        raise ConfigError("--order", "applies to --law polynomial only")
    measurements = read_measurements(args.measurements, args.gmax, args.gmin)
    device, report = fit_device(measurements, name, args.law, args.order)
    out = Path(args.out if args.out is not None else f"{_DEVICES_DIR}/{name}.json")
    with atomic_file(out) as handle:
        json.dump(device.to_dict(), handle, indent=2)
        handle.write("\n")
    return {"action": "fit", "name": name, "out": str(out), **report,
            "use": f"aimc estimate --devices {out} --set device.programming.model={name}"}


def _run_sample(args: argparse.Namespace) -> dict:
    from .device_fit import sample_measurements

    rows, unit, gmax = sample_measurements(args.law, args.targets, args.repeats, args.seed, args.lowest,
                                           args.normalised)
    out = Path(args.out if args.out is not None else f"{_DEVICES_DIR}/{args.law}-measurements.csv")
    with atomic_file(out, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    gmax_flag = "" if args.normalised else f" --gmax {gmax:g}"
    return {"action": "sample", "law": args.law, "out": str(out), "targets": args.targets,
            "repeats": args.repeats, "seed": args.seed, "unit": unit, "gmax": gmax,
            "fit": f"aimc device fit {out}{gmax_flag}"}


def run_device(args: argparse.Namespace) -> dict:
    """Fit a device from measurements, or write measurements of a known law."""
    return _run_fit(args) if args.action == "fit" else _run_sample(args)


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _fixed(value: float | None) -> str:
    """Four decimals, without a sign on a rounded zero (an R^2 of -2e-16 is 0.0000)."""
    return "-" if value is None or math.isnan(value) else f"{round(value, 4) + 0.0:.4f}"


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}..{high}"


def _fit_lines(r: dict) -> list[str]:
    units = "normalised to Gmax" if r["gmax"] is None else f"data units, Gmax = {r['gmax']:g}"
    repeats = ("a sigma table without n (no sampling errors)" if r["repeats_min"] is None else
               f"{_span(r['repeats_min'], r['repeats_max'])} repeats per target, each sigma to "
               f"{100 * r['relative_standard_error']:.1f} % (1/sqrt(2(n-1)), Gaussian errors)")
    lines = [(f"device {r['name']}: {r['law']} sigma(g) fitted to {r['targets']} targets of {r['source']} "
              f"({r['form']} form)"),
             (f"  data          {repeats}; targets {r['target_range'][0]:.4g}..{r['target_range'][1]:.4g} Gmax "
              f"({units})"),
             f"  On/Off        {_number(float(r['on_off']), 4)} (g_min = {r['g_min']:.4g}, from {r['on_off_from']})",
             f"  polynomial    order chosen: {r['polynomial']['order_chosen_by']}",
             f"    {'order':>7} {'chi2/dof':>9} {'p':>7} {'R^2':>8} {'max|res|/se':>12} {'rms res':>9}"]
    for row in r["polynomial"]["orders"]:
        mark = "*" if row["order"] == r["polynomial"]["order"] else " "
        negative = "" if row["nonnegative"] else "  (negative sigma on [g_min, 1])"
        lines.append(f"    {mark}{row['order']:>6} {_number(row['chi2_per_dof']):>9} {_number(row['p_value'], 2):>7} "
                     f"{_fixed(row['r_squared']):>8} {_number(row['max_standardised_residual']):>12} "
                     f"{_number(row['rms_residual']):>9}{negative}")
    return lines


def format_device(result: dict) -> str:
    """The fit's quality and how to use the device, or what was sampled."""
    if result["action"] == "sample":
        return (f"wrote {result['out']}: {result['targets']} targets x {result['repeats']} repeats of "
                f"{result['law']} (seed {result['seed']}, unit {result['unit']})\n  fit it: {result['fit']}")
    table, offset = result["table"], result["largest_mean_offset"]
    lines = _fit_lines(result)
    lines.append(f"  table         {table['points']} points over [0, 1], held constant outside the targets; "
                 f"leave-one-out interpolation chi2/dof {_number(table['loo_chi2_per_dof'])} "
                 f"(p {_number(table['loo_p_value'], 2)})")
    for low, high in result["extrapolated"]:
        lines.append(f"  no data       on [{low:.4g}, {high:.4g}] Gmax: the table holds its end value there, the "
                     "polynomial is extrapolated")
    start = result["polynomial"]["nonnegative_from"]
    if result["law"] == "polynomial" and start > 0:
        lines.append(f"  sigma >= 0    from g = {start:.4g} only: a scheme with a lower g_min (On/Off above "
                     f"{1 / start:.4g}) refuses this polynomial; --law table holds at every g")
    if offset is not None:
        lines.append(f"  mean offset   largest |mean - target| {abs(offset['offset']):.3g} Gmax at g = "
                     f"{offset['target']:.3g}: {offset['standard_errors']:.1f} standard errors, p = "
                     f"{offset['p_value']:.2g} for the largest of {result['targets']} (a programming bias is "
                     "not modelled)")
    lines += [f"  saved         {result['out']} ({result['law']})", f"  use           {result['use']}"]
    return "\n".join(lines)

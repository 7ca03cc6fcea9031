"""``aimc search``: the cheapest schemes that keep a network above an accuracy, from the predictor.

The grid is every combination of the ``--vary PATH=V1,V2,...`` values applied to the base scheme (``--preset``,
``--config``, ``--set``, as for every command); a combination the vocabulary refuses (a slice count the
mapping cannot take, say) is listed with the field and the reason. Each valid scheme is predicted by
:mod:`.core` with the compounding of the model's one-time step (about a second each).

The cost of a scheme is stated as hardware quantities, not as one made-up number:

* ``conversions_per_mac``: ADC conversions per multiply-accumulate, weight slices x conversions per slice
  x input slices converted (digital accumulation converts each input slice) / rows (0 without an ADC);
* ``adc_bits``: the resolution of each conversion (0 without an ADC);
* ``cells_per_weight``: devices one weight occupies (per-weight arrays x weight slices; shared unit columns
  are one per column group and are left out).

A scheme is on the front when no other scheme that also meets ``--min-accuracy`` is at least as good on
accuracy and on the three costs, and strictly better on one. ``--verify K`` runs the device-level
simulation (``aimc accuracy``) on the K front schemes with the fewest conversions per MAC, so that the
prediction is checked where the decision is made.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aimc._fields import ConfigError
from aimc.cli_common import add_scheme_arguments, scheme_from_args
from aimc.inputs import conversion_significances
from aimc.mapping import SliceLayout
from aimc.scheme import Scheme

__all__ = ["Candidate", "add_search_arguments", "costs", "format_search", "grid", "pareto_front", "run_search"]


@dataclass
class Candidate:
    settings: dict[str, str]
    scheme: Scheme | None
    refused: str = ""
    accuracy: float | None = None
    spread: float | None = None
    cost: dict[str, float] = field(default_factory=dict)
    simulated: float | None = None

    @property
    def predicted(self) -> bool:
        return self.accuracy is not None

    def as_dict(self) -> dict:
        return {"settings": self.settings, "accuracy_predicted": self.accuracy, "accuracy_spread": self.spread,
                **self.cost, "accuracy_simulated": self.simulated, "refused": self.refused or None}


def parse_vary(items: list[str]) -> dict[str, list[str]]:
    """``["adc.bits=6,7,8"]`` as ``{"adc.bits": ["6", "7", "8"]}``; ValueError naming --vary otherwise."""
    out: dict[str, list[str]] = {}
    for item in items:
        path, sep, values = item.partition("=")
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not path.strip() or not choices:
            raise ValueError(f"--vary: expected PATH=V1,V2,..., e.g. adc.bits=6,7,8; got {item!r}")
        if path.strip() in out:
            raise ValueError(f"--vary: {path.strip()} given twice")
        out[path.strip()] = choices
    if not out:
        raise ValueError("--vary: give at least one PATH=V1,V2,... to search over")
    return out


def grid(base: Scheme, vary: dict[str, list[str]]) -> list[Candidate]:
    """Every combination of the varied values on ``base``; the refused ones keep the vocabulary's reason."""
    out = []
    for values in itertools.product(*vary.values()):
        settings = dict(zip(vary, values, strict=True))
        try:
            out.append(Candidate(settings, base.with_overrides(settings)))
        except (ConfigError, ValueError) as refusal:
            out.append(Candidate(settings, None, refused=str(refusal)))
    return out


def costs(scheme: Scheme) -> dict[str, float]:
    """The hardware cost quantities of the module doc."""
    layout = SliceLayout.from_scheme(scheme)
    converted = len(conversion_significances(scheme.inputs, False))
    conversions = layout.slices * len(layout.conversions) * converted / scheme.array.rows if scheme.adc.bits else 0.0
    return {"conversions_per_mac": conversions, "adc_bits": float(scheme.adc.bits),
            "cells_per_weight": float(layout.cells_per_weight)}


def _objectives(c: Candidate) -> tuple[float, ...]:
    return (-c.accuracy, c.cost["conversions_per_mac"], c.cost["adc_bits"], c.cost["cells_per_weight"])


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates no other one dominates (module doc), by increasing conversions per MAC then accuracy."""
    scored = [c for c in candidates if c.predicted]
    front = []
    for c in scored:
        mine = _objectives(c)
        if not any(all(o <= m for o, m in zip(_objectives(d), mine, strict=True)) and _objectives(d) != mine
                   for d in scored):
            front.append(c)
    return sorted(front, key=lambda c: (c.cost["conversions_per_mac"], c.cost["adc_bits"], -c.accuracy))


def evaluate(candidates: list[Candidate], predict: Callable[[Scheme], tuple[float, float]], bar=None) -> None:
    """Predict every valid candidate in place (``predict``: scheme -> (accuracy, spread)); a scheme the
    predictor refuses keeps its reason."""
    for c in candidates:
        if c.scheme is not None:
            c.cost = costs(c.scheme)
            try:
                c.accuracy, c.spread = predict(c.scheme)
            except ValueError as refusal:
                c.refused = f"not predicted: {refusal}"
        if bar is not None:
            bar.update(1)


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    from .cli import add_network_arguments

    add_scheme_arguments(parser)
    parser.add_argument("--vary", action="append", default=[], metavar="PATH=V1,V2,...",
                        help="a field and the values to try (repeatable; the grid is every combination)")
    parser.add_argument("--min-accuracy", type=float, required=True,
                        help="the top-1 (a fraction, e.g. 0.60) a scheme must be predicted to keep")
    parser.add_argument("--verify", type=int, default=0, metavar="K",
                        help="simulate the K front schemes with the fewest conversions per MAC (default 0)")
    parser.add_argument("--chips", type=int, default=3, help="chips per verified scheme (default 3)")
    add_network_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _check(args: argparse.Namespace) -> dict[str, list[str]]:
    from .cli import check_network

    if not 0.0 < args.min_accuracy < 1.0:
        raise ValueError(f"--min-accuracy: a fraction in (0, 1), e.g. 0.60; got {args.min_accuracy}")
    if args.verify < 0 or args.chips < 1:
        raise ValueError(f"--verify: must be >= 0 and --chips >= 1; got {args.verify} and {args.chips}")
    check_network(args)
    return parse_vary(args.vary)


def run_search(args: argparse.Namespace) -> dict:
    """``aimc search`` (module doc); ValueError on bad input, before any work."""
    from tqdm import tqdm

    from .accuracy_model import predict_from_errors
    from .cli import load_profile
    from .core import layer_errors

    vary = _check(args)
    base, name = scheme_from_args(args)
    candidates = grid(base, vary)
    net, profile, compounding, cached, _ = load_profile(args, base)
    start = time.perf_counter()

    def predict(scheme: Scheme) -> tuple[float, float]:
        p = predict_from_errors(profile, layer_errors(profile, scheme), compounding)
        return p.accuracy, p.spread

    with tqdm(total=len(candidates), desc="predicting", unit="scheme", disable=args.no_progress) as bar:
        evaluate(candidates, predict, bar)
    seconds = time.perf_counter() - start
    meeting = [c for c in candidates if c.predicted and c.accuracy >= args.min_accuracy]
    front = pareto_front(meeting)
    if args.verify:
        _verify(args, net, front[: args.verify])
    return {"model": args.model, "base": name, "min_accuracy": args.min_accuracy, "images": profile.images,
            "baseline_quantized": profile.digital_accuracy, "schemes": len(candidates),
            "meeting": len(meeting), "front": [c.as_dict() for c in front],
            "refused": [c.as_dict() for c in candidates if c.refused],
            "seconds": round(seconds, 2), "one_time_step_cached": cached}


def _verify(args: argparse.Namespace, net, chosen: list[Candidate]) -> None:
    from ..accuracy import accuracy_for_scheme

    for c in chosen:
        result = accuracy_for_scheme(net, c.scheme, chips=args.chips, seed=args.seed, progress=not args.no_progress,
                                     with_baselines=False)
        c.simulated = result["accuracy_mean"]


def format_search(result: dict) -> str:
    pct = 100.0
    settings = [", ".join(f"{k}={v}" for k, v in c["settings"].items()) for c in result["front"]]
    width = max((len(s) for s in settings), default=5)
    lines = [(f"{result['model']}, {result['schemes']} schemes around {result['base']}: {result['meeting']} "
             f"predicted at or above {pct * result['min_accuracy']:.1f} % (digital quantised "
             f"{pct * result['baseline_quantized']:.2f} %, {result['images']} images, {result['seconds']:.1f} s)"),
             "  front (conversions per MAC = weight slices x conversions per slice x input slices converted / rows)",
             f"  {'':{width}s} {'predicted':>10s} {'conv/MAC':>9s} {'ADC bits':>8s} {'cells/w':>7s} {'simulated':>9s}"]
    for c, setting in zip(result["front"], settings, strict=True):
        simulated = "" if c["accuracy_simulated"] is None else f"{pct * c['accuracy_simulated']:.2f} %"
        lines.append(f"  {setting:{width}s} {pct * c['accuracy_predicted']:8.2f} % {c['conversions_per_mac']:9.4f} "
                     f"{c['adc_bits']:8.0f} {c['cells_per_weight']:7.0f} {simulated:>9s}")
    for c in result["refused"]:
        setting = ", ".join(f"{k}={v}" for k, v in c["settings"].items())
        lines.append(f"  refused {setting}: {c['refused']}")
    return "\n".join(lines)

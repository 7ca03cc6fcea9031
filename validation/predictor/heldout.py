"""The predictor's held-out schemes: drawn once, at random across the vocabulary, never tuned on.

:func:`draw_heldout` draws ``HELDOUT_SIZE`` schemes with the fixed seed ``HELDOUT_SEED``: a registered
mapping with options and a weight slice count it accepts (8-bit weights), an input encoding (whole inputs
or 1-, 2- or 4-bit slices, accumulated in analog or digitally), an array size (72 to 1152 rows), an ADC
(none, or 4 to 10 bits with any registered range policy), and a device: ideal cells, state-independent or
state-proportional programming error (alpha log-uniform over the paper's ranges, On/Off infinite, 1000 or
100, any clipping rule) or one of the published device fits as published; then, independently, read noise
(30 %), drift with or without compensation (20 %) and stuck cells (20 %). Wire resistance is not drawn (the
Monte Carlo solves its circuit exactly and the predictor's first-order model holds only for small r).

A draw whose device-level simulation (2,000 images, 5 chips, or one chip for deterministic devices) would
take more than ``MAX_COST`` seconds on one GPU (:func:`estimated_cost`, from the conversions it makes:
weight slices x conversions per slice x input slices converted) is drawn again: the set leans away from
the most expensive schemes, sliced weights with an ADC and several chips above all (stated with the
results); those are validated on the committed sweeps instead.
"""

from __future__ import annotations

import math

import numpy as np

from aimc.adc_ranges import RANGE_POLICIES
from aimc.devices import DEVICE_LAWS
from aimc.inputs import conversion_significances
from aimc.mapping import SliceLayout
from aimc.mappings import MAPPINGS
from aimc.scheme import Scheme

__all__ = ["HELDOUT_SEED", "HELDOUT_SIZE", "MAX_COST", "draw_heldout", "estimated_cost"]

HELDOUT_SEED = 20261203
HELDOUT_SIZE = 30
MAX_COST = 90.0
"""Estimated seconds of device-level simulation above which a draw is redrawn (module doc)."""
IMAGES, CHIPS = 2000, 5
_LAWS = sorted(name for name in DEVICE_LAWS if not name.endswith("-read"))


def estimated_cost(scheme: Scheme) -> float:
    """Rough seconds of the held-out simulation on one H200, from the committed runs' timings: 10 s of
    calibration and set-up, then per image and chip 0.25 ms without an ADC, or 2.5 ms per converted pass
    (weight slices x conversions x input slices converted) with one; read noise triples the cost."""
    layout = SliceLayout.from_scheme(scheme)
    chips = CHIPS if scheme.device.random else 1
    if scheme.adc.bits == 0:
        per_image = 0.25
    else:
        per_image = 2.5 * layout.slices * len(layout.conversions) * len(
            conversion_significances(scheme.inputs, False))
    if scheme.device.read_noise.active:
        per_image *= 3
    return 10.0 + IMAGES * chips * per_image / 1000


def _mapping(rng: np.random.Generator) -> dict:
    kind = str(rng.choice(list(MAPPINGS)))
    options = []
    for offset in ("digital", "unit_column"):
        for subtraction in ("analog", "digital"):
            for slices in range(1, 9):
                over = {"mapping.kind": kind, "mapping.offset": offset, "mapping.subtraction": subtraction,
                        "weights.slices": slices}
                if Scheme().accepts(over):
                    options.append(over)
    return options[int(rng.integers(len(options)))]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _device(rng: np.random.Generator) -> dict:
    kind = str(rng.choice(["ideal", "state_independent", "state_proportional", "published"]))
    if kind == "ideal":
        return {"device.programming.model": "none", "device.programming.alpha": 0.0}
    if kind == "published":
        name = str(rng.choice(_LAWS))
        law = DEVICE_LAWS[name]
        out = {"device.programming.model": name, "device.programming.alpha": 1.0,
               "device.on_off": "inf" if math.isinf(law.on_off) else law.on_off}
        if law.read_noise:
            out.update({"device.read_noise.model": law.read_noise, "device.read_noise.alpha": 1.0})
        return out
    low, high = (0.0025, 0.03) if kind == "state_independent" else (0.02, 0.3)
    return {"device.programming.model": kind, "device.programming.alpha": _log_uniform(rng, low, high),
            "device.on_off": str(rng.choice(["inf", "1000", "100"])),
            "device.clip": str(rng.choice(["range", "zero", "none"]))}


def _extras(rng: np.random.Generator, device: dict) -> dict:
    out = {}
    if rng.uniform() < 0.3 and "device.read_noise.model" not in device:
        out.update({"device.read_noise.model": "state_independent",
                    "device.read_noise.alpha": _log_uniform(rng, 0.001, 0.01)})
    if rng.uniform() < 0.2:
        out.update({"device.drift.time": float(rng.choice([3600.0, 86400.0])), "device.drift.t0": 20.0,
                    "device.drift.nu_mean": float(rng.uniform(0.02, 0.1)), "device.drift.nu_std": 0.02,
                    "device.drift.compensation": str(rng.choice(["none", "global"]))})
    if rng.uniform() < 0.2:
        out.update({"device.stuck.p_off": float(rng.uniform(0, 0.01)), "device.stuck.p_on": float(rng.uniform(0, 0.005))})
    return out


def _draw(rng: np.random.Generator) -> dict:
    over = _mapping(rng)
    over.update({"inputs.slice_bits": int(rng.choice([0, 1, 2, 4])),
                 "inputs.accumulation": str(rng.choice(["analog", "digital"])),
                 "array.rows": int(rng.choice([72, 144, 288, 576, 1152]))})
    bits = int(rng.choice([0, 4, 5, 6, 7, 8, 9, 10]))
    over.update({"adc.bits": bits, "adc.range": str(rng.choice(list(RANGE_POLICIES)))})
    device = _device(rng)
    return {**over, **device, **_extras(rng, device)}


def draw_heldout(count: int = HELDOUT_SIZE, seed: int = HELDOUT_SEED) -> list[tuple[str, dict]]:
    """``count`` (label, overrides on Scheme()) pairs (module doc); the same list on every machine."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, dict]] = []
    while len(out) < count:
        over = _draw(rng)
        if not Scheme().accepts(over) or estimated_cost(Scheme().with_overrides(over)) > MAX_COST:
            continue
        out.append((f"heldout-{len(out):02d}", over))
    return out


DEVELOPMENT = (
    ("design-a read noise 0.5%", {"device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.005},
     "design-a"),
    ("design-a read noise 2%", {"device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.02},
     "design-a"),
    ("sonos-2022", {}, "sonos-2022"),
    ("sp 10% drift 1 day", {"adc.bits": 0, "device.programming.model": "state_proportional",
                            "device.programming.alpha": 0.1, "device.drift.time": 86400.0,
                            "device.drift.nu_mean": 0.06, "device.drift.nu_std": 0.02}, None),
    ("sp 10% drift 1 day compensated", {"adc.bits": 0, "device.programming.model": "state_proportional",
                                        "device.programming.alpha": 0.1, "device.drift.time": 86400.0,
                                        "device.drift.nu_mean": 0.06, "device.drift.nu_std": 0.02,
                                        "device.drift.compensation": "global"}, None),
    ("si 1% stuck", {"adc.bits": 0, "device.programming.model": "state_independent",
                     "device.programming.alpha": 0.01, "device.stuck.p_off": 0.005, "device.stuck.p_on": 0.002}, None),
    ("offset unit column si 1%", {"adc.bits": 0, "mapping.kind": "offset", "mapping.offset": "unit_column",
                                  "device.programming.model": "state_independent",
                                  "device.programming.alpha": 0.01}, None),
    ("twos complement si 1%", {"adc.bits": 0, "mapping.kind": "twos_complement", "weights.slices": 8,
                               "device.programming.model": "state_independent", "device.programming.alpha": 0.01},
     None),
)
"""Development points beside the committed sweeps: read noise, drift, stuck cells, a unit column and a
complement mapping, which the sweeps do not exercise (the predictor may be tuned on these; the held-out set
it is never tuned on)."""


def predictor_experiments():
    """The held-out set and the development points as experiments of :mod:`aimc.validation.experiments`."""
    from ..experiments import Experiment, Point  # here: experiments lists these among its own

    heldout = Experiment("predictor-heldout", f"{HELDOUT_SIZE} schemes drawn at random across the vocabulary "
                         f"(seed {HELDOUT_SEED}), the accuracy predictor's held-out set",
                         tuple(Point(label, over) for label, over in draw_heldout()))
    development = Experiment("predictor-development", "read noise, drift, stuck cells, a unit column and a "
                             "complement mapping: the accuracy predictor's development points",
                             tuple(Point(label, over, preset=preset) for label, over, preset in DEVELOPMENT))
    return [heldout, development]

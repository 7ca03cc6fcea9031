"""Ideal devices reproduce the digital product exactly through every path of the signal chain."""

from __future__ import annotations

import itertools

import pytest
import torch
from aimc.montecarlo import engine
from aimc.montecarlo.engine import simulate_mvm

MAPPINGS = [
    {"mapping__kind": "differential"},
    {"mapping__kind": "differential", "mapping__subtraction": "digital"},
    {"mapping__kind": "differential_two_sided"},
    {"mapping__kind": "differential_two_sided", "mapping__subtraction": "digital"},
    {"mapping__kind": "offset"},
    {"mapping__kind": "offset", "mapping__offset": "unit_column"},
]
# (bits, slices): unsliced, evenly sliced, and a top slice that is under-used
SLICINGS = {"differential": [(8, 1), (9, 4), (8, 3)], "offset": [(8, 1), (8, 4), (7, 3)],
            "differential_two_sided": [(8, 1)]}
INPUTS = [{"inputs__slice_bits": 0}, {"inputs__slice_bits": 1, "inputs__accumulation": "analog"},
          {"inputs__slice_bits": 1, "inputs__accumulation": "digital"},
          {"inputs__slice_bits": 3, "inputs__accumulation": "digital"}]


def _cases():
    for mapping, inputs, signed in itertools.product(MAPPINGS, INPUTS, (False, True)):
        for bits, slices in SLICINGS[mapping["mapping__kind"]]:
            yield {**mapping, "weights__bits": bits, "weights__slices": slices, **inputs}, signed


CASES = list(_cases())


def _ids(case):
    overrides, signed = case
    return "-".join(f"{v}" for v in overrides.values()) + ("-signed" if signed else "")


def _check_exact(out: torch.Tensor, ref: torch.Tensor, rel: float) -> None:
    """The integer product after rounding, and float rounding only (``rel`` of the largest output)."""
    assert torch.equal(out.round(), ref.expand_as(out)), float((out - ref).abs().max())
    assert float((out - ref).abs().max()) <= rel * float(ref.abs().max())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_ideal_no_adc_exact(mc, case):
    """No ADC, finite On/Off (g_min pedestal): integer product through partitions and every mapping."""
    overrides, signed = case
    s = mc.scheme(**overrides, array__rows=7, array__columns=5, adc__bits=0, device__on_off=20.0, inputs__bits=6)
    q = mc.quantized(11, 17, 5, weight_bits=s.weights.bits, input_bits=6, signed=signed, seed=len(str(case)))
    r = simulate_mvm(q, s, chips=2, seed=1, dtype=torch.float64)
    _check_exact(r.outputs, r.reference, 1e-12)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_ideal_granular_adc_exact(mc, case):
    """A granular ADC with enough bits and infinite On/Off: exact in float32 (the default dtype)."""
    overrides, signed = case
    s = mc.scheme(**overrides, array__rows=7, array__columns=5, adc__bits=20, adc__range="granular", inputs__bits=6)
    q = mc.quantized(11, 17, 5, weight_bits=s.weights.bits, input_bits=6, signed=signed, seed=len(str(case)) + 1)
    r = simulate_mvm(q, s, chips=1, seed=1)
    _check_exact(r.outputs, r.reference, 1e-6)


@pytest.mark.parametrize("kind", ["differential", "offset"])
def test_ideal_exact_without_fast_paths(mc, monkeypatch, kind):
    """The bit-serial analog-accumulation path and the two-array differential read are exact too."""
    monkeypatch.setattr(engine.CurrentModel, "linear", property(lambda self: False))
    s = mc.scheme(mapping__kind=kind, array__rows=6, adc__bits=0, device__on_off=10.0, inputs__slice_bits=1)
    q = mc.quantized(9, 13, 4)
    r = simulate_mvm(q, s, chips=1, seed=0, dtype=torch.float64)
    _check_exact(r.outputs, r.reference, 1e-12)


def test_structural_max_range_never_clips(mc):
    """The max range holds the largest signal: full-scale inputs err by at most half an LSB per conversion."""
    s = mc.scheme(adc__range="max", adc__bits=12, array__rows=8, inputs__slice_bits=1,
                  inputs__accumulation="digital", weights__bits=4, mapping__kind="offset")
    q = mc.quantized(6, 8, 6, weight_bits=4, full_inputs=True)
    q.w_int[:3] = 7  # columns at the largest conductance: the largest possible signal
    r = simulate_mvm(q, s, chips=1, seed=0, dtype=torch.float64)
    lsb = 8 / 4095  # range [0, rows x g_max] with 2^12 - 1 steps
    bound = 0.5 * lsb * 14 * 255  # x L = 2M = 14 digits per unit current, x sum_t 2^t over 8 input bits
    assert float((r.outputs - r.reference).abs().max()) <= bound + 1e-9

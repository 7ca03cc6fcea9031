"""Wire resistance and offset subtraction: the closed form and the exact circuit solves agree that a
digitally subtracted offset fails at r = 1e-5 with 144 rows, where differential cells barely notice, and
that an analog unit column (whose bit line drops in step) recovers most of it. The numbers quoted in
validation/results/README.md ("Wire resistance") for the network-level collapse of offset."""

from __future__ import annotations

import pytest
import torch
from aimc.montecarlo.engine import simulate_mvm
from aimc.theory.budget import error_budget

from aimc.layers import quantize_layer, synthetic_layer
from aimc.scheme import Scheme

BASE = {
    "array.rows": 144,
    "parasitics.r": 1e-5,
    "parasitics.topology": "gate_bitline",
    "inputs.accumulation": "analog",
    "inputs.slice_bits": 1,
    "device.programming.model": "none",
    "device.programming.alpha": 0.0,
}
MAPPINGS = {
    "differential": {"mapping.kind": "differential"},
    "offset-digital": {"mapping.kind": "offset", "mapping.offset": "digital"},
    "offset-unit-column": {"mapping.kind": "offset", "mapping.offset": "unit_column"},
}


def _both(mapping: str) -> tuple[dict, dict]:
    scheme = Scheme().with_overrides({**BASE, **MAPPINGS[mapping]})
    layer = quantize_layer(synthetic_layer(), scheme)
    theory = error_budget(layer, scheme).summary()
    mc = simulate_mvm(layer, scheme, chips=1, seed=0, device="cpu", dtype=torch.float64).summary()
    return theory, mc


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[dict, dict]]:
    return {name: _both(name) for name in MAPPINGS}


@pytest.mark.parametrize("mapping", list(MAPPINGS))
def test_closed_form_matches_the_exact_solve(results, mapping):
    theory, mc = results[mapping]
    # ideal devices: the Monte Carlo is deterministic, so this is a plain tolerance (first-order theory)
    assert theory["relative_rms"] == pytest.approx(mc["relative_rms"], rel=0.05)


def test_digital_offset_collapses_and_it_is_bias(results):
    theory, mc = results["offset-digital"]
    differential = results["differential"][1]["relative_rms"]
    assert mc["relative_rms"] > 1.0 and differential < 0.02
    assert mc["relative_rms"] > 50 * differential
    assert abs(mc["bias"]) > 0.95 * mc["relative_rms"]  # the IR drop of the common current: a shift
    assert theory["bias"] < 0 and mc["bias"] < 0  # currents only ever drop


def test_unit_column_recovers_most_of_it(results):
    unit = results["offset-unit-column"][1]["relative_rms"]
    digital = results["offset-digital"][1]["relative_rms"]
    assert unit < 0.12 and unit < digital / 10

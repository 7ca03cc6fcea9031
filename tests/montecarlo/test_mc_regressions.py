"""Regressions found by the MVM validation sweep."""

from aimc.montecarlo.engine import simulate_mvm

from aimc import Scheme
from aimc.layers import quantize_layer, synthetic_layer


def test_calibrated_adc_with_gate_bitline_parasitics_profiles_bit_serially():
    # Profiling used to rewrite the scheme to whole inputs, which gate-driven arrays refuse.
    scheme = Scheme().with_overrides({"parasitics.r": "1e-6", "array.rows": "64", "adc.range": "calibrated"})
    layer = synthetic_layer()
    small = type(layer)(layer.weights[:8, :64], layer.inputs[:4, :64], "small")
    result = simulate_mvm(quantize_layer(small, scheme), scheme, chips=1, seed=0)
    assert result.ranges is not None and len(result.ranges) == 1
    assert result.summary()["relative_rms"] > 0  # wire resistance lowers the currents: a real error

"""A property test over the documented field ranges: for device settings drawn anywhere inside their ranges, the
closed form and the Monte Carlo are finite, the closed form is not zero where the Monte Carlo measures an error,
and the two agree to within the spread a few chips of a small layer allow (without wire resistance, whose
first-order model has a documented range of validity)."""

from __future__ import annotations

import math

import numpy as np
import torch
from aimc.montecarlo.engine import simulate_mvm
from aimc.theory import error_budget
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimc._fields import ConfigError
from aimc.devices import DEVICE_LAWS
from aimc.layers import Layer, quantize_layer
from aimc.scheme import Scheme, _meta_for

DEVICE_PATHS = [p for p in Scheme.paths() if p.startswith(("device.", "parasitics.", "adc.", "array.rows"))
                and not p.endswith(("coefficients", "table_g", "table_sigma"))]
AGREEMENT = 3.0
"""|log(theory / Monte Carlo)| <= log 3: 4 chips of a 12 x 48 layer estimate the error to about +-30 %; a
formula that is off by orders of magnitude (an overflow, a lost term, a 0) fails it."""


def _value(path: str) -> st.SearchStrategy:
    meta = _meta_for(path)
    if meta.get("choices") is not None:
        return st.sampled_from(list(meta["choices"]))
    low, high = meta["minimum"], meta["maximum"]
    if meta["kind"] is int:
        return st.integers(int(low), int(min(high, low + 24)))
    if meta["kind"] is bool:
        return st.booleans()
    if high is None:  # on_off: > 1, any size, or infinite
        return st.one_of(st.just(math.inf), st.floats(1.0, 1e9, exclude_min=True))
    return st.floats(low, high, exclude_min=bool(meta.get("exclusive_minimum")))


SETTINGS = st.lists(st.sampled_from(DEVICE_PATHS).flatmap(lambda p: st.tuples(st.just(p), _value(p))),
                    min_size=1, max_size=6).map(dict)
ERRORS = st.sampled_from(["state_independent", "state_proportional", *sorted(DEVICE_LAWS)])


def _layer() -> Layer:
    rng = np.random.default_rng(2)
    return Layer(torch.from_numpy(rng.laplace(0, 0.02, (12, 48))),
                 torch.from_numpy(np.maximum(rng.standard_normal((4, 48)), 0)), "small")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settings_=SETTINGS, model=ERRORS, alpha=st.floats(1e-4, 10.0))
def test_inside_the_ranges_theory_and_monte_carlo_are_finite_and_agree(settings_, model, alpha):
    overrides = {"device.programming.model": model, "device.programming.alpha": alpha, "array.rows": 24, **settings_}
    try:
        scheme = Scheme().with_overrides(overrides)
    except ConfigError:  # a rule across fields (slices that do not fit, drift time below t0, ...)
        return
    quantized = quantize_layer(_layer(), scheme)
    try:
        theory = error_budget(quantized, scheme).relative_rms
    except ValueError as e:  # a rule across fields that only the ADC ranges check (a 1-bit signed range)
        assert str(e).split(":")[0] in Scheme.paths(), e
        return
    simulated = simulate_mvm(quantized, scheme, chips=4, seed=1, dtype=torch.float64).summary()["relative_rms"]
    assert math.isfinite(theory) and math.isfinite(simulated), (theory, simulated)
    if simulated > 1e-9:
        assert theory > 0, (theory, simulated)
    if scheme.parasitics.r == 0 and simulated > 1e-6:
        assert abs(math.log(theory / simulated)) <= math.log(AGREEMENT), (theory, simulated, overrides)

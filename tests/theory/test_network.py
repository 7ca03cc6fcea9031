"""The cached-statistics fast path agrees with the layer budget in statistics form."""

import numpy as np
import pytest
import torch
from aimc.theory import InputStatistics, error_budget
from aimc.theory.network import LayerStatistics, network_budget

from aimc import Scheme


@pytest.mark.parametrize("kind", ["differential", "offset"])
def test_network_budget_matches_statistics_budget(kind):
    rng = np.random.default_rng(3)
    w = torch.from_numpy(np.clip(np.round(rng.laplace(0, 15, (16, 90))), -127, 127).astype(np.int64))
    x2, mean = rng.gamma(2, 900, 90), rng.uniform(5, 30, 90)
    act = rng.uniform(0.1, 0.5, (8, 90))
    s = Scheme().with_overrides({"mapping.kind": kind, "device.on_off": "30", "weights.slices": "1",
                                 "device.programming.model": "state_proportional",
                                 "device.programming.alpha": "0.04", "device.read_noise.model": "state_independent",
                                 "device.read_noise.alpha": "0.01", "adc.range": "max", "adc.bits": "8"})
    stats = InputStatistics(x2, mean, act)
    full = error_budget((w, stats), s)
    fast = network_budget([LayerStatistics.build(w, x2, s, mean=mean, slice_second_moment=act)], s)[0]
    mse_full = float(np.mean(full.total_bias**2 + full.total_variance))
    mse_fast = fast["relative_rms"] ** 2 * full.reference_ms
    assert mse_fast == pytest.approx(mse_full, rel=0.05)

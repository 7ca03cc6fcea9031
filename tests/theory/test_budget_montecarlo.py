"""The full budget against a small independent Monte Carlo sampler built on the shared signal path.

The sampler draws every device (programming error, clipping, drift, stuck cells, fresh read noise per
input slice) and runs :func:`aimc.pipeline.analog_mvm`; it never uses a theory formula.
"""

import math

import numpy as np
import pytest
import torch
from aimc.theory import error_budget

from aimc import Scheme
from aimc.devices import TORCH
from aimc.metrics import error_summary
from aimc.pipeline import analog_mvm, program_ideal

CHIPS = 300


def _layer(n=24, k=160, b=6, bits=8, seed=0):
    rng = np.random.default_rng(seed)
    m = (1 << (bits - 1)) - 1
    w = np.clip(np.round(rng.laplace(0, m / 5, size=(n, k))), -m, m).astype(np.int64)
    x = np.clip(np.round(np.maximum(rng.standard_normal((b, k)), 0) * 80), 0, 255).astype(np.int64)
    return torch.from_numpy(w), torch.from_numpy(x)


def _frozen(g, scheme, gen):
    d = scheme.device
    sigma = d.programming.sigma(g, d.g_min, TORCH)
    g = g + sigma * torch.randn(g.shape, generator=gen, dtype=g.dtype)
    if d.clip == "zero":
        g = g.clamp(min=0.0)
    elif d.clip == "range":
        g = g.clamp(d.g_min, 1.0)
    if d.drift.active:
        nu = d.drift.nu_mean + d.drift.nu_std * torch.randn(g.shape, generator=gen, dtype=g.dtype)
        g = g * (d.drift.time / d.drift.t0) ** (-nu)
    if d.stuck.active:
        u = torch.rand(g.shape, generator=gen, dtype=g.dtype)
        g = torch.where(u < d.stuck.p_off, torch.full_like(g, d.g_min), g)
        g = torch.where((u >= d.stuck.p_off) & (u < d.stuck.p_off + d.stuck.p_on), torch.ones_like(g), g)
    return g


def _simulate(w, x, scheme, ranges, seed=1):
    gen = torch.Generator().manual_seed(seed)
    ideal = program_ideal(w, scheme)
    programmed = ideal.map(lambda t: _frozen(t.expand(CHIPS, *t.shape[1:]).clone(), scheme, gen))
    d = scheme.device

    def currents(g, xs):
        out = torch.einsum("cnk,tbk->ctbn", g, xs)
        if d.read_noise.active:
            s = d.read_noise.sigma(g, d.g_min, TORCH)
            eps = torch.randn((g.shape[0], xs.shape[0], xs.shape[1], g.shape[1], g.shape[2]),
                              generator=gen, dtype=g.dtype)
            out = out + torch.einsum("ctbnk,cnk,tbk->ctbn", eps, s, xs)
        return out

    gain = 1.0
    if d.drift.active and d.drift.compensation == "global":
        dr = d.drift
        gain = 1 / math.exp(-dr.nu_mean * math.log(dr.time / dr.t0) + (dr.nu_std * math.log(dr.time / dr.t0)) ** 2 / 2)
    y = analog_mvm(x, programmed, scheme, signed_inputs=False, ranges=ranges, currents=currents, gain=gain)
    return error_summary(y, (x.double() @ w.double().T), confidence=0.99)


SCHEMES = {
    "differential-si-clipped-adc": {"device.on_off": "20", "device.programming.model": "state_independent",
                                    "device.programming.alpha": "0.03", "adc.bits": "7"},
    "offset-unit-column-read-digital": {"mapping.kind": "offset", "mapping.offset": "unit_column",
                                        "array.columns": "8", "array.rows": "64",
                                        "device.programming.model": "state_proportional",
                                        "device.programming.alpha": "0.05",
                                        "device.read_noise.model": "state_independent",
                                        "device.read_noise.alpha": "0.004", "inputs.accumulation": "digital",
                                        "inputs.slice_bits": "2", "adc.bits": "8", "adc.range": "max"},
    "sliced-granular-exact-regime": {"weights.slices": "7", "device.programming.model": "state_independent",
                                     "device.programming.alpha": "0.02", "inputs.accumulation": "digital",
                                     "adc.bits": "9", "adc.range": "granular", "device.clip": "none"},
    "sliced-granular-heavy-clipping": {"weights.slices": "7", "device.programming.model": "state_independent",
                                       "device.programming.alpha": "0.01", "adc.bits": "9",
                                       "adc.range": "granular"},
    "drift-stuck-pcm": {"device.on_off": "100", "device.programming.model": "pcm-joshi",
                        "device.programming.alpha": "1", "device.drift.time": "3600",
                        "device.drift.nu_mean": "0.05", "device.drift.nu_std": "0.02",
                        "device.drift.compensation": "global", "device.stuck.p_off": "0.01",
                        "device.stuck.p_on": "0.002", "adc.bits": "0"},
}


@pytest.mark.parametrize("name", list(SCHEMES))
def test_budget_matches_monte_carlo(name):
    w, x = _layer()
    scheme = Scheme().with_overrides(SCHEMES[name])
    budget = error_budget((w, x), scheme)
    mc = _simulate(w, x, scheme, budget.ranges)
    lo, hi = mc["relative_rms_ci"]
    assert budget.relative_rms > 0
    assert lo / 1.03 <= budget.relative_rms <= hi * 1.03, (budget.relative_rms, mc)

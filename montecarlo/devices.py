"""Device errors sampled per simulated chip, from ``scheme.device`` (DESIGN section 2).

Frozen once per programmed chip, in this order (``aimc.scheme.Device``):

1. programming error ``g' = g + sigma_p(g) z``, ``z ~ N(0, 1)`` per device and chip, ``sigma_p`` the
   scheme's error law (:meth:`aimc.scheme.ErrorModel.sigma`, evaluated at the target conductance);
2. clipping: ``none``, ``zero`` (g >= 0) or ``range`` (g in [g_min, 1]);
3. drift ``g(t) = g (t / t0)^(-nu)``, ``nu ~ N(nu_mean, nu_std)`` per device;
4. stuck cells: with probability ``p_off`` a cell reads g_min, with ``p_on`` it reads 1 (Gmax).

Drawn afresh at every MVM (every input vector) and every input slice: read noise ``g_read = g + sigma_r(g)
z``, sigma_r evaluated at the chip's (programmed, drifted, stuck) conductance, not clipped.

Global drift compensation multiplies every ADC input by ``c = 1 / E[(t/t0)^(-nu)]``
(:attr:`aimc.scheme.Drift.compensation_gain`, defined once for theory and simulation).

Every draw uses an explicit :class:`torch.Generator`; chip ``c`` of seed ``s`` has its own stream derived
from ``(s, c)`` (so a chip's conductances do not depend on how many chips are simulated together).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aimc.pipeline import Programmed
from aimc.scheme import Device

__all__ = [
    "chip_generator",
    "perturb_conductances",
    "program_chips",
    "read_noise_sigma",
    "stream_generator",
]



def stream_generator(seed: int, stream: int, index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator on ``device`` seeded from (seed, stream, index) through numpy's SeedSequence."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(stream), int(index)]).generate_state(2, np.uint64)
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(state[0]) & 0x7FFFFFFFFFFFFFFF)
    return gen


def chip_generator(seed: int, chip: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of chip ``chip`` of run ``seed`` (programming error, drift exponents, stuck cells)."""
    return stream_generator(seed, 1, chip, device)


def perturb_conductances(g: torch.Tensor, device: Device, generator: torch.Generator) -> torch.Tensor:
    """One chip's frozen conductances from target conductances ``g`` (any shape): steps 1-4 above."""
    g_min = device.g_min
    out = g
    prog = device.programming
    if prog.active:
        sigma = prog.sigma(g, g_min)
        z = torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device)
        out = g + sigma * z
    low, high = device.clip_bounds
    if math.isfinite(low) or math.isfinite(high):
        out = out.clamp(min=low if math.isfinite(low) else None, max=high if math.isfinite(high) else None)
    drift = device.drift
    if drift.active:
        nu = drift.nu_mean + drift.nu_std * torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device)
        out = out * torch.exp(-nu * math.log(drift.time / drift.t0))
    stuck = device.stuck
    if stuck.active:
        u = torch.rand(g.shape, generator=generator, dtype=g.dtype, device=g.device)
        out = torch.where(u < stuck.p_off, torch.full_like(out, g_min), out)
        out = torch.where((u >= stuck.p_off) & (u < stuck.p_off + stuck.p_on), torch.ones_like(out), out)
    return out if out is not g else g.clone()


def program_chips(ideal: Programmed, device: Device, seed: int, chips: range | list[int]) -> Programmed:
    """Program the given chip indices: ``ideal`` (one chip, leading dimension 1) -> [len(chips), ...].

    Every device of every array (the mapping's arrays and its shared columns) gets its own errors; chip
    ``c`` draws from :func:`chip_generator` ``(seed, c)``, array after array in the mapping's order.
    """
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in ideal.arrays}
    for c in chips:
        gen = chip_generator(seed, c, ideal.first.device)
        for name, t in ideal.arrays.items():
            parts[name].append(perturb_conductances(t[0], device, gen))
    return Programmed({name: torch.stack(p) for name, p in parts.items()})


def read_noise_sigma(g: torch.Tensor, device: Device) -> torch.Tensor:
    """sigma_r at the chip's conductances (absolute value: a law may be evaluated outside [g_min, 1])."""
    return device.read_noise.sigma(g, device.g_min).abs()

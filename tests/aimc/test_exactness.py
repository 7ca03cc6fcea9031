"""With ideal devices and an ADC fine enough, every scheme reproduces the integer product exactly."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aimc import Scheme
from aimc.adc import fpg_bits
from aimc.inputs import input_max
from aimc.mapping import SliceLayout, digits_to_weights, weight_digits
from aimc.pipeline import analog_mvm, program_ideal, structural_range


def _valid_slices(kind: str, bits: int) -> list[int]:
    magnitude = bits if kind == "offset" else bits - 1
    return [s for s in range(1, magnitude + 1) if -(-magnitude // -(-magnitude // s)) == s]


@st.composite
def configurations(draw):
    kind = draw(st.sampled_from(["differential", "differential_two_sided", "offset"]))
    weight_bits = draw(st.integers(2, 9))
    slices = (
        1 if kind == "differential_two_sided" else draw(st.sampled_from(_valid_slices(kind, weight_bits)))
    )
    input_bits = draw(st.integers(2, 8))
    slice_bits = draw(st.integers(0, input_bits))
    overrides = {
        "mapping.kind": kind,
        "weights.bits": weight_bits,
        "weights.slices": slices,
        "inputs.bits": input_bits,
        "inputs.slice_bits": slice_bits,
        "inputs.accumulation": draw(st.sampled_from(["digital", "analog"])),
        "array.rows": draw(st.integers(1, 40)),
        "array.columns": draw(st.integers(1, 9)),
    }
    if kind == "offset":
        overrides["mapping.offset"] = draw(st.sampled_from(["digital", "unit_column"]))
    else:
        overrides["mapping.subtraction"] = draw(st.sampled_from(["analog", "digital"]))
    use_adc = draw(st.booleans())
    pedestal_free = kind != "offset" and overrides.get("mapping.subtraction") == "analog"
    finite = draw(st.booleans()) and (pedestal_free or not use_adc)
    overrides["device.on_off"] = draw(st.sampled_from([2.0, 10.0, 1e3])) if finite else "inf"
    return overrides, use_adc, draw(st.booleans()), draw(st.integers(0, 2**31 - 1))


def _granular_bits(scheme: Scheme, fan_in: int, signed: bool) -> int:
    """Enough bits for the granular range to hold every possible signal (full-precision guarantee + sign)."""
    layout = SliceLayout.from_scheme(scheme)
    rows = min(fan_in, scheme.array.rows)
    i = scheme.inputs
    whole = i.slice_bits == 0 or i.accumulation == "analog"
    x_max = input_max(i.bits, signed) if whole else min((1 << i.slice_bits) - 1, input_max(i.bits, signed))
    span = rows * x_max * max(layout.levels) * 2 + 1
    return math.ceil(math.log2(span)) + 1


@settings(max_examples=120, deadline=None)
@given(configurations())
def test_ideal_analog_mvm_is_exact(config):
    overrides, use_adc, signed, seed = config
    gen = torch.Generator().manual_seed(seed)
    fan_in = int(torch.randint(1, 90, (1,), generator=gen))
    outputs = int(torch.randint(1, 12, (1,), generator=gen))
    scheme = Scheme().with_overrides({**overrides, "adc.range": "granular", "adc.bits": 0})
    if use_adc:
        bits = _granular_bits(scheme, fan_in, signed)
        if bits > 24:
            use_adc = False
        else:
            scheme = scheme.with_overrides({"adc.bits": bits})
    m = (1 << (scheme.weights.bits - 1)) - 1
    w = torch.randint(-m, m + 1, (outputs, fan_in), generator=gen)
    top = input_max(scheme.inputs.bits, signed)
    x = torch.randint(-top if signed else 0, top + 1, (5, fan_in), generator=gen)
    layout = SliceLayout.from_scheme(scheme)
    ranges = [structural_range(scheme, k, fan_in, signed) for k in range(layout.slices)] if use_adc else None
    programmed = program_ideal(w, scheme)
    reference = (x @ w.T).to(torch.float64)
    for linear in (False, True):  # the per-partition loop and the batched form of the same signal path
        block = int(torch.randint(1, 4000, (1,), generator=gen))  # small blocks exercise the chunking
        y = analog_mvm(
            x, programmed, scheme, signed_inputs=signed, ranges=ranges, linear_currents=linear, block=block
        )[0]
        assert torch.max(torch.abs(y - reference)) < 1e-6 * max(1.0, float(reference.abs().max()))
        assert torch.equal(torch.round(y), reference)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["differential", "differential_two_sided", "offset"]), st.integers(2, 12), st.data())
def test_digits_round_trip(kind, bits, data):
    slices = 1 if kind == "differential_two_sided" else data.draw(st.sampled_from(_valid_slices(kind, bits)))
    scheme = Scheme().with_overrides({"mapping.kind": kind, "weights.bits": bits, "weights.slices": slices})
    layout = SliceLayout.from_scheme(scheme)
    m = layout.m
    w = torch.arange(-m, m + 1)
    d_pos, d_neg = weight_digits(w, layout)
    assert torch.equal(digits_to_weights(d_pos, d_neg, layout), w)
    for k in range(layout.slices):
        assert int(d_pos[k].max()) == layout.max_digit[k] <= layout.levels[k]
        assert int(d_pos[k].min()) >= 0
    if kind == "differential":
        assert torch.all((d_pos == 0) | (d_neg == 0)), "one-sided: one device of every pair stays at g_min"
        assert torch.all(d_pos[:, m] == 0) and torch.all(d_neg[:, m] == 0), "zero maps to (g_min, g_min)"


def test_adc_granular_matches_full_precision_guarantee_for_one_bit_inputs():
    # 1-bit inputs, 2-bit cells, 128 rows: Eq. (2) gives 2 + 1 + 7 - 1 = 9 bits, which is exactly what the
    # granular unsigned range needs to hold every output 0 .. 128 * 3.
    assert fpg_bits(2, 1, 128) == 9
    assert 128 * 3 <= (1 << 9) - 1 < 2 * 128 * 3

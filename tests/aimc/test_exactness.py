"""With ideal devices and an ADC fine enough, every scheme reproduces the integer product exactly."""

import math

import torch
from aimc.montecarlo.fast import linear_mvm
from hypothesis import given, settings
from hypothesis import strategies as st

from aimc import Scheme
from aimc.adc import fpg_bits
from aimc.adc_ranges import slice_ranges
from aimc.inputs import input_max
from aimc.mapping import SliceLayout, digits_to_weights, weight_digits
from aimc.mappings import MAPPINGS
from aimc.pipeline import analog_mvm, program_ideal

MAPPING_OPTIONS = {"mapping.offset": ("digital", "unit_column"), "mapping.subtraction": ("analog", "digital")}


def _valid_slices(mapping: dict, bits: int) -> list[int]:
    return [s for s in range(1, bits + 1) if Scheme().accepts({**mapping, "weights.bits": bits, "weights.slices": s})]


@st.composite
def mappings(draw, bits: int) -> dict:
    """A registered mapping with options it accepts, and a slice count it accepts for ``bits``-bit weights."""
    kind = draw(st.sampled_from(sorted(MAPPINGS)))
    options = [dict(zip(MAPPING_OPTIONS, combo)) for combo in
               ((o, s) for o in MAPPING_OPTIONS["mapping.offset"] for s in MAPPING_OPTIONS["mapping.subtraction"])]
    valid = [o for o in options if _valid_slices({"mapping.kind": kind, **o}, bits)]
    mapping = {"mapping.kind": kind, **draw(st.sampled_from(valid))}
    return {**mapping, "weights.slices": draw(st.sampled_from(_valid_slices(mapping, bits)))}


@st.composite
def configurations(draw):
    weight_bits = draw(st.integers(2, 9))
    mapping = draw(mappings(weight_bits))
    input_bits = draw(st.integers(2, 8))
    slice_bits = draw(st.integers(0, input_bits))
    overrides = {
        **mapping,
        "weights.bits": weight_bits,
        "inputs.bits": input_bits,
        "inputs.slice_bits": slice_bits,
        "inputs.accumulation": draw(st.sampled_from(["digital", "analog"])),
        "array.rows": draw(st.integers(1, 40)),
        "array.columns": draw(st.integers(1, 9)),
    }
    use_adc = draw(st.booleans())
    # a granular range from zero is exact only for conversions without a g_min pedestal of their own
    conversions = SliceLayout.from_scheme(Scheme().with_overrides(overrides)).conversions
    pedestal_free = all(sum(coef for _, coef in c.reads) == 0 for c in conversions)
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
    ranges = slice_ranges(scheme, fan_in, signed) if use_adc else None
    programmed = program_ideal(w, scheme)
    reference = (x @ w.T).to(torch.float64)
    block = int(torch.randint(1, 4000, (1,), generator=gen))  # small blocks exercise the chunking
    # the reference per-partition loop, and the simulator's batched form of the same signal path
    for y in (analog_mvm(x, programmed, scheme, signed_inputs=signed, ranges=ranges)[0],
              linear_mvm(x, programmed, scheme, signed_inputs=signed, ranges=ranges, block=block)[0]):
        assert torch.max(torch.abs(y - reference)) < 1e-6 * max(1.0, float(reference.abs().max()))
        assert torch.equal(torch.round(y), reference)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 12).flatmap(lambda bits: st.tuples(st.just(bits), mappings(bits))))
def test_digits_round_trip(config):
    bits, mapping = config
    layout = SliceLayout.from_scheme(Scheme().with_overrides({**mapping, "weights.bits": bits}))
    m = layout.m
    w = torch.arange(-m, m + 1)
    digits = weight_digits(w, layout)
    assert torch.equal(digits_to_weights(digits, layout), w)
    for k in range(layout.slices):
        assert max(int(d[k].max()) for d in digits.values()) == layout.max_digit[k] <= layout.levels[k]
        assert min(int(d[k].min()) for d in digits.values()) >= 0


def test_one_sided_pairs_keep_one_device_at_g_min():
    layout = SliceLayout.from_scheme(Scheme().with_overrides({"mapping.kind": "differential", "weights.slices": 4}))
    w = torch.arange(-layout.m, layout.m + 1)
    d = weight_digits(w, layout)
    assert torch.all((d["positive"] == 0) | (d["negative"] == 0))
    assert torch.all(d["positive"][:, layout.m] == 0) and torch.all(d["negative"][:, layout.m] == 0)


def test_complement_codes_are_the_textbook_ones():
    """-5 in 8 bits: two's complement 1111 1011 (-128 + 123), one's complement 1111 1010 (-127 + 122)."""
    for kind, code in (("twos_complement", 0b11111011), ("ones_complement", 0b11111010)):
        layout = SliceLayout.from_scheme(Scheme().with_overrides({"mapping.kind": kind, "weights.slices": 8}))
        bits = weight_digits(torch.tensor([-5]), layout)["cells"][:, 0]
        assert bits.tolist() == [(code >> k) & 1 for k in range(8)]
        assert layout.significance[-1] == (-128 if kind == "twos_complement" else -127)


def test_adc_granular_matches_full_precision_guarantee_for_one_bit_inputs():
    # 1-bit inputs, 2-bit cells, 128 rows: Eq. (2) gives 2 + 1 + 7 - 1 = 9 bits, which is exactly what the
    # granular unsigned range needs to hold every output 0 .. 128 * 3.
    assert fpg_bits(2, 1, 128) == 9
    assert 128 * 3 <= (1 << 9) - 1 < 2 * 128 * 3

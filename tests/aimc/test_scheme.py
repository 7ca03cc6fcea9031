"""The vocabulary: defaults, JSON round trip, dotted overrides, and refusal of every invalid value."""

import json
import math

import pytest

from aimc import ConfigError, ErrorModel, Scheme
from aimc.presets import PRESETS, get_preset

REQUIRED_PATHS = [
    "mapping.kind",
    "mapping.offset",
    "weights.bits",
    "weights.slices",
    "inputs.bits",
    "inputs.slice_bits",
    "inputs.accumulation",
    "array.rows",
    "adc.bits",
    "adc.range",
    "adc.percentile",
    "device.on_off",
    "device.clip",
    "device.programming.model",
    "device.programming.alpha",
    "device.programming.alpha_relative_to",
    "device.read_noise.model",
    "device.read_noise.alpha",
    "parasitics.r",
    "parasitics.topology",
]


def test_required_dotted_paths_exist():
    assert set(REQUIRED_PATHS) <= set(Scheme.paths())


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trip_of_every_preset(name):
    scheme = get_preset(name)
    again = Scheme.from_json(scheme.to_json())
    assert again == scheme
    json.loads(scheme.to_json())  # strict JSON: no bare Infinity


def test_infinite_on_off_is_written_as_string_and_read_back():
    data = Scheme().to_dict()
    assert data["device"]["on_off"] == "inf"
    assert math.isinf(Scheme.from_dict(data).device.on_off)
    assert Scheme().device.g_min == 0.0
    assert Scheme().with_overrides({"device.on_off": "100"}).device.g_min == pytest.approx(0.01)


def test_overrides_parse_command_line_strings():
    s = Scheme().with_overrides(
        {
            "adc.bits": "6",
            "adc.range": "max",
            "device.programming.model": "state_proportional",
            "device.programming.alpha": "0.05",
            "adc.power_of_two_slices": "false",
            "device.on_off": "inf",
        }
    )
    assert (s.adc.bits, s.adc.range, s.adc.power_of_two_slices) == (6, "max", False)
    assert s.device.programming.alpha == 0.05 and s.device.programming.model == "state_proportional"


def test_polynomial_and_table_laws():
    s = Scheme().with_overrides(
        {
            "device.programming.model": "polynomial",
            "device.programming.alpha": 1.0,
            "device.programming.coefficients": "[0.01, 0.02]",
        }
    )
    import torch

    g = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(s.device.programming.sigma(g, 0.0), 0.01 + 0.02 * g)
    table = ErrorModel(model="table", alpha=2.0, table_g=(0.0, 1.0), table_sigma=(0.0, 0.1))
    assert torch.allclose(table.sigma(g, 0.0), 2.0 * 0.1 * g)


@pytest.mark.parametrize(
    "overrides, field",
    [
        (
            {"device.programming.model": "state_independent", "device.programming.alpha": "-0.01"},
            "device.programming.alpha",
        ),
        ({"weights.bits": "0"}, "weights.bits"),
        ({"inputs.bits": "-1"}, "inputs.bits"),
        ({"adc.bits": "25"}, "adc.bits"),
        ({"weights.slices": "8"}, "weights.slices"),  # 8-bit differential: 7 magnitude bits
        ({"weights.slices": "5"}, "weights.slices"),  # 7 bits in 5 slices leaves one empty
        ({"mapping.kind": "bogus"}, "mapping.kind"),
        ({"device.programming.model": "no-such-device"}, "device.programming.model"),
        (
            {"device.programming.model": "state_proportional", "device.programming.alpha": "nan"},
            "device.programming.alpha",
        ),
        ({"array.rows": "0"}, "array.rows"),
        ({"device.on_off": "0.5"}, "device.on_off"),
        ({"device.on_off": "1"}, "device.on_off"),
        ({"adc.percentile": "0"}, "adc.percentile"),
        ({"adc.percentile": "101"}, "adc.percentile"),
        ({"device.programming.alpha": "0.01"}, "device.programming.alpha"),  # alpha without a model
        ({"device.programming.model": "state_proportional"}, "device.programming.alpha"),  # model, alpha 0
        ({"mapping.offset": "unit_column"}, "mapping.offset"),  # differential has no offset
        ({"mapping.kind": "differential_two_sided", "weights.slices": "7"}, "weights.slices"),
        ({"inputs.slice_bits": "9"}, "inputs.slice_bits"),
        ({"parasitics.r": "-1e-4"}, "parasitics.r"),
        ({"parasitics.r": "1e-4", "inputs.slice_bits": "2"}, "inputs.slice_bits"),
        ({"device.stuck.p_off": "0.7", "device.stuck.p_on": "0.6"}, "device.stuck.p_on"),
        ({"device.drift.time": "5"}, "device.drift.time"),  # shorter than t0 = 20 s
        (
            {
                "device.programming.model": "polynomial",
                "device.programming.alpha": "1",
                "device.programming.coefficients": "[0.01, -0.05]",
            },
            "device.programming.model",
        ),
        (
            {
                "device.programming.model": "table",
                "device.programming.alpha": "1",
                "device.programming.table_g": "[0.2, 1.0]",
                "device.programming.table_sigma": "[0.1, 0.1]",
            },
            "device.programming.table_g",
        ),
        ({"no.such": "1"}, "no.such"),
        ({"adc.bits": "eight"}, "adc.bits"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ConfigError) as info:
        Scheme().with_overrides(overrides)
    assert info.value.path == field
    assert str(info.value).startswith(field)


def test_unknown_json_keys_and_types_are_refused():
    with pytest.raises(ConfigError, match="adc.bitz"):
        Scheme.from_dict({"adc": {"bitz": 3}})
    with pytest.raises(ConfigError, match="adc.bits"):
        Scheme.from_dict({"adc": {"bits": 8.5}})
    with pytest.raises(ConfigError, match="weights.per_channel"):
        Scheme.from_dict({"weights": {"per_channel": "yes"}})
    with pytest.raises(ConfigError, match="not valid JSON"):
        Scheme.from_json("{")


def test_derived_slice_quantities():
    s = Scheme().with_overrides(
        {"weights.slices": 4}
    )  # 7 magnitude bits in 2-bit slices: top slice under-used
    assert (s.encoded_bits, s.bits_per_slice) == (7, 2)
    o = Scheme().with_overrides({"mapping.kind": "offset", "weights.slices": 4})
    assert (o.encoded_bits, o.bits_per_slice) == (8, 2)


def test_accepts_is_with_overrides_without_the_message():
    assert Scheme().accepts({"weights.slices": 7}) and not Scheme().accepts({"weights.slices": 8})
    assert not Scheme().accepts({"adc.range": "foo"}) and Scheme().accepts({})

"""aimc estimate / aimc formulas runners."""

import argparse
import json

import pytest
from aimc.theory import cli


def _args(*argv):
    parser = argparse.ArgumentParser()
    cli.add_estimate_arguments(parser)
    return parser.parse_args(list(argv))


def test_default_estimate_prints_a_budget_table():
    result = cli.run_estimate(_args())
    assert result["scheme_name"] == "design-a" and 0 < result["relative_rms"] < 1
    assert sum(result["by_source"].values()) == pytest.approx(1.0)
    table = cli.format_budget_table(result)
    assert table.startswith("error budget: layer synthetic, scheme design-a")
    assert "programming" in table and "relative rms" in table
    json.dumps(result)


def test_set_overrides_and_bad_values_are_one_line_value_errors():
    base = cli.run_estimate(_args("--set", "adc.bits=0"))
    assert base["by_source"]["adc_quantization"] == 0
    for argv in (("--set", "adc.bits=-1"), ("--preset", "nope"), ("--set", "adcbits"), ("--layer", "/no/file.npz")):
        with pytest.raises(ValueError) as info:
            cli.run_estimate(_args(*argv))
        assert "\n" not in str(info.value)


def test_formulas_plain_and_latex_of_the_default_and_a_modified_scheme():
    parser = argparse.ArgumentParser()
    cli.add_formulas_arguments(parser)
    default = cli.run_formulas(parser.parse_args([]))
    assert "erf" in default
    # design A (the default) has a programming error law and a differential decode
    assert "sigma_programming(g):" in default and "decoded weight:" in default
    ideal = cli.run_formulas(parser.parse_args(["--set", "device.programming.model=none",
                                                "--set", "device.programming.alpha=0"]))
    assert "sigma_programming(g):" not in ideal and "decoded weight:" in ideal
    assert "\\operatorname{erf}" in cli.run_formulas(parser.parse_args(["--latex", "--preset", "design-e"]))


@pytest.mark.parametrize("topology", ["gate_bitline", "row_column"])
def test_estimate_notes_wire_resistance_beyond_first_order_validity(topology):
    common = ("--set", "mapping.kind=offset", "--set", "array.rows=144", "--set", f"parasitics.topology={topology}",
              "--set", "inputs.slice_bits=1", "--set", "device.programming.model=none",
              "--set", "device.programming.alpha=0")
    small = cli.run_estimate(_args(*common, "--set", "parasitics.r=1e-7"))
    large = cli.run_estimate(_args(*common, "--set", "parasitics.r=1e-3"))
    assert 0 < small["parasitic_scale"] < cli.VALIDITY_RN_IMAX < large["parasitic_scale"]
    assert small["notes"] == [] and "beyond the first-order model's validity" in large["notes"][0]
    assert "note: wire resistance" in cli.format_budget_table(large)
    assert cli.run_estimate(_args())["parasitic_scale"] == 0  # no wire resistance

"""The command line: presets, show, check, the scheme arguments every command shares, one-line errors (exit 2)."""

import argparse
import json
import subprocess
import sys

from aimc.montecarlo.cli import add_simulate_arguments
from aimc.theory.cli import add_estimate_arguments, add_formulas_arguments
from aimc.validation import diagnostics
from aimc.validation.cli import add_accuracy_arguments

from aimc.cli import main
from aimc.cli_common import DEFAULT_PRESET, add_scheme_arguments, scheme_from_args
from aimc.presets import get_preset


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "aimc.cli", *args], capture_output=True, text=True, check=False
    )


def test_presets_json_lists_the_required_names(capsys):
    assert main(["presets", "--json"]) == 0
    names = json.loads(capsys.readouterr().out)
    for required in [
        "design-a",
        "design-b",
        "design-c",
        "design-e",
        "isaac",
        "prime",
        "puma",
        "sonos-2022",
        "pcm-joshi",
        "rram-milo",
    ]:
        assert required in names


def test_show_json_is_a_valid_scheme_and_check_accepts_it(tmp_path, capsys):
    assert main(["show", "design-e", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mapping"]["kind"] == "offset" and data["array"]["rows"] == 72
    path = tmp_path / "e.json"
    path.write_text(json.dumps(data))
    assert main(["check", str(path)]) == 0


def test_errors_are_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"adc": {"bits": 30}}))
    for args, needle in [
        (["check", str(bad)], "adc.bits"),
        (["show", "no-such-preset"], "unknown preset"),
        (["show", "design-d"], "not described"),
        (["check", str(tmp_path / "missing.json")], "no such file"),
    ]:
        proc = run(*args)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------------------
# The scheme arguments: one builder (aimc.cli_common) for every command, one default (design-a)
# ---------------------------------------------------------------------------------------------------------

def _parsers():
    """The argument parser of every command that takes a scheme."""
    parsers = {}
    for name, add in [("estimate", add_estimate_arguments), ("formulas", add_formulas_arguments),
                      ("simulate", add_simulate_arguments), ("accuracy", add_accuracy_arguments),
                      ("diagnostics", diagnostics.add_diagnostics_arguments)]:
        parsers[name] = argparse.ArgumentParser()
        add(parsers[name])
    return parsers


def test_every_command_builds_the_same_scheme_with_design_a_as_default():
    assert DEFAULT_PRESET == "design-a"
    design_a = get_preset("design-a")
    for name, parser in _parsers().items():
        extra = ["--model", "resnet50-cifar10"] if name == "diagnostics" else []
        scheme, label = scheme_from_args(parser.parse_args(extra))
        assert scheme == design_a and label == "design-a", name
        scheme, label = scheme_from_args(parser.parse_args([*extra, "--preset", "design-e", "--set", "adc.bits=6"]))
        assert scheme == get_preset("design-e").with_overrides({"adc.bits": 6}), name
        assert label == "design-e (modified)", name


def test_scheme_from_a_config_file_and_the_commands_conditions(tmp_path):
    parser = argparse.ArgumentParser()
    add_scheme_arguments(parser)
    path = tmp_path / "mine.json"
    path.write_text(get_preset("design-c").to_json())
    scheme, label = scheme_from_args(parser.parse_args(["--config", str(path)]))
    assert scheme == get_preset("design-c") and label == "mine"
    # conditions come before --set, so the user's --set wins
    args = parser.parse_args(["--set", "adc.bits=4"])
    assert scheme_from_args(args, {"adc.bits": 0, "array.rows": 72})[0].adc.bits == 4
    assert scheme_from_args(args, {"adc.bits": 0, "array.rows": 72})[0].array.rows == 72


def test_simulate_and_estimate_answer_for_the_same_default_scheme(capsys):
    assert main(["estimate", "--json"]) == 0
    theory = json.loads(capsys.readouterr().out)
    assert main(["simulate", "--trials", "3", "--json"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert theory["scheme_name"] == simulated["scheme"] == "design-a"
    # design A's SONOS error dominates (0.057 in closed form); ideal cells would give about 0.008
    assert abs(simulated["relative_rms"] / theory["relative_rms"] - 1) < 0.05


def test_bad_scheme_arguments_are_refused_in_one_line_naming_the_flag(tmp_path, capsys):
    scheme_file = tmp_path / "a.json"
    scheme_file.write_text("{}")
    bad = [
        (["--preset", "design-a", "--config", str(scheme_file)], "--config: cannot be combined with --preset"),
        (["--preset", ""], "--preset: an empty name; allowed: design-a"),
        (["--preset", "no-such"], "--preset: unknown preset 'no-such'; known: design-a"),
        (["--config", str(tmp_path / "missing.json")], "--config: no such file"),
        (["--set", "adc.bits"], "--set: expected PATH=VALUE"),
    ]
    commands = {
        "estimate": lambda argv: main(["estimate", *argv]),
        "formulas": lambda argv: main(["formulas", *argv]),
        "simulate": lambda argv: main(["simulate", "--trials", "1", *argv]),
        "accuracy": lambda argv: main(["accuracy", "--no-save", *argv]),
        "diagnostics": lambda argv: main(["diagnostics", "--model", "resnet50-cifar10", *argv]),
    }
    for name, command in commands.items():
        for argv, message in bad:
            assert command(argv) == 2, (name, argv)
            err = capsys.readouterr().err
            assert message in err and len(err.strip().splitlines()) == 1, (name, argv, err)

"""``aimc experiments``: its flags and their help, results where the user says (by default outside the
package), and bad input refused in one line."""

import json
from pathlib import Path

import aimc.validation
import pytest
from aimc.validation import experiments

from aimc.cli import build_parser, main
from aimc.results import DEFAULT_RESULTS_DIR


def _run_args(*argv):
    return build_parser("experiments").parse_args(
        ["experiments", "run", "baselines", "--model", "resnet50-cifar10", *argv])


def test_default_results_folder_is_relative_to_the_current_directory():
    assert _run_args().out == DEFAULT_RESULTS_DIR == "aimc_results"
    path = experiments.results_path("resnet50-cifar10", "designs")
    assert path == Path("aimc_results") / "resnet50-cifar10" / "designs.csv" and not path.is_absolute()
    package = Path(aimc.validation.__file__).resolve().parent
    assert package not in path.resolve().parents


def test_out_names_the_folder_and_root_is_its_alias():
    assert _run_args("--out", "validation/results").out == "validation/results"
    assert _run_args("--root", "elsewhere").out == "elsewhere"


def test_run_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["experiments", "run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--out DIR" in text and "default aimc_results" in text
    for flag in ("--match TEXT", "--max-seconds S", "--images N", "--chips N", "--device DEVICE",
                 "--batch-size N", "--calibration FILE", "--calibration-images N", "--seed SEED", "--json",
                 "--no-progress", "--workers N", "--threads N", "--cluster ADDRESS", "--slurm JOBS", "--pbs JOBS"):
        assert flag in text, flag
    assert "one per GPU" in text  # the default with --device cuda


def test_list_names_every_experiment_and_point(capsys):
    assert main(["experiments", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["experiments"]
    assert [e["name"] for e in listed] == list(experiments.EXPERIMENTS)
    assert all(e["points"] == [p.label for p in experiments.EXPERIMENTS[e["name"]].points] for e in listed)
    assert main(["experiments", "list"]) == 0
    text = capsys.readouterr().out
    assert "cell-si-mapping (14 points)" in text and "    offset alpha=0.02" in text


BAD = [
    (["run", "no-such-experiment", "--model", "resnet50-cifar10"], "NAME: unknown experiment(s) no-such-experiment"),
    (["run", "designs"], "--model: missing; allowed: resnet50-cifar10"),
    (["run", "designs", "--model", "resnet18"], "--model: got 'resnet18'"),
    (["run", "designs", "--model", "resnet50-cifar10", "--chips", "0"], "--chips: must be >= 1"),
    (["run", "designs", "--model", "resnet50-cifar10", "--images", "0"], "--images: must be >= 1"),
    (["run", "designs", "--model", "resnet50-cifar10", "--batch-size", "0"], "--batch-size: must be >= 1"),
    (["run", "designs", "--model", "resnet50-cifar10", "--max-seconds", "-1"], "--max-seconds: must be >= 0"),
    (["run", "designs", "--model", "resnet50-cifar10", "--workers", "0"], "--workers: must be >= 1"),
    (["run", "designs", "--model", "resnet50-cifar10", "--workers", "2", "--cluster", "tcp://127.0.0.1:1"],
     "--workers: cannot be combined with --cluster"),
    (["run", "designs", "--model", "resnet50-cifar10", "--device", "tpu"], "--device: unknown device 'tpu'"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a[1:4]) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["experiments", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aimc experiments: error: ") and message in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written

"""``python -m aimc.validation.experiments``: results go where the user says, by default outside the package."""

from pathlib import Path

import aimc.validation
import pytest
from aimc.validation import experiments

from aimc.results import DEFAULT_RESULTS_DIR


def _run_args(*argv):
    return experiments._parser().parse_args(["run", "baselines", "--model", "resnet50-cifar10", *argv])


def test_default_results_folder_is_relative_to_the_current_directory():
    assert _run_args().out == DEFAULT_RESULTS_DIR == "aimc_results"
    path = experiments.results_path("resnet50-cifar10", "designs")
    assert path == Path("aimc_results") / "resnet50-cifar10" / "designs.csv" and not path.is_absolute()
    package = Path(aimc.validation.__file__).resolve().parent
    assert package not in path.resolve().parents


def test_out_names_the_folder_and_root_is_its_alias():
    assert _run_args("--out", "validation/results").out == "validation/results"
    assert _run_args("--root", "elsewhere").out == "elsewhere"


def test_help_documents_out_and_its_default(capsys):
    with pytest.raises(SystemExit):
        experiments._parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--out DIR" in text and "default aimc_results" in text

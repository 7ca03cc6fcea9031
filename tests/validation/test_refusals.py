"""Bad input to ``aimc accuracy`` and ``aimc validate`` is refused before any work: one line on stderr naming
the flag and what is allowed, exit status 2, no traceback, nothing loaded, simulated or written.

Each case runs the command in this process with the network loader, the conversion and the sweeps replaced by
a function that fails the test if it is called: a refusal that comes only after the work would fail here.
"""

from __future__ import annotations

import zipfile

import pytest
from aimc.validation import accuracy as acc
from aimc.validation import cli as vcli
from aimc.validation import conformance, sweep

from aimc.cli import main

LOAD_NETWORK = acc.load_network


def _no_work(*args, **kwargs):
    raise AssertionError("work started before the arguments were checked")


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A folder to run in, with a text file posing as a zip, an existing folder and an accuracy CSV."""
    monkeypatch.chdir(tmp_path)
    for target, name in ((acc, "load_network"), (vcli, "load_network"), (acc, "convert_network"),
                         (sweep, "run_sweep"), (conformance, "run_conformance")):
        monkeypatch.setattr(target, name, _no_work)
    (tmp_path / "text.zip").write_text("not a zip archive")
    (tmp_path / "folder").mkdir()
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    (tmp_path / "results.csv").write_text("model,scheme_hash\nm,h\n")
    with zipfile.ZipFile(tmp_path / "flat.zip", "w") as archive:
        archive.writestr("image.png", b"")
    return tmp_path


ACCURACY_CASES = {
    "--out is an existing folder": (["--out", "folder"], "--out", "is a folder"),
    "--out where nothing can be written": (["--out", "/proc/aimc/results.csv"], "--out", "cannot write"),
    "--out under a file": (["--out", "text.zip/results.csv"], "--out", "is a file"),
    "--out is another kind of CSV": (["--out", "other.csv"], "--out", "not an aimc accuracy CSV"),
    "--no-save with --out": (["--no-save", "--out", "results.csv"], "--no-save", "cannot be combined"),
    "--data that is not a zip": (["--data", "text.zip"], "--data", "not a zip archive"),
    "--data that does not exist": (["--data", "/nonexistent.zip"], "--data", "no such file"),
    "--calibration that is not a zip": (["--calibration", "text.zip"], "--calibration", "not a zip archive"),
    "--calibration of another kind": (["--calibration", "other.csv"], "--calibration", ".pt tensor or"),
    "--val-map that does not exist": (["--val-map", "missing.txt"], "--val-map", "no such file"),
    "a device that does not exist": (["--device", "tpu"], "--device", "allowed: cpu, cuda"),
    "a negative seed": (["--seed", "-1"], "--seed", ">= 0"),
    "zero chips": (["--chips", "0"], "--chips", ">= 1"),
    "a weight file that does not exist": (["--model", "weights.pth", "--data", "folder"], "--model", "no such"),
    "a model that is neither": (["--model", "resnet18"], "--model", "neither a reference model"),
    "--from-row with --set": (["--from-row", "results.csv:1", "--set", "adc.bits=4"], "--from-row", "--set"),
    "--from-row past the end": (["--from-row", "results.csv:5"], "--from-row", "has 1 rows"),
    "--from-row without a row number": (["--from-row", "results.csv"], "--from-row", "FILE:N"),
    "--in-place without --from-row": (["--in-place"], "--in-place", "needs --from-row"),
    "an out-of-range field": (["--set", "device.programming.alpha=1e50"], "device.programming.alpha", "<= 10"),
}


@pytest.mark.parametrize("case", ACCURACY_CASES, ids=list(ACCURACY_CASES))
def test_accuracy_refuses_before_any_work(case, files, capsys):
    extra, flag, needle = ACCURACY_CASES[case]
    assert main(["accuracy", "--no-progress", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aimc accuracy: error:") and "\n" not in err and "Traceback" not in err
    assert flag in err and needle in err, err
    assert sorted(p.name for p in files.iterdir()) == ["flat.zip", "folder", "other.csv", "results.csv",
                                                        "text.zip"]  # nothing written


def test_a_missing_shared_folder_names_the_environment_variable(files, monkeypatch, capsys):
    monkeypatch.setenv("AIMC_SHARED", str(files / "no-such-folder"))
    assert main(["accuracy", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "AIMC_SHARED" in err and "shared_dir" not in err and "\n" not in err


def test_a_zip_without_class_folders_is_refused_naming_data(files, capsys, monkeypatch):
    monkeypatch.setattr(vcli, "load_network", LOAD_NETWORK)  # reading the zip's index is allowed here
    monkeypatch.setattr(acc, "load_images", _no_work)  # decoding images is not
    assert main(["accuracy", "--no-progress", "--no-save", "--data", "flat.zip", "--images", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aimc accuracy: error: --data:") and "one top folder of class folders" in err


VALIDATE_CASES = {
    "conformance on a device that does not exist": (["conformance", "--device", "tpu"], "--device"),
    "mvm into a file": (["mvm", "--out", "text.zip"], "--out"),
    "mvm where nothing can be written": (["mvm", "--out", "/proc/aimc/mvm"], "--out"),
    "mvm with no workers": (["mvm", "--workers", "0"], "--workers"),
}


@pytest.mark.parametrize("case", VALIDATE_CASES, ids=list(VALIDATE_CASES))
def test_validate_refuses_before_any_work(case, files, capsys):
    extra, flag = VALIDATE_CASES[case]
    assert main(["validate", *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aimc validate: error:") and flag in err and "\n" not in err
    assert not (files / "aimc_results").exists()


PREDICT_CASES = {
    "predict on no images": (["predict", "--images", "0"], "--images"),
    "predict an unknown model": (["predict", "--model", "nosuch"], "--model"),
    "predict an unknown range policy": (["predict", "--set", "adc.range=foo"], "adc.range"),
    "predict with no batch": (["predict", "--batch-size", "0"], "--batch-size"),
    "search without a grid": (["search", "--min-accuracy", "0.5"], "--vary"),
    "search for an accuracy above 1": (["search", "--min-accuracy", "60", "--vary", "adc.bits=6,7"], "--min-accuracy"),
    "search with a malformed grid": (["search", "--min-accuracy", "0.5", "--vary", "adc.bits="], "--vary"),
    "validate the predictor on a missing folder": (["validate", "predictor", "--results", "nowhere"], "--results"),
}


@pytest.mark.parametrize("case", PREDICT_CASES, ids=list(PREDICT_CASES))
def test_predict_and_search_refuse_before_any_work(case, files, capsys, monkeypatch):
    from aimc.validation.predictor import cli as predict_cli

    monkeypatch.setattr(predict_cli, "load_network", _no_work)
    extra, flag = PREDICT_CASES[case]
    assert main([*extra, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"aimc {extra[0]}: error:") and flag in err and "\n" not in err

"""aimc device fit: a law fitted to measurements drawn from a known law recovers it within its statistical
error (polynomial and table); malformed files are one-line errors (exit 2); a fitted device expands into the
scheme (self-describing, hashed), and the theory and the Monte Carlo agree on it."""

import argparse
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from aimc.montecarlo.cli import add_simulate_arguments
from aimc.theory.cli import add_estimate_arguments, add_formulas_arguments
from aimc.validation.accuracy import scheme_hash
from aimc.validation.cli import add_accuracy_arguments
from scipy import stats

from aimc.cli import main
from aimc.cli_common import add_scheme_arguments, scheme_from_args
from aimc.device_fit import fit_polynomial, fit_table, read_measurements, sample_measurements
from aimc.devices import DEVICE_LAWS, DEVICES_ENV
from aimc.scheme import ErrorModel

TARGETS, REPEATS = 20, 200
# a simultaneous 99 % band over the 20 targets (Bonferroni)
Z_TARGETS = float(stats.norm.ppf(1 - 0.005 / TARGETS))


def _write(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _sampled(tmp_path, law, lowest=0.05, normalised=False, seed=1, name="data.csv"):
    rows, _, gmax = sample_measurements(law, TARGETS, REPEATS, seed=seed, lowest=lowest, normalised=normalised)
    return _write(tmp_path / name, rows), gmax


def _scheme(*argv):
    parser = argparse.ArgumentParser()
    add_scheme_arguments(parser)
    return scheme_from_args(parser.parse_args(list(argv)))[0]


def _true_sigma(law, g):
    return DEVICE_LAWS[law].sigma(torch.as_tensor(g, dtype=torch.float64)).numpy()


def _fit_cli(capsys, csv_path, out, *extra):
    assert main(["device", "fit", str(csv_path), "--out", str(out), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------------------------------------------------
# the fit recovers a known law
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("law, lowest, normalised", [("sonos-paper", 0.05, False), ("pcm-joshi", 0.1, True)])
def test_polynomial_fit_recovers_the_known_law_within_its_band(tmp_path, capsys, law, lowest, normalised):
    path, gmax = _sampled(tmp_path, law, lowest, normalised)
    gmax_args = [] if normalised else ["--gmax", str(gmax)]
    report = _fit_cli(capsys, path, tmp_path / "dev.json", "--name", "dev", *gmax_args)
    fit, _, _ = fit_polynomial(read_measurements(path, None if normalised else gmax))
    assert report["polynomial"]["order"] == fit.order and report["polynomial"]["coefficients"] == list(
        fit.coefficients)
    # the law as the scheme states it, through ErrorModel.sigma (the one definition)
    scheme = _scheme("--devices", str(tmp_path / "dev.json"), "--set", "device.programming.model=dev")
    assert scheme.device.programming.model == "polynomial"
    grid = np.linspace(lowest, 1.0, 91)
    fitted = scheme.device.programming.sigma(torch.as_tensor(grid), scheme.device.g_min).numpy()
    # Scheffe's simultaneous 99 % band for a fit with order + 1 coefficients holds at every g at once
    band = math.sqrt(stats.chi2.ppf(0.99, fit.order + 1)) * fit.standard_error(grid)
    true = _true_sigma(law, grid)
    assert np.all(np.abs(fitted - true) <= band), np.max(np.abs(fitted - true) / band)
    assert np.any(np.abs(fitted - 1.15 * true) > band)  # the band is narrow enough to refuse a 15 % error
    dof = report["polynomial"]["dof"]
    low, high = stats.chi2.ppf([0.0005, 0.9995], dof) / dof
    assert low < report["polynomial"]["chi2_per_dof"] < high  # the sampling errors are the right size


@pytest.mark.parametrize("law, lowest", [("sonos-paper", 0.05), ("pcm-joshi", 0.1)])
def test_table_fit_recovers_the_known_law_within_its_sampling_error(tmp_path, capsys, law, lowest):
    path, gmax = _sampled(tmp_path, law, lowest)
    report = _fit_cli(capsys, path, tmp_path / "dev.json", "--name", "dev", "--law", "table", "--gmax", str(gmax))
    scheme = _scheme("--devices", str(tmp_path / "dev.json"), "--set", "device.programming.model=dev")
    assert scheme.device.programming.model == "table"
    targets = np.linspace(lowest, 1.0, TARGETS)
    fitted = scheme.device.programming.sigma(torch.as_tensor(targets), scheme.device.g_min).numpy()
    true = _true_sigma(law, targets)
    error = true / math.sqrt(2 * (REPEATS - 1))  # sampling error of a standard deviation
    assert np.all(np.abs(fitted - true) <= Z_TARGETS * error), np.max(np.abs(fitted - true) / error)
    assert np.any(np.abs(fitted - 1.15 * true) > Z_TARGETS * error)
    dof = report["table"]["loo_dof"]
    low, high = stats.chi2.ppf([0.0005, 0.9995], dof) / dof
    assert low < report["table"]["loo_chi2_per_dof"] < high


def test_exact_sigma_table_in_physical_units_gives_the_published_coefficients(tmp_path):
    """pcm-joshi is a quadratic in G (uS); sampled without noise, the fit is that quadratic over Gmax."""
    g = np.linspace(0.1, 1.0, 12)
    sigma = _true_sigma("pcm-joshi", g) * 25.0
    rows = [["g", "sigma", "n"]] + [[f"{25 * a:.12g}", f"{b:.12g}", "100"] for a, b in zip(g, sigma, strict=True)]
    fit, _, reason = fit_polynomial(read_measurements(_write(tmp_path / "t.csv", rows), gmax=25.0))
    assert fit.order == 2 and "AICc" in reason
    expected = (0.28638599 / 25, 0.07585724, -0.00178767 * 25)
    assert np.allclose(fit.coefficients, expected, rtol=1e-6, atol=1e-9)
    no_counts = read_measurements(_write(tmp_path / "u.csv", [r[:2] for r in rows]), gmax=25.0)
    assert no_counts.repeats is None and fit_polynomial(no_counts)[0].order == 2


def test_wide_and_long_forms_give_the_same_estimates(tmp_path):
    path, _ = _sampled(tmp_path, "sonos-paper", normalised=True)
    long_form = read_measurements(path)
    rows = list(csv.reader(path.read_text().splitlines()))[1:]
    by_target = {}
    for target, value in rows:
        by_target.setdefault(target, []).append(value)
    wide = [["target"] + [f"m{i}" for i in range(REPEATS)]] + [[t, *v] for t, v in by_target.items()]
    wide_form = read_measurements(_write(tmp_path / "wide.csv", wide))
    assert (long_form.form, wide_form.form) == ("long", "wide")
    assert np.allclose(long_form.sigma, wide_form.sigma) and np.array_equal(long_form.targets, wide_form.targets)
    assert fit_table(long_form).table_sigma == fit_table(wide_form).table_sigma


def test_a_programming_bias_is_reported(tmp_path, capsys):
    path, _ = _sampled(tmp_path, "sonos-paper", normalised=True)
    unbiased = _fit_cli(capsys, path, tmp_path / "a.json")["largest_mean_offset"]
    rows = list(csv.reader(path.read_text().splitlines()))
    shifted = [rows[0]] + [[t, f"{float(v) + 0.002:.8g}"] for t, v in rows[1:]]  # 0.2 % of Gmax too high
    biased = _fit_cli(capsys, _write(tmp_path / "b.csv", shifted), tmp_path / "b.json")["largest_mean_offset"]
    assert unbiased["p_value"] > 0.001 and biased["p_value"] < 1e-6
    error = float(_true_sigma("sonos-paper", [biased["target"]])[0]) / math.sqrt(REPEATS)
    assert biased["offset"] == pytest.approx(0.002, abs=4 * error)


def test_on_off_comes_from_the_smallest_target_or_a_stated_gmin(tmp_path):
    path, gmax = _sampled(tmp_path, "sonos-paper", lowest=0.05)
    assert read_measurements(path, gmax).on_off == pytest.approx(20.0)
    assert read_measurements(path, gmax, gmin=1.6).on_off == pytest.approx(1000.0)
    assert math.isinf(read_measurements(path, gmax, gmin=0.0).on_off)


# ---------------------------------------------------------------------------------------------------------
# malformed input: one line on stderr, exit 2, nothing written
# ---------------------------------------------------------------------------------------------------------

MALFORMED = {
    "missing columns": (b"target\n0.1\n0.2\n", "missing columns"),
    "wrong columns": (b"voltage,current\n0.1,0.2\n", "missing columns"),
    "non-numeric": (b"target,measured\n0.1,0.1\n0.1,abc\n", "'abc' is not a number"),
    "NaN": (b"target,measured\n0.1,0.1\n0.1,nan\n", "not a finite number"),
    "negative conductance": (b"target,measured\n0.1,0.1\n0.1,-0.02\n", "negative conductance"),
    "negative target": (b"target,measured\n-0.1,0.1\n-0.1,0.2\n", "negative target"),
    "single repeat": (b"target,measured\n0.1,0.1\n0.1,0.11\n0.5,0.5\n", "single measurement"),
    "target outside [0, Gmax]": (b"target,measured\n0.5,0.5\n0.5,0.6\n1.5,1.5\n1.5,1.4\n", "outside [0, Gmax]"),
    "empty": (b"", "empty file"),
    "header only": (b"target,measured\n", "no data rows"),
    "binary": (bytes(range(256)) * 4, "not a CSV text file"),
    "JSON": (b'{"target": [0.1, 0.2], "measured": [0.1, 0.2]}\n', "not a CSV file"),
    "negative sigma": (b"g,sigma\n0.1,0.01\n0.5,-0.02\n", "negative sigma"),
    "one target": (b"target,measured\n0.5,0.5\n0.5,0.6\n", "at least 2"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_measurements_are_one_line_errors(tmp_path, capsys, case):
    content, needle = MALFORMED[case]
    path = tmp_path / "m.csv"
    path.write_bytes(content)
    out = tmp_path / "dev.json"
    assert main(["device", "fit", str(path), "--name", "dev", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_bad_flags_and_a_missing_file_are_one_line_errors(tmp_path, capsys):
    path, _ = _sampled(tmp_path, "sonos-paper", normalised=True)
    for argv, needle in [
        ([str(tmp_path / "absent.csv")], "no such file"),
        ([str(path), "--gmax", "0"], "--gmax"),
        ([str(path), "--gmin", "0.5"], "above the smallest target"),
        ([str(path), "--order", "19"], "--order"),
        ([str(path), "--name", "sonos-paper"], "built-in model"),
        ([str(path), "--name", "my device"], "not a device name"),
    ]:
        assert main(["device", "fit", *argv, "--out", str(tmp_path / "d.json")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, (argv, err)


def test_the_installed_command_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("target,measured\n0.1,0.1\n0.1,nan\n")
    proc = subprocess.run([sys.executable, "-m", "aimc.cli", "device", "fit", str(path)], capture_output=True,
                          text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "finite" in proc.stderr


def test_sampling_refuses_targets_that_would_read_negative():
    with pytest.raises(ValueError, match="--lowest"):
        sample_measurements("pcm-joshi", lowest=0.0)


# ---------------------------------------------------------------------------------------------------------
# the device in a scheme
# ---------------------------------------------------------------------------------------------------------

def _device_file(tmp_path, capsys, name, seed=1, law="sonos-paper"):
    path, gmax = _sampled(tmp_path, law, seed=seed, name=f"{name}.csv")
    out = tmp_path / f"{name}.json"
    _fit_cli(capsys, path, out, "--name", name, "--gmax", str(gmax))
    return out


def test_the_device_expands_into_the_scheme_and_its_hash_follows_the_law(tmp_path, capsys):
    first = _device_file(tmp_path, capsys, "dev-a", seed=1)
    second = _device_file(tmp_path, capsys, "dev-b", seed=2)
    a = _scheme("--devices", str(first), "--devices", str(second), "--set", "device.programming.model=dev-a")
    b = _scheme("--devices", str(first), "--devices", str(second), "--set", "device.programming.model=dev-b")
    coefficients = json.loads(first.read_text())["law"]["coefficients"]
    assert list(a.device.programming.coefficients) == coefficients and a.device.on_off == pytest.approx(20.0)
    explicit = _scheme("--set", "device.programming.model=polynomial", "--set", "device.on_off=20",
                       "--set", f"device.programming.coefficients={json.dumps(coefficients)}")
    assert scheme_hash(a) == scheme_hash(explicit)  # the expansion is the whole description
    assert scheme_hash(a) != scheme_hash(b)
    kept = _scheme("--devices", str(first), "--set", "device.programming.model=dev-a",
                   "--set", "device.programming.alpha=0.5", "--set", "device.on_off=100")
    assert kept.device.programming.alpha == 0.5 and kept.device.on_off == 100.0


def test_every_command_that_takes_a_scheme_takes_a_device(tmp_path, capsys):
    device = _device_file(tmp_path, capsys, "dev-a")
    for add in (add_estimate_arguments, add_formulas_arguments, add_simulate_arguments, add_accuracy_arguments):
        parser = argparse.ArgumentParser()
        add(parser)
        args = parser.parse_args(["--devices", str(device), "--set", "device.programming.model=dev-a"])
        assert scheme_from_args(args)[0].device.programming.model == "polynomial", add.__name__


def test_devices_listed_in_the_environment_and_read_noise(tmp_path, capsys, monkeypatch):
    first = _device_file(tmp_path, capsys, "dev-a")
    second = _device_file(tmp_path, capsys, "dev-b", seed=2)
    monkeypatch.setenv(DEVICES_ENV, f"{first}{os.pathsep}{second}")
    # a read-noise device leaves the On/Off to the scheme (its polynomial holds from g_min = 0.05 only)
    scheme = _scheme("--set", "device.read_noise.model=dev-b", "--set", "device.on_off=20")
    assert scheme.device.read_noise.model == "polynomial" and scheme.device.programming.model == "sonos-paper"
    law = ErrorModel("polynomial", 1.0, coefficients=tuple(json.loads(second.read_text())["law"]["coefficients"]))
    assert scheme.device.read_noise == law


def test_an_unknown_name_lists_the_known_names_and_where_they_were_looked_for(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(DEVICES_ENV, raising=False)
    device = _device_file(tmp_path, capsys, "dev-a")
    argv = ["estimate", "--devices", str(device), "--set", "device.programming.model=dev-x"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for needle in ("device.programming.model", "'dev-x'", "sonos-paper", "table", "dev-a", str(device)):
        assert needle in err, (needle, err)
    assert main(["estimate", "--set", "device.programming.model=dev-x"]) == 2
    assert DEVICES_ENV in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "aimc-device/1", "name": "b", "model": "cubic", "law": {}}')
    assert main(["estimate", "--devices", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--devices" in err and "broken.json" in err


def test_estimate_and_simulate_agree_on_a_fitted_device(tmp_path, capsys):
    device = _device_file(tmp_path, capsys, "dev-a")
    rng = np.random.default_rng(3)
    layer = tmp_path / "layer.npz"
    np.savez(layer, weights=rng.laplace(0, 0.05, (24, 96)), inputs=np.maximum(rng.standard_normal((32, 96)), 0))
    common = ["--devices", str(device), "--set", "device.programming.model=dev-a", "--layer", str(layer), "--json"]
    assert main(["estimate", *common]) == 0
    estimate = json.loads(capsys.readouterr().out)
    assert estimate["scheme"]["device"]["programming"]["model"] == "polynomial"
    assert estimate["by_source"]["programming"] > 0.5
    assert main(["simulate", *common, "--trials", "40"]) == 0
    low, high = json.loads(capsys.readouterr().out)["relative_rms_ci"]
    assert low <= estimate["relative_rms"] <= high, (estimate["relative_rms"], low, high)
    assert high - low < 0.1 * estimate["relative_rms"]  # an interval narrow enough to judge the estimate

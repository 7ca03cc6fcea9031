"""``aimc simulate``: built-in and user layers, JSON output, one-line errors with exit status 2."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from aimc.montecarlo.cli import add_simulate_arguments, format_simulation, run_simulate


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    return parser.parse_args(list(argv))


def test_simulate_synthetic_layer():
    out = run_simulate(_args("--trials", "3", "--set", "device.programming.model=state_independent",
                             "--set", "device.programming.alpha=0.01", "--json"))
    assert out["chips"] == 3 and out["vectors"] == 64 and out["outputs"] == 256 and out["inputs"] == 1152
    assert 0.01 < out["relative_rms"] < 1 and out["relative_rms_ci"][0] <= out["relative_rms"] <= out["relative_rms_ci"][1]
    json.dumps(out)
    again = run_simulate(_args("--trials", "3", "--set", "device.programming.model=state_independent",
                               "--set", "device.programming.alpha=0.01"))
    assert again["relative_rms"] == out["relative_rms"]  # same seed, same numbers


def test_simulate_user_layer_ideal_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "layer.npz"
    np.savez(path, weights=rng.normal(size=(10, 30)), inputs=rng.normal(size=(7, 30)))
    out = run_simulate(_args("--layer", str(path), "--trials", "2", "--set", "adc.bits=0", "--float64",
                             "--set", "device.programming.model=none", "--set", "device.programming.alpha=0"))
    assert out["vectors"] == 7 and out["outputs"] == 10 and out["signed_inputs"] is True
    assert out["relative_rms"] < 1e-12


def test_simulate_default_is_design_a_and_its_table():
    out = run_simulate(_args("--trials", "2", "--set", "adc.bits=0"))
    assert out["scheme"] == "design-a (modified)"
    # design A's SONOS programming error, not the ideal cells of a bare Scheme()
    assert 0.03 < out["relative_rms"] < 0.1
    table = format_simulation(out)
    assert table.splitlines()[0] == "Monte Carlo: design-a (modified), layer synthetic"
    assert f"relative_rms = {out['relative_rms']:.4g}  (95 % CI" in table and "chips        = 2" in table


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"weights": np.ones((3, 4))}, "lacks"),
        ({"weights": np.ones((3, 4)), "inputs": np.ones((2, 5))}, "inputs"),
        ({"weights": np.ones((3, 4)), "inputs": np.full((2, 4), np.nan)}, "finite"),
    ],
)
def test_simulate_bad_layer(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message) as info:
        run_simulate(_args("--layer", str(path)))
    assert "\n" not in str(info.value)


def test_simulate_main_exit_status(tmp_path, capsys):
    from aimc.cli import main

    path = tmp_path / "bad.npz"
    np.savez(path, weights=np.ones((3, 4)), inputs=np.full((2, 4), np.nan))
    assert main(["simulate", "--layer", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_simulate_cuda_without_gpu():
    with pytest.raises(ValueError, match="cuda"):
        run_simulate(_args("--device", "cuda"))

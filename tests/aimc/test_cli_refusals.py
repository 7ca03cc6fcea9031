"""The faults a new user met with ``aimc estimate`` and ``aimc simulate``, each refused in one line with exit 2:
errors outside a field's physical range (which printed a relative error of 0 or nan), layer files that are
not real arrays (a complex layer ran with its imaginary part dropped; a text file was called pickled data),
a device that does not exist. Ctrl-C stops a command with one line and exit 130."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from aimc.cli import main


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue().strip()


@pytest.fixture
def layers(tmp_path):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((4, 32)), 0)
    np.savez(tmp_path / "complex.npz", weights=rng.standard_normal((8, 32)) * (1 + 1j), inputs=x)
    np.savez(tmp_path / "boolean.npz", weights=rng.standard_normal((8, 32)) > 0, inputs=x)
    np.savez(tmp_path / "objects.npz", weights=np.array([None] * 8, dtype=object), inputs=x)
    (tmp_path / "text.npz").write_text("weights,inputs\n1,2\n")
    return tmp_path


CASES = {
    "programming alpha 1e50 (printed 0)": (["--set", "device.programming.model=state_independent",
                                           "--set", "device.programming.alpha=1e50"], "device.programming.alpha", "<= 10"),
    "programming alpha 1e160 (printed nan)": (["--set", "device.programming.model=state_independent",
                                              "--set", "device.programming.alpha=1e160"], "device.programming.alpha", "<= 10"),
    "read-noise alpha 1e200 (printed nan)": (["--set", "device.read_noise.model=state_independent",
                                             "--set", "device.read_noise.alpha=1e200"], "device.read_noise.alpha", "<= 10"),
    "a device law scaled beyond 10 Gmax": (["--set", "device.programming.model=polynomial",
                                           "--set", "device.programming.alpha=10",
                                           "--set", "device.programming.coefficients=[2.0]"], "device.programming", "10"),
    "a drift exponent beyond 0.5": (["--set", "device.drift.time=100", "--set", "device.drift.nu_mean=3"],
                                    "device.drift.nu_mean", "<= 0.5"),
    "wire resistance beyond 0.01": (["--set", "parasitics.r=0.5"], "parasitics.r", "<= 0.01"),
    "stuck probabilities above 1 together": (["--set", "device.stuck.p_off=0.7", "--set", "device.stuck.p_on=0.6"],
                                             "device.stuck.p_on", "<= 1"),
}


@pytest.mark.parametrize("command", ["estimate", "simulate"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_settings_outside_their_range_are_refused(command, case):
    extra, field, allowed = CASES[case]
    code, err = run([command, *extra])
    assert code == 2 and "\n" not in err and err.startswith(f"aimc {command}: error: {field}")
    assert allowed in err


@pytest.mark.parametrize("name, needle", [("complex", "dtype complex128"), ("boolean", "dtype bool"),
                                          ("objects", "holds Python objects"), ("text", "not an .npz archive")])
@pytest.mark.parametrize("command", ["estimate", "simulate"])
def test_layer_files_that_are_not_real_arrays_are_refused(layers, command, name, needle):
    code, err = run([command, "--layer", str(layers / f"{name}.npz")])
    assert code == 2 and "\n" not in err and err.startswith(f"aimc {command}: error: --layer")
    assert needle in err and "allow_pickle" not in err


def test_simulate_refuses_a_device_that_does_not_exist():
    code, err = run(["simulate", "--device", "tpu"])
    assert code == 2 and err == "aimc simulate: error: --device: unknown device 'tpu'; allowed: cpu, cuda"


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch):
    from aimc.theory import cli as theory_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(theory_cli, "error_budget", interrupted)
    code, err = run(["estimate"])
    assert code == 130 and err == "aimc estimate: interrupted (Ctrl-C); nothing was kept; run the command again"

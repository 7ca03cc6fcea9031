"""Interrupted runs end cleanly: Ctrl-C (SIGINT) and SIGTERM stop ``aimc validate mvm`` and ``aimc accuracy``
with one line saying what was kept and how to resume, exit status 130 / 143, no traceback; every finished
point or chip is kept, and the same command resumes (``aimc accuracy`` at the first missing chip).

The commands run as separate processes, signalled once they have stored something. ``aimc accuracy`` runs
on a small network (the loader replaced in the child process, each chip slowed down so that the signal
lands between chips), so that the test does not need the reference models.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aimc.results import read_csv

WAIT_SECONDS = 300

ACCURACY_CHILD = textwrap.dedent('''
    import sys, time
    import torch
    from torch import nn
    from aimc.validation import accuracy, cli
    from aimc.validation.accuracy import Network

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.fc = nn.Linear(8 * 8 * 8, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1))

    def small_network(*args, **kwargs):
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8, generator=gen)
        labels = torch.randint(0, 4, (32,), generator=gen)
        return Network("small", "", Small().eval(), images, labels, images[:8], (0.5,) * 3, (0.25,) * 3)

    real_correct = accuracy._correct

    def slow_correct(*args):
        time.sleep(float(sys.argv[1]))  # a chip takes this long: the signal lands between chips
        return real_correct(*args)

    cli.load_network = small_network
    cli.check_network_arguments = lambda *args, **kwargs: None
    accuracy._correct = slow_correct
    from aimc.cli import main
    sys.exit(main(sys.argv[2:]))
''')

NOISY = ["--set", "adc.bits=0", "--set", "device.programming.model=state_proportional",
         "--set", "device.programming.alpha=0.3"]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, proc: subprocess.Popen) -> None:
    start = time.monotonic()
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < WAIT_SECONDS, "nothing was stored in time"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen, signum: int) -> tuple[int, str]:
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=WAIT_SECONDS)
    return proc.returncode, err.strip()


def _one_clean_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_validate_mvm_stops_at_once_keeps_its_points_and_resumes(tmp_path):
    out = tmp_path / "mvm"
    table = out / "mvm.csv"
    command = ["-m", "aimc.cli", "validate", "mvm", "--quick", "--out", str(out), "--no-progress"]
    first = _start(command, tmp_path)
    _wait_for(lambda: len(read_csv(table)) >= 1, first)
    code, err = _stop(first, signal.SIGINT)
    line = _one_clean_line(err)
    assert code == 130 and "interrupted (Ctrl-C)" in line and str(out) in line and "resumes" in line
    kept = {row["key"]: row for row in read_csv(table)}
    assert kept and not any(row.get("error_message") for row in kept.values())
    second = _start(command, tmp_path)
    _wait_for(lambda: len(read_csv(table)) > len(kept), second)
    code, err = _stop(second, signal.SIGTERM)
    assert code == 143 and "interrupted (SIGTERM)" in _one_clean_line(err)
    after = {row["key"]: row for row in read_csv(table)}
    assert len(after) > len(kept)
    for key, row in kept.items():  # the resumed run skipped the kept points: their rows are untouched
        assert {k: after[key][k] for k in ("ratio", "mc_sigma", "theory_sigma")} == \
            {k: row[k] for k in ("ratio", "mc_sigma", "theory_sigma")}


@pytest.mark.parametrize("signum, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_accuracy_stops_between_chips_and_resumes_at_the_first_missing_chip(tmp_path, signum, code, name):
    script = tmp_path / "child.py"
    script.write_text(ACCURACY_CHILD)
    out = tmp_path / "accuracy.csv"
    base = ["accuracy", "--model", "resnet50-cifar10", "--chips", "6", "--no-progress", "--json", *NOISY]
    args = [*base, "--out", str(out)]
    first = _start([str(script), "1.0", *args], tmp_path)
    _wait_for(lambda: any(json.loads(r.get("accuracies") or "[]") for r in read_csv(out)), first)
    got, err = _stop(first, signum)
    line = _one_clean_line(err)
    assert got == code and f"interrupted ({name})" in line
    row = read_csv(out)[0]
    kept = json.loads(row["accuracies"])
    assert row["error_message"].startswith("unfinished") and 1 <= len(kept) < 6
    assert f"kept {len(kept)} of 6 chips" in line and f"resumes at chip {len(kept)}" in line
    resumed = subprocess.run([sys.executable, str(script), "0", *args], check=False, cwd=tmp_path,
                             capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["resumed_at_chip"] == len(kept) and result["accuracies"][: len(kept)] == kept
    fresh = subprocess.run([sys.executable, str(script), "0", *base, "--no-save"], check=False, cwd=tmp_path,
                           capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["accuracies"] == result["accuracies"]  # resuming changed nothing
    assert len(read_csv(out)) == 1 and not read_csv(out)[0]["error_message"]

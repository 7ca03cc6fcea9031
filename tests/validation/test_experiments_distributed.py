"""``aimc experiments run`` on a local Dask cluster of CPU workers, on the tiny network of tiny_reference.py:
the same result rows as a run in this process, no point lost or duplicated when a worker is killed, and an
interrupted client (Ctrl-C, SIGTERM) stops at once, says what it kept, and the same command resumes it."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import dask_jobqueue  # noqa: F401 - imported before any dask.config.set, whose end would undo its defaults
import pytest
import torch
from aimc.validation.experiments import ReferenceNetwork
from distributed import LocalCluster

from aimc.cli import main

TINY = Path(__file__).with_name("tiny_reference.py")
ARGS = ["experiments", "run", "cell-si-mapping", "--model", "resnet50-cifar10", "--chips", "4", "--images", "24",
        "--no-progress"]
POINTS = 14
RUN_COLUMNS = ("seconds", "device", "finished_at")
"""The columns that say how long a point took, where and when it ran, not what it gave."""
HANG_GUARD = 300.0
"""Seconds after which a test gives up waiting (a hang, not a measurement)."""


def _tiny():
    spec = importlib.util.spec_from_file_location("tiny_reference", TINY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _csv(out: Path) -> Path:
    return out / "resnet50-cifar10" / "cell-si-mapping.csv"


def _cells(out: Path) -> list[list[str]]:
    """The results file as text cells, header first, without the cells of :data:`RUN_COLUMNS`."""
    with _csv(out).open(newline="") as handle:
        table = list(csv.reader(handle))
    keep = [i for i, name in enumerate(table[0]) if name not in RUN_COLUMNS]
    return [[row[i] for i in keep] for row in table]


def _records(cells: list[list[str]]) -> list[dict[str, str]]:
    """The rows of :func:`_cells` by column name, empty cells left out (a partial file has fewer columns)."""
    return [{name: cell for name, cell in zip(cells[0], row) if cell} for row in cells[1:]]


def _run_here(out: Path, *extra: str) -> int:
    """The command in this process, on the tiny network (its workers, if any, load it by their preload)."""
    with pytest.MonkeyPatch.context() as patch, dask.config.set({"distributed.worker.preload": [str(TINY)]}):
        patch.setattr(ReferenceNetwork, "load", _tiny().load)
        return main([*ARGS, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> list[list[str]]:
    out = tmp_path_factory.mktemp("serial")
    assert _run_here(out) == 0
    return _cells(out)


def test_two_workers_give_the_serial_rows(serial, tmp_path, capsys):
    assert len(serial) == POINTS + 1 and len({tuple(r) for r in serial[1:]}) == POINTS
    assert _run_here(tmp_path, "--workers", "2", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["runner"] == "local Dask cluster of 2 workers"
    assert summary["experiments"][0] | {"csv": ""} == {"experiment": "cell-si-mapping", "csv": "", "points": POINTS,
                                                        "finished": POINTS, "computed": POINTS}
    assert _cells(tmp_path) == serial  # every cell, byte for byte, in the same order
    devices = {row["device"] for row in csv.DictReader(_csv(tmp_path).open(newline=""))}
    assert devices == {"cpu (1 threads)"}  # computed by the workers (1 core each)


def _start(out: Path, pids: Path, *extra: str) -> subprocess.Popen:
    """The command as a user starts it (its own process group, as a shell would), on the tiny network."""
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('tiny', {str(TINY)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.patch(); "
            "from aimc.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(TINY)]),
           "AIMC_TEST_WORKER_PIDS": str(pids)}
    pids.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", code, *ARGS, "--out", str(out), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _rows(out: Path) -> int:
    path = _csv(out)
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


def _wait(condition, proc: subprocess.Popen) -> None:
    limit = time.monotonic() + HANG_GUARD
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < limit, "hang"
        time.sleep(0.02)


def test_a_killed_worker_loses_no_point(serial, tmp_path):
    pids = tmp_path / "pids"
    proc = _start(tmp_path / "out", pids, "--workers", "2")
    _wait(lambda: _rows(tmp_path / "out") >= 1 and len(list(pids.iterdir())) == 2, proc)
    os.kill(int(next(pids.iterdir()).name), signal.SIGKILL)  # a worker dies in the middle of the sweep
    stdout, stderr = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 0, stderr
    assert _cells(tmp_path / "out") == serial  # every point once, as computed in this process
    assert len(list(pids.iterdir())) == 3  # the killed worker was restarted
    assert f"cell-si-mapping: {POINTS} of {POINTS} point(s) finished" in stdout


@pytest.mark.parametrize(("signum", "extra"), [(signal.SIGINT, ["--workers", "2"]), (signal.SIGTERM, [])],
                         ids=["ctrl-c-two-workers", "sigterm-this-process"])
def test_an_interrupted_run_keeps_its_points_and_resumes(serial, tmp_path, signum, extra):
    out = tmp_path / "out"
    proc = _start(out, tmp_path / "pids", *extra)
    _wait(lambda: _rows(out) >= 1, proc)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C reaches the whole process group, workers included
    else:
        proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 128 + signum
    kept = _rows(out)
    assert 1 <= kept < POINTS, "the run finished before the signal: make its points slower"
    how = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert stderr.strip() == (f"aimc experiments: interrupted ({how}); kept cell-si-mapping {kept} of {POINTS} "
                              f"point(s) in {_csv(out)}; run the same command again to resume")
    partial = _records(_cells(out))
    assert partial == [row for row in _records(serial) if row in partial]  # finished points intact, in order
    assert _run_here(out) == 0  # the same command resumes (here in this process)
    assert _cells(out) == serial


def test_a_running_scheduler_runs_the_points(serial, tmp_path):
    """--cluster ADDRESS: the workers of a scheduler started elsewhere (here: one in this process, whose worker
    threads see the tiny network through the same patch)."""
    threads = torch.get_num_threads()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as running:
        assert _run_here(tmp_path, "--cluster", running.scheduler_address) == 0
    torch.set_num_threads(threads)  # the worker thread set this process's torch threads
    assert _cells(tmp_path) == serial


def test_a_job_queue_without_its_configuration_is_refused_in_one_line(tmp_path, capsys):
    with dask.config.set({"jobqueue.pbs.cores": None, "jobqueue.pbs.memory": None}):
        assert main([*ARGS, "--out", str(tmp_path), "--pbs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aimc experiments: error: --pbs: You must specify how much cores and memory") and "\n" not in err
    assert "~/.config/dask/jobqueue.yaml, section jobqueue.pbs" in err and list(tmp_path.iterdir()) == []

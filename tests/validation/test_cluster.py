"""Where a sweep's points run (aimc.validation.cluster): the default cluster, the GPUs its workers see, the
runner's stop, and the batch jobs dask-jobqueue would submit (built here, never submitted)."""

from __future__ import annotations

import dask
import dask_jobqueue  # noqa: F401 - imported before any dask.config.set, whose end would undo its defaults
import pytest
from aimc.validation import cluster
from aimc.validation.cluster import SLOT, Cluster, Runner, _job_queue_cluster, worker_gpus


def test_the_default_is_one_worker_per_gpu_else_this_process(monkeypatch):
    monkeypatch.setattr(cluster, "_gpus", lambda: 4)
    assert Cluster(device="cuda").local_workers() == 4
    assert Cluster(device="cuda").describe() == "local Dask cluster of 4 workers (one GPU each)"
    assert Cluster(device="cpu").local_workers() == 1 and Cluster(device="cpu").describe() == "this process"
    assert Cluster(workers=2, device="cpu").describe() == "local Dask cluster of 2 workers"
    assert Cluster(address="tcp://127.0.0.1:8786").local_workers() == 0
    assert Cluster(job_queue="slurm", jobs=3).describe() == "3 slurm job(s) of one Dask worker each"
    monkeypatch.setattr(cluster, "_gpus", lambda: 1)
    assert Cluster(device="cuda").local_workers() == 1  # one GPU: this process, no cluster to start


def test_workers_take_this_process_gpus_in_turn(monkeypatch):
    monkeypatch.setattr(cluster, "_gpus", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert worker_gpus(3) == ["0", "1", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,7")  # a batch job given GPUs 4 and 7: the workers see those
    assert worker_gpus(2) == ["4", "7"]
    monkeypatch.setattr(cluster, "_gpus", lambda: 0)
    assert worker_gpus(2) == []


def _square(shared, item):
    shared.append(item)
    return item * item


def test_the_runner_here_starts_no_item_once_told_to_stop():
    started: list[int] = []
    results = list(Runner().map(_square, range(5), shared=started, stop=lambda: len(started) >= 2))
    assert results == [(0, 0), (1, 1)] and started == [0, 1]


def test_slurm_jobs_run_one_point_at_a_time_with_the_configured_resources():
    config = {"cores": 8, "memory": "32GB", "job-extra-directives": ["--gres=gpu:1"],
              "worker-extra-args": ["--lifetime", "2h"],
              "scheduler-options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}}
    with dask.config.set({f"jobqueue.slurm.{k}": v for k, v in config.items()}), _job_queue_cluster("slurm") as jobs:
        script = jobs.job_script()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --cpus-per-task=8" in script
    assert f"--lifetime 2h --resources {SLOT}=1" in script  # the user's worker arguments kept


def test_a_job_queue_without_its_configuration_is_one_line():
    with dask.config.set({"jobqueue.pbs.cores": None, "jobqueue.pbs.memory": None}), \
            pytest.raises(ValueError) as error:
        _job_queue_cluster("pbs")
    message = str(error.value)
    assert message.startswith("--pbs: You must specify how much cores and memory") and "\n" not in message
    assert message.endswith("(set it in ~/.config/dask/jobqueue.yaml, section jobqueue.pbs)")

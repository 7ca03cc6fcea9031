"""Where a sweep's points run: in this process, on a local Dask cluster, or on a Dask cluster of many machines.

The sweeps (``aimc experiments run``, ``aimc validate mvm``) are lists of independent points. Each point is
one task; its result comes back to this process, the client, which alone writes the results table
(:class:`aimc.results.ResultsCSV`) as each point finishes: one writer, so a run killed at any moment loses
only the points in progress and the same command resumes it. A point's result depends on its scheme, its
network and its seed, never on the worker that ran it, so every way of running gives the same rows.

The engine is Dask (``distributed``; ``dask-jobqueue`` for batch systems). Its local cluster starts in a
second or two on a small machine from pure-Python wheels, and its client speaks the same way to a local
cluster, to a running scheduler and to workers started as Slurm or PBS jobs. ``dask-jobqueue`` submits
those jobs from its own configuration file. A worker that dies has its task rescheduled on another.

:class:`Cluster` says where, as the command line asks (:func:`add_cluster_arguments`,
:func:`cluster_from_args`):

* by default, one worker per GPU for ``--device cuda`` on a machine with two or more GPUs, each worker
  seeing one GPU (``CUDA_VISIBLE_DEVICES``: :func:`worker_gpus`); otherwise this process;
* ``--workers N``: a local cluster of N worker processes (on the CPU the machine's cores are shared out
  between them; with ``--device cuda`` the workers take the GPUs in turn);
* ``--cluster ADDRESS``: the workers of a running Dask scheduler (``dask scheduler``, then
  ``dask worker ADDRESS --nthreads 1`` on each machine: one point at a time per worker);
* ``--slurm JOBS`` / ``--pbs JOBS``: JOBS batch jobs of one worker each, submitted through ``dask-jobqueue``
  with the queue, cores, memory, walltime and GPUs of its configuration
  (``~/.config/dask/jobqueue.yaml``, section ``jobqueue.slurm`` or ``jobqueue.pbs``).

:func:`open_runner` opens it; :meth:`Runner.map` runs a function on items, keeping every worker busy,
and yields each result as it finishes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Cluster", "Runner", "add_cluster_arguments", "cluster_from_args", "open_runner", "worker_gpus"]

JOB_QUEUES = ("slurm", "pbs")
SLOT = "point"
"""The Dask resource each batch-job worker offers once and each task takes: one point at a time per worker,
whatever cores the job has (the point's torch threads use them)."""
CONNECT_SECONDS = 20
STOP_SECONDS = 1.0
"""How long a local worker busy with a point is given to stop when the run ends before it is killed."""
POLL_SECONDS = 2.0
"""How often the client re-counts the workers while it waits for a point (batch-job workers join late)."""


@dataclass(frozen=True)
class Cluster:
    """Where the points run (see the module docstring)."""

    workers: int | None = None
    """Local worker processes (None: one per GPU with two or more GPUs and a CUDA device, else this process)."""
    threads: int | None = None
    """Torch threads per point (None: this machine's cores shared out between the local workers; on a cluster,
    each worker's cores divided by the points it runs at once; in this process, torch's own default)."""
    address: str | None = None
    """A running Dask scheduler (``tcp://host:8786``)."""
    job_queue: str | None = None
    """``slurm`` or ``pbs``: start ``jobs`` workers as batch jobs through dask-jobqueue."""
    jobs: int = 0
    device: str = "cpu"

    def local_workers(self) -> int:
        """How many local worker processes this cluster has (1: this process; 0: none, a remote cluster)."""
        if self.address or self.job_queue:
            return 0
        if self.workers is not None:
            return self.workers
        return max(1, _gpus()) if _is_cuda(self.device) else 1

    def describe(self) -> str:
        """Where the points run, in words."""
        if self.address:
            return f"Dask scheduler {self.address}"
        if self.job_queue:
            return f"{self.jobs} {self.job_queue} job(s) of one Dask worker each"
        n = self.local_workers()
        if n == 1:
            return "this process"
        return f"local Dask cluster of {n} workers" + (" (one GPU each)" if _is_cuda(self.device) else "")


def _is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


def _gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------------------
# running tasks
# ---------------------------------------------------------------------------------------------------------


def _call(function: Callable, shared: Any, item: Any, threads: int | None) -> Any:
    """A task on a worker: ``function(shared, item)`` with ``threads`` torch threads (None: the worker's cores
    divided by the tasks it runs at once)."""
    if threads is None:
        from distributed import get_worker

        threads = max(1, _cores() // max(1, get_worker().state.nthreads))
    torch.set_num_threads(threads)
    return function(shared, item)


class Runner:
    """Runs ``function(shared, item)`` for items, here or on a Dask client, yielding results as they finish."""

    def __init__(self, client=None, threads: int | None = None, resources: dict | None = None):
        self.client = client
        self.threads = threads
        self.resources = resources

    @property
    def in_process(self) -> bool:
        return self.client is None

    def map(
        self,
        function: Callable[[Any, Any], Any],
        items: Iterable[Any],
        shared: Any = None,
        stop: Callable[[], bool] = lambda: False,
        broadcast: bool = False,
    ) -> Iterator[tuple[int, Any]]:
        """``(index, function(shared, item))`` for each item, in the order they finish.

        ``shared`` goes with every task, or with ``broadcast`` once to each worker (a large object; lost if every
        worker holding it dies). No new item is started once ``stop()`` is true; those already started finish.
        ``function`` must be importable on the workers (a module's top-level function).
        """
        if self.client is None:
            yield from self._map_here(function, items, shared, stop)
        else:
            yield from self._map_dask(function, items, shared, stop, broadcast)

    def _map_here(self, function, items, shared, stop) -> Iterator[tuple[int, Any]]:
        old = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            for index, item in enumerate(items):
                if stop():
                    return
                yield index, function(shared, item)
        finally:
            torch.set_num_threads(old)

    def _map_dask(self, function, items, shared, stop, broadcast) -> Iterator[tuple[int, Any]]:
        """Keeps as many tasks in flight as the workers have slots (re-counted while batch-job workers join), so
        that ``stop`` starts no new one."""
        from distributed import wait

        queue = iter(enumerate(items))
        data = self.client.scatter(shared, broadcast=True, hash=False) if broadcast else shared
        index_of: dict = {}
        try:
            while True:
                while len(index_of) < self._slots() and not stop():
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    future = self.client.submit(_call, function, data, nxt[1], self.threads, pure=False,
                                                resources=self.resources)
                    index_of[future] = nxt[0]
                if not index_of:
                    return
                try:
                    done, _ = wait(list(index_of), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    continue
                for future in sorted(done, key=index_of.get):
                    index = index_of.pop(future)
                    yield index, future.result()
        finally:
            self.client.cancel(list(index_of))

    def _slots(self) -> int:
        """Points the cluster can run at once now (at least one, while batch-job workers are starting)."""
        nthreads = self.client.nthreads()
        return max(1, len(nthreads) if self.resources else sum(nthreads.values()))


# ---------------------------------------------------------------------------------------------------------
# opening a cluster
# ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def open_runner(cluster: Cluster) -> Iterator[Runner]:
    """The :class:`Runner` of ``cluster``; a local cluster or batch jobs started here stop when the block ends."""
    local = cluster.local_workers()
    if local == 1:
        yield Runner(threads=cluster.threads)
        return
    from distributed import Client

    with _started(cluster, local) as backend:
        try:
            client = Client(backend if backend is not None else cluster.address, timeout=CONNECT_SECONDS)
        except OSError as error:
            raise ValueError(f"--cluster: cannot reach a Dask scheduler at {cluster.address!r}: {error}") from None
        with client:
            threads = cluster.threads
            if local and threads is None:
                threads = max(1, _cores() // local)
            yield Runner(client, threads, {SLOT: 1} if cluster.job_queue else None)


@contextlib.contextmanager
def _started(cluster: Cluster, local: int) -> Iterator[Any]:
    """The Dask cluster object this process starts (None for a running scheduler's address)."""
    if cluster.address:
        yield None
    elif cluster.job_queue:
        with _job_queue_cluster(cluster.job_queue) as jobs:
            jobs.scale(jobs=cluster.jobs)
            yield jobs
    else:
        with _local_cluster(local, _is_cuda(cluster.device)) as spec:
            yield spec


def _local_cluster(workers: int, gpus: bool):
    """A cluster of ``workers`` worker processes on this machine, one task at a time each; with ``gpus``, the
    workers take the machine's GPUs in turn (each sees one as ``cuda``)."""
    import dask
    from distributed import Nanny, Scheduler, SpecCluster

    preload = [*dask.config.get("distributed.worker.preload", []), __name__]  # dask_setup below
    assigned = worker_gpus(workers) if gpus else []
    if gpus and not assigned:
        raise ValueError("--device: cuda requested but no CUDA GPU is available; use --device cpu")

    def options(i: int) -> dict:
        env = {"CUDA_VISIBLE_DEVICES": assigned[i]} if gpus else {}
        # memory_limit 0: the points size their own work; Dask's default share would restart a worker
        # holding a network and its images
        return {"nthreads": 1, "env": env, "memory_limit": 0, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0",
                "preload": preload, "silence_logs": logging.ERROR}

    class PromptNanny(Nanny):
        """A worker's keeper that stops a busy worker after a second, not five: a stopped run stops at once
        (an idle worker stops at once anyway)."""

        async def close(self, timeout: float = STOP_SECONDS, reason: str = "nanny-close"):
            return await super().close(timeout=timeout, reason=reason)

    return SpecCluster(
        workers={i: {"cls": PromptNanny, "options": options(i)} for i in range(workers)},
        scheduler={"cls": Scheduler, "options": {"dashboard_address": None, "host": "127.0.0.1"}},
        silence_logs=logging.ERROR,
    )


def worker_gpus(workers: int) -> list[str]:
    """The GPU each local worker sees (its ``CUDA_VISIBLE_DEVICES``): this process's GPUs in turn, as this
    process numbers them (the entries of its own ``CUDA_VISIBLE_DEVICES``, if set); [] without a GPU."""
    count = _gpus()
    listed = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    names = listed[:count] if len(listed) >= count else [str(i) for i in range(count)]
    return [names[i % count] for i in range(workers)] if count else []


def dask_setup(worker) -> None:
    """Run by each local worker as it starts (a Dask preload): Ctrl-C at a terminal reaches the whole process
    group, and the client alone stops the run (it closes its workers), so the workers ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _job_queue_cluster(kind: str):
    """A dask-jobqueue cluster whose batch jobs run one worker each, one point at a time (configured by
    dask-jobqueue's own YAML file; no job is submitted until it is scaled)."""
    try:
        import dask
        from dask_jobqueue import PBSCluster, SLURMCluster
    except ImportError:
        raise ValueError(f"--{kind}: needs dask-jobqueue: pip install 'aimc[cluster]'") from None
    extra = list(dask.config.get(f"jobqueue.{kind}.worker-extra-args", None) or [])
    cls = SLURMCluster if kind == "slurm" else PBSCluster
    try:
        cluster = cls(processes=1, worker_extra_args=[*extra, "--resources", f"{SLOT}=1"])
    except ValueError as error:
        message = " ".join(str(error).split())
        raise ValueError(f"--{kind}: {message} (set it in ~/.config/dask/jobqueue.yaml, section "
                         f"jobqueue.{kind})") from None
    return cluster


# ---------------------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------------------


def add_cluster_arguments(parser: argparse.ArgumentParser, threads_default: str) -> None:
    """--workers, --threads, and one of --cluster, --slurm, --pbs."""
    group = parser.add_argument_group("where the points run (Dask)")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="a local cluster of N worker processes, one point at a time each (default: one per "
                       "GPU with --device cuda on a machine with two or more, else this process)")
    group.add_argument("--threads", type=int, default=None, metavar="N", help=f"torch threads per point ({threads_default})")
    group.add_argument("--cluster", default=None, metavar="ADDRESS",
                       help="run the points on the workers of a running Dask scheduler, e.g. tcp://host:8786")
    for kind in JOB_QUEUES:
        group.add_argument(f"--{kind}", type=int, default=None, metavar="JOBS",
                           help=f"submit JOBS {kind.upper()} jobs of one Dask worker each (dask-jobqueue; queue, "
                           f"cores, memory, GPUs from ~/.config/dask/jobqueue.yaml, section jobqueue.{kind})")


def cluster_from_args(args: argparse.Namespace, device: str = "cpu") -> Cluster:
    """The :class:`Cluster` the arguments ask for; ValueError naming the flag for a bad or clashing value."""
    chosen = [f"--{name}" for name in ("workers", "cluster", *JOB_QUEUES) if getattr(args, name) is not None]
    if len(chosen) > 1:
        raise ValueError(f"{chosen[0]}: cannot be combined with {chosen[1]}; allowed: one of --workers, --cluster, "
                         "--slurm, --pbs")
    for name in ("workers", "threads", *JOB_QUEUES):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name}: must be >= 1, got {value}")
    kind = next((k for k in JOB_QUEUES if getattr(args, k) is not None), None)
    return Cluster(workers=args.workers, threads=args.threads, address=args.cluster, job_queue=kind,
                   jobs=getattr(args, kind) if kind else 0, device=device)

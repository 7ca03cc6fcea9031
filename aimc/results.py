"""Results files that survive interruption: CSV read and atomic CSV write, shared by every long run.

A results table is rewritten whole through a temporary file in its own folder, flushed to disk, then moved
over the old one with ``os.replace``: a reader, or a run killed at any moment, sees the old file or the new
one, never a partial file. Sweeps write after every finished point, so an interruption loses at most the
point in progress. Processes that add rows to the same table concurrently (several sweeps sharing a GPU)
take :func:`folder_lock` around their read-modify-write, so no row is lost to a race.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one writer per table
    fcntl = None

__all__ = ["DEFAULT_RESULTS_DIR", "atomic_file", "folder_lock", "read_csv", "write_csv_atomic"]

DEFAULT_RESULTS_DIR = "aimc_results"
"""The folder, relative to the current directory, where long runs write their result files unless told
otherwise (``--out``); nothing is ever written inside the installed package."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (created if missing), held for the ``with`` block.

    The lock is taken on the folder itself (``flock``), so no lock file is left beside the results. Every
    writer of a table in the folder must take it; readers need not (the write is atomic). Without
    ``fcntl`` (not POSIX) this is a no-op.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a CSV file with a header ([] when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """A file handle whose content replaces ``path`` in one atomic step when the ``with`` block ends.

    Written to a temporary file in the same folder, flushed to disk, given the permissions of a newly
    created file (umask, not the temporary file's private ones), then moved over ``path``; on an error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv_atomic(
    path: str | os.PathLike, rows: Iterable[dict[str, str]], columns: Sequence[str] | None = None
) -> None:
    """Replace ``path`` by a CSV of ``rows`` in one atomic step (:func:`atomic_file`).

    ``columns`` defaults to the union of the rows' keys in first-seen order; keys outside ``columns`` are
    left out, missing ones written empty.
    """
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
    with atomic_file(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

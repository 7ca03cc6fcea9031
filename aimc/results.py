"""Results files that survive interruption: the one resumable results table, and its atomic CSV write.

:class:`ResultsCSV` is the table every long run writes: the accuracy CSVs (:mod:`aimc.validation.accuracy`,
:mod:`aimc.validation.experiments`, :mod:`aimc.validation.predict`), the MVM sweep and the conformance
suite (:mod:`aimc.validation.sweep`), and the figure data (:mod:`aimc.figures._base`). A table is rewritten
whole through a temporary file in its own folder, flushed to disk, then moved over the old one with
``os.replace`` (:func:`atomic_file`): a reader, or a run killed at any moment, sees the old file or the new
one, never a partial file. Runs add each point as it finishes, so an interruption loses at most the point
in progress. Every addition is a read-modify-write under :func:`folder_lock`, so processes that add rows to
the same table concurrently (several sweeps sharing a GPU) lose no row to a race. Values are written as
:func:`cell_text` and read back with :func:`number` and :func:`flag`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one writer per table
    fcntl = None

__all__ = [
    "DEFAULT_RESULTS_DIR",
    "Key",
    "ResultsCSV",
    "atomic_file",
    "cell_text",
    "flag",
    "folder_lock",
    "number",
    "read_csv",
    "write_csv_atomic",
]

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


Key = str | tuple[str, ...]
"""What identifies a result in a :class:`ResultsCSV`: the text of its one key field, or the tuple of the
texts of several."""


def cell_text(value: object) -> str:
    """The CSV text of a value: floats with full precision (``repr``), lists, tuples and dicts as compact
    JSON, None as empty, anything else (str, int, bool) as ``str``."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float):
        return repr(float(value))  # a numpy float's own repr would name its type
    return str(value)


def number(row: Mapping, key: str) -> float:
    """The float in a row's cell (NaN when it is empty, missing or not a number)."""
    try:
        return float(row.get(key))
    except (TypeError, ValueError):
        return math.nan


def flag(row: Mapping, key: str) -> bool:
    """Whether a row's cell says true (``True`` as :func:`cell_text` writes it, or ``true`` as older MVM and
    conformance rows hold it)."""
    return str(row.get(key, "")).lower() == "true"


class ResultsCSV:
    """A resumable table of result rows in one CSV file, each result identified by its key fields.

    ``key_fields``: the columns whose text (:func:`cell_text`) identifies a result, so that ``{"chips": 5}``
    finds the row written from it; with one field a key is that text, with several the tuple of them
    (:data:`Key`). :meth:`find` and :meth:`finished` take a key or any row that holds the key fields. A
    result may be stored as several rows with one key (a figure point drawn per layer); :meth:`add`
    replaces them together. A result is finished when its row has no ``error_message``: a failed point is
    recorded with its error, and retried by the next run.

    ``columns``: the file's columns in order (default: the union of the rows' columns, first seen first;
    cells outside fixed columns are dropped). ``sort_key``: the order in which rows are written (default:
    as added, a replaced result moving to the end).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        key_fields: Sequence[str],
        columns: Sequence[str] | None = None,
        sort_key: Callable[[dict[str, str]], Any] | None = None,
    ):
        if not key_fields:
            raise ValueError("ResultsCSV: key_fields must name at least one column")
        self.path = Path(path)
        self.key_fields = tuple(key_fields)
        self.columns = None if columns is None else tuple(columns)
        self.sort_key = sort_key

    def key(self, row: Mapping) -> Key:
        """The key of a row: its key fields as CSV text (a missing field counts as empty)."""
        parts = tuple(cell_text(row.get(name, "")) for name in self.key_fields)
        return parts[0] if len(parts) == 1 else parts

    @property
    def rows(self) -> dict[Key, dict[str, str]]:
        """The stored rows by key, in file order, as the file holds them now (for a result stored as several
        rows, its first; :func:`read_csv` gives them all)."""
        out: dict[Key, dict[str, str]] = {}
        for row in read_csv(self.path):
            out.setdefault(self.key(row), row)
        return out

    def find(self, key: Key | Mapping) -> dict[str, str] | None:
        """The stored row of ``key`` (a key, or a row holding the key fields), or None."""
        return self.rows.get(self.key(key) if isinstance(key, Mapping) else key)

    def finished(self, key: Key | Mapping) -> bool:
        """Whether ``key`` has a stored row without an ``error_message``."""
        row = self.find(key)
        return row is not None and not row.get("error_message")

    def finished_keys(self) -> set[Key]:
        """The keys of every finished result, from one read of the file (to test many points at once)."""
        return {key for key, row in self.rows.items() if not row.get("error_message")}

    def add(self, rows: Mapping | Iterable[Mapping]) -> None:
        """Store one row, or the rows of several results at once, replacing the stored rows of their keys.

        The file is read, changed and written atomically under :func:`folder_lock`: another process may be
        adding to the same table, and its rows are kept.
        """
        new = [{name: cell_text(v) for name, v in row.items()}
               for row in ([rows] if isinstance(rows, Mapping) else rows)]
        if not new:
            return
        keys = {self.key(row) for row in new}
        with folder_lock(self.path.parent):
            table = [row for row in read_csv(self.path) if self.key(row) not in keys] + new
            if self.sort_key is not None:
                table.sort(key=self.sort_key)
            write_csv_atomic(self.path, table, self.columns)

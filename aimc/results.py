"""Results files that survive interruption: the one resumable results table, and its atomic CSV write.

:class:`ResultsCSV` is the table every long run writes: the accuracy CSVs (:mod:`aimc.validation.accuracy`,
:mod:`aimc.validation.experiments`), the MVM sweep and the conformance
suite (:mod:`aimc.validation.sweep`), and the figure data (:mod:`aimc.figures._base`). A table is rewritten
whole through a temporary file in its own folder, flushed to disk, then moved over the old one with
``os.replace`` (:func:`atomic_file`): a reader, or a run killed at any moment, sees the old file or the new
one, never a partial file. Runs add each point as it finishes, so an interruption loses at most the point
in progress. Every addition is a read-modify-write under :func:`folder_lock`, so processes that add rows to
the same table concurrently (several sweeps sharing a GPU) lose no row to a race. Values are written as
:func:`cell_text` and read back with :func:`number` and :func:`flag`.

Results that cannot go stale: a row made by a simulation carries the version of the code that made it
(:data:`ENGINE_VERSION`, :data:`SCHEME_VERSION`, as the columns :data:`VERSION_FIELDS`; :func:`current_versions`
gives them for a new row). A table opened with ``versioned=True`` counts a row as finished only when its
versions are the current ones: a row of another version is *stale* (:meth:`ResultsCSV.stale`), reported by
the runs that find it and computed again, and the new row replaces it (the table keeps one answer per key;
earlier answers stay in the history of a committed file). A row without the columns was made before
versions were recorded and reads as version :data:`UNVERSIONED`: it stays readable, and is never reused.

A long run tells the command line what it has kept so far (:func:`set_resume_note`), so that an
interrupted run can say in one line what was kept and how to resume (:func:`resume_note`).
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
    "ENGINE_VERSION",
    "SCHEME_VERSION",
    "UNVERSIONED",
    "VERSION_FIELDS",
    "Key",
    "ResultsCSV",
    "atomic_file",
    "cell_text",
    "check_output",
    "current_versions",
    "flag",
    "folder_lock",
    "is_current",
    "number",
    "read_csv",
    "resume_note",
    "row_versions",
    "set_resume_note",
    "write_csv_atomic",
]

DEFAULT_RESULTS_DIR = "aimc_results"
"""The folder, relative to the current directory, where long runs write their result files unless told
otherwise (``--out``); nothing is ever written inside the installed package."""

ENGINE_VERSION = 3
"""The version of the numbers the simulation gives for one scheme, network, set of images and seed: the Monte
Carlo engine (:mod:`aimc.montecarlo`), the reference signal path and ADC definitions it runs (:mod:`aimc`),
and the accuracy path (calibration, chips, baselines: :mod:`aimc.validation.accuracy`). Bump it with every
change that can move a result for the same scheme hash: another random stream or calibration sample, another
order of the floating-point sums that an ADC or a quantiser rounds, another path for a layer. A change that
keeps every number (same codes, same draws) keeps it. ``tests/aimc/test_code_version.py`` holds the engine's
outputs on fixed small cases for this version and fails when they change while the version stays.

Version 1: the engine as of 2026-12-03, when versions were first recorded (the convolution-native ADC path,
integer-exact ideal cells, the fused conversion summing integer codes). Rows made before are
:data:`UNVERSIONED`: the committed results README says which of them a later engine reproduces. Later
versions are listed in :data:`ENGINE_CHANGES`."""

ENGINE_CHANGES: dict[int, tuple[str, str]] = {
    2: ("device.read_noise.model", ("per-device read noise is drawn only for the devices a read drives (an "
                                    "undriven device adds exactly 0): the same distribution from another random "
                                    "stream")),
    3: ("device.read_noise.model", ("network layers (convert) draw read noise output-referred by default "
                                    "wherever it is identical in distribution to the per-device draw (no wire "
                                    "resistance): the same distribution from another random stream")),
}
"""For each engine version after the first: the scheme field through which a scheme meets the change, and the
change. A row made by an earlier version (with its ``scheme_json``) stays current when every later change's
field has its default value in the row's scheme: the change cannot have moved its numbers."""

SCHEME_VERSION = 1
"""The version of what a scheme's JSON means. Bump it when a field keeps its name and value but the hardware
it describes changes (a range policy's rule, a device law's normalisation, a mapping's decode). A new field or
a new default changes the JSON, and so every scheme hash, by itself."""

VERSION_FIELDS = ("engine_version", "scheme_version")
"""The columns of a row that say which code made it."""

UNVERSIONED = "0"
"""The version of a row made before versions were recorded (no version columns): readable, never reused."""

_RESUME_NOTE = [""]


def current_versions() -> dict[str, str]:
    """The version columns of a row made now."""
    return {"engine_version": str(ENGINE_VERSION), "scheme_version": str(SCHEME_VERSION)}


def row_versions(row: Mapping) -> dict[str, str]:
    """The version columns of a stored row (:data:`UNVERSIONED` where a column is missing or empty)."""
    return {name: str(row.get(name) or UNVERSIONED) for name in VERSION_FIELDS}


def is_current(row: Mapping) -> bool:
    """Whether a stored row holds what the current code would give: made by the current versions, or by an
    earlier engine version of the same scheme version none of whose later changes (:data:`ENGINE_CHANGES`)
    touch the row's scheme."""
    versions = row_versions(row)
    if versions == current_versions():
        return True
    made = int(versions["engine_version"]) if versions["engine_version"].isdigit() else 0
    if versions["scheme_version"] != str(SCHEME_VERSION) or not row.get("scheme_json") or not 1 <= made < ENGINE_VERSION:
        return False
    return not any(_meets(str(row["scheme_json"]), ENGINE_CHANGES[v][0]) for v in range(made + 1, ENGINE_VERSION + 1))


def _meets(scheme_json: str, path: str) -> bool:
    """Whether the scheme (JSON) sets the field ``path`` to something other than its default."""
    from .scheme import Scheme  # the vocabulary, imported only when an older row is judged

    value, default = json.loads(scheme_json), Scheme().to_dict()
    for part in path.split("."):
        value, default = value.get(part) if isinstance(value, dict) else None, default[part]
    return value != default


def set_resume_note(text: str) -> None:
    """Say what the run in progress has kept and how to resume it (printed if it is interrupted)."""
    _RESUME_NOTE[0] = text


def resume_note() -> str:
    """What the run in progress has kept and how to resume it ("" when nothing was said)."""
    return _RESUME_NOTE[0]


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


def check_output(path: str | os.PathLike, flag: str, folder: bool = False) -> None:
    """Refuse, before any work, an output that could not be written at the end: a file path that is a folder
    (or a folder path that is a file, with ``folder``), an existing file that cannot be read and replaced, or a
    place where no file can be created (tried with a temporary file in the nearest existing folder, which is
    removed). ValueError naming ``flag``."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{flag}: {str(path)!r} is a file; allowed: a folder (created if missing)")
    if not folder and path.is_dir():
        raise ValueError(f"{flag}: {str(path)!r} is a folder; allowed: a file path, e.g. {str(path / 'results.csv')!r}")
    if not folder and path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise ValueError(f"{flag}: {str(path)!r} cannot be read and replaced")
    existing = path if folder else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag}: {str(existing)!r} is a file, so {str(path)!r} cannot be made")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".aimc-write-check.")
    except OSError as e:
        raise ValueError(f"{flag}: cannot write in {str(existing)!r} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


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
    as added, a replaced result moving to the end). ``versioned``: a row is finished only when it was made
    by the current code (:func:`is_current`); the others are :meth:`stale`. A writer of a versioned table
    puts :func:`current_versions` into each row it makes.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        key_fields: Sequence[str],
        columns: Sequence[str] | None = None,
        sort_key: Callable[[dict[str, str]], Any] | None = None,
        versioned: bool = False,
    ):
        if not key_fields:
            raise ValueError("ResultsCSV: key_fields must name at least one column")
        self.path = Path(path)
        self.key_fields = tuple(key_fields)
        self.columns = None if columns is None else tuple(columns)
        self.sort_key = sort_key
        self.versioned = versioned

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

    def _done(self, row: Mapping) -> bool:
        return not row.get("error_message") and (not self.versioned or is_current(row))

    def finished(self, key: Key | Mapping) -> bool:
        """Whether ``key`` has a stored row without an ``error_message`` (of the current code, if versioned)."""
        row = self.find(key)
        return row is not None and self._done(row)

    def finished_keys(self) -> set[Key]:
        """The keys of every finished result, from one read of the file (to test many points at once)."""
        return {key for key, row in self.rows.items() if self._done(row)}

    def stale(self) -> dict[Key, dict[str, str]]:
        """The stored rows made by another version of the code, by key ({} unless versioned): to report and
        compute again, never to reuse."""
        if not self.versioned:
            return {}
        return {key: row for key, row in self.rows.items() if not is_current(row)}

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

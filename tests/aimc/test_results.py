"""Atomic results files: an interrupted write leaves the old file intact and no temporary file behind."""

import os

import pytest

from aimc import results


def test_round_trip_and_column_union(tmp_path):
    path = tmp_path / "sub" / "r.csv"
    results.write_csv_atomic(path, [{"a": "1"}, {"a": "2", "b": "x"}])
    assert results.read_csv(path) == [{"a": "1", "b": ""}, {"a": "2", "b": "x"}]
    assert results.read_csv(tmp_path / "missing.csv") == []
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)  # not the temporary file's private mode


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    results.write_csv_atomic(path, [{"a": "old"}])

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        results.write_csv_atomic(path, [{"a": "new"}])
    assert results.read_csv(path) == [{"a": "old"}]
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def _add_rows(path: str, writer: int, count: int, start) -> None:
    from aimc.validation.accuracy import ResultsCSV

    store = ResultsCSV(path, ("writer", "i"))
    start.wait()  # all writers at once, so that unlocked read-modify-writes would overlap
    for i in range(count):
        store.add({"writer": writer, "i": i, "value": f"{writer}-{i}"})


def test_concurrent_writers_lose_no_row(tmp_path):
    """Several processes adding to one table (sweeps sharing a GPU): every row must survive."""
    import multiprocessing

    path = str(tmp_path / "shared.csv")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_add_rows, args=(path, w, 40, start)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = results.read_csv(path)
    assert sorted((r["writer"], int(r["i"])) for r in rows) == [(str(w), i) for w in range(4) for i in range(40)]
    assert [p.name for p in tmp_path.iterdir()] == ["shared.csv"]  # no lock or temporary file left


def test_folder_lock_is_exclusive(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    with results.folder_lock(tmp_path / "new"):
        fd = os.open(tmp_path / "new", os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(tmp_path / "new", os.O_RDONLY)  # released after the block
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)

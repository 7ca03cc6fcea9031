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

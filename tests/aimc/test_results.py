"""Results files: an interrupted write leaves the old file intact and no temporary file behind, and the one
results table (ResultsCSV) finds rows by the text of their keys and loses none to concurrent writers."""

import math
import os

import numpy as np
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
    store = results.ResultsCSV(path, ("writer", "i"))
    start.wait()  # all writers at once, so that unlocked read-modify-writes would overlap
    for i in range(count):
        if i % 2:
            store.add({"writer": writer, "i": i, "value": f"{writer}-{i}"})
        else:  # several results in one addition, as a figure point drawn per layer
            store.add([{"writer": writer, "i": i, "value": f"{writer}-{i}"}])


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


def test_rows_are_found_by_the_text_of_their_keys(tmp_path):
    store = results.ResultsCSV(tmp_path / "r.csv", ("model", "chips", "alpha"))
    store.add({"model": "m", "chips": 5, "alpha": 0.1, "accuracies": [0.5, 0.25], "ok": True, "none": None})
    assert store.find({"model": "m", "chips": "5", "alpha": "0.1"})["accuracies"] == "[0.5,0.25]"
    assert store.find(("m", "5", "0.1")) == store.find({"model": "m", "chips": 5, "alpha": 0.1, "other": 1})
    assert store.find({"model": "m", "chips": 4, "alpha": 0.1}) is None
    row = results.read_csv(tmp_path / "r.csv")[0]
    assert (row["ok"], row["none"]) == ("True", "")
    assert list(store.rows) == [("m", "5", "0.1")]


def test_a_result_of_several_rows_is_replaced_whole(tmp_path):
    store = results.ResultsCSV(tmp_path / "r.csv", ("point",))
    store.add([{"point": "a", "layer": 0}, {"point": "a", "layer": 1}, {"point": "b", "layer": 0}])
    store.add([{"point": "a", "layer": 0, "v": 2}])
    assert [(r["point"], r["layer"], r["v"]) for r in results.read_csv(store.path)] == [("b", "0", ""),
                                                                                       ("a", "0", "2")]
    assert store.finished_keys() == {"a", "b"}


def test_failed_rows_are_not_finished_and_fixed_columns_and_order_are_kept(tmp_path):
    store = results.ResultsCSV(tmp_path / "r.csv", ("key",), columns=("key", "index", "error_message"),
                               sort_key=lambda row: int(row["index"]))
    store.add({"key": "late", "index": 2, "error_message": "", "dropped": "x"})
    store.add({"key": "failed", "index": 1, "error_message": "RuntimeError: boom"})
    store.add({"key": "early", "index": 0})
    assert store.finished("late") and store.finished("early") and not store.finished("failed")
    assert store.finished_keys() == {"late", "early"}
    assert not store.finished("missing") and store.find("missing") is None
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines == ["key,index,error_message", "early,0,", "failed,1,RuntimeError: boom", "late,2,"]


def test_cell_text_and_its_readers():
    assert results.cell_text(0.1 + 0.2) == "0.30000000000000004"
    assert results.cell_text(np.float64(0.25)) == "0.25"  # not numpy's own repr
    assert results.cell_text({"a": [1, 2]}) == '{"a":[1,2]}'
    assert (results.cell_text(None), results.cell_text(False), results.cell_text(3)) == ("", "False", "3")
    row = {"x": "2.5", "empty": "", "text": "n/a", "yes": "True", "old": "true", "no": "false"}
    assert results.number(row, "x") == 2.5
    assert all(math.isnan(results.number(row, k)) for k in ("empty", "text", "missing"))
    assert results.flag(row, "yes") and results.flag(row, "old") and not results.flag(row, "no")
    assert not results.flag(row, "missing")


def test_a_versioned_table_reuses_only_rows_of_the_current_code(tmp_path):
    """Rows of another engine or scheme version, and rows made before versions were recorded, are stale:
    never finished, listed for a rerun; the rerun's row replaces them."""
    store = results.ResultsCSV(tmp_path / "r.csv", ("point",), versioned=True)
    store.add([{"point": "old", "value": 1.0},  # made before versions were recorded
               {"point": "other", "value": 2.0, "engine_version": results.ENGINE_VERSION + 1,
                "scheme_version": results.SCHEME_VERSION},
               {"point": "new", "value": 3.0, **results.current_versions()}])
    assert store.finished_keys() == {"new"}
    assert not store.finished("old") and not store.finished({"point": "other"})
    assert set(store.stale()) == {"old", "other"}
    assert results.row_versions(store.find("old")) == {"engine_version": "0", "scheme_version": "0"}
    store.add({"point": "old", "value": 4.0, **results.current_versions()})
    assert store.finished("old") and set(store.stale()) == {"other"}
    assert [r["point"] for r in results.read_csv(store.path)].count("old") == 1
    plain = results.ResultsCSV(store.path, ("point",))  # an unversioned table reuses every row
    assert plain.finished_keys() == {"old", "other", "new"} and plain.stale() == {}


def test_resume_note_is_what_the_run_last_said():
    results.set_resume_note("kept 3 rows in x.csv; the same command resumes")
    assert results.resume_note() == "kept 3 rows in x.csv; the same command resumes"
    results.set_resume_note("")
    assert results.resume_note() == ""


def test_a_row_of_an_older_engine_stays_current_unless_a_later_change_touches_its_scheme():
    from aimc.scheme import Scheme

    plain = Scheme()
    noisy = plain.with_overrides({"device.read_noise.model": "state_independent", "device.read_noise.alpha": 0.01})
    made_by_1 = {"engine_version": "1", "scheme_version": str(results.SCHEME_VERSION)}
    assert results.ENGINE_CHANGES[2][0] == "device.read_noise.model"
    assert results.is_current({**made_by_1, "scheme_json": plain.to_json()})
    assert not results.is_current({**made_by_1, "scheme_json": noisy.to_json()})
    assert not results.is_current(made_by_1)  # without its scheme a row cannot be judged: stale
    assert not results.is_current({**made_by_1, "scheme_version": "0", "scheme_json": plain.to_json()})

"""Tests of aimc.validation.accuracy, the experiments runner and `aimc accuracy`.

The logic runs on a tiny random CNN (seconds); the whole path runs on both reference ResNet-50s and on
the ImageNet path with a handful of real images and one chip on the CPU (skipped with a message when the
shared folder is absent).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from aimc.montecarlo.layers import reprogram as acc_reprogram
from aimc.validation import accuracy as acc
from aimc.validation import experiments as exps
from aimc.validation.accuracy import KEY_FIELDS, Network
from aimc.validation.models import find_shared_dir, resnet50

from aimc.cli import main as aimc_main
from aimc.results import ENGINE_VERSION, ResultsCSV, read_csv, resume_note, write_csv_atomic
from aimc.scheme import Scheme

from . import tiny_reference

# ---------------------------------------------------------------------------------------------------------
# a tiny network for the logic
# ---------------------------------------------------------------------------------------------------------


def tiny_network(images: int = 48, seed: int = 0) -> Network:
    return tiny_reference.tiny_network("tiny", images, seed, calibration=16)


def predictions(net: Network, scheme: Scheme) -> torch.Tensor:
    analog = acc.convert_network(net, scheme)
    with torch.no_grad():
        return analog(acc.normalise(net.images, net.mean, net.std)).argmax(1)


IDEAL_EXACT = [
    # no ADC: the analog product is the integer product whatever the mapping
    {"adc.bits": 0},
    {"adc.bits": 0, "mapping.kind": "offset", "weights.slices": 4, "array.rows": 16},
    # a granular ADC with enough bits for 16 rows of 2-bit digits and 1-bit input slices converts exactly
    {
        "mapping.kind": "offset",
        "weights.slices": 4,
        "array.rows": 16,
        "inputs.accumulation": "digital",
        "adc.bits": 8,
        "adc.range": "granular",
    },
    {
        "mapping.kind": "differential",
        "weights.slices": 7,
        "array.rows": 16,
        "inputs.accumulation": "digital",
        "adc.bits": 8,
        "adc.range": "granular",
    },
]


@pytest.mark.parametrize("overrides", IDEAL_EXACT)
def test_ideal_devices_reproduce_the_quantised_baseline(overrides):
    net = tiny_network()
    scheme = Scheme().with_overrides(overrides)
    base = acc.baselines(net, scheme)
    assert torch.equal(predictions(net, scheme), predictions(net, acc.quantized_scheme(scheme)))
    assert acc.evaluate_chips(net, scheme, progress=False) == [base["baseline_quantized"]]
    # the quantised model is a different model from the float one (8-bit): both are real numbers in [0, 1]
    assert 0.0 <= base["baseline_float"] <= 1.0


def test_accuracy_refuses_a_network_whose_logits_are_not_finite():
    """The analog layers skip their own NaN check in accuracy runs; the logits check must catch it."""
    net = tiny_network()
    chips = acc.evaluate_chips(net, Scheme(), 1, 0, batch_size=16, progress=False)
    assert 0.0 <= chips[0] <= 1.0
    net.model.fc.bias.data[0] = float("nan")  # becomes the analog network's last bias
    with pytest.raises(RuntimeError, match="not finite for test images 0..15"):
        acc.evaluate_chips(net, Scheme(), 1, 0, batch_size=16, progress=False)


def test_quantized_scheme_keeps_only_the_quantisation():
    s = Scheme().with_overrides(
        {
            "weights.bits": 6,
            "inputs.bits": 5,
            "mapping.kind": "offset",
            "device.programming.model": "state_independent",
            "device.programming.alpha": 0.05,
            "adc.bits": 4,
        }
    )
    q = acc.quantized_scheme(s)
    assert (q.weights.bits, q.inputs.bits, q.adc.bits) == (6, 5, 0)
    assert not q.device.programming.active and q.parasitics.r == 0
    assert acc.scheme_hash(q) == acc.scheme_hash(acc.quantized_scheme(s.with_overrides({"adc.bits": 8})))


def test_chips_differ_and_repeat():
    net = tiny_network()
    noisy = Scheme().with_overrides(
        {"adc.bits": 0, "device.programming.model": "state_independent", "device.programming.alpha": 0.15}
    )
    first = acc.evaluate_chips(net, noisy, chips=4, seed=3, progress=False)
    again = acc.evaluate_chips(net, noisy, chips=4, seed=3, progress=False)
    assert first == again  # same seed, same chips
    assert len(set(first)) > 1  # chips are programmed differently
    assert (
        acc.evaluate_chips(net, noisy, chips=2, seed=3, progress=False) == first[:2]
    )  # chip c independent of K
    mean, std = acc.summarize(first)
    assert mean == pytest.approx(sum(first) / 4) and std > 0
    assert acc.summarize([0.5]) == (0.5, 0.0)


def test_scheme_hash_is_stable_and_discriminating():
    a = Scheme().with_overrides({"adc.bits": 6})
    assert acc.scheme_hash(a) == acc.scheme_hash(Scheme.from_json(a.to_json()))
    assert acc.scheme_hash(a) != acc.scheme_hash(Scheme())


# ---------------------------------------------------------------------------------------------------------
# results files
# ---------------------------------------------------------------------------------------------------------


def _key(**changes) -> dict:
    key = {"model": "tiny", "data": "", "calibration": "", "scheme_hash": "h", "images": "16", "chips": "4",
           "seed": "0", "calibration_images": "16"}
    return {**key, **changes}


_NOISY = Scheme().with_overrides({"adc.bits": 0, "device.programming.model": "state_proportional",
                                  "device.programming.alpha": 0.3})


def test_stored_results_are_reused_only_when_finished_by_this_code(tmp_path):
    store = ResultsCSV(tmp_path / "r.csv", KEY_FIELDS, versioned=True)
    net, calls, log = tiny_network(images=16), [], []

    def network():
        calls.append(1)
        return net

    first, cached1 = acc.run_stored(store, _key(), network, _NOISY, chips=4, progress=False, log=log.append)
    second, cached2 = acc.run_stored(store, _key(), network, _NOISY, chips=4, progress=False, log=log.append)
    assert (cached1, cached2) == (False, True) and calls == [1]  # the finished row: no network, no work
    assert second["accuracies"] == first["accuracies"] and second["accuracy_mean"] == first["accuracy_mean"]
    row = store.find(_key())
    assert Scheme.from_json(row["scheme_json"]) == _NOISY and row["engine_version"] == str(ENGINE_VERSION)
    assert row["model_hash"] == acc.network_identity(net)["model_hash"] and len(row["data_hash"]) == 16
    store.add({**row, "engine_version": "0", "accuracies": "[0.0, 0.0, 0.0, 0.0]"})  # a row of an older engine
    third, cached3 = acc.run_stored(store, _key(), network, _NOISY, chips=4, progress=False, log=log.append)
    assert not cached3 and third["accuracies"] == first["accuracies"] and "stale" in log[-1]
    assert store.find(_key())["engine_version"] == str(ENGINE_VERSION) and len(read_csv(store.path)) == 1


def test_an_interrupted_run_keeps_its_chips_and_resumes_at_the_first_missing(tmp_path, monkeypatch):
    net = tiny_network(images=16)
    whole = acc.accuracy_for_scheme(tiny_network(images=16), _NOISY, chips=4, progress=False)["accuracies"]
    store = ResultsCSV(tmp_path / "r.csv", KEY_FIELDS, versioned=True)
    real, evaluated = acc._correct, []

    def interrupted_at_chip_2(model, network, batch_size, bar):
        if len(evaluated) == 2:
            raise KeyboardInterrupt
        evaluated.append(1)
        return real(model, network, batch_size, bar)

    monkeypatch.setattr(acc, "_correct", interrupted_at_chip_2)
    with pytest.raises(KeyboardInterrupt):
        acc.run_stored(store, _key(), lambda: net, _NOISY, chips=4, progress=False, log=lambda m: None)
    kept = store.find(_key())
    assert kept["error_message"].startswith(acc.UNFINISHED) and json.loads(kept["accuracies"]) == whole[:2]
    assert "resumes at chip 2" in resume_note() and not store.finished(_key())
    monkeypatch.setattr(acc, "_correct", real)
    counted = []
    monkeypatch.setattr(acc, "reprogram", lambda model, seed, *rest: counted.append(seed) or acc_reprogram(model, seed, *rest))
    result, cached = acc.run_stored(store, _key(), lambda: net, _NOISY, chips=4, progress=False, log=lambda m: None)
    assert not cached and result["resumed_at_chip"] == 2 and result["accuracies"] == whole
    assert counted == [acc.chip_seed(0, 2), acc.chip_seed(0, 3)]  # chips 0 and 1 were not programmed again
    assert store.finished(_key()) and not store.find(_key())["error_message"] and resume_note() == ""


def test_a_row_is_read_back_as_its_request(tmp_path):
    store = ResultsCSV(tmp_path / "r.csv", KEY_FIELDS, versioned=True)
    net = tiny_network(images=16)
    key = acc.result_key("tiny", None, _NOISY, 16, 3, 5, 16)
    acc.run_stored(store, key, lambda: net, _NOISY, chips=3, seed=5, progress=False)
    request = acc.row_request(f"{store.path}:1")
    assert request.scheme == _NOISY and (request.images, request.chips, request.seed) == (16, 3, 5)
    assert request.calibration_images == 16 and request.data is None and request.model == "tiny"
    point = next(p for p in exps.EXPERIMENTS["adc-rows"].points if p.label == "offset rows=1152")
    legacy = {"experiment": "adc-rows", "point": point.label, "model": "m", "images": "8", "chips": "1",
              "seed": "0", "calibration_images": "500",
              "scheme_hash": acc.scheme_hash(exps.EXPERIMENTS["adc-rows"].scheme(point))}
    write_csv_atomic(tmp_path / "legacy.csv", [legacy, {**legacy, "scheme_hash": "0000000000000000"}])
    assert acc.row_request(f"{tmp_path / 'legacy.csv'}:1").scheme == exps.point_scheme("adc-rows/offset rows=1152")
    for spec, needle in [(f"{tmp_path / 'legacy.csv'}:2", "definition changed"),
                         (f"{tmp_path / 'legacy.csv'}:3", "has 2 rows"), (f"{tmp_path / 'legacy.csv'}", "FILE:N"),
                         (f"{tmp_path / 'missing.csv'}:1", "no such file")]:
        with pytest.raises((ValueError, FileNotFoundError), match=needle):
            acc.row_request(spec)


def test_results_csv_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    store = ResultsCSV(path, ("k",))
    store.add({"k": "a", "v": 1})
    before = path.read_bytes()

    def broken(self, rows):
        raise OSError("disk full")

    monkeypatch.setattr(csv.DictWriter, "writerows", broken)
    with pytest.raises(OSError):
        store.add({"k": "b", "v": 2})
    assert path.read_bytes() == before  # the old file, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temporary file left behind
    monkeypatch.undo()
    store.add({"k": "b", "v": 2, "new_column": "x"})
    store.add({"k": "a", "v": 3})  # same key: replaced, not duplicated
    rows = list(store.rows.values())
    assert [(r["k"], r["v"]) for r in rows] == [("b", "2"), ("a", "3")]
    assert rows[0]["new_column"] == "x" and rows[1]["new_column"] == ""


def test_experiment_runner_writes_each_point_and_resumes(tmp_path, monkeypatch):
    net = tiny_network(images=16)
    exp = exps.Experiment(
        "toy",
        "two points",
        (
            exps.Point("ideal", {}),
            exps.Point(
                "noisy", {"device.programming.model": "state_proportional", "device.programming.alpha": 0.2}
            ),
        ),
        {"adc.bits": 0},
    )
    calls = []
    real = acc.evaluate_chips

    def counting(*args, **kwargs):
        calls.append(kwargs.get("chips", args[2] if len(args) > 2 else 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(acc, "evaluate_chips", counting)
    path = exps.run_experiment(
        exp, net, chips=3, root=tmp_path, progress=False, log=lambda m: None, deadline=0.0
    )  # a past deadline: nothing is started
    assert not path.exists() and calls == []
    exps.run_experiment(exp, net, chips=3, root=tmp_path, progress=False, log=lambda m: None, match="ideal")
    rows = read_csv(path)
    assert [r["point"] for r in rows] == ["ideal"] and rows[0]["chips"] == "1"  # ideal devices: one chip
    n_calls = len(calls)
    exps.run_experiment(exp, net, chips=3, root=tmp_path, progress=False, log=lambda m: None)
    rows = read_csv(path)
    assert [r["point"] for r in rows] == ["ideal", "noisy"]
    noisy = rows[1]
    assert noisy["chips"] == "3" and len(json.loads(noisy["accuracies"])) == 3
    assert noisy["set:device.programming.alpha"] == "0.2" and noisy["images"] == "16"
    for column in (
        "experiment",
        "accuracy_mean",
        "accuracy_std",
        "baseline_float",
        "baseline_quantized",
        "seconds",
        "device",
        "seed",
        "scheme_hash",
    ):
        assert noisy[column] != ""
    done = len(calls)
    assert done == n_calls + 1  # the finished point was not recomputed (baselines were cached on net)
    exps.run_experiment(exp, net, chips=3, root=tmp_path, progress=False, log=lambda m: None)
    assert len(calls) == done


def test_paper_experiments_are_valid_schemes():
    for exp in exps.EXPERIMENTS.values():
        for point in exp.points:
            exp.scheme(point)  # raises ConfigError if a point is not a valid scheme
    cell = exps.EXPERIMENTS["cell-si-slices"]
    slices = {
        (exp_scheme.mapping.kind, exp_scheme.weights.slices, exp_scheme.bits_per_slice)
        for exp_scheme in (cell.scheme(p) for p in cell.points)
    }
    assert slices == {
        ("differential", 7, 1),
        ("differential", 4, 2),
        ("differential", 2, 4),
        ("offset", 8, 1),
        ("offset", 4, 2),
        ("offset", 2, 4),
    }
    designs = exps.EXPERIMENTS["designs"]
    assert {p.preset for p in designs.points} == {"design-a", "design-b", "design-c", "design-e"}


# ---------------------------------------------------------------------------------------------------------
# real data: reference models and the ImageNet path
# ---------------------------------------------------------------------------------------------------------


def shared_or_skip(*parts: str) -> Path:
    try:
        path = find_shared_dir().joinpath(*parts)
    except FileNotFoundError as error:
        pytest.skip(f"shared folder absent ({error}); set AIMC_SHARED to run the real-data tests")
    if not path.exists():
        pytest.skip(f"shared file {path} absent; set AIMC_SHARED to the folder holding data/ and models/")
    return path


def test_images_subset_is_fixed_seeded_and_balanced():
    shared_or_skip("data", "tinyimagenet-val.zip")
    shared_or_skip("models", "resnet50_tinyimagenet.pt")
    a = acc.load_network("resnet50-tinyimagenet", images=20, calibration_images=4)
    b = acc.load_network("resnet50-tinyimagenet", images=20, calibration_images=4)
    c = acc.load_network("resnet50-tinyimagenet", images=20, seed=1, calibration_images=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.labels, c.labels)
    assert a.images.shape == (20, 3, 64, 64) and len(set(a.labels.tolist())) == 20  # one per class
    assert a.calibration.shape == (4, 3, 64, 64)


@pytest.mark.parametrize("model", ["resnet50-tinyimagenet", "resnet50-cifar10"])
def test_whole_path_on_a_reference_model(model, tmp_path, capsys):
    shared_or_skip("models", acc.reference_model(model).file)
    shared_or_skip("data", acc.reference_model(model).test_zip)
    shared_or_skip("data", acc.reference_model(model).calibration_zip)
    out = tmp_path / "acc.csv"
    argv = [
        "accuracy",
        "--model",
        model,
        "--images",
        "8",
        "--chips",
        "1",
        "--calibration-images",
        "4",
        "--set",
        "adc.range=max",
        "--out",
        str(out),
        "--no-progress",
        "--json",
    ]
    assert aimc_main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    for name in ("accuracy_mean", "accuracy_std", "baseline_float", "baseline_quantized"):
        assert 0.0 <= result[name] <= 1.0
    assert result["images"] == 8 and result["chips"] == 1 and result["accuracy_std"] == 0.0
    assert len(result["accuracies"]) == 1 and not result["cached"]
    assert result["baseline_float"] >= 0.25  # a trained network: far above chance on 8 balanced images
    rows = read_csv(out)
    assert len(rows) == 1 and rows[0]["model"] == model
    assert aimc_main(argv) == 0  # the second call reads the CSV instead of simulating
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] and again["accuracy_mean"] == result["accuracy_mean"]
    assert len(read_csv(out)) == 1


def test_imagenet_path_with_a_model_built_here(tmp_path):
    zip_path = shared_or_skip("data", "imagenet-val-1300.zip")
    torch.manual_seed(0)
    weights = tmp_path / "resnet50.pth"
    torch.save(resnet50().state_dict(), weights)
    net = acc.load_network(str(weights), data=str(zip_path), images=2, calibration_images=2)
    assert net.images.shape == (2, 3, 224, 224) and net.images.dtype == torch.uint8
    assert net.calibration.shape == (2, 3, 224, 224)
    for image in net.calibration:  # calibration images are held out of the test images
        assert not any(torch.equal(image, test) for test in net.images)
    val_map = acc.ImageNetValZip(zip_path)
    assert set(net.labels.tolist()) <= {label for _, label in val_map.samples}
    assert net.labels.dtype == torch.int64 and int(net.labels.max()) < 1000
    scheme = acc.quantized_scheme(Scheme())  # ideal devices, no ADC: one conversion serves both results
    result = acc.accuracy_for_scheme(net, scheme, progress=False)
    assert result["images"] == 2 and 0.0 <= result["accuracy_mean"] <= 1.0
    assert result["accuracy_mean"] == result["baseline_quantized"]  # ideal devices, no ADC


BAD_ARGUMENTS = [
    ["--chips", "0"],
    ["--images", "0"],
    ["--batch-size", "0"],
    ["--model", "no-such-model"],
    ["--model", "missing-weights.pth", "--data", "missing-folder"],
    ["--model", "missing-weights.pth"],  # the ImageNet path needs --data
    ["--preset", "no-such-preset"],
    ["--set", "adc.bits=-1"],
    ["--set", "no.such.field=1"],
    ["--data", "missing.zip", "--images", "4"],
]


@pytest.mark.parametrize("extra", BAD_ARGUMENTS)
def test_bad_input_exits_2_with_one_line(extra, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert aimc_main(["accuracy", "--no-progress", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aimc accuracy: error:") and "\n" not in err
    assert not (tmp_path / "aimc_accuracy.csv").exists()


def test_rows_are_named_by_lists_and_replaced_in_place(tmp_path):
    assert acc.row_numbers("r.csv:1,4-6") == ("r.csv", [1, 4, 5, 6])
    for bad in ("r.csv:0", "r.csv:3-1", "r.csv:a", "r.csv"):
        with pytest.raises(ValueError, match="--from-row"):
            acc.row_numbers(bad)
    point = next(p for p in exps.EXPERIMENTS["adc-rows"].points if p.label == "offset rows=72")
    scheme = exps.EXPERIMENTS["adc-rows"].scheme(point)
    rows = [{"experiment": "adc-rows", "point": label, "model": "tiny", "images": "16", "seed": "0",
             "calibration_images": "500", "scheme_hash": acc.scheme_hash(scheme), "chips": "1",
             "preset": "", "accuracies": "[0.1]", "accuracy_mean": "0.1"} for label in ("a", point.label, "c")]
    write_csv_atomic(tmp_path / "sweep.csv", rows)
    net = tiny_network(images=16)
    result = {"accuracy_mean": 0.5, "accuracy_std": 0.0, "accuracies": [0.5], "seconds": 1.0}
    acc.replace_row(tmp_path / "sweep.csv", rows[1], result, net, scheme)
    after = read_csv(tmp_path / "sweep.csv")
    assert [r["point"] for r in after] == ["a", point.label, "c"]  # its place in the file kept
    assert after[1]["accuracies"] == "[0.5]" and after[1]["engine_version"] == str(ENGINE_VERSION)
    assert after[1]["preset"] == "" and Scheme.from_json(after[1]["scheme_json"]) == scheme
    assert after[0]["accuracies"] == "[0.1]" and after[0]["engine_version"] == ""

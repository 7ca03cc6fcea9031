"""The figures laid out as the paper's, and the gallery.

Every figure module is registered; every registered figure draws a PNG and a PDF from the committed data
(``figures/data``, ``validation/results``); the gallery holds exactly what ``aimc figures --all`` draws and
its README shows each image; the paper-layout figures are one column wide with fonts of at least 7 pt; and
their curves, bars and table cells are the rows of the CSVs they read (checked against the CSVs read here
with the csv module, not through the figures' own selection code). The figures that draw experiments not
run yet (``adc-rows-input-bits``, ``parasitics-unit-column``, ``cell-si-crosssim``) are drawn with and
without them.
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from aimc.figures import (
    FIGURES,
    _base,
    _paper,
    fig17_adc_rows,
    fig20_bitline_current,
    fig22_parasitics,
    figs08_13_clipping,
    figure_module,
    run_figure,
    table4_designs,
)
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.image import imread
from matplotlib.text import Text

from aimc.mapping import partitions

ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = ROOT / "figures"
RESULTS = ROOT / "validation" / "results"
TINY = "resnet50-tinyimagenet"
PAPER_FIGURES = [name for name in FIGURES if hasattr(figure_module(name), "PAPER")]
"""The figures laid out as the paper's (each declares the paper figure it reproduces)."""


def csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def curves(ax) -> list[tuple[str, list[float], list[float]]]:
    """(label, x, y) of every simulated curve of a panel (each is an errorbar), in drawing order."""
    return [(c.get_label(), [float(x) for x in c.lines[0].get_xdata()], [float(y) for y in c.lines[0].get_ydata()])
            for c in ax.containers if isinstance(c, ErrorbarContainer)]


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Every registered figure drawn (plot only) from the committed data into a temporary folder: the runs'
    results by name, each Figure saved by its PNG's name, and the folder."""
    out = tmp_path_factory.mktemp("figures")
    shutil.copytree(FIGURES_DIR / "data", out / "data")
    saved = {}
    real = _base.save_figure

    def keep(fig, name, quick=False, suffix="", dpi=_base.DPI):
        path = real(fig, name, quick, suffix, dpi)
        saved[path.name] = fig
        return path

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_base, "save_figure", keep)
        runs = {name: run_figure(name, plot_only=True, progress=False, out=out, results=RESULTS) for name in FIGURES}
    return runs, saved, out


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A results folder holding a copy of the committed Tiny-ImageNet rows and predictions, to add to."""
    for folder in (TINY, "predictor"):
        shutil.copytree(RESULTS / folder, tmp_path / "results" / folder)
    monkeypatch.setattr(_base, "RESULTS_DIR", tmp_path / "results")
    return tmp_path / "results"


def tables_of(folder: Path) -> dict:
    return {p.stem: _base.read_rows(p) for p in sorted(folder.glob("*.csv"))}


def add_experiment(results: Path, source: str, experiment: str, keep, relabel=lambda p: p, shift: float = 0.0):
    """A made-up ``<experiment>.csv``: the rows of ``source`` that ``keep(point)`` selects, relabelled, with
    the accuracy moved by ``shift`` (so that its curves are told apart from the source's)."""
    rows = [{**r, "experiment": experiment, "point": relabel(r["point"]),
             "accuracy_mean": str(float(r["accuracy_mean"]) + shift)}
            for r in csv_rows(results / TINY / f"{source}.csv") if keep(r["point"])]
    with (results / TINY / f"{experiment}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


# ---------------------------------------------------------------------------------------------------------
# registry, files and gallery
# ---------------------------------------------------------------------------------------------------------


def test_every_figure_module_is_registered():
    modules = {p.stem for p in FIGURES_DIR.glob("*.py") if not p.stem.startswith("_") and p.stem != "cli"}
    assert modules == set(FIGURES), f"not registered: {modules - set(FIGURES)}; no module: {set(FIGURES) - modules}"
    assert len(PAPER_FIGURES) >= 10


def test_every_registered_figure_writes_a_png_and_a_pdf_from_the_committed_data(drawn):
    runs, _, _ = drawn
    for name, run in runs.items():
        assert run["skipped"] is None, (name, run["skipped"])
        pngs = [Path(f) for f in run["files"] if f.endswith(".png")]
        assert pngs and run["files"] == [str(f) for png in pngs for f in (png, png.with_suffix(".pdf"))], name
        for png in pngs:
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
            assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_the_gallery_holds_what_all_draws(drawn):
    runs, _, _ = drawn
    made = sorted(Path(f).name for run in runs.values() for f in run["files"])
    committed = sorted(p.name for p in (FIGURES_DIR / "gallery").iterdir())
    assert committed == made, "regenerate: aimc figures --all --out figures --results validation/results"


def test_a_redrawn_pdf_has_the_same_bytes(drawn, tmp_path):
    _, _, out = drawn
    shutil.copytree(out / "data", tmp_path / "data")
    again = run_figure("fig07_conductance", plot_only=True, out=tmp_path, results=RESULTS)
    pdf = Path(again["files"][1])
    assert pdf.read_bytes() == (out / "gallery" / pdf.name).read_bytes()


def _section(readme: str, name: str) -> str:
    start = readme.index(f"\n## {name}")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end > 0 else None]


def test_the_readme_shows_every_image_with_its_paper_figure_and_claims():
    readme = (FIGURES_DIR / "README.md").read_text()
    for png in sorted((FIGURES_DIR / "gallery").glob("*.png")):
        assert f"](gallery/{png.name})" in readme, png.name
    for name in FIGURES:
        assert f"\n## {name}" in readme, name
    for name in PAPER_FIGURES:
        section = _section(readme, name)
        for claim in figure_module(name).CLAIMS:
            assert f"`{claim}`" in section, (name, claim)


def test_paper_figures_declare_the_paper_figure_their_claims_and_committed_sources():
    from aimc.validation.claims import CLAIMS

    claims = {c.id for c in CLAIMS}
    models = [d.name for d in RESULTS.iterdir() if d.is_dir()]
    for name in PAPER_FIGURES:
        module = figure_module(name)
        assert module.PAPER and set(module.CLAIMS) <= claims, name
        for source in module.SOURCES:
            found = [ROOT / source.replace("<model>", m) for m in models] if "<model>" in source else [ROOT / source]
            assert any(p.is_file() for p in found), (name, source)


def test_computed_figures_have_every_point_committed():
    """`aimc figures --all --out figures` computes nothing: the committed CSVs hold every point."""
    from aimc.results import ResultsCSV

    for name in FIGURES:
        module = figure_module(name)
        if hasattr(module, "compute"):
            points = module.points(quick=False)
            store = ResultsCSV(FIGURES_DIR / "data" / f"{name}.csv", list(points[0]))
            done = store.finished_keys()
            missing = [p for p in points if store.key(p) not in done]
            assert not missing, (name, missing[:3])


def test_paper_figures_are_one_column_wide_with_fonts_of_at_least_7_pt(drawn):
    _, saved, out = drawn
    chosen = {png: fig for png, fig in saved.items() if png.startswith(tuple(PAPER_FIGURES))}
    assert len(chosen) >= 10
    for png, fig in chosen.items():
        assert float(fig.get_size_inches()[0]) == pytest.approx(_base.SINGLE_COLUMN), png
        small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text) if t.get_text() and t.get_fontsize() < 7]
        assert not small, (png, small[:3])
        width = imread(out / "gallery" / png).shape[1]
        assert width == round(_base.SINGLE_COLUMN * _base.PAPER_DPI), png


def test_plot_only_paper_figures_are_skipped_with_what_to_run_without_results(tmp_path):
    for name in PAPER_FIGURES:
        if not hasattr(figure_module(name), "compute"):
            run = run_figure(name, plot_only=True, out=tmp_path, results=tmp_path / "none")
            assert run["files"] == [] and f"aimc figures {name}" in run["skipped"], name


# ---------------------------------------------------------------------------------------------------------
# the figures draw the rows of their CSVs
# ---------------------------------------------------------------------------------------------------------


def _accuracy_points(rows: list[dict], images: str, keep) -> dict[str, list[tuple[float, float]]]:
    """Series -> sorted (x, accuracy %) of the rows on ``images`` whose point ``keep(point)`` maps to
    (series, x), or None to leave out."""
    out: dict[str, list] = {}
    for r in rows:
        chosen = keep(r["point"]) if r["images"] == images else None
        if chosen is not None:
            out.setdefault(chosen[0], []).append((chosen[1], 100 * float(r["accuracy_mean"])))
    return {k: sorted(v) for k, v in out.items()}


def _cells_and_rows(point: str, mapping: str):
    first, rows = point.split()[0], float(point.split("rows=")[1])
    kind, _, cells = first.partition("-")
    return None if kind != mapping else ("unsliced" if not cells else f"{cells[:-1]} b/cell", rows)


@pytest.mark.parametrize("model", [TINY, "resnet50-cifar10"])
def test_fig17_panels_are_the_adc_rows_of_each_mapping(drawn, model):
    _, saved, _ = drawn
    fig = saved[f"fig17_adc_rows-{model}.png"]
    rows = csv_rows(RESULTS / model / "adc-rows.csv")
    for ax, mapping in zip(fig.axes, ("differential", "offset")):
        expected = _accuracy_points(rows, "2000", lambda p, m=mapping: _cells_and_rows(p, m))
        assert len(expected) == 4 and all(len(v) == 5 for v in expected.values())  # 4 cells x 5 array sizes
        assert {label: sorted(zip(x, y)) for label, x, y in curves(ax)} == pytest.approx(expected), (model, mapping)
    paper_path = RESULTS / model / "adc-rows-input-bits.csv"
    if not paper_path.is_file():
        assert "missing: offset with an ADC per input bit" in fig.get_suptitle()
        return
    paper_rows = csv_rows(paper_path)
    [images] = {r["images"] for r in paper_rows}
    expected = _accuracy_points(paper_rows, images, lambda p: _cells_and_rows(p, "offset"))
    assert {label: sorted(zip(x, y)) for label, x, y in curves(fig.axes[2])} == pytest.approx(expected), model


def test_fig17_draws_the_paper_configured_sweep_when_it_exists(results):
    (results / TINY / "adc-rows-input-bits.csv").unlink(missing_ok=True)  # the committed copy, if any
    tables = tables_of(results / TINY)
    without = fig17_adc_rows._draw(tables, TINY)
    assert len(without.axes) == 2 and "adc-rows-input-bits.csv not committed" in without.get_suptitle()
    made = add_experiment(results, "adc-rows", "adc-rows-input-bits", lambda p: p.startswith("offset"), shift=-0.1)
    fig = fig17_adc_rows._draw(tables_of(results / TINY), TINY)
    assert len(fig.axes) == 3 and "missing" not in fig.get_suptitle()
    expected = _accuracy_points(made, "2000", lambda p: _cells_and_rows(p, "offset"))
    assert len(expected) == 4
    assert {label: sorted(zip(x, y)) for label, x, y in curves(fig.axes[2])} == pytest.approx(expected)
    assert "per input bit" in fig.axes[2].get_title(loc="left")


def _mapping_and_r(point: str):
    """(mapping as the legend names it, with the rows: ``offset, unit column rows=144``), r) of a point."""
    words = point.split()
    mapping = ", ".join(filter(None, (words[0], " ".join(w for w in words[1:] if "=" not in w))))
    return f"{mapping} {words[-2]}", float(words[-1].split("=")[1])


def _drawn_series(ax) -> list[tuple[str, list]]:
    return sorted((label, sorted(zip(x, y))) for label, x, y in curves(ax))


def test_fig22_draws_the_unit_column_beside_the_digital_offset_when_it_exists(results):
    (results / TINY / "parasitics-unit-column.csv").unlink(missing_ok=True)  # the committed copy, if any
    without = _paper._draw_sweep(tables_of(results / TINY), TINY, fig22_parasitics.SWEEP)
    assert "parasitics-unit-column.csv not committed" in without.get_suptitle()
    add_experiment(results, "parasitics", "parasitics-unit-column", lambda p: p.startswith("offset "),
                   relabel=lambda p: p.replace("offset ", "offset unit column "), shift=0.3)
    fig = _paper._draw_sweep(tables_of(results / TINY), TINY, fig22_parasitics.SWEEP)
    assert "missing" not in fig.get_suptitle()
    rows = csv_rows(results / TINY / "parasitics.csv") + csv_rows(results / TINY / "parasitics-unit-column.csv")
    expected = _accuracy_points(rows, "200", _mapping_and_r)
    # the label says the mapping (the line style says the rows, in a legend entry of its own)
    assert _drawn_series(fig.axes[0]) == sorted((k.rsplit(" rows=", 1)[0], v) for k, v in expected.items())
    assert len(expected) == 6 and any(k.startswith("offset, unit column") for k in expected)


def test_clipping_figure_adds_the_crosssim_conventions_when_they_exist(results):
    (results / TINY / "cell-si-crosssim.csv").unlink(missing_ok=True)  # the committed copy, if any
    tables = tables_of(results / TINY)
    without = figs08_13_clipping._draw(tables, TINY)
    assert "cell-si-crosssim.csv not committed" in without.get_suptitle()
    assert len(curves(without.axes[0])) == 4  # clipped and not clipped, both mappings
    add_experiment(results, "cell-si-mapping", "cell-si-crosssim", lambda p: True, shift=0.01)
    fig = figs08_13_clipping._draw(tables_of(results / TINY), TINY)
    assert len(curves(fig.axes[0])) == 6 and "missing" not in fig.get_suptitle()


def test_slicing_figures_draw_the_unsliced_curves_from_the_mapping_sweep(drawn):
    _, saved, _ = drawn
    fig = saved[f"figs08_13_si_slices-{TINY}.png"]
    mapping_rows = csv_rows(RESULTS / TINY / "cell-si-mapping.csv")
    for ax, mapping in zip(fig.axes, ("differential", "offset")):
        expected = _accuracy_points(mapping_rows, "10000", lambda p, m=mapping: (
            ("unsliced", 100 * float(p.split("alpha=")[1])) if p.split()[0] == m else None))
        unsliced = [(x, y) for label, x, y in curves(ax) if label == "unsliced"]
        assert [sorted(zip(*pair)) for pair in unsliced] == [pytest.approx(expected["unsliced"])]


def test_fig07_bars_are_the_network_means_of_conductance_csv(drawn):
    _, saved, _ = drawn
    ax = saved["fig07_conductance.png"].axes[0]
    network = {r["scheme"]: float(r["mean_g"]) for r in csv_rows(FIGURES_DIR / "data" / "conductance.csv")
               if r["layer"] == "network"}
    bars = {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers if isinstance(c, BarContainer)}
    for mapping, unsliced in (("differential", "unsliced (7 b/cell)"), ("offset", "unsliced (8 b/cell)")):
        labels = [unsliced, "4 b/cell", "2 b/cell", "1 b/cell"]  # the figure's order, left to right
        assert bars[mapping] == pytest.approx([network[f"{mapping}, {cells}"] for cells in labels])
    assert bars["offset"][0] > 5 * bars["differential"][0]


def test_fig15_lines_are_the_used_range_of_every_layer(drawn):
    _, saved, _ = drawn
    ax = saved["fig15_adc_range.png"].axes[0]
    rows = csv_rows(FIGURES_DIR / "data" / "adc_histogram.csv")
    lines = {line.get_label(): line for line in ax.get_lines()}
    for config in ("offset, ADC per input bit", "differential, analog input accumulation"):
        chosen = sorted((r for r in rows if r["config"] == config), key=lambda r: int(r["layer_index"]))
        line = lines[config.replace("ADC per input bit", "a conversion per input bit")]
        assert list(line.get_ydata()) == pytest.approx([100 * float(r["fraction_of_max"]) for r in chosen])
        assert len(chosen) == 54


def test_mvm_mapping_figure_draws_the_closed_form_beside_the_monte_carlo(drawn):
    _, saved, _ = drawn
    fig = saved["figs08_13_mvm_mapping.png"]
    rows = [r for r in csv_rows(FIGURES_DIR / "data" / "mapping_error.csv")
            if r["error_model"] == "state_independent" and r["mapping"] == "offset" and r["adc_bits"] == "0"]
    rows.sort(key=lambda r: float(r["alpha"]))
    ax = fig.axes[0]
    theory = next(line for line in ax.get_lines() if line.get_label() == "offset")
    assert list(theory.get_ydata()) == pytest.approx([float(r["theory_relative_rms"]) for r in rows])
    simulated = [c.lines[0] for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert any(list(s.get_ydata()) == pytest.approx([float(r["mc_relative_rms"]) for r in rows]) for s in simulated)


def test_table4_cells_are_the_designs_rows(drawn):
    _, saved, _ = drawn
    fig = saved[f"table4_designs-{TINY}.png"]
    shown = texts(fig)
    rows = [r for r in csv_rows(RESULTS / TINY / "designs.csv") if r["images"] == "1000"]
    for r in rows:
        mean, std = 100 * float(r["accuracy_mean"]), 100 * float(r["accuracy_std"])
        cell = f"{mean:.1f} ± {std:.1f}" if int(r["chips"]) > 1 else f"{mean:.1f}"
        assert cell in shown, (r["point"], cell)
    for design, paper in table4_designs.PAPER_SONOS.items():
        assert paper in shown, design
    from aimc.results import is_current

    stale = sum(not is_current(r) for r in rows)  # the table says how many of its points are stale rows
    assert any(f"{stale} of " in t for t in shown) == (stale > 0)
    assert "table4_designs-vit-cifar10.png" not in saved  # design A alone: not a table of designs


# ---------------------------------------------------------------------------------------------------------
# Fig. 20: the bit-line currents
# ---------------------------------------------------------------------------------------------------------


def test_fig20_currents_are_the_sums_of_active_rows_times_conductance():
    """A small layer by hand: unsliced differential cells carry |w| / 127 on the cell of the weight's sign,
    offset cells (w + 127) / 254; a bit line of rows [s, e) carries sum a_i g_ij, averaged over columns,
    arrays and (differential) both cells."""
    generator = torch.Generator().manual_seed(3)
    w_int = torch.randint(-127, 128, (5, 200), generator=generator)
    activity = np.random.default_rng(3).uniform(0, 1, 200)
    weights = w_int.numpy().astype(float)
    cells = {"differential, unsliced (7 b/cell)": [np.maximum(weights, 0) / 127, np.maximum(-weights, 0) / 127],
             "offset, unsliced (8 b/cell)": [(weights + 127) / 254]}
    for scheme, arrays in cells.items():
        rows = fig20_bitline_current.evaluate([("layer", w_int, activity)], {"scheme": scheme})
        for r in rows:
            spans = partitions(200, r["rows"])
            expected = np.mean([(g[:, s:e] * activity[s:e]).sum(axis=1).mean() for s, e in spans for g in arrays])
            assert r["mean_current"] == pytest.approx(expected, rel=1e-12), (scheme, r["layout"], r["rows"])
        whole = next(r for r in rows if r["layout"] == fig20_bitline_current.WHOLE)
        assert whole["rows"] == 200 and whole["arrays"] == 1


def test_fig20_panels_are_the_csv_averaged_as_the_caption_says(drawn):
    _, saved, _ = drawn
    fig = saved["fig20_bitline_current.png"]
    rows = csv_rows(FIGURES_DIR / "data" / "fig20_bitline_current.csv")
    scheme = "offset, unsliced (8 b/cell)"
    mine = [r for r in rows if r["scheme"] == scheme]
    assert len({r["layer"] for r in mine}) == 54
    whole: dict[int, list[float]] = {}
    for r in mine:
        if r["layout"] == "whole layer":
            whole.setdefault(int(r["rows"]), []).append(1.6 * float(r["mean_current"]))
    line = next(line for line in fig.axes[1].get_lines() if line.get_label() == scheme)
    assert list(line.get_xdata()) == sorted(whole)
    assert list(line.get_ydata()) == pytest.approx([np.mean(whole[k]) for k in sorted(whole)])
    partitioned = [np.mean([1.6 * float(r["mean_current"]) for r in mine
                            if r["layout"] == "partitioned" and r["rows"] == str(n)]) for n in fig20_bitline_current.ROWS]
    line = next(line for line in fig.axes[0].get_lines() if line.get_label() == scheme)
    assert list(line.get_ydata()) == pytest.approx(partitioned)
    differential = next(line for line in fig.axes[0].get_lines() if line.get_label().startswith("differential, uns"))
    assert all(d < o / 3 for d, o in zip(differential.get_ydata(), partitioned))  # proportional: less current
    assert math.isclose(fig20_bitline_current.I_MAX_UA, 1.6)


def test_fig20_quick_run_computes_its_csv_from_the_network(tmp_path):
    from aimc.validation.models import shared_file

    try:
        shared_file("models", "resnet50_tinyimagenet.pt")
        shared_file("data", "tinyimagenet-calibration-500.zip")
    except FileNotFoundError as e:
        pytest.skip(f"shared model or data absent ({e}); set AIMC_SHARED")
    run = run_figure("fig20_bitline_current", quick=True, progress=False, out=tmp_path)
    rows = csv_rows(tmp_path / "data" / "fig20_bitline_current.quick.csv")
    layouts = len(fig20_bitline_current.ROWS) + 1
    assert len(rows) == len(fig20_bitline_current.SCHEMES) * fig20_bitline_current.QUICK_LAYERS * layouts
    for r in rows:
        assert 0 < float(r["lsb_activity"]) < 1 and float(r["mean_current"]) > 0
    assert run["files"][1:] == [str(tmp_path / "gallery" / f"fig20_bitline_current.quick.{s}") for s in ("png", "pdf")]

"""Top-1 accuracy of the paper's designs A-E with ideal cells and with SONOS programming error (paper Table 4).

The paper's Table 4 (values from a summary of the full text, ``shared/PAPER.md`` section 5): ResNet50-v1.5
on 1,000 ImageNet images with SONOS errors, A 74.0 %, B 75.4 %, C 73.6 %, D 74.1 %, E 50.2 +- 5.3 %
(ideal-cell accuracies 74.9-76.3 %). Here, per reference model, the ``designs`` rows of
:mod:`aimc.validation.experiments` on one test-set size (the one most designs ran on), each from its run
with the most chips: ideal cells (one chip) beside SONOS programming error (mean +- standard deviation over
chips), each scheme described from the experiment's own definition (:func:`aimc.validation.claims.
points_of`); a model with fewer than two designs run has no table. Design D is not described in any available source and is not run; design E is also shown with
the ADC range rules of the paper's bit-sliced designs (aligned) and the full-precision one (granular).
Drawn as a table (PNG and PDF) and written in markdown for ``figures/README.md`` from the same cells.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _accuracy, _base, _paper

NAME = "table4_designs"
TITLE = "Top-1 accuracy of designs A-E, ideal cells and SONOS programming error (paper Table 4)"
PAPER = "Table 4 (accuracy of designs A-E with SONOS errors, 1,000 images)"
CLAIMS = ("slicing-small-benefit", "design-e-below-a")
SOURCES = ("validation/results/<model>/designs.csv",)
EXPERIMENT = "designs"
PAPER_SONOS = {"design-a": "74.0", "design-b": "75.4", "design-c": "73.6", "design-d": "74.1",
               "design-e": "50.2 ± 5.3"}
"""Table 4's SONOS accuracies (%, ResNet50-v1.5, 1,000 ImageNet images; ``shared/PAPER.md`` section 5)."""
HEADER = ["design", "cells, rows,\nADC range", "ideal\ncells", "SONOS\nerror", "paper,\nSONOS"]


def describe(label: str) -> str:
    """The scheme of a designs point in words, from the experiment's definition."""
    from aimc.validation.claims import points_of

    scheme = next((s for point, s, _ in points_of(EXPERIMENT) if point == label), None)
    if scheme is None:
        return "?"
    return (f"{scheme.mapping.kind}, {scheme.bits_per_slice} b/cell,\n{scheme.array.rows} rows, "
            f"{scheme.adc.range}")


def accuracy_text(row: dict | None, decimals: int = 1) -> str:
    """``63.4`` (one chip), ``63.4 ± 0.5`` (std over chips), or a dash where the point was not run."""
    if row is None:
        return "–"
    mean, chips = 100 * _base.number(row, "accuracy_mean"), int(_base.number(row, "chips"))
    spread = f" ± {100 * _base.number(row, 'accuracy_std'):.{decimals}f}" if chips > 1 else ""
    return f"{mean:.{decimals}f}{spread}"


def _design_cells(label: str, ideal: dict | None, errors: dict | None) -> list[str]:
    point = (errors or ideal)["point"].removesuffix(_accuracy.IDEAL)
    design, variant, _ = _accuracy.design_key(point)
    name = design.removeprefix("design-").upper() + (f",\n{variant}" if variant else "")
    paper = "" if variant else PAPER_SONOS.get(design, "")
    return [name, describe(point), accuracy_text(ideal), accuracy_text(errors), paper]


def table(rows: list[dict]) -> tuple[str, list[list[str]], list[str]]:
    """(images, cells, notes) of one model's designs rows; design D (paper only) before design E."""
    images, groups = _accuracy.design_groups(rows)
    cells = [_design_cells(*group) for group in groups]
    at = next((i for i, row in enumerate(cells) if row[0] >= "D"), len(cells))
    cells.insert(at, ["D", "not described", "–", "–", PAPER_SONOS["design-d"]])
    chosen = [r for _, *pair in groups for r in pair if r is not None]
    chips = _paper.chips_text([r for _, _, r in groups if r is not None])
    notes = [f"Top-1 (%) on {_accuracy.images_text(images)} test images; SONOS: mean ± std",
             f"over {chips}; 8-bit digital network on these images: {_accuracy.baseline(chosen):.1f} %.",
             "Paper: ResNet50-v1.5, 1,000 ImageNet images; with ideal cells",
             "the designs reach 74.9-76.3 %."]
    stale = _paper.stale_note(chosen)
    return images, cells, notes + ([f"{stale}."] if stale else [])


def _draw(tables: dict, model: str) -> Figure | None:
    if len(_accuracy.design_groups(tables[EXPERIMENT])[1]) < 2:
        return None  # one design (a model run for design A alone) is not a comparison of designs
    _, cells, notes = table(tables[EXPERIMENT])
    return _paper.table_figure(HEADER, cells, f"Table 4: designs A-E, {_paper.model_text(model)}", notes)


def markdown(tables: dict) -> str:
    _, cells, notes = table(tables[EXPERIMENT])
    return _paper.markdown_table(HEADER, cells) + "\n\n" + " ".join(notes)


def plot(quick: bool = False) -> list[Path]:
    return _paper.per_model(NAME, quick, EXPERIMENT, _draw)

"""Top-1 accuracy on the whole test set: digital, design A with ideal cells and with SONOS errors (Table 5).

The paper's Table 5 (values from a summary of the full text, ``shared/PAPER.md`` section 5): ResNet50-v1.5
on all 50,000 ImageNet validation images, fully digital 76.466 %, design A with ideal cells 76.082 %, with
SONOS errors 74.296 +- 0.348 %, and the 4-bit quantisation-aware-trained network on design A with SONOS
errors 75.294 +- 0.192 %. Here, per reference model, on its whole test set (10,000 images): the float and
8-bit digital accuracies (``baselines.csv``), design A with ideal cells and with SONOS programming error
(``designs.csv``, the runs on as many images as the baselines, mean +- std over chips) and design A's loss
against the float network. No quantisation-aware-trained reference model exists, so that row has no value
here. Drawn as a table (PNG and PDF) and written in markdown for ``figures/README.md`` from the same cells.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from . import _accuracy, _base, _paper
from .table4_designs import accuracy_text

NAME = "table5_full_test"
TITLE = "Top-1 accuracy on the whole test set: digital and design A, ideal cells and SONOS errors (paper Table 5)"
PAPER = "Table 5 (accuracy on the full ImageNet validation set)"
CLAIMS = ("design-a-sonos",)
SOURCES = ("validation/results/<model>/baselines.csv", "validation/results/<model>/designs.csv")
EXPERIMENT = "designs"
PAPER_VALUES = {"float": "76.466", "design-a ideal cells": "76.082", "design-a": "74.296 ± 0.348",
                "loss": "2.17", "qat": "75.294 ± 0.192"}
"""Table 5 (%, ResNet50-v1.5, 50,000 ImageNet images; ``shared/PAPER.md`` section 5)."""
HEADER = ["", "top-1 (%)", "paper,\nImageNet"]


def _at(rows: list[dict], point: str, images: str) -> dict | None:
    return _accuracy.best_runs(_accuracy.finished(rows)).get((point, images))


def table(tables: dict) -> tuple[str, list[list[str]], list[str]] | None:
    """(images, cells, notes), or None without a digital baseline on the whole test set."""
    baselines = tables.get("baselines", [])
    if not baselines:
        return None
    digital = max(baselines, key=lambda r: _base.number(r, "images"))
    images = digital["images"]
    ideal, errors = (_at(tables[EXPERIMENT], p, images) for p in ("design-a ideal cells", "design-a"))
    float_accuracy = 100 * _base.number(digital, "baseline_float")
    loss = "–" if errors is None else f"{float_accuracy - 100 * _base.number(errors, 'accuracy_mean'):.2f}"
    cells = [["digital, float32", f"{float_accuracy:.2f}", PAPER_VALUES["float"]],
             ["digital, 8-bit weights and inputs", f"{100 * _base.number(digital, 'baseline_quantized'):.2f}", "–"],
             ["design A, ideal cells", accuracy_text(ideal, 2), PAPER_VALUES["design-a ideal cells"]],
             ["design A, SONOS error", accuracy_text(errors, 2), PAPER_VALUES["design-a"]],
             ["design A, SONOS: loss\nagainst float (points)", loss, PAPER_VALUES["loss"]],
             ["4-bit QAT network,\ndesign A, SONOS", "no model", PAPER_VALUES["qat"]]]
    chips = "" if errors is None else f"SONOS: mean ± std over {_paper.chips_text([errors])}. "
    notes = [f"{_accuracy.images_text(images)} test images (the whole test set).", f"{chips}–: not run.",
             "QAT: quantisation-aware training.", "Paper: ResNet50-v1.5, 50,000 ImageNet images."]
    stale = _paper.stale_note([r for r in (digital, ideal, errors) if r is not None])
    return images, cells, notes + ([f"{stale}."] if stale else [])


def _draw(tables: dict, model: str) -> Figure | None:
    made = table(tables)
    if made is None:
        return None
    _, cells, notes = made
    return _paper.table_figure(HEADER, cells, f"Table 5: whole test set, {_paper.model_text(model)}", notes)


def markdown(tables: dict) -> str:
    made = table(tables)
    if made is None:
        return "(no digital baseline on the whole test set)"
    _, cells, notes = made
    return _paper.markdown_table(HEADER, cells) + "\n\n" + " ".join(notes)


def plot(quick: bool = False) -> list[Path]:
    return _paper.per_model(NAME, quick, EXPERIMENT, _draw)

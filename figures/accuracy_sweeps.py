"""Network accuracy sweeps (the paper's Figs. 8-13, 16-17, 22 and Table 4), drawn from the validation CSVs.

Plot-only: reads whatever :mod:`aimc.validation.experiments` has written to
``<results>/<model>/<experiment>.csv`` (accuracy vs programming-error alpha by mapping and by slicing, vs
ADC bits, vs rows and bits per cell, vs wire resistance, and the designs A, B, C, E; ``<results>`` is
``aimc figures --results``, the committed results ``validation/results``) and draws one PNG per model,
``accuracy_sweeps-<model>.png``, one panel per experiment present. The dotted line is the 8-bit quantised
digital network of the same CSV (``baseline_quantized``). Skipped with a message while no CSV exists. The
assumptions of every sweep are those of ``aimc.validation.experiments`` (its module
docstring); within an experiment all points are drawn at one test-set size (the one that covers the most
points), each from its run with the most chips; a sweep still in progress says how many of the points
that ``aimc.validation.experiments`` defines it shows. The designs panel groups its bars by design and
variant (``design-e granular ADC`` is its own group beside ``design-e``), ideal cells beside SONOS error,
and notes the points run at other test-set sizes (``design-a`` on all 10,000 images), the designs not run
yet, and any group whose runs used a different digital baseline.
"""

from __future__ import annotations

import math
from pathlib import Path

from . import _accuracy, _base
from ._accuracy import baseline as _baseline
from ._accuracy import best_runs as _best
from ._accuracy import design_groups, design_key
from ._accuracy import finished as _done
from ._accuracy import images_text as _images
from ._accuracy import one_test_set as _latest
from ._accuracy import planned as _planned
from ._accuracy import series as _series
from ._accuracy import split_label as _split

__all__ = ["clipping_pairs", "design_groups", "design_notes", "plot"]

NAME = "accuracy_sweeps"
TITLE = "Top-1 accuracy sweeps of the reference ResNet-50s (from validation/results)"

SWEEPS = {
    "cell-si-mapping": ("alpha", 100.0, "log", "state-independent alpha (% of Gmax)", "state-independent error"),
    "cell-sp-mapping": ("alpha", 100.0, "log", "state-proportional alpha (% of G)", "state-proportional error"),
    "cell-si-slices": ("alpha", 100.0, "log", "state-independent alpha (% of Gmax)",
                       "state-independent error, bit slicing"),
    "cell-sp-slices": ("alpha", 100.0, "log", "state-proportional alpha (% of G)",
                       "state-proportional error, bit slicing"),
    "adc-bits": ("adc", 1.0, "linear", "ADC resolution (bits, calibrated)", "ADC resolution, ideal devices"),
    "adc-rows": ("rows", 1.0, "log2", "rows per array", "8-bit ADC vs rows and bits per cell, ideal devices"),
    "parasitics": ("r", 1.0, "log", "normalised wire resistance r = R_wire Gmax", "parasitic resistance, 8-bit ADC"),
}
"""experiment -> (label token of the x value, scale to the axis unit, axis scale, x label, panel title)."""
UNSLICED_REFERENCE = {"cell-si-slices": "cell-si-mapping", "cell-sp-slices": "cell-sp-mapping"}
DESIGNS = "designs"
CLIPPING = "clipping"
"""The clipping panel: ``cell-si-mapping`` (clipped to [g_min, Gmax]) against ``cell-si-noclip``."""
CLIPPED, UNCLIPPED = "cell-si-mapping", "cell-si-noclip"


def _style(series: str) -> dict:
    offset = series.startswith("offset")
    return {"ls": "--" if offset else "-", "marker": "s" if offset else "o"}


def _sweep_panel(ax, experiment: str, tables: dict[str, list[dict]]) -> None:
    token, scale, axis, xlabel, title = SWEEPS[experiment]
    rows = _latest(tables[experiment])
    images = rows[0].get("images", "")
    xs = set()
    reference = UNSLICED_REFERENCE.get(experiment)
    if reference and tables.get(reference):
        # the unsliced curves of the mapping sweep, on the same images where they exist, drawn faintly
        ref_rows = _latest(tables[reference], images) or _latest(tables[reference])
        ref_size = ref_rows[0].get("images", "") if ref_rows else images
        for name, pts in _series(ref_rows, token, scale).items():
            note = "unsliced" if ref_size == images else f"unsliced, {_images(ref_size)} images"
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], capsize=2, ms=3,
                        lw=1, alpha=0.45, color="C1" if name.startswith("offset") else "C0",
                        label=f"{name}, {note}", **_style(name))
            xs.update(p[0] for p in pts)
    first_color = 2 if reference else 0
    for i, (name, pts) in enumerate(_series(rows, token, scale).items()):
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], capsize=2, ms=4,
                    color=f"C{first_color + i}", label=name, **_style(name))
        xs.update(p[0] for p in pts)
    baseline = _baseline(rows)
    if baseline is not None:
        ax.axhline(baseline, color="k", ls=":", lw=1, label=f"8-bit digital ({baseline:.1f} %)")
    if axis != "linear":
        ax.set_xscale("log", base=2 if axis == "log2" else 10)
        _base.label_ticks(ax, sorted(xs))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 accuracy (%)")
    planned = _planned(experiment)
    shown = f"{_images(images)} images"
    if planned and len(rows) < len(planned):
        shown += f", {len(rows)} of {len(planned)} points run so far"
    ax.set_title(f"{title}\n{shown}", fontsize=10)
    ax.legend(fontsize=7, ncol=2)


def design_notes(rows: list[dict], images: str) -> list[str]:
    """One line per designs point finished only or also at another test-set size than the panel's, e.g.
    ``design-a, 10,000 images (5 chips): 62.80 ± 0.14 %``."""
    other = [(size, point, r) for (point, size), r in _best(_done(rows)).items() if size != images]
    lines = []
    for size, point, r in sorted(other, key=lambda o: (_base.number({"i": o[0]}, "i"), design_key(o[1]))):
        chips = int(_base.number(r, "chips"))
        mean, std = 100 * _base.number(r, "accuracy_mean"), 100 * _base.number(r, "accuracy_std")
        spread = f" ± {std:.2f}" if chips > 1 else ""
        digital = f" (8-bit digital {100 * _base.number(r, 'baseline_quantized'):.2f} %)" \
            if r.get("baseline_quantized") else ""
        lines.append(f"{point}, {_images(size)} images ({chips} chip{'s' * (chips > 1)}): "
                     f"{mean:.2f}{spread} %{digital}")
    return lines


def _designs_panel(ax, rows: list[dict]) -> None:
    images, groups = design_groups(rows)
    decimals = max(1, round(math.log10(max(_base.number({"i": images}, "i"), 10))) - 2)
    tops = []
    for offset, (kind, color, label) in enumerate(((1, "0.6", "ideal cells"), (2, "C3", "SONOS programming error"))):
        x = [i + (offset - 0.5) * 0.38 for i in range(len(groups))]
        values = [(math.nan, 0.0) if g[kind] is None else (100 * _base.number(g[kind], "accuracy_mean"),
                                                           100 * _base.number(g[kind], "accuracy_std"))
                  for g in groups]
        ax.bar(x, [v[0] for v in values], 0.36, yerr=[v[1] for v in values], capsize=3, color=color, label=label)
        for xi, (v, s) in zip(x, values):
            if math.isnan(v):
                ax.text(xi, 0.5, "not run", ha="center", va="bottom", rotation=90, fontsize=7, color="0.4")
            else:
                ax.text(xi, v + s + 0.6, f"{v:.{decimals}f}", ha="center", va="bottom", fontsize=7.5)
                tops.append(v + s)
    chosen = [r for g in groups for r in g[1:] if r is not None]
    baseline = _baseline(chosen)
    notes = []
    if baseline is not None:
        ax.axhline(baseline, color="k", ls=":", lw=1, label=f"8-bit digital ({baseline:.{decimals}f} %)")
        for label, *pair in groups:
            other = {round(100 * _base.number(r, "baseline_quantized"), 4) for r in pair
                     if r is not None and r.get("baseline_quantized")} - {baseline}
            if other:
                values = ", ".join(f"{v:.{decimals}f}" for v in sorted(other))
                notes.append(f"8-bit digital in the {label} runs: {values} %")
    notes += design_notes(rows, images)
    planned = _planned(DESIGNS)
    if planned:
        ran = {_accuracy.group_label(*design_key(r["point"])[:2]) for r in _done(rows)}
        missing = list(dict.fromkeys(g for g in (_accuracy.group_label(*design_key(p)[:2]) for p in planned) if g not in ran))
        if missing:
            notes.append(f"not run yet: {', '.join(missing)}")
    # bars in the lower part of the axes, legend and notes above them
    room = 0.13 + 0.055 * len(notes)
    ax.set_ylim(0, max(tops, default=100) / (0.96 - room))
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= 100])
    ax.set_xticks(range(len(groups)), labels=[g[0].replace(" (", "\n(") for g in groups])
    pad = max(0.0, (2.5 - len(groups)) / 2)
    ax.set_xlim(-0.5 - pad, len(groups) - 0.5 + pad)
    ax.set_ylabel("top-1 accuracy (%)")
    def chips(kind: int) -> str:
        counts = sorted({int(_base.number(g[kind], "chips")) for g in groups if g[kind] is not None}) or [0]
        return f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    ax.set_title(f"paper designs (Table 4), {_images(images)} test images\nbars: mean; error bars: std over "
                 f"{chips(2)} chips (ideal cells: {chips(1)} chip{'' if chips(1) == '1' else 's'})", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=3)
    if notes:
        ax.text(0.015, 0.90, "\n".join(notes), transform=ax.transAxes, va="top", ha="left", fontsize=7.5,
                linespacing=1.4)


def clipping_pairs(tables: dict[str, list[dict]]) -> tuple[str, list[tuple[str, dict[tuple[str, str], dict]]]]:
    """Points run both clipped and unclipped on one test-set size (the size with the most such points).

    Returns (images, [(alpha label, {(mapping, "clipped"|"unclipped"): row})]), only alphas where both
    mappings ran both ways, each row the run with the most chips.
    """
    clipped, unclipped = _done(tables.get(CLIPPED, [])), _done(tables.get(UNCLIPPED, []))
    sizes = {r["images"] for r in clipped} & {r["images"] for r in unclipped}
    best_size, best = "", []
    for size in sorted(sizes, key=lambda n: -int(n)):
        by = {"clipped": _best([r for r in clipped if r["images"] == size]),
              "unclipped": _best([r for r in unclipped if r["images"] == size])}
        groups = []
        alphas = sorted({_split(point, "alpha")[1] for point, _ in by["clipped"]})
        for alpha in alphas:
            cells = {}
            for kind, rows in by.items():
                for (point, _), row in rows.items():
                    mapping, value = _split(point, "alpha")
                    if value == alpha:
                        cells[(mapping, kind)] = row
            if {m for m, _ in cells} >= {"differential", "offset"} and len(cells) == 4:
                groups.append((f"alpha = {100 * alpha:g} %", cells))
        if len(groups) > len(best):
            best_size, best = size, groups
    return best_size, best


def _clipping_panel(ax, tables: dict[str, list[dict]]) -> None:
    images, groups = clipping_pairs(tables)
    bars = (("differential", "clipped", "C0", ""), ("differential", "unclipped", "C0", "//"),
            ("offset", "clipped", "C1", ""), ("offset", "unclipped", "C1", "//"))
    chips = set()
    if len(groups) > 3:  # a sweep: lines over alpha (bars would crowd); clipped solid, unclipped dashed
        for mapping, kind, color, _ in bars:
            rows = [cells[(mapping, kind)] for _, cells in groups]
            alphas = [100 * _split(r["point"], "alpha")[1] for r in rows]
            chips |= {r["chips"] for r in rows}
            ax.errorbar(alphas, [100 * _base.number(r, "accuracy_mean") for r in rows],
                        yerr=[100 * _base.number(r, "accuracy_std") for r in rows], color=color, capsize=3,
                        marker="o" if kind == "clipped" else "s", ls="-" if kind == "clipped" else "--",
                        label=f"{mapping}, {kind}")
        baseline = _baseline([r for _, cells in groups for r in cells.values()])
        if baseline is not None:
            ax.axhline(baseline, color="k", ls=":", lw=1, label=f"8-bit digital ({baseline:.1f} %)")
        ax.set_xscale("log")
        ticks = sorted({100 * _split(r["point"], "alpha")[1] for _, cells in groups for r in cells.values()})
        ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("state-independent alpha (% of Gmax)")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
        ax.set_title(f"clipping at g_min: state-independent error, {_images(images)} test images\n"
                     f"clipped ({CLIPPED}) vs unclipped ({UNCLIPPED}); std over {'/'.join(sorted(chips))} chips",
                     fontsize=10)
        return
    for offset, (mapping, kind, color, hatch) in enumerate(bars):
        x = [i + (offset - 1.5) * 0.2 for i in range(len(groups))]
        rows = [cells[(mapping, kind)] for _, cells in groups]
        means = [100 * _base.number(r, "accuracy_mean") for r in rows]
        stds = [100 * _base.number(r, "accuracy_std") for r in rows]
        chips |= {r["chips"] for r in rows}
        ax.bar(x, means, 0.19, yerr=stds, capsize=3, color=color, hatch=hatch, edgecolor="k", lw=0.5,
               label=f"{mapping}, {kind}")
        for xi, m, sd in zip(x, means, stds):
            ax.text(xi, m + sd + 0.5, f"{m:.1f}", ha="center", va="bottom", fontsize=7.5)
    baseline = _baseline([r for _, cells in groups for r in cells.values()])
    if baseline is not None:
        ax.axhline(baseline, color="k", ls=":", lw=1, label=f"8-bit digital ({baseline:.1f} %)")
    ax.set_xticks(range(len(groups)), labels=[g[0] for g in groups])
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_title(f"clipping at g_min: state-independent error, {_images(images)} test images\n"
                 f"clipped ({CLIPPED}) vs unclipped ({UNCLIPPED}); std over {'/'.join(sorted(chips))} chips",
                 fontsize=10)


def _layout(panels: list[str], tables: dict[str, list[dict]]) -> list[list[str]]:
    """Three panels a row; the designs panel two wide when it has more than three bar groups."""
    cells = []
    for experiment in panels:
        wide = experiment == DESIGNS and len(design_groups(tables[DESIGNS])[1]) > 3 and len(panels) > 2
        cells += [experiment] * (2 if wide else 1)
    cols = min(3, len(cells))
    cells += ["."] * (-len(cells) % cols)
    return [cells[i:i + cols] for i in range(0, len(cells), cols)]


def plot(quick: bool = False) -> list[Path]:
    models = _accuracy.model_folders()
    if not models:
        raise _base.FigureSkipped(
            f"{NAME}: no accuracy CSV under {_base.RESULTS_DIR} yet; run `aimc experiments "
            f"run designs cell-si-mapping ... --model resnet50-tinyimagenet --device cuda`, then "
            f"`aimc figures {NAME}`")
    paths = []
    for folder in models:
        tables = {p.stem: _base.read_rows(p) for p in sorted(folder.glob("*.csv"))}
        panels = [e for e in (DESIGNS, *SWEEPS) if tables.get(e) and _latest(tables[e])]
        if clipping_pairs(tables)[1]:
            panels.append(CLIPPING)
        if not panels:
            continue
        layout = _layout(panels, tables)
        fig, axes = _base.new_mosaic(layout, (5.6 * len(layout[0]), 4.6 * len(layout) + 0.7),
                                     empty_sentinel=".")
        for experiment in panels:
            if experiment == DESIGNS:
                _designs_panel(axes[experiment], tables[experiment])
            elif experiment == CLIPPING:
                _clipping_panel(axes[experiment], tables)
            else:
                _sweep_panel(axes[experiment], experiment, tables)
        fig.suptitle(f"Top-1 accuracy on simulated analog hardware: {folder.name} "
                     f"({folder}/<panel>.csv)\neach panel compares its points on one "
                     f"test-set size (in its title); dotted line: the 8-bit quantised digital network on those "
                     f"images", fontsize=11)
        paths.append(_base.save_figure(fig, NAME, quick, suffix=f"-{folder.name}"))
    if not paths:
        raise _base.FigureSkipped(f"{NAME}: the CSVs under {_base.RESULTS_DIR} hold no finished accuracy point yet")
    return paths

"""Drawing shared by the figures laid out as the paper's: one column wide, one file per paper figure.

A figure module declares what it draws (a :class:`Sweep` for the accuracy sweeps, or its own ``draw``) and
calls :func:`per_model` or :func:`single`, which draw in the single-column style (:func:`aimc.figures._base.
style`) and save a PNG (:data:`aimc.figures._base.PAPER_DPI`) and a PDF per image. Simulated accuracies are
markers with the standard deviation over chips; where ``aimc predict`` predicted the same point (its
committed comparison, ``<results>/predictor/<model>.csv``) its prediction is the dotted line of the same
colour, so the closed-form prediction and the simulation can be read against each other point by point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import _accuracy, _base

__all__ = [
    "CELLS_COLORS",
    "ROWS_STYLE",
    "Panel",
    "Sweep",
    "baseline_line",
    "draw_curve",
    "draw_panels",
    "legend_below",
    "markdown_table",
    "missing_note",
    "near_ideal_band",
    "new_figure",
    "panel_label",
    "per_model",
    "plot_sweep",
    "rows_legend",
    "save",
    "simulated_predicted",
    "single",
    "stale_note",
    "table_figure",
    "tick_text",
    "title",
]

CELLS_COLORS = {None: "C7", 4: "C5", 2: "C2", 1: "C4"}
"""Bits per cell -> colour (None: unsliced), the same in every figure."""
ROWS_STYLE = {1152: ("-", "o"), 576: ("-.", "D"), 288: (":", "v"), 144: ("--", "s"), 72: ("-", "^")}
"""Rows per array -> (line style, marker) where the colour already says the mapping."""
MAPPINGS = ("differential", "offset")
TITLE_LINE = 0.135
"""Inches per line of the 8 pt figure title."""
REFERENCE_LABELS = ("8-bit digital", "near-ideal")
MODEL_TEXT = {"resnet50-tinyimagenet": "Tiny-ImageNet ResNet-50", "resnet50-cifar10": "CIFAR-10 ResNet-50",
              "vit-cifar10": "CIFAR-10 vision transformer"}


def new_figure(panels: int = 1, height: float = 2.5, **kwargs) -> tuple[Figure, list]:
    """A single-column figure with ``panels`` axes stacked, each ``height`` inches high."""
    fig = Figure(figsize=(_base.SINGLE_COLUMN, height * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False, **kwargs)[:, 0]
    for ax in axes:
        ax.grid(True, which="major")
    return fig, list(axes)


def title(fig: Figure, text: str, lines_allowed: int = 2) -> None:
    """The figure's title; each line beyond ``lines_allowed`` makes the figure taller by one line of 8 pt
    text, so that a long note does not squeeze the axes."""
    extra = max(0, text.count("\n") + 1 - lines_allowed)
    if extra:
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + TITLE_LINE * extra)
    fig.suptitle(text)


def panel_label(ax, text: str) -> None:
    """``(a)``, ``(b)`` at the top left outside the axes, as the paper labels its panels."""
    ax.set_title(text, loc="left", fontweight="bold")


def save(fig: Figure, name: str, quick: bool, suffix: str = "") -> Path:
    return _base.save_figure(fig, name, quick, suffix=suffix, dpi=_base.PAPER_DPI)


def single(name: str, quick: bool, draw: Callable[[], Figure]) -> list[Path]:
    """Draw one image in the single-column style and save it."""
    with _base.style(single_column=True):
        return [save(draw(), name, quick)]


def per_model(name: str, quick: bool, experiment: str, draw: Callable[[dict, str], Figure | None]) -> list[Path]:
    """One image per model folder of the results that holds ``<experiment>.csv``: ``draw(tables, model)``
    with every CSV of that folder (``{experiment: rows}``), saved as ``<name>-<model>``.

    :class:`aimc.figures.FigureSkipped` (naming what to run) while no model has the experiment's rows;
    ``draw`` returns None for a model whose rows cannot make the figure.
    """
    paths = []
    with _base.style(single_column=True):
        for folder in _accuracy.model_folders(experiment):
            tables = {p.stem: _base.read_rows(p) for p in sorted(folder.glob("*.csv"))}
            if not _accuracy.finished(tables[experiment]):
                continue
            fig = draw(tables, folder.name)
            if fig is not None:
                paths.append(save(fig, name, quick, suffix=f"-{folder.name}"))
    if not paths:
        raise _base.FigureSkipped(
            f"{name}: no finished {experiment}.csv under {_base.RESULTS_DIR}/<model>/ yet; run `aimc experiments "
            f"run {experiment} --model resnet50-tinyimagenet --out {_base.RESULTS_DIR}`, then `aimc figures {name}`")
    return paths


def model_text(model: str) -> str:
    return MODEL_TEXT.get(model, model)


def baseline_line(ax, rows: list[dict]) -> None:
    value = _accuracy.baseline(rows)
    if value is not None:
        ax.axhline(value, color="0.35", ls=(0, (1, 1.5)), lw=0.8, label=f"8-bit digital ({value:.1f} %)")


def near_ideal_band(ax, rows: list[dict]) -> None:
    """The band within which ``aimc claims`` calls an accuracy near-ideal (:data:`aimc.validation.claims.
    NEAR_IDEAL` below the rows' 8-bit digital accuracy)."""
    from aimc.validation.claims import NEAR_IDEAL

    value = _accuracy.baseline(rows)
    if value is not None:
        ax.axhspan(value - 100 * NEAR_IDEAL, value, color="0.85", lw=0, zorder=0,
                   label=f"near-ideal (within {100 * NEAR_IDEAL:g} point)")


def chips_text(rows: list[dict], key: str = "chips") -> str:
    counts = sorted({int(_base.number(r, key)) for r in rows})
    text = "/".join(str(c) for c in counts)
    return f"{text} chip{'s' if counts != [1] else ''}"


@dataclass(frozen=True)
class Sweep:
    """An accuracy sweep drawn as the paper draws it.

    ``token``: the swept value's key in the point labels (``alpha``, ``adc``, ``rows``, ``r``), times
    ``scale`` on an axis of ``xscale`` (``log``, ``log2``, ``linear``). ``by_mapping``: one panel per
    mapping, a colour per bits per cell (else one panel, a colour per mapping and a line style per row
    count). ``joined``: experiments whose rows are drawn beside the sweep's own on the same test images
    (experiment -> what its curves are, for the note saying that it has not run yet).
    """

    experiment: str
    token: str
    xlabel: str
    scale: float = 1.0
    xscale: str = "log"
    by_mapping: bool = False
    joined: dict[str, str] = field(default_factory=dict, compare=False)
    note: str = ""
    from_zero: bool = True
    """The accuracy axis starts at 0 (False: it fits the points, for sweeps that stay near the digital one)."""
    extra: Callable | None = field(default=None, compare=False)
    """``extra(ax, rows)``: anything a figure adds to its panel (drawn last)."""


@dataclass(frozen=True)
class Panel:
    """One panel of an accuracy figure: its title (None: a figure of one panel), the rows it draws, the
    committed predictions of those points, and the mapping it keeps (None: every mapping)."""

    title: str | None
    rows: list[dict]
    predicted: dict
    mapping: str | None = None


def _style(point: _accuracy.Point, by_mapping: bool) -> dict:
    if by_mapping:
        return {"color": CELLS_COLORS.get(point.bits_per_cell, "C6"), "marker": "o", "ls": "-",
                "label": point.cells}
    # the colour says the mapping, the line style the rows (one legend entry each: see rows_legend)
    ls, marker = ROWS_STYLE.get(int(point.values.get("rows", 1152)), ("-", "o"))
    return {"color": _base.MAPPING_COLORS.get(point.mapping, "C6"), "marker": marker, "ls": ls,
            "label": point.mapping}


def rows_legend(rows: list[dict], sweep: Sweep) -> list[tuple[Line2D, str]]:
    """Legend entries for the line style of each row count among the points (none for a single count, or
    where the rows are the swept value or the colours already say the bits per cell)."""
    if sweep.by_mapping or sweep.token == "rows":
        return []
    counts = sorted({int(_accuracy.parse_point(r["point"]).values.get("rows", 0)) for r in rows} - {0}, reverse=True)
    if len(counts) < 2:
        return []
    return [(Line2D([], [], color="0.3", ls=ROWS_STYLE[n][0], marker=ROWS_STYLE[n][1]), f"{n} rows") for n in counts]


def _curves(rows: list[dict], token: str) -> dict[str, list[dict]]:
    """Series (the label without the swept token) -> its rows, sorted by the swept value."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(_accuracy.split_label(r["point"], token)[0], []).append(r)
    return {k: sorted(v, key=lambda r: _accuracy.split_label(r["point"], token)[1]) for k, v in out.items()}


def draw_curve(ax, rows: list[dict], sweep: Sweep, predicted: dict, style: dict) -> set[float]:
    xs = [sweep.scale * _accuracy.split_label(r["point"], sweep.token)[1] for r in rows]
    ax.errorbar(xs, [100 * _base.number(r, "accuracy_mean") for r in rows],
                yerr=[100 * _base.number(r, "accuracy_std") for r in rows], color=style["color"],
                marker=style["marker"], ls=style["ls"], label=style["label"], mfc=style["color"])
    pairs = [(x, 100 * _base.number(predicted[(r["point"], r.get("images", ""))], "predicted"))
             for x, r in zip(xs, rows) if (r["point"], r.get("images", "")) in predicted]
    if pairs:
        ax.plot(*zip(*pairs), color=style["color"], ls=(0, (1, 1)), lw=1.0, marker="o", ms=2.5, mfc="white")
    return set(xs)


def _panel(ax, rows: list[dict], sweep: Sweep, predicted: dict, mapping: str | None) -> set[float]:
    xs: set[float] = set()
    curves = _curves(rows, sweep.token)
    order = sorted(curves, key=lambda s: (_accuracy.parse_point(s).mapping,
                                          -(_accuracy.parse_point(s).bits_per_cell or 99), s))
    for name in order:
        point = _accuracy.parse_point(name)
        if mapping is None or point.mapping == mapping:
            xs |= draw_curve(ax, curves[name], sweep, predicted, _style(point, sweep.by_mapping))
    return xs


def tick_text(value: float) -> str:
    """A tick label: plain below four digits, else a power of ten (``3 x 10^-4`` as mathtext)."""
    if value == 0 or 1e-2 <= abs(value) < 1e4:
        return f"{value:g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    return f"${power}$" if mantissa == "1" else rf"${mantissa}\times{power}$"


def _axes_format(ax, sweep: Sweep, xs: set[float]) -> None:
    if sweep.xscale != "linear":
        ax.set_xscale("log", base=2 if sweep.xscale == "log2" else 10)
        _base.label_ticks(ax, sorted(xs))
        ax.xaxis.set_major_formatter(lambda v, _pos: tick_text(v))
    ax.set_ylabel("top-1 accuracy (%)")
    if sweep.from_zero:
        ax.set_ylim(bottom=0)


def legend_below(fig: Figure, axes: list, extra: list[tuple[Line2D, str]] = (), columns: int = 2) -> None:
    """One legend for the whole figure, below its panels (inside the axes it would hide points): every
    panel's entries once, then ``extra`` (handle, label) pairs."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    # the curves first, then the references (digital accuracy, bands), then what the styles mean
    order = sorted(seen, key=lambda label: label.startswith(REFERENCE_LABELS))
    handles = [seen[label] for label in order] + [h for h, _ in extra]
    fig.legend(handles, order + [label for _, label in extra], loc="outside lower center", ncol=columns)


def simulated_predicted(chips: str, predicted_any: bool) -> list[tuple[Line2D, str]]:
    """Legend entries for what the marker styles mean: simulated, and predicted where it was."""
    text = f"simulated ({chips})" if chips == "1 chip" else f"simulated (std over {chips})"
    entries = [(Line2D([], [], color="k", marker="o", ls="-"), text)]
    if predicted_any:
        entries.append((Line2D([], [], color="k", ls=(0, (1, 1)), marker="o", ms=2.5, mfc="white"),
                        "predicted"))
    return entries


def _sweep_rows(tables: dict, sweep: Sweep) -> list[dict]:
    rows = _accuracy.one_test_set(tables[sweep.experiment])
    images = rows[0].get("images", "")
    for experiment in sweep.joined:
        rows = rows + _accuracy.one_test_set(tables.get(experiment, []), images)
    return rows


def _predicted(model: str, sweep: Sweep) -> dict:
    found = dict(_accuracy.predictions(model, sweep.experiment))
    for experiment in sweep.joined:
        found.update(_accuracy.predictions(model, experiment))
    return found


def missing_note(tables: dict, experiments: dict[str, str]) -> str:
    """Two lines for each experiment the figure would draw that has no rows for this model yet: what its
    curves would be, and its file."""
    return "\n".join(f"missing: {what}\n({experiment}.csv not committed yet)" for experiment, what in experiments.items()
                     if not _accuracy.finished(tables.get(experiment, [])))


def stale_note(rows: list[dict]) -> str:
    """A line saying how many of the drawn points were made by earlier engine versions (rows that ``aimc
    claims`` leaves out unless given ``--stale``: :func:`aimc.results.is_current`), or nothing."""
    from aimc.results import is_current

    stale = sum(not is_current(r) for r in rows)
    return f"{stale} of {len(rows)} points by earlier engine versions" if stale else ""


def draw_panels(panels: list[Panel], sweep: Sweep, model: str, note: str, height: float = 2.0) -> Figure:
    """Panels stacked in one column over a shared x axis, one legend below them, and a title naming the
    model, the test images and ``note``."""
    fig, axes = new_figure(len(panels), height if len(panels) > 1 else 2.4, sharex=True)
    for ax, panel in zip(axes, panels):
        xs = _panel(ax, panel.rows, sweep, panel.predicted, panel.mapping)
        baseline_line(ax, panel.rows)
        _axes_format(ax, sweep, xs)
        if sweep.extra is not None:
            sweep.extra(ax, panel.rows)
        if panel.title:
            panel_label(ax, panel.title)
    axes[-1].set_xlabel(sweep.xlabel)
    every = [r for panel in panels for r in panel.rows]
    predicted_any = any({(r["point"], r.get("images", "")) for r in panel.rows} & set(panel.predicted)
                        for panel in panels)
    legend_below(fig, axes, rows_legend(every, sweep) + simulated_predicted(chips_text(every), predicted_any))
    images = _accuracy.images_text(every[0].get("images", ""))
    note = "\n".join(filter(None, (note, stale_note(every))))
    title(fig, f"{model_text(model)}, {images} test images" + (f"\n{note}" if note else ""))
    return fig


def _draw_sweep(tables: dict, model: str, sweep: Sweep) -> Figure:
    rows, predicted = _sweep_rows(tables, sweep), _predicted(model, sweep)
    if sweep.by_mapping:
        panels = [Panel(f"({letter}) {mapping}", rows, predicted, mapping) for letter, mapping in zip("ab", MAPPINGS)]
    else:
        panels = [Panel(None, rows, predicted)]
    note = "\n".join(filter(None, (sweep.note, missing_note(tables, sweep.joined))))
    return draw_panels(panels, sweep, model, note)


def plot_sweep(name: str, quick: bool, sweep: Sweep) -> list[Path]:
    return per_model(name, quick, sweep.experiment, lambda tables, model: _draw_sweep(tables, model, sweep))


def figure_data(name: str, source: str, quick: bool, what: str) -> list[dict]:
    """The rows another figure computed (``<out>/data/<source>.csv``), or FigureSkipped naming this figure
    and the command that computes them."""
    try:
        return _base.rows_for(source, quick, what)
    except _base.FigureSkipped as e:
        raise _base.FigureSkipped(f"{name}: {e}; then `aimc figures {name}`") from None


def theory_and_simulation(ax, rows: list[dict], x_key: str, style: dict, theory: str = "theory_relative_rms",
                          simulated: str = "mc_relative_rms") -> None:
    """The closed form as a line through its values, the Monte Carlo as open markers with their 95 %
    interval over chips (none for a deterministic point: one chip, the theory is exact there)."""
    rows = sorted(rows, key=lambda r: _base.number(r, x_key))
    xs = [_base.number(r, x_key) for r in rows]
    ax.plot(xs, [_base.number(r, theory) for r in rows], color=style["color"], ls=style.get("ls", "-"),
            label=style["label"])
    mc = [_base.number(r, simulated) for r in rows]
    low = [m - _base.number(r, "mc_ci_low") if r.get("mc_ci_low") not in ("", "nan") else 0.0
           for m, r in zip(mc, rows)]
    high = [_base.number(r, "mc_ci_high") - m if r.get("mc_ci_high") not in ("", "nan") else 0.0
            for m, r in zip(mc, rows)]
    ax.errorbar(xs, mc, yerr=[low, high], color=style["color"], ls="none", marker=style.get("marker", "o"),
                mfc="white", ms=3.5)


def theory_simulation_legend(chips: str) -> list[tuple[Line2D, str]]:
    return [(Line2D([], [], color="k", ls="-"), "closed form (aimc.theory)"),
            (Line2D([], [], color="k", ls="none", marker="o", mfc="white"), f"Monte Carlo (95 % CI, {chips})")]


TEXT_LINE, ROW_PAD, COLUMN_PAD = 0.118, 0.05, 0.07
"""Inches per line of 7 pt text, between rows, and between columns."""


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _text_width(fig: Figure, text: str, bold: bool = False, size: float = 7) -> float:
    """The width in inches of ``text`` as rendered at ``size`` pt."""
    probe = fig.text(0, 0, text, fontsize=size, fontweight="bold" if bold else "normal")
    width = probe.get_window_extent(FigureCanvasAgg(fig).get_renderer()).width / fig.dpi
    probe.remove()
    return width


def _column_widths(fig: Figure, table: list[list[str]]) -> list[float]:
    """Each column's width in inches: its widest cell as rendered at 7 pt, plus the gap between columns."""
    widths = [0.0] * len(table[0])
    for index, row in enumerate(table):
        for column, text in enumerate(row):
            widths[column] = max(widths[column], _text_width(fig, text, bold=index == 0))
    return [w + COLUMN_PAD for w in widths]


def table_figure(header: list[str], cells: list[list[str]], title: str, notes: list[str]) -> Figure:
    """A table drawn as the paper prints one: rules above and below the header and at the end, notes below.

    Cells may hold several lines. Columns are as wide as their widest cell (the first left-aligned, the
    others centred), and the figure :data:`aimc.figures._base.SINGLE_COLUMN` wide unless they need more.
    """
    table = [header, *cells]
    heights = [TEXT_LINE * max(_lines(t) for t in row) + ROW_PAD for row in table]
    top = 0.3
    height = top + sum(heights) + 0.08 + TEXT_LINE * sum(_lines(n) for n in notes) + 0.06
    fig = Figure(figsize=(_base.SINGLE_COLUMN, height))
    widths = _column_widths(fig, table)
    text = max(_text_width(fig, "\n".join(notes)), _text_width(fig, title, bold=True, size=8))
    width = max(_base.SINGLE_COLUMN, sum(widths) + 0.1, text + 0.15)
    fig.set_size_inches(width, height)
    ax = fig.add_axes((0.05 / width, 0.0, 1 - 0.1 / width, 1.0))
    ax.set_axis_off()
    ax.set_xlim(0, width - 0.1)
    ax.set_ylim(height, 0)  # inches from the top left
    ax.text(0.0, 0.05, title, fontsize=8, fontweight="bold", va="top")
    spare = (width - 0.1 - sum(widths)) / len(widths)  # spread what is left over the columns
    starts = [sum(widths[:i]) + i * spare for i in range(len(widths))]
    y = top
    for index, (row, row_height) in enumerate(zip(table, heights)):
        for column, (start, text) in enumerate(zip(starts, row)):
            x, align = (start, "left") if column == 0 else (start + (widths[column] + spare) / 2, "center")
            ax.text(x, y + row_height / 2, text, ha=align, va="center", fontsize=7, linespacing=1.15,
                    fontweight="bold" if index == 0 else "normal")
        y += row_height
        if index in (0, len(cells)):
            ax.axhline(y, color="k", lw=0.6)
    ax.axhline(top, color="k", lw=0.6)
    ax.text(0.0, y + 0.08, "\n".join(notes), fontsize=7, va="top", linespacing=1.25)
    return fig


def markdown_table(header: list[str], cells: list[list[str]]) -> str:
    """The same table in markdown (the gallery README quotes it, regenerated by a test)."""
    def line(row: list[str]) -> str:  # a cell's lines read as one (they break where a space would be)
        return "| " + " | ".join(cell.replace("\n", " ").replace("|", "/") for cell in row) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in cells)])

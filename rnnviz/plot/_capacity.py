"""Figures of a memorization-capacity sweep, drawn from the study's tables: the seed-aggregated grid
(:func:`rnnviz.study.per_targeted_bits`) and the summary (:func:`rnnviz.study.summarize`), and the
capacity explorer's view (:func:`rnnviz.widgets.capacity_view`).

Each plot function draws on one Axes (``ax=None`` creates it; :func:`plot_capacity_view` on two,
``axes=None``) and returns a :class:`~rnnviz.plot.Drawn`; :func:`capacity_figures` lays them out and
saves PDF (fonts embedded) and PNG files.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._files import write_atomically
from ._style import PALETTE, Drawn, _axes, _panels, figsize, save, style

# The study's size column is ``hidden_size``, the cell's n: the LSTM-family cells (lstm, irc_lstm,
# ihc_lstm) hold a flat state [h; c] of 2n numbers (their ``state_size``), and bits per unit divide by n.
SIZE_LABEL = "hidden size n"

# Per-(cell, hidden size) quantities of rnnviz.study.summarize that a figure or explorer can draw.
METRICS = {
    "capacity_bits": "capacity (recalled bits)",
    "bits_per_unit": "capacity / hidden size n (bits per unit)",
    "bits_per_parameter": "capacity / cell parameters (bits)",
    "max_targeted_bits_99": "largest $I_T$ recalled at ≥ 99 % (bits)",
}


def _hidden_size_axis(ax, sizes) -> None:
    """Log2 x axis labelled with the hidden sizes themselves."""
    sizes = sorted(int(n) for n in sizes)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel(SIZE_LABEL)


def per_alphabet(frame: pd.DataFrame, *others: pd.DataFrame | None):
    """``(suffix, title, frame_A, *others_A)`` for each alphabet A of ``frame``: one set of figures per
    alphabet. One alphabet (or no ``alphabet`` column): a single set, ``("", "", frame, *others)``;
    several: names end in ``_A<A>``, titles start with ``alphabet A, ``, and every frame (``others``
    may be None, or lack the column) is cut to A's rows."""
    alphabets = sorted(int(a) for a in frame["alphabet"].unique()) if "alphabet" in frame.columns else []
    if len(alphabets) < 2:
        yield ("", "", frame, *others)
        return
    for a in alphabets:
        cut = [o if o is None or "alphabet" not in o.columns else o[o["alphabet"] == a] for o in others]
        yield (f"_A{a}", f"alphabet {a}, ", frame[frame["alphabet"] == a], *cut)


def _one_alphabet(frame: pd.DataFrame, name: str) -> None:
    """A clear error when ``frame`` holds rows of several alphabets (a capacity curve or heatmap is drawn
    at one alphabet: at another the same targeted bits are other sequences)."""
    if "alphabet" in frame.columns and frame["alphabet"].nunique() > 1:
        found = sorted(int(a) for a in frame["alphabet"].unique())
        raise ValueError(f"{name} holds several alphabets {found}: draw one at a time, e.g. "
                         f"{name}[{name}['alphabet'] == {found[0]}] (capacity_figures draws a set per alphabet)")


def _setting(rows: pd.DataFrame, interference: str | None) -> pd.DataFrame:
    """Rows of one interference setting (default: the one with the least interfering information)."""
    if interference is None:
        interference = rows.sort_values("interfering_bits")["interference"].iloc[0]
    sub = rows[rows["interference"] == interference]
    if sub.empty:
        raise ValueError(
            f"interference must be one of {sorted(rows['interference'].unique())}, got {interference!r}"
        )
    return sub


def plot_accuracy_heatmap(
    grid: pd.DataFrame,
    cell: str,
    *,
    interference: str | None = None,
    ax=None,
    colorbar: bool = True,
) -> Drawn:
    """Recall accuracy of ``cell`` over (targeted bits, hidden size n).

    ``grid``: accuracy per (cell, hidden size, interference, targeted bits), aggregated over seeds
    (:func:`rnnviz.study.per_targeted_bits`; its ``over_seeds`` picks best seed, mean or median).
    Cells are annotated with the accuracy; chance is 1/A.

    Returns:
        :class:`Drawn` with "image" (AxesImage), "colorbar" (None without one) and "labels" (the
        accuracy Text annotations).
    """
    _one_alphabet(grid, "grid")
    if cell not in set(grid["cell"]):
        raise ValueError(f"cell must be one of {sorted(grid['cell'].unique())}, got {cell!r}")
    sub = _setting(grid[grid["cell"] == cell], interference)
    if sub.duplicated(["hidden_size", "targeted_bits"]).any():
        raise ValueError("grid must hold one row per (hidden_size, targeted_bits) of a cell and setting: "
                         "aggregate the seeds first with rnnviz.study.per_targeted_bits(rows)")
    grid = sub.pivot(index="hidden_size", columns="targeted_bits", values="accuracy")
    ax = _axes(ax)
    image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(grid.shape[1]), [f"{b:g}" for b in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(n) for n in grid.index])
    labels = [ax.text(j, i, f"{acc:.2f}", ha="center", va="center", fontsize="x-small",
                      color="black" if acc > 0.6 else "white")
              for (i, j), acc in np.ndenumerate(grid.to_numpy()) if np.isfinite(acc)]
    ax.set_xlabel("$I_T$ (bits)")
    ax.set_ylabel(SIZE_LABEL)
    ax.set_title(cell)
    ax.grid(False)
    bar = ax.figure.colorbar(image, ax=ax, label="recall accuracy") if colorbar else None
    return Drawn((ax,), {"image": image, "colorbar": bar, "labels": labels})


def plot_capacity_vs_hidden_size(
    summary: pd.DataFrame, *, interference: str | None = None, guides=(0.5, 1.0, 2.0), ax=None
) -> Drawn:
    """Capacity (bits) against hidden size n (log-log), one line per cell, with dashed ``bits = k · n`` guides.

    ``summary``: from :func:`rnnviz.study.summarize`.

    Returns:
        :class:`Drawn` with "lines" (cell → Line2D) and "guides" (one Line2D per guide).
    """
    _one_alphabet(summary, "summary")
    sub = _setting(summary, interference)
    ax = _axes(ax)
    lines = {}
    for i, (cell, g) in enumerate(sub.groupby("cell", sort=True)):
        g = g.sort_values("hidden_size")
        (lines[cell],) = ax.plot(
            g["hidden_size"], g["capacity_bits"], "o-", color=PALETTE[i % len(PALETTE)], label=cell
        )
    n = np.array(sorted(sub["hidden_size"].unique()), dtype=float)
    drawn_guides = []
    for k in guides:
        drawn_guides += ax.plot(n, k * n, ls="--", lw=0.7, color="0.6")
        ax.annotate(
            f"{k:g} bit/unit",
            (n[-1], k * n[-1]),
            fontsize="x-small",
            color="0.4",
            xytext=(2, 0),
            textcoords="offset points",
            va="center",
        )
    ax.set_yscale("log", base=2)
    _hidden_size_axis(ax, n)
    ax.set_ylabel("capacity (recalled bits)")
    ax.legend()
    return Drawn((ax,), {"lines": lines, "guides": drawn_guides})


def plot_interference_effect(summary: pd.DataFrame, *, ax=None) -> Drawn:
    """Capacity against hidden size n with and without interfering information (solid: least
    interference; dashed: the others).

    Returns:
        :class:`Drawn` with "lines": (cell, interference) → Line2D.
    """
    _one_alphabet(summary, "summary")
    ax = _axes(ax)
    styles = ["-", "--", ":", "-."]
    settings = (
        summary[["interference", "interfering_bits"]]
        .drop_duplicates()
        .sort_values("interfering_bits")
        .itertuples(index=False)
    )
    lines = {}
    for j, (kind, bits) in enumerate(settings):
        part = summary[summary["interference"] == kind]
        for i, (cell, g) in enumerate(part.groupby("cell", sort=True)):
            g = g.sort_values("hidden_size")
            (lines[(cell, kind)],) = ax.plot(
                g["hidden_size"],
                g["capacity_bits"],
                marker="o",
                ls=styles[j % len(styles)],
                color=PALETTE[i % len(PALETTE)],
                label=f"{cell}, {kind} ($I_I$={bits:g} bits)",
            )
    _hidden_size_axis(ax, summary["hidden_size"].unique())
    ax.set_ylabel("capacity (recalled bits)")
    ax.legend(fontsize="x-small")
    return Drawn((ax,), {"lines": lines})


def plot_bits_per_parameter(
    summary: pd.DataFrame, *, interference: str | None = None, band=(3.0, 6.0), ax=None
) -> Drawn:
    """Bits per cell parameter against the parameter count, with the 3–6 bits/parameter band reported
    by Collins et al. (2017) shaded.

    Returns:
        :class:`Drawn` with "lines" (cell → Line2D) and "band" (the shaded span).
    """
    _one_alphabet(summary, "summary")
    sub = _setting(summary, interference)
    ax = _axes(ax)
    shaded = ax.axhspan(
        *band, color="0.85", zorder=0, label=f"{band[0]:g}–{band[1]:g} bits/parameter (Collins et al.)"
    )
    lines = {}
    for i, (cell, g) in enumerate(sub.groupby("cell", sort=True)):
        g = g.sort_values("n_parameters")
        (lines[cell],) = ax.plot(
            g["n_parameters"], g["bits_per_parameter"], "o-", color=PALETTE[i % len(PALETTE)], label=cell
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters of the cell")
    ax.set_ylabel("capacity / parameters (bits)")
    ax.legend(fontsize="x-small")
    return Drawn((ax,), {"lines": lines, "band": shaded})


def plot_summary_metric(summary: pd.DataFrame, metric: str = "capacity_bits", *, highlight: str | None = None,
                        label: str | None = None, ax=None) -> Drawn:
    """One capacity quantity of :func:`rnnviz.study.summarize` against hidden size n, a line per cell;
    ``highlight`` draws that cell thick and the others thin; ``label`` names the y axis (default: ``metric``).

    Returns:
        :class:`Drawn` with "lines": cell → Line2D.
    """
    if metric not in summary.columns:
        raise ValueError(f"metric must be a column of summary ({sorted(summary.columns)}), got {metric!r}")
    _one_alphabet(summary, "summary")
    ax = _axes(ax)
    lines = {}
    for i, (cell, g) in enumerate(summary.groupby("cell", sort=True)):
        g = g.sort_values("hidden_size")
        strong = highlight is None or cell == highlight
        (lines[cell],) = ax.plot(g["hidden_size"], g[metric], "o-", color=PALETTE[i % len(PALETTE)], label=cell,
                                 linewidth=2.2 if strong else 0.8, alpha=1.0 if strong else 0.5,
                                 markersize=5 if strong else 3)
    _hidden_size_axis(ax, summary["hidden_size"].unique())
    ax.set_ylabel(label or metric)
    ax.legend(fontsize="small")
    return Drawn((ax,), {"lines": lines})


def plot_capacity_view(view, *, axes=None) -> Drawn:
    """The capacity explorer's view (:func:`rnnviz.widgets.capacity_view`): the chosen cell's recall
    accuracy over (I_T, n) on the left, the chosen metric against n for every cell on the right.

    Args:
        view: a :class:`rnnviz.widgets.CapacityView`.
        axes: two Axes (heatmap, metric); created side by side when None.

    Returns:
        :class:`Drawn` with the two panels and "heatmap" (AxesImage), "colorbar" and "lines" (cell → Line2D).
    """
    left, right = _panels(axes, 2, lambda: plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")[1],
                          "heatmap, metric")
    heatmap = plot_accuracy_heatmap(view.grid, view.cell, interference=view.interference, ax=left)
    left.set_title(f"{view.cell}, {view.interference} interference")
    lines = plot_summary_metric(view.summary, view.metric, highlight=view.cell, label=METRICS[view.metric],
                                ax=right)
    return Drawn((left, right), {"heatmap": heatmap["image"], "colorbar": heatmap["colorbar"],
                                 "lines": lines["lines"]})


def capacity_figures(grid: pd.DataFrame, summary: pd.DataFrame, out: str | Path,
                     formats=("pdf", "png")) -> list[Path]:
    """Draw and save the capacity figures under ``out``; returns the written paths.

    ``grid``: :func:`rnnviz.study.per_targeted_bits` of the sweep's rows; ``summary``:
    :func:`rnnviz.study.summarize` of them.

    ``capacity_heatmap_<interference>`` (one per interference setting, e.g. ``capacity_heatmap_blank``
    and ``capacity_heatmap_random``): recall accuracy of every cell over (I_T, n);
    ``capacity_heatmap``: the same for the setting with the least interfering information;
    ``capacity_vs_hidden_size``, ``capacity_interference``, ``capacity_bits_per_parameter``.
    Tables of several alphabets (the alphabet-size control) get one such set per alphabet A, each
    name ending in ``_A<A>`` (``capacity_heatmap_mixed_A4``, ``capacity_vs_hidden_size_A4``, …).
    Diverged models are left out by the tables already; the heatmaps' titles count them. Every file
    is written atomically.
    """
    out = Path(out)
    return [path for suffix, title, grid_a, summary_a in per_alphabet(grid, summary)
            for path in _figures(grid_a, summary_a, out, formats, suffix, title)]


def _figures(grid: pd.DataFrame, summary: pd.DataFrame, out: Path, formats, suffix: str,
             title: str = "") -> list[Path]:
    """:func:`capacity_figures` of one alphabet: file names end in ``suffix``, titles start with ``title``."""
    rows = grid
    # Interference settings in order of their least interfering information, with their I_I values.
    settings = rows.groupby("interference")["interfering_bits"].unique().map(sorted)
    settings = settings.sort_values(key=lambda bits: bits.map(min), kind="stable")
    default = _setting(rows, None)["interference"].iloc[0]
    written = []
    with style("paper"):
        for kind, bits in settings.items():
            fig = _heatmaps(rows, kind, bits, title)
            paths = save(fig, out / f"capacity_heatmap_{kind}{suffix}", formats)
            plt.close(fig)
            written += paths
            if kind == default:  # also under the name used before there was one file per setting
                for path in paths:
                    copy = path.with_stem(f"capacity_heatmap{suffix}")
                    write_atomically(copy, lambda f, path=path: f.write(path.read_bytes()))
                    written.append(copy)
        for name, draw in (
            ("capacity_vs_hidden_size", plot_capacity_vs_hidden_size),
            ("capacity_interference", plot_interference_effect),
            ("capacity_bits_per_parameter", plot_bits_per_parameter),
        ):
            fig, ax = plt.subplots(figsize=figsize("single", 0.8), layout="constrained")
            draw(summary, ax=ax)
            if title:
                ax.set_title(title.rstrip(", "))
            written += save(fig, out / f"{name}{suffix}", formats)
            plt.close(fig)
    return written


def _heatmaps(rows: pd.DataFrame, interference: str, interfering_bits, title: str = ""):
    """One accuracy heatmap per cell (up to three a row) for one interference setting; the Figure."""
    cells = sorted(rows.loc[rows["interference"] == interference, "cell"].unique())
    cols = min(3, len(cells))
    nrows = -(-len(cells) // cols)
    fig, axes = plt.subplots(
        nrows, cols, squeeze=False, figsize=(figsize("double")[0], 2.3 * nrows + 0.3), layout="constrained"
    )
    for k, (ax, cell) in enumerate(zip(list(axes.flat)[: len(cells)], cells, strict=True)):
        plot_accuracy_heatmap(rows, cell, interference=interference, ax=ax, colorbar=False)
        if k % cols:
            ax.set_ylabel("")
    for ax in list(axes.flat)[len(cells) :]:
        ax.set_visible(False)
    fig.colorbar(axes.flat[0].images[0], ax=axes, label="recall accuracy")
    bits = ", ".join(f"{b:g}" for b in interfering_bits)
    left_out = int(rows.loc[rows["interference"] == interference, "diverged"].sum()) if "diverged" in rows else 0
    note = f"; {left_out} diverged model{'s' if left_out != 1 else ''} left out" if left_out else ""
    fig.suptitle(f"{title}{interference} interference ($I_I$ = {bits} bits){note}", fontsize="medium")
    return fig

"""Figures of character language-model studies (:func:`rnnviz.study.language_model`).

Each function draws on one Axes (``ax=None`` creates it) and returns a :class:`~rnnviz.plot.Drawn`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import PALETTE, Drawn, _axes

_COMPARISON_LABELS = {"hidden_size": "equal hidden size", "parameters": "equal parameter count",
                      "state_size": "equal state size"}


def _require_columns(name: str, df, columns) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing the column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError(f"{name} has no rows")


def plot_bpc_comparison(results: pd.DataFrame, *, metric: str = "test_bpc", ax=None) -> Drawn:
    """Bars of bits per character per cell, one group per cell and one bar per comparison.

    Each bar is labelled with the model's hidden size n and parameter count; a dashed line marks the
    unigram baseline when ``results`` has a ``unigram_bpc`` column; error bars span ``ci_low`` to
    ``ci_high`` when ``results`` has them (a seed summary, :func:`rnnviz.study.summarize_lm`).

    Args:
        results: rows of :func:`rnnviz.study.language_model` (one per cell and comparison), or its
            seed summary :func:`rnnviz.study.summarize_lm` (columns cell, comparison, hidden_size,
            n_parameters and ``metric``, and ci_low, ci_high).
        metric: the column to draw ("test_bpc", "valid_bpc", "train_bpc").
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "bars" (comparison → BarContainer) and "baseline" (the unigram Line2D, None
        without a ``unigram_bpc`` column).
    """
    _require_columns("results", results, ["cell", "comparison", "hidden_size", "n_parameters", metric])
    ax = _axes(ax)
    cells = list(dict.fromkeys(results["cell"]))
    comparisons = list(dict.fromkeys(results["comparison"]))
    width = 0.8 / len(comparisons)
    x = np.arange(len(cells))
    drawn = {}
    baseline = None
    for j, comp in enumerate(comparisons):
        sub = results[results["comparison"] == comp].drop_duplicates("cell", keep="last").set_index("cell")
        pos = [i for i, c in enumerate(cells) if c in sub.index]
        rows = sub.loc[[cells[i] for i in pos]]
        errors = None
        if {"ci_low", "ci_high"} <= set(rows.columns):
            errors = np.vstack([rows[metric] - rows["ci_low"], rows["ci_high"] - rows[metric]]).clip(min=0)
            errors = np.nan_to_num(errors)
        bars = ax.bar(x[pos] + (j - (len(comparisons) - 1) / 2) * width, rows[metric], width, yerr=errors,
                      capsize=2 if errors is not None else 0, error_kw={"lw": 0.8},
                      color=PALETTE[j % len(PALETTE)], label=_COMPARISON_LABELS.get(comp, comp))
        labels = [f"n={int(r.hidden_size)}\n{int(r.n_parameters) / 1e3:.0f}k" for r in rows.itertuples()]
        ax.bar_label(bars, labels=labels, fontsize="x-small", padding=1)
        drawn[comp] = bars
    if "unigram_bpc" in results.columns:
        baseline = ax.axhline(float(results["unigram_bpc"].iloc[0]), color="0.4", ls="--", lw=0.8, label="unigram baseline")
    ax.set_xticks(x, cells)
    ax.set_ylabel(f"{metric.replace('_bpc', '')} bits per character")
    top = max(results[metric].max(), results.get("unigram_bpc", results[metric]).max())
    ax.set_ylim(0, top * 1.35)
    ax.legend(loc="upper center", ncol=3, fontsize="small")
    return Drawn((ax,), {"bars": drawn, "baseline": baseline})


def plot_learning_curves(curves: pd.DataFrame, *, metric: str = "valid_bpc", x: str = "step", ax=None) -> Drawn:
    """Bits per character over training, one line per run (colour by cell, dotted for cells past the
    palette's length; dashes for the runs of the equal-parameter comparison when ``curves`` has a
    comparison column, as rnnviz 0.2.0's did).

    Args:
        curves: rows of ``lm_curves.csv`` (columns run_id, cell, ``x``, ``metric``).
        metric: "valid_bpc" or "train_bpc".
        x: "step" or "seconds".
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "lines": run_id → Line2D.
    """
    _require_columns("curves", curves, ["run_id", "cell", x, metric])
    ax = _axes(ax)
    order = list(dict.fromkeys(curves["cell"]))
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(order)}
    repeated = {c for i, c in enumerate(order) if i >= len(PALETTE)}  # a colour used twice: dotted the second time
    drawn = {}
    for run_id, run in curves.groupby("run_id", sort=False):
        cell = run["cell"].iloc[0]
        comp = run["comparison"].iloc[0] if "comparison" in run else "hidden_size"
        style = "--" if comp == "parameters" else ":" if cell in repeated else "-"
        (drawn[run_id],) = ax.plot(run[x], run[metric], color=colours[cell], ls=style,
                marker="o", markersize=2, label=run_id)
    ax.set_xlabel("training step" if x == "step" else "training time (s)")
    ax.set_ylabel(f"{metric.replace('_bpc', '')} bits per character")
    ax.legend(fontsize="x-small", ncol=2)
    return Drawn((ax,), {"lines": drawn})


def plot_bpc_intervals(summary: pd.DataFrame, *, metric: str = "test_bpc", ax=None) -> Drawn:
    """Each cell's seed mean with its confidence interval, one marker per comparison, on an axis
    zoomed to the data (differences of a few hundredths of a bit stay visible; bars from 0 hide them).

    Each point is labelled with the model's hidden size n. The unigram baseline, far above such
    models, is named in the legend rather than drawn.

    Args:
        summary: :func:`rnnviz.study.summarize_lm` (columns cell, comparison, hidden_size, ``metric``,
            ci_low, ci_high; unigram_bpc optional).
        metric: the column of the means ("test_bpc", "valid_bpc", ...).
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "points" (comparison → ErrorbarContainer) and "labels" (comparison → list
        of Text).
    """
    _require_columns("summary", summary, ["cell", "comparison", "hidden_size", metric, "ci_low", "ci_high"])
    ax = _axes(ax)
    cells = list(dict.fromkeys(summary["cell"]))
    comparisons = list(dict.fromkeys(summary["comparison"]))
    step = 0.6 / max(1, len(comparisons))
    x = np.arange(len(cells))
    markers = "osD^v"
    points, labels = {}, {}
    for j, comp in enumerate(comparisons):
        sub = summary[summary["comparison"] == comp].drop_duplicates("cell", keep="last").set_index("cell")
        pos = [i for i, c in enumerate(cells) if c in sub.index]
        rows = sub.loc[[cells[i] for i in pos]]
        low = np.nan_to_num((rows[metric] - rows["ci_low"]).to_numpy(dtype=float)).clip(min=0)
        high = np.nan_to_num((rows["ci_high"] - rows[metric]).to_numpy(dtype=float)).clip(min=0)
        where = x[pos] + (j - (len(comparisons) - 1) / 2) * step
        points[comp] = ax.errorbar(where, rows[metric], yerr=np.vstack([low, high]), fmt=markers[j % len(markers)],
                                   color=PALETTE[j % len(PALETTE)], capsize=2, lw=1, markersize=4,
                                   label=_COMPARISON_LABELS.get(comp, comp))
        labels[comp] = [ax.annotate(f"{int(r.hidden_size)}", (w, r.ci_high if np.isfinite(r.ci_high) else getattr(r, metric)),
                                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                                    fontsize="xx-small", color=PALETTE[j % len(PALETTE)])
                        for w, r in zip(where, rows.itertuples(), strict=True)]
    ax.set_xticks(x, cells)
    ax.set_ylabel(f"{metric.replace('_bpc', '')} bits per character")
    lows, highs = summary["ci_low"].fillna(summary[metric]), summary["ci_high"].fillna(summary[metric])
    span = float(highs.max() - lows.min()) or 0.1
    ax.set_ylim(float(lows.min()) - 0.05 * span, float(highs.max()) + 0.15 * span)
    title = "numbers: hidden size n"
    if "unigram_bpc" in summary.columns and summary["unigram_bpc"].notna().any():
        title += f"; unigram baseline {float(summary['unigram_bpc'].dropna().iloc[0]):.2f} (off the scale)"
    ax.legend(title=title, title_fontsize="x-small", fontsize="x-small", ncol=len(comparisons), loc="upper left")
    return Drawn((ax,), {"points": points, "labels": labels})

"""Figures of the adding-problem study and of the capacity study's effects, drawn from their tables
(:func:`rnnviz.study.adding`'s rows, :func:`rnnviz.study.capacity_effects`); the seed intervals are
those of :mod:`rnnviz._stats`, the same as the study's summary.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._checks import check_choice
from .._stats import seed_summary
from ._lm import _require_columns
from ._style import PALETTE, Drawn, _axes, _panels

_SIZE_STYLES = ("-", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_adding(rows: pd.DataFrame, *, hidden_size: int | None = None, length: int | None = None,
                x: str = "length", yscale: str = "log", confidence: float = 0.95, ax=None) -> Drawn:
    """Held-out MSE of the adding problem against sequence length T (``x="length"``) or against the
    hidden size n (``x="hidden_size"``): one line per (cell, the other of n and T) through the seed
    means, with ``confidence`` (95 %) Student-t intervals over seeds as error bars, and the "always
    predict 1" baseline as a dashed line.

    Colour: the cell; line style and marker: the other variable (n against T, T against n). A point
    with one seed has a mean and no error bar; diverged models (NaN ``test_mse``) are left out of the
    means.

    Args:
        rows: rows of :func:`rnnviz.study.adding` (columns cell, hidden_size, length, test_mse and
            baseline_mse).
        hidden_size, length: draw only this n, this T (default: every one in ``rows``).
        x: the horizontal axis, "length" or "hidden_size" (log2 axis either way).
        yscale: "log" (the default: the MSE spans orders of magnitude; an interval reaching 0 or
            below runs off the bottom of the axis) or "linear" (from 0).
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "lines" ((cell, other) → Line2D of the means, ``other`` the hidden size
        against T, the length against n), "errorbars" (the same keys → ErrorbarContainer) and
        "baseline" (the dashed Line2D at the mean of ``baseline_mse``, ≈ 1/6).
    """
    _require_columns("rows", rows, ["cell", "hidden_size", "length", "test_mse", "baseline_mse"])
    check_choice("yscale", yscale, ("linear", "log"))
    check_choice("x", x, ("length", "hidden_size"))
    for name, value in (("hidden_size", hidden_size), ("length", length)):
        if value is not None:
            check_choice(name, value, sorted(int(v) for v in rows[name].unique()))
            rows = rows[rows[name] == value]
    other = "hidden_size" if x == "length" else "length"
    summary = seed_summary(rows, ["cell", "hidden_size", "length"], "test_mse", confidence)
    ax = _axes(ax)
    cells = sorted(summary["cell"].unique())
    others = sorted(summary[other].unique())
    series = [(c, v) for c in cells for v in others]
    symbol = "n" if other == "hidden_size" else "T"
    lines, bars = {}, {}
    for k, (cell, v) in enumerate(series):
        part = summary[(summary["cell"] == cell) & (summary[other] == v)].sort_values(x)
        if part.empty:
            continue
        mean = part["test_mse_mean"].to_numpy(dtype=float)
        spread = np.vstack([mean - part["test_mse_ci_low"].to_numpy(dtype=float),
                            part["test_mse_ci_high"].to_numpy(dtype=float) - mean])
        shift = 2.0 ** (0.04 * (k - (len(series) - 1) / 2))  # side by side on the log2 axis
        j = others.index(v)
        label = cell if len(others) == 1 else f"{cell}, {symbol}={v}"
        bars[(cell, v)] = ax.errorbar(part[x].to_numpy(dtype=float) * shift, mean, yerr=spread,
                                      color=PALETTE[cells.index(cell) % len(PALETTE)],
                                      ls=_SIZE_STYLES[j % len(_SIZE_STYLES)], marker=_MARKERS[j % len(_MARKERS)],
                                      capsize=2, label=label)
        lines[(cell, v)] = bars[(cell, v)].lines[0]
    level = float(rows["baseline_mse"].mean())
    baseline = ax.axhline(level, color="0.4", ls="--", lw=0.9, label=f"always 1 (MSE {level:.3f})")
    ticks = sorted(int(t) for t in summary[x].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_yscale(yscale)
    if yscale == "linear":
        ax.set_ylim(bottom=0.0)  # an MSE is not negative, whatever a two-seed interval says
    ax.set_xlabel("sequence length T" if x == "length" else "hidden size n")
    ax.set_ylabel("held-out MSE")
    fixed = [f"hidden size n = {hidden_size}"] * (hidden_size is not None) + [f"T = {length}"] * (length is not None)
    if fixed:
        ax.set_title(", ".join(fixed))
    ax.legend(fontsize="x-small", ncol=2 if len(series) > 4 else 1)
    return Drawn((ax,), {"lines": lines, "errorbars": bars, "baseline": baseline})


def plot_effects(effects: pd.DataFrame, *, axes=None) -> Drawn:
    """A forest plot of :func:`rnnviz.study.capacity_effects`: one panel per effect (in the table's
    order: state_size, targeted, interference), each cell's estimate with its confidence interval as a
    horizontal error bar, and a dashed line at zero (no effect). An effect the table could not
    estimate (NaN) is marked "n/a" at zero.

    Args:
        effects: columns cell, effect, estimate, ci_low, ci_high, unit (p_value, when present, is
            written beside each estimate).
        axes: one Axes per effect in the table (3 for ``capacity_effects``); created side by side
            when None.

    Returns:
        :class:`Drawn` with "points" ((effect, cell) → ErrorbarContainer; not for NaN estimates),
        "zero" (effect → the Line2D at zero) and "missing" ((effect, cell) → Text "n/a").
    """
    _require_columns("effects", effects, ["cell", "effect", "estimate", "ci_low", "ci_high", "unit"])
    names = list(dict.fromkeys(effects["effect"]))
    panels = _panels(axes, len(names), lambda: plt.subplots(
        1, len(names), figsize=(3.0 * len(names), 0.6 + 0.35 * effects["cell"].nunique() + 0.8),
        layout="constrained", squeeze=False)[1][0], ", ".join(names))
    cells = sorted(effects["cell"].unique())
    points, zero, missing = {}, {}, {}
    for ax, name in zip(panels, names, strict=True):
        part = effects[effects["effect"] == name].set_index("cell")
        zero[name] = ax.axvline(0.0, color="0.4", ls="--", lw=0.8)
        for i, cell in enumerate(cells):
            y = len(cells) - 1 - i
            if cell not in part.index:
                continue
            row = part.loc[cell]
            if not np.isfinite(row["estimate"]):
                missing[(name, cell)] = ax.text(0.0, y, "n/a", ha="center", va="center", fontsize="x-small")
                continue
            low, high = row["ci_low"], row["ci_high"]
            err = np.array([[row["estimate"] - low], [high - row["estimate"]]]) if np.isfinite(low) else None
            points[(name, cell)] = ax.errorbar([row["estimate"]], [y], xerr=err, fmt="o", capsize=3,
                                               color=PALETTE[i % len(PALETTE)])
            if "p_value" in part.columns and np.isfinite(row["p_value"]):
                ax.annotate(f"p={row['p_value']:.2g}", (row["estimate"], y), xytext=(0, 5),
                            textcoords="offset points", ha="center", fontsize="xx-small")
        ax.set_yticks(range(len(cells)), list(reversed(cells)))
        ax.set_ylim(-0.7, len(cells) - 0.3)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel(str(part["unit"].iloc[0]))
        ax.grid(axis="y", visible=False)
    return Drawn(tuple(panels), {"points": points, "zero": zero, "missing": missing})


def plot_alphabet_control(table: pd.DataFrame, *, measure: str = "recalled_bits", axes=None) -> Drawn:
    """The capacity study's alphabet-size control (:func:`rnnviz.study.alphabet_control`): recalled bits
    against targeted bits I_T = K log2 A, one panel per cell, one line per (hidden size n, K) through
    the alphabets A (ascending I_T) with the seeds' confidence intervals as error bars, and the
    identity R = I_T (dashed: everything recalled).

    Reading it: along a line K, and so the sequence length, is fixed and only the bits per symbol
    change. If recall is limited by the state (bits), the two K lines of one n (colour) lie on one
    curve where their I_T meet; if it is limited by K or the length, they part there.

    Args:
        table: one row per (cell, hidden_size, n_targets, alphabet) of one setting (one interference
            dose): columns cell, hidden_size, n_targets, alphabet, targeted_bits, ``<measure>_mean``,
            ``<measure>_ci_low``, ``<measure>_ci_high``.
        measure: the measure the table summarises (its columns' prefix).
        axes: one Axes per cell (cells in sorted order); created side by side when None.

    Returns:
        :class:`Drawn` with "lines" ((cell, hidden_size, n_targets) → Line2D of the seed means),
        "errorbars" (same keys → ErrorbarContainer) and "identity" (cell → the dashed Line2D R = I_T).
    """
    mean, low, high = (f"{measure}_{s}" for s in ("mean", "ci_low", "ci_high"))
    _require_columns("table", table, ["cell", "hidden_size", "n_targets", "alphabet", "targeted_bits", mean, low,
                                      high])
    point = ["cell", "hidden_size", "n_targets", "alphabet"]
    if table.duplicated(point).any():
        raise ValueError("table must hold one setting (one row per (cell, hidden_size, n_targets, alphabet)); it "
                         "holds several (interference doses?): select one, e.g. "
                         "table[(table.n_interfering == 8) & (table.n_random == 4)]")
    cells = sorted(table["cell"].unique())
    panels = _panels(axes, len(cells), lambda: plt.subplots(
        1, len(cells), figsize=(3.0 * len(cells), 3.2), layout="constrained", squeeze=False,
        sharey=True)[1][0], "one per cell: " + ", ".join(cells))
    sizes = sorted(int(n) for n in table["hidden_size"].unique())
    counts = sorted(int(k) for k in table["n_targets"].unique())
    top = float(np.nanmax(table["targeted_bits"].to_numpy(dtype=float)))
    lines, bars, identity = {}, {}, {}
    for i, (ax, cell) in enumerate(zip(panels, cells, strict=True)):
        (identity[cell],) = ax.plot([0.0, top], [0.0, top], ls="--", lw=0.8, color="0.5",
                                    label="recalled = targeted")
        for n in sizes:
            for k in counts:
                part = table[(table["cell"] == cell) & (table["hidden_size"] == n)
                             & (table["n_targets"] == k)].sort_values("alphabet")
                if part.empty:
                    continue
                y = part[mean].to_numpy(dtype=float)
                spread = np.vstack([y - part[low].to_numpy(dtype=float), part[high].to_numpy(dtype=float) - y])
                j = counts.index(k)
                bars[(cell, n, k)] = ax.errorbar(
                    part["targeted_bits"].to_numpy(dtype=float), y, yerr=spread, capsize=2,
                    color=PALETTE[sizes.index(n) % len(PALETTE)], ls=_SIZE_STYLES[j % len(_SIZE_STYLES)],
                    marker=_MARKERS[j % len(_MARKERS)], label=f"n={n}, K={k}")
                lines[(cell, n, k)] = bars[(cell, n, k)].lines[0]
        ax.set_xlim(0.0, 1.05 * top)
        ax.set_ylim(bottom=0.0)
        ax.set_title(cell)
        ax.set_xlabel("targeted bits $I_T = K\\,\\log_2 A$")
        if i == 0:
            ax.set_ylabel("recalled bits")
            ax.legend(fontsize="x-small")
    return Drawn(tuple(panels), {"lines": lines, "errorbars": bars, "identity": identity})

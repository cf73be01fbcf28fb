"""Figures of capacity with its spread over seeds, drawn from :func:`rnnviz.study.capacity_table` (seed
means with Student-t intervals), :func:`rnnviz.study.hold_table` and :func:`rnnviz.study.equal_parameter_capacity`.

Where :mod:`rnnviz.plot._capacity`'s figures draw the best seed (:func:`rnnviz.study.summarize`), these
draw what a paper reports: the mean over seeds with its 95 % interval as error bars.

- :func:`plot_capacity_intervals`: capacity, bits per unit or symbols per unit against the hidden size
  n, the parameter count or the interfering bits, one line per cell;
- :func:`plot_capacity_runs`: capacity against n for one cell, one line per run (two trainings of a grid);
- :func:`plot_recall_curves`: recalled against targeted bits for one cell, one line per run and n;
- :func:`plot_recall_by_hold`: recalled bits (in all or per symbol) against each target's hold (:func:`rnnviz.study.hold_table`);
- :func:`plot_position_profile`: recall at each target position (:func:`rnnviz.study.position_table`);
- :func:`plot_equal_parameters`: each IRC/IHC cell minus its baseline at the baseline's parameter
  counts, with intervals;
- :func:`capacity_interval_figures`: lays them out and saves them (``rnnviz capacity`` calls it).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._checks import check_bool, check_choice
from .._stats import seed_summary
from ._capacity import _hidden_size_axis, _one_alphabet, per_alphabet
from ._lm import _require_columns
from ._style import PALETTE, Drawn, _axes, figsize, save, style

#: What :func:`plot_capacity_intervals` can draw: column prefix → axis label.
VALUES = {
    "capacity": "capacity (recalled bits), seed mean",
    "bits_per_unit": "capacity / n (bits per unit)",
    "symbols_per_unit": "capacity / (n log2 A) (symbols per unit)",
}
#: Its x axes: column → axis label.
X_AXES = {
    "hidden_size": "hidden size n",
    "n_parameters": "learned parameters (input map + cell)",
    "interfering_bits": "interfering information $I_I$ (bits)",
}
#: What :func:`plot_recall_by_hold` labels its y axis with: value → axis label.
HOLD_VALUES = {
    "recalled_bits": "recalled bits (seed mean, 95 % interval)",
    "bits_per_symbol": "recalled bits per target symbol (seed mean, 95 % interval)",
}


#: How :func:`plot_position_profile` names the settings that tell its lines apart.
_SETTING_NAMES = {"n_interfering": "L", "n_random": "random", "interfering_bits": "$I_I$"}


def _error_bars(means, low, high) -> np.ndarray:
    """``yerr`` of ``ax.errorbar`` for means with intervals [low, high]: ``(2, k)`` distances below and
    above, 0 where an end is not finite (one seed: a mean without an interval)."""
    means = np.asarray(means, dtype=float)
    spread = np.vstack([means - np.asarray(low, dtype=float), np.asarray(high, dtype=float) - means])
    spread[~np.isfinite(spread)] = 0.0
    return spread


def _mean_column(value: str) -> str:
    return "capacity_mean" if value == "capacity" else value


def plot_capacity_intervals(table: pd.DataFrame, *, x: str = "hidden_size", value: str = "capacity",
                            interfering_bits: float | None = None, hidden_size: int | None = None,
                            cells=None, reference: float | None = None, reference_label: str = "",
                            ax=None) -> Drawn:
    """Seed-mean capacity (or bits or symbols per unit) with its interval, one line per cell.

    Args:
        table: :func:`rnnviz.study.capacity_table` (columns cell, hidden_size, interfering_bits, the
            value's mean and ``_ci_low``/``_ci_high``, and ``n_parameters`` for ``x="n_parameters"``).
        x: "hidden_size" (log2 axis), "n_parameters" (log2 axis) or "interfering_bits" (linear).
        value: "capacity", "bits_per_unit" or "symbols_per_unit".
        interfering_bits: the interference amount to draw (x other than "interfering_bits"; default:
            the smallest in ``table``). hidden_size: the n to draw (``x="interfering_bits"`` only;
            required there when ``table`` holds several).
        cells: the cells to draw, in this order (default: all, sorted).
        reference: a dashed horizontal line at this value (e.g. 1 symbol per unit), labelled
            ``reference_label``.
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "errorbars" (cell → ErrorbarContainer) and "reference" (the Line2D or None).
    """
    check_choice("x", x, tuple(X_AXES))
    check_choice("value", value, tuple(VALUES))
    mean = _mean_column(value)
    _require_columns("table", table, ["cell", "hidden_size", "interfering_bits", x, mean,
                                      f"{value}_ci_low", f"{value}_ci_high"])
    _one_alphabet(table, "table")
    if x == "interfering_bits":
        sizes = sorted(int(n) for n in table["hidden_size"].unique())
        if hidden_size is None and len(sizes) > 1:
            raise ValueError(f"hidden_size must name one of {sizes} when x='interfering_bits'")
        sub = table if hidden_size is None else table[table["hidden_size"] == check_choice("hidden_size", hidden_size, sizes)]
        where = f"n = {hidden_size if hidden_size is not None else sizes[0]}"
    else:
        amounts = sorted(float(b) for b in table["interfering_bits"].unique())
        chosen = amounts[0] if interfering_bits is None else check_choice("interfering_bits", float(interfering_bits), amounts)
        sub = table[table["interfering_bits"] == chosen]
        where = f"$I_I$ = {chosen:g} bits"
    names = sorted(sub["cell"].unique()) if cells is None else list(cells)
    ax = _axes(ax)
    bars = {}
    for i, cell in enumerate(names):
        part = sub[sub["cell"] == cell].sort_values(x)
        if part.empty:
            continue
        xs = part[x].to_numpy(dtype=float)
        ys = part[mean].to_numpy(dtype=float)
        spread = _error_bars(ys, part[f"{value}_ci_low"], part[f"{value}_ci_high"])
        shift = 2.0 ** (0.03 * (i - (len(names) - 1) / 2)) if x != "interfering_bits" else 1.0
        offset = 0.0 if x != "interfering_bits" else 0.15 * (i - (len(names) - 1) / 2)
        bars[cell] = ax.errorbar(xs * shift + offset, ys, yerr=spread, marker="o", ms=3.5, capsize=2,
                                 color=PALETTE[i % len(PALETTE)], label=cell)
    line = None
    if reference is not None:
        line = ax.axhline(reference, color="0.4", ls="--", lw=0.9, label=reference_label or None)
    if x == "hidden_size":
        sizes = sorted(int(n) for n in sub["hidden_size"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
    elif x == "n_parameters":
        ax.set_xscale("log", base=2)
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel(VALUES[value])
    ax.set_title(where, fontsize="small")
    ax.legend(fontsize="x-small", ncol=2 if len(names) > 4 else 1)
    return Drawn((ax,), {"errorbars": bars, "reference": line})


def plot_capacity_runs(tables: dict, cell: str, *, interfering_bits: float | None = None, legend: bool = True,
                       ax=None) -> Drawn:
    """Capacity against the hidden size n for one cell, seed mean with its 95 % interval, one line per
    run: how far a training lifts the capacities of the same grid (e.g. ``paper-combined`` against the
    longer ``paper-cosine``), size by size.

    Args:
        tables: label → :func:`rnnviz.study.capacity_table` of that run's rows (columns cell,
            hidden_size, interfering_bits, capacity_mean, capacity_ci_low, capacity_ci_high); the first
            run draws a solid line, the others dashed, dotted, …, each in its own colour.
        cell: the cell to draw (present in every table).
        interfering_bits: the interference amount to draw (default: the smallest in the first table;
            every table must hold it).
        legend: draw the panel's legend (default); False for one legend shared by several panels
            (:func:`rnnviz.plot.shared_legend`).
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "errorbars" (label → ErrorbarContainer).
    """
    if not isinstance(tables, dict) or not tables:
        raise ValueError("tables must be a non-empty dict: label -> capacity_table")
    need = ["cell", "hidden_size", "interfering_bits", "capacity_mean", "capacity_ci_low", "capacity_ci_high"]
    for label, table in tables.items():
        _require_columns(f"tables[{label!r}]", table, need)
        _one_alphabet(table, f"tables[{label!r}]")
    check_bool("legend", legend)
    first = next(iter(tables.values()))
    check_choice("cell", cell, sorted(first["cell"].unique()))
    amounts = sorted(float(b) for b in first["interfering_bits"].unique())
    chosen = amounts[0] if interfering_bits is None else check_choice("interfering_bits", float(interfering_bits), amounts)
    ax = _axes(ax)
    bars, styles, sizes = {}, ("-", "--", ":", "-."), set()
    for r, (label, table) in enumerate(tables.items()):
        part = table[(table["cell"] == cell) & (table["interfering_bits"] == chosen)].sort_values("hidden_size")
        if part.empty:
            raise ValueError(f"tables[{label!r}] has no rows of cell {cell!r} at {chosen:g} interfering bits")
        xs = part["hidden_size"].to_numpy(dtype=float)
        ys = part["capacity_mean"].to_numpy(dtype=float)
        spread = _error_bars(ys, part["capacity_ci_low"], part["capacity_ci_high"])
        sizes.update(int(n) for n in xs)
        shift = 2.0 ** (0.04 * (r - (len(tables) - 1) / 2))
        bars[label] = ax.errorbar(xs * shift, ys, yerr=spread, marker="o", ms=3.5, capsize=2,
                                  ls=styles[r % len(styles)], color=PALETTE[r % len(PALETTE)], label=label)
    _hidden_size_axis(ax, sizes)
    ax.set_ylabel(VALUES["capacity"])
    ax.set_title(f"{cell}, $I_I$ = {chosen:g} bits", fontsize="small")
    if legend:
        ax.legend(fontsize="x-small")
    return Drawn((ax,), {"errorbars": bars})


def plot_recall_curves(runs: dict, cell: str, *, hidden_sizes=None, interfering_bits: float | None = None,
                       missing: str = "raise", legend: bool = True, ax=None) -> Drawn:
    """Recalled bits against targeted bits, seed mean with its 95 % interval, for one cell: one line per
    (run, hidden size), so that runs of the same grid under different training can be compared (e.g.
    the paper run against the curriculum pilot: does each curve level off, or fall past its peak?).

    Args:
        runs: label → capacity rows (``Store.frame``/``capacity.csv``: columns cell, hidden_size,
            targeted_bits, interfering_bits, seed, recalled_bits); the first run draws solid lines, the
            others dashed, dotted, … in the same colour per hidden size (with one hidden size drawn,
            each run has its own colour as well).
        cell: the cell to draw (present in every run).
        hidden_sizes: the sizes to draw (default: those of the first run).
        interfering_bits: the interference amount to draw (default: the smallest in the first run;
            every run must hold it).
        missing: what to do with a run that has no rows of ``cell`` at that amount and those sizes:
            ``"raise"`` (default) a ValueError; ``"skip"`` draw nothing for it. A run's line style
            and colour come from its position in ``runs`` either way, so panels of one figure that
            lack some runs draw the others alike. The first run must have the rows.
        legend: draw the panel's legend (default). A figure of several panels can pass False and draw
            one legend for all (:func:`rnnviz.plot.shared_legend`).
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "errorbars" ((label, n) → ErrorbarContainer) and a dashed "diagonal" (the
        targeted bits themselves: perfect recall).
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict: label -> capacity rows")
    need = ["cell", "hidden_size", "targeted_bits", "interfering_bits", "seed", "recalled_bits"]
    check_choice("missing", missing, ("raise", "skip"))
    check_bool("legend", legend)
    for label, rows in runs.items():
        _require_columns(f"runs[{label!r}]", rows, need)
    first = next(iter(runs.values()))
    cells = sorted(first["cell"].unique())
    check_choice("cell", cell, cells)
    amounts = sorted(float(b) for b in first["interfering_bits"].unique())
    chosen = amounts[0] if interfering_bits is None else check_choice("interfering_bits", float(interfering_bits), amounts)
    sizes = sorted(int(n) for n in first.loc[first["cell"] == cell, "hidden_size"].unique()) \
        if hidden_sizes is None else [int(n) for n in hidden_sizes]
    ax = _axes(ax)
    bars, styles, high = {}, ("-", "--", ":", "-."), -np.inf
    for r, (label, rows) in enumerate(runs.items()):
        part = rows[(rows["cell"] == cell) & (rows["interfering_bits"] == chosen) & rows["hidden_size"].isin(sizes)]
        if part.empty and (missing == "raise" or r == 0):
            raise ValueError(f"runs[{label!r}] has no rows of cell {cell!r} at {chosen:g} interfering bits "
                             f"and hidden sizes {sizes}")
        if part.empty:  # missing="skip": nothing to draw, the next run keeps its own style
            continue
        table = seed_summary(part, ["hidden_size", "targeted_bits"], "recalled_bits")
        for i, n in enumerate(sizes):
            line = table[table["hidden_size"] == n]
            if line.empty:
                continue
            xs = line["targeted_bits"].to_numpy(dtype=float)
            ys = line["recalled_bits_mean"].to_numpy(dtype=float)
            spread = _error_bars(ys, line["recalled_bits_ci_low"], line["recalled_bits_ci_high"])
            high = max(high, float(np.nanmax(ys)))
            shift = 2.0 ** (0.04 * (r - (len(runs) - 1) / 2))
            bars[(label, n)] = ax.errorbar(xs * shift, ys, yerr=spread, marker="o", ms=3, capsize=2,
                                           ls=styles[r % len(styles)],
                                           color=PALETTE[(i if len(sizes) > 1 else r) % len(PALETTE)],
                                           label=f"{label}, n = {n}")
    low = min(float(rows["targeted_bits"].min()) for rows in runs.values())
    top = max(low, 1.6 * high)  # the diagonal up to the highest mean drawn, so the curves are not squashed
    diagonal = ax.plot([low, top], [low, top], color="0.6", ls="--", lw=0.8, label="perfect recall")[0]
    ax.set_xscale("log", base=2)
    ax.set_xlabel("targeted information $I_T$ (bits)")
    ax.set_ylabel("recalled bits (seed mean, 95 % interval)")
    ax.set_title(f"{cell}, $I_I$ = {chosen:g} bits", fontsize="small")
    if legend:
        ax.legend(fontsize="x-small", ncol=2 if len(bars) > 4 else 1)
    return Drawn((ax,), {"errorbars": bars, "diagonal": diagonal})


def plot_recall_by_hold(tables: dict, cell: str, *, value: str = "recalled_bits", hidden_size: int | None = None,
                        interfering_bits: float | None = None, ax=None) -> Drawn:
    """Recall against how long each target is held, seed mean with its 95 % interval, for one cell and
    hidden size: does recall fall because a curve asks for more symbols, or because its targets wait
    longer? (Along a capacity curve the hold K + L + 2 grows with K.) Where a line of few symbols held
    long meets the capacity curve at the same hold, the curve's extra symbols cost nothing beyond the wait.

    Args:
        tables: label → :func:`rnnviz.study.hold_table` of one run (columns cell, hidden_size,
            n_targets, n_interfering, interfering_bits, hold_steps and ``value``'s ``_mean``,
            ``_ci_low``, ``_ci_high``). A table that holds one delay L at the chosen cell, size and
            interference is drawn as one line (K grows along it: a capacity curve); a table with several
            delays as one line per K (L grows along it). The first table draws solid lines, the others
            dashed, dotted, …
        cell: the cell to draw (present in every table).
        value: ``"recalled_bits"`` (the bits recalled in all; default) or ``"bits_per_symbol"`` (per
            target symbol, with a dashed line at log2 A: every symbol whole), or another measure the
            tables were made with.
        hidden_size: the size to draw (default: the smallest of the first table's for ``cell``).
        interfering_bits: the interference amount (default: the smallest in the first table).
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "errorbars" ((label, K or None) → ErrorbarContainer; None for a capacity
        curve) and "whole" (the dashed line at log2 A for ``"bits_per_symbol"`` when the tables have an
        ``alphabet`` column; None otherwise).
    """
    if not isinstance(tables, dict) or not tables:
        raise ValueError("tables must be a non-empty dict: label -> hold_table")
    if not isinstance(value, str):
        raise TypeError(f"value must be a column prefix such as 'recalled_bits' or 'bits_per_symbol', got {value!r}")
    need = ["cell", "hidden_size", "n_targets", "n_interfering", "interfering_bits", "hold_steps",
            f"{value}_mean", f"{value}_ci_low", f"{value}_ci_high"]
    for label, table in tables.items():
        _require_columns(f"tables[{label!r}]", table, need)
        _one_alphabet(table, f"tables[{label!r}]")
    first = next(iter(tables.values()))
    check_choice("cell", cell, sorted(first["cell"].unique()))
    sizes = sorted(int(n) for n in first.loc[first["cell"] == cell, "hidden_size"].unique())
    size = sizes[0] if hidden_size is None else check_choice("hidden_size", int(hidden_size), sizes)
    amounts = sorted(float(b) for b in first["interfering_bits"].unique())
    chosen = amounts[0] if interfering_bits is None else check_choice("interfering_bits", float(interfering_bits), amounts)
    ax = _axes(ax)
    bars, styles, colour = {}, ("-", "--", ":", "-."), 0
    for r, (label, table) in enumerate(tables.items()):
        part = table[(table["cell"] == cell) & (table["hidden_size"] == size) & (table["interfering_bits"] == chosen)]
        if part.empty:
            raise ValueError(f"tables[{label!r}] has no rows of cell {cell!r}, hidden size {size} at {chosen:g} "
                             "interfering bits")
        delays = part["n_interfering"].unique()
        lines = [(None, part)] if len(delays) == 1 else [(int(k), line) for k, line in part.groupby("n_targets")]
        for k, line in lines:
            line = line.sort_values("hold_steps")
            xs = line["hold_steps"].to_numpy(dtype=float)
            ys = line[f"{value}_mean"].to_numpy(dtype=float)
            spread = _error_bars(ys, line[f"{value}_ci_low"], line[f"{value}_ci_high"])
            name = f"{label}, L = {int(delays[0])}, K grows" if k is None else f"{label}, K = {k}, L grows"
            bars[(label, k)] = ax.errorbar(xs, ys, yerr=spread, marker="o", ms=3.5, capsize=2,
                                           ls=styles[r % len(styles)], color=PALETTE[colour % len(PALETTE)],
                                           label=name)
            colour += 1
    whole = None
    if value == "bits_per_symbol" and "alphabet" in first.columns:
        top = float(np.log2(float(first["alphabet"].iloc[0])))
        whole = ax.axhline(top, color="0.6", ls="--", lw=0.8, label="every symbol whole ($\\log_2 A$)")
    ax.set_xlabel("hold: steps between storing a target and recalling it")
    ax.set_ylabel(HOLD_VALUES.get(value, f"{value} (seed mean, 95 % interval)"))
    ax.set_title(f"{cell}, n = {size}, $I_I$ = {chosen:g} bits", fontsize="small")
    ax.legend(fontsize="x-small")
    return Drawn((ax,), {"errorbars": bars, "whole": whole})


def plot_position_profile(table: pd.DataFrame, cell: str, *, hidden_size: int | None = None,
                          n_targets=None, measure: str = "recalled_bits_per_position", legend: bool = True,
                          ax=None) -> Drawn:
    """Recall at each target position, seed mean with its 95 % interval, for one cell and hidden size:
    which of its K targets a model keeps, and how much of each (a few whole and the rest dropped, or
    some of every one). One line per setting (K, and the delay L, protocol and dose when the table
    holds several), position 1 being the first target stored.

    Args:
        table: :func:`rnnviz.study.position_table` (columns cell, hidden_size, n_targets, position and
            ``measure``'s ``_mean``, ``_ci_low``, ``_ci_high``; with an ``alphabet`` column and bits,
            a dashed line at log2 A: the symbol whole).
        cell: the cell to draw.
        hidden_size: the size (default: the smallest of ``cell``'s).
        n_targets: the K to draw (default: every K of that cell and size).
        measure: ``"recalled_bits_per_position"`` (default) or ``"accuracy_per_position"``.
        legend: draw the panel's legend (default); False for one legend shared by several panels
            (:func:`rnnviz.plot.shared_legend`).
        ax: an Axes; a new figure when None.

    Returns:
        :class:`Drawn` with "errorbars" (the line's label → ErrorbarContainer) and "whole" (the dashed
        line at log2 A, or None).
    """
    need = ["cell", "hidden_size", "n_targets", "position", f"{measure}_mean", f"{measure}_ci_low",
            f"{measure}_ci_high"]
    _require_columns("table", table, need)
    check_bool("legend", legend)
    check_choice("cell", cell, sorted(table["cell"].unique()))
    sizes = sorted(int(n) for n in table.loc[table["cell"] == cell, "hidden_size"].unique())
    size = sizes[0] if hidden_size is None else check_choice("hidden_size", int(hidden_size), sizes)
    part = table[(table["cell"] == cell) & (table["hidden_size"] == size)]
    ks = sorted(int(k) for k in part["n_targets"].unique())
    chosen = ks if n_targets is None else [check_choice("n_targets", int(k), ks) for k in n_targets]
    part = part[part["n_targets"].isin(chosen)]
    others = [c for c in ("protocol", "n_interfering", "n_random", "interfering_bits")
              if c in part.columns and part[c].nunique() > 1]  # what else tells the lines apart
    ax = _axes(ax)
    bars = {}
    for i, (key, line) in enumerate(part.groupby(["n_targets", *others], sort=True)):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join([f"K = {int(key[0])}", *(f"{_SETTING_NAMES[c]} = {v:g}" if c != "protocol" else str(v)
                                                     for c, v in zip(others, key[1:], strict=True))])
        line = line.sort_values("position")
        ys = line[f"{measure}_mean"].to_numpy(dtype=float)
        spread = _error_bars(ys, line[f"{measure}_ci_low"], line[f"{measure}_ci_high"])
        bars[label] = ax.errorbar(line["position"].to_numpy(dtype=float), ys, yerr=spread, marker="o", ms=3,
                                  capsize=2, color=PALETTE[i % len(PALETTE)], label=label)
    whole = None
    if measure == "recalled_bits_per_position" and "alphabet" in part.columns and part["alphabet"].nunique() == 1:
        whole = ax.axhline(float(np.log2(float(part["alphabet"].iloc[0]))), color="0.6", ls="--", lw=0.8,
                           label="the symbol whole ($\\log_2 A$)")
    ax.set_xlabel("target position (1: stored and recalled first)")
    ax.set_ylabel("recalled bits at the position (seed mean, 95 % interval)" if measure == "recalled_bits_per_position"
                  else "accuracy at the position (seed mean, 95 % interval)")
    ax.set_title(f"{cell}, n = {size}", fontsize="small")
    if legend:
        ax.legend(fontsize="x-small")
    return Drawn((ax,), {"errorbars": bars, "whole": whole})


def plot_equal_parameters(equal: pd.DataFrame, *, ax=None) -> Drawn:
    """Each IRC/IHC cell's capacity minus its baseline's at the baseline's parameter counts
    (:func:`rnnviz.study.equal_parameter_capacity`): one line per (cell, interference setting) against
    the parameter count, the paired seed interval as error bars, a dashed line at 0 (no difference).

    Returns:
        :class:`Drawn` with "errorbars" ((cell, setting) → ErrorbarContainer) and "zero".
    """
    _require_columns("equal", equal, ["cell", "baseline", "n_parameters", "setting", "difference", "ci_low",
                                      "ci_high"])
    ax = _axes(ax)
    cells = sorted(equal["cell"].unique())
    settings = list(dict.fromkeys(equal.sort_values("interfering_bits")["setting"]))
    styles = ("-", "--", ":", "-.")
    bars = {}
    for i, cell in enumerate(cells):
        for j, setting in enumerate(settings):
            part = equal[(equal["cell"] == cell) & (equal["setting"] == setting)].sort_values("n_parameters")
            if part.empty:
                continue
            ys = part["difference"].to_numpy(dtype=float)
            spread = _error_bars(ys, part["ci_low"], part["ci_high"])
            shift = 2.0 ** (0.04 * (j - (len(settings) - 1) / 2))
            bars[(cell, setting)] = ax.errorbar(
                part["n_parameters"].to_numpy(dtype=float) * shift, ys, yerr=spread, marker="o", ms=3, capsize=2,
                color=PALETTE[i % len(PALETTE)], ls=styles[j % len(styles)],
                label=f"{cell} − {part['baseline'].iloc[0]}, {setting}")
    zero = ax.axhline(0.0, color="0.4", ls="--", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("learned parameters (the baseline's, input map + cell)")
    ax.set_ylabel("capacity difference (bits)")
    ax.legend(fontsize="xx-small")
    return Drawn((ax,), {"errorbars": bars, "zero": zero})


def capacity_interval_figures(table: pd.DataFrame, equal: pd.DataFrame | None, out: str | Path,
                              formats=("pdf", "png")) -> list[Path]:
    """Save the seed-interval figures of a sweep under ``out``; returns the written paths.

    ``capacity_intervals``: capacity against n, one panel per interference amount;
    ``capacity_intervals_parameters``: capacity against the parameter count (least interference);
    ``capacity_symbols_per_unit``: symbols per unit against n with a dashed line at 1 (Collins et al.'s
    "about one number per unit", a different measure: see docs/capacity.md);
    ``capacity_interference_doses``: capacity against the interfering bits, one panel per n (when the
    table has several amounts); ``capacity_equal_parameters``: :func:`plot_equal_parameters` (when
    ``equal`` has rows). A table of several alphabets gets one set per alphabet A, names ending in
    ``_A<A>`` (as :func:`rnnviz.plot.capacity_figures`).
    """
    out = Path(out)
    return [path for suffix, _, table_a, equal_a in per_alphabet(table, equal)
            for path in _interval_figures(table_a, equal_a, out, formats, suffix)]


def _interval_figures(table, equal, out: Path, formats, suffix: str) -> list[Path]:
    """:func:`capacity_interval_figures` of one alphabet: file names end in ``suffix``."""
    written = []
    amounts = sorted(float(b) for b in table["interfering_bits"].unique())
    sizes = sorted(int(n) for n in table["hidden_size"].unique())
    with style("paper"):
        fig, axes = plt.subplots(1, len(amounts), figsize=(3.4 * len(amounts), 3.2), layout="constrained",
                                 squeeze=False, sharey=True)
        for ax, amount in zip(axes[0], amounts, strict=True):
            plot_capacity_intervals(table, interfering_bits=amount, ax=ax)
        written += _save(fig, out / f"capacity_intervals{suffix}", formats)
        if "n_parameters" in table.columns:
            fig, ax = plt.subplots(figsize=figsize("single", 0.8), layout="constrained")
            plot_capacity_intervals(table, x="n_parameters", ax=ax)
            written += _save(fig, out / f"capacity_intervals_parameters{suffix}", formats)
        if "symbols_per_unit" in table.columns:
            fig, ax = plt.subplots(figsize=figsize("single", 0.8), layout="constrained")
            plot_capacity_intervals(table, value="symbols_per_unit", reference=1.0,
                                    reference_label="1 per unit (Collins et al.: numbers, not symbols)", ax=ax)
            written += _save(fig, out / f"capacity_symbols_per_unit{suffix}", formats)
        if len(amounts) > 1:
            fig, axes = plt.subplots(1, len(sizes), figsize=(2.8 * len(sizes), 3.0), layout="constrained",
                                     squeeze=False)
            for ax, n in zip(axes[0], sizes, strict=True):
                plot_capacity_intervals(table, x="interfering_bits", hidden_size=n, ax=ax)
            written += _save(fig, out / f"capacity_interference_doses{suffix}", formats)
        if equal is not None and len(equal):
            fig, ax = plt.subplots(figsize=figsize("single", 0.8), layout="constrained")
            plot_equal_parameters(equal, ax=ax)
            written += _save(fig, out / f"capacity_equal_parameters{suffix}", formats)
    return written


def _save(fig, path: Path, formats) -> list[Path]:
    paths = save(fig, path, formats)
    plt.close(fig)
    return paths

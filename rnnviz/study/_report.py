"""A capacity sweep's results as Markdown tables, for docs and papers: ``rnnviz capacity`` writes them to
``OUT/capacity_report.md`` beside the CSV files they are computed from, so every number in it comes
with the command that regenerates it.

Sections: how the models stopped (per cell), capacity per (cell, n) with one column per interference
amount (seed mean and 95 % t interval: :func:`rnnviz.study.capacity_table`), the three effects
(:func:`rnnviz.study.capacity_effects`), the shapes of the curves (:func:`rnnviz.study.curve_shape_counts`),
the mean curves with their intervals (:func:`rnnviz.study.mean_curves`), whether they fall past their peak
(:func:`rnnviz.study.curve_falls`)
and, when the rows hold IRC/IHC cells with their baselines, the differences at equal parameter count
(:func:`rnnviz.study.equal_parameter_capacity`).
"""

from __future__ import annotations

import math

import pandas as pd

from ._effects import (
    capacity_effects,
    capacity_table,
    curve_falls,
    curve_shape_counts,
    curve_shapes,
    mean_curves,
)
from ._equal_parameters import equal_parameter_capacity

STOP_REASONS = ("target", "plateau", "budget", "diverged")


def interval(mean: float, low: float, high: float, digits: int = 1) -> str:
    """``"12.3 [10.1, 14.5]"``; the mean alone when the interval is NaN (one seed); "–" for a NaN mean."""
    if not math.isfinite(mean):
        return "–"
    def text(value: float) -> str:
        return f"{round(value, digits) + 0.0:.{digits}f}"  # + 0.0: no "-0.0" for a value that rounds to 0

    if not (math.isfinite(low) and math.isfinite(high)):
        return text(mean)
    return f"{text(mean)} [{text(low)}, {text(high)}]"


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub Markdown table (every value as its string)."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def stop_reason_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per cell, how many models stopped on each reason (columns cell, target, plateau, budget, diverged,
    models)."""
    counts = pd.crosstab(rows["cell"], pd.Categorical(rows["stop_reason"], categories=STOP_REASONS), dropna=False)
    counts = counts.reindex(columns=list(STOP_REASONS), fill_value=0).astype(int)
    counts["models"] = counts.sum(axis=1)
    counts.columns.name = None
    return counts.reset_index()


def capacity_columns(table: pd.DataFrame, value: str = "capacity") -> pd.DataFrame:
    """:func:`capacity_table` pivoted for reading: one row per (cell, n), one column per interfering
    amount, each cell of the table ``mean [low, high]`` of ``value`` ("capacity" or "bits_per_unit")."""
    mean = "capacity_mean" if value == "capacity" else value
    digits = 1 if value == "capacity" else 2
    table = table.assign(text=[interval(m, lo, hi, digits) for m, lo, hi in
                               zip(table[mean], table[f"{value}_ci_low"], table[f"{value}_ci_high"], strict=True)])
    keys = ["cell", "hidden_size", *(["alphabet"] if "alphabet" in table and table["alphabet"].nunique() > 1 else [])]
    wide = table.pivot_table(index=keys, columns="interfering_bits", values="text", aggfunc="first")
    wide.columns = [f"I_I = {b:g} bits" for b in wide.columns]
    return wide.reset_index().rename(columns={"hidden_size": "n"})


def mean_curve_columns(curves: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """:func:`rnnviz.study.mean_curves` pivoted for reading: one row per group (cell, n and any other
    setting column that varies in ``curves``), one column per targeted amount, each entry ``mean [low, high]``, and
    ``curves``: how many curves each mean is over."""
    keys = [c for c in curves.columns if c not in ("targeted_bits", "mean", "sd", "ci_low", "ci_high", "n_curves")
            and (c in ("cell", "hidden_size") or curves[c].nunique(dropna=False) > 1)]  # settings that vary
    text = curves.assign(text=[interval(m, lo, hi, digits) for m, lo, hi in
                               zip(curves["mean"], curves["ci_low"], curves["ci_high"], strict=True)])
    wide = text.pivot_table(index=keys, columns="targeted_bits", values="text", aggfunc="first", fill_value="–")
    wide.columns = [f"{b:g} bits" for b in wide.columns]
    counts = curves.groupby(keys, sort=True, dropna=False)["n_curves"].max()
    wide["curves"] = counts.loc[wide.index].to_numpy()
    return wide.reset_index().rename(columns={"hidden_size": "n"})


def capacity_tables(rows: pd.DataFrame, confidence: float = 0.95) -> dict[str, pd.DataFrame]:
    """The tables a report is made of, each computed once: ``seed_means`` (:func:`capacity_table`),
    ``effects`` (:func:`capacity_effects`), ``curve_shapes`` (:func:`curve_shapes`), ``curve_falls``
    (:func:`curve_falls`), ``mean_curves`` (:func:`mean_curves`) and ``equal_parameters`` (:func:`equal_parameter_capacity`; empty when the
    rows have no ``n_parameters`` or no IRC/IHC cell with its baseline)."""
    equal = (equal_parameter_capacity(rows, confidence=confidence) if "n_parameters" in rows
             else pd.DataFrame())
    return {"seed_means": capacity_table(rows, confidence=confidence),
            "effects": capacity_effects(rows, confidence=confidence),
            "curve_shapes": curve_shapes(rows), "curve_falls": curve_falls(rows, confidence=confidence),
            "mean_curves": mean_curves(rows, confidence=confidence),
            "equal_parameters": equal}


def capacity_report(rows: pd.DataFrame, *, n_planned: int | None = None, command: str | None = None,
                    confidence: float = 0.95, tables: dict[str, pd.DataFrame] | None = None) -> str:
    """The Markdown report of a sweep's rows (see the module docstring). ``n_planned``: the sweep's size
    (the header says how many models are still missing); ``command``: the command that regenerates
    the report, quoted in its header; ``tables``: :func:`capacity_tables` of ``rows`` at ``confidence``
    when the caller has them already (computed here otherwise)."""
    scored = rows[rows["recalled_bits"].notna()]
    if scored.empty:
        raise ValueError("rows has no scored model: nothing to report")
    tables = capacity_tables(rows, confidence) if tables is None else tables
    table, effects = tables["seed_means"], tables["effects"]
    parts = ["# Capacity sweep: results", ""]
    done = f"{len(rows)} models" + ("" if n_planned is None else f" of {n_planned} planned")
    if n_planned is not None and len(rows) < n_planned:
        done += f" (**incomplete: {n_planned - len(rows)} not yet trained**)"
    parts += [f"{done}; cells {', '.join(dict.fromkeys(rows['cell']))}."]
    if command:
        parts += ["", f"Regenerate: `{command}`"]
    parts += ["", f"Intervals: {confidence:.0%} Student-t over seeds (each seed's capacity is the most it "
              "recalls over the targeted grid).", ""]
    if "stop_reason" in rows:
        parts += ["## How the models stopped", "",
                  "`budget`: ran its whole step budget (with a plateau rule: still improving when the budget ran out, so "
                  "its recall is a lower bound; without one, as every model does unless it reaches the target).", "",
                  markdown_table(stop_reason_table(rows)), ""]
    parts += ["## Capacity (recalled bits)", "", markdown_table(capacity_columns(table)), ""]
    parts += ["## Bits per unit", "", markdown_table(capacity_columns(table, "bits_per_unit")), ""]
    shown = effects.assign(estimate=[
        interval(e, lo, hi, 3) + ("" if not math.isfinite(p) else f", p = {p:.2g}")
        for e, lo, hi, p in zip(effects["estimate"], effects["ci_low"], effects["ci_high"], effects["p_value"],
                                strict=True)])
    shown = shown.pivot_table(index="cell", columns="effect", values="estimate", aggfunc="first")
    shown = shown[[c for c in ("state_size", "targeted", "interference") if c in shown.columns]].reset_index()
    units = dict(zip(effects["effect"], effects["unit"], strict=False))
    parts += ["## Effects", "", "; ".join(f"{name}: {unit}" for name, unit in units.items())
              + " (estimate [interval], p of the t test of no effect; definitions in docs/capacity.md).", "",
              markdown_table(shown), ""]
    parts += ["## Curve shapes", "", "Per seed's curve of recalled against targeted bits: `saturates` (levels off "
              "past its peak), `collapses` (falls by more than 0.5 bit between neighbours or ends more than 1 bit "
              "below its peak), `grows` (the grid did not reach its peak).", "",
              markdown_table(curve_shape_counts(tables["curve_shapes"])), ""]
    curves = tables["mean_curves"]
    if len(curves):
        parts += ["## Mean curves", "",
                  "Recalled bits per cell and n at each targeted amount, mean over every dose and seed [interval] (the "
                  "interval holds the doses' spread as well as the seeds'); `curves`: how many.", "",
                  markdown_table(mean_curve_columns(curves)), ""]
    falls = tables["curve_falls"]
    if len(falls):
        verdicts = falls.assign(fall=[interval(d, lo, hi, 1) for d, lo, hi in
                                      zip(falls["fall"], falls["ci_low"], falls["ci_high"], strict=True)])
        verdicts["text"] = verdicts["verdict"] + ": " + verdicts["fall"]
        wide = verdicts.pivot_table(index="cell", columns="hidden_size", values="text", aggfunc="first")
        wide.columns = [f"n = {n}" for n in wide.columns]
        parts += ["## Mean curves past their peak", "",
                  "Per cell and n, over every dose and seed: the mean fall from the mean curve's peak to the "
                  "largest targeted amount [interval]; `level` (the interval excludes a fall of more than 1 bit), "
                  "`falls` (it lies below 0), `undecided`, `peaks at the end` (the grid did not pass the peak).", "",
                  markdown_table(wide.reset_index()), ""]
    equal = tables["equal_parameters"]
    if len(equal):
        equal = equal.assign(difference=[interval(d, lo, hi, 1) for d, lo, hi in
                                         zip(equal["difference"], equal["ci_low"], equal["ci_high"], strict=True)],
                             p_value=[("–" if not math.isfinite(p) else f"{p:.2g}") for p in equal["p_value"]],
                             baseline_capacity=equal["baseline_capacity"].round(1),
                             cell_capacity=equal["cell_capacity"].round(1))
        cols = ["cell", "baseline", "baseline_hidden_size", "n_parameters", "setting", "baseline_capacity",
                "cell_capacity", "difference", "p_value"]
        parts += ["## IRC/IHC cells at their baseline's parameter count", "",
                  "The cell's capacity interpolated (linear in log parameters) at the baseline's count, minus the "
                  "baseline's; paired by seed.", "", markdown_table(equal[cols]), ""]
    return "\n".join(parts)

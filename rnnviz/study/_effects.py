"""Capacity with confidence intervals over seeds, and the three effects of the capacity study with
their intervals and tests: state size, targeted information and interfering information.

Pure functions of a rows table (one row per trained model, as :func:`rnnviz.study.capacity` returns
or ``capacity.csv`` holds). Required columns: ``cell``, ``hidden_size``, ``targeted_bits``,
``interfering_bits``, ``seed`` and the measure (``recalled_bits`` by default). Optional *setting*
columns, used as grouping keys when present: ``protocol``, ``alphabet``, ``n_layers``,
``n_interfering`` (or ``hold_steps`` for a fixed-hold sweep: :func:`rnnviz.study.at_one_hold`), ``interference``. A model whose ``stop_reason`` is ``"diverged"``, or whose measure
is NaN, is left out of everything (it has no score).

Notation: a *setting* is one combination of the setting columns and ``interfering_bits`` (an
interference condition); R_s(I_T) is the measure of the model of seed s at targeted bits I_T.

:func:`seed_capacity`: per (cell, n, setting, seed), C_s = max over the targeted-bits grid of R_s(I_T),
and I_T*_s, the smallest I_T where it is reached.

:func:`capacity_table`: per (cell, n, setting), the seed mean of C_s with its Student-t 95 % interval
(:mod:`rnnviz._stats`; one seed: sd and interval NaN), and bits per unit = capacity / n.

:func:`capacity_effects`: per cell, three slopes, each an ordinary least-squares slope with one
intercept per level of the factors held fixed (a fixed-effects regression, computed by demeaning x and
y within those levels), its t interval and the two-sided t test of slope 0:

=============  =========================================  ======================  =========================
effect         y on x                                     points                  held fixed (intercepts)
=============  =========================================  ======================  =========================
state_size     C_s on log2 n                              one per (n, setting,    the setting
                                                          seed)
targeted       R_s(I_T) on I_T, for I_T < I_T*_s           one per model below     (n, setting)
               (strictly below the seed's capacity point) saturation
interference   C_s on interfering_bits                    one per (n, setting,    n and the setting columns
                                                          seed)                   other than the interference
=============  =========================================  ======================  =========================

With N points, G intercepts and x̃, ỹ the values minus their level's mean::

    b = Σ x̃ ỹ / Σ x̃²,   s² = Σ (ỹ − b x̃)² / (N − G − 1),   se = s / sqrt(Σ x̃²)
    CI = b ± t_{0.975, N − G − 1} · se,   p = 2 · P(T_{N − G − 1} > |b / se|)

The targeted effect is the recall efficiency before saturation: 1 when every targeted bit below
the seed's capacity point is recalled, below 1 when information is lost before capacity is reached
(the capacity point itself, often partly saturated, is left out; a seed whose capacity point is the
smallest targeted amount contributes no point).

:func:`curve_shapes`: per (cell, n, setting, seed), whether the curve of the measure against
targeted bits saturates, collapses or still grows (:func:`curve_shape_counts`: how many per cell;
:func:`curve_summary`: how a run's curves end; :func:`compare_curves`: two trainings of one grid,
curve by curve, with intervals and tests).

:func:`curve_falls`: per (cell, n), whether the *mean* curve falls past its peak, tested over the
curves (every interfering amount and seed): "level" when the interval of the mean fall from the peak to
the last amount excludes falls of more than a tolerance (1 bit), "falls" when it lies below 0. The
per-seed rule of :func:`curve_shapes` calls a level curve with seed noise of half a bit "collapses";
this one does not. :func:`mean_curves`: the mean curves themselves, point by point, with intervals.

Σ x̃² = 0 (x does not vary within any level: one hidden size, one interference amount): every
column NaN. N − G − 1 < 1 (as many intercepts as points): the estimate, but CI and p NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._checks import check_bool, check_number
from .._stats import mean_ci, paired_difference, seed_summary, t_quantile, t_two_sided_p
from ._protocol import task_protocol
from ._settings import HOLD_COLUMN, setting_columns

REQUIRED = ("cell", "hidden_size", "targeted_bits", "interfering_bits", "seed")
#: Setting columns used as grouping keys when a table has them.
SETTING_COLUMNS = ("protocol", "alphabet", "n_layers", "n_interfering", "interference")
#: The effects of :func:`capacity_effects`, in order: name → (unit, what is estimated).
EFFECTS = {
    "state_size": ("bits per doubling of n",
                   "OLS slope of seed capacity on log2(hidden_size), one intercept per interference setting"),
    "targeted": ("recalled bits per targeted bit",
                 "OLS slope of the measure on targeted_bits over the models strictly below their seed's "
                 "capacity point, one intercept per (hidden_size, setting)"),
    "interference": ("bits per interfering bit",
                     "OLS slope of seed capacity on interfering_bits, one intercept per hidden_size (and "
                     "protocol, alphabet, n_layers)"),
}
EFFECT_COLUMNS = ("cell", "effect", "estimate", "ci_low", "ci_high", "p_value", "n_points", "unit", "method")


def _scored(rows, measure: str) -> tuple[pd.DataFrame, list[str]]:
    """The rows that have a score (diverged ones left out) and the setting columns present; a clear
    error for a table that is not one or lacks a column."""
    if not isinstance(rows, pd.DataFrame):
        raise TypeError(f"rows must be a pandas DataFrame (one row per model), got {type(rows).__name__}")
    if not isinstance(measure, str):
        raise TypeError(f"measure must be a column name, got {measure!r}")
    missing = [c for c in (*REQUIRED, measure) if c not in rows.columns]
    if missing:
        raise ValueError(f"rows is missing the column(s) {missing}; the effects need {list(REQUIRED)} and the "
                         f"measure {measure!r} (it has {list(rows.columns)})")
    keep = rows[measure].notna()
    if "stop_reason" in rows.columns:
        keep &= rows["stop_reason"] != "diverged"
    scored = rows[keep]
    if scored.empty:
        raise ValueError(f"rows has no scored model (none with a finite {measure!r} that did not diverge)")
    return scored, setting_columns(rows, SETTING_COLUMNS)


def seed_capacity(rows: pd.DataFrame, measure: str = "recalled_bits") -> pd.DataFrame:
    """Capacity of each seed: per (cell, hidden_size, setting, seed), ``capacity`` = C_s, the largest
    ``measure`` over the targeted amounts of that seed, and ``targeted_bits_at_capacity`` = I_T*_s, the
    smallest targeted amount where it is reached; ``n_targeted``: the targeted amounts scored.

    Columns: cell, hidden_size, the setting columns present, interfering_bits, seed, capacity,
    targeted_bits_at_capacity, n_targeted.
    """
    scored, settings = _scored(rows, measure)
    keys = ["cell", "hidden_size", *settings, "interfering_bits", "seed"]
    ordered = scored.sort_values([*keys, "targeted_bits"], kind="stable")
    best = ordered.loc[ordered.groupby(keys, sort=True, dropna=False)[measure].idxmax()]
    out = best[keys].copy()
    out["capacity"] = best[measure].to_numpy(dtype=float)
    out["targeted_bits_at_capacity"] = best["targeted_bits"].to_numpy(dtype=float)
    counts = ordered.groupby(keys, sort=True, dropna=False)["targeted_bits"].nunique()
    out["n_targeted"] = counts.to_numpy()
    return out.reset_index(drop=True)


def _two_runs(before, after, measure: str, *, leave_out=()) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Two runs to pair: ``{"before": rows, "after": rows}``, each scored (:func:`_scored`) with its
    ``protocol`` cut to the task's part (the trainings' curricula may differ:
    :func:`rnnviz.study._protocol.task_protocol`), and the setting columns both have but ``leave_out``."""
    scored, columns = {}, {}
    for name, rows in (("before", before), ("after", after)):
        frame, settings = _scored(rows, measure)
        frame = frame.copy()
        if "protocol" in frame.columns:
            frame["protocol"] = frame["protocol"].map(task_protocol)
        scored[name], columns[name] = frame, [c for c in settings if c not in leave_out]
    return scored, [c for c in columns["before"] if c in columns["after"]]


#: What :func:`curve_shapes` calls a curve, in the order :func:`curve_shape_counts` counts them.
SHAPES = ("saturates", "collapses", "grows")


def curve_shapes(rows: pd.DataFrame, measure: str = "recalled_bits", *, drop: float = 0.5,
                 below_peak: float = 1.0) -> pd.DataFrame:
    """The shape of each seed's curve of ``measure`` against targeted bits: does it saturate?

    One curve per (cell, hidden_size, setting, seed), its points R(I_1) … R(I_m) in ascending targeted
    bits, with peak P = max R. Shapes:

    - ``"collapses"``: it falls by more than ``drop`` (0.5 bit) between neighbouring targeted amounts,
      R(I_{j+1}) < R(I_j) − drop, or it ends more than ``below_peak`` (1 bit) below its peak,
      R(I_m) < P − below_peak: past some amount the models recall less than smaller ones did (they
      failed to train, not ran out of state);
    - ``"saturates"``: otherwise, when it levels off: the first amount within ``drop`` of the peak,
      I_sat = min{I_j : R(I_j) ≥ P − drop}, is not the last amount (the grid went past saturation
      and the curve stayed at its level; a curve at 0 everywhere saturates at 0: see ``peak``);
    - ``"grows"``: otherwise (I_sat is the last amount: the grid did not go past saturation).

    Columns: cell, hidden_size, the setting columns present, interfering_bits, seed; ``shape``,
    ``peak`` (P), ``targeted_bits_at_saturation`` (I_sat), ``final`` (R(I_m)), ``largest_drop``
    (max_j R(I_j) − R(I_{j+1}), 0 for a curve that never falls) and ``n_targeted`` (m). Diverged
    models and NaN scores are left out of their curve.
    """
    check_number("drop", drop, low=0.0)
    check_number("below_peak", below_peak, low=0.0)
    scored, settings = _scored(rows, measure)
    keys = ["cell", "hidden_size", *settings, "interfering_bits", "seed"]
    ordered = scored.sort_values([*keys, "targeted_bits"], kind="stable")
    out = []
    for key, curve in ordered.groupby(keys, sort=True, dropna=False):
        bits = curve["targeted_bits"].to_numpy(dtype=float)
        r = curve[measure].to_numpy(dtype=float)
        peak, final = float(r.max()), float(r[-1])
        largest_drop = float(max(0.0, (r[:-1] - r[1:]).max())) if len(r) > 1 else 0.0
        at = int(np.argmax(r >= peak - drop))  # the first amount within `drop` of the peak
        if largest_drop > drop or final < peak - below_peak:
            shape = "collapses"
        elif at < len(r) - 1:
            shape = "saturates"
        else:
            shape = "grows"
        out.append({**dict(zip(keys, key, strict=True)), "shape": shape, "peak": peak,
                    "targeted_bits_at_saturation": float(bits[at]), "final": final,
                    "largest_drop": largest_drop, "n_targeted": len(r)})
    columns = [*keys, "shape", "peak", "targeted_bits_at_saturation", "final", "largest_drop", "n_targeted"]
    return pd.DataFrame(out, columns=columns)


def _whole_curves(rows, measure: str) -> tuple[list[str], list[tuple[tuple, pd.DataFrame]]]:
    """The curves :func:`curve_falls` and :func:`mean_curves` average, grouped as they report them:
    the group columns (cell, hidden_size, the setting columns present but the interference ones), and per
    group its key and a table of its curves' points, one row per curve (dose and seed), one column per
    targeted amount. Only whole curves (every amount of the group scored: diverged and NaN models
    leave their curve out); groups with no curve or a single targeted amount are left out."""
    scored, settings = _scored(rows, measure)
    dose = [c for c in settings if c in ("n_interfering", "interference")]
    group = ["cell", "hidden_size", *[c for c in settings if c not in dose]]
    curve = [*dose, "interfering_bits", "seed"]  # one curve per dose and seed within a group
    out = []
    for key, part in scored.groupby(group, sort=True, dropna=False):
        points = part.pivot_table(index=curve, columns="targeted_bits", values=measure, aggfunc="first",
                                  dropna=False).dropna(how="any")
        if not points.empty and points.shape[1] >= 2:
            out.append((key if isinstance(key, tuple) else (key,), points))
    return group, out


def mean_curves(rows: pd.DataFrame, measure: str = "recalled_bits", confidence: float = 0.95) -> pd.DataFrame:
    """The mean curve of ``measure`` against targeted bits with its spread: per (cell, hidden_size, the
    setting columns present but ``n_interfering`` and ``interference``) and targeted amount I, over that
    group's curves c (one per interfering amount and seed, the curves :func:`curve_falls` judges),
    m(I) = mean_c R_c(I) with its Student-t interval (:func:`rnnviz._stats.mean_ci`).

    The curves of a group pool its interference doses with its seeds, so the interval holds the doses'
    spread as well as the seeds' (a dose effect widens it); :func:`capacity_table` keeps the doses apart.

    Columns: the group columns, ``targeted_bits``, ``mean``, ``sd``, ``ci_low``, ``ci_high``,
    ``n_curves``. Only whole curves count (a curve with a diverged or NaN model is left out at every
    amount, so each row of a group averages the same curves and ``mean`` at the peak is
    :func:`curve_falls`' ``peak_mean``).
    """
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    group, curves = _whole_curves(rows, measure)
    out = []
    for key, points in curves:
        for bits in points.columns:
            stats = mean_ci(points[bits].to_numpy(dtype=float), confidence)
            out.append({**dict(zip(group, key, strict=True)), "targeted_bits": float(bits), "mean": stats["mean"],
                        "sd": stats["sd"], "ci_low": stats["ci_low"], "ci_high": stats["ci_high"],
                        "n_curves": stats["n_seeds"]})
    return pd.DataFrame(out, columns=[*group, "targeted_bits", "mean", "sd", "ci_low", "ci_high", "n_curves"])


#: The verdicts of :func:`curve_falls`, in order.
FALL_VERDICTS = ("level", "falls", "undecided", "peaks at the end")


def curve_falls(rows: pd.DataFrame, measure: str = "recalled_bits", *, tolerance: float = 1.0,
                confidence: float = 0.95) -> pd.DataFrame:
    """Does the mean curve of ``measure`` against targeted bits level off or fall past its peak? One
    row per (cell, hidden_size, the setting columns present but the interference ones), over its
    curves c (one per interfering amount and seed, as in :func:`curve_shapes`).

    With the mean curve m(I) = mean_c R_c(I) over the curves scored at every targeted amount of the
    group, its peak amount I* (the smallest I where m is largest) and the largest amount I_m, each curve's
    fall is d_c = R_c(I_m) − R_c(I*), and the row holds the mean of d with its Student-t interval
    [lo, hi] and the paired t test's p (:func:`rnnviz._stats.paired_difference`). Verdicts
    (:data:`FALL_VERDICTS`):

    - ``"level"``: lo ≥ −``tolerance`` (1 bit) and I* < I_m: the grid passed the mean curve's peak and
      the curves end within ``tolerance`` of it (the interval rules out a larger fall): it saturates
      (a fall that is shown but smaller than ``tolerance`` counts as level);
    - ``"falls"``: hi < 0 (and not level): past its peak the mean curve loses more than the tolerance allows;
    - ``"undecided"``: neither (the interval holds 0 and falls larger than ``tolerance``);
    - ``"peaks at the end"``: I* = I_m: the grid did not pass the mean curve's peak (d = 0).

    I* is chosen on the same curves, so R(I*) is biased upwards and d downwards: the test leans towards
    "falls", never towards "level". Unlike :func:`curve_shapes`, seed noise alone does not make a curve
    fall (a level curve whose points scatter by half a bit "collapses" there, not here).

    Columns: cell, hidden_size, the setting columns present but ``n_interfering`` and ``interference``,
    ``n_curves``, ``targeted_bits_at_peak`` (I*), ``peak_mean`` (m(I*)), ``last_targeted_bits`` (I_m),
    ``last_mean`` (m(I_m)), ``fall`` (mean d), ``ci_low``, ``ci_high``, ``p_value``, ``verdict``. Curves
    missing a scored amount of their group (diverged or NaN models) are left out, and so is a group
    with a single targeted amount; with one curve the interval is NaN and the verdict "undecided"
    unless the mean curve peaks at the end.
    """
    check_number("tolerance", tolerance, low=0.0)
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    group, curves = _whole_curves(rows, measure)
    out = []
    for key, points in curves:
        mean = points.mean(axis=0)
        peak_at, last_at = float(mean.idxmax()), float(points.columns.max())
        stats = paired_difference(points[last_at].to_numpy(), points[peak_at].to_numpy(), confidence)
        if peak_at == last_at:
            verdict = "peaks at the end"
        elif stats["ci_low"] >= -tolerance:
            verdict = "level"
        elif stats["ci_high"] < 0:
            verdict = "falls"
        else:
            verdict = "undecided"
        out.append({**dict(zip(group, key, strict=True)), "n_curves": len(points),
                    "targeted_bits_at_peak": peak_at, "peak_mean": float(mean[peak_at]),
                    "last_targeted_bits": last_at, "last_mean": float(mean[last_at]), "fall": stats["mean"],
                    "ci_low": stats["ci_low"], "ci_high": stats["ci_high"], "p_value": stats["p_value"],
                    "verdict": verdict})
    columns = [*group, "n_curves", "targeted_bits_at_peak", "peak_mean", "last_targeted_bits", "last_mean", "fall",
               "ci_low", "ci_high", "p_value", "verdict"]
    return pd.DataFrame(out, columns=columns)


def curve_shape_counts(shapes: pd.DataFrame) -> pd.DataFrame:
    """Per cell, how many curves of a :func:`curve_shapes` table saturate, collapse and grow (columns
    cell, saturates, collapses, grows, curves)."""
    if not isinstance(shapes, pd.DataFrame) or not {"cell", "shape"} <= set(shapes.columns):
        raise TypeError("shapes must be the DataFrame curve_shapes returns (columns cell and shape)")
    counts = pd.crosstab(shapes["cell"], pd.Categorical(shapes["shape"], categories=SHAPES), dropna=False)
    counts = counts.reindex(columns=list(SHAPES), fill_value=0).astype(int)
    counts["curves"] = counts.sum(axis=1)
    counts.columns.name = None
    return counts.reset_index()


def curve_summary(rows: pd.DataFrame, measure: str = "recalled_bits", *, drop: float = 0.5,
                  below_peak: float = 1.0, nothing: float = 0.5) -> pd.Series:
    """How a set of runs' curves end, in one column: what the curriculum pilot's comparison reports
    (docs/capacity.md), so that two trainings of one grid compare with one call each.

    From :func:`curve_shapes` (``drop``, ``below_peak`` as there) of ``rows``, per seed curve with
    peak P and last point R(I_m), "end drop" P − R(I_m):

    - ``models``, ``curves``; ``models_below`` (models whose ``measure`` is below ``nothing``, 0.5
      bit: they learnt next to nothing);
    - ``curves_end_below_peak``: curves with an end drop above ``below_peak``;
    - ``curves_with_a_fall``: curves falling by more than ``drop`` between neighbouring amounts;
    - ``end_drop_mean``, ``end_drop_median``, ``end_drop_max``;
    - ``saturates``, ``collapses``, ``grows``: the shape counts (:data:`SHAPES`).
    """
    check_number("nothing", nothing)
    shapes = curve_shapes(rows, measure, drop=drop, below_peak=below_peak)
    scored, _ = _scored(rows, measure)  # the models the curves are made of (diverged and NaN left out)
    end = shapes["peak"] - shapes["final"]
    out = {"models": len(scored), "curves": len(shapes),
           "models_below": int((scored[measure] < nothing).sum()),
           "curves_end_below_peak": int((end > below_peak).sum()),
           "curves_with_a_fall": int((shapes["largest_drop"] > drop).sum()),
           "end_drop_mean": float(end.mean()), "end_drop_median": float(end.median()),
           "end_drop_max": float(end.max())}
    out.update({shape: int((shapes["shape"] == shape).sum()) for shape in SHAPES})
    return pd.Series(out, name=measure)


#: What :func:`compare_curves` compares per seed curve, in its row order.
CURVE_QUANTITIES = ("peak", "final", "end_drop")


#: Setting columns that say how the interference is laid out in time (the delay L, a fixed-hold sweep's
#: hold, and the dose's label): two protocols compared at the same targeted and interfering bits may
#: differ in them (a fixed hold against a fixed delay). :func:`compare_points` never pairs on them;
#: :func:`compare_curves` does unless ``match_timing=False``.
TIMING_COLUMNS = ("n_interfering", HOLD_COLUMN, "interference")


def compare_curves(before: pd.DataFrame, after: pd.DataFrame, measure: str = "recalled_bits", *,
                   confidence: float = 0.95, match_timing: bool = True) -> pd.DataFrame:
    """Two trainings of one grid, curve by curve: how much higher is each seed curve's peak, its last
    point and its fall past the peak in ``after`` than in ``before`` (e.g. the ``paper`` run and
    ``paper-combined``; docs/capacity.md), with intervals and tests.

    The models pair on their task and seed: cell, hidden_size, the setting columns present but
    ``protocol`` (for which only the task's part, before a ``"+curriculum"`` suffix, must agree:
    :func:`rnnviz.study._protocol.task_protocol`), interfering_bits, seed and targeted_bits. With
    ``match_timing=False`` they do not pair on the timing columns (:data:`TIMING_COLUMNS`), so that two
    protocols that lay the same interference out differently pair (a fixed hold's curve against a fixed
    delay's; each run must then hold one timing per curve). Only models
    scored in both runs count (diverged and NaN left out of both), so both curves of a pair have the
    same points. For each pair of curves (:func:`curve_shapes` of those models, peak P and last point
    R(I_m)), d = after − before of

    - ``peak``: P, the curve's capacity (:func:`seed_capacity`);
    - ``final``: R(I_m), the recall at the largest targeted amount;
    - ``end_drop``: P − R(I_m), how far the curve ends below its peak (0 for a curve that saturates
      there or still grows).

    One row per (``cell``, ``quantity``), every cell first and then ``cell = "all"`` (every pair), in
    :data:`CURVE_QUANTITIES` order; columns ``before_mean``, ``after_mean``, ``difference`` (the mean
    of d) with its Student-t interval ``ci_low``, ``ci_high`` (:func:`rnnviz._stats.paired_difference`),
    ``se`` (sd / sqrt(k)), ``p_t`` (paired t-test), ``p_wilcoxon`` (the Wilcoxon signed-rank test,
    two-sided, zero differences dropped; NaN with no non-zero difference) and ``n_curves`` (k).
    """
    from scipy import stats

    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    check_bool("match_timing", match_timing)
    scored, settings = _two_runs(before, after, measure, leave_out=() if match_timing else TIMING_COLUMNS)
    model_keys = ["cell", "hidden_size", *settings, "interfering_bits", "seed", "targeted_bits"]
    both = scored["before"][model_keys].merge(scored["after"][model_keys], on=model_keys)
    if both.duplicated().any():
        raise ValueError(f"before or after holds two models with the same {model_keys}: pass one run"
                         f"{'' if match_timing else ', and one delay or hold,'} each")
    if both.empty:
        raise ValueError(f"before and after have no model in common (paired on {model_keys})")
    curve_keys = model_keys[:-1]
    shapes = {}
    for name, frame in scored.items():
        table = curve_shapes(frame[[*model_keys, measure]].merge(both, on=model_keys), measure)
        table["end_drop"] = table["peak"] - table["final"]
        shapes[name] = table.set_index(curve_keys).sort_index()
    b, a = shapes["before"], shapes["after"].loc[shapes["before"].index]
    out = []
    for cell in [*sorted(set(b.index.get_level_values("cell"))), "all"]:
        mask = np.ones(len(b), bool) if cell == "all" else (b.index.get_level_values("cell") == cell)
        for quantity in CURVE_QUANTITIES:
            x, y = b[quantity].to_numpy(float)[mask], a[quantity].to_numpy(float)[mask]
            d = paired_difference(y, x, confidence)
            nonzero = (y - x)[(y - x) != 0]
            p_wilcoxon = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else math.nan
            se = d["sd"] / math.sqrt(d["n_seeds"]) if d["n_seeds"] > 1 else math.nan
            out.append({"cell": cell, "quantity": quantity, "before_mean": float(x.mean()), "after_mean": float(y.mean()),
                        "difference": d["mean"], "ci_low": d["ci_low"], "ci_high": d["ci_high"], "se": se,
                        "p_t": d["p_value"], "p_wilcoxon": p_wilcoxon, "n_curves": d["n_seeds"]})
    return pd.DataFrame(out)


def compare_points(before: pd.DataFrame, after: pd.DataFrame, measure: str = "recalled_bits", *,
                   pool: Sequence[str] = (), confidence: float = 0.95) -> pd.DataFrame:
    """Two runs point by point: at each (cell, hidden_size, interfering_bits, targeted_bits), how much
    more ``measure`` the models of ``after`` score than those of ``before``, paired by seed, with an
    interval and a test (e.g. a fixed hold against a fixed delay, or a longer training against a
    shorter one; docs/capacity_runs.md, "The fixed hold at n = 4, 8 and 32").

    Models pair on cell, hidden_size, interfering_bits, targeted_bits, seed and the setting columns
    both runs have (alphabet, n_layers, and ``protocol``'s task part, so that two trainings of one
    task pair: :func:`rnnviz.study._protocol.task_protocol`), never on the timing columns
    (:data:`TIMING_COLUMNS`: the delay ``n_interfering``, ``hold_steps`` and ``interference``), which
    the two runs may differ in. Diverged models and NaN scores are left out of both.

    Returns one row per point with a pair: the keys, ``before_mean`` and ``after_mean`` (over the
    paired seeds), ``difference`` (mean of d = after − before) with its Student-t ``ci_low``,
    ``ci_high`` and the paired t-test's ``p_value`` (:func:`rnnviz._stats.paired_difference`; NaN
    with one pair or when every d is equal), and ``n_seeds`` (the pairs). ``pool``: point keys to pool
    over, e.g. ``("cell", "targeted_bits")``: one row per remaining key, its statistics over every
    pair of the pooled points (``n_seeds`` then counts those pairs). A ValueError when a run holds two
    models of one point and seed (pass one run, or one delay, each) or none pair, or for a ``pool``
    entry that is not a point key.
    """
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    scored, shared = _two_runs(before, after, measure, leave_out=TIMING_COLUMNS)
    point = ["cell", "hidden_size", *shared, "interfering_bits", "targeted_bits"]
    keys = [*point, "seed"]
    pool = [pool] if isinstance(pool, str) else list(pool)
    unknown = [c for c in pool if c not in point]
    if unknown:
        raise ValueError(f"pool must name point keys of these rows, {point}; got {unknown}")
    kept = [c for c in point if c not in pool]
    for name, frame in scored.items():
        if frame.duplicated(keys).any():
            raise ValueError(f"{name} holds two models with the same {keys} (several delays or runs?): pass one "
                             f"run, or one delay, each")
    both = scored["before"][[*keys, measure]].merge(scored["after"][[*keys, measure]], on=keys,
                                                   suffixes=("_before", "_after"))
    if both.empty:
        raise ValueError(f"before and after have no model in common (paired on {keys})")
    out = []
    groups = both.groupby(kept, sort=True, dropna=False) if kept else [((), both)]
    for values, pairs in groups:
        x, y = pairs[f"{measure}_before"].to_numpy(float), pairs[f"{measure}_after"].to_numpy(float)
        d = paired_difference(y, x, confidence)
        out.append({**dict(zip(kept, values, strict=True)), "before_mean": float(x.mean()),
                    "after_mean": float(y.mean()), "difference": d["mean"], "ci_low": d["ci_low"],
                    "ci_high": d["ci_high"], "p_value": d["p_value"], "n_seeds": d["n_seeds"]})
    return pd.DataFrame(out)


def capacity_table(rows: pd.DataFrame, measure: str = "recalled_bits", confidence: float = 0.95) -> pd.DataFrame:
    """Capacity per (cell, hidden_size, setting): the seed mean of :func:`seed_capacity` with its
    t interval.

    Columns: cell, hidden_size, the setting columns present, interfering_bits; ``capacity_mean``,
    ``capacity_sd`` (over seeds, ddof 1), ``n_seeds``, ``capacity_ci_low``, ``capacity_ci_high``
    (mean ± t_{(1+confidence)/2, k−1} · sd / sqrt(k) for k seeds; NaN with one seed);
    ``targeted_bits_at_capacity``: the median over seeds of I_T*_s; ``bits_per_unit`` (and
    ``bits_per_unit_ci_low``/``_high``): the capacity and its interval divided by n;
    ``symbols_per_unit`` (and ``symbols_per_unit_ci_low``/``_high``): bits per unit / log2 A, the
    number of recalled symbols each unit holds (when the rows have an ``alphabet`` column; Collins et al.'s ~1 number per unit reads against it);
    ``n_parameters`` (the models' count, input map and cell, when the rows have it) and
    ``bits_per_parameter`` = capacity_mean / n_parameters.

    This differs from :func:`rnnviz.study.summarize`, which takes the best seed at each targeted amount
    and then the maximum: here each seed has its own capacity and the seeds are averaged, so the
    interval says how much the capacity varies between trainings.

    Bits per unit against Collins et al. (2017): their "about one real number per hidden unit" counts
    real numbers recovered from the input history, not bits; it becomes bits only at a chosen
    precision (b bits per number: b bits per unit). What is directly comparable is their bits per
    parameter (3–6), :func:`rnnviz.study.summarize`'s ``bits_per_parameter``; here ``bits_per_unit``
    is the discrete information (symbols of log2 A bits) each unit holds at recall.
    """
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    seeds = seed_capacity(rows, measure)
    keys = [c for c in seeds.columns if c not in ("seed", "capacity", "targeted_bits_at_capacity", "n_targeted")]
    table = seed_summary(seeds, keys, "capacity", confidence)
    at = seeds.groupby(keys, sort=True, dropna=False)["targeted_bits_at_capacity"].median()
    table["targeted_bits_at_capacity"] = at.to_numpy(dtype=float)
    n = table["hidden_size"].to_numpy(dtype=float)
    table["bits_per_unit"] = table["capacity_mean"] / n
    table["bits_per_unit_ci_low"] = table["capacity_ci_low"] / n
    table["bits_per_unit_ci_high"] = table["capacity_ci_high"] / n
    if "alphabet" in table.columns:
        per_symbol = np.log2(table["alphabet"].to_numpy(dtype=float))
        for name in ("", "_ci_low", "_ci_high"):
            table[f"symbols_per_unit{name}"] = table[f"bits_per_unit{name}"] / per_symbol
    if "n_parameters" in rows.columns:
        table = with_parameter_counts(table, rows)
        table["bits_per_parameter"] = table["capacity_mean"] / table["n_parameters"]
    return table


def with_parameter_counts(table: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``table`` (rows per cell and hidden size, e.g. :func:`rnnviz.study.seed_capacity`) with the
    ``n_parameters`` of its models taken from ``rows`` (a model's count depends on its cell, n and,
    through the input size A + 3, its alphabet; NaN where ``rows`` has no such model)."""
    keys = ["cell", "hidden_size", *[c for c in ("alphabet", "n_layers") if c in rows.columns and c in table.columns]]
    counts = rows.groupby(keys, sort=False, dropna=False)["n_parameters"].first().rename("n_parameters")
    return table.drop(columns="n_parameters", errors="ignore").merge(counts.reset_index(), on=keys, how="left")


def within_slope(y, x, levels, confidence: float = 0.95) -> dict:
    """The fixed-effects OLS slope of ``y`` on ``x`` with one intercept per distinct ``levels`` entry
    (see the module docstring): ``{"estimate", "ci_low", "ci_high", "p_value", "n_points"}``."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "x": np.asarray(x, dtype=float),
                          "level": list(levels)})
    frame = frame[np.isfinite(frame["y"]) & np.isfinite(frame["x"])]
    n_points = len(frame)
    nan = {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "n_points": n_points}
    if n_points == 0:
        return nan
    by = frame.groupby("level", sort=False)
    xt = frame["x"] - by["x"].transform("mean")
    yt = frame["y"] - by["y"].transform("mean")
    sxx = float((xt * xt).sum())
    if not sxx > 1e-12 * max(1.0, float((frame["x"] ** 2).sum())):
        return nan
    b = float((xt * yt).sum()) / sxx
    dof = n_points - by.ngroups - 1
    if dof < 1:
        return {**nan, "estimate": b}
    se = math.sqrt(float(((yt - b * xt) ** 2).sum()) / dof / sxx)
    half = t_quantile(confidence, dof) * se
    if se > 0:
        p = t_two_sided_p(b / se, dof)
    else:  # a perfect fit: the slope is known exactly
        p = 0.0 if b != 0 else 1.0
    return {"estimate": b, "ci_low": b - half, "ci_high": b + half, "p_value": p, "n_points": n_points}


def capacity_effects(rows: pd.DataFrame, measure: str = "recalled_bits", confidence: float = 0.95) -> pd.DataFrame:
    """Per cell, the effects of state size, targeted information and interfering information on
    capacity (see the module docstring for exactly what each estimates).

    Returns:
        One row per (cell, effect), effects in the order of :data:`EFFECTS`, with columns cell,
        effect, estimate, ci_low, ci_high (the ``confidence`` interval, 95 % by default), p_value
        (two-sided t test of slope 0), n_points, unit and method. An effect the table cannot estimate
        (one hidden size, one interference amount) has NaN estimate, interval and p.

    ``rnnviz capacity`` writes it to ``OUT/capacity_effects.csv``; :func:`rnnviz.plot.plot_effects`
    draws it.
    """
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    scored, settings = _scored(rows, measure)
    seeds = seed_capacity(scored, measure)
    setting = [*settings, "interfering_bits"]
    fixed_for_interference = ["hidden_size", *[c for c in settings if c not in ("n_interfering", "interference")]]
    out = []
    for cell in sorted(seeds["cell"].unique()):
        mine = seeds[seeds["cell"] == cell]
        models = scored[scored["cell"] == cell].merge(
            mine[["hidden_size", *setting, "seed", "targeted_bits_at_capacity"]],
            on=["hidden_size", *setting, "seed"])
        below = models[models["targeted_bits"] < models["targeted_bits_at_capacity"]]
        fits = {
            "state_size": within_slope(mine["capacity"], np.log2(mine["hidden_size"].to_numpy(dtype=float)),
                                       _levels(mine, setting), confidence),
            "targeted": within_slope(below[measure], below["targeted_bits"],
                                     _levels(below, ["hidden_size", *setting]), confidence),
            "interference": within_slope(mine["capacity"], mine["interfering_bits"],
                                         _levels(mine, fixed_for_interference), confidence),
        }
        for effect, (unit, method) in EFFECTS.items():
            out.append({"cell": cell, "effect": effect, **fits[effect], "unit": unit,
                        "method": f"{method}; {confidence:.0%} t interval; p: t test of slope 0"})
    return pd.DataFrame(out, columns=list(EFFECT_COLUMNS))


def _levels(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Each row's level: its values in ``columns`` as one string (a missing value is a level too; one
    level when there are no columns)."""
    return ["|".join(map(str, values)) for values in frame[columns].itertuples(index=False, name=None)]

"""Seed statistics shared by the studies' tables and the figures drawn from them: the mean of
replicate values with its Student-t confidence interval. Imports nothing from rnnviz but the checks,
so a study (:mod:`rnnviz.study`) and a plot (:mod:`rnnviz.plot`) compute the same interval.

For k finite values x_1 … x_k (replicate seeds)::

    mean = (1/k) Σ x_i,    sd = sqrt(Σ (x_i − mean)² / (k − 1)),
    CI   = mean ± t_{(1 + c)/2, k − 1} · sd / sqrt(k)          (c: the confidence, 0.95)

With one value the sd and the interval are NaN (no spread can be estimated from one seed); with none
the mean is NaN too. Non-finite values (a diverged model's NaN score) are left out and not counted.

A paired difference of two models over the same seeds (:func:`paired_difference`) is the same
interval over d_i = a_i − b_i, with the two-sided p-value of the paired t-test of mean 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._checks import check_number

#: Columns :func:`seed_summary` adds for a value column (each prefixed by the column's name + "_"
#: except ``n_seeds``).
SUMMARY_COLUMNS = ("mean", "sd", "n_seeds", "ci_low", "ci_high")


def t_quantile(confidence: float, dof: float) -> float:
    """The two-sided Student-t multiplier ``t_{(1 + confidence)/2, dof}``; NaN for ``dof`` < 1.

    Computed by ``scipy.special.stdtrit``, the function ``scipy.stats.t.ppf`` calls (the same bits),
    without importing ``scipy.stats`` (about 1.3 s, every study command's last step paid it)."""
    from scipy.special import stdtrit

    confidence = check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    if not dof >= 1:
        return math.nan
    return float(stdtrit(dof, 0.5 + confidence / 2))


def t_two_sided_p(t: float, dof: float) -> float:
    """The two-sided p-value of a Student-t statistic ``t`` with ``dof`` degrees of freedom,
    ``2 · P(T > |t|)``, by ``scipy.special.stdtr`` (what ``scipy.stats.t.sf`` computes, the same bits)."""
    from scipy.special import stdtr

    return float(2 * stdtr(dof, -abs(t)))


def mean_ci(values, confidence: float = 0.95) -> dict:
    """``{"mean", "sd", "n_seeds", "ci_low", "ci_high"}`` of the finite entries of ``values`` (see the
    module docstring; one value: sd and interval NaN)."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    k = len(x)
    mean = float(x.mean()) if k else math.nan
    sd = float(x.std(ddof=1)) if k > 1 else math.nan
    half = t_quantile(confidence, k - 1) * sd / math.sqrt(k) if k > 1 else math.nan
    return {"mean": mean, "sd": sd, "n_seeds": k, "ci_low": mean - half, "ci_high": mean + half}


def seed_summary(frame: pd.DataFrame, keys: list[str], value: str, confidence: float = 0.95) -> pd.DataFrame:
    """One row per ``keys`` group of ``frame`` with :func:`mean_ci` of its ``value`` column: the
    columns ``keys`` + ``<value>_mean``, ``<value>_sd``, ``n_seeds``, ``<value>_ci_low``,
    ``<value>_ci_high`` (groups in sorted order; a group whose every value is NaN keeps its row, with
    ``n_seeds`` 0 and NaN statistics)."""
    out = []
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        stats = mean_ci(group[value].to_numpy(dtype=float), confidence)
        out.append({**dict(zip(keys, key, strict=True)),
                    **{(name if name == "n_seeds" else f"{value}_{name}"): stats[name] for name in SUMMARY_COLUMNS}})
    columns = keys + [name if name == "n_seeds" else f"{value}_{name}" for name in SUMMARY_COLUMNS]
    return pd.DataFrame(out, columns=columns)


def paired_difference(a, b, confidence: float = 0.95) -> dict:
    """:func:`mean_ci` of d_i = a_i − b_i over the pairs where both are finite, with ``p_value``: the
    paired t-test's two-sided p (NaN with fewer than two pairs or when every d_i is equal)."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if len(a) != len(b):
        raise ValueError(f"a and b must pair up (one value per seed each), got {len(a)} and {len(b)} values")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    out = mean_ci(d, confidence)
    p = math.nan
    if out["n_seeds"] >= 2 and out["sd"] > 0:
        p = t_two_sided_p(out["mean"] / (out["sd"] / math.sqrt(out["n_seeds"])), out["n_seeds"] - 1)
    return {**out, "p_value": p}

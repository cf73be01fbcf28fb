"""A language-model study's results per cell: seed means with confidence intervals, and differences.

Both read the rows of :func:`rnnviz.study.language_model` (or ``data/lm_paper.csv``): one per
comparison, cell and seed. Diverged models (NaN bpc) are left out of the statistics and counted.
"""

from __future__ import annotations

import pandas as pd

from .._checks import check_choice
from .._stats import mean_ci, paired_difference

KEYS = ["comparison", "compared_at", "cell"]
METRICS = ("test_bpc", "valid_bpc", "best_valid_bpc", "train_bpc")


def _require(rows: pd.DataFrame, columns) -> None:
    if not isinstance(rows, pd.DataFrame):
        raise TypeError(f"rows must be a pandas DataFrame, got {type(rows).__name__}")
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ValueError(f"rows is missing the column(s) {missing}; it has {list(rows.columns)}")


def summarize_lm(rows: pd.DataFrame, metric: str = "test_bpc", confidence: float = 0.95) -> pd.DataFrame:
    """One row per (comparison, compared_at, cell): the model's size and the seed mean of ``metric``
    with its Student-t confidence interval (:func:`rnnviz.study.mean_ci`).

    Columns: comparison, compared_at, cell, hidden_size, state_size, n_parameters, seeds (finite
    values), diverged (seeds left out), ``metric`` (the mean), sd, ci_low, ci_high, unigram_bpc.
    """
    check_choice("metric", metric, METRICS)
    _require(rows, KEYS + ["hidden_size", "state_size", "n_parameters", "seed", metric])
    out = []
    for (comparison, compared_at, cell), group in rows.groupby(KEYS, sort=False):
        stats = mean_ci(group[metric].to_numpy(dtype=float), confidence)
        out.append({"comparison": comparison, "compared_at": compared_at, "cell": cell,
                    "hidden_size": int(group["hidden_size"].iloc[0]), "state_size": int(group["state_size"].iloc[0]),
                    "n_parameters": int(group["n_parameters"].iloc[0]), "seeds": stats["n_seeds"],
                    "diverged": len(group) - stats["n_seeds"], metric: stats["mean"], "sd": stats["sd"],
                    "ci_low": stats["ci_low"], "ci_high": stats["ci_high"],
                    "unigram_bpc": float(group["unigram_bpc"].iloc[0]) if "unigram_bpc" in group else float("nan")})
    return pd.DataFrame(out)


def lm_differences(rows: pd.DataFrame, reference: str = "gru", metric: str = "test_bpc",
                   confidence: float = 0.95) -> pd.DataFrame:
    """Each cell's ``metric`` minus the ``reference`` cell's, paired by seed within each comparison.

    Negative is better for bpc. Columns: comparison, compared_at, cell, reference, pairs, difference
    (mean over seeds), sd, ci_low, ci_high, p_value (paired t-test, two-sided). The reference's own
    row is left out; a comparison without the reference cell gives no rows.
    """
    check_choice("metric", metric, METRICS)
    _require(rows, KEYS + ["seed", metric])
    out = []
    for (comparison, compared_at), group in rows.groupby(["comparison", "compared_at"], sort=False):
        ref = group[group["cell"] == reference].set_index("seed")[metric]
        if ref.empty:
            continue
        for cell, sub in group[group["cell"] != reference].groupby("cell", sort=False):
            mine = sub.set_index("seed")[metric]
            seeds = sorted(set(mine.index) & set(ref.index))
            d = paired_difference([float(mine[s]) for s in seeds], [float(ref[s]) for s in seeds], confidence)
            out.append({"comparison": comparison, "compared_at": compared_at, "cell": cell, "reference": reference,
                        "pairs": d["n_seeds"], "difference": d["mean"], "sd": d["sd"], "ci_low": d["ci_low"],
                        "ci_high": d["ci_high"], "p_value": d["p_value"]})
    return pd.DataFrame(out, columns=["comparison", "compared_at", "cell", "reference", "pairs", "difference", "sd",
                                      "ci_low", "ci_high", "p_value"])

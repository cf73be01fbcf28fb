"""The alphabet-size control of the capacity study: recalled bits at a fixed number of symbols K (so a
fixed sequence length) as the alphabet A, and with it the targeted bits I_T = K log2 A, varies.

In the main sweep I_T varies through K, so the sequence length T = 2K + L + 2 (protocol 2) varies with
it. Here T is fixed at each K. If recall is limited by what the state holds (bits), the recalled bits
R at one n follow one curve of I_T whatever K; if it is limited by K (or the length), the curves of
the two K part at the same I_T.

Pure function of a rows table (one row per trained model, :func:`rnnviz.study.capacity` or
``capacity.csv``); a model whose ``stop_reason`` is ``"diverged"``, or whose measure is NaN, is left
out (counted in ``diverged``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import check_number
from .._stats import seed_summary
from ._settings import setting_columns

REQUIRED = ("cell", "hidden_size", "n_targets", "alphabet", "targeted_bits", "seed")
#: Setting columns kept as grouping keys when a table has them (the dose: L, n_random and its label).
SETTING_COLUMNS = ("protocol", "n_layers", "n_interfering", "n_random", "interference")


def alphabet_control(rows: pd.DataFrame, measure: str = "recalled_bits", confidence: float = 0.95) -> pd.DataFrame:
    """The seed mean of ``measure`` per (cell, hidden_size, setting, n_targets, alphabet), with its
    Student-t interval (:func:`rnnviz._stats.seed_summary`).

    Columns: cell, hidden_size, the setting columns present (protocol, n_layers, n_interfering,
    n_random, interference), n_targets (K), alphabet (A); ``targeted_bits`` (K log2 A) and
    ``interfering_bits`` (n_random log2 A: at a fixed dose it grows with A too) when present;
    ``<measure>_mean``, ``<measure>_sd``, ``n_seeds``, ``<measure>_ci_low``, ``<measure>_ci_high``
    (mean ± t_{(1+confidence)/2, k−1} · sd / sqrt(k) over k seeds; NaN with one seed);
    ``recalled_fraction`` = mean / targeted_bits; ``recalled_symbols`` = mean / log2 A (symbols' worth
    of bits); ``diverged``: models left out. Rows are sorted by the keys.
    """
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(rows, pd.DataFrame):
        raise TypeError(f"rows must be a pandas DataFrame (one row per model), got {type(rows).__name__}")
    missing = [c for c in (*REQUIRED, measure) if c not in rows.columns]
    if missing:
        raise ValueError(f"rows is missing the column(s) {missing}; the alphabet control needs {list(REQUIRED)} "
                         f"and the measure {measure!r} (it has {list(rows.columns)})")
    if rows.empty:
        raise ValueError("rows is empty: no trained models to compare across alphabets")
    keys = ["cell", "hidden_size", *setting_columns(rows, SETTING_COLUMNS), "n_targets", "alphabet"]
    left_out = rows[measure].isna()
    if "stop_reason" in rows.columns:
        left_out |= rows["stop_reason"] == "diverged"
    scored = rows.assign(**{measure: rows[measure].where(~left_out)})  # a left-out model counts as NaN
    table = seed_summary(scored, keys, measure, confidence)
    by = rows.assign(diverged=left_out).groupby(keys, sort=True, dropna=False)
    per_key = [c for c in ("targeted_bits", "interfering_bits") if c in rows.columns]
    firsts = by[per_key].first().reset_index(drop=True)
    for c in per_key:
        table[c] = firsts[c].to_numpy(dtype=float)
    table["diverged"] = by["diverged"].sum().to_numpy(dtype=int)
    mean = table[f"{measure}_mean"].to_numpy(dtype=float)
    table["recalled_fraction"] = mean / table["targeted_bits"].to_numpy(dtype=float)
    table["recalled_symbols"] = mean / np.log2(table["alphabet"].to_numpy(dtype=float))
    front = [*keys, *per_key]
    return table[front + [c for c in table.columns if c not in front]]

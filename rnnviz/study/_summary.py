"""Capacity per (cell, state size) from the per-model rows of a sweep.

Diverged models (``stop_reason == "diverged"``: their loss or weights turned non-finite, and their
rows hold no scores) are left out of every aggregate and counted in a ``diverged`` column.
"""

from __future__ import annotations

import math

import pandas as pd

from .._checks import check_choice, check_probability
from ._settings import setting_columns

#: The columns a capacity is computed per: cell, n, and the setting (for a fixed-hold sweep ``hold_steps``
#: stands in for ``n_interfering``: :func:`rnnviz.study._settings.setting_columns`).
GROUP = ["cell", "hidden_size", "n_layers", "alphabet", "n_interfering", "interference", "interfering_bits"]
AGGREGATES = ("max", "mean", "median")


def diverged(rows: pd.DataFrame) -> pd.Series:
    """Per row, whether the model diverged: ``stop_reason == "diverged"``, or no accuracy at all (tables
    without the ``stop_reason`` column, read from CSV)."""
    flag = rows["accuracy"].isna()
    if "stop_reason" in rows:
        flag = flag | (rows["stop_reason"] == "diverged")
    return flag


def per_targeted_bits(rows: pd.DataFrame, over_seeds: str = "max") -> pd.DataFrame:
    """Accuracy and recalled bits at each targeted amount, aggregated over seeds.

    ``over_seeds="max"`` (default) takes the best seed: a seed that failed to train says little
    about what the cell can store. ``"mean"`` and ``"median"`` are more conservative.

    Diverged models are left out: ``seeds`` counts the models aggregated and ``diverged`` those left
    out; a grid point whose every model diverged keeps its row, with NaN accuracy and recalled bits.
    """
    check_choice("over_seeds", over_seeds, AGGREGATES)
    keys = setting_columns(rows, GROUP) + ["targeted_bits"]
    flagged = rows.assign(diverged=diverged(rows))
    counts = flagged.groupby(keys, as_index=False).agg(
        n_parameters=("n_parameters", "first"), diverged=("diverged", "sum")
    )
    scored = flagged[~flagged["diverged"]].groupby(keys, as_index=False).agg(
        accuracy=("accuracy", over_seeds),
        recalled_bits=("recalled_bits", over_seeds),
        seeds=("seed", "nunique"),
    )
    grid = counts.merge(scored, on=keys, how="left")
    grid["seeds"] = grid["seeds"].fillna(0).astype(int)
    grid["diverged"] = grid["diverged"].astype(int)
    return grid[keys + ["accuracy", "recalled_bits", "n_parameters", "seeds", "diverged"]]


def summarize(rows: pd.DataFrame, over_seeds: str = "max", threshold: float = 0.99) -> pd.DataFrame:
    """Capacity of each (cell, state size, interference setting).

    Columns added to the grouping columns:

    - ``capacity_bits``: the largest recalled information over the targeted-bits grid (bits);
    - ``targeted_bits_at_capacity``: the I_T where it was reached;
    - ``max_targeted_bits_99``: the largest I_T recalled with accuracy ≥ ``threshold`` (0 if none);
    - ``bits_per_unit`` = capacity_bits / hidden_size (n, also for the LSTM family, whose flat state holds 2n numbers); ``bits_per_parameter`` = capacity_bits /
      n_parameters (the rows' ``n_parameters``: the input map, when the model has one, and the
      recurrent cell; without the readout);
    - ``seeds``: the most seeds aggregated at one targeted amount; ``diverged``: the models left out
      because they diverged (a setting whose every model diverged has NaN capacity).
    """
    check_probability("threshold", threshold)
    if rows.empty:
        raise ValueError("rows is empty: no trained models to summarize")
    protocols = sorted(rows["protocol"].dropna().unique()) if "protocol" in rows else []
    if len(protocols) > 1:
        raise ValueError(f"rows hold models of several protocols {protocols}: summarize one at a time "
                         f"(e.g. rows[rows['protocol'] == {protocols[-1]!r}])")
    grid = per_targeted_bits(rows, over_seeds)
    group = setting_columns(rows, GROUP)
    out = []
    for key, g in grid.groupby(group, sort=True):
        scored = g.dropna(subset=["recalled_bits"])
        best = scored.loc[scored["recalled_bits"].idxmax()] if len(scored) else None
        ok = scored.loc[scored["accuracy"] >= threshold, "targeted_bits"]
        cap = math.nan if best is None else float(best["recalled_bits"])
        n_params = int(g["n_parameters"].iloc[0])
        out.append(
            {
                **dict(zip(group, key, strict=True)),
                "capacity_bits": cap,
                "targeted_bits_at_capacity": math.nan if best is None else float(best["targeted_bits"]),
                "max_targeted_bits_99": float(ok.max()) if len(ok) else 0.0,
                "bits_per_unit": cap / key[1],
                "n_parameters": n_params,
                "bits_per_parameter": cap / n_params,
                "seeds": int(g["seeds"].max()),
                "diverged": int(g["diverged"].sum()),
            }
        )
    return pd.DataFrame(out)

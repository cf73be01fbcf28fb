"""Capacity per (cell, state size) from the per-model rows of a sweep."""

from __future__ import annotations

import pandas as pd

GROUP = ["cell", "hidden_size", "n_layers", "alphabet", "n_interfering", "interference", "interfering_bits"]
AGGREGATES = ("max", "mean", "median")


def per_targeted_bits(rows: pd.DataFrame, over_seeds: str = "max") -> pd.DataFrame:
    """Accuracy and recalled bits at each targeted amount, aggregated over seeds.

    ``over_seeds="max"`` (default) takes the best seed: a seed that failed to train says little
    about what the cell can store. ``"mean"`` and ``"median"`` are more conservative.
    """
    if over_seeds not in AGGREGATES:
        raise ValueError(f"over_seeds must be one of {AGGREGATES}, got {over_seeds!r}")
    return rows.groupby(GROUP + ["targeted_bits"], as_index=False).agg(
        accuracy=("accuracy", over_seeds),
        recalled_bits=("recalled_bits", over_seeds),
        n_parameters=("n_parameters", "first"),
        seeds=("seed", "nunique"),
    )


def summarize(rows: pd.DataFrame, over_seeds: str = "max", threshold: float = 0.99) -> pd.DataFrame:
    """Capacity of each (cell, state size, interference setting).

    Columns added to the grouping columns:

    - ``capacity_bits``: the largest recalled information over the targeted-bits grid (bits);
    - ``targeted_bits_at_capacity``: the I_T where it was reached;
    - ``max_targeted_bits_99``: the largest I_T recalled with accuracy ≥ ``threshold`` (0 if none);
    - ``bits_per_unit`` = capacity_bits / hidden_size (n, also for the LSTM family, whose flat state holds 2n numbers); ``bits_per_parameter`` = capacity_bits /
      n_parameters (parameters of the recurrent cell, without input map and readout).
    """
    if rows.empty:
        raise ValueError("rows is empty: no trained models to summarize")
    grid = per_targeted_bits(rows, over_seeds)
    out = []
    for key, g in grid.groupby(GROUP, sort=True):
        best = g.loc[g["recalled_bits"].idxmax()]
        ok = g.loc[g["accuracy"] >= threshold, "targeted_bits"]
        cap = float(best["recalled_bits"])
        n_params = int(g["n_parameters"].iloc[0])
        out.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "capacity_bits": cap,
                "targeted_bits_at_capacity": float(best["targeted_bits"]),
                "max_targeted_bits_99": float(ok.max()) if len(ok) else 0.0,
                "bits_per_unit": cap / key[1],
                "n_parameters": n_params,
                "bits_per_parameter": cap / n_params,
                "seeds": int(g["seeds"].max()),
            }
        )
    return pd.DataFrame(out)

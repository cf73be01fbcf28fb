"""The capacity explorer's computation: one (cell, interference, metric) slice of a sweep's results."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..plot import METRICS
from ..study import per_targeted_bits, summarize


@dataclass(frozen=True)
class CapacityView:
    """A slice of capacity results.

    Attributes:
        cell, interference, metric: the selection.
        rows: per-model rows of that cell and interference setting.
        grid: those rows aggregated over seeds (best seed), per hidden size and targeted bits.
        summary: :func:`rnnviz.study.summarize` of every cell under that interference setting.
        table: the chosen metric of the chosen cell per hidden size n (a Series indexed by ``hidden_size``).
    """

    cell: str
    interference: str
    metric: str
    rows: pd.DataFrame
    grid: pd.DataFrame
    summary: pd.DataFrame
    table: pd.Series


def capacity_options(rows: pd.DataFrame) -> dict[str, list[str]]:
    """The choices the explorer offers for ``rows``: cells, interference settings, metrics."""
    return {"cell": sorted(rows["cell"].unique()), "interference": sorted(rows["interference"].unique()),
            "metric": list(METRICS)}


def capacity_view(rows: pd.DataFrame, cell: str, interference: str, metric: str = "capacity_bits") -> CapacityView:
    """Select ``cell`` under ``interference`` and summarise ``metric`` (one of :data:`METRICS`)."""
    options = capacity_options(rows)
    for name, value in (("cell", cell), ("interference", interference), ("metric", metric)):
        if value not in options[name]:
            raise ValueError(f"{name} must be one of {options[name]}, got {value!r}")
    setting = rows[rows["interference"] == interference]
    mine = setting[setting["cell"] == cell]
    if mine.empty:
        raise ValueError(f"no results for cell={cell!r} with interference={interference!r}")
    summary = summarize(setting)
    table = summary[summary["cell"] == cell].set_index("hidden_size")[metric].sort_index()
    return CapacityView(cell=cell, interference=interference, metric=metric, rows=mine,
                        grid=per_targeted_bits(mine), summary=summary, table=table)

"""Recall per target position: which of its K targets a memorization model holds, and how much of each.

The store keeps, per model, the bits recalled at each of the K recall positions
(``recalled_bits_per_position``, JSON; at most log2 A each, their sum is ``recalled_bits``) and the
accuracy at each (``accuracy_per_position``). :func:`position_table` turns those lists into one row per
(setting, position) with the seed mean and its t interval, so that how a model holds less than it is
asked for reads off a table: a few symbols whole and the rest dropped, or some of every one
(docs/capacity_runs.md, "How it holds less: it spreads"; "The fixed hold at n = 4, 8 and 32").
"""

from __future__ import annotations

import json
import math

import pandas as pd

from .._checks import check_choice, check_number
from .._stats import seed_summary
from ._effects import _scored

#: The per-position columns of a capacity row (``rnnviz store export --all-columns`` writes them).
POSITION_MEASURES = ("recalled_bits_per_position", "accuracy_per_position")

#: The columns besides cell and hidden_size that tell two settings apart, when present.
_SETTING = ("protocol", "n_layers", "alphabet", "n_targets", "n_interfering", "n_random", "interfering_bits", "targeted_bits")


def _values(cell, column: str) -> list[float]:
    """One model's per-position list from a row's cell (JSON text, as the store and the CSV files
    hold it, or a list); None entries (a model without scores) become NaN."""
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except json.JSONDecodeError:
            raise ValueError(f"{column} must hold a JSON list per model, got {cell[:40]!r}") from None
    if not isinstance(cell, (list, tuple)):
        raise ValueError(f"{column} must hold a list per model, got {type(cell).__name__}")
    return [math.nan if v is None else float(v) for v in cell]


def position_table(rows: pd.DataFrame, measure: str = "recalled_bits_per_position",
                   confidence: float = 0.95) -> pd.DataFrame:
    """Recall at each target position, seed means with their t intervals.

    Args:
        rows: capacity rows with the per-position column (a store's ``frame()``, or a CSV written by
            ``rnnviz store export --all-columns``; the published columns leave it out) and cell,
            hidden_size, seed, the settings. Diverged models are left out, as in the effects.
        measure: ``"recalled_bits_per_position"`` (bits, at most log2 A per position) or
            ``"accuracy_per_position"``.
        confidence: of the intervals over seeds.

    Returns:
        One row per (cell, hidden_size, the setting columns present (protocol, n_layers, alphabet,
        n_targets, n_interfering, n_random, interfering_bits, targeted_bits), position): ``position`` (1 = the
        first target stored, and recalled first), ``n_seeds``, ``<measure>_mean``, ``_sd``,
        ``_ci_low``, ``_ci_high``. A model of K targets gives K rows.
    """
    check_choice("measure", measure, POSITION_MEASURES)
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(rows, pd.DataFrame):
        raise TypeError(f"rows must be a pandas DataFrame (one row per model), got {type(rows).__name__}")
    if measure not in rows.columns:
        raise ValueError(f"rows has no column {measure!r}: per-position scores are in a store's rows and in "
                         f"`rnnviz store export --all-columns` files, not in the published columns")
    scored, _ = _scored(rows, measure)
    keys = ["cell", "hidden_size", *(c for c in _SETTING if c in scored.columns)]
    long = []
    for record in scored[[*keys, "seed", measure]].to_dict("records"):
        values = _values(record.pop(measure), measure)
        long += [{**record, "position": p, measure: v} for p, v in enumerate(values, start=1)]
    frame = pd.DataFrame(long, columns=[*keys, "seed", "position", measure])
    return seed_summary(frame, [*keys, "position"], measure, confidence)

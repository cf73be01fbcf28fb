"""Recall against how long each target is held: the memorization study's rows per hold time.

In every memorization protocol a target stored at step j is recalled at step j + h, with the hold
``h = K + L + 1`` (protocol 1) or ``K + L + 2`` (protocols 2 and 3; :func:`rnnviz.tasks.hold_steps`),
the same for all K targets. Along a capacity curve (K growing at a fixed delay L) the hold grows with
K, so a curve that falls past its peak could be a model that cannot hold anything that long rather
than one asked for too many symbols. Models that hold few symbols over long delays (K fixed, L
growing) separate the two: :func:`hold_table` puts both on one axis, the hold, with the bits
recalled in all and per target symbol, ``recalled_bits / K`` (at most log2 A bits).
"""

from __future__ import annotations

import pandas as pd

from .._checks import check_number
from .._stats import seed_summary
from ..tasks import hold_steps
from ._effects import _scored
from ._protocol import protocol_number
from ._settings import HOLD_COLUMN

#: The columns :func:`hold_table` needs besides the effects' (cell, hidden_size, targeted_bits,
#: interfering_bits, seed and the measure).
HOLD_COLUMNS = ("n_targets", "n_interfering", "protocol")


def with_hold(rows: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``rows`` with the column ``hold_steps``: each model's hold (every target's wait between
    its store and its recall, :func:`rnnviz.tasks.hold_steps`) from its ``n_targets`` K, ``n_interfering``
    L and ``protocol`` (a rows' value such as ``"memorization/2+combined"``), e.g. to pick the models
    of several runs that wait one hold: ``with_hold(rows).query("hold_steps == 42")``."""
    frame = rows.copy()
    frame[HOLD_COLUMN] = [hold_steps(int(k), int(n), protocol_number(p))
                          for k, n, p in zip(frame["n_targets"], frame["n_interfering"], frame["protocol"], strict=True)]
    return frame


def hold_table(rows: pd.DataFrame, measure: str = "recalled_bits", confidence: float = 0.95) -> pd.DataFrame:
    """Recall against the hold, in total and per target symbol, seed means with their t intervals.

    One row per (cell, hidden_size, protocol, alphabet (when present), n_targets K, n_interfering L,
    interfering_bits): ``hold_steps`` (every target's wait between store and recall), ``targeted_bits``,
    ``n_seeds``, and two seed summaries, each ``_mean``, ``_sd``, ``_ci_low``, ``_ci_high`` (the
    ``confidence`` interval): ``<measure>`` (e.g. ``recalled_bits_mean``: the bits recalled in all) and
    ``bits_per_symbol`` (``measure / K``: log2 A when every symbol is recalled whole). ``protocol`` keeps
    only the task's part (``"memorization/2"``, not the training curriculum): pass one training's rows
    per call, and draw two trainings as two tables (:func:`rnnviz.plot.plot_recall_by_hold`). Diverged
    models, and NaN scores, are left out as in :func:`rnnviz.study.capacity_table`.
    """
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    scored, _ = _scored(rows, measure)
    missing = [c for c in HOLD_COLUMNS if c not in scored.columns]
    if missing:
        raise ValueError(f"rows is missing the column(s) {missing}; hold_table needs {list(HOLD_COLUMNS)} "
                         f"to place each model's hold (capacity rows from a store or capacity.csv have them)")
    frame = with_hold(scored)
    frame["protocol"] = frame["protocol"].map(lambda value: f"memorization/{protocol_number(value)}")
    frame["bits_per_symbol"] = frame[measure].astype(float) / frame["n_targets"].astype(float)
    keys = ["cell", "hidden_size", "protocol", *(["alphabet"] if "alphabet" in frame.columns else []),
            "n_targets", "n_interfering", "interfering_bits", HOLD_COLUMN, "targeted_bits"]
    total = seed_summary(frame, keys, measure, confidence)
    per_symbol = seed_summary(frame, keys, "bits_per_symbol", confidence).drop(columns="n_seeds")
    return total.merge(per_symbol, on=keys)


def at_one_hold(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of a fixed-hold sweep (``hold=``: :func:`rnnviz.study.sweep_specs`) as the analyses read
    a setting: a copy with ``hold_steps`` added (every target's wait; :func:`rnnviz.study.summarize`,
    :func:`rnnviz.study.capacity_table`, the effects and curve shapes then group by it instead of the
    delay ``n_interfering``, which shrinks as K grows) and ``interference`` relabelled by the dose alone
    (``"blank"``, or ``"<n> random"``), since the fixed-delay label ("mixed" or "random") changes with
    the delay along a curve. ``n_interfering`` stays as data. A ValueError when the rows are not one hold
    per dose (e.g. a fixed-delay sweep) or lack a column it needs."""
    missing = [c for c in (*HOLD_COLUMNS, "n_random") if c not in rows.columns]
    if missing:
        raise ValueError(f"rows is missing the column(s) {missing}; at_one_hold needs {[*HOLD_COLUMNS, 'n_random']}")
    frame = with_hold(rows)
    spread = frame.groupby(["cell", "hidden_size", "n_random"])[HOLD_COLUMN].nunique()
    if (spread > 1).any():
        where = spread[spread > 1].index[0]
        raise ValueError(f"rows are not a fixed-hold sweep: the models of (cell, hidden_size, n_random) = {where} "
                         f"wait {sorted(frame.set_index(['cell', 'hidden_size', 'n_random']).loc[where, HOLD_COLUMN].unique())} "
                         f"steps (one hold per dose expected; rnnviz capacity --hold makes such a sweep)")
    frame["interference"] = ["blank" if int(r) == 0 else f"{int(r)} random" for r in frame["n_random"]]
    return frame

"""Which columns of a capacity sweep's rows name its *setting* (what a curve over targeted bits holds
fixed): the protocol, alphabet, layers and the interference dose, and either the delay L
(``n_interfering``, a fixed-delay sweep) or the hold (``hold_steps``, a fixed-hold sweep, whose delay
shrinks as K grows: :func:`rnnviz.study.at_one_hold` adds the column)."""

from __future__ import annotations

import pandas as pd

#: The column a fixed-hold sweep's rows carry (every target's wait, the same at every K).
HOLD_COLUMN = "hold_steps"


def setting_columns(rows: pd.DataFrame, candidates) -> list[str]:
    """The ``candidates`` present in ``rows``, in order, with ``n_interfering`` replaced by
    ``hold_steps`` when the rows have that column (the delay then varies along each curve, the hold does not)."""
    held = HOLD_COLUMN in rows.columns
    out = []
    for column in candidates:
        if column == "n_interfering" and held:
            column = HOLD_COLUMN
        if column in rows.columns and column not in out:
            out.append(column)
    return out

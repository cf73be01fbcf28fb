"""The learning-rate pilot of a capacity sweep: which learning rate suits each cell.

:func:`learning_rate_pilot` trains every cell at every candidate rate on a small grid (one or two
representative (n, I_T) points, a few seeds) and :func:`pick_learning_rates` picks, per cell, the
rate with the highest median recalled bits. The chosen rates go into a sweep as
``Preset(lr=...)`` / ``capacity(lr=...)``, where each model's key records its own rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from .._checks import check_int, check_positive
from ..train import TrainConfig
from ._run import capacity
from ._spec import targets_for_bits
from ._store import Store
from ._summary import diverged


def learning_rate_pilot(
    cells: Sequence[str],
    lrs: Iterable[float],
    *,
    points: Iterable[tuple[int, float]],
    interfering: Sequence,
    seeds: Sequence[int],
    alphabet: int = 4,
    protocol: int = 1,
    train: TrainConfig | None = None,
    n_test: int = 2000,
    store: str | Path | None = None,
    device: str = "auto",
    threads: int | None = 1,
    workers: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Train each cell at each learning rate in ``lrs`` on a small grid and pick each cell's best rate.

    Args:
        cells: cell names. lrs: candidate learning rates (positive, distinct).
        points: representative ``(hidden_size, targeted_bits)`` pairs, the same for every cell
            (one or two: the pilot costs cells × rates × points × interference settings × seeds models).
        interfering, seeds, alphabet, protocol, train, n_test: as in :func:`rnnviz.study.capacity`;
            ``train.lr`` is replaced by each candidate (so is nothing else).
        store: a store file for the pilot's models (resumable; None: in memory). device, threads,
            workers, progress: as in :func:`~rnnviz.study.capacity`.

    Returns:
        :func:`pick_learning_rates` of the pilot's rows: one row per (cell, lr) with the median
        recalled bits, the models and how many diverged, and ``best`` (True on each cell's chosen
        rate); ``table.attrs["best"]``: ``{cell: lr}``, ready for ``Preset(lr=...)``.
    """
    rates = [check_positive(f"lrs[{i}]", lr) for i, lr in enumerate(lrs)]
    if not rates or len(set(rates)) < len(rates):
        raise ValueError(f"lrs must be a non-empty sequence of distinct learning rates, got {rates}")
    grid_points = []
    for i, point in enumerate(points):
        if not isinstance(point, (tuple, list)) or len(point) != 2:
            raise ValueError(f"points[{i}] must be a (hidden_size, targeted_bits) pair, got {point!r}")
        targets_for_bits(point[1], alphabet, f"points[{i}]: targeted_bits")
        grid_points.append((check_int(f"points[{i}]: hidden_size", point[0], 1), point[1]))
    if not grid_points:
        raise ValueError("points must hold at least one (hidden_size, targeted_bits) pair")
    parts = []
    with Store(":memory:" if store is None else store) as db:
        for n, bits in grid_points:
            for lr in rates:
                rows = capacity(cells, [n], [bits], interfering, seeds, alphabet=alphabet, train=train,
                                n_test=n_test, protocol=protocol, lr=lr, store=db, device=device,
                                threads=threads, workers=workers, progress=progress)
                parts.append(rows.assign(lr=lr))
    return pick_learning_rates(pd.concat(parts, ignore_index=True))


def pick_learning_rates(rows: pd.DataFrame) -> pd.DataFrame:
    """Per cell, the learning rate whose models recall the most bits (median over the models).

    ``rows``: capacity rows with an ``lr`` column. A diverged model counts as 0 recalled bits (a
    rate that diverges loses), ties go to the smaller rate. Returns one row per (cell, lr):
    ``median_recalled_bits``, ``models``, ``diverged``, ``best``; ``attrs["best"]`` = ``{cell: lr}``.
    """
    missing = {"cell", "lr", "recalled_bits"} - set(rows)
    if missing:
        raise ValueError(f"rows must have the columns cell, lr and recalled_bits; {sorted(missing)} are missing")
    failed = diverged(rows)
    scored = rows.assign(bits=rows["recalled_bits"].where(~failed, 0.0).fillna(0.0), failed=failed)
    table = scored.groupby(["cell", "lr"], as_index=False, sort=True).agg(
        median_recalled_bits=("bits", "median"), models=("bits", "size"), diverged=("failed", "sum"))
    table["diverged"] = table["diverged"].astype(int)
    best = {}
    for cell, g in table.groupby("cell", sort=True):
        top = g["median_recalled_bits"].max()
        best[cell] = float(g.loc[g["median_recalled_bits"] == top, "lr"].min())
    table["best"] = [best[c] == lr for c, lr in zip(table["cell"], table["lr"], strict=True)]
    table.attrs["best"] = best
    return table

"""What a capacity sweep would train, without training: the plan of a resumable run.

A long sweep spans sessions (``--time-limit``, ``--hard-limit``, a run stopped by hand), and before
starting it again one wants to know what is left: how many models, in which groups, which of them
resume from a checkpoint and how far they had come, and how the cost left is shared out.
:func:`sweep_plan` answers from what is done (a capacity store, opened read-only: :func:`capacity_plan`;
the adding problem's results file) and the checkpoints folder, with the groups in the order the sweep
would start them (:func:`rnnviz.study._run.planned_waves`), so that ``rnnviz capacity ... --plan`` and
``rnnviz adding ... --plan`` print what the same command without ``--plan`` would do.

Sizes are in estimated cost (:func:`rnnviz.study._run.group_cost`: steps × length × members × (n +
6) × layers, the cost the workers sort the groups by), not in time: the costs are budgets, and a group
that stops early on its target takes less. (The store's timings cannot give a time: a group resumed
from a checkpoint records only its last run's seconds.) While a sweep runs, its bar estimates the
time left from the pace it sees (:class:`rnnviz.study._progress.SweepPace`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ._checkpoints import group_checkpoint
from ._run import describe_group, group_cost, planned_waves, sweep_checkpoints, with_missing_predecessors
from ._spec import ModelSpec
from ._store import Store
from ._weights import weights_dir

#: The columns of :func:`sweep_plan`, one row per group to train.
PLAN_COLUMNS = ("group", "models", "cost_left", "cost_share", "resumes_at", "steps")


def checkpoint_step(path: Path) -> int | None:
    """The step a group's checkpoint (``path``, without suffix: :func:`group_checkpoint`) was written at,
    from its JSON side file; None when there is none or it cannot be read as one (a checkpoint is data:
    only its ``metadata.step`` is read, as an int)."""
    side = Path(f"{path}.json")
    if not side.is_file():
        return None
    try:
        step = json.loads(side.read_text())["metadata"]["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


def sweep_plan(specs: Sequence, done: set[str] | frozenset = frozenset(), *, describe: Callable[[Sequence], str],
               checkpoints: str | Path | None = None, parallel: bool = False, max_group: int = 64,
               warm_start: bool = False, weights: str | Path | None = None) -> pd.DataFrame:
    """The groups a sweep of ``specs`` (a capacity sweep's :class:`~rnnviz.study.ModelSpec`, or the adding
    problem's specs) would still train, given the keys ``done`` (already in its store or results file), in
    the order it would start them (``parallel``: with several workers or a Dask cluster, the costliest
    first), without training or writing anything.

    One row per group: ``group`` (``describe(group)``, e.g. ``"gru n=64 64 bits (3 models)"``), ``models``,
    ``cost_left`` (its estimated cost, :func:`rnnviz.study._run.group_cost`, less what its checkpoint has
    done; arbitrary units), ``cost_share`` (that as a fraction of all that is left), ``resumes_at`` (the
    step of its checkpoint in the folder ``checkpoints``; 0 when it starts afresh or there is no folder)
    and ``steps`` (its budget). ``attrs``: ``n_planned`` (models in the grid), ``n_done`` (of them
    done), ``n_to_train``. ``warm_start`` (capacity sweeps): the waves of warm starts, and the finished
    predecessors whose weights are missing from ``weights`` trained again, as the sweep does.
    """
    specs = list(specs)
    done = set(done) & {s.key for s in specs}
    todo = [s for s in specs if s.key not in done]
    if warm_start and weights is not None:
        todo = with_missing_predecessors(specs, todo, str(weights))
    rows, left = [], []
    for groups in planned_waves(todo, max_group, warm_start=warm_start, parallel=parallel):
        for group in groups:
            steps = int(group[0].train.get("steps", 1))
            at = None if checkpoints is None else checkpoint_step(group_checkpoint(checkpoints, [s.key for s in group]))
            at = min(at or 0, steps)
            left.append(group_cost(group) * (1 - at / steps))
            rows.append({"group": describe(group), "models": len(group), "resumes_at": at, "steps": steps})
    total = sum(left)
    plan = pd.DataFrame(rows, columns=["group", "models", "resumes_at", "steps"])
    plan.insert(2, "cost_left", left)
    plan.insert(3, "cost_share", [c / total if total > 0 else math.nan for c in left])
    plan.attrs.update(n_planned=len(specs), n_done=len(done), n_to_train=len(todo))
    return plan


def capacity_plan(specs: Sequence[ModelSpec], store: str | Path | None = None, *, parallel: bool = False,
                  distributed: bool = False, max_group: int = 64, warm_start: bool = False,
                  checkpoints: str | Path | None = None) -> pd.DataFrame:
    """:func:`sweep_plan` of a capacity sweep of ``specs`` into ``store`` (opened read-only; None, or a
    file that does not exist yet: nothing done), with ``parallel`` local workers or on a Dask cluster
    (``distributed``), its checkpoints where the sweep keeps them
    (:func:`rnnviz.study._run.sweep_checkpoints`: ``checkpoints``, else the store's ``<store>.checkpoints``
    folder for local workers) and its warm starts' weights next to the store."""
    path = None if store is None else Path(store)
    done: set[str] = set()
    if path is not None and path.is_file():
        with Store(path, read_only=True) as db:
            done = db.finished([s.key for s in specs])
    return sweep_plan(specs, done, describe=lambda group: describe_group([s.as_dict() for s in group]),
                      checkpoints=sweep_checkpoints(":memory:" if path is None else path, checkpoints, distributed),
                      parallel=parallel or distributed, max_group=max_group, warm_start=warm_start,
                      weights=None if path is None else weights_dir(path))

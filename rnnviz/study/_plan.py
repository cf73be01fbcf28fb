"""What a capacity sweep would train, without training: the plan of a resumable run.

A long sweep spans sessions (``--time-limit``, ``--hard-limit``, a run stopped by hand), and before
starting it again one wants to know what is left: how many models, in which groups, which of them
resume from a checkpoint and how far they had come, and how the cost left is shared out.
:func:`sweep_plan` answers from the store (opened read-only) and the checkpoints folder, with the
groups in the order the sweep would start them (:func:`rnnviz.study._run.planned_waves`), so that
``rnnviz capacity ... --plan`` prints what the same command without ``--plan`` would do.

Sizes are in estimated cost (:func:`rnnviz.study._run.group_cost`: steps × length × members × (n +
6) × layers, the cost the workers sort the groups by), not in time: the costs are budgets, and a group
that stops early on its target takes less. (The store's timings cannot give a time: a group resumed
from a checkpoint records only its last run's seconds.) While a sweep runs, its bar estimates the
time left from the pace it sees (:class:`rnnviz.study._progress.SweepPace`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ._checkpoints import checkpoints_dir, group_checkpoint
from ._run import describe_group, group_cost, planned_waves, with_missing_predecessors
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


def sweep_plan(specs: Sequence[ModelSpec], store: str | Path | None = None, *, parallel: bool = False,
               max_group: int = 64, warm_start: bool = False, checkpoints: str | Path | None = None) -> pd.DataFrame:
    """The groups a sweep of ``specs`` (:func:`rnnviz.study.sweep_specs`) into ``store`` would still train,
    in the order it would start them (``parallel``: with several workers or a Dask cluster, the
    costliest first), without training or writing anything.

    One row per group: ``group`` (e.g. ``"gru n=64 64 bits (3 models)"``), ``models``, ``cost_left`` (its
    estimated cost, :func:`rnnviz.study._run.group_cost`, less what its checkpoint has done; arbitrary
    units), ``cost_share`` (that as a fraction of all that is left),
    ``resumes_at`` (the step of its checkpoint in ``checkpoints``, default the store's
    ``<store>.checkpoints`` folder; 0 when it starts afresh) and ``steps`` (its budget).
    ``attrs``: ``n_planned`` (models in the grid), ``n_done`` (of them in the store), ``n_to_train``.
    ``store`` None, or a file that does not exist yet: nothing is done.
    """
    specs = list(specs)
    keys = [s.key for s in specs]
    path = None if store is None else Path(store)
    done: set[str] = set()
    if path is not None and path.is_file():
        with Store(path, read_only=True) as db:
            done = db.finished(keys)
    todo = [s for s in specs if s.key not in done]
    if warm_start and path is not None:
        todo = with_missing_predecessors(specs, todo, str(weights_dir(path)))
    if checkpoints is None and path is not None:
        checkpoints = checkpoints_dir(path)
    rows, left = [], []
    for groups in planned_waves(todo, max_group, warm_start=warm_start, parallel=parallel):
        for group in groups:
            steps = int(group[0].train.get("steps", 1))
            at = None if checkpoints is None else checkpoint_step(group_checkpoint(checkpoints, [s.key for s in group]))
            at = min(at or 0, steps)
            left.append(group_cost(group) * (1 - at / steps))
            rows.append({"group": describe_group([s.as_dict() for s in group]), "models": len(group),
                         "resumes_at": at, "steps": steps})
    total = sum(left)
    plan = pd.DataFrame(rows, columns=["group", "models", "resumes_at", "steps"])
    plan.insert(2, "cost_left", left)
    plan.insert(3, "cost_share", [c / total if total > 0 else math.nan for c in left])
    plan.attrs.update(n_planned=len(specs), n_done=len(done), n_to_train=len(todo))
    return plan

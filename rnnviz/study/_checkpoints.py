"""Checkpoints of the groups a capacity sweep is training: one per group, next to the store.

A group (an ensemble of up to ``max_group`` models, :func:`rnnviz.study.train_group`) can train for
most of an hour (36,000 steps at n = 32). While it trains, :func:`~rnnviz.train.fit` writes its
checkpoint every :data:`GROUP_CHECKPOINT_EVERY` steps to the folder ``<store>.checkpoints/`` as
``group-<id>.pt`` / ``.json`` (``<id>``: a hash of the group's model keys, so the same group finds it
again, however the sweep was started). A sweep killed mid-group (a time limit of a batch job, Ctrl-C,
a reboot) resumes each group from its last checkpoint: the models end exactly as an uninterrupted
run would have them (fit's checkpoints carry the optimizer, the schedule, the generators and which
members are still training). Once a group's rows are in the store its checkpoint is deleted.

A checkpoint that another run wrote (the training code or settings changed since) is not resumed:
the group is trained from scratch, with a warning. The folder may be deleted at any time between
runs; only the progress of the groups in it is lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from ..train import delete_checkpoint

#: Steps between two checkpoints of a group (about 2.4 min of a 9-model group at n = 32 on one core;
#: a group that stops sooner writes only the checkpoint at its end).
GROUP_CHECKPOINT_EVERY = 2000


def checkpoints_dir(store: str | Path) -> Path:
    """The folder of a store's group checkpoints: ``runs/capacity.sqlite`` -> ``runs/capacity.sqlite.checkpoints``."""
    return Path(f"{store}.checkpoints")


def group_checkpoint(folder: str | Path, keys: Sequence[str]) -> Path:
    """The checkpoint path (without suffix, as :func:`~rnnviz.train.fit` takes it) of the group of
    models ``keys`` (in the group's order) in ``folder``."""
    if not keys:
        raise ValueError("keys must name at least one model, got none")
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return Path(folder) / f"group-{digest}"


def drop_group_checkpoint(folder: str | Path | None, keys: Sequence[str]) -> None:
    """Delete the checkpoint of the group ``keys`` from ``folder`` (nothing when there is none)."""
    if folder is not None:
        delete_checkpoint(group_checkpoint(folder, keys))

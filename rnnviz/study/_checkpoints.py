"""Checkpoints of the groups a study is training: one per group, in a folder of the study's.

A group (an ensemble of up to ``max_group`` models, :func:`rnnviz.study.train_group`) can train for
most of an hour (36,000 steps at n = 32). While it trains, :func:`~rnnviz.train.fit` writes its
checkpoint every :data:`GROUP_CHECKPOINT_EVERY` steps to a folder (the capacity study's
``<store>.checkpoints/`` or ``capacity(checkpoints=...)``; the adding study's ``out/adding.checkpoints/``) as
``group-<id>.pt`` / ``.json`` (``<id>``: a hash of the group's model keys, so the same group finds it
again, however the sweep was started). A sweep killed mid-group (a time limit of a batch job, Ctrl-C,
a reboot) resumes each group from its last checkpoint: the models end exactly as an uninterrupted
run would have them (fit's checkpoints carry the optimizer, the schedule, the generators and which
members are still training). Once a group's rows are stored its checkpoint is deleted.

:func:`fit_group` is the one place a study's group trains under these rules (the capacity study's
groups, :func:`rnnviz.study.train_group`, and the adding problem's).

A checkpoint that another run wrote (the training code or settings changed since) is not resumed:
the group is trained from scratch, with a warning. The folder may be deleted at any time between
runs; only the progress of the groups in it is lost.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..train import CheckpointMismatch, delete_checkpoint, fit
from ._progress import report

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


def check_folder(name: str, folder: str | Path | None) -> None:
    """A ValueError naming ``name`` when ``folder`` (a checkpoints folder; None: none) is an existing
    file: a folder is made there when the first group checkpoints."""
    if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
        raise ValueError(f"{name} must be a folder (or a path where one can be made), got {str(folder)!r}, "
                         "which is a file")


def remove_if_empty(folder: str | Path | None) -> None:
    """Remove the checkpoints ``folder`` once no group's checkpoint is left in it (every group stored)."""
    if folder is not None and Path(folder).is_dir() and not any(Path(folder).iterdir()):
        Path(folder).rmdir()


def drop_group_checkpoint(folder: str | Path | None, keys: Sequence[str]) -> None:
    """Delete the checkpoint of the group ``keys`` from ``folder`` (nothing when there is none)."""
    if folder is not None:
        delete_checkpoint(group_checkpoint(folder, keys))


def fit_group(model, tasks, config, *, keys: Sequence[str], name: str, checkpoints: str | Path | None = None,
              every: int = GROUP_CHECKPOINT_EVERY, stop_at: float | None = None, **train):
    """:func:`~rnnviz.train.fit` of a study's group (the ensemble of the models ``keys``, in order),
    checkpointed when ``checkpoints`` (a folder) is given: every ``every`` steps to
    :func:`group_checkpoint`, resumed from there when a checkpoint of this group is found. A checkpoint
    that another run wrote is deleted with a warning naming ``name`` (e.g. ``"gru n=4 16 bits (6 models)"``),
    and the group trains from scratch. ``stop_at`` (a ``time.time()``; needs ``checkpoints``): past it,
    the group stops at its next checkpoint and :class:`~rnnviz.train.TrainingPaused` is raised (the
    same call resumes it). ``train``: fit's other keyword arguments (seeds, progress); its
    ``on_progress`` is :func:`rnnviz.study._progress.report` unless given (in a sweep's worker
    process, the group's steps reach the sweep's bar). The caller
    deletes the checkpoint once the group's rows are stored (:func:`drop_group_checkpoint`)."""
    path = None
    if checkpoints is not None:
        path = group_checkpoint(checkpoints, keys)
        train.update(checkpoint=path, checkpoint_every=every)
        if stop_at is not None:
            train.update(pause_when=lambda: time.time() >= stop_at)
    elif stop_at is not None:
        raise ValueError("stop_at needs checkpoints: a group stopped in flight resumes from its checkpoint")
    train.setdefault("on_progress", report)  # to the sweep's bar, from a worker process
    try:
        return fit(model, tasks, config, **train)
    except CheckpointMismatch as err:  # raised before the model is changed
        warnings.warn(f"{name}: {err}; training the group from scratch", stacklevel=3)
        delete_checkpoint(path)
        return fit(model, tasks, config, **train)

"""The adding problem study: held-out mean squared error of each cell against sequence length T.

The task is :class:`rnnviz.tasks.Adding`, the variant of Arjovsky, Shah & Bengio (2016, "Unitary
evolution recurrent neural networks", section 4.2) of Hochreiter & Schmidhuber's (1997) adding
problem (Le, Jaitly & Hinton 2015 used values in U(0, 1) too; their marker placement and baseline
figure were not checked against this one): two input channels over T steps,
values x_t ~ U(0, 1) and markers m_t, exactly one marker drawn uniformly in the first half
``[0, T/2)`` and one in the second ``[T/2, T)``; the target is the sum of the two marked values, read
from the network's output at the last step and scored by its squared error. The trivial predictor
"always 1" (the target's mean) has MSE Var(U_1 + U_2) = 1/6 ≈ 0.167: the baseline a network must
beat to show that it remembers anything. (The original 1997 task drew values from [-1, 1], placed the
first marker among the first ten steps and scaled the target; its numbers are not comparable.)

:func:`adding` trains one model per (cell, hidden size n, length T, seed). The seeds of a (cell, n, T)
train together as one ensemble (:meth:`rnnviz.train.SequenceModel.stack` and
:func:`rnnviz.train.fit`: each member ends where it would alone), and every model's initial weights,
training batches, validation batch and test sequences come from seeds derived from its own
configuration (as in the capacity study: :meth:`rnnviz.study.ModelSpec.derived_seed`), so a result
does not depend on its ensemble or on the order of the study. The results are written to
``out/adding.csv`` after every ensemble; a rerun skips the models already there. Ensembles in flight
are checkpointed every :data:`~rnnviz.study._checkpoints.GROUP_CHECKPOINT_EVERY` steps to
``out/adding.checkpoints/`` (as the capacity study's groups are), so a study killed mid-ensemble, or
stopped by its hard limit, resumes each ensemble from its last checkpoint to the same rows.

Stopping: each model trains until its validation MSE stops improving (:data:`ADDING_TRAIN`, the
plateau rule of :class:`rnnviz.train.TrainConfig`, which reads the MSE because
:attr:`rnnviz.tasks.Adding.plateau_score` says so): a plateau is < 1 % gain of the best validation
MSE over the last fifth of the steps, or a gain of less than 0.001 (``plateau_min_gain``: a solved
problem's MSE keeps falling by more than 1 % per fifth long after it is below 1e-3), judged only once
the MSE is below :data:`ADDING_FLOOR` (3/4 of the baseline 1/6); the first plateau divides the
learning rate by 10, the second stops the model (``stop_reason`` "plateau"). A model that never gets
below the floor trains to the budget (``steps``; "budget"): "not learned within the budget", not
"plateaued at the baseline".
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import cells as _cells
from .._checks import check_choice, check_int, check_limits, check_optional_int
from .._files import write_text_atomically
from .._stats import seed_summary
from ..tasks import Adding
from ..train import SequenceModel, TrainConfig, TrainingPaused
from ._axes import read_axis
from ._checkpoints import GROUP_CHECKPOINT_EVERY, drop_group_checkpoint, fit_group, remove_if_empty
from ._presets import pick
from ._provenance import available_device, device_name, resolve_device, utc_now, versions
from ._run import _INIT_LOCK, SweepProgress, _number, _past, group_specs, longest_first
from ._spec import ModelSpec
from ._workers import run_in_processes

#: The task, training and scoring the rows are made under; each row records it in ``protocol``.
PROTOCOL = "adding/1"
RESULTS_FILE = "adding.csv"
SUMMARY_FILE = "adding_summary.csv"
#: The folder of the checkpoints of the ensembles in flight, in the study's out folder.
CHECKPOINTS_FOLDER = "adding.checkpoints"

#: The plateau rule's floor for the adding problem: a model is judged only once its validation MSE
#: is below 3/4 of the baseline 1/6 (0.125, between the baseline and 1/12 = Var(U), the MSE of a
#: model that remembers one of the two values exactly). The baseline MSE of a fixed validation batch
#: of 512 sequences has a standard deviation of about 0.0087 around 1/6, so a model at the baseline
#: passes 0.125 only by learning (0.15 would be passed by chance about once in 40 batches).
ADDING_FLOOR = 0.125

#: Training of :func:`adding` when given none, and of the ``paper`` and ``sizes`` presets: Adam at a
#: constant learning rate 1e-2 (the demo's peak rate; not piloted for this task) until the validation
#: MSE plateaus (a gain of less than 1 % or less than 0.001 over the last fifth of the steps, at least
#: 1,000 steps of each phase, judged once it is below :data:`ADDING_FLOOR`), one tenfold drop, then
#: the second plateau stops the model. The absolute resolution (0.001, 0.6 % of the baseline MSE 1/6)
#: is since 2026-11-30: with the relative rule alone all 72 models of the first paper run ran their
#: 4,000-step budget, their MSE still falling by more than 1 % a fifth at 1e-5 to 1e-4. A budget of
#: 16,000 steps: what a model that never gets below the floor gets ("budget" in its row); no early
#: stop on the thresholded accuracy.
ADDING_TRAIN = TrainConfig(steps=16_000, batch_size=32, lr=1e-2, schedule="constant", warmup=50, eval_every=100,
                           eval_batch=512, target_accuracy=None, plateau=0.01, plateau_window=0.2,
                           plateau_min_steps=1000, lr_drops=1, plateau_floor=ADDING_FLOOR, plateau_min_gain=1e-3)


@dataclass(frozen=True)
class AddingSpec:
    """One model of the study: cell, hidden size n, sequence length T, seed, training settings
    (``TrainConfig.settings("fit")``) and held-out test sequences."""

    cell: str
    hidden_size: int
    length: int
    seed: int
    train: dict = field(default_factory=dict)
    n_test: int = 2000

    def __post_init__(self):
        check_choice("cell", self.cell, _cells.names())
        check_int("hidden_size", self.hidden_size)
        check_int("length", self.length, 2)
        check_int("seed", self.seed, 0)
        check_int("n_test", self.n_test)
        if not isinstance(self.train, dict):
            raise TypeError(f"train must be a dict of TrainConfig fields, got {type(self.train).__name__}")
        TrainConfig(**self.train)  # validates the training settings

    def task(self) -> Adding:
        return Adding(self.length)

    @property
    def key(self) -> str:
        """SHA-256 (hex, 16 characters) of the canonical JSON of the configuration, the task's and the protocol."""
        hashed = {**asdict(self), "task": self.task().config(), "protocol": PROTOCOL}
        text = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    #: A 63-bit seed for a purpose ("init", "data", "eval", "test") derived from the key: the capacity
    #: study's derivation, which reads only ``key``.
    derived_seed = ModelSpec.derived_seed

    @property
    def n_layers(self) -> int:
        """The study trains one-layer models (what :func:`rnnviz.study._run.longest_first` reads)."""
        return 1

    @property
    def group(self) -> tuple:
        """Models with the same group train together as one ensemble (same architecture, T and training)."""
        return (self.cell, self.hidden_size, self.length, json.dumps(self.train, sort_keys=True), self.n_test)


def adding_specs(cells, hidden_sizes, lengths, seeds, *, train: TrainConfig | None = None,
                 n_test: int = 2000) -> list[AddingSpec]:
    """Every model of cells × hidden_sizes × lengths × seeds, each once (axes: any non-empty iterable;
    an entry's error names the axis and its index; repeated entries are merged with a warning)."""
    axes = {
        "cells": read_axis("cells", cells, lambda name, c: check_choice(name, c, _cells.names()), stacklevel=4),
        "hidden_sizes": read_axis("hidden_sizes", hidden_sizes, lambda name, n: check_int(name, n, 1), stacklevel=4),
        "lengths": read_axis("lengths", lengths, lambda name, t: check_int(name, t, 2), stacklevel=4),
        "seeds": read_axis("seeds", seeds, lambda name, s: check_int(name, s, 0), stacklevel=4),
    }
    check_int("n_test", n_test, 1)
    if train is not None and not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a rnnviz.train.TrainConfig or None, got {type(train).__name__}")
    settings = (ADDING_TRAIN if train is None else train).settings("fit")
    return [AddingSpec(cell, n, T, seed, settings, n_test)
            for cell in axes["cells"] for n in axes["hidden_sizes"] for T in axes["lengths"] for seed in axes["seeds"]]


def train_adding_group(specs: list[AddingSpec], device="cpu", progress: bool = False,
                       threads: int | None = None, checkpoints: str | None = None,
                       stop_at: float | None = None) -> list[dict]:
    """Train one group of models that share (cell, n, T, training) as an ensemble and score each on
    its held-out sequences; returns one row per model (see :func:`adding`). ``threads``: torch CPU
    threads for this work (a spawned worker starts with torch's default, every core; None leaves
    torch's setting alone), as :func:`rnnviz.study._run.train_group`. ``checkpoints`` (a folder) and
    ``stop_at`` (a ``time.time()``): the group's training is checkpointed there and resumed from there,
    and past ``stop_at`` it stops at its next checkpoint (:class:`~rnnviz.train.TrainingPaused`;
    :func:`rnnviz.study._checkpoints.fit_group`). ``train_seconds`` then counts the training before
    an interruption too."""
    if threads is not None:
        torch.set_num_threads(check_int("threads", threads))
    if not specs:
        raise ValueError("specs must hold at least one AddingSpec, got none")
    if len({s.group for s in specs}) != 1:
        raise ValueError("specs must share cell, hidden_size, length, train and n_test to train as one ensemble")
    device = resolve_device(device)
    first, task = specs[0], specs[0].task()
    singles = []
    for s in specs:  # each member's initial weights from its own seed (see rnnviz.study._run.train_group)
        with _INIT_LOCK, torch.random.fork_rng(devices=[]):
            torch.manual_seed(s.derived_seed("init"))
            singles.append(SequenceModel(s.cell, task.input_size, s.hidden_size, task.output_size))
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        model = SequenceModel.stack(singles).to(device)
    result = fit_group(model, [task] * len(specs), TrainConfig(**first.train), keys=[s.key for s in specs],
                       name=describe_adding_group(specs), checkpoints=checkpoints, every=GROUP_CHECKPOINT_EVERY,
                       stop_at=stop_at, data_seed=[s.derived_seed("data") for s in specs],
                       eval_seed=[s.derived_seed("eval") for s in specs], progress=progress)
    seconds = result.seconds
    finished, env = utc_now(), json.dumps(versions(), sort_keys=True)
    rows = []
    for i, s in enumerate(specs):
        scores = None
        if not result.diverged[i]:
            with _INIT_LOCK, torch.random.fork_rng(devices=[]):
                member = model.member(i)
            scores = held_out_mse(member, s)
        diverged = scores is None or not math.isfinite(scores["test_mse"])  # finite weights, non-finite outputs
        if diverged:
            scores = {"test_mse": None, "test_accuracy": None,
                      "baseline_mse": held_out_mse(None, s)["baseline_mse"]}
        rows.append({
            "key": s.key, "cell": s.cell, "hidden_size": s.hidden_size, "length": s.length, "seed": s.seed,
            "test_mse": _number(scores["test_mse"]), "baseline_mse": _number(scores["baseline_mse"]),
            "test_accuracy": _number(scores["test_accuracy"]),
            "n_parameters": model.cell_parameters, "n_parameters_total": model.total_parameters,
            "steps": int(result.stopped_at[i]), "stop_reason": "diverged" if diverged else result.stop_reason[i],
            "train_seconds": seconds / len(specs), "group_seconds": seconds, "group_size": len(specs),
            "device": device_name(device), "versions": env, "protocol": PROTOCOL,
            "config": json.dumps(asdict(s), sort_keys=True), "finished_at": finished,
        })
    return rows


def describe_adding_group(specs: list[AddingSpec]) -> str:
    """``"gru n=32 T=200 (3 models)"``: an ensemble, for messages."""
    first = specs[0]
    return f"{first.cell} n={first.hidden_size} T={first.length} ({len(specs)} model{'s' if len(specs) != 1 else ''})"


def held_out_mse(model: SequenceModel | None, spec: AddingSpec) -> dict:
    """Scores on the ``spec.n_test`` held-out sequences of ``spec`` (seeded by its key): ``test_mse``
    (the model's mean squared error at the last step), ``test_accuracy`` (the fraction of sums within
    the task's tolerance, 0.04) and ``baseline_mse``, the MSE of always predicting 1 on the same
    sequences (expectation 1/6). ``model=None``: the baseline only."""
    task = spec.task()
    generator = torch.Generator().manual_seed(spec.derived_seed("test"))
    device = torch.device("cpu") if model is None else model.readout_weight.device
    inputs, targets = task.sample(spec.n_test, generator, device)  # (T, B, 2), (B, 1)
    out = {"baseline_mse": float(((targets.double() - 1.0) ** 2).mean()), "test_mse": None, "test_accuracy": None}
    if model is not None:
        model.eval()
        with torch.no_grad():
            scores = task.score(model(inputs), targets)
        out.update(test_mse=float(scores["loss"]), test_accuracy=float(scores["accuracy"]))
    return out


def read_results(path: str | Path) -> pd.DataFrame:
    """The rows already in ``path`` (an ``adding.csv``; none when it does not exist); a ValueError naming
    the file when it is not an adding study's results."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame({"key": pd.Series(dtype=str)})
    try:
        rows = pd.read_csv(path, dtype={"key": str})  # a key of hex digits only must stay a string
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not an adding study's results (it cannot be read as CSV: {err}); "
                         "use another out folder or remove the file") from None
    if "key" not in rows.columns:
        raise ValueError(f"{path} is not an adding study's results (no 'key' column); use another out folder "
                         "or remove the file")
    return rows


def adding(cells, hidden_sizes, lengths, seeds, *, train: TrainConfig | None = None, out: str | Path | None = None,
           n_test: int = 2000, device="auto", threads: int | None = 1, max_group: int = 64,
           progress: bool = True, time_limit: float | None = None,
           on_group: Callable[[list[dict]], None] | None = None, workers: int = 1,
           hard_limit: float | None = None) -> pd.DataFrame:
    """Train one model per (cell, hidden size, length T, seed) on :class:`rnnviz.tasks.Adding` and
    score its held-out MSE.

    Args:
        cells: names from ``rnnviz.cells.names()``; hidden_sizes: n (integers >= 1); lengths: T
            (integers >= 2); seeds: replicate seeds (integers >= 0). Any non-empty iterables.
        train: training settings (:data:`ADDING_TRAIN` when None: to a plateau of the validation
            MSE), passed to :func:`rnnviz.train.fit` unchanged, so its stopping rules apply as fit
            implements them: with ``plateau`` set a member stops when its validation MSE (a fixed
            batch of ``eval_batch`` sequences; :attr:`rnnviz.tasks.Adding.plateau_score`) stops
            improving and ``steps`` is the budget; without it every member trains ``steps``;
            ``target_accuracy`` (None by default) stops a member whose validation accuracy (sums
            within 0.04) reaches it.
        out: folder of ``adding.csv``, written after every ensemble; models already in it (same
            configuration: the ``key`` column) are skipped, other rows in it are kept; the ensembles in
            flight are checkpointed to ``out/adding.checkpoints/`` (deleted once their rows are
            written). None: nothing is written and nothing resumed.
        n_test: held-out sequences per model for ``test_mse``.
        device: "auto" (CUDA when available, else the CPU), "cpu", "cuda", …
        threads: torch CPU threads while training (None: leave torch's setting alone).
        max_group: most seeds per ensemble.
        progress: progress bars. time_limit: seconds after which no further ensemble starts (the first
            always does); the rest stays for the next run. on_group: called with the rows of each
            ensemble trained now.
        workers: local processes training ensembles in parallel (1: one after the other in this
            process). With more, the ensembles go to worker processes (the capacity study's pool,
            forked or spawned: :func:`rnnviz.study._workers.run_in_processes`; a worker that dies has
            its ensemble retried once; each worker runs ``threads`` torch threads), the costliest first
            (:func:`rnnviz.study._run.longest_first`), and each is written as it finishes; a model's numbers do not depend on ``workers``.
        hard_limit: seconds after which the ensembles in flight stop too, each at its next checkpoint
            (at most :data:`~rnnviz.study._checkpoints.GROUP_CHECKPOINT_EVERY` steps later), and no
            other starts; the next run resumes them. At least ``time_limit`` (which defaults to it);
            needs ``out``. None: ensembles in flight finish.

    Returns:
        One row per model of this grid finished so far (earlier or now): key, cell, hidden_size,
        length, seed, test_mse, baseline_mse, test_accuracy, n_parameters (the cell's),
        n_parameters_total, steps (the optimizer steps the model took), stop_reason ("plateau": its
        validation MSE stopped improving; "budget": it ran all ``steps``; "target"; or "diverged":
        then test_mse and test_accuracy are NaN), train_seconds (the ensemble's time / its size), group_seconds,
        group_size, device, versions (JSON), protocol, config (JSON), finished_at.
        ``rows.attrs["n_planned"]``: the grid's size.
    """
    check_int("max_group", max_group, 1)
    check_int("workers", workers, 1)
    check_optional_int("threads", threads)
    time_limit, hard_limit = check_limits(time_limit, hard_limit)
    if hard_limit is not None and out is None:
        raise ValueError("hard_limit needs out: ensembles stopped in flight resume from checkpoints kept there")
    stop_at = None if hard_limit is None else time.time() + hard_limit
    specs = adding_specs(cells, hidden_sizes, lengths, seeds, train=train, n_test=n_test)
    available_device(device)  # an unknown or absent device fails before anything trains
    if threads is not None:
        torch.set_num_threads(threads)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    path = None if out is None else Path(out) / RESULTS_FILE
    checkpoints = None if out is None else str(Path(out) / CHECKPOINTS_FOLDER)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame({"key": pd.Series(dtype=str)}) if path is None else read_results(path)
    done = set(table["key"])
    pending = group_specs([s for s in specs if s.key not in done], max_group)
    if workers > 1:
        pending = longest_first(pending)  # parallel workers finish together
    bar = tqdm(total=len(specs), initial=len(specs) - sum(map(len, pending)), desc="adding models",
               disable=not progress, dynamic_ncols=True)
    sweep = SweepProgress(bar, progress, pending)

    def commit(group_rows: list[dict]) -> None:  # one finished ensemble: into the table and the file
        nonlocal table
        rows = pd.DataFrame(group_rows)
        table = rows if table.empty else pd.concat([table, rows], ignore_index=True)
        if path is not None:
            write_text_atomically(path, table.to_csv(index=False))
        drop_group_checkpoint(checkpoints, [r["key"] for r in group_rows])  # written: its checkpoint is spent
        bar.update(len(rows))
        sweep.finished(group_rows)
        if on_group is not None:
            on_group(rows.to_dict("records"))

    try:
        if workers > 1 and len(pending) > 1:
            run_in_processes(pending, train_adding_group, (device, False, threads, checkpoints, stop_at),
                             min(workers, len(pending)), commit, describe_adding_group, lambda: _past(deadline),
                             while_running=sweep.heartbeat(),
                             threads=threads, paused=(TrainingPaused,))
        else:
            for i, group in enumerate(pending):
                if i and _past(deadline):
                    break
                try:
                    commit(train_adding_group(group, device, progress=progress, checkpoints=checkpoints,
                                              stop_at=stop_at))
                except TrainingPaused:  # the hard limit: the next run resumes it
                    break
    finally:
        bar.close()
    remove_if_empty(checkpoints)  # every ensemble written: no folder of checkpoints left behind
    order = {s.key: i for i, s in enumerate(specs)}  # the grid's order: cells, then n, T and seeds
    mine = table[table["key"].isin(order)].drop_duplicates("key", keep="last")
    mine = mine.sort_values("key", key=lambda k: k.map(order)).reset_index(drop=True)
    mine.attrs["n_planned"] = len(specs)
    return mine


def adding_summary(rows: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per (cell, hidden_size, length): the seed mean of ``test_mse`` with its t interval
    (:func:`rnnviz._stats.seed_summary`: ``test_mse_mean``, ``test_mse_sd``, ``n_seeds``,
    ``test_mse_ci_low``, ``test_mse_ci_high``; diverged models are left out and counted in
    ``diverged``), ``baseline_mse`` (the mean over the group's models) and ``relative_mse`` =
    test_mse_mean / baseline_mse (1: no better than always predicting 1)."""
    missing = [c for c in ("cell", "hidden_size", "length", "test_mse", "baseline_mse") if c not in rows.columns]
    if missing:
        raise ValueError(f"rows is missing the column(s) {missing}; it has {list(rows.columns)}")
    keys = ["cell", "hidden_size", "length"]
    table = seed_summary(rows, keys, "test_mse", confidence)
    grouped = rows.groupby(keys, sort=True)
    table["baseline_mse"] = grouped["baseline_mse"].mean().to_numpy()
    table["diverged"] = grouped["test_mse"].apply(lambda v: int(v.isna().sum())).to_numpy()
    table["relative_mse"] = table["test_mse_mean"] / table["baseline_mse"]
    return table


@dataclass(frozen=True)
class AddingPreset:
    """A named adding study: the grid, the training settings and the held-out sequences per model; the
    same shape as the capacity study's :class:`~rnnviz.study.Preset` (:attr:`n_models`, :meth:`run`)."""

    description: str
    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    lengths: tuple[int, ...]
    seeds: tuple[int, ...]
    train: TrainConfig = ADDING_TRAIN
    n_test: int = 2000

    @property
    def n_models(self) -> int:
        """Models the study trains: cells × hidden sizes × lengths × seeds, each distinct model once."""
        return len(adding_specs(self.cells, self.hidden_sizes, self.lengths, self.seeds, train=self.train,
                                n_test=self.n_test))

    def plan(self, out: str | Path, *, workers: int = 1) -> pd.DataFrame:
        """What :meth:`run` into ``out`` would still train, without training or writing anything
        (:func:`rnnviz.study._plan.sweep_plan`: the models done are those in ``out/adding.csv``, the
        ensembles paused in flight those in ``out/adding.checkpoints``); a ValueError naming the file
        when ``out/adding.csv`` is not an adding study's results."""
        from ._plan import sweep_plan

        specs = adding_specs(self.cells, self.hidden_sizes, self.lengths, self.seeds, train=self.train,
                             n_test=self.n_test)
        done = set(read_results(Path(out) / RESULTS_FILE)["key"])
        return sweep_plan(specs, done, describe=describe_adding_group, checkpoints=Path(out) / CHECKPOINTS_FOLDER,
                          parallel=workers > 1)

    def run(self, out: str | Path, *, device="auto", threads: int | None = 1, progress: bool = True,
            time_limit: float | None = None,
            on_trained: Callable[[list[dict]], None] | None = None, workers: int = 1,
            hard_limit: float | None = None) -> pd.DataFrame:
        """Run (or resume) the study into ``out``: ``out/adding.csv`` (after every ensemble) and
        ``out/adding_summary.csv`` (:func:`adding_summary`, at the end). ``rnnviz adding`` then draws
        the figure. Options: see :func:`adding`; ``on_trained`` is called with the rows of each
        ensemble trained now.

        Returns:
            One row per model finished (earlier or now); ``rows.attrs["n_planned"]`` is
            :attr:`n_models`, more than ``len(rows)`` when the time limit stopped the study.
        """
        rows = adding(self.cells, self.hidden_sizes, self.lengths, self.seeds, train=self.train, out=out,
                      n_test=self.n_test, device=device, threads=threads, progress=progress,
                      time_limit=time_limit, on_group=on_trained, workers=workers, hard_limit=hard_limit)
        if len(rows):
            write_text_atomically(Path(out) / SUMMARY_FILE, adding_summary(rows).to_csv(index=False))
        return rows


PRESETS: dict[str, AddingPreset] = {
    # smoke and demo train a fixed, named budget (a quick look, not a result): 800 steps cannot hold
    # the plateau rule's 1,000-step phases, and the demo must stay about a minute.
    "smoke": AddingPreset(
        description="seconds: checks the whole pipeline (CI); a fixed budget of 30 steps",
        cells=("gru", "pru"), hidden_sizes=(4,), lengths=(8, 16), seeds=(0, 1),
        train=TrainConfig(steps=30, batch_size=16, lr=1e-2, eval_every=10, eval_batch=64, target_accuracy=None),
        n_test=200),
    "demo": AddingPreset(
        description="about 35 s on a 2-core CPU (2 workers; 1 minute in one): the MSE against T of three cells at two sizes; "
                    "a fixed budget of 800 steps",
        cells=("gru", "lstm", "pru"), hidden_sizes=(8, 32), lengths=(25, 50, 100), seeds=(0, 1),
        train=TrainConfig(steps=800, batch_size=32, lr=1e-2, warmup=20, eval_every=100, eval_batch=256,
                          target_accuracy=None),
        n_test=1000),
    # Each model to its plateau (ADDING_TRAIN: constant lr 1e-2, not piloted for this task; budget
    # 16,000 steps for a model that never gets below the floor). Measured 2026-11-30 (--workers 2, this
    # project's 2-core CPU): 16 min 11 s; the solvers stop after 2,100-4,000 steps (LSTM up to 8,900),
    # the Elman RNN runs the budget (docs/adding.md).
    "paper": AddingPreset(
        description="6 cells x n = 32 x T = 50-400 x 3 seeds (24 ensembles of 3 models), each to its "
                    "plateau (budget 16,000 steps); 16 minutes on a 2-core CPU (2 workers, measured)",
        cells=("pru", "gru", "lstm", "sru", "rnn", "irc_gru"), hidden_sizes=(32,),
        lengths=(50, 100, 200, 400), seeds=(0, 1, 2), train=ADDING_TRAIN, n_test=1000),
    # The paper preset's cells, training and test set at one length, T = 200, over hidden sizes 8-64:
    # the MSE against the state size. Its n = 32 models are the paper preset's (the same keys): copy
    # data/adding_paper.csv into the out folder as adding.csv and only n = 8, 16 and 64 train (54 models).
    "sizes": AddingPreset(
        description="the paper preset's 6 cells and training at T = 200 over n = 8, 16, 32, 64 x 3 seeds "
                    "(the MSE against the state size; its n = 32 models are the paper preset's); 14 minutes "
                    "for the other 54 on a 2-core CPU (2 workers, measured)",
        cells=("pru", "gru", "lstm", "sru", "rnn", "irc_gru"), hidden_sizes=(8, 16, 32, 64),
        lengths=(200,), seeds=(0, 1, 2), train=ADDING_TRAIN, n_test=1000),
}


def preset(name: str, **changes) -> AddingPreset:
    """The adding preset called ``name`` (a key of :data:`PRESETS`: "smoke", "demo" or "paper"), with
    fields replaced by ``changes`` (e.g. ``preset("demo", seeds=(0,))``)."""
    return pick(PRESETS, name, changes)

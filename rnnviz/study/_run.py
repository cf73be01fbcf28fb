"""Running a capacity sweep: train groups of models as ensembles, locally or on a Dask cluster."""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .._checks import check_bool, check_int, check_limits, check_optional_int, check_positive
from ..tasks import delay_for_hold, hold_steps
from ..tasks._memorization import DOSE_PROTOCOLS
from ..train import SequenceModel, TrainConfig, TrainingPaused
from ._checkpoints import (
    GROUP_CHECKPOINT_EVERY,
    check_folder,
    checkpoints_dir,
    drop_group_checkpoint,
    fit_group,
    remove_if_empty,
)
from ._dask import run_on_dask
from ._progress import SweepPace, dask_reporter, heartbeat
from ._protocol import protocol_name
from ._provenance import available_device, device_name, resolve_device, utc_now, versions
from ._spec import FORGET_GATE_CELLS, PROTOCOL_2_FORGET_BIAS, ModelSpec, grid
from ._store import Store, StoreError
from ._weights import has_weights, load_weights, save_weights, weights_dir
from ._workers import run_in_processes


def learning_rates(cells: Sequence[str], lr, default: float) -> dict[str, float]:
    """Each cell's learning rate: ``lr`` None (every cell ``default``), one number for every cell, or
    a mapping cell -> rate (cells it leaves out get ``default``; it may name no cell outside ``cells``)."""
    if lr is None:
        return dict.fromkeys(cells, default)
    if isinstance(lr, Mapping):
        unknown = [c for c in lr if c not in cells]
        if unknown:
            raise ValueError(f"lr gives learning rates for cells that are not in the sweep: {unknown} "
                             f"(the sweep's cells: {list(cells)})")
        return {c: check_positive(f"lr[{c!r}]", lr[c]) if c in lr else default for c in cells}
    return dict.fromkeys(cells, check_positive("lr", lr))


def sweep_specs(
    cells: Iterable[str],
    hidden_sizes: Iterable[int],
    targeted_bits: Iterable[float],
    interfering: Iterable,
    seeds: Iterable[int],
    *,
    alphabet: int = 4,
    n_layers: int = 1,
    train: TrainConfig | None = None,
    n_test: int = 2000,
    protocol: int = 1,
    lr: float | Mapping[str, float] | None = None,
    warm_start: bool = False,
    hold: int | None = None,
) -> list[ModelSpec]:
    """Every model of the grid cells × hidden_sizes × interfering × targeted_bits × seeds, each once.

    The axes are checked and read once by :func:`rnnviz.study._spec.grid` (any iterable; entries that
    name the same models are merged with a warning), ``n_layers`` and ``n_test`` are integers >= 1.

    ``protocol``: 1 (``interfering`` entries ``(L, "blank"|"random")``), 2 or 3 (entries are doses
    ``(L, n_random)``; the LSTM-family cells then start with the forget-gate bias
    :data:`~rnnviz.study._spec.PROTOCOL_2_FORGET_BIAS`). ``lr``: a learning rate per cell (a mapping
    ``{"lstm": 1e-2, ...}``; cells it leaves out use ``train.lr``) or one for all; each model's
    training settings, and so its key, record its own.

    ``warm_start`` (protocol 2 only): a curriculum over K. Each chain (:attr:`ModelSpec.chain`: one
    cell, n, dose and seed) is listed in ascending K, and each of its models but the first records
    in ``warm_from`` the key of the chain's previous K, whose trained weights it starts from. The
    first K of a chain is a cold start (the same model, and key, as in a cold sweep); the others'
    keys hash ``warm_from``, so they differ from the cold models'.

    ``hold`` (protocols 2 and 3): every target waits ``hold`` steps between its store and its recall, at
    every K: each dose ``(L, n_random)`` keeps its ``n_random`` random symbols and takes the delay
    ``L = hold − K − 2`` (:func:`rnnviz.tasks.delay_for_hold`) instead of its own L, so a curve over
    targeted bits is read at one hold rather than a hold that grows with K (docs/capacity_runs.md, "The
    hold-time pilot"). A model whose delay is the dose's own L is the fixed-delay grid's model (the same
    key). The doses must differ in ``n_random``, and the hold must leave every K room for them
    (``hold ≥ K + n_random + 2``); a ValueError names what does not fit. Not with ``warm_start``.
    """
    check_bool("warm_start", warm_start)
    if warm_start and protocol != 2:
        raise ValueError(f"warm_start needs protocol=2 (its models have the same shapes at every K), got "
                         f"protocol={protocol!r}")
    axes = grid(cells, hidden_sizes, targeted_bits, interfering, seeds, alphabet=alphabet, protocol=protocol)
    if hold is not None:
        check_held_doses(hold, axes.interfering, axes.n_targets, protocol=protocol, warm_start=warm_start)
    check_int("n_layers", n_layers, 1)
    check_int("n_test", n_test, 1)
    if train is not None and not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a rnnviz.train.TrainConfig or None, got {type(train).__name__}")
    train = train or TrainConfig()
    rates = learning_rates(axes.cells, lr, train.lr)
    trains = {c: replace(train, lr=rates[c]).settings("fit") for c in axes.cells}  # what a model's key hashes

    def spec(cell, n, interference, K, seed):
        if protocol == 1:
            L, kind = interference
            return ModelSpec(cell, n, alphabet, K, L, kind, seed, n_layers, trains[cell], n_test)
        L, n_random = interference
        if hold is not None:
            L = delay_for_hold(K, hold, protocol)
        kind = "blank" if n_random == 0 else "random" if n_random == L else "mixed"
        bias = PROTOCOL_2_FORGET_BIAS if cell in FORGET_GATE_CELLS else None
        return ModelSpec(cell, n, alphabet, K, L, kind, seed, n_layers, trains[cell], n_test, protocol=protocol,
                         n_random=n_random, forget_bias=bias)

    specs = [
        spec(cell, n, interference, K, seed)
        for cell in axes.cells
        for n in axes.hidden_sizes
        for interference in axes.interfering
        for K in (sorted(axes.n_targets) if warm_start else axes.n_targets)
        for seed in axes.seeds
    ]
    if not warm_start:
        return specs
    previous: dict[tuple, str] = {}  # chain -> key of its model at the previous K
    chained = []
    for s in specs:  # ascending K within each chain
        s = replace(s, warm_from=previous.get(s.chain))
        previous[s.chain] = s.key
        chained.append(s)
    return chained


def check_held_doses(hold, doses, n_targets, *, protocol: int, warm_start: bool = False) -> int:
    """``hold`` when a fixed-hold sweep (:func:`sweep_specs`' ``hold``) can hold every K of ``n_targets``
    with every dose ``(L, n_random)`` of ``doses``; a TypeError or ValueError naming what does not fit
    otherwise (a protocol without doses, a warm start, two doses of one ``n_random``, a hold too short)."""
    check_int("hold", hold, 1)
    if protocol not in DOSE_PROTOCOLS:
        raise ValueError(f"hold needs protocol 2 or 3 (doses of random symbols at a delay it sets), got "
                         f"protocol={protocol!r}")
    if warm_start:
        raise ValueError("hold and warm_start do not combine: a warm chain keeps one delay over its K")
    randoms = [n_random for _, n_random in doses]
    if len(set(randoms)) < len(randoms):
        raise ValueError(f"with hold={hold} a dose is its number of random symbols, and interfering={list(doses)} "
                         f"names some twice: give each n_random once")
    K, most = max(n_targets), max(randoms)
    if delay_for_hold(K, hold, protocol) < most:
        raise ValueError(f"hold={hold} is too short for {K} targets with {most} random symbols between them and "
                         f"their recall: a hold of at least {hold_steps(K, most, protocol)} steps")
    return hold


def group_specs(specs: Sequence[ModelSpec], max_group: int = 64) -> list[list[ModelSpec]]:
    """Split specs into ensembles of compatible models (same ``spec.group``), at most ``max_group`` each."""
    check_int("max_group", max_group, 1)
    groups: dict[tuple, list[ModelSpec]] = {}
    for s in specs:
        groups.setdefault(s.group, []).append(s)
    out = []
    for members in groups.values():
        out += [members[i : i + max_group] for i in range(0, len(members), max_group)]
    return out


def group_cost(group: Sequence[ModelSpec]) -> float:
    """A group's estimated training cost, steps × length × members × (n + 6) × layers (the budget of
    steps; measured on a CPU: a group's time grows about linearly in n from a fixed per-step cost), in
    arbitrary units: what :func:`longest_first` sorts by and :class:`~rnnviz.study._progress.SweepPace`
    weighs the groups by."""
    first = group[0]
    steps = first.train.get("steps", 1)
    length = max(s.task().length for s in group)
    return float(steps * length * len(group) * (first.hidden_size + 6) * first.n_layers)


class SweepProgress:
    """A sweep's progress heartbeat (:func:`rnnviz.study._progress.heartbeat` on ``bar``, when
    ``enabled``) with the time the whole sweep has left: :class:`~rnnviz.study._progress.SweepPace`
    over ``groups`` (every group the sweep will run, in order; specs with ``key``), weighed by
    :func:`group_cost`. Tell it each finished group's rows (:meth:`finished`)."""

    def __init__(self, bar, enabled: bool, groups: Sequence[Sequence]):
        self.bar, self.enabled = bar, enabled
        self.pace = SweepPace([group_cost(group) for group in groups])
        self._index = {s.key: i for i, group in enumerate(groups) for s in group}  # model -> its group

    def finished(self, rows: Sequence[dict]) -> None:
        """The rows of a finished group (one row per model, with its ``key``)."""
        if rows and rows[0]["key"] in self._index:
            self.pace.finished(self._index[rows[0]["key"]])

    def heartbeat(self, offset: int = 0) -> Callable:
        """``while_running`` for a runner of the groups from ``offset`` on (a sweep in waves runs each
        wave's groups as payloads 0, 1, …): ``status -> heartbeat(...)``."""
        return lambda status: heartbeat(self.bar, enabled=self.enabled, status=status,
                                        sweep_left=lambda groups, now: self.pace.left(groups, now, offset))


def longest_first(groups: Sequence[Sequence[ModelSpec]]) -> list[Sequence[ModelSpec]]:
    """The groups in descending order of :func:`group_cost`, so that parallel workers take the long
    groups first and finish together (the longest-processing-time rule); groups of equal cost keep
    their order."""
    return sorted(groups, key=group_cost, reverse=True)


_INIT_LOCK = threading.Lock()


def train_group(
    specs: Sequence[dict], device: str = "cpu", threads: int | None = 1, progress: bool = False,
    weights: str | None = None, checkpoints: str | None = None, stop_at: float | None = None,
    report_to: Sequence[str] | None = None,
) -> list[dict]:
    """Train one group of compatible models as an ensemble and evaluate each; returns one row per model.

    ``specs``: ``ModelSpec.as_dict()`` dicts (plain data, so a Dask worker can receive them).
    ``threads``: torch CPU threads for this work (1 is fastest for small models and leaves the other
    cores to other workers; None leaves torch's setting alone). Each model's initial weights and data
    come from seeds derived from its own configuration (see :class:`ModelSpec`).

    ``weights``: a folder of trained weights (:mod:`rnnviz.study._weights`), needed when a model has a
    ``warm_from``: such a model starts from ``weights/<warm_from>.pt`` (FileNotFoundError when it is
    missing) instead of its seeded initial weights. With a folder, every model's trained weights are
    written there as ``<key>.pt`` (a diverged model's too: a warm successor of it then diverges at
    its first evaluation, and says so).

    ``checkpoints``: a folder where the group's training is checkpointed
    (:mod:`rnnviz.study._checkpoints`: every :data:`GROUP_CHECKPOINT_EVERY` steps and at the end) and
    resumed from, when a checkpoint of this group is there; one that another run wrote is replaced,
    with a warning. The caller deletes it once the rows are stored (:func:`drop_group_checkpoint`).
    ``train_seconds`` then counts the training before the interruption too. ``stop_at`` (a
    ``time.time()``; only with ``checkpoints``): past it, the group stops at its next checkpoint and
    :class:`~rnnviz.train.TrainingPaused` is raised (the next run resumes it).

    ``report_to``: on a Dask worker, the path in the scheduler's metadata where the group reports its
    steps (:func:`rnnviz.study._progress.dask_reporter`); else they go to the worker pool's shared
    memory, when this runs in one of its processes (:func:`rnnviz.study._progress.report`).
    """
    if not specs:
        raise ValueError("specs must hold at least one model (ModelSpec.as_dict() dicts), got none")
    if threads is not None:
        torch.set_num_threads(check_int("threads", threads))
    device = resolve_device(device)  # "auto" resolves where the group trains (a Dask worker)
    specs = [ModelSpec(**s) for s in specs]
    if weights is None and any(s.warm_from for s in specs):
        raise ValueError("specs hold warm-started models (warm_from): train_group needs the weights folder")
    # one task object per distinct task (a task is its config): fit scores the members that share one together
    shared: dict[str, object] = {}
    tasks = [shared.setdefault(json.dumps(t.config(), sort_keys=True), t) for t in (s.task() for s in specs)]
    first = specs[0]
    singles = []
    # Building a model draws from torch's global generator (cells initialise their weights with it;
    # stack() and member() build and then overwrite). Every build here holds _INIT_LOCK, so groups
    # trained in threads of one process (Dask with processes=False) cannot disturb each other's seeds.
    for s in specs:
        with _INIT_LOCK, torch.random.fork_rng(devices=[]):
            torch.manual_seed(s.derived_seed("init"))
            singles.append(
                SequenceModel(
                    s.cell, tasks[0].input_size, s.hidden_size, tasks[0].output_size, n_layers=s.n_layers,
                    cell_options=s.cell_options(),
                )
            )
        if s.warm_from:  # the seeded init above still runs: the global generator stays as it was
            singles[-1].load_state_dict(load_weights(weights, s.warm_from))
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        model = SequenceModel.stack(singles).to(device)
    config = TrainConfig(**first.train)
    result = fit_group(model, tasks, config, keys=[s.key for s in specs], name=describe_group([s.as_dict() for s in specs]),
                       checkpoints=checkpoints, every=GROUP_CHECKPOINT_EVERY, stop_at=stop_at,
                       data_seed=[s.derived_seed("data") for s in specs],
                       eval_seed=[s.derived_seed("eval") for s in specs], progress=progress,
                       **({} if report_to is None else {"on_progress": dask_reporter(report_to)}))
    seconds = result.seconds
    rows = []
    finished = utc_now()
    env = json.dumps(versions(), sort_keys=True)
    for i, (s, task) in enumerate(zip(specs, tasks, strict=True)):
        diverged = result.diverged[i]
        with _INIT_LOCK, torch.random.fork_rng(devices=[]):
            member = model.member(i)
        if weights is not None:
            save_weights(weights, s.key, member.state_dict())
        if not diverged:
            sc = held_out_scores(member, task, s)
            diverged = not math.isfinite(float(sc["loss"]))  # finite weights, non-finite outputs
        if diverged:  # no scores: a NaN network's argmax (class 0) would read as a plausible accuracy
            sc = _diverged_scores(task)
        rows.append(
            {
                "key": s.key,
                "cell": s.cell,
                "hidden_size": s.hidden_size,
                "n_layers": s.n_layers,
                "alphabet": s.alphabet,
                "n_targets": s.n_targets,
                "n_interfering": s.n_interfering,
                "interference": s.interference,
                "n_random": task.n_random,
                "targeted_bits": task.targeted_bits,
                "interfering_bits": task.interfering_bits,
                "seed": s.seed,
                "protocol": protocol_name(s.protocol, s.train.get("curriculum")),
                "accuracy": _number(sc["accuracy"]),
                "loss": _number(sc["loss"]),
                "recalled_bits": _number(sc["recalled_bits"]),
                "recalled_bits_plugin": _number(sc["recalled_bits_plugin"]),
                "recalled_bits_total_clamp": _number(sc["recalled_bits_total_clamp"]),
                "recalled_bits_ce_bound": _number(sc["recalled_bits_ce_bound"]),
                "mi_correction": s.mi_correction or "none",
                "accuracy_per_position": json.dumps([_number(a, 6) for a in sc["accuracy_per_position"]]),
                "recalled_bits_per_position": json.dumps([_number(b, 6) for b in sc["recalled_bits_per_position"]]),
                "reached_target": int(result.reached[i]),
                "stop_reason": "diverged" if diverged else result.stop_reason[i],
                "steps": int(result.stopped_at[i]),
                "n_parameters": model.input_and_cell_parameters,
                "n_parameters_total": model.total_parameters,
                "train_seconds": seconds / len(specs),
                "group_seconds": seconds,
                "group_size": len(specs),
                "device": device_name(device),
                "versions": env,
                "config": json.dumps(s.as_dict(), sort_keys=True),
                "finished_at": finished,
            }
        )
    return rows


def _diverged_scores(task) -> dict:
    """What a diverged model's row holds in place of scores: no number (NULL in the store, NaN in frames)."""
    return {"accuracy": None, "loss": None, "recalled_bits": None, "recalled_bits_plugin": None,
            "recalled_bits_total_clamp": None, "recalled_bits_ce_bound": None, "accuracy_per_position": [None] * task.n_targets, "recalled_bits_per_position": [None] * task.n_targets}


def _number(value, digits: int | None = None) -> float | None:
    """A score as a float (rounded to ``digits``), or None for none or a non-finite value."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return value if digits is None else round(value, digits)


def held_out_scores(model: SequenceModel, task, spec: ModelSpec) -> dict:
    """Scores of one trained model on its ``spec.n_test`` held-out sequences (seeded by its key).

    One member at a time keeps memory at ``(T, n_test, ·)`` instead of ``(E, T, n_test, ·)``.
    """
    generator = torch.Generator().manual_seed(spec.derived_seed("test"))
    inputs, targets, mask = task.sample(spec.n_test, generator, model.readout_weight.device)
    model.eval()
    with torch.no_grad():
        return task.score(model(inputs), targets, mask, correction=spec.mi_correction)


def capacity(
    cells: Sequence[str],
    hidden_sizes: Sequence[int],
    targeted_bits: Sequence[float],
    interfering: Sequence,
    seeds: Sequence[int],
    *,
    alphabet: int = 4,
    n_layers: int = 1,
    train: TrainConfig | None = None,
    n_test: int = 2000,
    protocol: int = 1,
    lr: float | Mapping[str, float] | None = None,
    store: str | Store | None = None,
    device: str = "auto",
    client=None,
    scheduler: str | None = None,
    threads: int | None = 1,
    workers: int = 1,
    max_group: int = 64,
    progress: bool = True,
    on_group: Callable[[list[dict]], None] | None = None,
    time_limit: float | None = None,
    hard_limit: float | None = None,
    warm_start: bool = False,
    hold: int | None = None,
    checkpoints: str | Path | None = None,
) -> pd.DataFrame:
    """Train every model of a memorization-capacity sweep and return one row per model.

    Args:
        cells: names from ``rnnviz.cells.names()``.
        hidden_sizes: hidden sizes n.
        targeted_bits: targeted information I_T in bits; each a multiple of log2(alphabet)
            (K = I_T / log2 A symbols to memorise).
        interfering: interference settings, each ``(L, "blank"|"random")`` under protocol 1, or a
            dose ``(L, n_random)`` under protocol 2 (``n_random`` of the L delay steps random).
        seeds: replicate seeds; a model's weights and data come from its whole configuration.
        alphabet, n_layers, train, n_test: task alphabet, stacked cells, training settings,
            held-out sequences per model for the final metrics. With ``train.plateau`` set each
            model trains until its validation recalled bits plateau (``train.steps`` is the budget).
        protocol: the memorization protocol, 1 (default) or 2 (see docs/capacity.md).
        lr: learning rates per cell (``{"lstm": 1e-2, ...}``, others use ``train.lr``) or one for all.
        store: a path to the SQLite store (or a writable :class:`Store`; None: in memory). Models
            already in it are skipped; each finished group is committed at once. The store is
            checked, and locked against other sweeps, before anything trains; a file that is not a
            current rnnviz store raises :class:`StoreError` (an older one names the command that
            upgrades it).
        device: "auto" (default: CUDA when available, else the CPU; resolved where each group
            trains), "cpu", "cuda", ….
            threads: torch CPU threads per group (see :func:`train_group`).
        client / scheduler: a ``dask.distributed.Client`` or a scheduler address; groups then run
            as tasks on the cluster (results are the same as locally). A group whose Dask worker dies
            on every attempt Dask makes (``KilledWorker``) is reported by :class:`WorkersFailed` after
            the others are committed, as with local workers. With ``checkpoints`` (a folder every
            worker can read and write) the groups are checkpointed there, so a group Dask retries
            after its worker died resumes from its last checkpoint, and ``hard_limit`` works.
        workers: local processes that train groups in parallel (1: in this process). A worker that
            dies (the out-of-memory killer) costs only its group, which is retried once in a fresh
            worker; a group that fails twice is reported by :class:`WorkersFailed` after the others
            are committed. No worker outlives the sweep (see docs/capacity.md, "Interrupting a sweep").
        max_group: most models per ensemble. on_group: called with the rows of each committed group.
        time_limit: seconds after which no further group is started (the first always is); groups
            in flight finish and are committed, the rest stay for the next run (which resumes). For jobs with a wall-time
            limit (a batch scheduler, a lent GPU). None: no limit.
        hard_limit: seconds after which the groups in flight stop too, each at its next checkpoint
            (at most :data:`GROUP_CHECKPOINT_EVERY` steps later); the next run resumes them from
            there. At least ``time_limit`` (which defaults to it). Needs somewhere to keep the
            checkpoints: a file store (they live next to it) with local workers, or ``checkpoints``.
            The stop time is wall-clock time (``time.time()``), which a cluster's machines must
            share (NTP). None: groups in flight finish.
        warm_start: protocol 2 only: train each (cell, n, dose, seed) chain in ascending K, each
            model from the trained weights of the chain's previous K (see :func:`sweep_specs`).
            The groups of one K train together (ensembles as usual), one K after another.
            Weights go to ``<store>.weights/<key>.pt`` (a temporary folder for an in-memory store;
            a Dask cluster's workers must share the store's folder). A resumed sweep continues its
            chains from there; a finished predecessor whose weights file is missing is trained again
            (same seeds; its stored row is kept) before its successor.
        hold: protocols 2 and 3: every target waits this many steps at every K (each dose keeps its
            random symbols and takes the delay hold − K − 2; see :func:`sweep_specs`).
        checkpoints: the folder of the groups' checkpoints (:mod:`rnnviz.study._checkpoints`; every
            :data:`GROUP_CHECKPOINT_EVERY` steps, deleted once a group's rows are stored). None
            (default): ``<store>.checkpoints`` next to a file store for local workers; nothing on a
            Dask cluster (its workers may not see the store's folder) or with an in-memory store.

    Arguments are checked before anything trains (see :func:`sweep_specs`); a grid's duplicate
    entries are merged with a warning, and each model is trained and counted once.

    Returns:
        The rows of this sweep finished so far (earlier or now) as a DataFrame; see ``Store`` for
        columns. ``rows.attrs["n_planned"]`` is the size of the whole sweep; fewer rows than that
        means the time limit stopped it.
    """
    check_int("workers", workers, 1)
    check_int("max_group", max_group, 1)
    check_optional_int("threads", threads)
    time_limit, hard_limit = check_limits(time_limit, hard_limit)
    distributed = client is not None or scheduler is not None
    if checkpoints is not None and not isinstance(checkpoints, (str, Path)):
        raise TypeError(f"checkpoints must be a folder path (str or Path) or None, got {type(checkpoints).__name__}")
    check_folder("checkpoints", checkpoints)
    if hard_limit is not None and checkpoints is None:
        if distributed:
            raise ValueError("hard_limit on a Dask cluster needs checkpoints=<a folder every worker shares>: "
                             "groups stopped in flight resume from their checkpoints")
        if store is None or (isinstance(store, Store) and store.path == ":memory:") or store == ":memory:":
            raise ValueError("hard_limit needs a file store or checkpoints=<folder>: groups stopped in flight "
                             "resume from checkpoints kept next to the store")
    stop_at = None if hard_limit is None else time.time() + hard_limit
    if client is None and scheduler is None:
        available_device(device)  # an unknown or absent device fails here; a cluster's workers resolve their own
    deadline = None if time_limit is None else time.monotonic() + time_limit
    specs = sweep_specs(
        cells,
        hidden_sizes,
        targeted_bits,
        interfering,
        seeds,
        alphabet=alphabet,
        n_layers=n_layers,
        train=train,
        n_test=n_test,
        protocol=protocol,
        lr=lr,
        warm_start=warm_start,
        hold=hold,
    )
    own = not isinstance(store, Store)
    db = Store(":memory:" if store is None else store) if own else store
    if db.read_only:
        raise StoreError(db.path, "opened read-only: a sweep needs a writable store")
    scratch = None
    try:
        keys = [s.key for s in specs]
        done = db.finished(keys)
        todo = [s for s in specs if s.key not in done]
        folder = None
        if warm_start:
            if db.path == ":memory:":
                scratch = tempfile.TemporaryDirectory(prefix="rnnviz-weights-")
                folder = scratch.name
            else:
                folder = str(weights_dir(db.path))
            todo = with_missing_predecessors(specs, todo, folder)
        bar = tqdm(
            total=len(specs),
            initial=len(specs) - sum(s.key not in done for s in todo),
            desc="capacity models",
            disable=not progress,
            dynamic_ncols=True,
        )

        checkpoints = sweep_checkpoints(db.path, checkpoints, distributed)

        waves = planned_waves(todo, max_group, warm_start=warm_start, parallel=distributed or workers > 1)
        sweep = SweepProgress(bar, progress, [group for groups in waves for group in groups])

        def commit(rows):
            db.add(rows)
            drop_group_checkpoint(checkpoints, [r["key"] for r in rows])  # stored: its checkpoint is spent
            bar.update(sum(r["key"] not in done for r in rows))
            sweep.finished(rows)
            if on_group is not None:
                on_group(rows)

        started = paused = False
        offset = 0
        for groups in waves:
            if paused or (started and _past(deadline)):
                break
            payloads = [[s.as_dict() for s in g] for g in groups]
            if distributed:
                paused = run_on_dask(payloads, train_group, (device, threads, False, folder, checkpoints, stop_at),
                                     client, scheduler, commit, describe_group, lambda: _past(deadline),
                                     sweep.heartbeat(offset))
            elif workers > 1 and len(payloads) > 1:  # the heartbeat (a thread) starts after the forks
                _run_processes(payloads, device, threads, min(workers, len(payloads)), commit, deadline, folder,
                               sweep.heartbeat(offset), checkpoints, stop_at)
            else:
                for i, payload in enumerate(payloads):
                    if (i or started) and _past(deadline):
                        break
                    try:
                        commit(train_group(payload, device, threads, progress=progress, weights=folder,
                                           checkpoints=checkpoints, stop_at=stop_at))
                    except TrainingPaused:  # the hard limit: the next run resumes it
                        paused = True
                        break
            started = True
            offset += len(groups)
        bar.close()
        remove_if_empty(checkpoints)  # every group stored: no folder of checkpoints left behind
        rows = db.frame(keys)
        rows.attrs["n_planned"] = len(specs)
        return rows
    finally:
        if own:
            db.close()
        if scratch is not None:
            scratch.cleanup()


def with_missing_predecessors(specs: Sequence[ModelSpec], todo: Sequence[ModelSpec], folder) -> list[ModelSpec]:
    """``todo`` plus every warm predecessor it needs whose weights are not in ``folder`` (again for
    theirs), in the order of ``specs``: a finished model whose weights file is missing is trained again."""
    by_key = {s.key: s for s in specs}
    needed = {s.key for s in todo}
    stack = list(todo)
    while stack:
        before = stack.pop().warm_from
        if before and before not in needed and not has_weights(folder, before):
            needed.add(before)
            stack.append(by_key[before])
    return [s for s in specs if s.key in needed]


def sweep_checkpoints(store: str | Path, checkpoints: str | Path | None, distributed: bool) -> str | None:
    """The folder a sweep checkpoints its groups in flight to: ``checkpoints`` when given, else next to a
    file ``store`` (``<store>.checkpoints``) for local workers only (a Dask cluster's workers may not see
    the store's folder); None (no checkpoints) for an in-memory store or a cluster without one."""
    if checkpoints is not None:
        return str(checkpoints)
    if str(store) != ":memory:" and not distributed:
        return str(checkpoints_dir(store))
    return None


def planned_waves(todo: Sequence[ModelSpec], max_group: int = 64, *, warm_start: bool = False,
                  parallel: bool = False) -> list[list[Sequence[ModelSpec]]]:
    """The groups a sweep trains ``todo`` in, wave by wave (:func:`warm_waves` for a warm-started sweep,
    else one wave), each wave's groups in the order they start: :func:`group_specs`, and with
    ``parallel`` workers (or a Dask cluster) :func:`longest_first`, so that they finish together."""
    waves = [group_specs(wave, max_group) for wave in (warm_waves(todo) if warm_start else [todo])]
    return [longest_first(groups) for groups in waves] if parallel else waves


def warm_waves(specs: Sequence[ModelSpec]) -> list[list[ModelSpec]]:
    """Warm-sweep models in waves of ascending K (each in the order of ``specs``): a chain's
    predecessors have smaller K, so each wave trains after the ones its models start from are
    committed, and the models of one K still share ensembles."""
    waves: dict[int, list[ModelSpec]] = {}
    for s in specs:
        waves.setdefault(s.n_targets, []).append(s)
    return [waves[k] for k in sorted(waves)]


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _run_processes(payloads, device, threads, workers, commit, deadline=None, weights=None,
                   while_running=lambda status: nullcontext(), checkpoints=None, stop_at=None) -> None:
    """Train groups in ``workers`` local processes (:mod:`rnnviz.study._workers`: forked or spawned,
    stopped with the sweep, a dead worker's group retried once); commit each group as it finishes;
    ``while_running(status)`` (the progress heartbeat; ``status()`` lists the groups in flight) runs
    while they do."""
    run_in_processes(payloads, train_group, (device, threads, False, weights, checkpoints, stop_at), workers, commit,
                     describe_group, lambda: _past(deadline), while_running=while_running, threads=threads,
                     paused=(TrainingPaused,))


def describe_group(payload: Sequence[dict]) -> str:
    """``"gru n=4 16 bits (6 models)"``: a group of ``ModelSpec.as_dict()`` dicts, for messages and the
    progress bar (targeted bits as a range, ``"2-16 bits"``, when its models target several amounts)."""
    first = payload[0]
    bits = sorted({s["n_targets"] * math.log2(s["alphabet"]) for s in payload})
    amount = f"{bits[0]:g}" if len(bits) == 1 else f"{bits[0]:g}-{bits[-1]:g}"
    return (f"{first['cell']} n={first['hidden_size']} {amount} bits "
            f"({len(payload)} model{'s' if len(payload) != 1 else ''})")

"""Comparing cells as character language models: at equal hidden size, parameter count or state size.

``language_model(["pru", "gru", "lstm"], hidden_size=128, out="out/lm", seeds=(0, 1, 2))`` trains one
model per cell and seed and returns one row per model; ``parameter_budget=100_000`` instead gives each
cell the hidden size whose model comes closest to that many parameters, ``state_size=128`` the one
whose cell carries 128 numbers of state. Results are appended to ``out/lm.csv`` (learning curves to
``out/lm_curves.csv``, weights to ``out/checkpoints/``) after every model, so an interrupted study
resumes where it stopped; the run in flight is checkpointed every :data:`RUN_CHECKPOINT_EVERY` steps
(``out/checkpoints/in_flight/<run_id>.{pt,json}``, deleted once the run is stored), so it loses at most
that many steps, and ``pause_at`` stops it at its next checkpoint. :class:`LMPreset` bundles
comparisons, seeds, per-cell learning rates and the pilot that chose them (:meth:`LMPreset.pilot`).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch

from .. import cells as _cells
from .._checks import check_int, check_limits, check_positive, check_time_limit
from .._files import write_text_atomically
from ..cells import count_parameters
from ..tasks import CharCorpus
from ..train import (
    LM_TRAIN,
    CharLM,
    CheckpointMismatch,
    LMConfig,
    TrainConfig,
    TrainingPaused,
    checkpoint_metadata,
    delete_checkpoint,
    evaluate_bpc,
    hidden_size_for_budget,
    hidden_size_for_state,
    load_checkpoint,
    save_checkpoint,
    train_lm,
)
from ._plan import checkpoint_step
from ._presets import pick
from ._provenance import device_name, resolve_device, versions

RESULTS_FILE = "lm.csv"
CURVES_FILE = "lm_curves.csv"


def _check_cells(cells) -> list[str]:
    if isinstance(cells, str):
        cells = [cells]
    cells = list(cells)
    if not cells:
        raise ValueError("cells must name at least one cell")
    unknown = [c for c in cells if c not in _cells.names()]
    if unknown:
        raise ValueError(f"cells must be names from {list(_cells.names())}, got unknown {unknown!r}")
    return cells


def _write_replacing(path: Path, new: pd.DataFrame, key=("run_id",)) -> None:
    """Append ``new`` to the CSV at ``path``, dropping older rows with the same ``key`` columns; atomic."""
    key = list(key)
    if path.is_file():
        old = pd.read_csv(path)
        if set(key) <= set(old.columns):
            same = old[key].astype(str).apply(tuple, axis=1).isin(set(new[key].astype(str).apply(tuple, axis=1)))
            old = old[~same]
        new = pd.concat([old, new], ignore_index=True) if len(old) else new
    write_text_atomically(path, new.to_csv(index=False))


def _settings(config: LMConfig, train: TrainConfig, corpus: CharCorpus) -> dict:
    return {"model": config.to_dict(), "train": train.settings("tbptt"),
            "corpus": {"chars": len(corpus.text), "splits": {s: len(corpus.ids(s)) for s in corpus.SPLITS}}}


# rnnviz 0.1 recorded the language model's training settings under other names, always with a cosine schedule
_OLD_TRAIN_NAMES = {"warmup_steps": "warmup", "eval_batch_size": "eval_batch"}


def _upgraded(settings):
    """Settings recorded by rnnviz 0.1 under today's names (others unchanged), so its runs resume."""
    train = settings.get("train") if isinstance(settings, dict) else None
    if not isinstance(train, dict) or not _OLD_TRAIN_NAMES.keys() & train.keys():
        return settings
    train = {"schedule": "cosine", **{_OLD_TRAIN_NAMES.get(k, k): v for k, v in train.items()}}
    return {**settings, "train": train}


def _finished_run(out: Path, names: list[str], settings: dict) -> dict | None:
    """The row of the first of ``names`` (a run's name, then older names of the same run) saved in
    ``out`` with the same settings; raise if it was trained with other settings.

    A run is finished once its checkpoint's JSON exists (it is written last); the row is read from
    it, and from ``lm.csv`` for runs of rnnviz 0.1, whose checkpoints did not hold it.
    """
    for name in names:
        ckpt = out / "checkpoints" / name
        if not ckpt.with_name(name + ".json").is_file():
            continue
        metadata = checkpoint_metadata(ckpt)
        saved = _upgraded(metadata.get("settings"))
        if saved != json.loads(json.dumps(settings)):
            raise ValueError(f"{out} already holds run {name!r} trained with other settings; use another out "
                             f"folder, delete {ckpt}.*, or pass resume=False to retrain it")
        row = metadata.get("result")
        if not isinstance(row, dict):
            results = out / RESULTS_FILE
            rows = pd.read_csv(results) if results.is_file() else pd.DataFrame(columns=["run_id"])
            rows = rows[rows["run_id"] == name]
            if rows.empty:
                continue
            row = rows.iloc[-1].to_dict()
        return {k: v for k, v in row.items() if k not in ("comparison", "compared_at", "parameter_budget")}
    return None


COMPARISONS = ("hidden_size", "parameters", "state_size")


@dataclass(frozen=True)
class _Run:
    """One model of a study: its name (and older names of the same run), configuration, training
    settings, and the settings its checkpoint records (what a finished run must match to be reused)."""

    names: tuple[str, ...]
    config: LMConfig
    train: TrainConfig
    settings: dict

    @property
    def name(self) -> str:
        return self.names[0]


def _run_of(cell: str, n: int, seed: int, comparison: str, compared_at: int, corpus: CharCorpus,
            train: TrainConfig, rates: dict, embedding_size: int | None, dropout: float) -> _Run:
    """The :class:`_Run` of ``cell`` at n units and ``seed`` in a comparison (its rate from ``rates``)."""
    config = LMConfig(cell, n, corpus.vocab.chars, embedding_size=embedding_size, dropout=dropout)
    run_train = replace(train, seed=seed, lr=rates[cell])
    legacy = (f"{cell}-p{compared_at}",) if comparison == "parameters" and seed == 0 else ()
    return _Run((run_id(cell, n, seed), *legacy), config, run_train, _settings(config, run_train, corpus))


def run_status(out: Path, run: _Run) -> tuple[str, int]:
    """What :func:`language_model` would do with ``run`` in the folder ``out`` (read, not written):
    ``("done", 0)`` (its checkpoint holds it with the same settings: reused), ``("other settings", 0)``
    (it holds it trained otherwise: the study stops with an error naming it), ``("resumes", step)``
    (a checkpoint of it in flight, written at ``step``; one of other settings would be discarded when
    the run starts) or ``("to train", 0)``. Checkpoints are read as data (their JSON side files)."""
    try:
        done = _finished_run(out, list(run.names), run.settings)
    except ValueError:
        return "other settings", 0
    if done is not None:
        return "done", 0
    step = checkpoint_step(out / "checkpoints" / IN_FLIGHT / run.name)
    return ("resumes", step) if step else ("to train", 0)


def run_id(cell: str, hidden_size: int, seed: int = 0) -> str:
    """The name of one trained model of a study: ``"<cell>-n<n>"``, with ``"-s<seed>"`` for seeds > 0.

    A model is named by what it is, not by the comparison it serves: the same cell at the same size
    and seed is one run, used by every comparison that asks for it (and trained once).
    """
    return f"{cell}-n{hidden_size}" + (f"-s{seed}" if seed else "")


def _size_for(comparison: str, value: int, cell: str, vocab_size: int, embedding_size: int | None) -> int:
    if comparison == "hidden_size":
        return value
    if comparison == "parameters":
        return hidden_size_for_budget(cell, value, vocab_size, embedding_size=embedding_size)
    return hidden_size_for_state(cell, value)


def _lr_for(cell: str, learning_rates, default: float) -> float:
    if learning_rates is None:
        return default
    rates = dict(learning_rates)
    unknown = sorted(set(rates) - set(_cells.names()))
    if unknown:
        raise ValueError(f"learning_rates must map cell names to learning rates, got unknown cells {unknown}")
    return check_positive(f"learning_rates[{cell!r}]", rates[cell]) if cell in rates else default


def language_model(cells=("pru", "gru", "lstm"), hidden_size: int | None = None,
                   parameter_budget: int | None = None, state_size: int | None = None, *, out,
                   corpus: CharCorpus | None = None, train: TrainConfig | None = None, seeds=(0,),
                   learning_rates=None, embedding_size: int | None = None, dropout: float = 0.0,
                   device="auto", resume: bool = True, progress: bool = True,
                   deadline: float | None = None, on_run: Callable[[dict], None] | None = None,
                   pause_at: float | None = None) -> pd.DataFrame:
    """Train a :class:`CharLM` per cell and seed on ``corpus`` and score it in bits per character.

    Give exactly one of (the comparison):

    - ``hidden_size=n``: every cell gets n units ("equal hidden size"; the LSTM-family cells lstm,
      irc_lstm and ihc_lstm then carry a flat state [h; c] of 2n numbers);
    - ``parameter_budget=P``: every cell gets the n whose whole model (embedding + cell + readout)
      has the parameter count closest to P ("equal parameter count");
    - ``state_size=S``: every cell carries S numbers of state (n = S for most cells, S/2 for the
      LSTM family: :func:`rnnviz.train.hidden_size_for_state`; "equal state size").

    A model is one run (:func:`run_id`: cell, n, seed), whichever comparison asked for it: a run
    already finished in ``out`` with the same settings is reused, so two comparisons that give a
    cell the same n share one trained model (each still gets its row).

    The test and valid scores are those of the best checkpoint: :func:`rnnviz.train.train_lm` keeps
    the weights of the evaluation with the lowest valid bpc (with ``train.eval_chars=None`` that is
    the whole valid split). With ``train.plateau`` set, each model trains until its valid bpc stops
    improving (the rule of :class:`rnnviz.train.PlateauRule`), ``train.steps`` being the budget.

    Args:
        cells: names from ``rnnviz.cells.names()``.
        out: folder for ``lm.csv``, ``lm_curves.csv`` and ``checkpoints/<run_id>.{pt,json}``.
        corpus: a :class:`CharCorpus`; the whole of ``data/tinyshakespeare.txt`` when None.
        train: training settings (a :class:`~rnnviz.train.TrainConfig`; its ``tbptt`` fields are
            read and recorded); :data:`rnnviz.train.LM_TRAIN` when None. Its ``seed`` is replaced by
            each of ``seeds``, its ``lr`` by the cell's entry of ``learning_rates``.
        seeds: seeds of the initial weights and dropout, one model per seed (integers >= 0).
        learning_rates: ``{cell: lr}`` for cells that train at another rate than ``train.lr``.
        embedding_size: None ties it to each model's hidden size (needed by IRC/IHC cells).
        dropout: dropout of the embedding and the cell output while training.
        device: "auto" (CUDA when available, else the CPU), "cpu", "cuda", …
        resume: reuse finished runs found in ``out`` (same settings), retrain otherwise.
        progress: show tqdm progress bars.
        deadline: a ``time.monotonic()`` value after which no new run starts (runs finished earlier
            are still reported; the next call resumes with the rest). None: no limit.
        pause_at: a ``time.monotonic()`` value after which the run in flight stops too, at its next
            checkpoint (every :data:`RUN_CHECKPOINT_EVERY` steps), and no other starts; the next call
            resumes it from there. ``rows.attrs["paused"]`` then names it. None: no limit.
        on_run: called with the row of each model trained by this call (not with reused ones).

    Returns:
        One row per cell and seed: run_id, cell, comparison ("hidden_size", "parameters" or
        "state_size"), compared_at (the n, P or S of the comparison), hidden_size, embedding_size,
        state_size, n_parameters, parameter_budget, seed, lr, test_bpc and valid_bpc (whole splits, at
        the best checkpoint), best_valid_bpc (the best evaluation during training) and best_step,
        train_bpc (mean over the last evaluation interval), unigram_bpc (test split, train unigram),
        steps (run), stop_reason ("plateau", "budget", or "diverged": then the bpc are NaN),
        last_fifth_gain (relative gain of the best valid bpc over the last fifth of the steps),
        batch_size, seq_len, train_seconds, device, torch, versions (JSON:
        :func:`rnnviz.study.versions`), checkpoint.
    """
    cells = _check_cells(cells)
    sizes = {"hidden_size": hidden_size, "parameters": parameter_budget, "state_size": state_size}
    given = {k: v for k, v in sizes.items() if v is not None}
    if len(given) != 1:
        raise ValueError("give exactly one of hidden_size, parameter_budget and state_size, got "
                         f"hidden_size={hidden_size!r}, parameter_budget={parameter_budget!r}, "
                         f"state_size={state_size!r}")
    (comparison, compared_at), = given.items()
    check_int({"parameters": "parameter_budget"}.get(comparison, comparison), compared_at)
    seeds = _check_seeds(seeds)
    corpus = CharCorpus() if corpus is None else corpus
    if not isinstance(corpus, CharCorpus):
        raise TypeError(f"corpus must be a CharCorpus, got {type(corpus).__name__}")
    train = LM_TRAIN if train is None else train
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    rates = {cell: _lr_for(cell, learning_rates, train.lr) for cell in cells}
    if out is None:
        raise ValueError("out must be a folder for the results and checkpoints, got None")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    V = corpus.vocab_size
    unigram = corpus.unigram_bpc("test")
    rows, paused = [], None
    for cell in cells:
        n = _size_for(comparison, compared_at, cell, V, embedding_size)
        for seed in seeds:
            run = _run_of(cell, n, seed, comparison, compared_at, corpus, train, rates, embedding_size, dropout)
            done = _finished_run(out, list(run.names), run.settings) if resume else None
            if done is None:
                if paused is not None or (deadline is not None and time.monotonic() >= deadline):
                    continue
                try:
                    done = _train_run(out, run.name, run.config, run.train, corpus, dev, run.settings, progress,
                                      unigram, pause_at)
                except TrainingPaused:
                    paused = run.name
                    continue
                if on_run is not None:
                    on_run({**done, "comparison": comparison, "compared_at": compared_at})
            row = {**done, "comparison": comparison, "compared_at": compared_at,
                   "parameter_budget": compared_at if comparison == "parameters" else None}
            _write_replacing(out / RESULTS_FILE, pd.DataFrame([row]), key=("comparison", "run_id"))
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["paused"] = paused
    return frame


def _check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be an iterable of integers >= 0, got {seeds!r}")
    seeds = tuple(dict.fromkeys(check_int(f"seeds[{i}]", s, 0) for i, s in enumerate(seeds)))
    if not seeds:
        raise ValueError("seeds must name at least one seed, got none")
    return seeds


def _train_run(out: Path, name: str, config: LMConfig, train: TrainConfig, corpus: CharCorpus, dev,
               settings: dict, progress: bool, unigram: float, pause_at: float | None = None) -> dict:
    """Train one model (resuming its checkpoint in flight, if any), score its best checkpoint, and save
    curve, weights and row (the JSON last); then delete the checkpoint in flight. Raises
    :class:`~rnnviz.train.TrainingPaused` when ``pause_at`` (monotonic time) has passed at a checkpoint."""
    torch.manual_seed(train.seed)
    model = CharLM(config, device=dev)
    partial = out / "checkpoints" / IN_FLIGHT / name  # a folder of its own: no name beside the finished runs'
    pause_when = None if pause_at is None else (lambda: time.monotonic() >= pause_at)
    options = {"progress": progress, "description": name, "checkpoint": partial,
               "checkpoint_every": RUN_CHECKPOINT_EVERY, "pause_when": pause_when}
    try:
        curve = train_lm(model, corpus, train, **options)
    except CheckpointMismatch as err:  # another run's (other settings): start this one afresh
        warnings.warn(f"{err}; training {name} from scratch", stacklevel=2)
        delete_checkpoint(partial)
        torch.manual_seed(train.seed)
        model = CharLM(config, device=dev)
        curve = train_lm(model, corpus, train, **options)
    stop_reason = curve.attrs["stop_reason"]
    scores = ({split: math.nan for split in ("valid", "test")} if stop_reason == "diverged" else
              {split: evaluate_bpc(model, corpus, split, batch_size=train.eval_batch,
                                   seq_len=train.eval_seq_len) for split in ("valid", "test")})
    row = {"run_id": name, "cell": config.cell, "hidden_size": config.hidden_size,
           "embedding_size": config.embedding_dim, "state_size": model.state_size,
           "n_parameters": count_parameters(model), "seed": train.seed, "lr": train.lr,
           "test_bpc": scores["test"], "valid_bpc": scores["valid"],
           "best_valid_bpc": curve.attrs["best_valid_bpc"], "best_step": curve.attrs["best_step"],
           "train_bpc": float(curve["train_bpc"].iloc[-1]), "unigram_bpc": unigram,
           "steps": int(curve["step"].iloc[-1]), "stop_reason": stop_reason,
           "last_fifth_gain": curve.attrs["last_fifth_gain"],
           "batch_size": train.batch_size, "seq_len": train.seq_len,
           "train_seconds": float(curve["seconds"].iloc[-1]), "device": device_name(dev),
           "torch": torch.__version__, "versions": json.dumps(versions(), sort_keys=True),
           "checkpoint": f"checkpoints/{name}"}
    curve.insert(0, "run_id", name)
    curve.insert(1, "cell", config.cell)
    curve.insert(2, "seed", train.seed)
    _write_replacing(out / CURVES_FILE, curve)
    save_checkpoint(model, out / "checkpoints" / name, {"settings": settings, "result": row})
    delete_checkpoint(partial)
    return row


def load_curves(out) -> pd.DataFrame:
    """The learning curves a study wrote to ``out/lm_curves.csv``."""
    path = Path(out) / CURVES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run language_model(..., out={str(out)!r}) first")
    return pd.read_csv(path)


def load_model(out, run_id: str, *, device=None) -> CharLM:
    """The trained model of ``run_id`` from a study's folder (see :func:`rnnviz.train.load_checkpoint`)."""
    model, _ = load_checkpoint(Path(out) / "checkpoints" / run_id, device=device)
    return model


@dataclass(frozen=True)
class LMPreset:
    """A named language-model study: which cells, compared how, with which seeds, trained how.

    Each entry of ``hidden_sizes`` is an equal-hidden-size comparison, each of ``parameter_budgets``
    an equal-parameter-count one, each of ``state_sizes`` an equal-state-size one, all over ``cells``
    and ``seeds``. ``learning_rates`` gives cells their own rate (``{cell: lr}``; others train at
    ``train.lr``), as chosen by :meth:`pilot` over ``pilot_lrs`` with the settings ``pilot_train``.
    The same shape as the capacity study's :class:`~rnnviz.study.Preset`: :attr:`n_models` and
    :meth:`run`; ``lm_preset("demo", cells=("pru", "gru")).run(out)`` runs a variant.
    """

    description: str
    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    parameter_budgets: tuple[int, ...]
    train: TrainConfig
    max_chars: int | None = None
    dropout: float = 0.0
    sample_chars: int = 300
    state_sizes: tuple[int, ...] = ()
    seeds: tuple[int, ...] = (0,)
    learning_rates: tuple[tuple[str, float], ...] = ()
    pilot_lrs: tuple[float, ...] = ()
    pilot_train: TrainConfig | None = None

    def __post_init__(self):
        object.__setattr__(self, "cells", tuple(_check_cells(self.cells)))
        object.__setattr__(self, "seeds", _check_seeds(self.seeds))
        rates = self.learning_rates
        rates = tuple(sorted(rates.items() if isinstance(rates, dict) else dict(rates).items()))
        for cell, _ in rates:
            _lr_for(cell, dict(rates), self.train.lr)  # checks the names and the rates
        object.__setattr__(self, "learning_rates", rates)
        object.__setattr__(self, "pilot_lrs", tuple(check_positive(f"pilot_lrs[{i}]", lr)
                                                    for i, lr in enumerate(self.pilot_lrs)))

    def comparisons(self) -> list[tuple[str, int]]:
        """``(comparison, value)`` pairs, in the order :meth:`run` trains them."""
        return ([("hidden_size", n) for n in self.hidden_sizes] + [("parameters", p) for p in self.parameter_budgets]
                + [("state_size", s) for s in self.state_sizes])

    def plan(self, out=None, *, resume: bool = True) -> pd.DataFrame:
        """One row per (comparison, cell, seed) the preset reports, in the order :meth:`run` takes them:
        comparison, compared_at, cell, hidden_size, seed, run_id (rows with the same run_id share one
        trained model).

        With ``out`` (a study's folder, read and not written), what :meth:`run` would do there, two more
        columns: ``status`` (:func:`run_status`: "done", "other settings", "resumes" or "to train"; a
        row whose model an earlier row trains, "shared"; with ``resume=False``, every model "to
        train", as :meth:`run` then retrains it) and ``resumes_at`` (the step of its checkpoint in
        flight, else 0); ``attrs["steps"]`` is the budget (``train.steps``)."""
        corpus = CharCorpus(max_chars=self.max_chars)
        rates = {cell: _lr_for(cell, dict(self.learning_rates), self.train.lr) for cell in self.cells}
        rows, seen = [], set()
        for comp, value in self.comparisons():
            for cell in self.cells:
                n = _size_for(comp, value, cell, corpus.vocab_size, None)
                for seed in self.seeds:
                    row = {"comparison": comp, "compared_at": value, "cell": cell, "hidden_size": n, "seed": seed,
                           "run_id": run_id(cell, n, seed)}
                    if out is not None:
                        run = _run_of(cell, n, seed, comp, value, corpus, self.train, rates, None, self.dropout)
                        status, step = ("to train", 0) if not resume else run_status(Path(out), run)
                        if run.name in seen and status != "done":
                            status, step = "shared", 0
                        seen.add(run.name)
                        row.update(status=status, resumes_at=step)
                    rows.append(row)
        frame = pd.DataFrame(rows)
        frame.attrs["steps"] = self.train.steps
        return frame

    @property
    def n_models(self) -> int:
        """Models the preset trains: one per distinct (cell, hidden size, seed) over its comparisons."""
        return int(self.plan()["run_id"].nunique())

    def run(self, out, *, device="auto", progress: bool = True, resume: bool = True,
            time_limit: float | None = None, hard_limit: float | None = None,
            on_trained: Callable[[list[dict]], None] | None = None) -> pd.DataFrame:
        """Run (or resume) every comparison of the preset into the folder ``out`` (see :func:`language_model`).

        ``device``: "auto" (CUDA when available, else the CPU), "cpu", "cuda", … ``time_limit``
        (seconds): start no model after it; running again resumes. ``hard_limit`` (seconds, at least
        ``time_limit``, which defaults to it): the model in flight stops too, at its next checkpoint,
        and running again resumes it (``rows.attrs["paused"]``: its run_id, or None). ``on_trained``:
        called with the row of each model trained now, as it finishes (one row per call).

        Returns:
            One row per (comparison, cell, seed) finished (earlier or now); ``rows.attrs["n_planned"]``
            counts the rows planned (more than ``len(rows)`` when the time limit stopped the study),
            ``rows.attrs["n_models"]`` the distinct models (:attr:`n_models`).
        """
        time_limit, hard_limit = check_limits(time_limit, hard_limit)
        now = time.monotonic()
        corpus = CharCorpus(max_chars=self.max_chars)
        common = {"out": out, "corpus": corpus, "train": self.train, "dropout": self.dropout, "seeds": self.seeds,
                  "learning_rates": dict(self.learning_rates), "device": device, "progress": progress,
                  "resume": resume, "on_run": None if on_trained is None else lambda row: on_trained([row]),
                  "deadline": None if time_limit is None else now + time_limit,
                  "pause_at": None if hard_limit is None else now + hard_limit}
        keyword = {"hidden_size": "hidden_size", "parameters": "parameter_budget", "state_size": "state_size"}
        frames = [language_model(self.cells, **{keyword[comp]: value}, **common) for comp, value in self.comparisons()]
        rows = pd.concat(frames, ignore_index=True)
        rows.attrs["paused"] = next((f.attrs["paused"] for f in frames if f.attrs.get("paused")), None)
        plan = self.plan()
        rows.attrs["n_planned"] = len(plan)
        rows.attrs["n_models"] = int(plan["run_id"].nunique())
        return rows

    def pilot(self, out, *, device="auto", progress: bool = True, time_limit: float | None = None) -> pd.DataFrame:
        """The learning-rate pilot: each cell at the preset's first comparison, seed 0, trained with
        ``pilot_train`` at each of ``pilot_lrs``; the rate with the lowest best valid bpc is chosen.

        Writes ``out/lr<lr>/`` (one :func:`language_model` study per rate, resumable) and
        ``out/lm_pilot.csv``. Returns one row per (cell, lr): cell, hidden_size, lr, best_valid_bpc,
        steps, stop_reason, chosen (True on each cell's best rate); ``rows.attrs["learning_rates"]`` is
        the chosen ``{cell: lr}`` (complete only when every run finished; None otherwise).
        """
        if not self.pilot_lrs or self.pilot_train is None:
            raise ValueError("this preset has no pilot: give it pilot_lrs and pilot_train")
        check_time_limit(time_limit)
        deadline = None if time_limit is None else time.monotonic() + time_limit
        corpus = CharCorpus(max_chars=self.max_chars)
        comparison, value = self.comparisons()[0]
        keyword = {"hidden_size": "hidden_size", "parameters": "parameter_budget", "state_size": "state_size"}
        frames = []
        for lr in self.pilot_lrs:
            rows = language_model(self.cells, **{keyword[comparison]: value}, out=Path(out) / f"lr{lr:g}",
                                  corpus=corpus, train=replace(self.pilot_train, lr=lr), seeds=(0,),
                                  dropout=self.dropout, device=device, progress=progress, deadline=deadline)
            frames.append(rows)
        rows = pd.concat(frames, ignore_index=True)
        columns = ["cell", "hidden_size", "lr", "best_valid_bpc", "valid_bpc", "steps", "stop_reason", "train_seconds"]
        rows = rows[columns].copy()
        finite = rows[rows["best_valid_bpc"].notna()]
        best = finite.loc[finite.groupby("cell")["best_valid_bpc"].idxmin()]
        rows["chosen"] = rows.index.isin(best.index)
        complete = len(rows) == len(self.cells) * len(self.pilot_lrs)
        write_text_atomically(Path(out) / "lm_pilot.csv", rows.to_csv(index=False))
        rows.attrs["learning_rates"] = dict(zip(best["cell"], best["lr"], strict=True)) if complete else None
        return rows


#: Where a study keeps the checkpoint of its run in flight: ``out/checkpoints/in_flight/<run_id>``.
IN_FLIGHT = "in_flight"
#: Steps between the checkpoints of a run in flight (``out/checkpoints/in_flight/<run_id>``): at most
#: this many are lost when a study is killed (about 20 s of the paper preset on a 2-core CPU).
RUN_CHECKPOINT_EVERY = 2000

_SMOKE_TRAIN = TrainConfig(steps=30, batch_size=16, seq_len=32, lr=1e-2, warmup=5, min_lr_ratio=0.1, eval_every=15,
                           eval_chars=2_000, eval_batch=16, eval_seq_len=128, target_accuracy=None)

# The CPU paper study: 64 numbers of state (n = 64; n = 32 for the LSTM family in the equal-state
# comparison), the whole text, constant learning rate to a plateau (< 0.5 % gain over the last fifth
# of the steps: stricter than the 1 % that defines "plateaued" in the docs), one tenfold drop, then a
# second plateau; a 20,000-step budget that no model is meant to reach. The learning rates are the pilot's choice (rnnviz lm --preset paper --pilot; docs/lm.md).
_PAPER_TRAIN = TrainConfig(steps=20_000, batch_size=32, seq_len=64, lr=3e-3, schedule="constant", warmup=100,
                           eval_every=250, eval_chars=None, eval_batch=32, eval_seq_len=256, target_accuracy=None,
                           plateau=0.005, plateau_window=0.2, plateau_min_steps=1_500, lr_drops=1)

PRESETS: dict[str, LMPreset] = {
    "smoke": LMPreset(
        description="seconds on a CPU: checks that everything runs (CI)",
        cells=("pru", "gru", "lstm"), hidden_sizes=(32,), parameter_budgets=(12_000,),
        train=_SMOKE_TRAIN, max_chars=30_000, sample_chars=120),
    "demo": LMPreset(
        description="a few minutes on a 2-core CPU, the whole Tiny Shakespeare text",
        cells=("pru", "sru", "gru", "lstm", "irc_gru", "ihc_lstm"), hidden_sizes=(64,),
        parameter_budgets=(40_000,),
        train=TrainConfig(steps=400, batch_size=32, seq_len=64, lr=6e-3, warmup=20, min_lr_ratio=0.1, eval_every=50,
                          eval_chars=10_000, eval_batch=64, eval_seq_len=256, target_accuracy=None)),
    "paper": LMPreset(
        description="a 2-core CPU, about 50 minutes: 9 cells at equal hidden size (64), equal parameter count "
                    "(a GRU's at n = 64) and equal state size (64), 3 seeds, trained to a plateau",
        cells=("pru", "sru", "gru", "lstm", "rnn", "irc_gru", "irc_lstm", "ihc_lstm", "irc_sru"),
        hidden_sizes=(64,), parameter_budgets=(33_345,), state_sizes=(64,), seeds=(0, 1, 2),
        train=_PAPER_TRAIN, sample_chars=600,
        # the pilot's choice (data/lm_paper_pilot.csv: 1,500 steps at n = 64, seed 0, rates 1e-3, 3e-3, 1e-2)
        learning_rates={"pru": 3e-3, "sru": 3e-3, "gru": 3e-3, "rnn": 3e-3, "lstm": 1e-2, "irc_gru": 1e-2,
                        "irc_lstm": 1e-2, "ihc_lstm": 1e-2, "irc_sru": 1e-2},
        pilot_lrs=(1e-3, 3e-3, 1e-2),
        pilot_train=replace(_PAPER_TRAIN, steps=1_500, plateau=None, lr_drops=0)),
    "gpu": LMPreset(
        description="for a GPU: every cell family at 256 units and at 150k parameters (Triton kernels; dense "
                    "cells above 128 units take the per-step path), 3 seeds, trained to a plateau",
        cells=("pru", "sru", "gru", "lstm", "rnn", "irc_gru", "irc_lstm", "ihc_lstm", "irc_sru"),
        hidden_sizes=(256,), parameter_budgets=(150_000,), state_sizes=(256,), seeds=(0, 1, 2), dropout=0.1,
        train=TrainConfig(steps=40_000, batch_size=64, seq_len=128, lr=2e-3, schedule="constant", warmup=200,
                          eval_every=500, eval_chars=None, eval_batch=128, eval_seq_len=256, target_accuracy=None,
                          plateau=0.01, plateau_window=0.2, plateau_min_steps=3_000, lr_drops=1),
        sample_chars=600),
}


def preset(name: str, **changes) -> LMPreset:
    """The language-model preset called ``name`` (a key of :data:`PRESETS`: "smoke", "demo", "paper", "gpu"),
    with fields replaced by ``changes`` (e.g. ``preset("demo", cells=("pru", "gru"))``)."""
    return pick(PRESETS, name, changes)

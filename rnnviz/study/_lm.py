"""Comparing cells as character language models, at equal hidden size or at equal parameter count.

``language_model(["pru", "gru", "lstm"], hidden_size=128, out="out/lm")`` trains one model per cell
and returns one row per model; ``parameter_budget=100_000`` instead gives each cell the hidden size
whose model comes closest to that many parameters. Results are appended to ``out/lm.csv`` (learning
curves to ``out/lm_curves.csv``, weights to ``out/checkpoints/``) after every model, so an
interrupted study resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .. import cells as _cells
from .._checks import check_time_limit
from .._files import write_text_atomically
from ..cells import count_parameters
from ..tasks import CharCorpus
from ..train import (
    LM_TRAIN,
    CharLM,
    LMConfig,
    TrainConfig,
    checkpoint_metadata,
    evaluate_bpc,
    hidden_size_for_budget,
    load_checkpoint,
    save_checkpoint,
    train_lm,
)
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


def _write_replacing(path: Path, new: pd.DataFrame, key: str = "run_id") -> None:
    """Append ``new`` to the CSV at ``path``, dropping older rows with the same ``key``; atomic."""
    if path.is_file():
        old = pd.read_csv(path)
        old = old[~old[key].isin(new[key])]
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


def _finished_run(out: Path, run_id: str, settings: dict) -> dict | None:
    """The saved row of ``run_id`` if it finished with the same settings; raise if the settings differ."""
    results = out / RESULTS_FILE
    ckpt = out / "checkpoints" / run_id
    if not results.is_file() or not ckpt.with_name(run_id + ".json").is_file():
        return None
    rows = pd.read_csv(results)
    rows = rows[rows["run_id"] == run_id]
    if rows.empty:
        return None
    saved = _upgraded(checkpoint_metadata(ckpt).get("settings"))
    if saved != json.loads(json.dumps(settings)):
        raise ValueError(f"{out} already holds run {run_id!r} trained with other settings; use another out "
                         f"folder, delete {ckpt}.*, or pass resume=False to retrain it")
    return rows.iloc[-1].to_dict()


def language_model(cells=("pru", "gru", "lstm"), hidden_size: int | None = None,
                   parameter_budget: int | None = None, *, out, corpus: CharCorpus | None = None,
                   train: TrainConfig | None = None, embedding_size: int | None = None, dropout: float = 0.0,
                   device="auto", resume: bool = True, progress: bool = True,
                   deadline: float | None = None, on_run: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train a :class:`CharLM` per cell on ``corpus`` and score it in bits per character.

    Give exactly one of:

    - ``hidden_size``: every cell gets n units ("equal state size" means equal hidden size n; the
      LSTM-family cells lstm, irc_lstm and ihc_lstm then hold a flat state [h; c] of 2n numbers);
    - ``parameter_budget``: every cell gets the n whose whole model (embedding + cell + readout) has
      the parameter count closest to the budget ("equal parameter count").

    Args:
        cells: names from ``rnnviz.cells.names()``.
        out: folder for ``lm.csv``, ``lm_curves.csv`` and ``checkpoints/<run_id>.{pt,json}``.
        corpus: a :class:`CharCorpus`; the whole of ``data/tinyshakespeare.txt`` when None.
        train: training settings (a :class:`~rnnviz.train.TrainConfig`; its ``tbptt`` fields are
            read and recorded); :data:`rnnviz.train.LM_TRAIN` when None.
        embedding_size: None ties it to each model's hidden size (needed by IRC/IHC cells).
        dropout: dropout of the embedding and the cell output while training.
        device: "auto" (CUDA when available, else the CPU), "cpu", "cuda", …
        resume: reuse finished runs found in ``out`` (same settings), retrain otherwise.
        progress: show tqdm progress bars.
        deadline: a ``time.monotonic()`` value after which no new run starts (runs finished earlier
            are still reported; the next call resumes with the rest). None: no limit.
        on_run: called with the row of each model trained by this call (not with reused ones).

    Returns:
        One row per cell: run_id, cell, comparison ("hidden_size" or "parameters"), hidden_size,
        embedding_size, state_size, n_parameters, parameter_budget, test_bpc, valid_bpc, train_bpc,
        unigram_bpc (test split, train unigram), steps (run), stop_reason ("budget", or "diverged": then
        the bpc are NaN), batch_size, seq_len, train_seconds, device,
        torch, versions (JSON: :func:`rnnviz.study.versions`, with Triton, CUDA, cuDNN and the
        GPU driver where present), checkpoint.
    """
    cells = _check_cells(cells)
    if (hidden_size is None) == (parameter_budget is None):
        raise ValueError(f"give exactly one of hidden_size and parameter_budget, got hidden_size={hidden_size!r}, "
                         f"parameter_budget={parameter_budget!r}")
    corpus = CharCorpus() if corpus is None else corpus
    if not isinstance(corpus, CharCorpus):
        raise TypeError(f"corpus must be a CharCorpus, got {type(corpus).__name__}")
    train = LM_TRAIN if train is None else train
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    if out is None:
        raise ValueError("out must be a folder for the results and checkpoints, got None")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    V = corpus.vocab_size
    unigram = corpus.unigram_bpc("test")
    rows = []
    for cell in cells:
        if parameter_budget is not None:
            n = hidden_size_for_budget(cell, parameter_budget, V, embedding_size=embedding_size)
            comparison, run_id = "parameters", f"{cell}-p{parameter_budget}"
        else:
            n, comparison, run_id = hidden_size, "hidden_size", f"{cell}-n{hidden_size}"
        config = LMConfig(cell, n, corpus.vocab.chars, embedding_size=embedding_size, dropout=dropout)
        settings = _settings(config, train, corpus)
        done = _finished_run(out, run_id, settings) if resume else None
        if done is not None:
            rows.append(done)
            continue
        if deadline is not None and time.monotonic() >= deadline:
            continue
        torch.manual_seed(train.seed)
        model = CharLM(config, device=dev)
        curve = train_lm(model, corpus, train, progress=progress, description=run_id)
        stop_reason = curve.attrs["stop_reason"]
        scores = ({split: math.nan for split in ("valid", "test")} if stop_reason == "diverged" else
                  {split: evaluate_bpc(model, corpus, split, batch_size=train.eval_batch,
                                       seq_len=train.eval_seq_len) for split in ("valid", "test")})
        row = {"run_id": run_id, "cell": cell, "comparison": comparison, "hidden_size": n,
               "embedding_size": config.embedding_dim, "state_size": model.state_size,
               "n_parameters": count_parameters(model), "parameter_budget": parameter_budget,
               "test_bpc": scores["test"], "valid_bpc": scores["valid"],
               "train_bpc": float(curve["train_bpc"].iloc[-1]), "unigram_bpc": unigram,
               "steps": int(curve["step"].iloc[-1]), "stop_reason": stop_reason,
               "batch_size": train.batch_size, "seq_len": train.seq_len,
               "train_seconds": float(curve["seconds"].iloc[-1]), "device": device_name(dev),
               "torch": torch.__version__, "versions": json.dumps(versions(), sort_keys=True),
               "checkpoint": f"checkpoints/{run_id}"}
        save_checkpoint(model, out / "checkpoints" / run_id, {"settings": settings, "result": row})
        curve.insert(0, "run_id", run_id)
        curve.insert(1, "cell", cell)
        curve.insert(2, "comparison", comparison)
        _write_replacing(out / CURVES_FILE, curve)
        _write_replacing(out / RESULTS_FILE, pd.DataFrame([row]))
        rows.append(row)
        if on_run is not None:
            on_run(row)
    return pd.DataFrame(rows)


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
    """A named language-model study: which cells, at which sizes, on how much text, trained how.

    Each entry of ``hidden_sizes`` is an equal-state-size comparison, each of ``parameter_budgets``
    an equal-parameter-count comparison, both over ``cells``. The same shape as the capacity study's
    :class:`~rnnviz.study.Preset`: :attr:`n_models` and :meth:`run`; ``lm_preset("demo",
    cells=("pru", "gru")).run(out)`` runs a variant.
    """

    description: str
    cells: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    parameter_budgets: tuple[int, ...]
    train: TrainConfig
    max_chars: int | None = None
    dropout: float = 0.0
    sample_chars: int = 300

    def __post_init__(self):
        object.__setattr__(self, "cells", tuple(_check_cells(self.cells)))

    @property
    def n_models(self) -> int:
        """Models the preset trains: one per cell and comparison."""
        return len(self.cells) * (len(self.hidden_sizes) + len(self.parameter_budgets))

    def run(self, out, *, device="auto", progress: bool = True, resume: bool = True,
            time_limit: float | None = None,
            on_trained: Callable[[list[dict]], None] | None = None) -> pd.DataFrame:
        """Run (or resume) every comparison of the preset into the folder ``out`` (see :func:`language_model`).

        ``device``: "auto" (CUDA when available, else the CPU), "cpu", "cuda", … ``time_limit``
        (seconds): start no model after it; running again resumes. ``on_trained``: called with the
        rows of the models trained now, as each finishes (one row per call).

        Returns:
            One row per model finished (earlier or now); ``rows.attrs["n_planned"]`` is
            :attr:`n_models`, more than ``len(rows)`` when the time limit stopped the study.
        """
        check_time_limit(time_limit)
        corpus = CharCorpus(max_chars=self.max_chars)
        common = {"out": out, "corpus": corpus, "train": self.train, "dropout": self.dropout,
                  "device": device, "progress": progress, "resume": resume,
                  "on_run": None if on_trained is None else lambda row: on_trained([row]),
                  "deadline": None if time_limit is None else time.monotonic() + time_limit}
        frames = [language_model(self.cells, hidden_size=n, **common) for n in self.hidden_sizes]
        frames += [language_model(self.cells, parameter_budget=b, **common) for b in self.parameter_budgets]
        rows = pd.concat(frames, ignore_index=True)
        rows.attrs["n_planned"] = self.n_models
        return rows


_SMOKE_TRAIN = TrainConfig(steps=30, batch_size=16, seq_len=32, lr=1e-2, warmup=5, min_lr_ratio=0.1, eval_every=15,
                           eval_chars=2_000, eval_batch=16, eval_seq_len=128, target_accuracy=None)

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
        description="for a GPU: every cell family at 256 units and at 150k parameters (sizes that stay on the "
                    "persistent Triton kernels, H <= 256)",
        cells=("pru", "sru", "gru", "lstm", "rnn", "irc_gru", "irc_lstm", "ihc_lstm", "irc_sru"),
        hidden_sizes=(256,), parameter_budgets=(150_000,), dropout=0.1,
        train=TrainConfig(steps=4_000, batch_size=64, seq_len=128, lr=2e-3, warmup=200, min_lr_ratio=0.1,
                          eval_every=250, eval_chars=None, eval_batch=128, eval_seq_len=256, target_accuracy=None),
        sample_chars=600),
}


def preset(name: str, **changes) -> LMPreset:
    """The language-model preset called ``name`` (a key of :data:`PRESETS`: "smoke", "demo" or "paper"),
    with fields replaced by ``changes`` (e.g. ``preset("demo", cells=("pru", "gru"))``)."""
    return pick(PRESETS, name, changes)

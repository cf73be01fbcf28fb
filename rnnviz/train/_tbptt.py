"""Training a character LM by truncated backpropagation through time, and scoring it in bits per character.

Bits per character of a split c_0 … c_{N−1}:  bpc = −(1/(N−1)) Σ_{i=1}^{N−1} log2 p(c_i | c_{<i}),
where the context is the model's state carried along its stream (see :class:`rnnviz.tasks.CharCorpus`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pandas as pd
import torch
import torch.nn.functional as F

from .._checks import check_optional_int
from ..tasks import CharCorpus, contiguous_batches, remainder
from ._charlm import CharLM
from ._checkpoint import (
    TrainingPaused,
    check_resumable,
    checkpoint_exists,
    dtype_name,
    read_checkpoint,
    save_checkpoint,
)
from ._config import TrainConfig
from ._loop import (
    PlateauRule,
    adam,
    drop_learning_rate,
    evaluates_after,
    progress_bar,
    update,
    window_improvement,
)

#: The settings :func:`train_lm` (and :func:`rnnviz.study.language_model`) use when given none.
LM_TRAIN = TrainConfig(steps=1000, batch_size=32, seq_len=64, lr=3e-3, warmup=20, min_lr_ratio=0.1, clip=1.0,
                       weight_decay=0.0, eval_every=100, eval_chars=20_000, eval_batch=32, eval_seq_len=256,
                       seed=0, target_accuracy=None)


def _device_of(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _carry(state):
    return None if state is None else state.detach()


@torch.no_grad()
def evaluate_bpc(model: torch.nn.Module, corpus: CharCorpus | torch.Tensor, split: str = "test", *,
                 batch_size: int = 32, seq_len: int = 256, max_chars: int | None = None) -> float:
    """Bits per character of ``model`` on a split: every character but the first is predicted once.

    Args:
        model: called as ``logits, s = model(x, s)`` with x ``(T, B)`` int64 and logits ``(T, B, V)``;
            s is the carried state (None at the start; a model may return None).
        corpus: a :class:`CharCorpus` (then ``split`` picks the ids) or a ``(N,)`` id tensor.
        batch_size, seq_len: B streams read in chunks of T (results differ slightly with B, since
            each stream starts from the zero state).
        max_chars: score only the first ``max_chars`` characters of the split.

    Returns:
        −mean log2 p(c_i | context) over the N − 1 predicted characters.
    """
    ids = corpus.ids(split) if isinstance(corpus, CharCorpus) else corpus
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        raise TypeError("corpus must be a CharCorpus or a 1-d int64 tensor of character ids")
    if max_chars is not None:
        ids = ids[:max_chars]
    batch_size = max(1, min(batch_size, len(ids) - 1))
    device = _device_of(model)
    was_training = model.training
    model.eval()
    total_nats, count, state = 0.0, 0, None
    try:
        for x, y in contiguous_batches(ids, batch_size, seq_len):
            logits, state = model(x.to(device), state)  # (T, B, V)
            total_nats += F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
            count += y.numel()
        x_r, y_r = remainder(ids, batch_size)  # continues the last stream
        if len(x_r):
            last = None if state is None else state[-1:]  # (1, S)
            logits, _ = model(x_r.view(-1, 1).to(device), last)  # (R, 1, V)
            total_nats += F.cross_entropy(logits.flatten(0, 1), y_r.to(device), reduction="sum").item()
            count += y_r.numel()
    finally:
        model.train(was_training)
    return total_nats / count / math.log(2)


def train_lm(model: torch.nn.Module, corpus: CharCorpus, config: TrainConfig | None = None, *,
             progress: bool = True, description: str | None = None, keep_best: bool = True,
             checkpoint=None, checkpoint_every: int | None = None,
             pause_when: Callable[[], bool] | None = None) -> pd.DataFrame:
    """Train ``model`` on ``corpus.train`` with TBPTT, Adam, gradient clipping and the schedule of
    :func:`~rnnviz.train.learning_rate`; evaluate on the valid split every ``config.eval_every`` steps.

    ``config``: a :class:`~rnnviz.train.TrainConfig` (its ``tbptt`` fields, see
    :meth:`~rnnviz.train.TrainConfig.settings`; ``target_accuracy`` is not read); :data:`LM_TRAIN`
    when None. The model stays on its device; batches are moved there. The state is carried across
    consecutive batches, detached, and reset to zeros when the training split starts over.

    Stopping: with ``config.plateau`` set, the plateau rule (:class:`~rnnviz.train.PlateauRule`) reads
    each evaluation's valid bpc: at a plateau the learning rate drops tenfold (``config.lr_drops``
    times), then training stops (``stop_reason`` ``"plateau"``). ``config.steps`` is then the budget,
    a ceiling (``stop_reason`` ``"budget"`` when it is what ended the run).
    A run whose training loss or weights turn non-finite (NaN or ±inf) stops at once: its curve ends
    with a row at that step whose bpc are NaN, and ``stop_reason`` is ``"diverged"``,
    so no score of a broken model passes for a real one.

    ``keep_best``: at the end the model holds the weights of its best evaluation (lowest valid bpc;
    the best checkpoint), not those of its last step; False keeps the last.

    ``checkpoint`` (a path; ``model`` a :class:`~rnnviz.train.CharLM`): every ``checkpoint_every``
    steps the whole run is saved there (:func:`~rnnviz.train.save_checkpoint`: the weights, Adam, the
    schedule and the plateau rule, the curve so far, the best weights, the carried state, the position
    in the training split and the random generators), and a call that finds it resumes from it: the
    same curve and weights as a run never interrupted. A checkpoint resumes only the run that wrote
    it (:class:`~rnnviz.train.CheckpointMismatch` otherwise, before the model is touched). It is not
    deleted at the end: a caller that stored the result deletes it (:func:`~rnnviz.train.delete_checkpoint`).
    ``pause_when``: asked after each such checkpoint; when it returns True, training stops there and
    :class:`~rnnviz.train.TrainingPaused` is raised (a batch job's wall-time limit).

    Returns:
        The learning curve, one row per evaluation: step, lr (of that step), train_bpc (mean over the
        steps since the previous row), valid_bpc, seconds (optimisation time so far, evaluations
        excluded). ``curve.attrs``: ``stop_reason`` ("budget", "plateau" or "diverged"), ``best_step``
        and ``best_valid_bpc`` (the best evaluation, None/NaN when there was none), and
        ``last_fifth_gain``: the relative improvement of the best valid bpc over the last fifth of
        the steps (:func:`~rnnviz.train.window_improvement`; < 0.01 reads "improved by less than 1 %").
    """
    config = LM_TRAIN if config is None else config
    if config.plateau_floor_score is not None:
        raise ValueError(f"plateau_floor_score={config.plateau_floor_score!r}: train_lm judges its plateau and "
                         f"floor on the validation bits per character only; use plateau_floor_score=None")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(corpus, CharCorpus):
        raise TypeError(f"corpus must be a CharCorpus, got {type(corpus).__name__}")
    vocab = getattr(model, "vocab", None)
    if vocab is not None and vocab != corpus.vocab:
        raise ValueError("the model's vocabulary differs from the corpus's; build the model from corpus.vocab")
    checkpoint_every = check_optional_int("checkpoint_every", checkpoint_every, 1)
    if checkpoint is not None and not isinstance(model, CharLM):
        raise TypeError(f"checkpoint needs a CharLM (its checkpoints rebuild one), got {type(model).__name__}")
    if pause_when is not None and (checkpoint is None or checkpoint_every is None):
        raise ValueError("pause_when needs checkpoint and checkpoint_every: a paused run resumes from its checkpoint")
    torch.manual_seed(config.seed)
    device = _device_of(model)
    params = list(model.parameters())
    optimizer, schedule = adam(params, config)

    def epoch():
        return corpus.batches("train", config.batch_size, config.seq_len)

    batches, state, batch_index = epoch(), None, 0  # batch_index: batches read from this pass over the split
    rows, nats, chars, seconds = [], 0.0, 0, 0.0
    stop_reason = "budget"
    rule = PlateauRule(config)
    best_bpc, best_step, best_weights = math.inf, None, None
    start_step = 0
    run = None if checkpoint is None else _run_description(model, corpus, config, keep_best)
    if checkpoint is not None and checkpoint_exists(checkpoint):
        check_resumable(checkpoint, run, config)
        _, payload = read_checkpoint(checkpoint)
        saved = payload["training_state"]
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        rule.load_state(saved["rule"])
        rows = [dict(r) for r in saved["rows"]]
        nats, chars, seconds = float(saved["nats"]), int(saved["chars"]), float(saved["seconds"])
        best_bpc, best_step = float(saved["best_bpc"]), saved["best_step"]
        best_weights = None if saved["best_weights"] is None else \
            {k: v.to(device) for k, v in saved["best_weights"].items()}
        start_step, batch_index = int(saved["step"]), int(saved["batch_index"])
        for _ in range(batch_index):
            next(batches)
        state = None if saved["state"] is None else saved["state"].to(device)
        torch.set_rng_state(saved["rng"])
        if device.type == "cuda" and "cuda_rng" in saved:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)

    def save(steps_done: int) -> None:
        """The whole run after ``steps_done`` steps (see the docstring)."""
        training_state = {
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "rule": rule.state(),
            "rows": rows, "nats": nats, "chars": chars, "seconds": seconds,
            "best_bpc": best_bpc, "best_step": best_step,
            "best_weights": None if best_weights is None else {k: v.to("cpu") for k, v in best_weights.items()},
            "step": steps_done, "batch_index": batch_index,
            "state": None if state is None else state.detach().to("cpu"),
            "rng": torch.get_rng_state(),
            **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
        }
        save_checkpoint(model, checkpoint, {**run, "step": steps_done}, training_state=training_state)

    model.train()
    bar = progress_bar(config.steps, description, progress, initial=start_step)
    for step in range(start_step, config.steps):
        _synchronize(device)
        t0 = time.perf_counter()
        try:
            x, y = next(batches)
            batch_index += 1
        except StopIteration:
            batches, state = epoch(), None
            x, y = next(batches)
            batch_index = 1
        x, y = x.to(device), y.to(device)
        logits, state = model(x, state)  # (T, B, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        lr_used = update(loss, params, optimizer, schedule, config)
        state = _carry(state)
        _synchronize(device)
        seconds += time.perf_counter() - t0
        loss_value = loss.item()
        if not math.isfinite(loss_value) or not _finite(params):
            rows.append({"step": step + 1, "lr": lr_used, "train_bpc": math.nan, "valid_bpc": math.nan,
                         "seconds": seconds})
            stop_reason = "diverged"
            break
        nats += loss_value * y.numel()
        chars += y.numel()
        if evaluates_after(step, config):
            valid = evaluate_bpc(model, corpus, "valid", batch_size=config.eval_batch,
                                 seq_len=config.eval_seq_len, max_chars=config.eval_chars)
            train_bpc = nats / chars / math.log(2)
            rows.append({"step": step + 1, "lr": lr_used, "train_bpc": train_bpc,
                         "valid_bpc": valid, "seconds": seconds})
            bar.set_postfix(train_bpc=f"{train_bpc:.3f}", valid_bpc=f"{valid:.3f}")
            nats, chars = 0.0, 0
            if valid < best_bpc:
                best_bpc, best_step = valid, step + 1
                if keep_best:
                    best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            decision = rule.observe(step + 1, valid)
            if decision == "drop":
                drop_learning_rate(schedule)
            elif decision == "stop":
                stop_reason = "plateau"
                bar.update(1)
                break
        bar.update(1)
        if checkpoint is not None and checkpoint_every and (step + 1) % checkpoint_every == 0 \
                and step + 1 < config.steps:
            save(step + 1)
            if pause_when is not None and pause_when():
                bar.close()
                raise TrainingPaused(checkpoint, step + 1)
    bar.close()
    if keep_best and best_weights is not None and stop_reason != "diverged":
        model.load_state_dict(best_weights)
    curve = pd.DataFrame(rows, columns=["step", "lr", "train_bpc", "valid_bpc", "seconds"])
    curve.attrs.update(stop_reason=stop_reason, best_step=best_step,
                       best_valid_bpc=best_bpc if best_step is not None else math.nan,
                       last_fifth_gain=_last_fifth_gain(curve))
    return curve


def _run_description(model: CharLM, corpus: CharCorpus, config: TrainConfig, keep_best: bool) -> dict:
    """What a checkpoint must share with a run of :func:`train_lm` to be resumed by it (JSON values)."""
    return {
        "model": model.config.to_dict(),
        "dtype": dtype_name(next(model.parameters()).dtype),
        "train": config.settings("tbptt"),
        "corpus": {"vocab": "".join(corpus.vocab.chars),
                   **{f"{split}_chars": len(corpus.ids(split)) for split in ("train", "valid")}},
        "keep_best": keep_best,
    }


def _last_fifth_gain(curve: pd.DataFrame) -> float:
    """The relative gain in best valid bpc over the last fifth of a curve's steps (NaN if undefined)."""
    gain = window_improvement(curve["step"].tolist(), curve["valid_bpc"].tolist(), window=0.2)
    return math.nan if gain is None else gain


def _finite(params) -> bool:
    """Whether every parameter is finite (one device read for all of them)."""
    with torch.no_grad():
        return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())

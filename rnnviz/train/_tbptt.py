"""Training a character LM by truncated backpropagation through time, and scoring it in bits per character.

Bits per character of a split c_0 … c_{N−1}:  bpc = −(1/(N−1)) Σ_{i=1}^{N−1} log2 p(c_i | c_{<i}),
where the context is the model's state carried along its stream (see :mod:`rnnviz.lm._corpus`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._checks import check_int
from ..tasks import CharCorpus, contiguous_batches, remainder


@dataclass
class TrainConfig:
    """Optimisation settings of :func:`train_lm`.

    Args:
        steps: optimizer steps (batches); the training split is read again from the start when used up.
        batch_size: B parallel streams.
        seq_len: T, steps of backpropagation per batch; the state is carried (detached) across batches.
        lr: peak learning rate of Adam.
        warmup_steps: linear warm-up from 0 to ``lr``.
        min_lr_ratio: cosine decay from ``lr`` to ``lr · min_lr_ratio`` at the last step.
        clip: maximum global gradient norm (None: no clipping).
        weight_decay: Adam's (L2) weight decay.
        eval_every: evaluate on the valid split every this many steps (and at the end).
        eval_chars: characters of the valid split used by the evaluations during training (None: all);
            the final valid and test scores always use the whole split.
        eval_batch_size, eval_seq_len: streams and chunk length of evaluation.
        seed: seeds the initial weights and dropout.
    """

    steps: int = 1000
    batch_size: int = 32
    seq_len: int = 64
    lr: float = 3e-3
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    clip: float | None = 1.0
    weight_decay: float = 0.0
    eval_every: int = 100
    eval_chars: int | None = 20_000
    eval_batch_size: int = 32
    eval_seq_len: int = 256
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "seq_len", "eval_every", "eval_batch_size", "eval_seq_len"):
            v = getattr(self, name)
            check_int(name, v)
        check_int("warmup_steps", self.warmup_steps, 0)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.min_lr_ratio, (int, float)) and 0 <= self.min_lr_ratio <= 1):
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.clip is not None and not (isinstance(self.clip, (int, float)) and self.clip > 0):
            raise ValueError(f"clip must be a positive number or None, got {self.clip!r}")
        if self.eval_chars is not None and (not isinstance(self.eval_chars, int) or self.eval_chars < 2):
            raise ValueError(f"eval_chars must be an integer ≥ 2 or None, got {self.eval_chars!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def learning_rate(step: int, config: TrainConfig) -> float:
    """The schedule: lr·k/w for k < w warm-up steps, then cosine from lr to lr·min_lr_ratio.

    lr_k = lr·[ρ + (1 − ρ)·(1 + cos(π·(k − w)/(K − w)))/2] with ρ = min_lr_ratio, K = steps.
    """
    w, K = config.warmup_steps, config.steps
    if step < w:
        return config.lr * (step + 1) / w
    progress = (step - w) / max(1, K - w)
    rho = config.min_lr_ratio
    return config.lr * (rho + (1 - rho) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


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
             progress: bool = True, description: str | None = None) -> pd.DataFrame:
    """Train ``model`` on ``corpus.train`` with TBPTT, Adam, gradient clipping and the schedule of
    :func:`learning_rate`; evaluate on the valid split every ``config.eval_every`` steps.

    The model stays on its device; batches are moved there. The state is carried across
    consecutive batches, detached, and reset to zeros when the training split starts over.

    Returns:
        The learning curve, one row per evaluation: step, lr, train_bpc (mean over the steps since
        the previous row), valid_bpc, seconds (optimisation time so far, evaluations excluded).
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(corpus, CharCorpus):
        raise TypeError(f"corpus must be a CharCorpus, got {type(corpus).__name__}")
    vocab = getattr(model, "vocab", None)
    if vocab is not None and vocab != corpus.vocab:
        raise ValueError("the model's vocabulary differs from the corpus's; build the model from corpus.vocab")
    torch.manual_seed(config.seed)
    device = _device_of(model)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: learning_rate(k, config) / config.lr)

    def epoch():
        return corpus.batches("train", config.batch_size, config.seq_len)

    batches, state = epoch(), None
    rows, nats, chars, seconds = [], 0.0, 0, 0.0
    model.train()
    bar = tqdm(range(config.steps), desc=description, disable=not progress, leave=False)
    for step in bar:
        _synchronize(device)
        t0 = time.perf_counter()
        try:
            x, y = next(batches)
        except StopIteration:
            batches, state = epoch(), None
            x, y = next(batches)
        x, y = x.to(device), y.to(device)
        logits, state = model(x, state)  # (T, B, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        lr_used = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        state = _carry(state)
        _synchronize(device)
        seconds += time.perf_counter() - t0
        nats += loss.item() * y.numel()
        chars += y.numel()
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            valid = evaluate_bpc(model, corpus, "valid", batch_size=config.eval_batch_size,
                                 seq_len=config.eval_seq_len, max_chars=config.eval_chars)
            train_bpc = nats / chars / math.log(2)
            rows.append({"step": step + 1, "lr": lr_used, "train_bpc": train_bpc,
                         "valid_bpc": valid, "seconds": seconds})
            bar.set_postfix(train_bpc=f"{train_bpc:.3f}", valid_bpc=f"{valid:.3f}")
            nats, chars = 0.0, 0
    bar.close()
    return pd.DataFrame(rows)

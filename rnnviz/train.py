"""Training: Adam, per-member gradient clipping, a learning-rate schedule, per-member early stopping,
a progress bar (``tqdm.auto``: terminals and notebooks), metric history and checkpoints.

Ensembles train as E independent models: the loss is the *sum* of the members' losses (so each
member gets exactly its own gradient), gradients are clipped per member, Adam is elementwise (one
optimizer over the ensemble = E optimizers), and a member that reaches the target accuracy is frozen
(its loss weight becomes 0 and its weights are held at the values it stopped with). Member i of an
ensemble therefore ends where the same model trained alone on the same data would.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .models import SequenceModel
from .tasks import Task

SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    ``schedule``: ``"constant"`` or ``"cosine"`` (from ``lr`` down to ``lr * min_lr_ratio`` at
    ``steps``), after ``warmup`` steps of linear warm-up. ``clip``: maximum gradient norm per
    member (None: no clipping). ``target_accuracy``: a member stops once its accuracy on the
    validation batch reaches it (None: train all ``steps``).
    """

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-2
    clip: float | None = 1.0
    schedule: str = "cosine"
    warmup: int = 0
    min_lr_ratio: float = 0.05
    target_accuracy: float | None = 0.99
    eval_every: int = 50
    eval_batch: int = 512

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "eval_batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be > 0 or None, got {self.clip!r}")
        if self.target_accuracy is not None and not 0 < self.target_accuracy <= 1:
            raise ValueError(f"target_accuracy must be in (0, 1] or None, got {self.target_accuracy!r}")

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at optimizer step ``step`` (0-based)."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - self.warmup) / max(1, self.steps - self.warmup))
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class FitResult:
    """What :func:`fit` returns.

    ``history``: one dict per evaluation and member (step, member, loss, accuracy, lr, seconds).
    ``stopped_at``: per member, the step count at which it reached the target (or ``steps``).
    ``reached``: per member, whether it reached the target accuracy. ``metrics``: per member, its
    last validation metrics. ``seconds``: wall time.
    """

    history: list[dict] = field(default_factory=list)
    stopped_at: list[int] = field(default_factory=list)
    reached: list[bool] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_frame(self):
        """The history as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.history)


# ---------------------------------------------------------------------------- data
def stack_batches(tasks: Sequence[Task], generators: Sequence[torch.Generator], batch_size: int, device=None):
    """One batch per member, stacked on a leading E axis and padded at the end to the longest task.

    Returns ``inputs (E, T, B, m)``, ``targets (E, T, B[, ·])``, ``mask (E, T, B)`` or None, and the
    lengths. Padding steps come after a member's sequence, are masked out and cannot influence its
    outputs (a recurrent model is causal), so each member sees exactly its own task.
    """
    batches = [task.sample(batch_size, g, device) for task, g in zip(tasks, generators, strict=True)]
    lengths = [t.length for t in tasks]
    T = max(lengths)
    if len(set(lengths)) > 1 and any(len(b) < 3 for b in batches):
        raise ValueError("tasks of different lengths can share an ensemble only if they score with a mask")

    def pad(t: torch.Tensor, length: int) -> torch.Tensor:
        if length == T:
            return t
        return torch.cat([t, t.new_zeros((T - length, *t.shape[1:]))])  # (T, B, ·)

    def stacked(j: int) -> torch.Tensor:  # (E, T, B, ·)
        return torch.stack([pad(b[j], n) for b, n in zip(batches, lengths, strict=True)])

    inputs, targets = stacked(0), stacked(1)
    mask = stacked(2) if len(batches[0]) > 2 else None
    return inputs, targets, mask, lengths


def _as_list(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one entry per member ({n}), got {len(value)}")
        return list(value)
    return [value] * n


# ---------------------------------------------------------------------------- clipping
def clip_grad_norm_per_member(
    params: Sequence[torch.Tensor], max_norm: float, n_models: int | None
) -> torch.Tensor:
    """Scale gradients so that each member's gradient norm is at most ``max_norm``.

    Single model (``n_models=None``): exactly ``torch.nn.utils.clip_grad_norm_``'s rule,
    ``g ← g · min(1, max_norm / (‖g‖ + 1e-6))``. Ensemble: the same per member, with ‖g_e‖ over that
    member's slice of every parameter. Returns the norms before clipping (``()`` or ``(E,)``).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if n_models is None:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale)
        return norm
    sq = sum(g.reshape(n_models, -1).square().sum(1) for g in grads)  # (E,)
    norm = sq.sqrt()
    scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norm


# ---------------------------------------------------------------------------- fit
def fit(
    model: SequenceModel,
    task: Task | Sequence[Task],
    config: TrainConfig | None = None,
    *,
    data_seed: int | Sequence[int] = 0,
    eval_seed: int | Sequence[int] | None = None,
    device=None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    **overrides,
) -> FitResult:
    """Train ``model`` on ``task`` with Adam; returns a :class:`FitResult`.

    Args:
        model: a :class:`~rnnviz.models.SequenceModel` (single or ensemble of E).
        task: one task (for all members) or one per member (same kind and sizes; lengths may differ
            when the tasks score with a mask, e.g. :class:`~rnnviz.tasks.Memorization` with different K).
        config: a :class:`TrainConfig`; keyword ``overrides`` replace its fields (``steps=500``).
        data_seed: seed of the training batches: one int (a single stream; for an ensemble with one
            task the batch is shared by every member) or one per member (each member draws its own
            batches, exactly as it would alone).
        eval_seed: seed(s) of the fixed validation batch (default: ``data_seed`` + 1000003).
        device: where to train (the model is moved there); batches are drawn on the CPU and moved.
        progress: show a tqdm progress bar.
        checkpoint: a path; the model, the optimizer and the training state are saved there every
            ``checkpoint_every`` steps and at the end (see :func:`save_checkpoint`), and training
            resumes from it when it exists.
    """
    config = replace(config or TrainConfig(), **overrides)
    E = model.n_models
    n = 1 if E is None else E
    tasks = _as_list(task, n, "task")
    per_member_data = isinstance(data_seed, (list, tuple)) or isinstance(task, (list, tuple))
    seeds = _as_list(data_seed, n, "data_seed")
    eval_seeds = (
        _as_list(eval_seed, n, "eval_seed") if eval_seed is not None else [s + 1_000_003 for s in seeds]
    )
    kinds = {(t.kind, t.input_size, t.output_size) for t in tasks}
    if len(kinds) > 1:
        raise ValueError(f"every member's task must have the same kind and sizes, got {sorted(kinds)}")
    if model.input_size != tasks[0].input_size or model.output_size != tasks[0].output_size:
        raise ValueError(
            f"model sizes (input {model.input_size}, output {model.output_size}) do not match the "
            f"task's (input {tasks[0].input_size}, output {tasks[0].output_size})"
        )
    if device is not None:
        model.to(device)
    device = model.readout_weight.device
    dtype = model.readout_weight.dtype
    shared = not per_member_data

    def draw(gens, batch_size):
        if shared:
            batch = tasks[0].sample(batch_size, gens[0], device)
            return batch[0].to(dtype), batch[1], (batch[2] if len(batch) > 2 else None)
        inputs, targets, mask, _ = stack_batches(tasks, gens, batch_size, device)
        if E is None:
            return inputs[0].to(dtype), targets[0], None if mask is None else mask[0]
        return inputs.to(dtype), targets, mask

    train_gens = [torch.Generator().manual_seed(int(s)) for s in (seeds[:1] if shared else seeds)]
    val = draw(
        [torch.Generator().manual_seed(int(s)) for s in (eval_seeds[:1] if shared else eval_seeds)],
        config.eval_batch,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, config.lr_factor)
    active = torch.ones(n, dtype=torch.bool, device=device)
    frozen: dict[int, list[torch.Tensor]] = {}
    result = FitResult(stopped_at=[config.steps] * n, reached=[False] * n, metrics=[{} for _ in range(n)])
    start_step = 0
    if checkpoint is not None and Path(checkpoint).with_suffix(".pt").exists():
        state = load_checkpoint(checkpoint, model, optimizer)
        schedule.load_state_dict(state["schedule"])
        for g, gs in zip(train_gens, state["generators"], strict=True):
            g.set_state(gs)
        start_step, active = state["step"], state["active"].to(device)
        frozen = {int(i): ws for i, ws in state["frozen"].items()}
        result = FitResult(**state["result"])

    def save_checkpoint(steps_done: int) -> None:
        result.seconds = time.perf_counter() - t0
        _save_training(checkpoint, model, optimizer, schedule, train_gens, steps_done, active, frozen, result,
                       tasks, config)

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            out = model(val[0])
        model.train()
        for i in range(n):
            if not bool(active[i]) and result.metrics[i]:
                continue
            o = out if E is None else out[i]
            t = val[1] if (E is None or shared) else val[1][i]
            m = val[2] if (E is None or shared or val[2] is None) else val[2][i]
            T = tasks[i].length
            scores = tasks[i].score(o[:T], t[:T], None if m is None else m[:T])
            row = {k: float(v) for k, v in scores.items() if v.dim() == 0}
            result.metrics[i] = row
            result.history.append(
                {
                    "step": step,
                    "member": i,
                    **row,
                    "lr": optimizer.param_groups[0]["lr"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            target = config.target_accuracy
            if target is not None and row.get("accuracy", -1.0) >= target and bool(active[i]):
                active[i] = False
                result.stopped_at[i], result.reached[i] = step, True
                frozen[i] = [p.detach()[i].clone() if E is not None else p.detach().clone() for p in params]

    t0 = time.perf_counter() - result.seconds
    bar = tqdm(
        total=config.steps,
        initial=start_step,
        disable=not progress,
        desc=f"fit {model.cell_name}",
        leave=False,
        dynamic_ncols=True,
    )
    step = start_step
    for step in range(start_step, config.steps):
        if not bool(active.any()):
            break
        inputs, targets, mask = draw(train_gens, config.batch_size)
        losses = tasks[0].loss(model(inputs), targets, mask)  # () or (E,)
        loss = (losses * active.to(losses.dtype)).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip is not None:
            clip_grad_norm_per_member(params, config.clip, E)
        optimizer.step()
        schedule.step()
        _restore_frozen(params, frozen, E)
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            evaluate(step + 1)
            bar.set_postfix(
                loss=f"{float(losses.detach().mean()):.3f}",
                acc=f"{sum(r.get('accuracy', 0.0) for r in result.metrics) / n:.3f}",
                done=f"{n - int(active.sum())}/{n}",
            )
        if checkpoint is not None and checkpoint_every and (step + 1) % checkpoint_every == 0:
            save_checkpoint(step + 1)
        bar.update(1)
    bar.close()
    if not result.metrics[0]:
        evaluate(step)
    if checkpoint is not None:
        save_checkpoint(config.steps)
    result.seconds = time.perf_counter() - t0
    return result


def _restore_frozen(params, frozen, E) -> None:
    """Hold frozen members at the weights they stopped with (Adam's momentum would move them)."""
    if not frozen:
        return
    with torch.no_grad():
        for i, weights in frozen.items():
            for p, w in zip(params, weights, strict=True):
                if E is None:
                    p.copy_(w)
                else:
                    p[i].copy_(w)


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(
    path: str | Path,
    model: SequenceModel,
    optimizer: torch.optim.Optimizer | None = None,
    metadata: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Save ``model`` (and optionally the optimizer and tensors in ``extra``) to ``path.pt`` and its
    configuration plus ``metadata`` to ``path.json``. The ``.pt`` file holds only tensors and plain
    containers and is read back with ``torch.load(weights_only=True)``: loading never runs code."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model": model.state_dict()}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if extra:
        payload.update(extra)
    torch.save(payload, path.with_suffix(".pt"))
    meta = {
        "model": model.config(),
        "dtype": str(model.readout_weight.dtype).removeprefix("torch."),
        **(metadata or {}),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    return path.with_suffix(".pt")


def load_checkpoint(
    path: str | Path,
    model: SequenceModel | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location="cpu",
):
    """Load a checkpoint written by :func:`save_checkpoint`.

    With ``model=None``, builds the model from the JSON configuration and returns it; otherwise loads
    the weights (and the optimizer state) into the given objects and returns the payload dict.
    """
    path = Path(path)
    payload = torch.load(path.with_suffix(".pt"), map_location=map_location, weights_only=True)
    if model is None:
        meta = json.loads(path.with_suffix(".json").read_text())
        model = SequenceModel(**meta["model"], dtype=getattr(torch, meta["dtype"]))
        model.load_state_dict(payload["model"])
        return model
    model.load_state_dict(payload["model"])
    if optimizer is not None and "optimizer" in payload:
        optimizer.load_state_dict(payload["optimizer"])
    return payload


def _save_training(
    path, model, optimizer, schedule, gens, step, active, frozen, result, tasks, config
) -> None:
    extra = {
        "schedule": schedule.state_dict(),
        "generators": [g.get_state() for g in gens],
        "step": step,
        "active": active.cpu(),
        "frozen": {str(i): w for i, w in frozen.items()},
        "result": {k: v for k, v in asdict(result).items()},
    }
    save_checkpoint(
        path,
        model,
        optimizer,
        {"tasks": [t.config() for t in tasks], "train": asdict(config), "step": step},
        extra,
    )


__all__ = [
    "FitResult",
    "TrainConfig",
    "clip_grad_norm_per_member",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    "stack_batches",
]

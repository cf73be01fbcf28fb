"""What the two training loops share: the optimizer and its schedule, one update step with gradient
clipping, the evaluation cadence and the progress bar.

:func:`rnnviz.train.fit` (sequence models, ensembles) and :func:`rnnviz.train.train_lm` (truncated
backpropagation through time) differ in their data, state and evaluation; everything here is the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from ._config import TrainConfig, lr_scheduler


def adam(params: Sequence[torch.Tensor], config: TrainConfig):
    """``(optimizer, schedule)``: Adam at ``config.lr`` with ``config.weight_decay``, and
    :func:`~rnnviz.train.lr_scheduler` over it."""
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return optimizer, lr_scheduler(optimizer, config)


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


def update(loss: torch.Tensor, params: Sequence[torch.Tensor], optimizer, schedule, config: TrainConfig,
           n_models: int | None = None) -> float:
    """One optimizer step on ``loss``: zero the gradients, backpropagate, clip to ``config.clip``
    (per member of an ensemble of ``n_models``), step Adam, then the schedule. Returns the learning
    rate this step used."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.clip is not None:
        clip_grad_norm_per_member(params, config.clip, n_models)
    used = optimizer.param_groups[0]["lr"]
    optimizer.step()
    schedule.step()
    return used


def evaluates_after(step: int, config: TrainConfig) -> bool:
    """Whether a loop evaluates after optimizer step ``step`` (0-based): every ``eval_every`` steps
    and after the last."""
    return (step + 1) % config.eval_every == 0 or step + 1 == config.steps


def progress_bar(total: int, description: str | None, enabled: bool, initial: int = 0) -> tqdm:
    """The loops' ``tqdm.auto`` bar (a terminal or a notebook), removed when it closes."""
    return tqdm(total=total, initial=initial, desc=description, disable=not enabled, leave=False,
                dynamic_ncols=True)

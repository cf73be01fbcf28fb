"""What the two training loops share: the optimizer and its schedule, one update step with gradient
clipping, the evaluation cadence, the plateau rule and the progress bar.

:func:`rnnviz.train.fit` (sequence models, ensembles) and :func:`rnnviz.train.train_lm` (truncated
backpropagation through time) differ in their data, state and evaluation; everything here is the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from ._config import TrainConfig, lr_scheduler

#: Devices on which :func:`adam` runs torch's fused Adam (one kernel per parameter for the whole update).
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def adam(params: Sequence[torch.Tensor], config: TrainConfig):
    """``(optimizer, schedule)``: Adam at ``config.lr`` with ``config.weight_decay``, and
    :func:`~rnnviz.train.lr_scheduler` over it.

    Where every parameter is a floating-point tensor on one of :data:`FUSED_ADAM_DEVICES`, torch's
    fused Adam: the same update, ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``,
    ``θ ← θ − lr·m̂/(√v̂ + ε)``, in one pass over each parameter instead of about ten elementwise ops
    (a capacity ensemble's step: 0.05-0.1 ms instead of 0.15-0.27 ms on one CPU thread), stepped by
    :class:`FusedAdam`; it agrees with the default implementation to float rounding. Elsewhere
    torch's default."""
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in FUSED_ADAM_DEVICES for p in params)
    kind = FusedAdam if fused else torch.optim.Adam
    optimizer = kind(params, lr=config.lr, weight_decay=config.weight_decay, **({"fused": True} if fused else {}))
    return optimizer, lr_scheduler(optimizer, config)


def adam_for_members(optimizer, schedule, params: Sequence[torch.Tensor], keep: Sequence[int],
                     config: TrainConfig):
    """``(optimizer, schedule)`` of :func:`adam` for the ensemble of members ``keep`` of the one that
    ``optimizer`` steps, as if they had trained alone: Adam over ``params`` (that ensemble's, in the
    same order) with each kept member's moments and the step count carried over, and the schedule
    where it stood (learning rate, position, drops)."""
    new_optimizer, new_schedule = adam(params, config)
    old_params = [p for group in optimizer.param_groups for p in group["params"]]
    if len(old_params) != len(new_optimizer.param_groups[0]["params"]):
        raise ValueError(f"params must match the optimizer's {len(old_params)} parameters, got {len(params)}")
    index = torch.tensor(list(keep), dtype=torch.int64, device=old_params[0].device if old_params else None)
    for old, new in zip(old_params, new_optimizer.param_groups[0]["params"], strict=True):
        state = optimizer.state.get(old)
        if not state:
            continue
        new_optimizer.state[new] = {k: v.index_select(0, index) if torch.is_tensor(v) and v.shape == old.shape
                                    else (v.clone() if torch.is_tensor(v) else v) for k, v in state.items()}
    new_schedule.load_state_dict(schedule.state_dict())
    for new_group, group in zip(new_optimizer.param_groups, optimizer.param_groups, strict=True):
        new_group["lr"] = group["lr"]
    return new_optimizer, new_schedule


class FusedAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` whose :meth:`step` calls the fused kernel
    (``torch._fused_adam_``) itself: the same kernel on the same tensors, so the same numbers, and the
    same state (a checkpoint of either loads into the other).

    torch's own ``step`` wraps the kernel in generic machinery (device and dtype grouping, the
    complex-number and gradient-scaler cases, ``torch.compile`` graph breaks) that costs ~20 µs a
    call on one CPU thread, about what the kernel itself takes for a capacity ensemble, and it
    imports ``torch._dynamo`` on its first call (~1.2 s in every fresh worker process). This step
    handles what the training loops use: float tensors on one device and dtype per parameter, plain
    (L2) weight decay, no amsgrad, no maximize, a float learning rate (anything else: torch's step).
    :meth:`add_param_group` and :meth:`zero_grad` are torch's own without their ``torch.compile``
    wrapper, so that building and stepping the optimizer never imports ``torch._dynamo``."""

    def add_param_group(self, param_group: dict) -> None:
        _without_compile_wrapper(torch.optim.Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _without_compile_wrapper(torch.optim.Optimizer.zero_grad)(self, set_to_none)

    def step(self, closure=None):
        if closure is not None or any(g["amsgrad"] or g["maximize"] or g.get("decoupled_weight_decay")
                                      or isinstance(g["lr"], torch.Tensor) for g in self.param_groups):
            return super().step(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # as torch.optim.Adam initialises it with fused=True
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            if not params:
                continue
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                               maximize=False, grad_scale=None, found_inf=None)
        return None


def _without_compile_wrapper(method):
    """An ``torch.optim.Optimizer`` method as written, without the ``torch._disable_dynamo`` wrapper
    (``functools.wraps``: ``__wrapped__``) that imports ``torch._dynamo`` on its first call; the
    method itself where a torch version has no such wrapper."""
    return getattr(method, "__wrapped__", method)


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


#: What the learning rate is multiplied by at each of a :class:`PlateauRule`'s drops.
LR_DROP = 0.1


def window_improvement(steps: Sequence[int], scores: Sequence[float], *, window: float,
                       lower_is_better: bool = True, relative: bool = True) -> float | None:
    """How much the last ``window`` of the steps improved the best validation score.

    With s the last step, the window is the steps after c = (1 − window)·s; b_old is the best score
    at steps ≤ c, b the best of all. Returns the relative improvement
    (b_old − b)/|b_old| (b − b_old for a higher-is-better score), 0 when both are 0 and inf when only
    b_old is; with ``relative=False`` the absolute one, b_old − b (b − b_old). None when no score lies
    at or before c yet. Non-finite scores are skipped.
    """
    found = _window_gain(steps, scores, window=window, lower_is_better=lower_is_better)
    if found is None:
        return None
    gain, best_old = found
    return _relative(gain, best_old) if relative else gain


def _window_gain(steps: Sequence[int], scores: Sequence[float], *, window: float,
                 lower_is_better: bool) -> tuple[float, float] | None:
    """(absolute improvement, b_old) of :func:`window_improvement`, or None."""
    if len(steps) != len(scores):
        raise ValueError(f"steps and scores must have the same length, got {len(steps)} and {len(scores)}")
    pairs = [(st, sc) for st, sc in zip(steps, scores, strict=True) if math.isfinite(sc)]
    if not pairs:
        return None
    cut = (1.0 - window) * steps[-1]
    old = [sc for st, sc in pairs if st <= cut]
    if not old:
        return None
    pick = min if lower_is_better else max
    best_old, best = pick(old), pick(sc for _, sc in pairs)
    return (best_old - best if lower_is_better else best - best_old), best_old


def _relative(gain: float, best_old: float) -> float:
    if best_old == 0:
        return 0.0 if gain == 0 else math.inf
    return gain / abs(best_old)


class PlateauRule:
    """The plateau rule of :class:`~rnnviz.train.TrainConfig` for one model (one per ensemble member).

    Call :meth:`observe` after each evaluation; it answers ``"continue"``, ``"drop"`` (the caller
    multiplies the learning rate by :data:`LR_DROP`; a new phase starts at this step) or ``"stop"``.
    A plateau is declared once the current phase has run ``config.plateau_min_steps`` steps and
    :func:`window_improvement` over the last ``config.plateau_window`` of ALL the steps so far is
    below ``config.plateau`` (so "improved by less than 1 % over the last fifth of training" holds of
    the whole run when it stops, a drop's gains included), or, with ``config.plateau_min_gain`` set,
    the absolute improvement over that window is below it; the first ``config.lr_drops`` plateaus
    drop the learning rate, the next one stops. With ``config.plateau`` None it always answers
    ``"continue"``.

    At chance: with ``config.plateau_floor`` set, a model is judged only once it has *started*: the
    first evaluation whose score passes the floor (> floor when higher is better, < floor when lower
    is better) starts the clock of ``plateau_min_steps`` (a phase that began earlier waits for it).
    Until then it answers ``"continue"``: a model still at chance (recalled bits 0, whose relative
    gain 0/0 would otherwise read as a plateau) trains to its budget and stops there (reason
    ``"budget"``), so "plateau" always means "learned something, then stopped improving". With
    ``plateau_floor`` None every model has started at step 0 (the rule as it was; the language-model
    study's bits per character are judged so). The floor reads ``floor_score`` when :meth:`observe`
    is given one (``config.plateau_floor_score``: another validation score, better in the same
    direction), else the plateau score itself.
    """

    def __init__(self, config: TrainConfig, *, lower_is_better: bool = True):
        self.config = config
        self.lower_is_better = lower_is_better
        self.steps: list[int] = []
        self.scores: list[float] = []
        self.phase_start = 0
        self.drops_left = config.lr_drops
        self.last_improvement: float | None = None
        self.started_at: int | None = 0 if config.plateau_floor is None else None

    def started(self, score: float) -> bool:
        """Whether ``score`` passes ``config.plateau_floor`` (always, when it is None)."""
        floor = self.config.plateau_floor
        if floor is None:
            return True
        return score < floor if self.lower_is_better else score > floor

    def observe(self, step: int, score: float, floor_score: float | None = None) -> str:
        """Record the validation ``score`` after ``step`` optimizer steps; say what training does next.
        ``floor_score``: the score the floor is judged on, when it is another one (None: ``score``)."""
        self.steps.append(int(step))
        self.scores.append(float(score))
        c = self.config
        judged = float(score if floor_score is None else floor_score)
        if self.started_at is None and math.isfinite(judged) and self.started(judged):
            self.started_at = int(step)
        if c.plateau is None or self.started_at is None:
            return "continue"
        if step - max(self.phase_start, self.started_at) < max(1, c.plateau_min_steps):
            return "continue"
        found = _window_gain(self.steps, self.scores, window=c.plateau_window, lower_is_better=self.lower_is_better)
        if found is None:
            self.last_improvement = None
            return "continue"
        gain, best_old = found
        self.last_improvement = _relative(gain, best_old)
        below_min_gain = c.plateau_min_gain is not None and gain < c.plateau_min_gain
        if self.last_improvement >= c.plateau and not below_min_gain:
            return "continue"
        if self.drops_left > 0:
            self.drops_left -= 1
            self.phase_start = int(step)
            return "drop"
        return "stop"

    def state(self) -> dict:
        """What a resumed run needs (plain lists and numbers, for a checkpoint)."""
        return {"steps": list(self.steps), "scores": list(self.scores), "phase_start": self.phase_start,
                "drops_left": self.drops_left, "lower_is_better": self.lower_is_better,
                "started_at": self.started_at}

    def load_state(self, state: dict) -> None:
        """Inverse of :meth:`state`."""
        self.steps = [int(s) for s in state["steps"]]
        self.scores = [float(s) for s in state["scores"]]
        self.phase_start, self.drops_left = int(state["phase_start"]), int(state["drops_left"])
        self.lower_is_better = bool(state["lower_is_better"])
        started = state.get("started_at", 0)  # checkpoints written before plateau_floor: started at 0
        self.started_at = None if started is None else int(started)


def drop_learning_rate(schedule: torch.optim.lr_scheduler.LambdaLR, factor: float = LR_DROP) -> None:
    """Multiply every learning rate ``schedule`` sets from now on by ``factor`` (a plateau's drop)."""
    schedule.base_lrs = [lr * factor for lr in schedule.base_lrs]
    for group, lr in zip(schedule.optimizer.param_groups, schedule.get_last_lr(), strict=True):
        group["lr"] = lr * factor

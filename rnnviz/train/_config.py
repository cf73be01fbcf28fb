"""The one set of training settings, :class:`TrainConfig`, and its learning-rate schedule.

Both training loops read it: :func:`rnnviz.train.fit` (sequence models on tasks, ensembles, early
stopping) and :func:`rnnviz.train.train_lm` (character language models, truncated backpropagation
through time). Fields only one loop reads say so; :meth:`TrainConfig.settings` lists them per loop.

The schedule (k = 0-based optimizer step, w = ``warmup``, K = ``steps``, ρ = ``min_lr_ratio``)::

    lr_k = lr · (k + 1) / w                                          k < w   (linear warm-up)
    lr_k = lr                                                        k ≥ w, schedule "constant"
    lr_k = lr · [ρ + (1 − ρ) · (1 + cos(π · min(1, (k − w) / max(1, K − w)))) / 2]
                                                                     k ≥ w, schedule "cosine"

so the cosine runs from ``lr`` at the end of the warm-up down to ``lr · ρ`` at step K.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from .._checks import (
    check_choice,
    check_int,
    check_number,
    check_optional_int,
    check_positive,
    check_probability,
)
from ..tasks import CURRICULA

SCHEDULES = ("constant", "cosine")
LOOPS = ("fit", "tbptt")

# The fields each loop reads, in the order they are documented. "fit" is the set a capacity model's
# key has always hashed (rnnviz.study.ModelSpec): keep it as it is so stored sweeps resume.
_FIT = ("steps", "batch_size", "lr", "clip", "schedule", "warmup", "min_lr_ratio", "target_accuracy",
        "eval_every", "eval_batch")
_TBPTT = ("steps", "batch_size", "seq_len", "lr", "clip", "schedule", "warmup", "min_lr_ratio",
          "weight_decay", "eval_every", "eval_batch", "eval_chars", "eval_seq_len", "seed")
# Read by fit too, but newer than its records: listed in fit's settings only when not at the default.
_FIT_WHEN_SET = ("weight_decay", "curriculum")
# The plateau rule (both loops), newer than both loops' records: listed only when not at the default,
# so the keys and settings of runs that did not use it stay what they were.
_PLATEAU = ("plateau", "plateau_window", "plateau_min_steps", "lr_drops", "plateau_floor", "plateau_floor_score",
            "plateau_min_gain")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`~rnnviz.train.fit` and :func:`~rnnviz.train.train_lm` (Adam, clipping, schedule).

    The defaults suit :func:`~rnnviz.train.fit` on the small tasks; :data:`rnnviz.train.LM_TRAIN`
    holds the language model's (what :func:`~rnnviz.train.train_lm` uses when given none).

    Both loops:
        steps: K, optimizer steps (batches).
        batch_size: B, sequences per batch (``train_lm``: B parallel streams of the training text).
        lr: peak learning rate of Adam (a finite number > 0).
        clip: maximum gradient norm (> 0), per ensemble member in ``fit``; None: no clipping.
        schedule: ``"cosine"`` (from ``lr`` down to ``lr · min_lr_ratio`` at step K) or
            ``"constant"``, after the warm-up; see :func:`learning_rate`.
        warmup: w, steps of linear warm-up from ``lr / w`` to ``lr`` (an integer ≥ 0; 0: none).
        min_lr_ratio: ρ in [0, 1], the cosine's final fraction of ``lr``.
        weight_decay: Adam's L2 weight decay (≥ 0).
        eval_every: evaluate every this many steps (and after the last).
        eval_batch: ``fit``: sequences in the fixed validation batch; ``train_lm``: parallel
            streams of the evaluation.
        plateau: stop on a plateau of the validation score (``fit``: the task's
            :attr:`~rnnviz.tasks.Task.plateau_score`, else the first it reports of recalled bits,
            accuracy and loss; ``train_lm``: the valid bits per character; see
            :class:`rnnviz.train.PlateauRule`):
            training ends when the best score of the last ``plateau_window`` of the steps improved on
            the best before it by less than this fraction (e.g. 0.01: 1 %); None: no plateau rule.
        plateau_min_gain: an absolute resolution for the same rule (in the score's units, ≥ 0):
            an improvement over the window smaller than this also counts as a plateau, however large
            relative to the score (a loss that falls as a power of the step count keeps improving by
            1 % per window long after it has stopped mattering: 1e-5 to 9e-6 is 10 %). None: the
            relative rule alone. Read only when ``plateau`` is set (like the floor).
        plateau_window: that fraction of the steps (of the current learning-rate phase), in (0, 1).
        plateau_min_steps: no plateau is declared before this many steps of a phase (an integer ≥ 0).
        lr_drops: at the first ``lr_drops`` plateaus the learning rate is divided by 10 and training
            goes on (a new phase) instead of stopping; 0: stop at the first plateau.
        plateau_floor: the score a model must pass before the plateau rule judges it (above it for a
            higher-is-better score such as recalled bits, below it for a loss): ``plateau_min_steps``
            count from the first evaluation past it, and a model that never passes it is never
            declared plateaued (it trains to its budget, ``steps``). None: judged from step 0.
        plateau_floor_score: the validation score ``plateau_floor`` is judged on, when it is not the
            plateau rule's own score (a name the task's ``score`` reports, better in the same
            direction): e.g. ``"recalled_bits_ce_bound"`` for :class:`~rnnviz.tasks.Memorization`,
            about 0 at chance where the clipped ``recalled_bits`` keep a positive bias that grows
            with K (at K = 32 it can pass a 0.1-bit floor at chance). None: the plateau score.

    ``fit`` only:
        target_accuracy: a member stops (its weights are frozen) once its validation accuracy
            reaches this, in (0, 1]; None: every member trains all ``steps``.
        curriculum: None (train on the task itself), ``"mixed"``: each training sequence is an
            easier instance of the task drawn at random (:class:`~rnnviz.tasks.Memorization`: K'
            uniform in 1..K targets), ``"combined"``: half the sequences the task itself, half as
            in ``"mixed"``, ``"prefix"`` (``"suffix"``): the task itself, its loss on the first (last)
            K' outputs only (K' uniform in 1..K per sequence), ``"delay"``: all K targets, half the
            sequences at the task's delay L, half at L' uniform in n_random..L, ``"combined-delay"``:
            half the task itself, half with both K' and L' drawn (see
            :data:`rnnviz.tasks.CURRICULA`); the validation batch, the
            plateau rule and the final scores always use the task itself. A task without a curriculum
            raises a ValueError.

    ``train_lm`` only (truncated backpropagation through time):
        seq_len: T, steps of backpropagation per batch; the state is carried, detached, across batches.
        eval_chars: characters of the valid split scored by the evaluations during training (an
            integer ≥ 2; None: all); the final valid and test scores always read whole splits.
        eval_seq_len: chunk length of the evaluation (the state is carried across chunks).
        seed: seeds dropout (and, in :func:`rnnviz.study.language_model`, the initial weights).
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
    weight_decay: float = 0.0
    seq_len: int = 64
    eval_chars: int | None = 20_000
    eval_seq_len: int = 256
    seed: int = 0
    plateau: float | None = None
    plateau_window: float = 0.2
    plateau_min_steps: int = 0
    lr_drops: int = 0
    plateau_floor: float | None = None
    plateau_floor_score: str | None = None
    curriculum: str | None = None
    plateau_min_gain: float | None = None

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "eval_batch", "seq_len", "eval_seq_len"):
            check_int(name, getattr(self, name))
        check_int("warmup", self.warmup, 0)
        check_int("seed", self.seed, 0)
        check_optional_int("eval_chars", self.eval_chars, 2)
        check_positive("lr", self.lr)
        if self.clip is not None:
            check_positive("clip", self.clip)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_probability("min_lr_ratio", self.min_lr_ratio)
        if self.target_accuracy is not None:
            check_probability("target_accuracy", self.target_accuracy, open_low=True)
        check_number("weight_decay", self.weight_decay, low=0.0)
        if self.plateau is not None:
            check_probability("plateau", self.plateau, open_low=True)
        check_number("plateau_window", self.plateau_window, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("plateau_min_steps", self.plateau_min_steps, 0)
        check_int("lr_drops", self.lr_drops, 0)
        if self.plateau_floor is not None:
            check_number("plateau_floor", self.plateau_floor)
        if self.plateau_min_gain is not None:
            check_number("plateau_min_gain", self.plateau_min_gain, low=0.0)
        if self.plateau_floor_score is not None:
            if not isinstance(self.plateau_floor_score, str) or not self.plateau_floor_score:
                raise TypeError(f"plateau_floor_score must be a score's name (a non-empty str) or None, "
                                f"got {self.plateau_floor_score!r}")
            if self.plateau_floor is None:
                raise ValueError(f"plateau_floor_score={self.plateau_floor_score!r} needs a plateau_floor to judge "
                                 f"(got plateau_floor=None)")
        if self.curriculum is not None:
            check_choice("curriculum", self.curriculum, CURRICULA)

    def settings(self, loop: str) -> dict:
        """The fields ``loop`` (``"fit"`` or ``"tbptt"``) reads, as a dict of JSON values.

        This is what results record and what a resume compares: a capacity model's key hashes
        ``settings("fit")`` (:class:`rnnviz.study.ModelSpec`), a :func:`~rnnviz.train.fit`
        checkpoint and a language-model study's runs are resumed only with equal settings. Fields
        that ``fit`` gained after its records began (``weight_decay``) are listed only when they
        differ from their default (so do ``curriculum`` and the plateau rule's fields in both loops), so the records
        and keys of runs that did not set them stay valid.
        """
        check_choice("loop", loop, LOOPS)
        values = asdict(self)
        default = TrainConfig()
        when_set = _PLATEAU if loop == "tbptt" else _FIT_WHEN_SET + _PLATEAU
        extra = {k: values[k] for k in when_set if values[k] != getattr(default, k)}
        return {**{k: values[k] for k in (_TBPTT if loop == "tbptt" else _FIT)}, **extra}


def _lr_factor(step: int, config: TrainConfig) -> float:
    """``learning_rate(step, config) / config.lr``: the multiplier the optimizer's ``LambdaLR`` applies."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    if config.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    rho = config.min_lr_ratio
    return rho + (1 - rho) * 0.5 * (1 + math.cos(math.pi * progress))


def learning_rate(step: int, config: TrainConfig) -> float:
    """The learning rate of optimizer step ``step`` (0-based) under ``config`` (see the module's formula):
    exactly the value the training loops give Adam at that step."""
    check_int("step", step, 0)
    return config.lr * _lr_factor(step, config)


def lr_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of both loops: a ``LambdaLR`` over ``optimizer`` (whose ``lr`` is ``config.lr``)
    that sets step k's learning rate to :func:`learning_rate` ``(k, config)``; call ``.step()`` after
    each optimizer step. Its ``state_dict`` goes into resumable checkpoints."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: _lr_factor(k, config))

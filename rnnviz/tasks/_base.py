"""Shared pieces of the tasks: the task interface, argument checks, losses and baselines.

Every task is time-major like the cells: ``inputs`` are ``(T, B, input_size)``. A leading
ensemble axis ``E`` on the model outputs is allowed everywhere (``(E, T, B, ·)``); losses and
scores then come back per member, with shape ``outputs.shape[:-3]``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._checks import check_choice, check_int
from ..kernels import cpu as cpu_kernels

#: Training curricula a task may offer (:attr:`Task.curricula`, ``TrainConfig.curriculum``):
#: ``"mixed"``, each training sequence an instance of the task at a difficulty drawn uniformly up to
#: the task's own (Zaremba & Sutskever 2014, "Learning to Execute": their "mix" strategy), so that
#: the easy instances keep teaching the mechanism while the hard ones are learned; ``"combined"``,
#: half of the training sequences the task itself and half drawn as in ``"mixed"`` (their "combined"
#: strategy: the full difficulty keeps its share of the training signal); ``"prefix"``, every training
#: sequence the task itself, its loss scored on the first K' of its outputs only (K' drawn uniformly
#: up to the task's own), so that output j counts with weight (K − j + 1) / K: a loss that favours the
#: first targets, asking a model that cannot hold them all to hold the first ones whole; ``"suffix"``,
#: the same scored on the last K' outputs (weight j / K: the most recent targets first); ``"delay"``,
#: the "combined" strategy over the delay instead of the targets: every training sequence holds all
#: the task's targets, half wait the task's own delay and half a shorter one drawn uniformly (its
#: random symbols kept, fewer blanks), so that short holds teach the mechanism a long hold needs;
#: ``"combined-delay"``, both at once: half the sequences the task itself, half with fewer targets
#: and a shorter delay, each drawn uniformly and independently.
CURRICULA = ("mixed", "combined", "prefix", "suffix", "delay", "combined-delay")


@dataclass(frozen=True)
class Baseline:
    """What a memoryless predictor achieves: ``loss`` (the task's own loss unit) and ``accuracy``
    (``None`` for regression tasks)."""

    loss: float
    accuracy: float | None


@dataclass(frozen=True)
class PlateauScore:
    """The validation score a plateau rule reads (:class:`rnnviz.train.PlateauRule`, fed by
    :func:`rnnviz.train.fit`): ``name``, a key of the task's :meth:`Task.score`, and whether a lower
    value is better (a loss) or a higher one (recalled bits, an accuracy)."""

    name: str
    lower_is_better: bool


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Mean cross-entropy (nats) over the scored steps, per ensemble member.

    logits ``(..., T, B, C)``; targets ``(..., T, B)`` integer classes; mask ``(..., T, B)`` bool or
    ``None`` (all steps scored). Targets and mask broadcast against the leading axes of the logits.
    Returns a tensor of shape ``logits.shape[:-3]``.

    On a CPU (float32/float64, numba installed) the CPU kernels' fused loss computes it and its
    gradient in one pass (:mod:`rnnviz.kernels.cpu._loss`; first-order gradients, like the cells'
    "cpu" backend); elsewhere, and with ``RNNVIZ_BACKEND=reference``, torch's ``cross_entropy``.
    """
    lead = logits.shape[:-1]
    targets = targets.expand(lead)
    fused = cpu_kernels.fused_loss_for(logits)
    if fused is not None:
        T, B, C = logits.shape[-3:]
        members = math.prod(lead[:-2])
        z = logits.reshape(members, T * B, C).transpose(1, 2)  # (E, C, N): no copy from read_out's layout
        weight = torch.ones(members, T * B, dtype=logits.dtype) if mask is None else (
            mask.expand(lead).reshape(members, T * B).to(logits.dtype))
        return fused.masked_cross_entropy(z, targets.reshape(members, T * B), weight).reshape(lead[:-2])
    # classes on axis 1 of a (1, C, N) view: the same numbers as (N, C) rows, ~4x faster on a CPU for
    # the capacity study's small C (the row layout walks each short row separately)
    flat = logits.reshape(-1, logits.shape[-1]).T.unsqueeze(0)  # (1, C, N)
    ce = F.cross_entropy(flat, targets.reshape(1, -1), reduction="none").reshape(lead)  # (..., T, B)
    if mask is None:
        return ce.mean(dim=(-2, -1))
    weight = mask.expand(lead).to(ce.dtype)
    return (ce * weight).sum(dim=(-2, -1)) / weight.sum(dim=(-2, -1)).clamp_min(1.0)


def masked_accuracy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Fraction of scored steps whose argmax equals the target, per member (shape ``logits.shape[:-3]``)."""
    lead = logits.shape[:-1]
    correct = (logits.argmax(-1) == targets.expand(lead)).to(logits.dtype)  # (..., T, B)
    if mask is None:
        return correct.mean(dim=(-2, -1))
    weight = mask.expand(lead).to(logits.dtype)
    return (correct * weight).sum(dim=(-2, -1)) / weight.sum(dim=(-2, -1)).clamp_min(1.0)


class Task(abc.ABC):
    """A sequence task: sample batches, score outputs, state its information content and baseline.

    Subclasses set ``input_size``, ``output_size``, ``length`` (T) and ``kind``
    (``"classification"`` or ``"regression"``).
    """

    input_size: int
    output_size: int
    length: int
    kind: str
    #: The validation score the plateau rule of :func:`rnnviz.train.fit` reads for this task; None:
    #: the first the task's :meth:`score` reports of ``recalled_bits`` and ``accuracy`` (higher is
    #: better) and ``loss`` (lower is better). A task sets it when that choice is wrong for it (the
    #: adding problem's thresholded accuracy: :class:`Adding` reads its MSE).
    plateau_score: PlateauScore | None = None

    @abc.abstractmethod
    def sample(self, batch_size: int, generator: torch.Generator | None = None, device=None) -> tuple:
        """Draw a batch: ``(inputs (T, B, input_size), targets[, mask (T, B)])``."""

    @abc.abstractmethod
    def loss(
        self, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Training loss per member, shape ``outputs.shape[:-3]``."""

    @abc.abstractmethod
    def score(self, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
        """Metrics (tensors with leading shape ``outputs.shape[:-3]``); always has ``"loss"``."""

    @property
    @abc.abstractmethod
    def targeted_bits(self) -> float:
        """Information (bits) per sequence that the network must reproduce."""

    @property
    def interfering_bits(self) -> float:
        """Information (bits) per sequence that the network must ignore."""
        return 0.0

    @property
    @abc.abstractmethod
    def baseline(self) -> Baseline:
        """Loss and accuracy of the best predictor that has no memory of the input."""

    @abc.abstractmethod
    def config(self) -> dict:
        """JSON-serialisable description (name and arguments) that recreates the task."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "task")
        return f"{type(self).__name__}({args})"

    @classmethod
    def ensemble_sampler(
        cls, tasks: Sequence[Task], batch_size: int, device=None, dtype=torch.float32
    ) -> StackedBatches:
        """A sampler of one batch per ensemble member, member e drawn with its own generator.

        Call it as ``type(tasks[0]).ensemble_sampler(tasks, ...)``: a task class may return a faster
        sampler that draws exactly the batches of :class:`StackedBatches` (this default).
        """
        return StackedBatches(tasks, batch_size, device, dtype)

    #: The training curricula this task offers (:data:`CURRICULA` names; see :meth:`curriculum_sampler`).
    curricula: tuple[str, ...] = ()

    @classmethod
    def curriculum_sampler(
        cls, tasks: Sequence[Task], batch_size: int, curriculum: str, device=None, dtype=torch.float32
    ):
        """Like :meth:`ensemble_sampler`, but each sequence an easier instance of its task drawn at
        random (``curriculum``, one of the task class's :attr:`curricula`), for training only: the
        batches have the task's shapes and mask, so validation and scores on the task itself follow.
        This default offers none: a ValueError that names the task and what it offers."""
        check_choice("curriculum", curriculum, CURRICULA)
        raise ValueError(f"curriculum={curriculum!r}: task {cls.__name__} offers no training curriculum "
                         f"(tasks that do: Memorization); use curriculum=None")


class StackedBatches:
    """One batch per ensemble member from each task's own ``sample``, padded and stacked.

    ``sampler(generators)`` (one CPU generator per member) returns ``inputs (E, T, B, m)`` in
    ``dtype``, ``targets (E, T, B[, ·])`` and ``mask (E, T, B)`` or None, on ``device``. ``T`` is the
    longest task's length; a shorter member's batch is padded with zeros after its sequence (masked
    out; a recurrent model is causal, so the padding cannot influence its outputs). Members are drawn
    and stacked on the CPU and moved to ``device`` once.
    """

    def __init__(self, tasks: Sequence[Task], batch_size: int, device=None, dtype=torch.float32):
        self.tasks, self.batch_size = list(tasks), check_int("batch_size", batch_size, 1)
        self.lengths = [t.length for t in self.tasks]
        self.length = max(self.lengths)
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dtype = dtype

    def __call__(self, generators: Sequence[torch.Generator]) -> tuple:
        batches = [t.sample(self.batch_size, g) for t, g in zip(self.tasks, generators, strict=True)]
        if len(set(self.lengths)) > 1 and any(len(b) < 3 for b in batches):
            raise ValueError(
                "tasks of different lengths can share an ensemble only if they score with a mask"
            )
        inputs, targets, *mask = (self._stack([b[j] for b in batches]) for j in range(len(batches[0])))
        return inputs.to(self.dtype), targets, mask[0] if mask else None

    def _stack(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """Member tensors ``(T_e, B, ·)`` → ``(E, T, B, ·)`` on ``device``, zero-padded at the end."""
        T = self.length
        padded = [
            t if n == T else torch.cat([t, t.new_zeros((T - n, *t.shape[1:]))])
            for t, n in zip(tensors, self.lengths, strict=True)
        ]
        return torch.stack(padded).to(self.device)


def check_generator(generator) -> torch.Generator | None:
    """``generator`` when it is a ``torch.Generator`` or None; otherwise a TypeError that says so (a seed
    such as ``0`` is not a generator: pass ``torch.Generator().manual_seed(0)``)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None (for a seed s pass "
                        f"torch.Generator().manual_seed(s)), got {generator!r} ({type(generator).__name__})")
    return generator


def check_outputs(task: Task, outputs, targets, mask=None, *, whole: bool = True) -> None:
    """Check a task's ``outputs (…, T, B, output_size)`` against a batch's ``targets`` (and ``mask``)
    before scoring them: a TypeError or ValueError names the argument, its shape and what was expected.

    ``targets`` are ``(…, T, B)`` class indices for classification, ``(…, T, B, output_size)`` or
    ``(…, B, output_size)`` (one per sequence) for regression; their time and batch axes must be the
    outputs'. ``whole``: the sequences must have the task's length T (what ``score`` needs; a loss
    over a zero-padded ensemble batch may be longer)."""
    for name, t in (("outputs", outputs), ("targets", targets)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if outputs.dim() < 3 or outputs.shape[-1] != task.output_size:
        raise ValueError(f"outputs must have shape (…, T, B, output_size={task.output_size}), got "
                         f"{tuple(outputs.shape)}")
    T, B = outputs.shape[-3:-1]
    if whole and T != task.length:
        raise ValueError(f"outputs must cover the task's T={task.length} steps, got {T} steps (shape "
                         f"{tuple(outputs.shape)})")
    if task.kind == "classification":
        ok = targets.dim() >= 2 and tuple(targets.shape[-2:]) == (T, B) and not targets.is_floating_point()
        want = f"(…, T={T}, B={B}) integer classes"
    else:
        per_step, per_sequence = (T, B, task.output_size), (B, task.output_size)
        ok = tuple(targets.shape[-3:]) == per_step or tuple(targets.shape[-2:]) == per_sequence
        want = f"(…, T={T}, B={B}, {task.output_size}) or (…, B={B}, {task.output_size})"
    if not ok:
        raise ValueError(f"targets must have shape {want} to match outputs {tuple(outputs.shape)}, got "
                         f"{tuple(targets.shape)} ({targets.dtype})")
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dim() < 2
                             or tuple(mask.shape[-2:]) != (T, B)):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be None or have shape (…, T={T}, B={B}), got {got}")


def sampling_device(generator: torch.Generator | None, device) -> torch.device:
    """Where random numbers are drawn: on the generator's device when one is given (then the batch is
    moved to ``device``), so a CPU generator gives the same batch whatever ``device`` is asked for."""
    if check_generator(generator) is not None:
        return generator.device
    return torch.device("cpu") if device is None else torch.device(device)


def target_device(generator: torch.Generator | None, device) -> torch.device:
    """The device a batch ends up on: ``device`` if given, else the generator's, else CPU."""
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


LN2 = math.log(2.0)

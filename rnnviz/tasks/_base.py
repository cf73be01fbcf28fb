"""Shared pieces of the tasks: the task interface, argument checks, losses and baselines.

Every task is time-major like the cells: ``inputs`` are ``(T, B, input_size)``. A leading
ensemble axis ``E`` on the model outputs is allowed everywhere (``(E, T, B, ·)``); losses and
scores then come back per member, with shape ``outputs.shape[:-3]``.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def check_int(name: str, value, minimum: int) -> int:
    """Return ``value``; raise a clear error naming ``name`` unless it is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Raise a ValueError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Baseline:
    """What a memoryless predictor achieves: ``loss`` (the task's own loss unit) and ``accuracy``
    (``None`` for regression tasks)."""

    loss: float
    accuracy: float | None


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Mean cross-entropy (nats) over the scored steps, per ensemble member.

    logits ``(..., T, B, C)``; targets ``(..., T, B)`` integer classes; mask ``(..., T, B)`` bool or
    ``None`` (all steps scored). Targets and mask broadcast against the leading axes of the logits.
    Returns a tensor of shape ``logits.shape[:-3]``.
    """
    lead = logits.shape[:-1]
    targets = targets.expand(lead)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    ce = ce.reshape(lead)  # (..., T, B)
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


def sampling_device(generator: torch.Generator | None, device) -> torch.device:
    """Where random numbers are drawn: on the generator's device when one is given (then the batch is
    moved to ``device``), so a CPU generator gives the same batch whatever ``device`` is asked for."""
    if generator is not None:
        return generator.device
    return torch.device("cpu") if device is None else torch.device(device)


def target_device(generator: torch.Generator | None, device) -> torch.device:
    """The device a batch ends up on: ``device`` if given, else the generator's, else CPU."""
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


LN2 = math.log(2.0)

"""Ready-made small trained models for the notebooks, widgets and tests.

- :func:`train_memorization`: a :class:`~rnnviz.train.SequenceModel` trained on
  :class:`~rnnviz.tasks.Memorization` (store K symbols, wait, recall them).
- :func:`train_flipflop`: a :class:`~rnnviz.train.SequenceModel` trained on the 3-bit flip-flop
  (Sussillo & Barak 2013), every channel set at the first step (:class:`PrimedFlipFlop`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks import Memorization, PrimedFlipFlop, Task
from ._config import TrainConfig
from ._fit import FitResult, fit
from ._model import SequenceModel


@dataclass
class TrainedExample:
    """A trained model with the task it learned and how training went."""

    model: SequenceModel
    task: Task
    result: FitResult

    def batch(self, batch_size: int, seed: int = 1234):
        """A fresh held-out batch of the task (its own seed): ``(inputs, targets[, mask])``."""
        return self.task.sample(batch_size, torch.Generator().manual_seed(seed))


def train_memorization(cell: str = "gru", hidden_size: int = 16, *, n_targets: int = 4, alphabet: int = 4,
                       n_interfering: int = 2, interference: str = "blank", steps: int = 600,
                       seed: int = 0, progress: bool = False, **train) -> TrainedExample:
    """Train a single :class:`SequenceModel` on :class:`Memorization` (``I_T = K log2 A`` bits).

    ``train`` overrides fields of :class:`~rnnviz.train.TrainConfig` (default here: batch 32,
    lr 2e-2, stop at 99 % validation accuracy). Returns a :class:`TrainedExample`.
    """
    task = Memorization(n_targets, alphabet, n_interfering, interference)
    torch.manual_seed(seed)
    model = SequenceModel(cell, task.input_size, hidden_size, task.output_size)
    config = TrainConfig(**{"steps": steps, "batch_size": 32, "lr": 2e-2, "eval_every": 50,
                            "eval_batch": 256, **train})
    result = fit(model, task, config, data_seed=seed, progress=progress)
    return TrainedExample(model, task, result)


def train_flipflop(cell: str = "rnn", hidden_size: int = 16, *, bits: int = 3, length: int = 64,
                   steps: int = 1500, seed: int = 0, progress: bool = False, **train) -> TrainedExample:
    """Train a single :class:`SequenceModel` (cell → linear readout) on the ``bits``-bit flip-flop
    (:class:`PrimedFlipFlop`, ``length`` ≥ 2 steps).

    A well-trained network holds 2^bits memories, one stable fixed point each. ``train`` overrides
    :class:`~rnnviz.train.TrainConfig` fields (default here: batch 64, lr 1e-2, constant schedule,
    no early stop).
    """
    task = PrimedFlipFlop(bits, length)
    torch.manual_seed(seed)
    model = SequenceModel(cell, task.input_size, hidden_size, task.output_size)
    config = TrainConfig(**{"steps": steps, "batch_size": 64, "lr": 1e-2, "schedule": "constant",
                            "target_accuracy": None, "eval_every": 100, "eval_batch": 128, **train})
    result = fit(model, task, config, data_seed=seed, progress=progress)
    return TrainedExample(model, task, result)

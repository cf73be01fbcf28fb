"""Ready-made examples for the notebooks and widgets: run modes, small trained models, model traces.

- :func:`run_mode`: the notebooks' run mode (``smoke``, ``demo`` or ``full``) from the environment.
- :func:`train_memorization`: a :class:`~rnnviz.models.SequenceModel` trained on
  :class:`~rnnviz.tasks.Memorization` (store K symbols, wait, recall them).
- :func:`train_flipflop`: a :class:`~rnnviz.models.SequenceModel` trained on the 3-bit flip-flop
  (Sussillo & Barak 2013), every channel set at the first step (:class:`PrimedFlipFlop`).
- :func:`trace_model`: the :class:`rnnviz.Trace` of every layer of a model on a batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ._trace import Trace
from .models import SequenceModel
from .models import _apply as apply_linear
from .tasks import FlipFlop, Memorization, Task
from .train import FitResult, TrainConfig, fit

MODES = ("smoke", "demo", "full")


def run_mode(environ=None) -> str:
    """The notebooks' run mode: ``"smoke"`` when ``RNNVIZ_SMOKE=1`` (CI: seconds), else ``RNNVIZ_MODE``.

    ``RNNVIZ_MODE`` is ``"demo"`` (default: minutes on a laptop CPU, meaningful figures) or ``"full"``
    (the figures at the sizes of the write-up; longer). Raises ValueError for any other value.
    """
    environ = os.environ if environ is None else environ
    if environ.get("RNNVIZ_SMOKE", "0") == "1":
        return "smoke"
    mode = environ.get("RNNVIZ_MODE", "demo")
    if mode not in MODES:
        raise ValueError(f"RNNVIZ_MODE must be one of {MODES}, got {mode!r}")
    return mode


def by_mode(mode: str, smoke, demo, full):
    """Pick the value for ``mode`` among ``smoke``, ``demo`` and ``full``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return {"smoke": smoke, "demo": demo, "full": full}[mode]


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


class PrimedFlipFlop(FlipFlop):
    """:class:`~rnnviz.tasks.FlipFlop` with a ±1 pulse on every channel at the first step.

    Every output then always holds a sign (never the "not yet set" 0 of the plain task), so a network
    that solves it needs exactly 2^bits memories: the classic picture of 2^bits stable fixed points.
    ``sample`` draws a plain batch of length T − 1 and prepends the pulses; where that batch's target
    is 0 (no pulse yet on that channel) the target is the first pulse.
    """

    def sample(self, batch_size: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32):
        """``(inputs (T, B, bits), targets (T, B, bits))`` as the plain task, first step pulsed."""
        first = torch.randint(0, 2, (1, batch_size, self.bits), generator=generator).to(dtype) * 2 - 1  # (1, B, bits)
        inputs, targets = FlipFlop(self.bits, self.length - 1, self.p_pulse).sample(batch_size, generator, None, dtype)
        targets = torch.where(targets == 0, first, targets)
        return torch.cat([first, inputs]).to(device), torch.cat([first, targets]).to(device)


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


def trace_model(model: SequenceModel, x: torch.Tensor, *, layers: int | None = None) -> list[Trace]:
    """Run a single model on inputs x ``(T, B, m)`` and return one :class:`rnnviz.Trace` per layer.

    Each trace holds the states ``(T+1, B, S)``, the outputs and the gates of its cell, and the
    inputs ``(T, B, cell.input_size)`` it read. ``layers``: trace only the first ``layers`` layers.
    """
    if not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a rnnviz.models.SequenceModel, got {type(model).__name__}")
    if model.n_models is not None:
        raise ValueError("trace_model needs a single model; for an ensemble use model.member(i)")
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != model.input_size:
        raise ValueError(f"x must be a tensor (T, B, {model.input_size}), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    n = len(model.cells) if layers is None else layers
    if not 1 <= n <= len(model.cells):
        raise ValueError(f"layers must be in [1, {len(model.cells)}], got {layers!r}")
    h = x.to(model.readout_weight.dtype)
    if model.embedding:
        h = apply_linear(h, model.embedding_weight)  # (T, B, n)
    traces = []
    with torch.no_grad():
        for cell in list(model.cells)[:n]:
            tr = cell.trace(h)
            traces.append(tr)
            h = tr.outputs
    return traces
